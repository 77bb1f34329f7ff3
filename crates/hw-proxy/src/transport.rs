//! Getting bytes to a printer: raw TCP (port 9100) or a device file (a USB
//! or serial printer), each step under its own timeout.

use crate::status::{QUERY, Status};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where a printer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `tcp://host:port`
    Tcp(String),
    /// `file:///dev/usb/lp0`: no status can be read back.
    Device(PathBuf),
}

impl Address {
    pub fn parse(s: &str) -> Result<Address, String> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            if rest
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(format!("{s:?}: expected tcp://host:port"));
            }
            Ok(Address::Tcp(rest.to_owned()))
        } else if let Some(rest) = s.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(format!("{s:?}: expected file:///absolute/path"));
            }
            Ok(Address::Device(PathBuf::from(rest)))
        } else {
            Err(format!(
                "{s:?}: a printer address is tcp://host:port or file:///dev/…"
            ))
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp(a) => write!(f, "tcp://{a}"),
            Address::Device(p) => write!(f, "file://{}", p.display()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub write: Duration,
    pub status: Duration,
}

/// Why nothing could be done.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("no status answer within {0:?}")]
    Silent(Duration),
    #[error("{0}")]
    Broken(String),
}

/// An open connection to one printer.
pub enum Link {
    Tcp(tokio::net::TcpStream),
    Device(tokio::fs::File),
}

impl Link {
    pub async fn open(addr: &Address, t: &Timeouts) -> Result<Link, LinkError> {
        match addr {
            Address::Tcp(a) => {
                let s = tokio::time::timeout(t.connect, tokio::net::TcpStream::connect(a))
                    .await
                    .map_err(|_| {
                        LinkError::Unreachable(format!("no answer from {a} within {:?}", t.connect))
                    })?
                    .map_err(|e| LinkError::Unreachable(format!("{a}: {e}")))?;
                let _ = s.set_nodelay(true);
                Ok(Link::Tcp(s))
            }
            Address::Device(p) => {
                let f = tokio::time::timeout(
                    t.connect,
                    tokio::fs::OpenOptions::new().write(true).open(p),
                )
                .await
                .map_err(|_| LinkError::Unreachable(format!("{} did not open", p.display())))?
                .map_err(|e| LinkError::Unreachable(format!("{}: {e}", p.display())))?;
                Ok(Link::Device(f))
            }
        }
    }

    /// The printer's status; `None` for a device file, which cannot tell.
    pub async fn status(&mut self, t: &Timeouts) -> Result<Option<Status>, LinkError> {
        let Link::Tcp(s) = self else { return Ok(None) };
        let ask = async {
            s.write_all(&QUERY).await?;
            let mut b = [0u8; 4];
            s.read_exact(&mut b).await?;
            Ok::<_, std::io::Error>(b)
        };
        let b = tokio::time::timeout(t.status, ask)
            .await
            .map_err(|_| LinkError::Silent(t.status))?
            .map_err(|e| match e.kind() {
                // Before any job byte: the printer went away, nothing broke.
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe => {
                    LinkError::Unreachable(format!("the printer dropped the connection: {e}"))
                }
                _ => LinkError::Broken(format!("status request: {e}")),
            })?;
        Status::parse(b)
            .map(Some)
            .ok_or_else(|| LinkError::Broken(format!("not a printer's status answer: {b:02x?}")))
    }

    /// Writes every byte or says how it failed.
    pub async fn write(&mut self, bytes: &[u8], t: &Timeouts) -> Result<(), LinkError> {
        let w = async {
            match self {
                Link::Tcp(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Link::Device(f) => {
                    f.write_all(bytes).await?;
                    f.sync_data().await
                }
            }
        };
        tokio::time::timeout(t.write, w)
            .await
            .map_err(|_| LinkError::Broken(format!("write did not finish within {:?}", t.write)))?
            .map_err(|e| LinkError::Broken(format!("write: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_say_what_is_expected() {
        assert_eq!(
            Address::parse("tcp://10.0.0.5:9100").unwrap(),
            Address::Tcp("10.0.0.5:9100".into())
        );
        assert_eq!(
            Address::parse("file:///dev/usb/lp0").unwrap(),
            Address::Device("/dev/usb/lp0".into())
        );
        for bad in [
            "10.0.0.5:9100",
            "tcp://host",
            "tcp://:9100",
            "file://rel",
            "usb://x",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }
}
