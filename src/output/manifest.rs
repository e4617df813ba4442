//! `OUT/.berth-manifest`: what berth last wrote into an output directory.
//!
//! One line per file, `<sha256>  <path>`, sorted by path, after a comment header. The format is
//! the one `sha256sum` prints, so `cd OUT && sha256sum -c .berth-manifest` lists the files that
//! were changed by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::render::Target;

/// File name of the manifest inside the output directory.
pub const MANIFEST_FILE: &str = ".berth-manifest";

const HEADER: &str = "\
# Written by `berth generate`: the SHA-256 of every file berth wrote into this directory.
# berth compares them with the files on disk to find files edited by hand. Do not edit.
# `sha256sum -c .berth-manifest` (run in this directory) checks them.
";

pub use crate::util::sha256_hex;

/// True when `path` is a safe relative path inside an output directory: forward slashes, no
/// empty, `.` or `..` component, not absolute, no control characters or backslashes.
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.chars().any(|c| c.is_control() || c == '\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The target a generated path belongs to: its first component (`helm/...` → helm).
pub fn target_of(path: &str) -> Option<Target> {
    let first = path.split('/').next()?;
    Target::ALL.into_iter().find(|t| t.as_str() == first)
}

/// A malformed manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// The parsed manifest: path → hex SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    entries: BTreeMap<String, String>,
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a manifest. Blank lines and lines starting with `#` are ignored.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut entries = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let err = |message: String| ParseError {
                line: index + 1,
                message,
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((hash, path)) = line.split_once("  ") else {
                return Err(err("expected '<sha256>  <path>'".into()));
            };
            if hash.len() != 64
                || !hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(err(format!("'{hash}' is not a lower-case hex SHA-256")));
            }
            if !is_safe_relative_path(path) {
                return Err(err(format!(
                    "'{path}' is not a relative path inside the output directory"
                )));
            }
            if entries.insert(path.to_string(), hash.to_string()).is_some() {
                return Err(err(format!("'{path}' is listed twice")));
            }
        }
        Ok(Self { entries })
    }

    /// The manifest text: header, then one sorted line per file.
    pub fn render(&self) -> String {
        let mut text = String::from(HEADER);
        for (path, hash) in &self.entries {
            let _ = writeln!(text, "{hash}  {path}");
        }
        text
    }

    /// The recorded hash of `path`.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.entries.get(path).map(String::as_str)
    }

    /// Records `path` with the hash of `contents`.
    pub fn record(&mut self, path: &str, contents: &[u8]) {
        self.entries.insert(path.to_string(), sha256_hex(contents));
    }

    /// Records `path` with an already computed hash.
    pub fn insert_hash(&mut self, path: &str, hash: &str) {
        self.entries.insert(path.to_string(), hash.to_string());
    }

    /// Every `(path, hash)`, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(p, h)| (p.as_str(), h.as_str()))
    }

    /// Number of files listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no file is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"hi"),
            "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"
        );
    }

    #[test]
    fn render_is_sorted_and_round_trips() {
        let mut m = Manifest::new();
        m.record("systemd/a.service", b"x\n");
        m.record("docker/Dockerfile", b"y\n");
        let text = m.render();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("  docker/Dockerfile"));
        assert!(lines[1].ends_with("  systemd/a.service"));
        assert_eq!(Manifest::parse(&text).unwrap(), m);
    }

    #[test]
    fn rejects_malformed_lines() {
        let hash = sha256_hex(b"");
        let cases = [
            ("nonsense\n", 1, "expected"),
            (&*format!("#\n{}  a\n", &hash[..10]), 2, "hex SHA-256"),
            (&*format!("{}  a\n", hash.to_uppercase()), 1, "hex SHA-256"),
            (&*format!("{hash}  ../etc/passwd\n"), 1, "relative path"),
            (&*format!("{hash}  /etc/passwd\n"), 1, "relative path"),
            (&*format!("{hash}  a//b\n"), 1, "relative path"),
            (&*format!("{hash}  a\n{hash}  a\n"), 2, "twice"),
        ];
        for (text, line, needle) in cases {
            let err = Manifest::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}");
            assert!(err.message.contains(needle), "{text:?}: {}", err.message);
        }
    }

    #[test]
    fn safe_paths() {
        assert!(is_safe_relative_path(
            "helm/x/templates/tests/test-health.yaml"
        ));
        assert!(is_safe_relative_path(".berth-manifest"));
        for bad in ["", "/abs", "a/../b", "./a", "a/", "a\\b", "a\nb"] {
            assert!(!is_safe_relative_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn targets_from_first_component() {
        assert_eq!(target_of("helm/x/Chart.yaml"), Some(Target::Helm));
        assert_eq!(target_of("k8s/x.yaml"), Some(Target::K8s));
        assert_eq!(target_of("docker/Dockerfile"), Some(Target::Docker));
        assert_eq!(target_of("systemd/x.env"), Some(Target::Systemd));
        assert_eq!(target_of("notes.txt"), None);
    }
}
