//! SHA-256 digests of client secrets behind the [`SecretHasher`] port.

use tollgate_application::SecretHasher;
use tollgate_domain::{ClientSecret, SecretDigest};

/// SHA-256 over the secret's UTF-8 bytes, compared in constant time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sha256Secrets;

impl SecretHasher for Sha256Secrets {
    fn digest(&self, secret: &ClientSecret) -> SecretDigest {
        SecretDigest::from_bytes(openssl::sha::sha256(secret.expose().as_bytes()))
    }

    fn matches(&self, presented: &ClientSecret, stored: &SecretDigest) -> bool {
        // Both sides are 32 bytes, so `memcmp::eq` (which needs equal lengths) cannot panic.
        // Comparing digests rather than secrets already hides the secret; constant time also
        // hides how much of the digest matched.
        openssl::memcmp::eq(self.digest(presented).as_bytes(), stored.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> ClientSecret {
        ClientSecret::parse(s).unwrap()
    }

    #[test]
    fn the_digest_is_sha256_of_the_secret_text() {
        // FIPS 180-2 test vector for "abc".
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: String = Sha256Secrets
            .digest(&secret("abc"))
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn only_the_right_secret_matches() {
        let stored = Sha256Secrets.digest(&secret("right"));
        assert!(Sha256Secrets.matches(&secret("right"), &stored));
        assert!(!Sha256Secrets.matches(&secret("wrong"), &stored));
        assert!(!Sha256Secrets.matches(&secret("righ"), &stored));
    }
}
