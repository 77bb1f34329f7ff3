//! The edge announcing itself on the store's LAN by name (mDNS, RFC 6762):
//! `outpost-edge.local` (`mdns.name`) answers with this host's addresses,
//! and the service `_outpost-edge._tcp` names the TLS port register agents
//! use. A till paired by that name finds the edge again when its address
//! changes (`outpost_register`'s resolver). mdns-sd does both sides in
//! pure Rust on a thread of its own, with no system daemon (Avahi) needed.

use crate::settings::Mdns;
use mdns_sd::{ServiceDaemon, ServiceInfo};

/// The DNS-SD service type the edge's agent link is announced under.
pub const SERVICE: &str = "_outpost-edge._tcp.local.";

/// Announces while it lives; says goodbye when dropped.
pub struct Announcer {
    daemon: ServiceDaemon,
}

/// Announces `<mdns.name>.local` with this host's addresses (kept current
/// as they change) and the agents' TLS port `port`.
pub fn announce(cfg: &Mdns, port: u16) -> std::io::Result<Announcer> {
    let host = format!("{}.", cfg.host());
    let failed =
        |e: mdns_sd::Error| std::io::Error::other(format!("announcing {host} over mDNS: {e}"));
    let daemon = ServiceDaemon::new_with_port(cfg.port).map_err(failed)?;
    let info = ServiceInfo::new(SERVICE, &cfg.name, &host, "", port, None)
        .map_err(failed)?
        .enable_addr_auto();
    daemon.register(info).map_err(failed)?;
    Ok(Announcer { daemon })
}

impl Drop for Announcer {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}
