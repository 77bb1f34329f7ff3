//! Refused sync credentials, per client address: each is logged (with the
//! store it named and the address) up to a limit per minute, and an address
//! past the limit is refused without a look at the database until its
//! minute is over, so guessing secrets costs the guesser and not the cloud.
//! A credential that was good within the last ten minutes still passes a
//! blocked address (and is checked as usual): a guesser behind the same
//! address as a store (a shared NAT) must not cut the store off.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; older windows are forgotten first.
const MAX_ADDRESSES: usize = 100_000;

/// How long a good credential passes a blocked address.
const VOUCHED: Duration = Duration::from_secs(600);

#[derive(Debug)]
pub struct Refusals {
    per_minute: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// Digests of credentials that were good, and when.
    good: Mutex<HashMap<String, Instant>>,
}

impl Refusals {
    pub fn new(per_minute: u32) -> Refusals {
        Refusals {
            per_minute: per_minute.max(1),
            seen: Mutex::new(HashMap::new()),
            good: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers that the credential with this digest was good now.
    pub fn passed(&self, digest: &str, now: Instant) {
        let mut good = self.good.lock().unwrap_or_else(|p| p.into_inner());
        if good.len() >= MAX_ADDRESSES {
            good.retain(|_, at| now.duration_since(*at) < VOUCHED);
        }
        good.insert(digest.to_owned(), now);
    }

    /// Whether the credential with this digest was good lately.
    pub fn vouched(&self, digest: &str, now: Instant) -> bool {
        let good = self.good.lock().unwrap_or_else(|p| p.into_inner());
        good.get(digest)
            .is_some_and(|at| now.duration_since(*at) < VOUCHED)
    }

    /// Whether `addr` used up its refusals for this minute.
    pub fn blocked(&self, addr: Option<IpAddr>, now: Instant) -> bool {
        let Some(addr) = addr else { return false };
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&addr)
            .is_some_and(|(since, n)| now.duration_since(*since) < WINDOW && *n >= self.per_minute)
    }

    /// Counts one refusal of `addr`; returns whether to log it (the first
    /// `per_minute` of a window are logged, and the one that trips the limit
    /// says so).
    pub fn count(&self, addr: Option<IpAddr>, now: Instant) -> Logging {
        let Some(addr) = addr else {
            return Logging::Log;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_ADDRESSES {
            seen.retain(|_, (since, _)| now.duration_since(*since) < WINDOW);
        }
        let e = seen.entry(addr).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        match e.1.cmp(&self.per_minute) {
            std::cmp::Ordering::Less => Logging::Log,
            std::cmp::Ordering::Equal => Logging::LimitReached,
            std::cmp::Ordering::Greater => Logging::Quiet,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logging {
    Log,
    LimitReached,
    Quiet,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_refusals_for_the_minute_and_free_again_after_it() {
        let r = Refusals::new(3);
        let a = Some("203.0.113.7".parse().unwrap());
        let b = Some("203.0.113.8".parse().unwrap());
        let t0 = Instant::now();
        assert_eq!(r.count(a, t0), Logging::Log);
        assert_eq!(r.count(a, t0), Logging::Log);
        assert!(!r.blocked(a, t0));
        assert_eq!(r.count(a, t0), Logging::LimitReached);
        assert!(r.blocked(a, t0));
        assert_eq!(r.count(a, t0), Logging::Quiet);
        assert!(!r.blocked(b, t0), "another address is not held for it");
        assert!(!r.blocked(a, t0 + WINDOW), "a new minute starts afresh");
        assert_eq!(r.count(a, t0 + WINDOW), Logging::Log);
    }

    #[test]
    fn a_credential_good_lately_is_vouched_for_ten_minutes() {
        let r = Refusals::new(3);
        let t0 = Instant::now();
        assert!(!r.vouched("d1", t0));
        r.passed("d1", t0);
        assert!(r.vouched("d1", t0 + Duration::from_secs(599)));
        assert!(!r.vouched("d1", t0 + VOUCHED), "not for ever");
        assert!(!r.vouched("d2", t0), "only that credential");
    }
}
