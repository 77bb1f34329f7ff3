//! Answers the handlers put together themselves (sign-in list, money
//! format, tickets, printers, health), as types.

use super::{Device, Order, Printer};
use crate::after_commit::hardware::Pushed;
use outpost_proto::hw_v1 as pb;
use outpost_telemetry::Status;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Who can sign in here: every staff member at a paired register (with its
/// `X-Device-Token`), managers and admins alone at the back office.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInList {
    /// The register or display the `X-Device-Token` belongs to.
    pub device: Option<Device>,
    pub staff: Vec<StaffName>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffName {
    pub id: String,
    pub name: String,
    pub role: String,
}

/// The signed-in staff member.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub staff_id: String,
    pub name: String,
    #[schema(value_type = String, example = "cashier")]
    pub role: outpost_domain::Role,
    /// The register this session was opened at (none at the back office).
    pub device_id: Option<String>,
}

/// What became of a sale sent under an idempotency key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// The sale was made: `order` is the answer its request got.
    Committed,
    /// Still being written: ask again.
    Pending,
    /// No sale was made under it here: sending it again is safe.
    Unknown,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SaleByKey {
    pub state: KeyState,
    /// The status the sale's own request was answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Order>)]
    pub order: Option<serde_json::Value>,
}

/// How this store's money is written and counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyFormat {
    /// ISO 4217 code.
    pub currency: String,
    /// Decimals of the minor unit amounts are stored in.
    pub exponent: u8,
    /// Decimals shown (fewer when the rounding unit keeps the last at zero).
    pub decimals: u8,
    pub shown_step: i64,
    /// Totals and taxes are multiples of this many minor units.
    pub rounding_minor: i64,
    /// Cash payments are rounded to a multiple of this.
    pub cash_rounding_minor: i64,
    pub symbol: String,
    /// Banknotes, smallest first, in minor units.
    pub notes: Vec<i64>,
    /// Coins, smallest first, in minor units.
    pub coins: Vec<i64>,
    pub locale: String,
    /// The locale's decimal mark, when it is one we know.
    pub decimal: Option<String>,
    /// The locale's grouping mark.
    pub group: Option<String>,
}

/// Each stream's head position, and events the relay has not positioned.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxStatus {
    pub streams: BTreeMap<String, i64>,
    pub unrelayed: i64,
}

/// A ticket for the realtime hub and where to find it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealtimeTicket {
    pub ticket: String,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// The hub's public URL, when one is configured (else this host, `hub_port`).
    pub url: Option<String>,
    pub hub_port: u16,
    pub store_id: String,
    /// The node epoch offsets are counted in.
    pub epoch: String,
    /// What this holder may follow: a kitchen display its tickets only.
    pub channels: Vec<String>,
}

/// A printer as its hw-proxy sees it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct LivePrinter {
    pub reachable: bool,
    pub ready: bool,
    /// What keeps it from printing ("paper out", …).
    pub problem: Option<String>,
    pub since_ms: i64,
    pub queued: i64,
    pub uncertain: i64,
    pub held: i64,
}

impl From<&pb::PrinterInfo> for LivePrinter {
    fn from(i: &pb::PrinterInfo) -> Self {
        LivePrinter {
            reachable: i.reachable,
            ready: i.ready,
            problem: (!i.problem.is_empty()).then(|| i.problem.clone()),
            since_ms: i.since_ms,
            queued: i.queued,
            uncertain: i.uncertain,
            held: i.held,
        }
    }
}

/// A configured printer and whether its hw-proxy took it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterRow {
    pub printer: Printer,
    pub has_logo: bool,
    /// Its hw-proxy drives it as configured here.
    pub applied: bool,
    pub push_error: Option<String>,
    pub live: Option<LivePrinter>,
}

/// A printer a hw-proxy drives from its own settings file.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnPrinter {
    pub id: String,
    pub address: String,
    #[serde(flatten)]
    pub live: LivePrinter,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HwProxyRow {
    pub url: String,
    pub reachable: bool,
    pub error: Option<String>,
    pub last_push: Option<Pushed>,
    pub own_printers: Vec<OwnPrinter>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterList {
    pub printers: Vec<PrinterRow>,
    pub hw_proxies: Vec<HwProxyRow>,
    /// No printer is configured here: the one in the settings is used.
    pub from_settings: bool,
}

/// A printer stored, and how handing it to the hw-proxies went (by URL).
#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterSaved {
    pub printer: Printer,
    pub has_logo: bool,
    pub pushed: BTreeMap<String, Pushed>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterRemoved {
    pub removed: Printer,
    pub pushed: BTreeMap<String, Pushed>,
}

/// A print job of this register's printer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintJob {
    pub id: String,
    /// `receipt`, `kitchen` or `drawer`.
    pub kind: String,
    /// `queued`, `sending`, `printed`, `uncertain`, `held`, `expired` or `cancelled`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The job as text, as it prints.
    pub preview: String,
}

impl From<pb::Job> for PrintJob {
    fn from(j: pb::Job) -> Self {
        PrintJob {
            id: j.id,
            kind: j.kind,
            state: j.state,
            attempts: j.attempts,
            last_error: (!j.last_error.is_empty()).then_some(j.last_error),
            created_at_ms: j.created_at_ms,
            updated_at_ms: j.updated_at_ms,
            preview: j.preview,
        }
    }
}

/// This register's receipt printer, its state and latest jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterJobs {
    pub printer: String,
    pub state: Option<LivePrinter>,
    pub jobs: Vec<PrintJob>,
}

/// A job's id and state after a reprint or cancel.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobState {
    pub id: String,
    pub state: String,
}

/// Each component's state; `unhealthy` (503) only without the database.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: Status,
    pub version: String,
    pub uptime_s: u64,
    pub store: String,
    pub components: HealthComponents,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthComponents {
    pub database: DatabaseHealth,
    pub outbox: OutboxHealth,
    pub relay: RelayHealth,
    pub disk: DiskHealth,
    pub clock: ClockHealth,
    pub realtime: RealtimeHealth,
    /// The sync worker's last word and what waits to be sent (`status`,
    /// `configured`, `online`, `pending_events`, `streams`, …).
    #[schema(value_type = Object)]
    pub sync: serde_json::Value,
    /// Register agents whose last push the edge refused.
    pub registers: RegistersHealth,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistersHealth {
    pub status: Status,
    pub refused: Vec<RegisterRefusal>,
    /// Till events the edge refused for good and no manager has cleared.
    pub parked: i64,
    /// The latest of them (at most 10), without what they carry (the
    /// manager's `GET /register-events/parked` has it).
    pub latest_parked: Vec<ParkedSummary>,
}

/// A parked till event as health shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedSummary {
    pub register: String,
    pub event_type: String,
    pub reason: String,
    pub at: i64,
}

/// A scanned code's product, and from a scale label the weight it sells.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scanned {
    #[serde(flatten)]
    pub product: super::Product,
    /// From a scale label: the weight to sell, in thousandths of a kilo.
    pub label_qty_milli: Option<i64>,
}

/// One page of a till's own orders (`storage::register_history::History`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterHistory {
    /// The shape of the page (a till takes this and the one before).
    pub schema: i32,
    /// Each order with its lines and payments, as the edge holds it.
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<serde_json::Value>,
    /// The shifts the orders and their payments name.
    #[schema(value_type = Vec<Object>)]
    pub shifts: Vec<serde_json::Value>,
    /// The other registers those shifts belong to.
    #[schema(value_type = Vec<Object>)]
    pub registers: Vec<serde_json::Value>,
    /// Ask again with `after` set to this; null: that was the last page.
    pub next: Option<String>,
}

impl From<outpost_storage::register_history::History> for RegisterHistory {
    fn from(h: outpost_storage::register_history::History) -> Self {
        fn values<T: Serialize>(rows: Vec<T>) -> Vec<serde_json::Value> {
            rows.iter()
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .collect()
        }
        RegisterHistory {
            schema: h.schema,
            orders: values(h.orders),
            shifts: values(h.shifts),
            registers: values(h.registers),
            next: h.next,
        }
    }
}

/// A till's event the edge refused for good, kept with its reason
/// (`GET /register-events/parked`; a manager clears it).
#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedEvent {
    pub event_id: String,
    pub register: String,
    pub stream: String,
    pub position: i64,
    pub event_type: String,
    pub reason: String,
    pub at: i64,
    /// The event as the till sent it (JSON text).
    pub event: String,
}

impl From<outpost_storage::register_events::parked::Parked> for ParkedEvent {
    fn from(p: outpost_storage::register_events::parked::Parked) -> Self {
        let outpost_storage::register_events::parked::Parked {
            event_id,
            register,
            stream,
            position,
            event_type,
            reason,
            at,
            event,
        } = p;
        ParkedEvent {
            event_id,
            register,
            stream,
            position,
            event_type,
            reason,
            at,
            event,
        }
    }
}

/// A till whose sales wait on it because the edge refused its last push.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterRefusal {
    pub register: String,
    pub at: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseHealth {
    pub status: Status,
    pub backend: String,
    pub latency_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxHealth {
    pub status: Status,
    /// Events not yet positioned by the relay (none when the database is away).
    pub unrelayed: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelayHealth {
    pub status: Status,
    pub last_pass_ms_ago: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiskHealth {
    pub status: Status,
    pub free_bytes: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClockHealth {
    pub status: Status,
    pub wall_behind_last_event_ms: i64,
    pub max_register_skew_ms: Option<i64>,
    /// What to check, when the clock looks wrong.
    pub hint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RealtimeHealth {
    pub status: Status,
    pub backend: String,
    pub lag_events: i64,
    pub last_ok_ms_ago: i64,
    pub error: Option<String>,
}
