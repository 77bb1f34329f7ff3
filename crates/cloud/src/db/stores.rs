//! Stores, their sync credentials and sessions, and what was acknowledged.

use super::CloudConn;
use crate::error::{CloudError, Result};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text};
use outpost_domain::ids::{new_id, now_millis};
use serde::Serialize;
use std::collections::BTreeMap;

/// Registers a store (under the id its edge was set up with, or a new one) and
/// returns its id and its sync credential (`<store id>.<secret>`), shown this
/// once: only the secret's hash is stored. `lifetime_ms`: the credential
/// expires that long from now (None = never).
pub fn add_store(
    conn: &mut CloudConn,
    id: Option<&str>,
    code: &str,
    name: &str,
    lifetime_ms: Option<i64>,
) -> Result<(String, String)> {
    let code = code.trim();
    if code.is_empty() || code.len() > 8 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CloudError::Unprocessable(
            "a store code is 1 to 8 letters or digits, e.g. S01".into(),
        ));
    }
    if name.trim().is_empty() {
        return Err(CloudError::Unprocessable("a store needs a name".into()));
    }
    if lifetime_ms.is_some_and(|l| l <= 0) {
        return Err(CloudError::Unprocessable(
            "a credential's lifetime must be positive".into(),
        ));
    }
    let id = match id {
        Some(id) if let Ok(u) = uuid::Uuid::parse_str(id) => u.to_string(),
        Some(id) => {
            return Err(CloudError::Unprocessable(format!(
                "store id {id:?} is not a UUID"
            )));
        }
        None => new_id(),
    };
    conn.transaction(|conn| {
        let n = diesel::sql_query(
            "INSERT INTO stores (id, code, name, credential_sha256, created_at) \
             VALUES ($1, $2, $3, '', $4) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(&id)
        .bind::<Text, _>(code)
        .bind::<Text, _>(name.trim())
        .bind::<BigInt, _>(now_millis())
        .execute(conn)?;
        if n == 0 {
            return Err(CloudError::Conflict(format!(
                "a store with code {code} or id {id} exists (to give it a new credential: outpost cloud store-credential --store {code})"
            )));
        }
        let credential = super::credentials::issue(conn, &id, "active", lifetime_ms)?;
        Ok((id.clone(), credential))
    })
}

/// What a store learns when it says hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub node_epoch: String,
    /// Per stream of `node_epoch`: (position, event id) acknowledged.
    pub acked: BTreeMap<String, (i64, String)>,
}

#[derive(QueryableByName)]
struct EpochRow {
    #[diesel(sql_type = Text)]
    node_epoch: String,
}

#[derive(QueryableByName)]
struct AckRow {
    #[diesel(sql_type = Text)]
    stream: String,
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = Text)]
    event_id: String,
}

/// A store opens a sync session. When it announces that it left `parent` for
/// `epoch` (its database was found rewound), and `parent` is the epoch the
/// cloud holds, the cloud records the fork, counts the events it holds after
/// the fork (the store lost them; they stay here) and raises an alarm.
pub fn hello(
    conn: &mut CloudConn,
    store_id: &str,
    epoch: &str,
    parent: Option<(&str, &BTreeMap<String, i64>)>,
    software_version: &str,
    store_clock_ms: i64,
) -> Result<Hello> {
    conn.transaction(|conn| {
        let now = now_millis();
        let current: EpochRow =
            diesel::sql_query("SELECT node_epoch FROM stores WHERE id = $1 FOR UPDATE")
                .bind::<Text, _>(store_id)
                .get_result(conn)?;
        let mut current = current.node_epoch;
        if current.is_empty() && !epoch.is_empty() {
            current = epoch.to_owned();
        } else if let Some((parent, fork)) = parent
            && parent == current
            && epoch != current
        {
            let acked = acked(conn, store_id, parent)?;
            let lost: i64 = acked
                .iter()
                .map(|(s, (p, _))| (p - fork.get(s).copied().unwrap_or(0)).max(0))
                .sum();
            let fork_json =
                serde_json::to_value(fork).map_err(|e| CloudError::Corrupt(e.to_string()))?;
            diesel::sql_query(
                "INSERT INTO store_epochs (store_id, node_epoch, parent_epoch, fork, lost_events, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(store_id)
            .bind::<Text, _>(epoch)
            .bind::<Text, _>(parent)
            .bind::<Jsonb, _>(&fork_json)
            .bind::<BigInt, _>(lost)
            .bind::<BigInt, _>(now)
            .execute(conn)?;
            for (stream, position) in fork {
                diesel::sql_query(
                    "INSERT INTO sync_acks (store_id, node_epoch, stream, position, event_id, acked_at) \
                     VALUES ($1, $2, $3, $4, '', $5) ON CONFLICT DO NOTHING",
                )
                .bind::<Text, _>(store_id)
                .bind::<Text, _>(epoch)
                .bind::<Text, _>(stream)
                .bind::<BigInt, _>(position)
                .bind::<BigInt, _>(now)
                .execute(conn)?;
            }
            raise(
                conn,
                store_id,
                "store-rewound",
                &format!(
                    "the store's database was rewound (restored from a backup or cloned): it left epoch {parent} \
                     at {fork_json}; {lost} acknowledged event(s) after that point are kept here but missing at the store"
                ),
            )?;
            current = epoch.to_owned();
        }
        diesel::sql_query(
            "UPDATE stores SET node_epoch = $2, last_contact_at = $3, software_version = $4, \
             clock_skew_ms = $5 WHERE id = $1",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(&current)
        .bind::<BigInt, _>(now)
        .bind::<Text, _>(software_version)
        .bind::<BigInt, _>(store_clock_ms - now)
        .execute(conn)?;
        let acked = acked(conn, store_id, &current)?;
        Ok(Hello {
            node_epoch: current,
            acked,
        })
    })
}

fn acked(
    conn: &mut PgConnection,
    store_id: &str,
    epoch: &str,
) -> Result<BTreeMap<String, (i64, String)>> {
    let rows: Vec<AckRow> = diesel::sql_query(
        "SELECT stream, position, event_id FROM sync_acks WHERE store_id = $1 AND node_epoch = $2",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(epoch)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.stream, (r.position, r.event_id)))
        .collect())
}

/// One batch now durable in the queue: `stream` up to `last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub stream: String,
    pub last: i64,
    pub last_event_id: String,
}

/// Records batches now durable in the queue (a stream's position only grows).
/// With several pushes in flight this may run ahead of a batch that failed;
/// stores resume from their own record of acknowledgements, which is kept in
/// order, and use this one only to tell whether their database was rewound.
pub fn record_acks(
    conn: &mut CloudConn,
    store_id: &str,
    epoch: &str,
    acks: &[Acked],
) -> Result<()> {
    let now = now_millis();
    for a in acks {
        diesel::sql_query(
            "INSERT INTO sync_acks (store_id, node_epoch, stream, position, event_id, acked_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (store_id, node_epoch, stream) DO UPDATE \
             SET position = EXCLUDED.position, event_id = EXCLUDED.event_id, acked_at = EXCLUDED.acked_at \
             WHERE sync_acks.position < EXCLUDED.position",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(epoch)
        .bind::<Text, _>(&a.stream)
        .bind::<BigInt, _>(a.last)
        .bind::<Text, _>(&a.last_event_id)
        .bind::<BigInt, _>(now)
        .execute(conn)?;
    }
    touch(conn, store_id)
}

/// Every epoch of a store: epoch → (parent, fork per stream).
pub(super) type Epochs = BTreeMap<String, (String, BTreeMap<String, i64>)>;

#[derive(QueryableByName)]
struct ParentRow {
    #[diesel(sql_type = Text)]
    node_epoch: String,
    #[diesel(sql_type = Text)]
    parent_epoch: String,
    #[diesel(sql_type = Jsonb)]
    fork: serde_json::Value,
}

/// Every epoch of a store: epoch → (parent, fork).
pub(super) fn epochs(conn: &mut PgConnection, store_id: &str) -> Result<Epochs> {
    let rows: Vec<ParentRow> = diesel::sql_query(
        "SELECT node_epoch, parent_epoch, fork FROM store_epochs WHERE store_id = $1",
    )
    .bind::<Text, _>(store_id)
    .load(conn)?;
    rows.into_iter()
        .map(|r| {
            let fork = serde_json::from_value(r.fork)
                .map_err(|e| CloudError::Corrupt(format!("store_epochs.fork: {e}")))?;
            Ok((r.node_epoch, (r.parent_epoch, fork)))
        })
        .collect()
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    event_id: String,
}

/// The id of the event applied at `position` of `stream` in `epoch`'s
/// history (looking through the epochs it descends from).
pub fn event_at(
    conn: &mut CloudConn,
    store_id: &str,
    epoch: &str,
    stream: &str,
    position: i64,
) -> Result<Option<String>> {
    let all = epochs(conn, store_id)?;
    // The epoch that owns this position: the newest whose fork is below it.
    let mut owner = epoch.to_owned();
    while let Some((parent, fork)) = all.get(&owner) {
        if fork.get(stream).copied().unwrap_or(0) < position {
            break;
        }
        owner = parent.clone();
    }
    let row: Option<IdRow> = diesel::sql_query(
        "SELECT event_id FROM inbox WHERE store_id = $1 AND node_epoch = $2 AND stream = $3 AND position = $4",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(&owner)
    .bind::<Text, _>(stream)
    .bind::<BigInt, _>(position)
    .get_result(conn)
    .optional()?;
    Ok(row.map(|r| r.event_id))
}

pub(super) fn raise(
    conn: &mut PgConnection,
    store_id: &str,
    kind: &str,
    detail: &str,
) -> Result<()> {
    tracing::warn!(store = store_id, kind, "{detail}");
    diesel::sql_query(
        "INSERT INTO alarms (store_id, kind, detail, raised_at) VALUES ($1, $2, $3, $4)",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(detail)
    .bind::<BigInt, _>(now_millis())
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct Alarm {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub store_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub detail: String,
    #[diesel(sql_type = BigInt)]
    pub raised_at: i64,
}

pub fn alarms(conn: &mut CloudConn, store_id: Option<&str>) -> Result<Vec<Alarm>> {
    Ok(diesel::sql_query(
        "SELECT id, store_id, kind, detail, raised_at FROM alarms \
         WHERE $1::text IS NULL OR store_id = $1 ORDER BY id DESC LIMIT 500",
    )
    .bind::<Nullable<Text>, _>(store_id)
    .load(conn)?)
}

#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct StoreRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub node_epoch: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub last_contact_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub clock_skew_ms: i64,
    /// The backlog the store's last heartbeat reported.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub pending_events: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub oldest_unsent_age_ms: Option<i64>,
    /// Why sync with the store is refused ("" = it is not).
    #[diesel(sql_type = Text)]
    pub sync_refusal: String,
    /// When the store's active credential expires (None: never, or none).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub credential_expires_at: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub has_credential: bool,
    /// The master-data feed: the cursor of the last change the store has
    /// applied (it asked for the ones after it), the feed's last cursor,
    /// and how many changes wait for the store's next pull.
    #[diesel(sql_type = BigInt)]
    pub master_pulled: i64,
    #[diesel(sql_type = BigInt)]
    pub master_latest: i64,
    #[diesel(sql_type = BigInt)]
    pub master_waiting: i64,
    /// What of the feed the store's edge understands (2: re-sends).
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub master_feed_version: i32,
}

/// A store's sync state for people: per stream acknowledged vs applied, and
/// what was rejected, parked or is waiting behind a gap.
#[derive(Debug, Clone, Serialize)]
pub struct StoreSync {
    pub store: StoreRow,
    pub streams: Vec<StreamSync>,
    pub rejected: i64,
    pub pending: i64,
    pub alarms: i64,
    /// Batches parked and not yet resolved.
    pub parked: i64,
}

#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct StreamSync {
    #[diesel(sql_type = Text)]
    pub stream: String,
    #[diesel(sql_type = BigInt)]
    pub acked: i64,
    #[diesel(sql_type = BigInt)]
    pub applied: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str, store_id: &str) -> Result<i64> {
    let c: Count = diesel::sql_query(sql)
        .bind::<Text, _>(store_id)
        .get_result(conn)?;
    Ok(c.n)
}

#[derive(QueryableByName)]
struct MarkAt {
    #[diesel(sql_type = Text)]
    stream: String,
    #[diesel(sql_type = Text)]
    node_epoch: String,
    #[diesel(sql_type = BigInt)]
    position: i64,
}

/// What of `epoch`'s history is applied on `stream`, from the stream's mark:
/// a mark still in the parent epoch at or past the fork means everything
/// up to the fork is applied (the mark moves to the new epoch only when the
/// stream's next batch arrives, which for a quiet stream may be never).
fn applied_in(epochs: &Epochs, epoch: &str, stream: &str, mark: Option<(&str, i64)>) -> i64 {
    let Some((mark_epoch, position)) = mark else {
        return 0;
    };
    if mark_epoch == epoch {
        return position;
    }
    match epochs.get(epoch) {
        Some((parent, fork)) if parent == mark_epoch => {
            let at = fork.get(stream).copied().unwrap_or(0);
            if position >= at { at } else { 0 }
        }
        _ => 0,
    }
}

pub fn store_sync(conn: &mut CloudConn) -> Result<Vec<StoreSync>> {
    let stores: Vec<StoreRow> = diesel::sql_query(
        "SELECT s.id, s.code, s.name, s.node_epoch, s.last_contact_at, s.clock_skew_ms, \
           s.pending_events, s.oldest_unsent_age_ms, s.sync_refusal, \
           (SELECT min(c.expires_at) FROM store_credentials c WHERE c.store_id = s.id AND c.state = 'active') \
             AS credential_expires_at, \
           EXISTS (SELECT 1 FROM store_credentials c WHERE c.store_id = s.id AND c.state IN ('active', 'pending')) \
             AS has_credential, s.master_pulled, \
           (SELECT COALESCE(max(m.cursor), 0) FROM master_changes m WHERE m.store_id = s.id) \
             AS master_latest, \
           (SELECT count(*) FROM master_changes m WHERE m.store_id = s.id AND m.cursor > s.master_pulled) \
             AS master_waiting, s.master_feed_version \
         FROM stores s ORDER BY s.code",
    )
    .load(conn)?;
    let mut out = Vec::with_capacity(stores.len());
    for s in stores {
        let acked: Vec<AckRow> = diesel::sql_query(
            "SELECT stream, position, event_id FROM sync_acks \
             WHERE store_id = $1 AND node_epoch = $2 ORDER BY stream",
        )
        .bind::<Text, _>(&s.id)
        .bind::<Text, _>(&s.node_epoch)
        .load(conn)?;
        let marks: Vec<MarkAt> = diesel::sql_query(
            "SELECT stream, node_epoch, position FROM stream_marks WHERE store_id = $1",
        )
        .bind::<Text, _>(&s.id)
        .load(conn)?;
        let all = epochs(conn, &s.id)?;
        let streams = acked
            .into_iter()
            .map(|a| {
                let mark = marks
                    .iter()
                    .find(|m| m.stream == a.stream)
                    .map(|m| (m.node_epoch.as_str(), m.position));
                StreamSync {
                    applied: applied_in(&all, &s.node_epoch, &a.stream, mark),
                    stream: a.stream,
                    acked: a.position,
                }
            })
            .collect();
        let rejected = count(
            conn,
            "SELECT count(*) AS n FROM rejected_events WHERE store_id = $1",
            &s.id,
        )?;
        let pending = count(
            conn,
            "SELECT count(*) AS n FROM pending_events WHERE store_id = $1",
            &s.id,
        )?;
        let alarms = count(
            conn,
            "SELECT count(*) AS n FROM alarms WHERE store_id = $1",
            &s.id,
        )?;
        let parked = count(
            conn,
            "SELECT count(*) AS n FROM parked_batches WHERE store_id = $1 AND resolved_at IS NULL",
            &s.id,
        )?;
        out.push(StoreSync {
            store: s,
            streams,
            rejected,
            pending,
            alarms,
            parked,
        });
    }
    Ok(out)
}

/// Checks the store code an edge says it has against the one the cloud
/// registered for the credential's store. On a mismatch the refusal is
/// recorded (and raised as an alarm once) and returned; a match clears it.
/// An edge that does not say (an older release) is not checked.
pub fn check_code(conn: &mut CloudConn, store_id: &str, edge_code: &str) -> Result<Option<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        code: String,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        sync_refusal: String,
    }
    let r: Row = diesel::sql_query("SELECT code, name, sync_refusal FROM stores WHERE id = $1")
        .bind::<Text, _>(store_id)
        .get_result(conn)?;
    let refusal = if edge_code.is_empty() || edge_code == r.code {
        String::new()
    } else {
        format!(
            "this edge was set up as store {edge_code}, but its credential is store {} ({})'s: sync is refused until they match \
             (use store {edge_code}'s credential on this edge, or register the store as {edge_code})",
            r.code, r.name
        )
    };
    if refusal != r.sync_refusal {
        diesel::sql_query("UPDATE stores SET sync_refusal = $2 WHERE id = $1")
            .bind::<Text, _>(store_id)
            .bind::<Text, _>(&refusal)
            .execute(conn)?;
        if !refusal.is_empty() {
            raise(conn, store_id, "store-code-mismatch", &refusal)?;
        }
    }
    Ok((!refusal.is_empty()).then_some(refusal))
}

/// Per register, the highest order sequence the cloud holds for the store.
pub fn register_numbers(conn: &mut CloudConn, store_id: &str) -> Result<Vec<(i32, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        register_no: i32,
        #[diesel(sql_type = BigInt)]
        last_seq: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT register_no, last_seq FROM register_numbers WHERE store_id = $1 ORDER BY register_no",
    )
    .bind::<Text, _>(store_id)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.register_no, r.last_seq))
        .collect())
}

/// Keeps, per register, the highest order sequence the cloud holds (a
/// restored store numbers past it).
pub fn record_numbers<'a>(
    conn: &mut PgConnection,
    store_id: &str,
    numbers: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let mut top: BTreeMap<i32, i64> = BTreeMap::new();
    for (register, seq) in numbers.filter_map(outpost_domain::OrderNumber::register_and_seq) {
        let t = top.entry(register).or_default();
        *t = (*t).max(seq);
    }
    if top.is_empty() {
        return Ok(());
    }
    let (registers, seqs): (Vec<i32>, Vec<i64>) = top.into_iter().unzip();
    diesel::sql_query(
        "INSERT INTO register_numbers (store_id, register_no, last_seq) \
         SELECT $1, r, s FROM unnest($2::int[], $3::bigint[]) AS x(r, s) \
         ON CONFLICT (store_id, register_no) DO UPDATE \
         SET last_seq = GREATEST(register_numbers.last_seq, EXCLUDED.last_seq)",
    )
    .bind::<Text, _>(store_id)
    .bind::<Array<Integer>, _>(&registers)
    .bind::<Array<BigInt>, _>(&seqs)
    .execute(conn)?;
    Ok(())
}

/// A store's heartbeat: it is in contact, with this backlog.
pub fn heartbeat(
    conn: &mut CloudConn,
    store_id: &str,
    pending_events: i64,
    oldest_unsent_age_ms: i64,
    store_clock_ms: i64,
) -> Result<()> {
    let now = now_millis();
    diesel::sql_query(
        "UPDATE stores SET last_contact_at = $2, pending_events = $3, oldest_unsent_age_ms = $4, \
         backlog_reported_at = $2, clock_skew_ms = $5 WHERE id = $1",
    )
    .bind::<Text, _>(store_id)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(pending_events.max(0))
    .bind::<BigInt, _>(oldest_unsent_age_ms.max(0))
    .bind::<BigInt, _>(store_clock_ms - now)
    .execute(conn)?;
    Ok(())
}

/// Any other authenticated call from the store: it is in contact.
pub fn touch(conn: &mut CloudConn, store_id: &str) -> Result<()> {
    diesel::sql_query("UPDATE stores SET last_contact_at = $2 WHERE id = $1")
        .bind::<Text, _>(store_id)
        .bind::<BigInt, _>(now_millis())
        .execute(conn)?;
    Ok(())
}

/// The epoch the cloud holds as the store's current one.
pub fn hello_epoch(conn: &mut CloudConn, store_id: &str) -> Result<String> {
    let r: EpochRow = diesel::sql_query("SELECT node_epoch FROM stores WHERE id = $1")
        .bind::<Text, _>(store_id)
        .get_result(conn)?;
    Ok(r.node_epoch)
}

/// An order as the cloud holds it, for the admin.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct OrderRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub store_code: String,
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub total_minor: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub needs_adjustment: bool,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
}

/// Orders across stores (or of one), newest first; only those flagged for
/// adjustment when `adjustments`.
pub fn orders(
    conn: &mut CloudConn,
    store_id: Option<&str>,
    adjustments: bool,
    limit: i64,
) -> Result<Vec<OrderRow>> {
    Ok(diesel::sql_query(
        "SELECT o.id, s.code AS store_code, o.number, o.status, o.currency, o.total_minor, \
           o.needs_adjustment, o.created_at \
         FROM orders o JOIN stores s ON s.id = o.store_id \
         WHERE ($1::text IS NULL OR o.store_id = $1) AND (NOT $2 OR o.needs_adjustment) \
         ORDER BY o.created_at DESC, o.id DESC LIMIT $3",
    )
    .bind::<Nullable<Text>, _>(store_id)
    .bind::<diesel::sql_types::Bool, _>(adjustments)
    .bind::<BigInt, _>(limit.clamp(1, 1000))
    .load(conn)?)
}
