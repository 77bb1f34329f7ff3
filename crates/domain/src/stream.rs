//! The streams a store's events are ordered in: the one list every tier
//! names them from (the outbox, the sync link's priority, the streams the
//! cloud accepts, the channels screens subscribe to).

use std::fmt;
use std::str::FromStr;

/// One of a store's event streams. Events are ordered per stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Sales,
    Stock,
    Kitchen,
    Shifts,
    Master,
    Audit,
}

impl Stream {
    /// Every stream, in the order the sync link sends them: orders and
    /// payments first.
    pub const ALL: [Stream; 6] = [
        Stream::Sales,
        Stream::Stock,
        Stream::Kitchen,
        Stream::Shifts,
        Stream::Master,
        Stream::Audit,
    ];

    /// [`Stream::ALL`] by name.
    pub const NAMES: [&'static str; 6] = [
        Stream::Sales.as_str(),
        Stream::Stock.as_str(),
        Stream::Kitchen.as_str(),
        Stream::Shifts.as_str(),
        Stream::Master.as_str(),
        Stream::Audit.as_str(),
    ];

    /// The streams screens may follow live, by name: all but the audit
    /// trail, which displays have no business reading.
    pub const LIVE: [&'static str; 5] = [
        Stream::Sales.as_str(),
        Stream::Stock.as_str(),
        Stream::Kitchen.as_str(),
        Stream::Shifts.as_str(),
        Stream::Master.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Stream::Sales => "sales",
            Stream::Stock => "stock",
            Stream::Kitchen => "kitchen",
            Stream::Shifts => "shifts",
            Stream::Master => "master",
            Stream::Audit => "audit",
        }
    }

    /// Whether screens may follow it (see [`Stream::LIVE`]).
    pub const fn is_live(self) -> bool {
        !matches!(self, Stream::Audit)
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Stream::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stream {0:?}")]
pub struct UnknownStream(pub String);

impl FromStr for Stream {
    type Err = UnknownStream;

    fn from_str(s: &str) -> Result<Stream, UnknownStream> {
        Stream::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownStream(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_parses_from_its_name_and_only_audit_is_not_live() {
        for (s, name) in Stream::ALL.into_iter().zip(Stream::NAMES) {
            assert_eq!(s.as_str(), name);
            assert_eq!(name.parse::<Stream>(), Ok(s));
            assert_eq!(Stream::LIVE.contains(&name), s.is_live());
        }
        assert_eq!(
            Stream::LIVE.len(),
            Stream::ALL.iter().filter(|s| s.is_live()).count()
        );
        assert!("Sales".parse::<Stream>().is_err());
    }
}
