//! `/health`, `/health/live` and `/metrics`.

use crate::state::AppState;
use crate::views;
use actix_web::{HttpResponse, get, web};
use outpost_storage::db::now_millis;
use outpost_telemetry::Status;
use serde_json::json;

/// Free space below which the disk makes the edge degraded.
const DISK_LOW_BYTES: u64 = 512 * 1024 * 1024;
/// A wall clock this far behind the newest event is surely wrong.
const CLOCK_BEHIND_WARN_MS: i64 = 60_000;
/// Registers this far from our clock point at a wrong clock on one side.
const REGISTER_SKEW_WARN_MS: i64 = 120_000;

/// That this process answers, and nothing more: a register page asks every
/// second for its OK/OFFLINE badge, so it touches no database.
#[utoipa::path(
    tag = "ops",
    responses((status = 204, description = "The api answers")),
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Each component's state. Unhealthy (503) only without the database: without
/// it the api cannot sell. Everything else degrades (200), so a container
/// health check never restarts a working till.
#[utoipa::path(
    tag = "ops",
    responses(
        (status = 200, description = "Ok or degraded", body = views::Health),
        (status = 503, description = "Unhealthy: the database is away", body = views::Health),
    ),
)]
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let t0 = std::time::Instant::now();
    let sync_settings = state.settings.sync.clone();
    let db = state
        .db(move |c, _| {
            use outpost_storage::db::SimpleConnection;
            c.batch_execute("SELECT 1")?;
            let p = outpost_storage::relay::progress(c)?;
            let refused = outpost_storage::register_events::refusals(c)?;
            let parked = outpost_storage::register_events::parked::open(c, 10)?;
            Ok((
                p.unrelayed,
                p.heads,
                sync_state(c, &sync_settings)?,
                (refused, parked),
            ))
        })
        .await;
    let db_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let (db_status, unrelayed, heads, sync, (refused, (parked, parked_n))) = match db {
        Ok((n, heads, sync, registers)) => (Status::Ok, Some(n), heads, Some(sync), registers),
        Err(_) => (
            Status::Unhealthy,
            None,
            Vec::new(),
            None,
            (Vec::new(), (Vec::new(), 0)),
        ),
    };
    // A till's refused push (a gap) never passes silently: its sales wait
    // on the till until someone looks; nor does an event the edge parked.
    let registers_status = if refused.is_empty() && parked_n == 0 {
        Status::Ok
    } else {
        Status::Degraded
    };
    let configured = !state.settings.sync.cloud_url.is_empty();
    let (sync_status, sync_json) = match &sync {
        Some(s) => {
            s.export(&state.metrics, unrelayed.unwrap_or(0));
            let status = if (configured || s.status.is_some())
                && (!s.online() || s.credential_warning().is_some())
            {
                Status::Degraded
            } else {
                Status::Ok
            };
            (status, s.json(status, configured, unrelayed.unwrap_or(0)))
        }
        None => (
            Status::Degraded,
            json!({"status": Status::Degraded, "configured": configured}),
        ),
    };
    if let Some(n) = unrelayed {
        state.metrics.outbox_unrelayed.set(n);
    }
    let data_dir = match state.db.backend() {
        outpost_storage::Backend::Sqlite => std::path::Path::new(&state.settings.database.url)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| ".".into()),
        outpost_storage::Backend::Postgres => ".".into(),
    };
    let free = outpost_telemetry::disk_free_bytes(&data_dir);
    let disk_status = match free {
        Some(f) if f >= DISK_LOW_BYTES => Status::Ok,
        _ => Status::Degraded,
    };
    let behind = state.node.clock_behind_millis();
    let skew = state.client_clocks.max_skew_ms(now_millis());
    let far = skew.is_some_and(|s| s > REGISTER_SKEW_WARN_MS);
    let clock_status = if behind > CLOCK_BEHIND_WARN_MS || far {
        Status::Degraded
    } else {
        Status::Ok
    };
    let hint = if behind > CLOCK_BEHIND_WARN_MS {
        "the system clock is behind the newest event: check the time (NTP, battery)"
    } else if far {
        "a register's clock is far from this server's: check the time on both"
    } else {
        ""
    };
    let relay_age = now_millis() - state.after.relay.last_ok();
    let relay_status = if relay_age > 10_000 {
        Status::Degraded
    } else {
        Status::Ok
    };
    // Screens being behind never stops a till: at worst "degraded".
    let rt = &state.after.realtime;
    let rt_error = rt.error();
    let rt_lag = rt.lag(&heads);
    state.metrics.realtime_lag.set(rt_lag);
    let rt_status = if rt_error.is_some() {
        Status::Degraded
    } else {
        Status::Ok
    };
    let overall = [
        db_status,
        disk_status,
        clock_status,
        relay_status,
        rt_status,
        sync_status,
        registers_status,
    ]
    .into_iter()
    .max()
    .unwrap_or(Status::Ok);
    let body = views::Health {
        status: overall,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_s: state.started.elapsed().as_secs(),
        store: state.node.store_code.clone(),
        components: views::HealthComponents {
            database: views::DatabaseHealth {
                status: db_status,
                backend: state.db.backend().as_str().to_owned(),
                latency_ms: (db_ms * 100.0).round() / 100.0,
            },
            outbox: views::OutboxHealth {
                status: db_status,
                unrelayed,
            },
            relay: views::RelayHealth {
                status: relay_status,
                last_pass_ms_ago: relay_age,
            },
            disk: views::DiskHealth {
                status: disk_status,
                free_bytes: free,
            },
            clock: views::ClockHealth {
                status: clock_status,
                wall_behind_last_event_ms: behind,
                max_register_skew_ms: skew,
                hint: hint.to_owned(),
            },
            realtime: views::RealtimeHealth {
                status: rt_status,
                backend: rt.backend().to_owned(),
                lag_events: rt_lag,
                last_ok_ms_ago: now_millis()
                    - rt.last_ok_ms.load(std::sync::atomic::Ordering::Relaxed),
                error: rt_error,
            },
            sync: sync_json,
            registers: views::RegistersHealth {
                status: registers_status,
                refused: refused
                    .into_iter()
                    .map(|r| views::RegisterRefusal {
                        register: r.register,
                        at: r.at,
                        reason: r.reason,
                    })
                    .collect(),
                parked: parked_n,
                latest_parked: parked
                    .into_iter()
                    .map(|p| views::ParkedSummary {
                        register: p.register,
                        event_type: p.event_type,
                        reason: p.reason,
                        at: p.at,
                    })
                    .collect(),
            },
        },
    };
    let mut resp = if overall == Status::Unhealthy {
        HttpResponse::ServiceUnavailable()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header(("Cache-Control", "no-store")).json(body)
}

/// What the sync worker last said and what is still to send.
pub struct SyncState {
    pub status: Option<outpost_storage::sync::Status>,
    pub backlog: Vec<outpost_storage::sync::Backlog>,
    /// `sync.offline_after_ms`: online only while the cloud answered since.
    offline_after_ms: i64,
    /// `sync.credential_warn_days`, in ms.
    warn_ms: i64,
}

pub fn sync_state(
    c: &mut outpost_storage::AnyConnection,
    settings: &crate::settings::SyncView,
) -> outpost_storage::Result<SyncState> {
    Ok(SyncState {
        status: outpost_storage::sync::status(c)?,
        backlog: outpost_storage::sync::backlog(c, &outpost_domain::Stream::NAMES)?,
        offline_after_ms: settings.offline_after_ms,
        warn_ms: settings.credential_warn_days.max(0) * 86_400_000,
    })
}

impl SyncState {
    pub fn online(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.online_now(self.offline_after_ms))
    }
    /// A warning for people when the credential expires soon (or did).
    fn credential_warning(&self) -> Option<String> {
        let at = self.status.as_ref()?.credential_expires_at?;
        let left = at - now_millis();
        if left > self.warn_ms {
            return None;
        }
        Some(if left <= 0 {
            "the store's sync credential has expired: ask central ops for a new one (outpost cloud store-credential)".to_owned()
        } else {
            format!(
                "the store's sync credential expires in {} day(s); the cloud renews it while the store is connected",
                left / 86_400_000
            )
        })
    }
    fn pending(&self, unrelayed: i64) -> i64 {
        self.backlog.iter().map(|b| b.events).sum::<i64>() + unrelayed
    }
    fn oldest_age_s(&self) -> Option<i64> {
        let oldest = self.backlog.iter().filter_map(|b| b.oldest_at).min()?;
        Some(((now_millis() - oldest) / 1000).max(0))
    }
    pub fn export(&self, m: &crate::metrics::Metrics, unrelayed: i64) {
        m.sync_pending_events.set(self.pending(unrelayed));
        m.sync_pending_bytes
            .set(self.backlog.iter().map(|b| b.bytes).sum::<i64>());
        m.sync_oldest_unsent_seconds
            .set(self.oldest_age_s().unwrap_or(0));
        m.sync_online.set(i64::from(self.online()));
    }
    pub fn json(&self, status: Status, configured: bool, unrelayed: i64) -> serde_json::Value {
        let s = self.status.as_ref();
        json!({
            "status": status,
            "configured": configured,
            "online": self.online(),
            "pending_events": self.pending(unrelayed),
            "pending_bytes": self.backlog.iter().map(|b| b.bytes).sum::<i64>(),
            "oldest_unsent_age_s": self.oldest_age_s(),
            "last_success_ms_ago": s.and_then(|s| s.last_success_at).map(|t| now_millis() - t),
            "last_attempt_ms_ago": s.map(|s| now_millis() - s.last_attempt_at),
            "last_error": s.map(|s| s.last_error.as_str()).filter(|e| !e.is_empty()),
            "credential_expires_at": s.and_then(|s| s.credential_expires_at),
            "warning": self.credential_warning(),
            "streams": self.backlog,
        })
    }
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(
    tag = "ops",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let sync_settings = state.settings.sync.clone();
    let unrelayed = state
        .db(move |c, _| {
            Ok((
                sync_state(c, &sync_settings)?,
                outpost_storage::relay::unpositioned_count(c)?,
            ))
        })
        .await;
    if let Ok((s, n)) = unrelayed {
        s.export(&state.metrics, n);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(outpost_telemetry::render(&state.metrics.registry))
}
