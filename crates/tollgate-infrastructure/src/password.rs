//! Argon2id password hashing behind the [`PasswordHasher`] port.
//!
//! The working memory of Argon2 (19 MiB per hash by default) is allocated once per hashing slot
//! and reused, never per request: freeing such blocks after each hash lets glibc raise its
//! dynamic mmap threshold, after which later blocks come from per-thread arenas of the blocking
//! pool and stay resident. Measured before this change: 300 concurrent logins with unknown names
//! took the server from about 100 MiB to 707 MiB RSS with only two hashes running at a time.

use std::fmt;
use std::sync::{Condvar, Mutex, PoisonError};

use argon2::password_hash::{Output, ParamsString, PasswordHash as PhcHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Argon2 working memory: at most `slots` buffers of `blocks` blocks, each allocated on its
/// first use and then kept and reused, so the memory Argon2 holds is bounded by the slots and
/// stays in place whatever thread hashes next.
struct Buffers {
    blocks: usize,
    slots: usize,
    state: Mutex<Slots>,
    returned: Condvar,
    /// Leases so far: lets tests check that every hash ran in a pooled buffer.
    #[cfg(test)]
    leases: std::sync::atomic::AtomicUsize,
}

struct Slots {
    free: Vec<Box<[Block]>>,
    created: usize,
}

impl Buffers {
    fn new(blocks: usize, slots: usize) -> Self {
        Self {
            blocks,
            slots: slots.max(1),
            state: Mutex::new(Slots {
                free: Vec::new(),
                created: 0,
            }),
            returned: Condvar::new(),
            #[cfg(test)]
            leases: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A buffer for one hash; waits while every slot is in use. The web layer's semaphore
    /// (`password.max_concurrent_hashes`, the same count) keeps logins from waiting here; other
    /// callers (the CLI, a host calling the hasher directly) are bounded all the same.
    fn lease(&self) -> Lease<'_> {
        #[cfg(test)]
        self.leases
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A poisoned lock only means another thread panicked between two plain Vec operations;
        // the free list is still consistent, so keep using it.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(buffer) = state.free.pop() {
                return Lease {
                    pool: self,
                    buffer: Some(buffer),
                };
            }
            if state.created < self.slots {
                state.created += 1;
                drop(state);
                // Allocated outside the lock; touched in full by the first hash anyway.
                let buffer = vec![Block::new(); self.blocks].into_boxed_slice();
                return Lease {
                    pool: self,
                    buffer: Some(buffer),
                };
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A buffer if one is free or may still be created, without waiting (tests).
    #[cfg(test)]
    fn try_lease(&self) -> Option<Lease<'_>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.free.is_empty() && state.created >= self.slots {
            return None;
        }
        drop(state);
        Some(self.lease())
    }

    /// Buffers allocated so far (tests).
    #[cfg(test)]
    fn created(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .created
    }
}

/// One leased buffer; returned to the pool on drop.
struct Lease<'a> {
    pool: &'a Buffers,
    buffer: Option<Box<[Block]>>,
}

impl Lease<'_> {
    fn blocks(&mut self) -> &mut [Block] {
        self.buffer.as_deref_mut().unwrap_or_default()
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .free
                .push(buffer);
            self.pool.returned.notify_one();
        }
    }
}

/// Argon2id (v0x13) hashing to PHC strings with a random 16-byte salt.
///
/// Verification takes the cost parameters from the stored hash, so hashes made under older
/// settings keep verifying after the settings change.
///
/// Each hash runs in one of a fixed number of preallocated buffers (see
/// [`Argon2Hasher::with_slots`]), so hashing allocates no Argon2 memory per call.
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    params: Argon2Params,
    buffers: Buffers,
    /// A hash of a throw-away password under the same parameters: verifying against it gives an
    /// unknown user the same cost as a known one.
    dummy: String,
    /// Argon2 verifications run so far: lets tests check, without timing anything, that an
    /// unknown user costs the same one verification as a known one.
    #[cfg(test)]
    verifications: std::sync::atomic::AtomicUsize,
}

impl Argon2Hasher {
    /// Builds a hasher with one buffer per CPU (the default of `password.max_concurrent_hashes`)
    /// and its dummy hash.
    ///
    /// # Errors
    /// [`InfraError::PasswordHash`] when the parameters are out of range (see
    /// [`Argon2Params`]) or the dummy hash cannot be made.
    pub fn new(params: Argon2Params) -> Result<Self, InfraError> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_slots(params, cpus)
    }

    /// Builds a hasher that keeps at most `slots` (at least 1) Argon2 buffers, each allocated
    /// at its first use and reused afterwards; a hash beyond `slots` at once waits for a buffer.
    /// Give it the number of hashing permits (`password.max_concurrent_hashes`), so the memory
    /// bound is `slots × memory_kib` whatever the allocator does.
    ///
    /// # Errors
    /// As [`Argon2Hasher::new`].
    pub fn with_slots(params: Argon2Params, slots: usize) -> Result<Self, InfraError> {
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
        let buffers = Buffers::new(argon_params.block_count(), slots);
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut hasher = Self {
            argon2,
            params,
            buffers,
            dummy: String::new(),
            #[cfg(test)]
            verifications: std::sync::atomic::AtomicUsize::new(0),
        };
        hasher.dummy = hasher.hash_phc(b"tollgate: no such user")?;
        Ok(hasher)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Runs `argon2` over `password` and `salt` into `out`, in a leased buffer.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let mut lease = self.buffers.lease();
        let needed = argon2.params().block_count();
        if needed <= lease.blocks().len() {
            return argon2.hash_password_into_with_memory(password, salt, out, lease.blocks());
        }
        // A stored hash made with more memory than configured now (the setting was lowered):
        // a buffer of its own for this one verification, still inside the slot, so hashes at
        // once stay bounded. Rehash-on-login moves the account to the configured size.
        let mut larger = vec![Block::new(); needed];
        argon2.hash_password_into_with_memory(password, salt, out, &mut larger[..])
    }

    /// A new PHC string for `password` under the configured parameters.
    ///
    /// Written out instead of `argon2::PasswordHasher::hash_password` because that allocates
    /// fresh Argon2 memory on every call; the encoding is the library's own (`PasswordHash`,
    /// `ParamsString`, `Output`), only the memory is ours.
    fn hash_phc(&self, password: &[u8]) -> Result<String, InfraError> {
        let fail = |e: &dyn fmt::Display| InfraError::PasswordHash(e.to_string());
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.compute(&self.argon2, password, salt_bytes, &mut out)
            .map_err(|e| fail(&e))?;
        let phc = PhcHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon2.params()).map_err(|e| fail(&e))?,
            salt: Some(Salt::from(&salt)),
            hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
        };
        Ok(phc.to_string())
    }
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .field("slots", &self.buffers.slots)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &Password) -> Result<PasswordHash, AppError> {
        Ok(PasswordHash::new(
            self.hash_phc(password.expose().as_bytes())?,
        ))
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
    /// Verifies `password` against a stored PHC string.
    ///
    /// What `argon2::PasswordVerifier::verify_password` does, written out only so the hash runs
    /// in a leased buffer: the PHC string is parsed by the library (`PasswordHash`, and
    /// `Algorithm`, `Version`, `Params` from it), and the outputs are compared by the library's
    /// `Output` equality, which is constant-time.
    fn verify_phc(&self, password: &Password, phc: &str) -> Result<bool, InfraError> {
        let unusable =
            |e: &dyn fmt::Display| InfraError::PasswordHash(format!("stored hash unusable: {e}"));
        let parsed = PhcHash::new(phc)
            .map_err(|e| InfraError::PasswordHash(format!("stored hash unreadable: {e}")))?;
        #[cfg(test)]
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            // The library's verdict for a PHC string without salt or output: no match.
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| unusable(&e))?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|e| unusable(&e))?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|e| unusable(&e))?;
        let argon2 = Argon2::new(algorithm, version, params);
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| unusable(&e))?;
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = out.get_mut(..expected.len()).unwrap_or_default();
        self.compute(&argon2, password.expose().as_bytes(), salt_bytes, out)
            .map_err(|e| unusable(&e))?;
        let computed =
            Output::new_with_encoding(out, expected.encoding()).map_err(|e| unusable(&e))?;
        // `Output`'s `==` is constant-time (`subtle`).
        Ok(computed == expected)
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
    fn hashing_and_verifying_reuse_the_buffer_of_one_slot() {
        let hasher = Argon2Hasher::with_slots(cheap(), 4).unwrap();
        // The dummy hash made the first buffer.
        assert_eq!(hasher.buffers.created(), 1);
        let hash = hasher.hash(&pw("Password1")).unwrap();
        for _ in 0..10 {
            assert!(hasher.verify(&pw("Password1"), Some(&hash)).unwrap());
            assert!(!hasher.verify(&pw("Password1"), None).unwrap());
            hasher.hash(&pw("Password2")).unwrap();
        }
        assert_eq!(
            hasher.buffers.created(),
            1,
            "one call at a time needs one buffer"
        );
        // Every hash ran in the pooled buffer: the dummy, the first hash and 3 per round.
        let leases = hasher
            .buffers
            .leases
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(leases, 2 + 3 * 10);
    }

    #[test]
    fn no_more_buffers_than_slots_exist_and_a_hash_waits_for_one() {
        let hasher = Argon2Hasher::with_slots(cheap(), 2).unwrap();
        let first = hasher.buffers.try_lease().unwrap();
        let second = hasher.buffers.try_lease().unwrap();
        assert!(
            hasher.buffers.try_lease().is_none(),
            "both slots are leased"
        );
        assert_eq!(hasher.buffers.created(), 2);
        drop(first);
        let third = hasher.buffers.try_lease().unwrap();
        assert_eq!(hasher.buffers.created(), 2, "a returned buffer is reused");
        // With both buffers leased, a hash can only finish once one comes back.
        std::thread::scope(|s| {
            let waiting = s.spawn(|| hasher.hash(&pw("Password1")));
            drop(second);
            assert!(waiting.join().unwrap().is_ok());
        });
        drop(third);
        assert_eq!(hasher.buffers.created(), 2);
    }

    #[test]
    fn concurrent_hashes_share_the_slots_buffers() {
        const THREADS: usize = 8;
        let hasher = Argon2Hasher::with_slots(
            Argon2Params {
                memory_kib: 256,
                ..cheap()
            },
            2,
        )
        .unwrap();
        let barrier = std::sync::Barrier::new(THREADS);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..5 {
                        hasher.hash(&pw("Password1")).unwrap();
                    }
                });
            }
        });
        assert!(
            hasher.buffers.created() <= 2,
            "{}",
            hasher.buffers.created()
        );
    }

    #[test]
    fn a_stored_hash_with_more_memory_than_configured_still_verifies() {
        let big = Argon2Hasher::with_slots(
            Argon2Params {
                memory_kib: 64,
                ..cheap()
            },
            1,
        )
        .unwrap();
        let hash = big.hash(&pw("Password1")).unwrap();
        let small = Argon2Hasher::with_slots(cheap(), 1).unwrap();
        assert!(small.verify(&pw("Password1"), Some(&hash)).unwrap());
        assert!(!small.verify(&pw("Password2"), Some(&hash)).unwrap());
        assert_eq!(small.buffers.created(), 1);
    }

    #[test]
    fn hashes_verify_with_the_library_verifier_and_back() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        let ours = hasher.hash(&pw("Password1")).unwrap();
        let parsed = PhcHash::new(ours.as_str()).unwrap();
        assert!(hasher.argon2.verify_password(b"Password1", &parsed).is_ok());
        assert!(hasher
            .argon2
            .verify_password(b"Password2", &parsed)
            .is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = PasswordHash::new(
            hasher
                .argon2
                .hash_password(b"Password1", &salt)
                .unwrap()
                .to_string(),
        );
        assert!(hasher.verify(&pw("Password1"), Some(&theirs)).unwrap());
        assert!(!hasher.verify(&pw("Password2"), Some(&theirs)).unwrap());
    }

    #[test]
    fn debug_shows_no_hash() {
        let hasher = Argon2Hasher::new(cheap()).unwrap();
        let shown = format!("{hasher:?}");
        assert!(!shown.contains("argon2id"), "{shown}");
        assert!(shown.contains("memory_kib: 8"), "{shown}");
    }
}
