//! Durations in `berth.yaml`: Go/Kubernetes syntax (`500ms`, `20s`, `1m30s`), parsed and printed
//! by the same functions berth-sidecar uses for its environment, so both sides agree.

use std::fmt;
use std::ops::Add;

use berth_sidecar::contract::{format_duration, parse_duration};
use serde::{Serialize, Serializer};

pub use berth_sidecar::contract::DurationError;

/// A non-negative duration that prints in Go syntax (`Display`) and serializes as that string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    /// Whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// Milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }

    /// Parses `500ms`, `20s`, `1m30s`, ...
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        parse_duration(text).map(Duration)
    }

    /// The standard library value.
    pub const fn std(self) -> std::time::Duration {
        self.0
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Seconds, rounded up (a 1.2s budget becomes 2s, never 1s).
    pub fn as_secs_ceil(self) -> u64 {
        let secs = self.0.as_secs();
        if self.0.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs
        }
    }

    /// Microseconds (systemd `*_USEC`).
    pub fn as_micros(self) -> u128 {
        self.0.as_micros()
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_seconds() {
        assert_eq!(Duration::from_millis(1200).as_secs_ceil(), 2);
        assert_eq!(Duration::from_secs(30).as_secs_ceil(), 30);
        assert_eq!(Duration::ZERO.as_secs_ceil(), 0);
    }

    #[test]
    fn display_round_trips() {
        let d = Duration::parse("1m30s").unwrap();
        assert_eq!(d.to_string(), "1m30s");
        assert_eq!(Duration::parse(&d.to_string()).unwrap(), d);
    }
}
