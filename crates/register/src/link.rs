//! The agent's link to its edge, beside the till's page server:
//! - a heartbeat: the edge answers `/health/live` within the timeout, or
//!   the till is OFFLINE (it sells on either way);
//! - the push: every event the till committed, in commit order, as soon as
//!   it committed (the api's relay wakes it) and again whenever the edge
//!   comes back; the edge applies each once, so a push repeated after a
//!   lost answer changes nothing;
//! - the pull: the store's master data by cursor (`till_feed`).
//!
//! The page reads [`Status`] (`GET /agent/link`) and its Reconnect button
//! (`POST /agent/reconnect`) pushes and pulls at once.

use crate::RegisterSettings;
use actix_web::{HttpResponse, web};
use outpost_storage::register_events::{self, Push, Pushed};
use outpost_storage::{AnyConnection, Db, StorageError, agent, register_history, till_feed};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How the link stands, as the page shows it.
#[derive(Debug, Default)]
pub struct Status {
    online: AtomicBool,
    /// Heartbeats the edge answered: a push that failed after a later one
    /// did says nothing about the edge now.
    heard: AtomicU64,
    /// Why the edge refused the last push or pull, while it does.
    refused: Mutex<Option<String>>,
    /// Woken by Reconnect (and by the edge coming back).
    now: Notify,
}

impl Status {
    pub fn online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    fn refused(&self, why: Option<String>) {
        *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }
}

/// `GET /agent/link`.
#[derive(Debug, Serialize)]
struct LinkView {
    online: bool,
    /// Events committed here that the edge does not have yet.
    queued: i64,
    /// When the oldest of them happened (ms since the epoch).
    oldest_at: Option<i64>,
    /// When the edge last answered a push or a pull.
    last_ok_at: Option<i64>,
    /// Why the edge refuses this till's pushes or pulls, while it does.
    refused: Option<String>,
    edge: String,
}

/// The agent's own routes beside the api's: the link's state and
/// Reconnect. Outside `/api/v1` (which is the edge's api, documented), and
/// behind the page server's loopback guard like everything else.
pub fn routes(status: Arc<Status>) -> outpost_api::startup::Extra {
    Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(status.clone()))
            .route("/agent/link", web::get().to(link_view))
            .route("/agent/reconnect", web::post().to(reconnect));
    })
}

async fn link_view(
    status: web::Data<Status>,
    state: web::Data<outpost_api::state::AppState>,
) -> Result<HttpResponse, outpost_api::problem::ApiError> {
    let (l, q) = state
        .db(|c, _| Ok((agent::link(c)?, agent::queue(c)?)))
        .await?;
    let refused = status
        .refused
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(LinkView {
            online: status.online(),
            queued: q.count,
            oldest_at: q.oldest_at,
            last_ok_at: l.last_ok_at,
            refused,
            edge: l.edge_url,
        }))
}

async fn reconnect(status: web::Data<Status>) -> HttpResponse {
    status.now.notify_waiters();
    HttpResponse::Accepted().finish()
}

/// The HTTP client for the edge: with a pinned store CA (`ca_pem`), it
/// trusts that CA alone and no name (the CA is the store's own and signs
/// only its edge's certificates); without, plain HTTP. A `.local` edge is
/// found over mDNS on `mdns_port` (waiting half the connect time for a
/// first answer, so the resolver's own fallback and message still come
/// within it).
pub fn client(
    ca_pem: Option<&str>,
    timeout: std::time::Duration,
    connect: std::time::Duration,
    mdns_port: u16,
) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect)
        // Shorter than the edge's 5 s keep-alive: a call on a connection the
        // edge is closing at that moment fails with no answer.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .dns_resolver(Arc::new(crate::mdns::Resolver::new(mdns_port, connect / 2)));
    if let Some(pem) = ca_pem {
        b = b
            .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes())?])
            .tls_danger_accept_invalid_hostnames(true);
    }
    Ok(b.build()?)
}

/// A 2xx answer's JSON, or the edge's problem detail as the error.
pub async fn answer<T: DeserializeOwned>(res: reqwest::Response) -> anyhow::Result<T> {
    let status = res.status();
    let body = res.text().await?;
    if status.is_success() {
        return serde_json::from_str(&body)
            .map_err(|e| anyhow::anyhow!("the edge answered something else ({e})"));
    }
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or(body);
    Err(Refused {
        status: status.as_u16(),
        detail,
    }
    .into())
}

/// The edge answered with a 4xx or 5xx.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub detail: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the edge answered {}: {}", self.status, self.detail)
    }
}

impl std::error::Error for Refused {}

/// Every page of one pull of the till feed from `from` (the till's epoch
/// of the edge and cursor; `None`: from the start).
pub async fn pull_all(
    http: &reqwest::Client,
    edge: &str,
    token: &str,
    from: Option<(String, i64)>,
) -> anyhow::Result<Vec<till_feed::Page>> {
    let (mut epoch, mut after) = from.map_or((None, 0), |(e, a)| (Some(e), a));
    let mut pages = Vec::new();
    loop {
        let mut q = vec![("after", after.to_string())];
        if let Some(e) = &epoch {
            q.push(("epoch", e.clone()));
        }
        let res = http
            .get(format!("{edge}/api/v1/till-feed"))
            .header("X-Device-Token", token)
            .query(&q)
            .send()
            .await?;
        let page: till_feed::Page = answer(res).await?;
        let more = page.more;
        after = page.next;
        epoch = Some(page.epoch.clone());
        pages.push(page);
        if !more {
            return Ok(pages);
        }
    }
}

/// What the edge holds of the till with `token` in `epoch`: its marks and
/// the register's highest order number.
pub async fn standing(
    http: &reqwest::Client,
    edge: &str,
    token: &str,
    epoch: &str,
) -> anyhow::Result<Pushed> {
    let res = http
        .get(format!("{edge}/api/v1/register-events/marks"))
        .header("X-Device-Token", token)
        .query(&[("epoch", epoch)])
        .send()
        .await?;
    answer::<Pushed>(res).await
}

/// The link's tasks and what they share.
pub struct Link {
    db: Db,
    /// Told when the edge is away (a kitchen ticket sold then prints here).
    node: Arc<outpost_storage::Node>,
    http: reqwest::Client,
    edge: String,
    token: String,
    /// Woken by the api's relay after every commit.
    committed: Arc<Notify>,
    status: Arc<Status>,
    cfg: RegisterSettings,
    /// This till has a printer: a café item sold with the edge away prints
    /// its kitchen slip here (and is marked so). Without one, the edge
    /// prints it when the sale reaches it.
    slips: bool,
}

impl Link {
    pub fn new(
        db: Db,
        node: Arc<outpost_storage::Node>,
        committed: Arc<Notify>,
        status: Arc<Status>,
        cfg: &RegisterSettings,
        row: agent::Link,
        slips: bool,
    ) -> anyhow::Result<Arc<Link>> {
        let http = client(
            row.ca_pem.as_deref(),
            cfg.timeout().max(std::time::Duration::from_secs(5)),
            cfg.timeout(),
            cfg.mdns_port,
        )?;
        // Away until the first heartbeat hears the edge.
        node.set_upstream_away(slips);
        status.online.store(false, Ordering::Relaxed);
        Ok(Arc::new(Link {
            db,
            node,
            http,
            edge: row.edge_url,
            token: row.token,
            committed,
            status,
            cfg: cfg.clone(),
            slips,
        }))
    }

    /// Starts the heartbeat and the push and pull loops.
    pub fn spawn(self: Arc<Link>) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(self.clone().heartbeat()),
            tokio::spawn(self.clone().pushing()),
            tokio::spawn(self.pulling()),
        ]
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StorageError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let db = self.db.clone();
        Ok(tokio::task::spawn_blocking(move || f(&mut *db.conn()?)).await??)
    }

    async fn heartbeat(self: Arc<Link>) {
        let mut tick = tokio::time::interval(self.cfg.heartbeat());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ok = tokio::time::timeout(
                self.cfg.timeout(),
                self.http.get(format!("{}/health/live", self.edge)).send(),
            )
            .await
            .is_ok_and(|r| r.is_ok_and(|r| r.status().is_success()));
            if ok {
                self.status.heard.fetch_add(1, Ordering::Relaxed);
            }
            self.node.set_upstream_away(self.slips && !ok);
            let was = self.status.online.swap(ok, Ordering::Relaxed);
            if ok != was {
                if ok {
                    tracing::info!(edge = %self.edge, "the edge answers again");
                    // Back: send what waited and fetch what changed, now.
                    self.status.now.notify_waiters();
                } else {
                    tracing::warn!(edge = %self.edge, "the edge does not answer: selling on, queueing");
                }
            }
        }
    }

    async fn pushing(self: Arc<Link>) {
        loop {
            if self.status.online() {
                let heard = self.status.heard.load(Ordering::Relaxed);
                match self.push_all().await {
                    Ok(()) => self.status.refused(None),
                    Err(e) => match e.downcast_ref::<Refused>() {
                        Some(r) => {
                            tracing::warn!(error = %e, "the edge refused a push; retrying");
                            self.status.refused(Some(r.to_string()));
                        }
                        // The edge went away mid-push (and no heartbeat heard
                        // it since): OFFLINE now, and no push until the
                        // heartbeat hears it again.
                        None if e.downcast_ref::<reqwest::Error>().is_some()
                            && self.status.heard.load(Ordering::Relaxed) == heard =>
                        {
                            self.node.set_upstream_away(self.slips);
                            if self.status.online.swap(false, Ordering::Relaxed) {
                                tracing::warn!(error = %e, "the edge does not answer: selling on, queueing");
                            }
                        }
                        None => tracing::warn!(error = %e, "push to the edge failed; retrying"),
                    },
                }
            }
            tokio::select! {
                _ = self.committed.notified() => {}
                _ = self.status.now.notified() => {}
                _ = tokio::time::sleep(self.cfg.heartbeat()) => {}
            }
        }
    }

    /// Pushes until nothing waits (or the edge stops answering).
    async fn push_all(&self) -> anyhow::Result<()> {
        let (batch, max_bytes) = (self.cfg.push_batch as i64, self.cfg.push_max_bytes);
        // After a 413: one event per push until one is taken.
        let mut single = false;
        loop {
            let Some(agent::Batch {
                epoch,
                since,
                mut events,
            }) = self.db(move |c| agent::to_push(c, batch)).await?
            else {
                return Ok(());
            };
            // Within the edge's body limit: at least one event, then as
            // many as fit.
            let mut size = 0;
            let keep = events
                .iter()
                .position(|(_, e)| {
                    size += e.payload.len() + 512;
                    size > max_bytes
                })
                .unwrap_or(events.len())
                .max(1);
            events.truncate(if single { 1 } else { keep });
            let seqs: Vec<i64> = events.iter().map(|(s, _)| *s).collect();
            // The shape before, which an edge one version older takes too,
            // unless an event goes without its payload.
            let mut push = Push {
                schema: register_events::SCHEMA - 1,
                epoch: epoch.clone(),
                since,
                events: events.into_iter().map(|(_, e)| e).collect(),
            };
            let mut res = self.send(&push).await?;
            if res.status() == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
                if push.events.len() > 1 {
                    single = true;
                    continue;
                }
                // One event larger than the edge takes: sent without its
                // payload, the edge parks it (health shows it) and the
                // stream goes on; the till keeps it whole.
                let e = &mut push.events[0];
                tracing::warn!(event = %e.event_id, kind = %e.event_type, bytes = e.payload.len(),
                    "an event is larger than the edge takes: sent without its payload, to be parked there");
                e.withheld = Some(e.payload.len() as u64);
                e.payload.clear();
                push.schema = register_events::SCHEMA;
                res = self.send(&push).await?;
            }
            match answer::<Pushed>(res).await {
                Ok(p) => {
                    single = false;
                    tracing::debug!(applied = p.applied, repeated = p.repeated, "pushed");
                    if p.parked > 0 {
                        tracing::warn!(
                            parked = p.parked,
                            "the edge refused events of this till for good and parked them: its health and manager page show why"
                        );
                    }
                    // Taken through the last event the edge's marks reach
                    // (a revoked till's push stops at its revocation).
                    let taken = push
                        .events
                        .iter()
                        .take_while(|e| p.marks.get(&e.stream).is_some_and(|m| e.position <= *m))
                        .count();
                    let Some(last) = taken.checked_sub(1).map(|i| seqs[i]) else {
                        anyhow::bail!("the edge took none of a push it answered");
                    };
                    self.db(move |c| agent::pushed(c, last)).await?;
                    if taken < seqs.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.downcast_ref::<Refused>().is_some_and(|r| r.status == 409) => {
                    let standing = self.standing(&epoch).await?;
                    if e.to_string().contains(register_events::REWOUND) {
                        // This database went back in time and sold before
                        // it could ask: what waits goes in a new epoch.
                        let last = standing.last_number;
                        self.db(move |c| agent::fork(c, &epoch, last)).await?;
                        continue;
                    }
                    // The edge holds less than this till thinks (it was
                    // restored): send again from where it stands.
                    let marks = standing.marks;
                    let before = self.db(|c| Ok(agent::link(c)?.pushed_seq)).await?;
                    let after = self
                        .db(move |c| {
                            agent::rewind(c, &epoch, &marks)?;
                            Ok(agent::link(c)?.pushed_seq)
                        })
                        .await?;
                    if after == before {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn send(&self, push: &Push) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/api/v1/register-events", self.edge))
            .header("X-Device-Token", &self.token)
            .json(push)
            .send()
            .await
    }

    /// What the edge holds of this till in `epoch`.
    async fn standing(&self, epoch: &str) -> anyhow::Result<Pushed> {
        standing(&self.http, &self.edge, &self.token, epoch).await
    }

    async fn pulling(self: Arc<Link>) {
        loop {
            if self.status.online()
                && let Err(e) = self.pull().await
            {
                tracing::warn!(error = %e, "pulling the store's master data failed; retrying");
            }
            tokio::select! {
                _ = self.status.now.notified() => {}
                _ = tokio::time::sleep(self.cfg.pull_every()) => {}
            }
        }
    }

    async fn pull(&self) -> anyhow::Result<()> {
        let from = self.db(till_feed::cursor).await?;
        let pages = pull_all(&self.http, &self.edge, &self.token, from).await?;
        let done = self
            .db(move |c| {
                let done = till_feed::install(c, &pages)?;
                agent::answered(c)?;
                Ok(done)
            })
            .await?;
        if done.written + done.removed > 0 {
            tracing::info!(
                written = done.written,
                removed = done.removed,
                "the store's master data changed"
            );
        }
        if self.db(register_history::due).await? {
            self.history().await?;
        }
        Ok(())
    }

    /// This till's sales the edge holds and its database lost (it was
    /// restored from an older copy), from the last `history_days`: they
    /// come down as history to show and refund against.
    async fn history(&self) -> anyhow::Result<()> {
        let since = outpost_domain::ids::now_millis() - self.cfg.history_days as i64 * 86_400_000;
        let (mut after, mut written) = (String::new(), 0);
        loop {
            let res = self
                .http
                .get(format!("{}/api/v1/register-history", self.edge))
                .header("X-Device-Token", &self.token)
                .query(&[("since", since.to_string()), ("after", after.clone())])
                .send()
                .await?;
            let page: register_history::History = answer(res).await?;
            let next = page.next.clone();
            written += self
                .db(move |c| register_history::install(c, &page))
                .await?;
            match next {
                Some(n) => after = n,
                None => break,
            }
        }
        self.db(register_history::done).await?;
        if written > 0 {
            tracing::warn!(
                written,
                "sales of this till its database had lost came back from the edge, to show and refund against"
            );
        }
        Ok(())
    }
}
