//! A login racing `set-password`, `disable` or `delete`: the login verified the old state, the
//! administrator changed it while the login was still hashing; the login must not end up with a
//! working session. A hasher that blocks inside `verify` makes the race deterministic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use chrono::Duration;
use tollgate_application::{
    Clock, Error, Login, LoginPorts, LoginRequest, PasswordHasher, SessionStore, UserStore,
};
use tollgate_domain::{Password, PasswordHash, RevokeReason, TokenPolicy, User, UserId, UserName};
use tollgate_infrastructure::db::{Database, PoolOptions};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet};
use tollgate_infrastructure::{
    Argon2Hasher, Argon2Params, LogSecurityEvents, RandomIds, SystemClock,
};
use tollgate_tests::{backend_tests, Backend, TestApp, TestEnv};

backend_tests! {
    a_login_racing_a_password_change_gets_no_working_session,
    a_login_racing_a_disable_gets_no_working_session,
    a_login_racing_a_delete_gets_no_working_session,
    a_host_users_login_racing_a_host_password_change_stores_no_session,
    a_host_users_login_racing_a_host_suspension_stores_no_session,
}

/// Cheap Argon2; when armed, the next `verify` stops after checking until released.
struct GatedHasher {
    inner: Argon2Hasher,
    armed: AtomicBool,
    entered: Barrier,
    release: Barrier,
}

impl PasswordHasher for GatedHasher {
    fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        self.inner.hash(password)
    }

    fn verify(&self, password: &Password, hash: Option<&PasswordHash>) -> Result<bool, Error> {
        let result = self.inner.verify(password, hash);
        if self.armed.swap(false, Ordering::SeqCst) {
            self.entered.wait();
            self.release.wait();
        }
        result
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        self.inner.needs_rehash(hash)
    }
}

fn gated_hasher() -> Arc<GatedHasher> {
    Arc::new(GatedHasher {
        inner: Argon2Hasher::new(Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap(),
        armed: AtomicBool::new(false),
        entered: Barrier::new(2),
        release: Barrier::new(2),
    })
}

fn race(backend: Backend, change: impl FnOnce(&TestApp)) {
    let hasher = gated_hasher();
    let Some(app) = TestApp::spawn_with_hasher(backend, hasher.clone(), |_| {}) else {
        return;
    };
    let app = Arc::new(app);
    app.add_user("alice", "Password1");
    hasher.armed.store(true, Ordering::SeqCst);
    let login = {
        let app = Arc::clone(&app);
        thread::spawn(move || app.login("alice", "Password1"))
    };
    hasher.entered.wait(); // the old password is verified
    change(&app);
    hasher.release.wait();
    let r = login.join().unwrap();
    if r.status == 200 {
        let refreshed = app.refresh(&r.refresh_token());
        assert_eq!(refreshed.status, 400, "the raced login's session works");
    } else {
        assert_eq!((r.status, r.error()), (400, "invalid_grant".to_owned()));
    }
}

fn a_login_racing_a_password_change_gets_no_working_session(backend: Backend) {
    race(backend, |app| {
        app.admin()
            .set_password("alice", "Changed-Password-2")
            .unwrap();
    });
}

fn a_login_racing_a_disable_gets_no_working_session(backend: Backend) {
    race(backend, |app| {
        app.admin().set_disabled("alice", true).unwrap();
    });
}

fn a_login_racing_a_delete_gets_no_working_session(backend: Backend) {
    race(backend, |app| {
        app.admin().delete("alice").unwrap();
    });
}

/// A host's own user table (as in examples/embedded-host), in memory: Tollgate's `users` table
/// holds no row for these users.
#[derive(Default)]
struct HostUsers(Mutex<HashMap<UserId, User>>);

impl HostUsers {
    fn update(&self, id: UserId, change: impl FnOnce(&mut User)) -> Result<(), Error> {
        let mut users = self.0.lock().unwrap();
        change(users.get_mut(&id).ok_or(Error::UserNotFound)?);
        Ok(())
    }
}

impl UserStore for HostUsers {
    fn create(&self, user: &User) -> Result<(), Error> {
        self.0.lock().unwrap().insert(user.id, user.clone());
        Ok(())
    }
    fn find_by_name(&self, name: &UserName) -> Result<Option<User>, Error> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .values()
            .find(|u| u.name == *name)
            .cloned())
    }
    fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        Ok(self.0.lock().unwrap().get(&id).cloned())
    }
    fn list(&self) -> Result<Vec<User>, Error> {
        Ok(self.0.lock().unwrap().values().cloned().collect())
    }
    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<(), Error> {
        self.update(id, |u| u.disabled = disabled)
    }
    fn set_password_hash(&self, id: UserId, hash: &PasswordHash) -> Result<(), Error> {
        self.update(id, |u| u.password_hash = hash.clone())
    }
    fn replace_password_hash(
        &self,
        id: UserId,
        old: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, Error> {
        let mut users = self.0.lock().unwrap();
        match users.get_mut(&id) {
            Some(u) if u.password_hash == *old => {
                u.password_hash = new.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn delete(&self, id: UserId) -> Result<(), Error> {
        self.0.lock().unwrap().remove(&id);
        Ok(())
    }
}

/// The embedded-host wiring: users in the host's table, sessions in Tollgate's tables through
/// `session_store_for_external_users`. While a login sits in `verify` (old password checked),
/// the host changes the user and then revokes their sessions, as a host must; the login must
/// store no session, or only one the revocation reached.
fn host_race(backend: Backend, change: impl FnOnce(&HostUsers, UserId), reason: RevokeReason) {
    let Some(env) = TestEnv::new(backend) else {
        return;
    };
    let options = PoolOptions {
        statement_cache: env.db.statement_cache(),
        ..PoolOptions::default()
    };
    let db = Database::connect(env.db.url(), &options).unwrap();
    let hasher = gated_hasher();
    let users = Arc::new(HostUsers::default());
    let sessions = Arc::new(db.session_store_for_external_users());
    let policy = Arc::new(TokenPolicy {
        issuer: "https://host.test".to_owned(),
        access_ttl: Duration::minutes(15),
        refresh_ttl: Duration::days(1),
        refresh_long_ttl: Duration::days(14),
        family_max_lifetime: Duration::days(90),
        reuse_grace: Duration::zero(),
        leeway: Duration::seconds(30),
    });
    let keys = Arc::new(KeySet::load_or_generate(&env.data.path().join("keys")).unwrap());
    let login = Login::new(
        LoginPorts {
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            users: users.clone(),
            sessions: sessions.clone(),
            signer: Arc::new(JwtCodec::for_policy(keys, &policy)),
            hasher: hasher.clone(),
            events: Arc::new(LogSecurityEvents),
            throttle: Arc::new(db.login_throttle()),
        },
        policy,
    );
    let ada = User {
        id: UserId::from_uuid(uuid::Uuid::new_v4()),
        name: UserName::parse("ada").unwrap(),
        password_hash: hasher.hash(&Password::parse("Password1").unwrap()).unwrap(),
        disabled: false,
        created_at: SystemClock.now(),
    };
    users.create(&ada).unwrap();

    hasher.armed.store(true, Ordering::SeqCst);
    let attempt = thread::spawn(move || {
        login.execute(&LoginRequest {
            user_name: "ada".to_owned(),
            password: Password::parse("Password1").unwrap(),
            long_lived: false,
            client_address: None,
            client_id: None,
        })
    });
    hasher.entered.wait(); // the old state is verified
    change(&users, ada.id);
    sessions
        .revoke_user_families(ada.id, SystemClock.now(), reason)
        .unwrap();
    hasher.release.wait();
    let outcome = attempt.join().unwrap();

    let live: Vec<_> = sessions
        .list_user_families(ada.id)
        .unwrap()
        .into_iter()
        .filter(|f| !f.is_revoked())
        .collect();
    assert!(
        live.is_empty(),
        "the raced login kept a live session: {live:?}"
    );
    assert!(
        matches!(outcome, Err(Error::InvalidCredentials)),
        "the login that read the user before the revocation was not refused: {outcome:?}"
    );
}

fn a_host_users_login_racing_a_host_password_change_stores_no_session(backend: Backend) {
    host_race(
        backend,
        |users, id| {
            let hash = Argon2Hasher::new(Argon2Params {
                memory_kib: 8,
                iterations: 1,
                parallelism: 1,
            })
            .unwrap()
            .hash(&Password::parse("Changed-Password-2").unwrap())
            .unwrap();
            users.set_password_hash(id, &hash).unwrap();
        },
        RevokeReason::PasswordChanged,
    );
}

fn a_host_users_login_racing_a_host_suspension_stores_no_session(backend: Backend) {
    host_race(
        backend,
        |users, id| users.set_disabled(id, true).unwrap(),
        RevokeReason::UserDisabled,
    );
}
