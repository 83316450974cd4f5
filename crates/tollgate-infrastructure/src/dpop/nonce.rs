//! [`HmacNonces`]: stateless DPoP server nonces (RFC 9449 §8).

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use tollgate_application::{DpopNonces, Error as AppError};

use crate::jwt::{shared_secret, SHARED_SECRET_BYTES};
use crate::InfraError;

/// The file in the key directory the nonce secret lives in.
pub const NONCE_SECRET_FILE: &str = "dpop-nonce.secret";
/// The default of `dpop.nonce_lifetime`, in seconds.
pub const DEFAULT_NONCE_LIFETIME_SECS: i64 = 300;
/// Bytes of the window number, then of the truncated MAC, in a nonce.
const WINDOW_BYTES: usize = 8;
const MAC_BYTES: usize = 16;
/// Domain separation: the secret may one day key other derivations.
const LABEL: &[u8] = b"tollgate dpop nonce v1";

/// Nonces derived from a secret and the time, never stored: the nonce of time window `w` (of
/// `lifetime` each) is `base64url(w ‖ HMAC-SHA256(secret, label ‖ w)[..16])`. A nonce is
/// accepted in its own window and the next, so it lives between one and two lifetimes, and
/// every process holding the secret (the key directory's, [`HmacNonces::from_key_dir`]) hands
/// out and accepts the same values. A nonce says which window it is of, which is no secret:
/// proofs carry `iat` anyway.
pub struct HmacNonces {
    key: PKey<Private>,
    lifetime_secs: i64,
}

impl std::fmt::Debug for HmacNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacNonces")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

impl HmacNonces {
    /// Nonces keyed with `secret`, a new one every `lifetime` (at least one second).
    ///
    /// # Errors
    /// [`InfraError::Dpop`] when OpenSSL refuses the HMAC key.
    pub fn new(secret: &[u8; SHARED_SECRET_BYTES], lifetime: Duration) -> Result<Self, InfraError> {
        let key = PKey::hmac(secret).map_err(|e| InfraError::Dpop(e.to_string()))?;
        Ok(Self {
            key,
            lifetime_secs: lifetime.num_seconds().max(1),
        })
    }

    /// Nonces keyed with the key directory's shared secret ([`NONCE_SECRET_FILE`], made by the
    /// first process that needs it), so that every server sharing the directory agrees.
    ///
    /// # Errors
    /// As [`shared_secret`] and [`HmacNonces::new`].
    pub fn from_key_dir(dir: &Path, lifetime: Duration) -> Result<Self, InfraError> {
        Self::new(&shared_secret(dir, NONCE_SECRET_FILE)?, lifetime)
    }

    fn window(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp().div_euclid(self.lifetime_secs)
    }

    fn mac(&self, window: i64) -> Result<[u8; MAC_BYTES], AppError> {
        let mut signer =
            Signer::new(MessageDigest::sha256(), &self.key).map_err(AppError::unexpected)?;
        signer.update(LABEL).map_err(AppError::unexpected)?;
        signer
            .update(&window.to_be_bytes())
            .map_err(AppError::unexpected)?;
        let full = signer.sign_to_vec().map_err(AppError::unexpected)?;
        full.get(..MAC_BYTES)
            .and_then(|m| <[u8; MAC_BYTES]>::try_from(m).ok())
            .ok_or_else(|| AppError::unexpected("HMAC-SHA256 output too short"))
    }

    fn nonce_of(&self, window: i64) -> Result<String, AppError> {
        let mut bytes = [0u8; WINDOW_BYTES + MAC_BYTES];
        bytes[..WINDOW_BYTES].copy_from_slice(&window.to_be_bytes());
        bytes[WINDOW_BYTES..].copy_from_slice(&self.mac(window)?);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }
}

impl DpopNonces for HmacNonces {
    fn current(&self, now: DateTime<Utc>) -> Result<String, AppError> {
        self.nonce_of(self.window(now))
    }

    fn accepts(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some((window, mac)) = bytes.split_first_chunk::<WINDOW_BYTES>() else {
            return false;
        };
        let window = i64::from_be_bytes(*window);
        let current = self.window(now);
        if window != current && Some(window) != current.checked_sub(1) {
            return false;
        }
        // Constant time, so a forger learns nothing from how long a refusal took.
        self.mac(window)
            .is_ok_and(|expected| mac.len() == MAC_BYTES && openssl::memcmp::eq(mac, &expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces(secret: u8) -> HmacNonces {
        HmacNonces::new(&[secret; SHARED_SECRET_BYTES], Duration::seconds(300)).unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_nonce_lives_for_its_window_and_the_next() {
        let n = nonces(1);
        let issued = n.current(at(1_800_000_000)).unwrap();
        // 1_800_000_000 is a window boundary (divisible by 300).
        assert!(n.accepts(&issued, at(1_800_000_000)));
        assert!(n.accepts(&issued, at(1_800_000_299)));
        assert!(n.accepts(&issued, at(1_800_000_599)));
        assert!(!n.accepts(&issued, at(1_800_000_600)));
        assert!(
            !n.accepts(&issued, at(1_799_999_999)),
            "not before its window"
        );
        assert_ne!(issued, n.current(at(1_800_000_300)).unwrap());
        assert_eq!(issued, n.current(at(1_800_000_299)).unwrap());
    }

    #[test]
    fn processes_with_one_secret_agree_and_others_do_not() {
        let issued = nonces(7).current(at(1_800_000_000)).unwrap();
        assert!(nonces(7).accepts(&issued, at(1_800_000_010)));
        assert!(!nonces(8).accepts(&issued, at(1_800_000_010)));
    }

    #[test]
    fn forged_and_malformed_nonces_are_refused() {
        let n = nonces(1);
        let now = at(1_800_000_000);
        let issued = n.current(now).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&issued).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let flipped = URL_SAFE_NO_PAD.encode(&bytes);
        // A future window with a MAC copied from a valid nonce.
        let mut shifted = URL_SAFE_NO_PAD.decode(&issued).unwrap();
        shifted[..WINDOW_BYTES].copy_from_slice(&(n.window(now) - 1).to_be_bytes());
        let shifted = URL_SAFE_NO_PAD.encode(&shifted);
        for bad in [
            "",
            "!!!",
            &issued[..10],
            &format!("{issued}AA"),
            &flipped,
            &shifted,
        ] {
            assert!(!n.accepts(bad, now), "{bad:?}");
        }
        assert!(n.accepts(&issued, now));
    }

    #[test]
    fn the_key_directory_secret_is_made_once_private_and_shared() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let first = HmacNonces::from_key_dir(&keys, Duration::seconds(60)).unwrap();
        let second = HmacNonces::from_key_dir(&keys, Duration::seconds(60)).unwrap();
        let now = at(1_800_000_000);
        assert!(second.accepts(&first.current(now).unwrap(), now));
        let file = keys.join(NONCE_SECRET_FILE);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&file, b"short").unwrap();
        assert!(matches!(
            HmacNonces::from_key_dir(&keys, Duration::seconds(60)),
            Err(InfraError::Key(_))
        ));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            HmacNonces::from_key_dir(&keys, Duration::seconds(60)),
            Err(InfraError::InsecureFile(_))
        ));
    }
}
