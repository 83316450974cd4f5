//! A login racing `set-password`, `disable` or `delete`: the login verified the old state, the
//! administrator changed it while the login was still hashing; the login must not end up with a
//! working session. A hasher that blocks inside `verify` makes the race deterministic.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use tollgate_application::{Error, PasswordHasher};
use tollgate_domain::{Password, PasswordHash};
use tollgate_infrastructure::{Argon2Hasher, Argon2Params};
use tollgate_tests::{backend_tests, Backend, TestApp};

backend_tests! {
    a_login_racing_a_password_change_gets_no_working_session,
    a_login_racing_a_disable_gets_no_working_session,
    a_login_racing_a_delete_gets_no_working_session,
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

fn race(backend: Backend, change: impl FnOnce(&TestApp)) {
    let hasher = Arc::new(GatedHasher {
        inner: Argon2Hasher::new(Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap(),
        armed: AtomicBool::new(false),
        entered: Barrier::new(2),
        release: Barrier::new(2),
    });
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
