//! The cloud's ingestion queue on RabbitMQ.
//!
//! One durable quorum queue, `outpost.events`, carries the stores' event
//! batches from the api (which acknowledges a push to a store only after the
//! broker confirmed every message of it) to the cloud sync-workers (which ack a
//! message only after its events are committed to the central database). A
//! quorum queue keeps messages on disk (and, in a cluster, on a majority of
//! nodes) before confirming them.
//!
//! Messages are opaque bytes here (an encoded `EventBatch`); the crate knows
//! the topology and the delivery rules, not the payload.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;

/// The queue every store's batches go through.
pub const QUEUE: &str = "outpost.events";

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ refused the message (nack)")]
    Nacked,
}

pub type Result<T> = std::result::Result<T, BusError>;

async fn open(url: &str) -> Result<(Connection, Channel)> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        QUEUE.into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        args,
    )
    .await?;
    Ok((conn, ch))
}

/// Publishes with publisher confirms on one channel, reconnecting after a
/// broker or network failure (the failed publish returns its error; the
/// caller's store retries the push).
pub struct Publisher {
    url: String,
    ch: Mutex<Option<(Connection, Channel)>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

impl Publisher {
    /// Connects lazily: the api starts even while the broker is down.
    pub fn new(url: &str) -> Publisher {
        Publisher {
            url: url.to_owned(),
            ch: Mutex::new(None),
        }
    }

    async fn channel(&self) -> Result<Channel> {
        let mut g = self.ch.lock().await;
        if let Some((conn, ch)) = g.as_ref()
            && conn.status().connected()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        let (conn, ch) = open(&self.url).await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        let out = ch.clone();
        *g = Some((conn, ch));
        Ok(out)
    }

    /// Publishes every body as a persistent message and returns once the
    /// broker confirmed them all (each is then on disk in the quorum queue).
    pub async fn publish_all(&self, bodies: &[Vec<u8>]) -> Result<()> {
        let r = self.try_publish_all(bodies).await;
        if r.is_err() {
            // Start afresh next time: the channel may be half-broken.
            *self.ch.lock().await = None;
        }
        r
    }

    async fn try_publish_all(&self, bodies: &[Vec<u8>]) -> Result<()> {
        let ch = self.channel().await?;
        let mut confirms = Vec::with_capacity(bodies.len());
        for body in bodies {
            confirms.push(
                ch.basic_publish(
                    "".into(),
                    QUEUE.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?,
            );
        }
        for c in confirms {
            let confirmation = c.await?;
            if !confirmation.is_ack() || confirmation.take_message().is_some() {
                return Err(BusError::Nacked);
            }
        }
        Ok(())
    }
}

/// Consumes the queue forever: each message is handed to `apply`; it is acked
/// only after `apply` succeeded. A failing `apply` (the database is down) is
/// retried with backoff while the message stays unacked, so it is neither lost
/// nor skipped; if this process dies first, the broker redelivers it.
/// Reconnects after broker restarts.
pub async fn consume<F, Fut, E>(url: &str, prefetch: u16, mut apply: F) -> !
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = std::result::Result<(), E>>,
    E: std::fmt::Display,
{
    let mut backoff = Duration::from_millis(200);
    loop {
        match consume_once(url, prefetch, &mut apply).await {
            Ok(()) => tracing::warn!("RabbitMQ consumer ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "RabbitMQ unavailable; reconnecting"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn consume_once<F, Fut, E>(url: &str, prefetch: u16, apply: &mut F) -> Result<()>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = std::result::Result<(), E>>,
    E: std::fmt::Display,
{
    let (_conn, ch) = open(url).await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            QUEUE.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = QUEUE, "consuming");
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let mut wait = Duration::from_millis(100);
        loop {
            match apply(delivery.data.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not apply a batch; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                    if !ch.status().connected() {
                        // The broker will redeliver it to whoever consumes next.
                        return Ok(());
                    }
                }
            }
        }
        delivery.ack(BasicAckOptions::default()).await?;
    }
    Ok(())
}
