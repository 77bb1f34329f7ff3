//! The store's change feed: what a pull reads, how far each store has
//! pulled, and re-sending a store's master data as it stands.

use super::*;

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, Serialize)]
pub struct Change {
    #[diesel(sql_type = BigInt)]
    pub cursor: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub entity_id: String,
    #[diesel(sql_type = BigInt)]
    pub hlc: i64,
    #[diesel(sql_type = Text)]
    pub body: String,
    /// Appended by a re-send (see [`resend`]).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub resent: bool,
}

/// The store's changes after `cursor`, in cursor order, for an edge that
/// understands `feed_version`: one older than re-sends (say, rolled back
/// after one) does not get re-sent changes, which it would take for
/// conflicts; support re-sends again once it is upgraded.
pub fn changes(
    conn: &mut CloudConn,
    store_id: &str,
    cursor: i64,
    limit: i64,
    feed_version: i32,
) -> Result<Vec<Change>> {
    Ok(diesel::sql_query(
        "SELECT cursor, kind, entity_id, hlc, body, resent FROM master_changes \
         WHERE store_id = $1 AND cursor > $2 AND (NOT resent OR $4) ORDER BY cursor LIMIT $3",
    )
    .bind::<Text, _>(store_id)
    .bind::<BigInt, _>(cursor)
    .bind::<BigInt, _>(limit.clamp(1, 5000))
    .bind::<diesel::sql_types::Bool, _>(i64::from(feed_version) >= RESENT_FEED_VERSION)
    .load(conn)?)
}

/// The feed version of an edge that understands re-sent changes
/// (`PullRequest.feed_version`).
pub const RESENT_FEED_VERSION: i64 = 2;

/// Notes that the store asked for its changes after `cursor` (every change
/// up to it has been applied there) with an edge that understands
/// `feed_version`; written only when either moved.
pub fn pulled(conn: &mut CloudConn, store_id: &str, cursor: i64, feed_version: i32) -> Result<()> {
    diesel::sql_query(
        "UPDATE stores SET master_pulled = $2, master_feed_version = $3 \
         WHERE id = $1 AND (master_pulled <> $2 OR master_feed_version <> $3)",
    )
    .bind::<Text, _>(store_id)
    .bind::<BigInt, _>(cursor)
    .bind::<diesel::sql_types::Integer, _>(feed_version.max(1))
    .execute(conn)?;
    Ok(())
}

/// What a re-send appended to a store's feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resent {
    /// The cursors of the first and last change appended (0 when none).
    pub first_cursor: i64,
    pub last_cursor: i64,
    /// How many changes of each kind.
    pub kinds: std::collections::BTreeMap<String, usize>,
    /// Price-list versions already due, not sent again: the store applied
    /// each when it came due (its prices are in the products).
    pub past_price_lists: usize,
}

#[derive(QueryableByName)]
struct Entity {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    entity_id: String,
    #[diesel(sql_type = BigInt)]
    hlc: i64,
    #[diesel(sql_type = Text)]
    body: String,
}

/// Which kinds a re-send appends first: what a later kind refers to (a
/// product's company and tax category, the store's default company).
const RESEND_ORDER: [&str; 6] = [
    "company",
    "tax_category",
    "store",
    "staff",
    "product",
    "price_list",
];

/// Appends the store's master data as the cloud knows it now to its feed:
/// each entity once, with the fields of every edit laid over each other and
/// the time (HLC) of its last edit, marked `resent`. The store applies one
/// unless its own copy is later, so an edit made at the store since is not
/// overwritten, and one already applied changes nothing. For a store that
/// skipped changes (an older version that did not know a kind, a product
/// whose company had not arrived) or whose data was damaged. Price-list
/// versions already due are left out: applying one now would set old
/// prices over every later edit.
pub fn resend(conn: &mut CloudConn, store_id: &str) -> Result<Resent> {
    conn.transaction(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7400012)").execute(conn)?;
        store_known(conn, store_id)?;
        let understood: Max = diesel::sql_query(
            "SELECT master_feed_version::bigint AS n FROM stores WHERE id = $1",
        )
        .bind::<Text, _>(store_id)
        .get_result(conn)?;
        if understood.n < RESENT_FEED_VERSION {
            return Err(CloudError::Conflict(
                "the store's edge has not pulled with a version that understands re-sends (it would take each re-sent entity for a conflict): upgrade it, let it pull, then re-send".into(),
            ));
        }
        let mut current: Vec<Entity> = diesel::sql_query(
            "SELECT 'product' AS kind, sku AS entity_id, hlc, body::text AS body \
             FROM store_products WHERE store_id = $1 ORDER BY sku",
        )
        .bind::<Text, _>(store_id)
        .load(conn)?;
        let edits: Vec<Entity> = diesel::sql_query(
            "SELECT kind, entity_id, hlc, body FROM master_changes \
             WHERE store_id = $1 AND kind <> 'product' AND NOT resent ORDER BY cursor",
        )
        .bind::<Text, _>(store_id)
        .load(conn)?;
        let mut past_price_lists = 0;
        for e in fold(edits)? {
            let due = e.kind == "price_list"
                && serde_json::from_str::<serde_json::Value>(&e.body)
                    .ok()
                    .and_then(|b| b.get("effective_at")?.as_i64())
                    .is_none_or(|at| at <= now_millis());
            if due {
                past_price_lists += 1;
            } else {
                current.push(e);
            }
        }
        current.sort_by_key(|e| RESEND_ORDER.iter().position(|k| *k == e.kind));
        let mut out = Resent {
            first_cursor: 0,
            last_cursor: 0,
            kinds: Default::default(),
            past_price_lists,
        };
        for e in current {
            let at = append(conn, store_id, &e.kind, &e.entity_id, e.hlc, &e.body, true)?;
            if out.first_cursor == 0 {
                out.first_cursor = at;
            }
            out.last_cursor = at;
            *out.kinds.entry(e.kind).or_default() += 1;
        }
        Ok(out)
    })
}

/// Each entity's edits (in cursor order) laid over each other: one entity
/// with the fields of all and the time of the last. A staff member, whom
/// the store edits too, also carries each field's own time (`hlc_of`): a
/// field from an older edit then loses to the store's later one, as it did
/// when it first came.
fn fold(edits: Vec<Entity>) -> Result<Vec<Entity>> {
    type Fields = serde_json::Map<String, serde_json::Value>;
    let mut by: std::collections::BTreeMap<(String, String), (i64, Fields, Fields)> =
        Default::default();
    for e in edits {
        let body: serde_json::Value = serde_json::from_str(&e.body)
            .map_err(|err| CloudError::Corrupt(format!("master change {}: {err}", e.entity_id)))?;
        let serde_json::Value::Object(fields) = body else {
            return Err(CloudError::Corrupt(format!(
                "master change {}: not an object",
                e.entity_id
            )));
        };
        let slot = by.entry((e.kind, e.entity_id)).or_default();
        slot.0 = slot.0.max(e.hlc);
        for (k, v) in fields {
            slot.2.insert(k.clone(), e.hlc.into());
            slot.1.insert(k, v);
        }
    }
    by.into_iter()
        .map(|((kind, entity_id), (hlc, mut body, mut times))| {
            if kind == "staff" {
                times.remove("id");
                body.insert("hlc_of".into(), times.into());
            }
            Ok(Entity {
                kind,
                entity_id,
                hlc,
                body: json(&body)?,
            })
        })
        .collect()
}
