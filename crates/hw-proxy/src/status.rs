//! Printer status by ESC/POS real-time requests (DLE EOT n): the printer
//! answers each with one byte, even mid-job.

use serde::Serialize;

/// DLE EOT 1 (printer), 2 (offline cause), 3 (error cause), 4 (paper sensor).
pub const QUERY: [u8; 12] = [0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 3, 0x10, 0x04, 4];

/// Bits that are always 0x12 in every answer.
const FIXED: u8 = 0x12;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    pub offline: bool,
    pub cover_open: bool,
    pub paper_out: bool,
    pub paper_near_end: bool,
    pub cutter_error: bool,
    pub unrecoverable: bool,
}

impl Status {
    /// Reads the four answers to [`QUERY`]; `None` if they are not status
    /// bytes (something else answers on that port).
    pub fn parse(b: [u8; 4]) -> Option<Status> {
        if b.iter().any(|x| x & 0x93 != FIXED) {
            return None;
        }
        Some(Status {
            offline: b[0] & 0x08 != 0,
            cover_open: b[1] & 0x04 != 0,
            paper_out: b[1] & 0x20 != 0 || b[3] & 0x60 != 0,
            paper_near_end: b[3] & 0x0c != 0,
            cutter_error: b[2] & 0x08 != 0,
            unrecoverable: b[2] & 0x20 != 0,
        })
    }

    /// The answers a printer in this state gives (the virtual printer's).
    pub fn bytes(&self) -> [u8; 4] {
        let offline = self.offline || self.cover_open || self.paper_out || self.cutter_error;
        [
            FIXED | if offline { 0x08 } else { 0 },
            FIXED
                | if self.cover_open { 0x04 } else { 0 }
                | if self.paper_out { 0x20 } else { 0 }
                | if self.cutter_error || self.unrecoverable {
                    0x40
                } else {
                    0
                },
            FIXED
                | if self.cutter_error { 0x08 } else { 0 }
                | if self.unrecoverable { 0x20 } else { 0 },
            FIXED
                | if self.paper_near_end { 0x0c } else { 0 }
                | if self.paper_out { 0x60 } else { 0 },
        ]
    }

    /// Why the printer cannot print now, in words for the register.
    pub fn problem(&self) -> Option<&'static str> {
        if self.paper_out {
            Some("out of paper")
        } else if self.cover_open {
            Some("cover open")
        } else if self.cutter_error {
            Some("cutter jammed")
        } else if self.unrecoverable {
            Some("printer error: switch it off and on")
        } else if self.offline {
            Some("offline")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_condition_survives_its_status_bytes() {
        let cases = [
            Status::default(),
            Status {
                paper_out: true,
                ..Status::default()
            },
            Status {
                cover_open: true,
                ..Status::default()
            },
            Status {
                paper_near_end: true,
                ..Status::default()
            },
            Status {
                cutter_error: true,
                ..Status::default()
            },
        ];
        for s in cases {
            let back = Status::parse(s.bytes()).unwrap();
            assert_eq!(back.problem(), s.problem(), "{s:?}");
            assert_eq!(back.paper_near_end, s.paper_near_end);
        }
        assert_eq!(
            Status::parse(Status::default().bytes()).unwrap(),
            Status::default()
        );
        assert!(Status::parse(*b"HTTP").is_none(), "not a printer");
    }
}
