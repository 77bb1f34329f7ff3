//! Finding the edge by the name it announces on the store's LAN
//! (`outpost-edge.local`, `outpost_api::mdns`): a till paired by name
//! follows the edge to a new address (a DHCP lease, a replaced box) without
//! pairing again. Names outside `.local` go to the system's resolver.
//!
//! The first lookup of a name starts a watch on it that lasts as long as
//! the process: one mDNS question per name, asked again with a growing
//! interval (mdns-sd), and every answer kept, announcements of a new
//! address too. A connection then takes the addresses known at once, and
//! waits for the first answer only the first time. Asking anew at each
//! connection would not do: a responder answers the same question at most
//! once a second, so a question asked again within a second goes
//! unanswered until it is repeated a second later. When nothing answers,
//! the system's resolver is tried (nss-mdns, where installed).

use mdns_sd::{HostnameResolutionEvent, ServiceDaemon};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// The resolver the agent's HTTP client uses.
#[derive(Clone)]
pub struct Resolver {
    /// The mDNS port (5353 on a store's network).
    port: u16,
    /// How long a first lookup waits for an answer.
    wait: Duration,
}

impl Resolver {
    pub fn new(port: u16, wait: Duration) -> Resolver {
        Resolver { port, wait }
    }

    /// The addresses of `host` (a `.local` name), over mDNS.
    pub async fn lookup(&self, host: &str) -> anyhow::Result<Vec<IpAddr>> {
        let mut known = watch_of(self.port, host)?;
        let found = tokio::time::timeout(self.wait, known.wait_for(|ips| !ips.is_empty()))
            .await
            .ok()
            .and_then(|r| r.ok().map(|ips| ips.clone()));
        if let Some(ips) = found {
            return Ok(ips);
        }
        // Nothing over mDNS (yet): the system's resolver may know it.
        let system = system(host).await.unwrap_or_default();
        anyhow::ensure!(
            !system.is_empty(),
            "nothing on this network answers to {host} (mDNS on port {})",
            self.port
        );
        Ok(system)
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

/// The addresses known for `host` on mDNS port `port`, kept current by a
/// watch started on the first call (one per name and port, for the process).
fn watch_of(port: u16, host: &str) -> anyhow::Result<watch::Receiver<Vec<IpAddr>>> {
    type Watches = HashMap<(u16, String), watch::Receiver<Vec<IpAddr>>>;
    static WATCHES: Mutex<Option<Watches>> = Mutex::new(None);
    let mut all = WATCHES.lock().unwrap_or_else(|p| p.into_inner());
    let all = all.get_or_insert_with(HashMap::new);
    let key = (port, host.to_ascii_lowercase());
    if let Some(rx) = all.get(&key) {
        return Ok(rx.clone());
    }
    let daemon = ServiceDaemon::new_with_port(port)?;
    let events = daemon.resolve_hostname(&format!("{}.", key.1), None)?;
    let (tx, rx) = watch::channel(Vec::new());
    std::thread::Builder::new()
        .name(format!("mdns {host}"))
        .spawn(move || {
            // Owns the daemon: it asks for as long as the process runs.
            let _daemon = daemon;
            while let Ok(event) = events.recv() {
                match event {
                    HostnameResolutionEvent::AddressesFound(_, found) => {
                        tx.send_modify(|ips| {
                            ips.extend(found.iter().map(|ip| ip.to_ip_addr()).filter(usable));
                            ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
                            ips.dedup();
                        });
                    }
                    // An address withdrawn; the last one is kept, to try
                    // while nothing better is known.
                    HostnameResolutionEvent::AddressesRemoved(_, gone) => {
                        tx.send_modify(|ips| {
                            let keep: Vec<IpAddr> = ips
                                .iter()
                                .copied()
                                .filter(|ip| !gone.iter().any(|g| g.to_ip_addr() == *ip))
                                .collect();
                            if !keep.is_empty() {
                                *ips = keep;
                            }
                        });
                    }
                    _ => {}
                }
            }
        })?;
    all.insert(key, rx.clone());
    Ok(rx)
}

/// IPv6 link-local addresses need their interface, which a URL cannot carry.
fn usable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => !v6.is_unicast_link_local(),
        IpAddr::V4(_) => true,
    }
}
