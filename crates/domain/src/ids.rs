//! Ids and wall-clock time as every tier stores them, and the version of the
//! event payloads this build writes.

/// A new id: a UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The version of the payload schemas this build writes.
///
/// - 2: an order's payments carry `rounding_minor` (cash rounded to the
///   currency's cash unit); a shift's report is reconciled from payments
///   (`rounding_minor`, `open_orders`, `carried_over`).
/// - 3: a kitchen ticket carries `printed_at_register` (a slip a till
///   printed with its edge away).
/// - 4: a product (a `master` event) carries its item-grid `category` and
///   `favourite`. The cloud reads 3 and 4.
pub const SCHEMA_VERSION: i32 = 4;

/// Event schema versions the cloud reads: the current one and the previous.
pub fn accepted_schema_versions() -> Vec<i32> {
    let v = SCHEMA_VERSION;
    if v > 1 { vec![v - 1, v] } else { vec![v] }
}
