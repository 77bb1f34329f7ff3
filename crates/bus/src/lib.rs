//! The cloud's ingestion queue on RabbitMQ.
//!
//! One durable quorum queue, `outpost.events`, carries the stores' event
//! batches from the api (which acknowledges a push to a store only after the
//! broker confirmed every message of it) to the cloud sync-workers (which ack a
//! message only after its events are committed to the central database). A
//! quorum queue keeps messages on disk (and, in a cluster, on a majority of
//! nodes) before confirming them.
//!
//! Nothing here waits without a deadline: connecting and each publisher
//! confirm have one ([`Timers`]), and AMQP heartbeats close a connection whose
//! broker went silent, so a push fails in bounded time and the store retries
//! it. A message that cannot be handled is retried, but only up to a delivery
//! limit (counting the broker's redeliveries, so a message that crashes its
//! consumer counts too); then it is handed to a dead-letter handler and the
//! queue moves on, so one poison batch never stops every store behind it.
//!
//! Messages are opaque bytes here (an encoded `EventBatch`); the crate knows
//! the topology and the delivery rules, not the payload.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;

/// The queue every store's batches go through.
pub const QUEUE: &str = "outpost.events";

/// Where a message goes when even its dead-letter handler keeps failing
/// (the central database refuses to park it): kept on disk, never dropped,
/// shown on the admin page, for a person to look at.
pub const DEAD_QUEUE: &str = "outpost.events.dead";

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ refused the message (nack)")]
    Nacked,
    #[error("RabbitMQ did not {0} within {1:?}")]
    Timeout(&'static str, Duration),
    #[error("the RabbitMQ URL: {0}")]
    Url(String),
}

pub type Result<T> = std::result::Result<T, BusError>;

/// Deadlines and heartbeats of the broker link.
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    /// Opening the connection and the channel, declaring the queue.
    pub connect: Duration,
    /// The broker's confirm of a published message.
    pub confirm: Duration,
    /// AMQP heartbeat: a broker silent for about twice this is dropped.
    pub heartbeat: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            connect: Duration::from_secs(5),
            confirm: Duration::from_secs(10),
            heartbeat: Duration::from_secs(10),
        }
    }
}

async fn within<T>(
    what: &'static str,
    limit: Duration,
    f: impl Future<Output = std::result::Result<T, lapin::Error>>,
) -> Result<T> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| BusError::Timeout(what, limit))?
        .map_err(BusError::from)
}

async fn open(url: &str, timers: Timers) -> Result<(Connection, Channel)> {
    let mut uri: AMQPUri = url.parse().map_err(BusError::Url)?;
    uri.query.heartbeat = Some(timers.heartbeat.as_secs().clamp(1, 600) as u16);
    uri.query.connection_timeout = Some(timers.connect.as_millis() as u64);
    let conn = within(
        "accept the connection",
        timers.connect,
        Connection::connect_uri(uri, ConnectionProperties::default()),
    )
    .await?;
    let ch = within("open a channel", timers.connect, conn.create_channel()).await?;
    declare(&ch, QUEUE, timers).await?;
    Ok((conn, ch))
}

/// Declares a durable quorum queue; returns how many messages it holds.
async fn declare(ch: &Channel, queue: &str, timers: Timers) -> Result<u32> {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let q = within(
        "declare a queue",
        timers.connect,
        ch.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        ),
    )
    .await?;
    Ok(q.message_count())
}

/// How many messages wait in the dead-letter queue (for the admin page).
pub async fn dead_letters(url: &str, timers: Timers) -> Result<u32> {
    let (conn, ch) = open(url, timers).await?;
    let n = declare(&ch, DEAD_QUEUE, timers).await;
    let _ = conn.close(0, "counted".into()).await;
    n
}

/// Moves a message to the dead-letter queue with its reason, confirmed.
async fn dead_letter(conn: &Connection, body: &[u8], reason: &str, timers: Timers) -> Result<()> {
    let ch = within("open a channel", timers.connect, conn.create_channel()).await?;
    declare(&ch, DEAD_QUEUE, timers).await?;
    within(
        "enable publisher confirms",
        timers.connect,
        ch.confirm_select(ConfirmSelectOptions::default()),
    )
    .await?;
    let mut headers = FieldTable::default();
    let reason: String = reason.chars().take(1000).collect();
    headers.insert(
        "x-outpost-reason".into(),
        AMQPValue::LongString(reason.into()),
    );
    let confirm = within(
        "publish a dead letter",
        timers.confirm,
        ch.basic_publish(
            "".into(),
            DEAD_QUEUE.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_headers(headers),
        ),
    )
    .await?;
    let c = within("confirm a dead letter", timers.confirm, confirm).await?;
    let _ = ch.close(0, "dead-lettered".into()).await;
    if c.is_ack() {
        Ok(())
    } else {
        Err(BusError::Nacked)
    }
}

/// Publishes with publisher confirms on one channel, reconnecting after a
/// broker or network failure (the failed publish returns its error; the
/// caller's store retries the push).
pub struct Publisher {
    url: String,
    timers: Timers,
    /// The connection in use, its channel, and which one it is (each new
    /// connection gets the next number).
    ch: Mutex<Option<(u64, Connection, Channel)>>,
    opened: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

impl Publisher {
    /// Connects lazily: the api starts even while the broker is down.
    pub fn new(url: &str, timers: Timers) -> Publisher {
        Publisher {
            url: url.to_owned(),
            timers,
            ch: Mutex::new(None),
            opened: std::sync::atomic::AtomicU64::new(0),
        }
    }

    async fn channel(&self) -> Result<(u64, Channel)> {
        let mut g = self.ch.lock().await;
        if let Some((n, conn, ch)) = g.as_ref()
            && conn.status().connected()
            && ch.status().connected()
        {
            return Ok((*n, ch.clone()));
        }
        let (conn, ch) = open(&self.url, self.timers).await?;
        within(
            "enable publisher confirms",
            self.timers.connect,
            ch.confirm_select(ConfirmSelectOptions::default()),
        )
        .await?;
        let n = self
            .opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = ch.clone();
        *g = Some((n, conn, ch));
        Ok((n, out))
    }

    /// Publishes every body as a persistent message and returns once the
    /// broker confirmed them all (each is then on disk in the quorum queue),
    /// or fails within the confirm deadline.
    pub async fn publish_all(&self, bodies: &[Vec<u8>]) -> Result<()> {
        let (n, ch) = self.channel().await?;
        let r = self.try_publish_all(&ch, bodies).await;
        if r.is_err() {
            // Start afresh next time: this connection may be half-broken.
            // (Only this one: another push may have opened a fresh one.)
            let mut g = self.ch.lock().await;
            if g.as_ref().is_some_and(|(m, _, _)| *m == n)
                && let Some((_, conn, _)) = g.take()
            {
                tokio::spawn(async move {
                    let _ = conn.close(0, "publish failed".into()).await;
                });
            }
        }
        r
    }

    async fn try_publish_all(&self, ch: &Channel, bodies: &[Vec<u8>]) -> Result<()> {
        let confirm = self.timers.confirm;
        tokio::time::timeout(confirm, async {
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
        })
        .await
        .map_err(|_| BusError::Timeout("confirm the messages", confirm))?
    }
}

/// Why a message could not be handled this time.
pub trait HandleError: std::fmt::Display {
    /// Whether the attempt counts against the delivery limit: `false` when
    /// the failure says nothing about the message (the database is
    /// unreachable), so an outage never dead-letters good messages.
    fn counts(&self) -> bool;
}

/// How the consumer treats a message.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub prefetch: u16,
    /// Attempts (this consumer's and earlier deliveries') before a message is
    /// dead-lettered.
    pub limit: u32,
    pub timers: Timers,
}

/// Consumes the queue forever: each message is handed to `apply` and acked
/// only after it succeeded. A failing `apply` is retried with backoff while
/// the message stays unacked, so it is neither lost nor skipped; if this
/// process dies first, the broker redelivers it (and counts the delivery).
/// After `limit` counted attempts the message goes to `dead` with the last
/// reason, and is acked once `dead` took it; should `dead` fail `limit`
/// counted times as well, the message moves to [`DEAD_QUEUE`]. Reconnects
/// after broker restarts.
pub async fn consume<A, AF, D, DF, E>(url: &str, d: Delivery, mut apply: A, mut dead: D) -> !
where
    A: FnMut(Vec<u8>) -> AF,
    AF: Future<Output = std::result::Result<(), E>>,
    D: FnMut(Vec<u8>, String, u32) -> DF,
    DF: Future<Output = std::result::Result<(), E>>,
    E: HandleError,
{
    let mut backoff = Duration::from_millis(200);
    loop {
        match consume_once(url, d, &mut apply, &mut dead).await {
            Ok(()) => tracing::warn!("RabbitMQ consumer ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "RabbitMQ unavailable; reconnecting"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Deliveries of this message before this one, as the quorum queue counts
/// them (`x-delivery-count`, absent on the first).
fn earlier_deliveries(props: &BasicProperties) -> u32 {
    let Some(headers) = props.headers() else {
        return 0;
    };
    match headers.inner().get("x-delivery-count") {
        Some(AMQPValue::LongLongInt(n)) => (*n).clamp(0, i64::from(u32::MAX)) as u32,
        Some(AMQPValue::LongInt(n)) => (*n).max(0) as u32,
        Some(AMQPValue::LongUInt(n)) => *n,
        Some(AMQPValue::ShortInt(n)) => (*n).max(0) as u32,
        Some(AMQPValue::ShortUInt(n)) => u32::from(*n),
        _ => 0,
    }
}

async fn consume_once<A, AF, D, DF, E>(
    url: &str,
    d: Delivery,
    apply: &mut A,
    dead: &mut D,
) -> Result<()>
where
    A: FnMut(Vec<u8>) -> AF,
    AF: Future<Output = std::result::Result<(), E>>,
    D: FnMut(Vec<u8>, String, u32) -> DF,
    DF: Future<Output = std::result::Result<(), E>>,
    E: HandleError,
{
    let (conn, ch) = open(url, d.timers).await?;
    within(
        "set the prefetch",
        d.timers.connect,
        ch.basic_qos(d.prefetch, BasicQosOptions::default()),
    )
    .await?;
    let mut consumer = within(
        "start consuming",
        d.timers.connect,
        ch.basic_consume(
            QUEUE.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    tracing::info!(queue = QUEUE, "consuming");
    let limit = d.limit.max(1);
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        // Tries here, counted: applying it, then parking it. The broker's
        // count of earlier deliveries also rises for messages that were
        // only prefetched when a consumer stopped, so it alone never parks
        // a message — unless it is so high that the message itself must be
        // what keeps stopping its consumers (it crashes them).
        let redelivered = earlier_deliveries(&delivery.properties);
        let (mut applied, mut parked) = (0u32, 0u32);
        if redelivered >= 3 * limit {
            applied = limit;
        }
        let mut wait = Duration::from_millis(100);
        let mut reason =
            format!("delivered {redelivered} times: its consumers stopped while handling it");
        loop {
            let r = if applied < limit {
                apply(delivery.data.clone()).await
            } else if parked < limit {
                dead(delivery.data.clone(), reason.clone(), redelivered + applied).await
            } else {
                tracing::error!(queue = DEAD_QUEUE, %reason, "a batch could not even be parked: moved to the dead-letter queue");
                dead_letter(&conn, &delivery.data, &reason, d.timers).await?;
                break;
            };
            let Err(e) = r else { break };
            if e.counts() {
                if applied < limit {
                    applied += 1;
                } else {
                    parked += 1;
                }
                reason = e.to_string();
            }
            tracing::warn!(error = %e, applied, parked, "could not handle a batch; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
            if !ch.status().connected() {
                // The broker will redeliver it to whoever consumes next.
                return Ok(());
            }
        }
        within(
            "take the ack",
            d.timers.connect,
            delivery.ack(BasicAckOptions::default()),
        )
        .await?;
    }
    Ok(())
}
