//! The edge api's settings sections, layered as every crate's are
//! (`outpost_telemetry::settings`): compiled defaults (`config/default.toml`)
//! → an optional file → `OUTPOST__SECTION__KEY` environment variables.

use serde::Deserialize;

/// The api's sections' defaults.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub store: Store,
    pub demo: Demo,
    pub relay: Relay,
    pub idempotency: Idempotency,
    pub devices: Devices,
    pub realtime: Realtime,
    pub printing: Printing,
    pub mdns: Mdns,
    pub sales: Sales,
    /// Which scale-label prefixes carry a price and which a weight.
    pub scale_labels: outpost_domain::gs1::LabelRules,
    /// The parts of `[sync]` the api reads (the section is the
    /// sync-worker's): whether a cloud is set up, and when to call the link
    /// offline or warn about the credential.
    #[serde(default)]
    pub sync: SyncView,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: usize,
    /// The largest push of a register agent's events: one sale of the most
    /// lines a sale may have, with room to spare.
    pub max_push_bytes: usize,
    pub workers: usize,
    /// Set by a register agent serving its till's page (`outpost register`):
    /// this server then answers only its own page on its loopback address
    /// (see `startup::LocalOnly`). Empty on the edge.
    #[serde(default)]
    pub page_token: PageToken,
    /// The LAN port register agents reach the edge on over TLS (the store
    /// CA's certificate, `tls`); 0 = any free port; none on a till's agent.
    #[serde(default)]
    pub tls_port: Option<u16>,
    /// Names and addresses the edge's certificate carries besides loopback,
    /// the name it announces (`mdns.name`) and this host's name: a list in
    /// a file, comma-separated in `OUTPOST__SERVER__TLS_NAMES`.
    #[serde(default, deserialize_with = "list_or_commas")]
    pub tls_names: Vec<String>,
    /// Where the manager page signs in without a paired device
    /// (comma-separated CIDR blocks): the store server's own screen.
    /// Anywhere else the computer pairs first, with a one-time code of kind
    /// `office`, so no unpaired client on the LAN can try a manager's PIN.
    #[serde(default = "loopback")]
    pub office_networks: Networks,
    /// Where plain HTTP is served (comma-separated CIDR blocks): the store
    /// server itself. A client elsewhere is sent to the TLS port (308), so
    /// no PIN or token crosses the LAN in clear.
    #[serde(default = "loopback")]
    pub plain_networks: Networks,
    /// Where the api writes the server certificate it makes at start (and
    /// its key) for the hub and hw-proxy to serve (`outpost_telemetry::tls`);
    /// empty: nowhere (the embedded edge hands it over in-process).
    #[serde(default)]
    pub tls_dir: String,
}

fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match Names::deserialize(d)? {
        Names::List(l) => l,
        Names::Commas(s) => s
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

use outpost_telemetry::settings::Networks;

fn loopback() -> Networks {
    Networks::loopback()
}

impl Server {
    /// Whether a client at `ip` signs in to the manager page without a
    /// paired device.
    pub fn is_office(&self, ip: std::net::IpAddr) -> bool {
        self.office_networks.contains(ip)
    }
}

/// How far each role discounts a sale without a supervisor's (or a
/// manager's) PIN, in percent of the goods' price.
#[derive(Debug, Clone, Deserialize)]
pub struct Sales {
    pub cashier_discount_pct: u32,
    pub supervisor_discount_pct: u32,
}

impl Sales {
    pub fn discount_limits(&self) -> outpost_domain::staff::DiscountLimits {
        outpost_domain::staff::DiscountLimits {
            cashier_pct: self.cashier_discount_pct,
            supervisor_pct: self.supervisor_discount_pct,
        }
    }
}

/// Announcing the edge on the store's LAN by name (mDNS): tills pair with
/// `https://NAME.local:8443` and find the edge again when its address
/// changes.
#[derive(Debug, Clone, Deserialize)]
pub struct Mdns {
    /// `auto` (when `server.host` listens beyond loopback), `on` or `off`.
    pub announce: String,
    /// The host name announced, without `.local`.
    pub name: String,
    /// The mDNS port: 5353 on a store's network; tests use their own.
    pub port: u16,
}

impl Mdns {
    /// Whether this edge announces itself, listening on `host`.
    pub fn announces(&self, host: &str) -> bool {
        match self.announce.as_str() {
            "on" => true,
            "off" => false,
            _ => host
                .parse::<std::net::IpAddr>()
                .map_or(host != "localhost", |ip| !ip.is_loopback()),
        }
    }

    /// The name announced: `outpost-edge.local`.
    pub fn host(&self) -> String {
        format!("{}.local", self.name)
    }
}

/// The token a register agent's page carries; never printed.
#[derive(Clone, Default, Deserialize)]
pub struct PageToken(pub String);

impl std::fmt::Debug for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "none" } else { "set" })
    }
}

#[derive(Clone, Deserialize)]
pub struct Database {
    pub url: String,
    pub pool_size: u32,
    /// `outpost migrate` only: the password of the role it makes for the
    /// services (`<database>_app`); empty: it makes none.
    #[serde(default)]
    pub app_password: String,
}

/// Never prints the URL: it may carry a password.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &outpost_storage::Backend::of_url(&self.url))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Store {
    pub code: String,
    pub name: String,
    pub currency: String,
    pub utc_offset_minutes: i32,
    pub company_name: String,
    pub locale: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Demo {
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Relay {
    pub interval_ms: u64,
    pub batch: i64,
}

#[derive(Clone, Deserialize)]
pub struct Realtime {
    pub redis_url: String,
    pub history: usize,
    pub secret: String,
    pub ticket_ttl_s: i64,
    pub public_url: String,
    pub hub_port: u16,
    /// The hub's TLS port, for pages served over TLS (`wss://`).
    #[serde(default)]
    pub hub_tls_port: Option<u16>,
}

/// Never prints the secret or a password in the Redis URL.
impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("redis", &!self.redis_url.is_empty())
            .field("history", &self.history)
            .field("secret_set", &!self.secret.is_empty())
            .field("ticket_ttl_s", &self.ticket_ttl_s)
            .field("public_url", &self.public_url)
            .field("hub_port", &self.hub_port)
            .field("hub_tls_port", &self.hub_tls_port)
            .finish()
    }
}

/// Receipts for paid sales, through hw-proxy.
#[derive(Clone, Deserialize)]
pub struct Printing {
    pub hw_proxy_url: String,
    /// hw-proxy's `hw.token`, sent with every print job.
    pub hw_proxy_token: String,
    /// hw-proxy's HTTP side as the register's browser reaches it, for serial
    /// scanners and scales (e.g. http://127.0.0.1:7071); empty = none.
    pub inputs_url: String,
    pub receipt_printer: String,
    /// Where kitchen tickets print; empty = the kitchen display only.
    pub kitchen_printer: String,
    /// Which kitchen tickets print here: those a till printed itself with
    /// its edge away (a register agent's), or (false, the edge) all others.
    #[serde(default)]
    pub kitchen_at_register: bool,
    pub open_drawer: bool,
    pub max_age_s: i64,
    pub kitchen_max_age_s: i64,
    /// A drawer kick without a sale (no-sale, paid in or out) later than
    /// this is not sent: the drawer must not open at a till left alone.
    pub drawer_max_age_s: i64,
    pub footer: Vec<String>,
    /// Where a printer set on the manager page may be (comma-separated
    /// CIDR blocks, ports or ranges, device path prefixes), as hw-proxy's
    /// `hw.printer_*` (see `outpost_receipt::reach`).
    #[serde(default = "printer_networks")]
    pub printer_networks: String,
    #[serde(default = "printer_ports")]
    pub printer_ports: String,
    #[serde(default = "printer_devices")]
    pub printer_devices: String,
    /// Hosts a printer's `hw_proxy_url` may name besides loopback and
    /// `hw_proxy_url`'s own (comma-separated): the print token goes there.
    #[serde(default)]
    pub hw_proxy_hosts: String,
}

fn printer_networks() -> String {
    outpost_receipt::reach::NETWORKS.into()
}
fn printer_ports() -> String {
    outpost_receipt::reach::PORTS.into()
}
fn printer_devices() -> String {
    outpost_receipt::reach::DEVICES.into()
}

impl Printing {
    /// Where a printer set on the manager page may be.
    pub fn reach(&self) -> Result<outpost_receipt::reach::Reach, String> {
        outpost_receipt::reach::Reach::parse(
            &self.printer_networks,
            &self.printer_ports,
            &self.printer_devices,
        )
        .map_err(|e| format!("printing.printer_*: {e}"))
    }

    /// Whether the print token may be sent to the hw-proxy at `url`: its
    /// host is loopback, `hw_proxy_url`'s, or one of `hw_proxy_hosts`.
    pub fn hw_proxy_allowed(&self, url: &str) -> Result<(), String> {
        let host = |u: &str| {
            u.parse::<actix_web::http::Uri>()
                .ok()
                .and_then(|u| {
                    u.host()
                        .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
                })
                .unwrap_or_default()
        };
        let h = host(url);
        let loopback = h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let named = (!self.hw_proxy_url.is_empty() && host(&self.hw_proxy_url) == h)
            || self
                .hw_proxy_hosts
                .split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .any(|x| !x.is_empty() && x == h);
        if !h.is_empty() && (loopback || named) {
            Ok(())
        } else {
            Err(format!(
                "hw_proxy_url {url:?}: the print token goes only to loopback, printing.hw_proxy_url's host or one of printing.hw_proxy_hosts (OUTPOST__PRINTING__HW_PROXY_HOSTS)"
            ))
        }
    }
}

/// Never prints the token.
impl std::fmt::Debug for Printing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printing")
            .field("hw_proxy_url", &self.hw_proxy_url)
            .field("hw_proxy_token_set", &!self.hw_proxy_token.is_empty())
            .field("receipt_printer", &self.receipt_printer)
            .field("kitchen_printer", &self.kitchen_printer)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Devices {
    /// How long a one-time pairing code waits for its device.
    pub pairing_code_ttl_s: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Idempotency {
    pub retention_days: i64,
}

/// What the api reads of the sync-worker's `[sync]` section. Loaded alone
/// (without the sync-worker's defaults), a missing key takes the sync-worker's
/// default value (the binary's settings test keeps the two the same).
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct SyncView {
    pub cloud_url: String,
    pub credential: String,
    pub offline_after_ms: i64,
    pub credential_warn_days: i64,
}

impl Default for SyncView {
    fn default() -> Self {
        SyncView {
            cloud_url: String::new(),
            credential: String::new(),
            offline_after_ms: 15_000,
            credential_warn_days: 14,
        }
    }
}

/// Never prints the credential.
impl std::fmt::Debug for SyncView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncView")
            .field("cloud_url", &self.cloud_url)
            .field("credential_set", &!self.credential.is_empty())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The api's defaults, then `file` if given, then the environment
    /// (`[sync]` as the file and the environment give it).
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, config::ConfigError> {
        Settings::from_config(&outpost_telemetry::settings::layered(&[DEFAULTS], file)?)
    }

    /// The api's sections of layered settings (the binary layers every
    /// crate's defaults with [`DEFAULTS`]).
    pub fn from_config(cfg: &config::Config) -> Result<Settings, config::ConfigError> {
        cfg.clone()
            .try_deserialize()
            .and_then(|s: Settings| s.check())
    }

    fn check(self) -> Result<Settings, config::ConfigError> {
        self.scale_labels
            .check()
            .map_err(config::ConfigError::Message)?;
        self.printing
            .reach()
            .map_err(config::ConfigError::Message)?;
        let url = &self.printing.inputs_url;
        let plain = url.starts_with("http://") || url.starts_with("https://");
        let safe = url
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '<' | '>' | '`' | ';'));
        if !(url.is_empty() || plain && safe) {
            return Err(config::ConfigError::Message(format!(
                "printing.inputs_url {url:?}: give hw-proxy's HTTP address, such as http://127.0.0.1:7071"
            )));
        }
        let m = &self.mdns;
        let label = !m.name.is_empty()
            && m.name.len() <= 63
            && !m.name.starts_with('-')
            && !m.name.ends_with('-')
            && m.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !label {
            return Err(config::ConfigError::Message(format!(
                "mdns.name {:?}: one name of letters, digits and hyphens (such as outpost-edge), without .local",
                m.name
            )));
        }
        if !matches!(m.announce.as_str(), "auto" | "on" | "off") {
            return Err(config::ConfigError::Message(format!(
                "mdns.announce {:?}: auto, on or off",
                m.announce
            )));
        }
        Ok(self)
    }

    /// The store id named by the sync credential (`<store id>.<secret>`).
    pub fn store_id(&self) -> Option<String> {
        self.sync
            .credential
            .split_once('.')
            .map(|(id, _)| id.to_owned())
            .filter(|id| !id.is_empty())
    }

    pub fn store_setup(&self) -> outpost_storage::seed::StoreSetup {
        outpost_storage::seed::StoreSetup {
            id: self.store_id(),
            code: self.store.code.clone(),
            name: self.store.name.clone(),
            currency: self.store.currency.clone(),
            utc_offset_minutes: self.store.utc_offset_minutes,
            company_name: self.store.company_name.clone(),
            locale: self.store.locale.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_defaults_load() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.server.port, 8001);
        assert!(s.idempotency.retention_days >= 30);
        assert!(!format!("{:?}", s.database).contains("outpost.sqlite"));
        // Without the sync-worker's defaults, its timers are not zero.
        assert_eq!(s.sync.offline_after_ms, 15_000);
    }

    #[test]
    fn the_edge_announces_its_name_when_it_listens_beyond_loopback() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.mdns.host(), "outpost-edge.local");
        assert!(!s.mdns.announces("127.0.0.1"));
        assert!(!s.mdns.announces("localhost"));
        assert!(!s.mdns.announces("::1"));
        assert!(s.mdns.announces("0.0.0.0"));
        assert!(s.mdns.announces("10.0.0.5"));
        let with = |announce: &str, name: &str| {
            let mut s = Settings::load(None).unwrap();
            s.mdns.announce = announce.to_owned();
            s.mdns.name = name.to_owned();
            s.check().map_err(|e| e.to_string())
        };
        assert!(!with("off", "shop").unwrap().mdns.announces("0.0.0.0"));
        assert!(with("on", "shop").unwrap().mdns.announces("127.0.0.1"));
        for bad in ["", "outpost-edge.local", "-x", "a b", "é"] {
            let e = with("auto", bad).unwrap_err();
            assert!(e.contains("mdns.name"), "{bad:?}: {e}");
        }
        assert!(
            with("sometimes", "shop")
                .unwrap_err()
                .contains("mdns.announce")
        );
    }

    #[test]
    fn networks_and_names_read_as_a_list_or_one_comma_separated_string() {
        let n = Networks::parse("10.0.0.0/8, ::1/128").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(n.contains("::1".parse().unwrap()));
        assert!(!n.contains("192.168.1.1".parse().unwrap()));
        assert!(!n.contains("127.0.0.1".parse().unwrap()));
        #[derive(Debug, Deserialize)]
        struct S {
            #[serde(deserialize_with = "list_or_commas")]
            names: Vec<String>,
            nets: Networks,
        }
        let read = |toml: &str| {
            config::Config::builder()
                .add_source(config::File::from_str(toml, config::FileFormat::Toml))
                .build()
                .unwrap()
                .try_deserialize::<S>()
                .map_err(|e| e.to_string())
        };
        let s = read("names = \"shop.lan, 10.0.0.5 ,\"\nnets = \"10.0.0.0/8\"").unwrap();
        assert_eq!(s.names, ["shop.lan", "10.0.0.5"]);
        assert!(s.nets.contains("10.0.0.5".parse().unwrap()));
        let s = read("names = [\"a\", \"b\"]\nnets = \"\"").unwrap();
        assert_eq!(s.names, ["a", "b"]);
        assert!(!s.nets.contains("127.0.0.1".parse().unwrap()));
        let e = read("names = \"\"\nnets = \"10.0.0.0/8, the shop\"").unwrap_err();
        assert!(e.contains("\"the shop\" is not a CIDR block"), "{e}");
    }

    #[test]
    fn the_print_token_goes_to_loopback_and_named_hw_proxies_only() {
        let mut s = Settings::load(None).unwrap();
        s.printing.hw_proxy_url = "http://hw-proxy:7072".into();
        s.printing.hw_proxy_hosts = "till-3.local, 10.0.0.7".into();
        let p = &s.printing;
        for ok in [
            "http://127.0.0.1:7072",
            "https://localhost:7445",
            "http://[::1]:7072",
            "https://HW-PROXY:7445",
            "http://till-3.local:7072/",
            "https://10.0.0.7:7445",
        ] {
            assert_eq!(p.hw_proxy_allowed(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://10.0.0.66:7072",
            "http://127.0.0.1@evil.example:7072",
            "http://evil.example/127.0.0.1",
            "not a url",
            "",
        ] {
            assert!(p.hw_proxy_allowed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_inputs_url_must_be_a_plain_http_address() {
        let with = |url: &str| {
            let mut s = Settings::load(None).unwrap();
            s.printing.inputs_url = url.to_owned();
            s.check().map(|_| ()).map_err(|e| e.to_string())
        };
        assert!(with("").is_ok());
        assert!(with("http://127.0.0.1:7071").is_ok());
        assert!(with("https://till-3.local:7071/").is_ok());
        for bad in [
            "127.0.0.1:7071",
            "javascript:alert(1)",
            "http://a\"><script>",
            "http://a b",
        ] {
            let e = with(bad).unwrap_err();
            assert!(e.contains("printing.inputs_url"), "{bad}: {e}");
        }
    }
}
