//! Where a printer the edge defines may be. hw-proxy's own settings file is
//! the operator's and trusted; a printer sent by the edge (set on the
//! manager page) is checked against a [`Reach`], by the edge before it is
//! stored and by hw-proxy before it opens anything. Without it, a manager's
//! session could point hw-proxy at Redis or PostgreSQL on the compose
//! network, or have it write to any file.

use crate::printer::Address;
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::Component;

/// The private networks: a compose network is private too, but none of
/// its services listens on a printer port.
pub const NETWORKS: &str =
    "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, fc00::/7, fe80::/10";
/// The raw-printing ports.
pub const PORTS: &str = "9100-9103";
/// Printer device files: USB and parallel printers, serial ports.
pub const DEVICES: &str = "/dev/usb/lp, /dev/lp, /dev/ttyUSB, /dev/ttyACM, /dev/ttyS";

/// What an edge-defined printer may reach: an IP address (never a name,
/// which could resolve to anything) in one of its networks on one of its
/// ports, or a device file under one of its path prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    networks: Vec<IpNet>,
    ports: Vec<(u16, u16)>,
    devices: Vec<String>,
}

impl Default for Reach {
    fn default() -> Reach {
        Reach::parse(NETWORKS, PORTS, DEVICES).expect("the default reach parses")
    }
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

impl Reach {
    /// From settings: CIDR blocks, ports and port ranges (`9100-9103`), and
    /// device path prefixes, each comma-separated; `Err` names what does
    /// not parse.
    pub fn parse(networks: &str, ports: &str, devices: &str) -> Result<Reach, String> {
        let networks = list(networks)
            .map(|n| {
                n.parse::<IpNet>().map_err(|_| {
                    format!("printer network {n:?} is not a CIDR block such as 192.168.1.0/24")
                })
            })
            .collect::<Result<_, _>>()?;
        let ports = list(ports)
            .map(|p| {
                let (a, b) = p.split_once('-').unwrap_or((p, p));
                match (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                    (Ok(a), Ok(b)) if a <= b => Ok((a, b)),
                    _ => Err(format!(
                        "printer port {p:?} is not a port or a range such as 9100-9103"
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        let devices = list(devices)
            .map(|d| {
                if d.starts_with("/dev/") {
                    Ok(d.to_owned())
                } else {
                    Err(format!("printer device {d:?} is not under /dev/"))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Reach {
            networks,
            ports,
            devices,
        })
    }

    /// Whether a printer at `a` may be driven; `Err` says why not and what
    /// is allowed.
    pub fn allows(&self, a: &Address) -> Result<(), String> {
        match a {
            Address::Tcp(host_port) => {
                let (host, port) = host_port
                    .rsplit_once(':')
                    .ok_or_else(|| "expected tcp://host:port".to_owned())?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let ip: IpAddr = host.parse().map_err(|_| {
                    format!("{host:?} is a name: give the printer's IP address (a name could lead anywhere)")
                })?;
                let port: u16 = port
                    .parse()
                    .map_err(|_| "expected tcp://host:port".to_owned())?;
                if !self.networks.iter().any(|n| n.contains(&ip)) {
                    let nets: Vec<String> = self.networks.iter().map(|n| n.to_string()).collect();
                    return Err(format!(
                        "{ip} is outside the printer networks ({})",
                        nets.join(", ")
                    ));
                }
                if !self.ports.iter().any(|(a, b)| (*a..=*b).contains(&port)) {
                    let ports: Vec<String> =
                        self.ports.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                    return Err(format!(
                        "port {port} is not a printer port ({})",
                        ports.join(", ")
                    ));
                }
                Ok(())
            }
            Address::Device(path) => {
                let plain = path
                    .components()
                    .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
                let text = path.to_string_lossy();
                if plain && self.devices.iter().any(|d| text.starts_with(d.as_str())) {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is not a printer device ({})",
                        path.display(),
                        self.devices.join(", ")
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Reach;
    use crate::printer::Address;

    fn allowed(r: &Reach, a: &str) -> Result<(), String> {
        r.allows(&Address::parse(a).unwrap())
    }

    #[test]
    fn the_default_reach_takes_printers_on_the_lan_and_nothing_else() {
        let r = Reach::default();
        for ok in [
            "tcp://192.168.1.50:9100",
            "tcp://10.0.0.21:9101",
            "tcp://[fe80::1]:9100",
            "file:///dev/usb/lp0",
            "file:///dev/ttyUSB1",
        ] {
            assert_eq!(allowed(&r, ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("tcp://redis:6379", "is a name"),
            ("tcp://printer.local:9100", "is a name"),
            ("tcp://172.18.0.3:6379", "port 6379"),
            ("tcp://172.18.0.4:5432", "port 5432"),
            ("tcp://127.0.0.1:9100", "outside"),
            ("tcp://8.8.8.8:9100", "outside"),
            ("tcp://[::1]:9100", "outside"),
            ("file:///etc/passwd", "not a printer device"),
            (
                "file:///dev/usb/lp0/../../etc/shadow",
                "not a printer device",
            ),
            ("file:///var/lib/outpost/hw.sqlite", "not a printer device"),
        ] {
            let e = allowed(&r, bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_reach_from_settings_names_what_does_not_parse() {
        let r = Reach::parse("127.0.0.0/8", "9100, 40000-40100", "/dev/usb/lp").unwrap();
        assert_eq!(allowed(&r, "tcp://127.0.0.1:40050"), Ok(()));
        assert!(allowed(&r, "tcp://127.0.0.1:40101").is_err());
        for (n, p, d, says) in [
            ("the lan", "9100", "/dev/lp", "the lan"),
            ("10.0.0.0/8", "9100-", "/dev/lp", "9100-"),
            ("10.0.0.0/8", "9103-9100", "/dev/lp", "9103-9100"),
            ("10.0.0.0/8", "9100", "/etc/", "/etc/"),
        ] {
            let e = Reach::parse(n, p, d).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
