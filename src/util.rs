//! Small helpers several modules share: one definition each.

use sha2::{Digest, Sha256};

/// The lower-case hex SHA-256 of some bytes (what `sha256sum` and Helm's `sha256sum` print).
///
/// ```
/// assert_eq!(
///     berth::util::sha256_hex(b""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A word for a POSIX shell: bare when it holds only characters no shell treats specially,
/// single-quoted otherwise (`'` as `'\''`).
///
/// ```
/// use berth::util::shell_quote;
/// assert_eq!(shell_quote("deploy/helm/x"), "deploy/helm/x");
/// assert_eq!(shell_quote("my dir"), "'my dir'");
/// assert_eq!(shell_quote("it's"), r"'it'\''s'");
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:,@+=%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// True when `text` is a SemVer 2 version (`1.2.3`, `1.0.0-rc.1+build.5`).
///
/// ```
/// assert!(berth::util::is_semver("1.0.0-rc.1+build.5"));
/// assert!(!berth::util::is_semver("1.0"));
/// assert!(!berth::util::is_semver("01.0.0"));
/// ```
pub fn is_semver(text: &str) -> bool {
    semver::Version::parse(text).is_ok()
}

/// True when the `Cargo.toml` text declares a `[workspace]` table.
///
/// ```
/// assert!(berth::util::declares_workspace("[workspace]\nmembers = [\"a\"]\n"));
/// assert!(berth::util::declares_workspace("workspace = { members = [] }\n"));
/// assert!(!berth::util::declares_workspace("[package]\nname = \"x\"\n# [workspace]\n"));
/// ```
pub fn declares_workspace(cargo_toml: &str) -> bool {
    cargo_toml
        .parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("workspace"))
}
