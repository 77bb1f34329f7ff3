//! Getting bytes to a printer: raw TCP (port 9100) or a device file (a USB
//! or serial printer), each step under its own timeout.

use crate::status::{QUERY, Status};
pub use outpost_receipt::printer::Address;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
