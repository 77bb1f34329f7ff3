//! Finding the edge by the name it announces on the store's LAN
//! (`outpost-edge.local`, `outpost_api::mdns`), each time the agent
//! connects: a till paired by name follows the edge to a new address (a
//! DHCP lease, a replaced box) without pairing again. Names outside
//! `.local` go to the system's resolver. When mDNS does not answer, the
//! system's resolver (nss-mdns, where installed) and then the last
//! addresses found are tried: a till keeps its edge through a lost packet.

use mdns_sd::{HostnameResolutionEvent, ServiceDaemon};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a name found is used before it is asked again.
const FRESH: Duration = Duration::from_secs(30);

/// Each name's addresses and when they were found.
type Found = HashMap<String, (Instant, Vec<IpAddr>)>;

/// The resolver the agent's HTTP client uses.
#[derive(Clone)]
pub struct Resolver {
    /// The mDNS port (5353 on a store's network).
    port: u16,
    /// How long one mDNS question waits.
    wait: Duration,
    found: Arc<Mutex<Found>>,
    /// One question at a time (the daemon keeps one listener per name).
    asking: Arc<tokio::sync::Mutex<()>>,
}

impl Resolver {
    pub fn new(port: u16, wait: Duration) -> Resolver {
        Resolver {
            port,
            wait,
            found: Arc::default(),
            asking: Arc::default(),
        }
    }

    /// The addresses of `host` (a `.local` name), asked over mDNS.
    pub async fn lookup(&self, host: &str) -> anyhow::Result<Vec<IpAddr>> {
        let _one = self.asking.lock().await;
        if let Some((at, ips)) = self.found.lock().expect("resolver cache").get(host)
            && at.elapsed() < FRESH
        {
            return Ok(ips.clone());
        }
        let ips = ask(self.port, host, self.wait).await;
        let ips = match ips {
            Ok(ips) if !ips.is_empty() => ips,
            asked => {
                // The system's resolver may know it (nss-mdns); then what
                // was found before.
                let system = system(host).await.unwrap_or_default();
                if !system.is_empty() {
                    system
                } else if let Some((_, ips)) = self.found.lock().expect("resolver cache").get(host)
                {
                    tracing::warn!(
                        host,
                        "the edge's name got no answer over mDNS: trying its last address"
                    );
                    return Ok(ips.clone());
                } else {
                    let why = asked.err().map(|e| format!(": {e}")).unwrap_or_default();
                    anyhow::bail!(
                        "nothing on this network answers to {host} (mDNS on port {}){why}",
                        self.port
                    );
                }
            }
        };
        self.found
            .lock()
            .expect("resolver cache")
            .insert(host.to_owned(), (Instant::now(), ips.clone()));
        Ok(ips)
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().trim_end_matches('.').to_owned();
        Box::pin(async move {
            let ips = if host.ends_with(".local") {
                this.lookup(&host).await?
            } else {
                system(&host).await?
            };
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

async fn system(host: &str) -> std::io::Result<Vec<IpAddr>> {
    Ok(tokio::net::lookup_host((host, 0))
        .await?
        .map(|a| a.ip())
        .collect())
}

/// One daemon per mDNS port for the process (a thread each).
fn daemon(port: u16) -> anyhow::Result<ServiceDaemon> {
    static DAEMONS: Mutex<Vec<(u16, ServiceDaemon)>> = Mutex::new(Vec::new());
    let mut all = DAEMONS.lock().expect("mDNS daemons");
    if let Some((_, d)) = all.iter().find(|(p, _)| *p == port) {
        return Ok(d.clone());
    }
    let d = ServiceDaemon::new_with_port(port)?;
    all.push((port, d.clone()));
    Ok(d)
}

/// Asks the network for `host`'s addresses: IPv4 first; IPv6 link-local
/// ones are left out (they need the interface, which a URL cannot carry).
async fn ask(port: u16, host: &str, wait: Duration) -> anyhow::Result<Vec<IpAddr>> {
    let d = daemon(port)?;
    let name = format!("{host}.");
    let rx = d.resolve_hostname(&name, Some(wait.as_millis() as u64))?;
    let mut ips = Vec::new();
    while let Ok(event) = rx.recv_async().await {
        match event {
            HostnameResolutionEvent::AddressesFound(_, found) => {
                ips = found
                    .iter()
                    .map(|ip| ip.to_ip_addr())
                    .filter(|ip| match ip {
                        IpAddr::V6(v6) => !v6.is_unicast_link_local(),
                        IpAddr::V4(_) => true,
                    })
                    .collect();
                ips.sort_by_key(|ip| ip.is_ipv6());
                break;
            }
            HostnameResolutionEvent::SearchTimeout(_)
            | HostnameResolutionEvent::SearchStopped(_) => break,
            _ => {}
        }
    }
    let _ = d.stop_resolve_hostname(&name);
    Ok(ips)
}
