//! `/health` and `/metrics`.

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use outpost_storage::db::now_millis;
use outpost_telemetry::Status;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics));
}

/// Free space below which the disk makes the edge degraded.
const DISK_LOW_BYTES: u64 = 512 * 1024 * 1024;
/// A wall clock this far behind the newest event is surely wrong.
const CLOCK_BEHIND_WARN_MS: i64 = 60_000;
/// Registers this far from our clock point at a wrong clock on one side.
const REGISTER_SKEW_WARN_MS: i64 = 120_000;

/// Each component's state. Unhealthy (503) only without the database: without
/// it the api cannot sell. Everything else degrades (200), so a container
/// health check never restarts a working till.
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let t0 = std::time::Instant::now();
    let db = state
        .db(|c, _| {
            use outpost_storage::db::SimpleConnection;
            c.batch_execute("SELECT 1")?;
            Ok((
                outpost_storage::relay::unpositioned_count(c)?,
                outpost_storage::relay::heads(c)?,
            ))
        })
        .await;
    let db_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let (db_status, unrelayed, heads) = match db {
        Ok((n, heads)) => (Status::Ok, Some(n), heads),
        Err(_) => (Status::Unhealthy, None, Vec::new()),
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
    let relay_age = now_millis() - state.relay.last_ok();
    let relay_status = if relay_age > 10_000 {
        Status::Degraded
    } else {
        Status::Ok
    };
    // Screens being behind never stops a till: at worst "degraded".
    let rt = &state.realtime;
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
    ]
    .into_iter()
    .max()
    .unwrap_or(Status::Ok);
    let body = json!({
        "status": overall,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "store": state.node.store_code,
        "components": {
            "database": {"status": db_status, "backend": state.db.backend().as_str(), "latency_ms": (db_ms * 100.0).round() / 100.0},
            "outbox": {"status": db_status, "unrelayed": unrelayed},
            "relay": {"status": relay_status, "last_pass_ms_ago": relay_age},
            "disk": {"status": disk_status, "free_bytes": free},
            "clock": {
                "status": clock_status,
                "wall_behind_last_event_ms": behind,
                "max_register_skew_ms": skew,
                "hint": hint,
            },
            "realtime": {
                "status": rt_status,
                "backend": rt.backend(),
                "lag_events": rt_lag,
                "last_ok_ms_ago": now_millis() - rt.last_ok_ms.load(std::sync::atomic::Ordering::Relaxed),
                "error": rt_error,
            },
            "sync": {"status": "ok", "configured": false},
        },
    });
    let mut resp = if overall == Status::Unhealthy {
        HttpResponse::ServiceUnavailable()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header(("Cache-Control", "no-store")).json(body)
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(outpost_telemetry::render(&state.metrics.registry))
}
