//! The hybrid logical clock and the business day.
//!
//! Edge boxes often lack a battery-backed clock and may boot offline with the
//! wrong time. Events are ordered by a hybrid logical clock (HLC) that never goes
//! backwards: it follows the wall clock when the wall clock moves forward and
//! counts logically when it does not. The highest HLC ever issued is recovered
//! from the stored events at start, so a clock set back between two runs cannot
//! reorder anything.

use serde::Serialize;
use time::{Date, OffsetDateTime, UtcOffset};

/// 48 bits of milliseconds since the Unix epoch, 16 bits of logical counter,
/// packed in an i64 so it sorts and stores as one integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Hlc(i64);

impl Hlc {
    pub const ZERO: Hlc = Hlc(0);
    pub fn from_parts(millis: i64, logical: u16) -> Hlc {
        Hlc((millis << 16) | logical as i64)
    }
    pub fn from_raw(raw: i64) -> Hlc {
        Hlc(raw.max(0))
    }
    pub fn raw(self) -> i64 {
        self.0
    }
    pub fn millis(self) -> i64 {
        self.0 >> 16
    }
    pub fn logical(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

/// How far ahead of the wall clock a remote timestamp may be and still be
/// followed (5 minutes: more than NTP-kept clocks ever differ, less than a
/// wrong date).
pub const MAX_DRIFT_MS: i64 = 300_000;

/// Issues strictly increasing HLC timestamps.
#[derive(Debug)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// Starts no lower than `floor`, the highest timestamp already stored.
    pub fn new(floor: Hlc) -> Self {
        HlcClock { last: floor }
    }
    /// The next timestamp, given the wall clock now.
    pub fn tick(&mut self, wall_millis: i64) -> Hlc {
        let next = if wall_millis > self.last.millis() {
            Hlc::from_parts(wall_millis, 0)
        } else if self.last.logical() == u16::MAX {
            Hlc::from_parts(self.last.millis() + 1, 0)
        } else {
            Hlc(self.last.0 + 1)
        };
        self.last = next;
        next
    }
    /// Merges a timestamp seen from elsewhere (another node's event, the
    /// cloud's change), so what we issue next sorts after it, unless it is
    /// more than [`MAX_DRIFT_MS`] ahead of our wall clock: a node whose
    /// clock runs days ahead must not drag ours (every later edit of ours
    /// would carry its date). Answers whether it was taken.
    pub fn observe(&mut self, seen: Hlc, wall_millis: i64) -> bool {
        if seen.millis() > wall_millis.saturating_add(MAX_DRIFT_MS) {
            return false;
        }
        if seen > self.last {
            self.last = seen;
        }
        true
    }
    pub fn last(&self) -> Hlc {
        self.last
    }
    /// How far the wall clock is behind the newest timestamp we issued, when it is.
    pub fn wall_behind_millis(&self, wall_millis: i64) -> i64 {
        (self.last.millis() - wall_millis).max(0)
    }
}

/// The trading day a shift belongs to. Fixed when the shift opens and never
/// recomputed from a clock, so a clock change cannot move sales to another day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BusinessDay(Date);

impl Serialize for BusinessDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

/// `YYYY-MM-DD HH:MM` in the store's UTC offset, as a receipt prints it.
pub fn local_minute(unix_millis: i64, utc_offset_minutes: i32) -> String {
    let utc = OffsetDateTime::from_unix_timestamp_nanos(unix_millis as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let offset = UtcOffset::from_whole_seconds(utc_offset_minutes * 60).unwrap_or(UtcOffset::UTC);
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    utc.to_offset(offset).format(&fmt).unwrap_or_default()
}

impl BusinessDay {
    /// The local date at `hlc` in the store's UTC offset.
    pub fn at(hlc: Hlc, utc_offset_minutes: i32) -> BusinessDay {
        let utc = OffsetDateTime::from_unix_timestamp_nanos(hlc.millis() as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let offset =
            UtcOffset::from_whole_seconds(utc_offset_minutes * 60).unwrap_or(UtcOffset::UTC);
        BusinessDay(utc.to_offset(offset).date())
    }
    pub fn parse(s: &str) -> Option<BusinessDay> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(s, &fmt).ok().map(BusinessDay)
    }
    pub fn to_iso(self) -> String {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        self.0.format(&fmt).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_set_backwards_never_moves_the_hlc_backwards() {
        let mut c = HlcClock::new(Hlc::ZERO);
        let a = c.tick(1_000_000);
        // Restart with the stored floor, wall clock one hour behind.
        let mut c = HlcClock::new(a);
        let b = c.tick(1_000_000 - 3_600_000);
        assert!(b > a);
        assert_eq!(b.millis(), a.millis());
        assert_eq!(c.wall_behind_millis(1_000_000 - 3_600_000), 3_600_000);
        let d = c.tick(2_000_000);
        assert!(d > b);
        assert_eq!(d.millis(), 2_000_000);
    }

    #[test]
    fn the_logical_counter_rolls_into_the_next_millisecond() {
        let mut c = HlcClock::new(Hlc::from_parts(5, u16::MAX));
        assert_eq!(c.tick(0), Hlc::from_parts(6, 0));
    }

    #[test]
    fn observing_a_later_remote_time_orders_later_ticks_after_it() {
        let mut c = HlcClock::new(Hlc::ZERO);
        assert!(c.observe(Hlc::from_parts(9_000, 3), 10));
        assert!(c.tick(10) > Hlc::from_parts(9_000, 3));
    }

    #[test]
    fn a_remote_time_beyond_the_drift_bound_is_not_followed() {
        let now = 1_800_000_000_000;
        let mut c = HlcClock::new(Hlc::from_parts(now, 0));
        let day_ahead = Hlc::from_parts(now + 86_400_000, 0);
        assert!(!c.observe(day_ahead, now));
        assert!(c.tick(now + 1) < day_ahead, "our clock stays ours");
        let just_within = Hlc::from_parts(now + MAX_DRIFT_MS, 7);
        assert!(c.observe(just_within, now));
        assert!(c.tick(now + 2) > just_within);
    }

    #[test]
    fn a_receipt_time_is_the_stores_local_minute() {
        // 2026-11-23 23:30 UTC is the 24th at 01:30 in UTC+2.
        let ms = 1_795_476_600_000;
        assert_eq!(local_minute(ms, 0), "2026-11-23 23:30");
        assert_eq!(local_minute(ms, 120), "2026-11-24 01:30");
    }

    #[test]
    fn business_day_uses_the_store_offset() {
        // 2026-11-21 23:30 UTC is already the 22nd in UTC+1.
        let t = Hlc::from_parts(1_795_303_800_000, 0);
        assert_eq!(BusinessDay::at(t, 0).to_iso(), "2026-11-21");
        assert_eq!(BusinessDay::at(t, 60).to_iso(), "2026-11-22");
        assert_eq!(
            BusinessDay::parse("2026-11-22").unwrap().to_iso(),
            "2026-11-22"
        );
    }
}
