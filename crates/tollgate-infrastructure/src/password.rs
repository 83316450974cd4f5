//! Argon2id password hashing behind the [`PasswordHasher`] port.

use std::fmt;

use argon2::password_hash::{
    Error as PhcError, PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _,
    SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tollgate_application::{Error as AppError, PasswordHasher};
use tollgate_domain::{Password, PasswordHash};

use crate::InfraError;

/// Argon2id cost parameters.
///
/// The default is OWASP's first recommendation for Argon2id: 19 MiB of memory, 2 iterations,
/// 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory per hash, in KiB (at least 8 × `parallelism`, at most [`Self::MAX_MEMORY_KIB`]).
    pub memory_kib: u32,
    /// Passes over the memory (at least 1).
    pub iterations: u32,
    /// Lanes (at least 1).
    pub parallelism: u32,
}

impl Argon2Params {
    /// The most memory one hash may take: 1 GiB.
    ///
    /// Every concurrent login allocates this much, so anything larger is almost surely a unit
    /// mistake (bytes for KiB) that would take the server down at its first busy minute.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Argon2id (v0x13) hashing to PHC strings with a random 16-byte salt.
///
/// Verification takes the cost parameters from the stored hash, so hashes made under older
/// settings keep verifying after the settings change.
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    params: Argon2Params,
    /// A hash of a throw-away password under the same parameters: verifying against it gives an
    /// unknown user the same cost as a known one.
    dummy: String,
    /// Argon2 verifications run so far: lets tests check, without timing anything, that an
    /// unknown user costs the same one verification as a known one.
    #[cfg(test)]
    verifications: std::sync::atomic::AtomicUsize,
}

impl Argon2Hasher {
    /// Builds a hasher and its dummy hash.
    ///
    /// # Errors
    /// [`InfraError::PasswordHash`] when the parameters are out of range (see
    /// [`Argon2Params`]) or the dummy hash cannot be made.
    pub fn new(params: Argon2Params) -> Result<Self, InfraError> {
        if params.memory_kib > Argon2Params::MAX_MEMORY_KIB {
            return Err(InfraError::PasswordHash(format!(
                "memory_kib {} exceeds the maximum of {} (1 GiB)",
                params.memory_kib,
                Argon2Params::MAX_MEMORY_KIB
            )));
        }
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| InfraError::PasswordHash(format!("invalid Argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let dummy = hash_with(&argon2, b"tollgate: no such user")?;
        Ok(Self {
            argon2,
            params,
            dummy,
            #[cfg(test)]
            verifications: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.params
    }
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &[u8]) -> Result<String, InfraError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| InfraError::PasswordHash(e.to_string()))
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &Password) -> Result<PasswordHash, AppError> {
        Ok(PasswordHash::new(hash_with(
            &self.argon2,
            password.expose().as_bytes(),
        )?))
    }

    fn verify(&self, password: &Password, hash: Option<&PasswordHash>) -> Result<bool, AppError> {
        let Some(hash) = hash else {
            // Same work as a real check; the outcome is discarded because there is no user.
            let _ = self.verify_phc(password, &self.dummy);
            return Ok(false);
        };
        Ok(self.verify_phc(password, hash.as_str())?)
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = PhcHash::new(hash.as_str()) else {
            // Unreadable hashes fail verification anyway; nothing to refresh.
            return false;
        };
        let Ok(stored) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(u32::from(Version::V0x13))
            || stored.m_cost() != self.params.memory_kib
            || stored.t_cost() != self.params.iterations
            || stored.p_cost() != self.params.parallelism
    }
}

impl Argon2Hasher {
    fn verify_phc(&self, password: &Password, phc: &str) -> Result<bool, InfraError> {
        let parsed = PhcHash::new(phc)
            .map_err(|e| InfraError::PasswordHash(format!("stored hash unreadable: {e}")))?;
        #[cfg(test)]
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = self
            .argon2
            .verify_password(password.expose().as_bytes(), &parsed);
        verdict(outcome)
    }
}

fn verdict(outcome: Result<(), PhcError>) -> Result<bool, InfraError> {
    match outcome {
        Ok(()) => Ok(true),
        Err(PhcError::Password) => Ok(false),
        Err(e) => Err(InfraError::PasswordHash(format!(
            "stored hash unusable: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Params {
        Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn pw(s: &str) -> Password {
        Password::parse(s).unwrap()
    }

    #[test]
    fn only_hashes_with_other_parameters_need_a_rehash() {
        let cheap_hasher = Argon2Hasher::new(cheap()).unwrap();
        let other = Argon2Hasher::new(Argon2Params {
            memory_kib: 16,
            ..cheap()
        })
        .unwrap();
        let hash = cheap_hasher.hash(&pw("Password1")).unwrap();
        assert!(!cheap_hasher.needs_rehash(&hash));
        assert!(other.needs_rehash(&hash));
        let argon2i = PasswordHash::new(
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo".into(),
        );
        assert!(cheap_hasher.needs_rehash(&argon2i));
    }

    #[test]
    fn default_params_are_owasp_argon2id() {
        assert_eq!(
            Argon2Params::default(),
            Argon2Params {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn a_hash_is_an_argon2id_phc_string_with_a_fresh_salt() {
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        let a = hasher.hash(&pw("Password1")).unwrap();
        let b = hasher.hash(&pw("Password1")).unwrap();
        assert!(
            a.as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
            "{}",
            a.as_str()
        );
        assert_ne!(a, b, "two hashes of one password must differ by salt");
    }

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        let hash = hasher.hash(&pw("Password1")).unwrap();
        assert!(hasher.verify(&pw("Password1"), Some(&hash)).unwrap());
        assert!(!hasher.verify(&pw("password1"), Some(&hash)).unwrap());
        assert!(!hasher.verify(&pw("Password1 "), Some(&hash)).unwrap());
    }

    #[test]
    fn an_unknown_user_never_verifies() {
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        assert!(!hasher.verify(&pw("Password1"), None).unwrap());
        // Not even with the dummy's own password.
        assert!(!hasher.verify(&pw("tollgate: no such user"), None).unwrap());
    }

    #[test]
    fn an_unknown_user_costs_the_same_one_argon2_verification_as_a_known_one() {
        use std::sync::atomic::Ordering::Relaxed;
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        let hash = hasher.hash(&pw("Password1")).unwrap();
        let before = hasher.verifications.load(Relaxed);
        assert!(!hasher.verify(&pw("wrong"), Some(&hash)).unwrap());
        let known = hasher.verifications.load(Relaxed) - before;
        assert!(!hasher.verify(&pw("wrong"), None).unwrap());
        let unknown = hasher.verifications.load(Relaxed) - before - known;
        assert_eq!((known, unknown), (1, 1));
    }

    #[test]
    fn hashes_made_under_other_parameters_still_verify() {
        let old = Argon2Hasher::new(cheap()).unwrap();
        let hash = old.hash(&pw("Password1")).unwrap();
        let new = Argon2Hasher::new(Argon2Params {
            memory_kib: 16,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        assert!(new.verify(&pw("Password1"), Some(&hash)).unwrap());
        assert!(!new.verify(&pw("Password2"), Some(&hash)).unwrap());
    }

    #[test]
    fn an_unreadable_stored_hash_is_an_unexpected_error() {
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        for bad in ["", "plaintext", "$argon2id$v=19$m=8,t=1,p=1$!!$??"] {
            let err = hasher
                .verify(&pw("Password1"), Some(&PasswordHash::new(bad.into())))
                .unwrap_err();
            assert!(matches!(err, AppError::Unexpected(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let bad = [
            Argon2Params {
                memory_kib: 7,
                ..cheap()
            },
            Argon2Params {
                iterations: 0,
                ..cheap()
            },
            Argon2Params {
                parallelism: 0,
                ..cheap()
            },
            // Fewer than 8 KiB per lane.
            Argon2Params {
                memory_kib: 15,
                parallelism: 2,
                ..cheap()
            },
            Argon2Params {
                memory_kib: Argon2Params::MAX_MEMORY_KIB + 1,
                ..cheap()
            },
        ];
        for params in bad {
            assert!(
                matches!(Argon2Hasher::new(params), Err(InfraError::PasswordHash(_))),
                "{params:?}"
            );
        }
        assert!(Argon2Hasher::new(cheap()).is_ok());
    }

    #[test]
    fn debug_shows_no_hash() {
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        let shown = format!("{hasher:?}");
        assert!(!shown.contains("argon2id"), "{shown}");
        assert!(shown.contains("memory_kib: 8"), "{shown}");
    }
}
