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
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_ADMIN_ADDR, "BERTH_ADMIN_ADDR");
/// ```
pub const ENV_ADMIN_ADDR: &str = "BERTH_ADMIN_ADDR";
/// How long the daemon keeps serving after SIGTERM with readiness failing (default 5s).
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_PRE_STOP_DELAY, "BERTH_PRE_STOP_DELAY");
/// ```
pub const ENV_PRE_STOP_DELAY: &str = "BERTH_PRE_STOP_DELAY";
/// How long in-flight work may take after the pre-stop delay (default 20s).
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_DRAIN_TIMEOUT, "BERTH_DRAIN_TIMEOUT");
/// ```
pub const ENV_DRAIN_TIMEOUT: &str = "BERTH_DRAIN_TIMEOUT";
/// Path of the daemon's configuration file (optional).
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_CONFIG_FILE, "BERTH_CONFIG_FILE");
/// ```
pub const ENV_CONFIG_FILE: &str = "BERTH_CONFIG_FILE";
/// `true` or `false`: serve `/metrics` on the admin port (default true).
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_METRICS, "BERTH_METRICS");
/// ```
pub const ENV_METRICS: &str = "BERTH_METRICS";
/// `json` for JSON log lines; anything else or unset for human-readable lines.
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_LOG_FORMAT, "BERTH_LOG_FORMAT");
/// ```
pub const ENV_LOG_FORMAT: &str = "BERTH_LOG_FORMAT";
/// Longest time a client may take to send a request's headers to the application port,
/// from their first byte (`0` turns the limit off). Read by the runtime only: the generator
/// leaves it unset, so the default holds unless a deployment overrides it.
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_HEADER_READ_TIMEOUT, "BERTH_HEADER_READ_TIMEOUT");
/// ```
pub const ENV_HEADER_READ_TIMEOUT: &str = "BERTH_HEADER_READ_TIMEOUT";

/// Path of a file the log lines are appended to, in addition to standard error (optional).
/// A Windows service has no console, so the generated Windows scripts set it to
/// `%ProgramData%\<name>\logs\<name>.log`; `logging::init` creates the directory.
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_LOG_FILE, "BERTH_LOG_FILE");
/// ```
pub const ENV_LOG_FILE: &str = "BERTH_LOG_FILE";

/// The Windows Event Log source the log lines are also reported under, in the Application log
/// (optional; Windows with the `windows` feature only, ignored elsewhere). Levels map to event
/// types: ERROR to an error event, WARN to a warning, INFO and below to information. The
/// generated Windows scripts set it to the service name and register that source.
///
/// ```
/// assert_eq!(berth_sidecar::contract::ENV_EVENT_LOG_SOURCE, "BERTH_EVENT_LOG_SOURCE");
/// ```
pub const ENV_EVENT_LOG_SOURCE: &str = "BERTH_EVENT_LOG_SOURCE";

/// Default of [`ENV_ADMIN_ADDR`].
///
/// ```
/// assert_eq!(berth_sidecar::contract::DEFAULT_ADMIN_ADDR, "0.0.0.0:9090");
/// ```
pub const DEFAULT_ADMIN_ADDR: &str = "0.0.0.0:9090";
/// Default admin port.
///
/// ```
/// assert_eq!(berth_sidecar::contract::DEFAULT_ADMIN_PORT, 9090);
/// ```
pub const DEFAULT_ADMIN_PORT: u16 = 9090;
/// Default of [`ENV_PRE_STOP_DELAY`].
///
/// ```
/// assert_eq!(berth_sidecar::contract::DEFAULT_PRE_STOP_DELAY, std::time::Duration::from_secs(5));
/// ```
pub const DEFAULT_PRE_STOP_DELAY: Duration = Duration::from_secs(5);
/// Default of [`ENV_DRAIN_TIMEOUT`].
///
/// ```
/// assert_eq!(berth_sidecar::contract::DEFAULT_DRAIN_TIMEOUT, std::time::Duration::from_secs(20));
/// ```
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// The margin every target adds to the drain budget so logs and telemetry flush before the
/// process is killed: the stop budget is pre-stop delay + drain timeout + this
/// (`terminationGracePeriodSeconds`, `TimeoutStopSec`, `docker stop -t`, a Windows service's
/// preshutdown timeout and its stop wait hints).
///
/// ```
/// assert_eq!(berth_sidecar::contract::STOP_MARGIN, std::time::Duration::from_secs(5));
/// ```
pub const STOP_MARGIN: Duration = Duration::from_secs(5);
/// Default of [`ENV_HEADER_READ_TIMEOUT`].
///
/// ```
/// assert_eq!(berth_sidecar::contract::DEFAULT_HEADER_READ_TIMEOUT, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ENV_METRICS`].
///
/// ```
/// assert_eq!(berth_sidecar::contract::DEFAULT_METRICS, true);
/// ```
pub const DEFAULT_METRICS: bool = true;

/// Liveness endpoint on the admin port.
///
/// ```
/// assert_eq!(berth_sidecar::contract::PATH_LIVEZ, "/livez");
/// ```
pub const PATH_LIVEZ: &str = "/livez";
/// Readiness endpoint on the admin port.
///
/// ```
/// assert_eq!(berth_sidecar::contract::PATH_READYZ, "/readyz");
/// ```
pub const PATH_READYZ: &str = "/readyz";
/// Start-up endpoint on the admin port.
///
/// ```
/// assert_eq!(berth_sidecar::contract::PATH_STARTUPZ, "/startupz");
/// ```
pub const PATH_STARTUPZ: &str = "/startupz";
/// Prometheus metrics endpoint on the admin port.
///
/// ```
/// assert_eq!(berth_sidecar::contract::PATH_METRICS, "/metrics");
/// ```
pub const PATH_METRICS: &str = "/metrics";

/// The command-line flag of probe mode: `<bin> --berth-probe <livez|readyz|startupz>`.
///
/// ```
/// assert_eq!(berth_sidecar::contract::PROBE_FLAG, "--berth-probe");
/// ```
pub const PROBE_FLAG: &str = "--berth-probe";
/// The optional address flag of probe mode: `--addr HOST:PORT`.
///
/// ```
/// assert_eq!(berth_sidecar::contract::PROBE_ADDR_FLAG, "--addr");
/// ```
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
            // 18 digits are finer than a nanosecond of an hour, and keep the product below
            // u128::MAX (30 digits times an hour's nanoseconds overflowed).
            let digits = frac.len().min(18) as u32;
            let frac_val: u128 = frac[..digits as usize]
                .parse()
                .map_err(|_| err("bad fraction"))?;
            value = value
                .checked_add(frac_val * unit_ns / 10u128.pow(digits))
                .ok_or_else(|| err("too large"))?;
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

/// A contract variable held a value that could not be parsed.
///
/// ```
/// use berth_sidecar::contract::{Settings, ENV_DRAIN_TIMEOUT};
/// let err = Settings::from_lookup(|k| (k == ENV_DRAIN_TIMEOUT).then(|| "20".to_owned()))
///     .unwrap_err();
/// assert_eq!(err.variable(), ENV_DRAIN_TIMEOUT);
/// assert!(err.to_string().contains("BERTH_DRAIN_TIMEOUT"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    variable: &'static str,
    value: String,
    reason: String,
}

impl EnvError {
    /// The name of the offending environment variable, e.g. `BERTH_DRAIN_TIMEOUT`.
    ///
    /// ```
    /// # use berth_sidecar::contract::*;
    /// let err = Settings::from_lookup(|k| (k == ENV_METRICS).then(|| "maybe".into())).unwrap_err();
    /// assert_eq!(err.variable(), "BERTH_METRICS");
    /// ```
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// The rejected value, verbatim.
    ///
    /// ```
    /// # use berth_sidecar::contract::*;
    /// let err = Settings::from_lookup(|k| (k == ENV_METRICS).then(|| "maybe".into())).unwrap_err();
    /// assert_eq!(err.value(), "maybe");
    /// ```
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "environment variable {}={:?} is invalid: {}",
            self.variable, self.value, self.reason
        )
    }
}

impl std::error::Error for EnvError {}

/// The runtime settings of the contract, parsed and defaulted.
///
/// ```
/// use berth_sidecar::contract::Settings;
/// use std::time::Duration;
/// let s = Settings::from_lookup(|k| match k {
///     "BERTH_PRE_STOP_DELAY" => Some("0s".to_owned()),
///     _ => None,
/// })
/// .unwrap();
/// assert_eq!(s.pre_stop_delay, Duration::ZERO);
/// assert_eq!(s.admin_addr, "0.0.0.0:9090");
/// assert!(s.metrics);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `HOST:PORT` of the admin server ([`ENV_ADMIN_ADDR`]).
    pub admin_addr: String,
    /// Pre-stop delay ([`ENV_PRE_STOP_DELAY`]).
    pub pre_stop_delay: Duration,
    /// Drain timeout ([`ENV_DRAIN_TIMEOUT`]).
    pub drain_timeout: Duration,
    /// Configuration file ([`ENV_CONFIG_FILE`]), if set and non-empty.
    pub config_file: Option<String>,
    /// Whether `/metrics` is served ([`ENV_METRICS`]).
    pub metrics: bool,
    /// Request header read timeout of the application port ([`ENV_HEADER_READ_TIMEOUT`]);
    /// zero: no limit.
    pub header_read_timeout: Duration,
}

impl Default for Settings {
    /// The documented defaults.
    ///
    /// ```
    /// let s = berth_sidecar::contract::Settings::default();
    /// assert_eq!(s.drain_timeout.as_secs(), 20);
    /// ```
    fn default() -> Self {
        Settings {
            admin_addr: DEFAULT_ADMIN_ADDR.to_owned(),
            pre_stop_delay: DEFAULT_PRE_STOP_DELAY,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            config_file: None,
            metrics: DEFAULT_METRICS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

impl Settings {
    /// Reads the contract from the process environment. An unset (or empty) variable takes
    /// its default; a malformed one is an [`EnvError`] naming it.
    ///
    /// ```
    /// let settings = berth_sidecar::contract::Settings::from_env();
    /// # let _ = settings;
    /// ```
    pub fn from_env() -> Result<Settings, EnvError> {
        Settings::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the contract through `lookup` (a variable name to its value), for tests and for
    /// callers that hold the environment elsewhere.
    ///
    /// ```
    /// use berth_sidecar::contract::Settings;
    /// let err = Settings::from_lookup(|k| (k == "BERTH_ADMIN_ADDR").then(|| "nope".into()));
    /// assert!(err.unwrap_err().to_string().contains("BERTH_ADMIN_ADDR"));
    /// ```
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Settings, EnvError> {
        let mut s = Settings::default();
        let mut get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get(ENV_ADMIN_ADDR) {
            validate_host_port(&v).map_err(|reason| EnvError {
                variable: ENV_ADMIN_ADDR,
                value: v.clone(),
                reason: reason.to_owned(),
            })?;
            s.admin_addr = v.trim().to_owned();
        }
        let duration = |variable: &'static str, v: String| {
            parse_duration(v.trim()).map_err(|e| EnvError {
                variable,
                reason: e.to_string(),
                value: v,
            })
        };
        if let Some(v) = get(ENV_PRE_STOP_DELAY) {
            s.pre_stop_delay = duration(ENV_PRE_STOP_DELAY, v)?;
        }
        if let Some(v) = get(ENV_DRAIN_TIMEOUT) {
            s.drain_timeout = duration(ENV_DRAIN_TIMEOUT, v)?;
        }
        if let Some(v) = get(ENV_HEADER_READ_TIMEOUT) {
            s.header_read_timeout = duration(ENV_HEADER_READ_TIMEOUT, v)?;
        }
        if let Some(v) = get(ENV_CONFIG_FILE) {
            s.config_file = Some(v);
        }
        if let Some(v) = get(ENV_METRICS) {
            s.metrics = parse_bool(&v).ok_or_else(|| EnvError {
                variable: ENV_METRICS,
                value: v.clone(),
                reason: "expected true or false".to_owned(),
            })?;
        }
        Ok(s)
    }
}

/// Checks that `input` looks like `HOST:PORT` (IPv6 hosts in brackets) with a numeric port.
///
/// ```
/// use berth_sidecar::contract::validate_host_port;
/// assert!(validate_host_port("0.0.0.0:9090").is_ok());
/// assert!(validate_host_port("[::1]:9090").is_ok());
/// assert!(validate_host_port("localhost").is_err());
/// ```
pub fn validate_host_port(input: &str) -> Result<(), &'static str> {
    let input = input.trim();
    let (host, port) = input
        .rsplit_once(':')
        .ok_or("expected HOST:PORT, e.g. 0.0.0.0:9090")?;
    if host.is_empty() {
        return Err("the host is missing (expected HOST:PORT, e.g. 0.0.0.0:9090)");
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err("an IPv6 host must be in brackets, e.g. [::]:9090");
    }
    port.parse::<u16>()
        .map_err(|_| "the port is not a number from 0 to 65535")?;
    Ok(())
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
        for input in [
            "",
            "20",
            "-1s",
            "5x",
            "s",
            "1.s5",
            "99999999999999999999h",
            ".",
        ] {
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

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn settings_defaults_and_overrides() {
        assert_eq!(
            Settings::from_lookup(|_| None).unwrap(),
            Settings::default()
        );
        let s = Settings::from_lookup(lookup(&[
            (ENV_ADMIN_ADDR, "127.0.0.1:0"),
            (ENV_PRE_STOP_DELAY, "500ms"),
            (ENV_DRAIN_TIMEOUT, "1m30s"),
            (ENV_CONFIG_FILE, "/etc/app.yaml"),
            (ENV_METRICS, "false"),
            (ENV_HEADER_READ_TIMEOUT, "3s"),
        ]))
        .unwrap();
        assert_eq!(s.admin_addr, "127.0.0.1:0");
        assert_eq!(s.pre_stop_delay, Duration::from_millis(500));
        assert_eq!(s.drain_timeout, Duration::from_secs(90));
        assert_eq!(s.config_file.as_deref(), Some("/etc/app.yaml"));
        assert!(!s.metrics);
        assert_eq!(s.header_read_timeout, Duration::from_secs(3));
    }

    #[test]
    fn malformed_settings_name_the_variable() {
        for (var, value) in [
            (ENV_ADMIN_ADDR, "9090"),
            (ENV_ADMIN_ADDR, "host:port"),
            (ENV_ADMIN_ADDR, "::1:80"),
            (ENV_PRE_STOP_DELAY, "5"),
            (ENV_DRAIN_TIMEOUT, "-1s"),
            (ENV_METRICS, "sometimes"),
            (ENV_HEADER_READ_TIMEOUT, "10"),
        ] {
            let err = Settings::from_lookup(lookup(&[(var, value)])).unwrap_err();
            assert_eq!(err.variable(), var);
            assert_eq!(err.value(), value);
            assert!(
                err.to_string()
                    .starts_with(&format!("environment variable {var}="))
            );
        }
    }
}
