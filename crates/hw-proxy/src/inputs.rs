//! Serial input devices: barcode scanners and scales, read here and pushed
//! to the register page as server-sent events (`GET /api/v1/inputs/events`).
//! Keyboard-wedge scanners need none of this: they type into the page.
//!
//! - `scanner`: one code per line (CR, LF or both), as serial scanners send
//!   by default.
//! - `scale_continuous`: the continuous output many scales stream (CAS, A&D
//!   and their clones): `ST,GS,+  1.234kg` — a header `ST` (stable), `US`
//!   (unstable) or `OL` (overload), optionally `GS`/`NT`/`TR`, then the
//!   signed weight and its unit (kg, g, lb, oz).
//! - `scale_toledo`: Mettler Toledo's 8217 request-reply protocol, which most
//!   POS scanner-scales speak: we send `W`, the scale answers
//!   `STX weight CR` (e.g. `\x0201.234\r`, kilograms), or `STX ? status CR`
//!   when it has no valid weight (bit 0: in motion, bit 1: over capacity,
//!   bit 2: under zero).
//!
//! A device that goes away (unplugged, the port closed) is reported
//! disconnected and reopened with backoff. Weights are integer grams (the
//! thousandths of a kilogram the sales domain uses for weighed goods), sent
//! only when they change.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    pub id: String,
    pub kind: InputKind,
    /// The device file: /dev/ttyUSB0, /dev/ttyS0, /dev/serial/by-id/…
    pub device: String,
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// How often a request-reply scale is asked for its weight.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

fn default_baud() -> u32 {
    9600
}

fn default_poll_ms() -> u64 {
    250
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Scanner,
    ScaleContinuous,
    ScaleToledo,
}

impl InputConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.device.is_empty() {
            return Err(format!("input {:?}: no device file", self.id));
        }
        if !(300..=921_600).contains(&self.baud) {
            return Err(format!(
                "input {:?}: baud {} is not 300–921600",
                self.id, self.baud
            ));
        }
        if !(50..=10_000).contains(&self.poll_ms) {
            return Err(format!(
                "input {:?}: poll_ms {} is not 50–10000",
                self.id, self.poll_ms
            ));
        }
        Ok(())
    }
}

/// What the register page receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputEvent {
    Scan {
        device: String,
        code: String,
    },
    Weight {
        device: String,
        /// None when the scale has no valid weight (overload, under zero).
        grams: Option<i64>,
        stable: bool,
    },
    Device {
        device: String,
        kind: InputKind,
        connected: bool,
        error: Option<String>,
    },
}

/// A scale's reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub grams: Option<i64>,
    pub stable: bool,
}

#[derive(Debug, Clone)]
struct DeviceState {
    kind: InputKind,
    connected: bool,
    error: Option<String>,
    reading: Option<Reading>,
}

/// The devices' states and the stream of their events.
#[derive(Clone)]
pub struct Inputs {
    tx: broadcast::Sender<InputEvent>,
    state: Arc<Mutex<BTreeMap<String, DeviceState>>>,
}

impl Inputs {
    pub fn new(configs: &[InputConfig]) -> Inputs {
        let state = configs
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    DeviceState {
                        kind: c.kind,
                        connected: false,
                        error: Some("not opened yet".into()),
                        reading: None,
                    },
                )
            })
            .collect();
        Inputs {
            tx: broadcast::channel(256).0,
            state: Arc::new(Mutex::new(state)),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<InputEvent> {
        self.tx.subscribe()
    }

    /// The current state as events: what a page just connected needs first.
    pub fn snapshot(&self) -> Vec<InputEvent> {
        let state = self.state.lock().expect("inputs lock");
        let mut out = Vec::new();
        for (id, s) in state.iter() {
            out.push(InputEvent::Device {
                device: id.clone(),
                kind: s.kind,
                connected: s.connected,
                error: s.error.clone(),
            });
            if let Some(r) = s.reading {
                out.push(InputEvent::Weight {
                    device: id.clone(),
                    grams: r.grams,
                    stable: r.stable,
                });
            }
        }
        out
    }

    fn connected(&self, id: &str, error: Option<String>) {
        let event = {
            let mut state = self.state.lock().expect("inputs lock");
            let Some(s) = state.get_mut(id) else { return };
            let connected = error.is_none();
            if s.connected == connected && s.error == error {
                return;
            }
            s.connected = connected;
            s.error = error.clone();
            if !connected {
                s.reading = None;
            }
            InputEvent::Device {
                device: id.to_owned(),
                kind: s.kind,
                connected,
                error,
            }
        };
        let _ = self.tx.send(event);
    }

    fn scanned(&self, id: &str, code: String) {
        let _ = self.tx.send(InputEvent::Scan {
            device: id.to_owned(),
            code,
        });
    }

    fn weighed(&self, id: &str, r: Reading) {
        {
            let mut state = self.state.lock().expect("inputs lock");
            let Some(s) = state.get_mut(id) else { return };
            if s.reading == Some(r) {
                return;
            }
            s.reading = Some(r);
        }
        let _ = self.tx.send(InputEvent::Weight {
            device: id.to_owned(),
            grams: r.grams,
            stable: r.stable,
        });
    }

    /// Opens each device and reads it for as long as the process runs.
    pub fn spawn(&self, configs: Vec<InputConfig>) {
        for c in configs {
            tokio::spawn(self.clone().run(c));
        }
    }

    async fn run(self, c: InputConfig) {
        let mut backoff = Duration::from_millis(250);
        loop {
            let error = match serial2_tokio::SerialPort::open(&c.device, c.baud) {
                Ok(port) => {
                    self.connected(&c.id, None);
                    tracing::info!(input = %c.id, device = %c.device, "input device open");
                    backoff = Duration::from_millis(250);
                    match c.kind {
                        InputKind::Scanner => self.read_lines(&c, port, true).await,
                        InputKind::ScaleContinuous => self.read_lines(&c, port, false).await,
                        InputKind::ScaleToledo => self.poll_toledo(&c, port).await,
                    }
                }
                Err(e) => e,
            };
            tracing::warn!(input = %c.id, device = %c.device, error = %error, "input device unavailable");
            self.connected(&c.id, Some(format!("{}: {error}", c.device)));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Reads lines until the device fails; returns why.
    async fn read_lines(
        &self,
        c: &InputConfig,
        port: serial2_tokio::SerialPort,
        scanner: bool,
    ) -> std::io::Error {
        let mut lines = LineBuffer::default();
        let mut buf = [0u8; 512];
        loop {
            let n = match port.read(&mut buf).await {
                Ok(0) => return std::io::Error::other("the device closed"),
                Ok(n) => n,
                Err(e) => return e,
            };
            for line in lines.push(&buf[..n]) {
                if scanner {
                    self.scanned(&c.id, line);
                } else if let Some(r) = parse_continuous(&line) {
                    self.weighed(&c.id, r);
                }
            }
        }
    }

    /// Asks a Toledo 8217 scale for its weight every `poll_ms`.
    async fn poll_toledo(
        &self,
        c: &InputConfig,
        port: serial2_tokio::SerialPort,
    ) -> std::io::Error {
        let mut tick = tokio::time::interval(Duration::from_millis(c.poll_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut silent = 0;
        loop {
            tick.tick().await;
            if let Err(e) = port.write_all(b"W").await {
                return e;
            }
            let reply = tokio::time::timeout(Duration::from_millis(1000), async {
                let mut reply = Vec::new();
                let mut b = [0u8; 1];
                loop {
                    if port.read(&mut b).await? == 0 {
                        return Err(std::io::Error::other("the device closed"));
                    }
                    if b[0] == b'\r' && reply.first() == Some(&0x02) {
                        return Ok(reply);
                    }
                    if b[0] == 0x02 {
                        reply.clear();
                    }
                    if reply.len() < 32 {
                        reply.push(b[0]);
                    }
                }
            })
            .await;
            match reply {
                Ok(Ok(reply)) => {
                    silent = 0;
                    if let Some(r) = parse_toledo(&reply[1..]) {
                        self.weighed(&c.id, r);
                    }
                }
                Ok(Err(e)) => return e,
                // Three unanswered requests in a row: the scale is off or
                // unplugged behind a converter that keeps the port open.
                Err(_) => {
                    silent += 1;
                    if silent >= 3 {
                        return std::io::Error::other("the scale does not answer");
                    }
                }
            }
        }
    }
}

/// Splits a byte stream into trimmed, non-empty text lines (CR, LF or
/// both). Bytes that are not printable ASCII are dropped; a line longer than
/// 256 bytes is line noise and discarded.
#[derive(Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    overflow: bool,
}

impl LineBuffer {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\r' || b == b'\n' {
                let line = String::from_utf8_lossy(&self.buf).trim().to_owned();
                if !line.is_empty() && !self.overflow {
                    out.push(line);
                }
                self.buf.clear();
                self.overflow = false;
            } else if (0x20..0x7f).contains(&b) {
                if self.buf.len() < 256 {
                    self.buf.push(b);
                } else {
                    self.overflow = true;
                }
            }
        }
        out
    }
}

/// A continuous-output line: `ST,GS,+  1.234kg`, `US,NT,-0.005 kg`,
/// `ST,+00123.45  g`, `OL,GS,+  .    kg`. None for a line that is not one.
pub fn parse_continuous(line: &str) -> Option<Reading> {
    let mut fields = line.split(',').map(str::trim);
    let stable = match fields.next()? {
        "ST" => true,
        "US" => false,
        "OL" => {
            return Some(Reading {
                grams: None,
                stable: false,
            });
        }
        _ => return None,
    };
    let mut value = fields.next()?;
    if matches!(value, "GS" | "NT" | "TR" | "G" | "N") {
        value = fields.next()?;
    }
    let value: String = value.chars().filter(|c| *c != ' ').collect();
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    Some(Reading {
        grams: Some(grams(number, if unit.is_empty() { "kg" } else { unit })?),
        stable,
    })
}

/// A Toledo 8217 reply without its STX and CR: `01.234` (kg) or `?` and a
/// status byte.
pub fn parse_toledo(reply: &[u8]) -> Option<Reading> {
    match reply {
        [b'?', status, ..] => Some(Reading {
            grams: None,
            stable: status & 0x01 == 0 && status & 0x06 == 0,
        }),
        _ => Some(Reading {
            grams: Some(grams(std::str::from_utf8(reply).ok()?.trim(), "kg")?),
            stable: true,
        }),
    }
}

/// A decimal weight in `unit`, to whole grams (half away from zero).
pub fn grams(number: &str, unit: &str) -> Option<i64> {
    let micrograms_per_unit: i128 = match unit.to_ascii_lowercase().as_str() {
        "kg" => 1_000_000_000,
        "g" => 1_000_000,
        "lb" => 453_592_370,
        "oz" => 28_349_523,
        _ => return None,
    };
    let (neg, digits) = match number.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
        || whole.len() + frac.len() > 12
    {
        return None;
    }
    let mantissa: i128 = format!("{whole}{frac}").parse().ok()?;
    let scale = 10i128.pow(frac.len() as u32);
    let ug = mantissa * micrograms_per_unit / scale;
    let g = (ug + 500_000) / 1_000_000;
    Some(if neg { -(g as i64) } else { g as i64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_cr_lf_and_drop_noise() {
        let mut b = LineBuffer::default();
        assert!(b.push(b"40063813").is_empty());
        assert_eq!(
            b.push(b"33931\r\n\r\n5901234\x00123457\n"),
            vec!["4006381333931", "5901234123457"]
        );
        let long = vec![b'1'; 300];
        assert!(b.push(&long).is_empty());
        assert!(b.push(b"\r").is_empty(), "an overlong line is noise");
        assert_eq!(b.push(b"123\r"), vec!["123"]);
    }

    #[test]
    fn continuous_lines_in_every_unit() {
        let r = |grams, stable| Some(Reading { grams, stable });
        assert_eq!(parse_continuous("ST,GS,+  1.234kg"), r(Some(1234), true));
        assert_eq!(parse_continuous("US,NT,-0.005 kg"), r(Some(-5), false));
        assert_eq!(parse_continuous("ST,+00123.45  g"), r(Some(123), true));
        assert_eq!(parse_continuous("ST,GS,   2.50 lb"), r(Some(1134), true));
        assert_eq!(parse_continuous("ST,GS, 10.0oz"), r(Some(283), true));
        assert_eq!(parse_continuous("OL,GS,+  .    kg"), r(None, false));
        assert_eq!(parse_continuous("ST,GS,+  1.234t"), None);
        assert_eq!(parse_continuous("hello"), None);
        assert_eq!(parse_continuous("ST,GS,+ 1.2.3kg"), None);
    }

    #[test]
    fn toledo_replies() {
        assert_eq!(
            parse_toledo(b"01.234"),
            Some(Reading {
                grams: Some(1234),
                stable: true
            })
        );
        assert_eq!(
            parse_toledo(b"?\x21"),
            Some(Reading {
                grams: None,
                stable: false
            }),
            "in motion"
        );
        assert_eq!(parse_toledo(b"ab"), None);
    }

    #[test]
    fn grams_round_half_away_from_zero() {
        assert_eq!(grams("0.0005", "kg"), Some(1));
        assert_eq!(grams("-0.0005", "kg"), Some(-1));
        assert_eq!(grams("0.0004", "kg"), Some(0));
        assert_eq!(grams("", "kg"), None);
        assert_eq!(grams("1e3", "kg"), None);
        assert_eq!(grams("9999999999999", "kg"), None);
    }
}
