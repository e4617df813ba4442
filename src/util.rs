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
