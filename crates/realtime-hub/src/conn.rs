//! One WebSocket connection: ticket check at the upgrade, subscriptions with
//! resume by `(epoch, offset)`, ticket refresh, ping/pong liveness, and the
//! bounded send queue the fan-out fills.

use crate::fanout::{Kick, Sub};
use crate::{Hub, now_ms};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::StreamExt;
use outpost_realtime::ticket::{self, Claims};
use outpost_realtime::wire::{ClientMsg, PRESENCE, ServerMsg, SubscribeTo, close};
use outpost_telemetry::problem::{self, Problem};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// A fresh connection (or subscriber) id.
pub(crate) fn next_id() -> u64 {
    NEXT_CONN.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug, serde::Deserialize)]
pub struct Query {
    ticket: Option<String>,
}

fn refused(detail: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::UNAUTHORIZED)
        .content_type(problem::CONTENT_TYPE)
        .json(Problem::new(
            401,
            "unauthenticated",
            "Not signed in",
            detail,
        ))
}

/// `GET /ws?ticket=…`: refuses a missing, forged or expired ticket before the
/// upgrade, with problem JSON.
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    q: web::Query<Query>,
    hub: web::Data<Hub>,
) -> actix_web::Result<HttpResponse> {
    let Some(t) = q.ticket.as_deref() else {
        hub.metrics.auth_refused.inc();
        return Ok(refused(
            "connect with ?ticket= from POST /api/v1/realtime/tickets",
        ));
    };
    let claims = match ticket::verify(&hub.config.secret, t, now_ms()) {
        Ok(c) => c,
        Err(e) => {
            hub.metrics.auth_refused.inc();
            return Ok(refused(&e.to_string()));
        }
    };
    if !hub.spent.spend(&claims, now_ms()) {
        hub.metrics.auth_refused.inc();
        return Ok(refused("this ticket was used already: ask for a new one"));
    }
    // A ticket issued before its device was revoked.
    if hub.revocations.is_revoked(&claims.store, &claims.device) {
        hub.metrics.auth_refused.inc();
        return Ok(refused("this device was revoked: pair it again"));
    }
    let (res, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream.max_frame_size(64 * 1024);
    actix_web::rt::spawn(serve(hub.into_inner(), claims, session, stream));
    Ok(res)
}

/// Why the fan-out cut this connection.
fn kicked(kick: &Kick) -> Option<CloseReason> {
    let code = kick.code();
    reason(
        code,
        match code {
            close::TOO_SLOW => "too slow: reconnect with your offsets",
            close::UNAUTHORIZED => "this device was revoked: pair it again",
            _ => "the channel was reset: reconnect",
        },
    )
}

fn reason(code: u16, why: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::Other(code),
        description: Some(why.to_owned()),
    })
}

async fn serve(
    hub: Arc<Hub>,
    mut claims: Claims,
    mut session: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
) {
    let conn = next_id();
    let store = claims.store.clone();
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(hub.config.queue.max(1));
    let kick = Arc::new(Kick::default());
    let sub = Sub {
        conn,
        tx,
        kick: kick.clone(),
    };
    hub.presence.join(&store, conn, &claims, now_ms());
    if !crate::revocation::join(&hub, &store, &claims.device, conn, kick.clone()) {
        // Revoked between the ticket check and now.
        kick.kick(close::UNAUTHORIZED);
    }
    let mut joined: Vec<Arc<crate::fanout::Channel>> = Vec::new();
    let mut ping = tokio::time::interval(hub.config.ping_interval);
    let mut last_heard = Instant::now();
    let close_with: Option<CloseReason> = loop {
        let expires_in = Duration::from_millis((claims.exp - now_ms()).max(0) as u64);
        tokio::select! {
            biased;
            _ = kick.kicked() => break kicked(&kick),
            _ = tokio::time::sleep(expires_in) => {
                hub.metrics.auth_refused.inc();
                break reason(close::UNAUTHORIZED, "ticket expired");
            }
            msg = stream.next() => {
                last_heard = Instant::now();
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(p))) => {
                        if session.pong(&p).await.is_err() { break None; }
                        continue;
                    }
                    Some(Ok(Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Ok(_)) => break reason(close::BAD_MESSAGE, "text frames only"),
                    Some(Err(_)) => break reason(close::BAD_MESSAGE, "protocol error"),
                };
                let msg: ClientMsg = match serde_json::from_str(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        let detail = format!("bad message: {e}");
                        let _ = session.text(ServerMsg::Error { detail: &detail }.to_text()).await;
                        continue;
                    }
                };
                match msg {
                    ClientMsg::Subscribe { channels } => {
                        for to in channels {
                            if !subscribe(&hub, &store, &claims.kind, &sub, to, &mut joined, &mut session).await {
                                break;
                            }
                        }
                    }
                    ClientMsg::Auth { ticket: t } => match ticket::verify(&hub.config.secret, &t, now_ms()) {
                        Ok(c) if c.store == claims.store && c.device == claims.device && hub.spent.spend(&c, now_ms()) => {
                            claims.exp = c.exp;
                            let _ = session.text(ServerMsg::Authenticated { expires_at: c.exp }.to_text()).await;
                        }
                        _ => {
                            hub.metrics.auth_refused.inc();
                            break reason(close::UNAUTHORIZED, "refreshed ticket refused");
                        }
                    },
                }
            }
            Some(frame) = rx.recv() => {
                // Waits only on this client's socket; a kick interrupts it.
                tokio::select! {
                    biased;
                    _ = kick.kicked() => break kicked(&kick),
                    r = session.text(frame.to_string()) => if r.is_err() { break None },
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > hub.config.dead_after {
                    break reason(1001, "no pong: the client looks gone");
                }
                if session.ping(b"").await.is_err() { break None; }
            }
        }
    };
    for ch in &joined {
        ch.leave(conn);
    }
    hub.presence.leave(&store, conn, &claims);
    hub.revocations.leave(&store, &claims.device, conn);
    // The close frame queues behind what the client has not read yet; a
    // stalled client gets a minute to reach it (and learn why it was cut)
    // before the socket is dropped. Its subscriptions are already gone.
    actix_web::rt::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(60), session.close(close_with)).await;
    });
}

/// Joins one channel and sends `subscribed` and, when resuming, the missed
/// events; false when the connection should stop.
async fn subscribe(
    hub: &Hub,
    store: &str,
    kind: &str,
    sub: &Sub,
    to: SubscribeTo,
    joined: &mut Vec<Arc<crate::fanout::Channel>>,
    session: &mut actix_ws::Session,
) -> bool {
    if !outpost_realtime::ticket::channels_for(kind).contains(&to.channel.as_str()) {
        hub.metrics.auth_refused.inc();
        let detail = format!(
            "a {kind} may not follow {:?}; it may follow {:?}",
            to.channel,
            outpost_realtime::ticket::channels_for(kind)
        );
        return session
            .text(ServerMsg::Error { detail: &detail }.to_text())
            .await
            .is_ok();
    }
    if to.channel == PRESENCE {
        hub.presence.watch(store, sub.clone());
        return true;
    }
    if !outpost_domain::Stream::LIVE.contains(&to.channel.as_str()) {
        let detail = format!(
            "no channel {:?}; channels: {:?} and {PRESENCE:?}",
            to.channel,
            outpost_domain::Stream::LIVE
        );
        return session
            .text(ServerMsg::Error { detail: &detail }.to_text())
            .await
            .is_ok();
    }
    let ch = hub.registry.channel(store, &to.channel);
    let Some(j) = ch.join(sub.clone(), Duration::from_secs(5)).await else {
        let _ = session
            .text(
                ServerMsg::Error {
                    detail: "the realtime log is not available yet; reconnect shortly",
                }
                .to_text(),
            )
            .await;
        return false;
    };
    joined.push(ch);
    // Resume when the client knows where it was, in this epoch.
    let backlog = match (to.epoch.as_deref(), to.offset) {
        (Some(e), Some(o)) if e == j.epoch && o <= j.last && o >= 0 => hub
            .registry
            .log()
            .range(store, &to.channel, &j.epoch, o, j.last)
            .await
            .ok()
            .flatten()
            .map(|es| (o, es)),
        _ => None,
    };
    let resumed = to.offset.is_some();
    let (offset, recovered) = match &backlog {
        Some((o, _)) => (*o, true),
        None => (j.last, false),
    };
    if resumed {
        hub.metrics
            .resumes
            .with_label_values(&[if recovered { "true" } else { "false" }])
            .inc();
    }
    let hello = ServerMsg::Subscribed {
        channel: &to.channel,
        epoch: &j.epoch,
        offset,
        recovered,
    };
    if session.text(hello.to_text()).await.is_err() {
        return false;
    }
    for e in backlog.map(|(_, es)| es).unwrap_or_default() {
        if session.text(e.json.to_string()).await.is_err() {
            return false;
        }
    }
    true
}
