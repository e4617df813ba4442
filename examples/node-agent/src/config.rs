//! The configuration file: `interval` (a duration) and extra `labels` on `node_agent_info`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Sampling interval when the file does not set one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// The shortest interval accepted (a typo like `1ms` must not busy-loop the node).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The parsed configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How often `<proc>/loadavg` is read.
    pub interval: Duration,
    /// Extra labels on `node_agent_info` (sorted by name).
    pub labels: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: DEFAULT_INTERVAL,
            labels: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    interval: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Why the configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("invalid configuration in {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A Prometheus label name, not one the agent sets itself.
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

impl Config {
    /// Parses the TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| invalid(e.message().to_owned()))?;
        let interval = match raw.interval {
            Some(text) => berth_sidecar::contract::parse_duration(&text)
                .map_err(|e| invalid(format!("interval: {e}")))?,
            None => DEFAULT_INTERVAL,
        };
        if interval < MIN_INTERVAL {
            return Err(invalid(format!(
                "interval: {} is shorter than the minimum {}",
                berth_sidecar::contract::format_duration(interval),
                berth_sidecar::contract::format_duration(MIN_INTERVAL)
            )));
        }
        for name in raw.labels.keys() {
            if name == "node" || !valid_label_name(name) {
                return Err(invalid(format!(
                    "labels: {name:?} is not a usable label name (letters, digits, _; not `node`)"
                )));
            }
        }
        Ok(Config {
            interval,
            labels: raw.labels,
        })
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: origin.clone(),
            source,
        })?;
        Config::parse(&text, &origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interval_and_labels() {
        let c = Config::parse(
            "interval = \"1m30s\"\n[labels]\nzone = \"a\"\nrole = \"x\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.interval, Duration::from_secs(90));
        assert_eq!(
            c.labels.iter().collect::<Vec<_>>(),
            vec![
                (&"role".to_owned(), &"x".to_owned()),
                (&"zone".to_owned(), &"a".to_owned())
            ]
        );
    }

    #[test]
    fn defaults_when_empty() {
        assert_eq!(Config::parse("", "t").unwrap(), Config::default());
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            "interval = \"5\"",
            "interval = \"10ms\"",
            "interval = 5",
            "[labels]\nnode = \"x\"",
            "[labels]\n\"bad-name\" = \"x\"",
            "[labels]\n__x = \"x\"",
            "intervall = \"5s\"",
            "[",
        ] {
            let err = Config::parse(bad, "agent.toml").unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("invalid configuration in agent.toml"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn load_reports_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Config::load(&dir.path().join("none.toml"))
                .unwrap_err()
                .is_not_found()
        );
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "interval = \"2s\"").unwrap();
        assert_eq!(Config::load(&p).unwrap().interval, Duration::from_secs(2));
    }
}
