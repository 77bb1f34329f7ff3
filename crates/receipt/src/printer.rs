//! A printer's settings and the one check of them: its id, address, paper
//! width, code pages and logo, as hw-proxy drives it. The edge runs the
//! same check before it stores a printer, so a printer it accepts is one
//! hw-proxy will take.

use crate::document::{CodePage, Profile};
use crate::raster::{self, LogoError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    pub id: String,
    pub address: String,
    #[serde(default = "default_width")]
    pub width: usize,
    #[serde(default)]
    pub code_pages: Vec<CodePage>,
    #[serde(default)]
    pub fallback: Option<String>,
}

fn default_width() -> usize {
    48
}

/// Where a printer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `tcp://host:port`
    Tcp(String),
    /// `file:///dev/usb/lp0`: no status can be read back.
    Device(PathBuf),
}

/// Why a printer's settings are refused; each names what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrinterError {
    #[error("{what} id {id:?}: use 1 to 64 letters, digits, - and _")]
    Id { what: &'static str, id: String },
    #[error("printer {id:?}: width {width} is not 16–96 characters")]
    Width { id: String, width: usize },
    #[error("printer {id:?}: {address:?}: {expected}")]
    Address {
        id: String,
        address: String,
        expected: &'static str,
    },
    #[error(
        "printer {id:?}: code page {name:?} is not one of CP437, CP737, CP850, CP852, CP858, CP866"
    )]
    CodePage { id: String, name: String },
    #[error("printer {id:?}: {source}")]
    Logo { id: String, source: LogoError },
}

impl Address {
    /// `Err` is what was expected instead.
    pub fn parse(s: &str) -> Result<Address, &'static str> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            if rest
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err("expected tcp://host:port");
            }
            Ok(Address::Tcp(rest.to_owned()))
        } else if let Some(rest) = s.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err("expected file:///absolute/path");
            }
            Ok(Address::Device(PathBuf::from(rest)))
        } else {
            Err("a printer address is tcp://host:port or file:///dev/…")
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

/// Printer and input ids: letters, digits, - and _ (they appear in URLs,
/// metrics labels and file names).
pub fn check_id(what: &'static str, id: &str) -> Result<(), PrinterError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(PrinterError::Id {
            what,
            id: id.to_owned(),
        });
    }
    Ok(())
}

impl PrinterConfig {
    /// Its id, width and address checked; the address parsed.
    pub fn check(&self) -> Result<Address, PrinterError> {
        check_id("printer", &self.id)?;
        if !(16..=96).contains(&self.width) {
            return Err(PrinterError::Width {
                id: self.id.clone(),
                width: self.width,
            });
        }
        Address::parse(&self.address).map_err(|expected| PrinterError::Address {
            id: self.id.clone(),
            address: self.address.clone(),
            expected,
        })
    }

    /// The printer as documents are laid out for it (its settings checked
    /// first): paper width, code pages (the default list when none are
    /// named) and the logo from `logo_png` (none when empty).
    pub fn profile(&self, logo_png: &[u8]) -> Result<Profile, PrinterError> {
        self.check()?;
        let logo = if logo_png.is_empty() {
            None
        } else {
            let dots = self.width * raster::CELL_W;
            Some(std::sync::Arc::new(raster::logo(logo_png, dots).map_err(
                |source| PrinterError::Logo {
                    id: self.id.clone(),
                    source,
                },
            )?))
        };
        Ok(Profile {
            width: self.width,
            code_pages: if self.code_pages.is_empty() {
                Profile::default().code_pages
            } else {
                self.code_pages.clone()
            },
            logo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(address: &str, width: usize) -> PrinterConfig {
        PrinterConfig {
            id: "front".into(),
            address: address.into(),
            width,
            code_pages: Vec::new(),
            fallback: None,
        }
    }

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

    #[test]
    fn a_printer_is_refused_by_what_is_wrong_with_it() {
        assert!(printer("tcp://h:9100", 48).profile(&[]).is_ok());
        assert!(matches!(
            printer("tcp://h:9100", 8).check(),
            Err(PrinterError::Width { width: 8, .. })
        ));
        let e = printer("10.0.0.1", 48).check().unwrap_err();
        assert!(e.to_string().contains("tcp://host:port"), "{e}");
        let mut bad_id = printer("tcp://h:9100", 48);
        bad_id.id = "a b".into();
        assert!(matches!(bad_id.check(), Err(PrinterError::Id { .. })));
        assert!(matches!(
            printer("tcp://h:9100", 48).profile(b"GIF89a"),
            Err(PrinterError::Logo {
                source: LogoError::NotPng(_),
                ..
            })
        ));
    }
}
