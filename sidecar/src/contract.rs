//! The environment contract between `berth generate` and this crate.
//!
//! Every target the generator writes (Dockerfile `ENV`, the pod's `env`, the systemd
//! `EnvironmentFile`) sets exactly these variables, and [`crate`] reads exactly these. The
//! generator links this module (the crate with `default-features = false` is this module
//! alone), so the names, defaults and duration syntax cannot drift apart.
//!
//! ```
//! use berth_sidecar::contract::{format_duration, parse_duration, ENV_DRAIN_TIMEOUT};
//! use std::time::Duration;
//!
//! assert_eq!(ENV_DRAIN_TIMEOUT, "BERTH_DRAIN_TIMEOUT");
//! assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
//! assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
//! ```

use std::fmt;
use std::time::Duration;

/// `HOST:PORT` the admin server binds (default [`DEFAULT_ADMIN_ADDR`]).
pub const ENV_ADMIN_ADDR: &str = "BERTH_ADMIN_ADDR";
/// How long the daemon keeps serving after SIGTERM with readiness failing (default 5s).
pub const ENV_PRE_STOP_DELAY: &str = "BERTH_PRE_STOP_DELAY";
/// How long in-flight work may take after the pre-stop delay (default 20s).
pub const ENV_DRAIN_TIMEOUT: &str = "BERTH_DRAIN_TIMEOUT";
/// Path of the daemon's configuration file (optional).
pub const ENV_CONFIG_FILE: &str = "BERTH_CONFIG_FILE";
/// `true` or `false`: serve `/metrics` on the admin port (default true).
pub const ENV_METRICS: &str = "BERTH_METRICS";
/// `json` for JSON log lines; anything else or unset for human-readable lines.
pub const ENV_LOG_FORMAT: &str = "BERTH_LOG_FORMAT";

/// Default of [`ENV_ADMIN_ADDR`].
pub const DEFAULT_ADMIN_ADDR: &str = "0.0.0.0:9090";
/// Default admin port.
pub const DEFAULT_ADMIN_PORT: u16 = 9090;
/// Default of [`ENV_PRE_STOP_DELAY`].
pub const DEFAULT_PRE_STOP_DELAY: Duration = Duration::from_secs(5);
/// Default of [`ENV_DRAIN_TIMEOUT`].
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// Default of [`ENV_METRICS`].
pub const DEFAULT_METRICS: bool = true;

/// Liveness endpoint on the admin port.
pub const PATH_LIVEZ: &str = "/livez";
/// Readiness endpoint on the admin port.
pub const PATH_READYZ: &str = "/readyz";
/// Start-up endpoint on the admin port.
pub const PATH_STARTUPZ: &str = "/startupz";
/// Prometheus metrics endpoint on the admin port.
pub const PATH_METRICS: &str = "/metrics";

/// The command-line flag of probe mode: `<bin> --berth-probe <livez|readyz|startupz>`.
pub const PROBE_FLAG: &str = "--berth-probe";
/// The optional address flag of probe mode: `--addr HOST:PORT`.
pub const PROBE_ADDR_FLAG: &str = "--addr";

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: {} (expected a number and a unit, e.g. 500ms, 20s, 1m30s)",
            self.input, self.reason
        )
    }
}

impl std::error::Error for DurationError {}

/// Parses a Go/Kubernetes style duration: one or more `<number><unit>` pairs with units
/// `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`; numbers may have a fraction (`1.5s`).
/// A bare `0` is accepted; negative durations are not.
///
/// ```
/// use berth_sidecar::contract::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
/// assert_eq!(parse_duration("1h2m").unwrap(), Duration::from_secs(3720));
/// assert!(parse_duration("20").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_owned(),
        reason,
    };
    if input == "0" {
        return Ok(Duration::ZERO);
    }
    if input.is_empty() {
        return Err(err("it is empty"));
    }
    if input.starts_with('-') {
        return Err(err("it is negative"));
    }
    let s = input.strip_prefix('+').unwrap_or(input);
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let whole = &s[start..i];
        let mut frac = "";
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fstart = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac = &s[fstart..i];
        }
        if whole.is_empty() && frac.is_empty() {
            return Err(err("a number is missing"));
        }
        let ustart = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
            i += 1;
        }
        let unit_ns: u128 = match &s[ustart..i] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(err("a unit is missing")),
            _ => return Err(err("unknown unit")),
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| err("number too large"))?
        };
        let mut value = whole.checked_mul(unit_ns).ok_or_else(|| err("too large"))?;
        if !frac.is_empty() {
            let digits = frac.len().min(30) as u32;
            let frac_val: u128 = frac[..digits as usize]
                .parse()
                .map_err(|_| err("bad fraction"))?;
            value += frac_val * unit_ns / 10u128.pow(digits);
        }
        total = total.checked_add(value).ok_or_else(|| err("too large"))?;
        if total > u64::MAX as u128 {
            return Err(err("too large"));
        }
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Formats a duration the way Go's `time.Duration.String` does: `0s`, `500ms`, `1.5s`,
/// `1m30s`, `2h0m0s`. [`parse_duration`] reads back every output exactly.
///
/// ```
/// use berth_sidecar::contract::format_duration;
/// use std::time::Duration;
/// assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
/// assert_eq!(format_duration(Duration::ZERO), "0s");
/// ```
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("us", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(ns, div));
    }
    let h = ns / 3_600_000_000_000;
    let rem = ns % 3_600_000_000_000;
    let m = rem / 60_000_000_000;
    let s_ns = rem % 60_000_000_000;
    let secs = format!("{}s", fraction(s_ns, 1_000_000_000));
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

fn fraction(value: u128, div: u128) -> String {
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parses a boolean the way the contract writes it: `true` / `false` (also `1`/`0`,
/// `yes`/`no`, case-insensitive).
///
/// ```
/// assert_eq!(berth_sidecar::contract::parse_bool("true"), Some(true));
/// assert_eq!(berth_sidecar::contract::parse_bool("maybe"), None);
/// ```
pub fn parse_bool(input: &str) -> Option<bool> {
    match input.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("0", 0),
            ("0s", 0),
            ("500ms", 500_000_000),
            ("1.5s", 1_500_000_000),
            ("1m30s", 90_000_000_000),
            ("2h45m", 9_900_000_000_000),
            ("250us", 250_000),
            ("7ns", 7),
            (".5s", 500_000_000),
        ];
        for (input, ns) in cases {
            assert_eq!(parse_duration(input).unwrap().as_nanos(), ns, "{input}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for input in ["", "20", "-1s", "5x", "s", "1.s5", "99999999999999999999h", "."] {
            assert!(parse_duration(input).is_err(), "{input} accepted");
        }
    }

    #[test]
    fn formats_like_go_and_round_trips() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(7200), "2h0m0s"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_secs(20), "20s"),
        ];
        for (d, text) in cases {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text).unwrap(), d);
        }
    }
}
