//! What logs may say about a login name: a salted, truncated digest, never the name. A failed
//! login's "name" is attacker-chosen and is often a password typed in the wrong field.

use std::sync::OnceLock;

use openssl::sha::Sha256;

/// Bytes of the digest kept (as hex): enough to tell the names of one log apart, too few to
/// serve as a dictionary-attack target on their own.
const KEPT_BYTES: usize = 6;

/// A per-process random salt: digests correlate the attempts of one run, but not across runs or
/// with a precomputed table of common names and passwords.
fn salt() -> &'static [u8; 16] {
    static SALT: OnceLock<[u8; 16]> = OnceLock::new();
    SALT.get_or_init(rand::random)
}

/// `u:` and the first 12 hex digits of SHA-256(salt ‖ name): what a log line shows in place of
/// a login name.
pub fn user_name_digest(name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt());
    hasher.update(name.as_bytes());
    let digest = hasher.finish();
    let mut out = String::from("u:");
    for byte in &digest[..KEPT_BYTES] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_hides_the_name_and_is_stable_within_a_process() {
        let d = user_name_digest("Password1");
        assert!(!d.contains("Password1"));
        assert_eq!(d.len(), 2 + 2 * KEPT_BYTES);
        assert_eq!(d, user_name_digest("Password1"));
        assert_ne!(d, user_name_digest("password1"));
    }
}
