//! The configuration file: TOML with one key, `greeting`.

use std::path::Path;

use serde::Deserialize;

/// Greeting used when the file does not set one (or does not exist at start-up).
pub const DEFAULT_GREETING: &str = "echo";

/// The parsed configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The word `GET /echo` puts before the message.
    #[serde(default = "default_greeting")]
    pub greeting: String,
}

fn default_greeting() -> String {
    DEFAULT_GREETING.to_owned()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            greeting: default_greeting(),
        }
    }
}

/// Why the configuration could not be read.
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
    /// The file is not valid TOML for this configuration.
    #[error("invalid configuration in {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
}

impl ConfigError {
    /// True when the file does not exist (start-up falls back to the defaults).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

impl Config {
    /// Parses the TOML text of a configuration file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: origin.to_owned(),
            message: err.message().to_owned(),
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
    fn parses_a_greeting() {
        let c = Config::parse("greeting = \"hello\"\n", "t").unwrap();
        assert_eq!(c.greeting, "hello");
    }

    #[test]
    fn empty_file_gives_the_default() {
        assert_eq!(Config::parse("", "t").unwrap(), Config::default());
        assert_eq!(Config::default().greeting, DEFAULT_GREETING);
    }

    #[test]
    fn rejects_bad_toml_and_unknown_keys() {
        let err = Config::parse("greeting = ", "f.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid configuration in f.toml"),
            "{err}"
        );
        assert!(Config::parse("greting = \"x\"", "f.toml").is_err());
        assert!(Config::parse("greeting = 3", "f.toml").is_err());
    }

    #[test]
    fn missing_file_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(err.is_not_found());
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[").unwrap();
        let err = Config::load(&path).unwrap_err();
        assert!(!err.is_not_found());
    }
}
