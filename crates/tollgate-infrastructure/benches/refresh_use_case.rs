//! The `Refresh` use case alone: RS512 verification and signing with the real codec, storage
//! replaced by an in-memory session store (`Mutex<HashMap>`), so the number is the application
//! layer's share of a refresh with no database and no HTTP.
//!
//! `cargo bench -p tollgate-infrastructure --bench refresh_use_case`. Each iteration presents
//! the token of the previous one, like a client's chain.
#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tollgate_application::{
    Clock, Error, MockUserStore, Refresh, RefreshPorts, RotateOutcome, SessionStore,
};
use tollgate_domain::{
    AccessTokenId, Family, FamilyId, PasswordHash, RefreshTokenRecord, RevokeReason, TokenId,
    TokenPolicy, User, UserId, UserName,
};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet};
use tollgate_infrastructure::{LogSecurityEvents, RandomIds};
use uuid::Uuid;

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Families and tokens in memory; `rotate` is atomic under the one lock, like the database's
/// conditional update + insert.
#[derive(Default)]
struct MemorySessions {
    families: Mutex<HashMap<FamilyId, Family>>,
    tokens: Mutex<HashMap<TokenId, RefreshTokenRecord>>,
}

impl SessionStore for MemorySessions {
    fn create_family(&self, family: &Family, first: &RefreshTokenRecord) -> Result<(), Error> {
        self.families
            .lock()
            .unwrap()
            .insert(family.id, family.clone());
        self.tokens.lock().unwrap().insert(first.id, first.clone());
        Ok(())
    }

    fn create_login_family(
        &self,
        family: &Family,
        first: &RefreshTokenRecord,
        _verified: &PasswordHash,
        _user_read_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        // No user table here: the benchmark's user is always current.
        self.create_family(family, first)?;
        Ok(true)
    }

    fn find_token(&self, id: TokenId) -> Result<Option<(RefreshTokenRecord, Family)>, Error> {
        let Some(record) = self.tokens.lock().unwrap().get(&id).cloned() else {
            return Ok(None);
        };
        let family = self
            .families
            .lock()
            .unwrap()
            .get(&record.family_id)
            .cloned();
        Ok(family.map(|f| (record, f)))
    }

    fn find_family(&self, id: FamilyId) -> Result<Option<Family>, Error> {
        Ok(self.families.lock().unwrap().get(&id).cloned())
    }

    fn list_user_families(&self, user: UserId) -> Result<Vec<Family>, Error> {
        let families = self.families.lock().unwrap();
        Ok(families
            .values()
            .filter(|f| f.user_id == user)
            .cloned()
            .collect())
    }

    fn find_successor(&self, parent: TokenId) -> Result<Option<RefreshTokenRecord>, Error> {
        let tokens = self.tokens.lock().unwrap();
        Ok(tokens
            .values()
            .find(|t| t.parent_id == Some(parent))
            .cloned())
    }

    fn rotate(
        &self,
        presented: TokenId,
        at: DateTime<Utc>,
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, Error> {
        let mut tokens = self.tokens.lock().unwrap();
        let Some(record) = tokens.get_mut(&presented) else {
            return Ok(RotateOutcome::NotFound);
        };
        if record.used_at.is_some() {
            return Ok(RotateOutcome::AlreadyUsed);
        }
        record.used_at = Some(at);
        tokens.insert(successor.id, successor.clone());
        Ok(RotateOutcome::Rotated)
    }

    fn revoke_family(
        &self,
        id: FamilyId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<bool, Error> {
        let mut families = self.families.lock().unwrap();
        Ok(families.get_mut(&id).is_some_and(|f| {
            let live = f.revoked_at.is_none();
            if live {
                f.revoked_at = Some(at);
                f.revoke_reason = Some(reason);
            }
            live
        }))
    }

    fn revoke_user_families(
        &self,
        user: UserId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<u64, Error> {
        let ids: Vec<_> = self
            .list_user_families(user)?
            .into_iter()
            .map(|f| f.id)
            .collect();
        let mut n = 0;
        for id in ids {
            n += u64::from(self.revoke_family(id, at, reason)?);
        }
        Ok(n)
    }
}

fn refresh(c: &mut Criterion) {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 30, 10, 15, 0)
        .single()
        .expect("instant");
    let policy = TokenPolicy {
        issuer: "https://auth.example".into(),
        access_ttl: Duration::minutes(15),
        refresh_ttl: Duration::hours(24),
        refresh_long_ttl: Duration::days(14),
        family_max_lifetime: Duration::days(90),
        reuse_grace: Duration::zero(),
        leeway: Duration::seconds(30),
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let keys = Arc::new(KeySet::load_or_generate(&dir.path().join("keys")).expect("keys"));
    let codec = Arc::new(JwtCodec::new(
        keys,
        policy.issuer.clone(),
        Duration::seconds(30),
    ));
    let user = User {
        id: UserId::from_uuid(Uuid::new_v4()),
        name: UserName::parse("bench").expect("name"),
        password_hash: PasswordHash::new("$argon2id$unused".into()),
        disabled: false,
        created_at: now,
    };
    let mut users = MockUserStore::new();
    let found = user.clone();
    users
        .expect_find_by_id()
        .returning(move |_| Ok(Some(found.clone())));
    let sessions = Arc::new(MemorySessions::default());
    // Exactly the ports a refresh uses.
    let ports = RefreshPorts {
        clock: Arc::new(FixedClock(now)),
        ids: Arc::new(RandomIds),
        users: Arc::new(users),
        sessions: sessions.clone(),
        signer: codec.clone(),
        verifier: codec.clone(),
        events: Arc::new(LogSecurityEvents),
    };
    let family = Family {
        id: FamilyId::from_uuid(Uuid::new_v4()),
        user_id: user.id,
        created_at: now,
        expires_at: now + policy.family_max_lifetime,
        long_lived: false,
        revoked_at: None,
        revoke_reason: None,
        client_id: None,
        jkt: None,
    };
    let first = RefreshTokenRecord {
        id: TokenId::from_uuid(Uuid::new_v4()),
        family_id: family.id,
        parent_id: None,
        access_token_id: AccessTokenId::from_uuid(Uuid::new_v4()),
        issued_at: now,
        expires_at: now + policy.refresh_ttl,
        used_at: None,
    };
    sessions.create_family(&family, &first).expect("seed");
    let claims = tollgate_domain::RefreshClaims {
        unique_name: "bench".into(),
        token_id: first.id,
        short_term: true,
        sub: user.id,
        issued_at: now,
        expires_at: first.expires_at,
        issuer: policy.issuer.clone(),
    };
    let mut token =
        tollgate_application::TokenSigner::sign_refresh(codec.as_ref(), &claims).expect("sign");
    let use_case = Refresh::new(ports, Arc::new(policy));
    let mut group = c.benchmark_group("refresh_use_case");
    group.throughput(Throughput::Elements(1));
    group.bench_function("RS512 in-memory store", |b| {
        b.iter(|| {
            token = use_case
                .execute(&token, None)
                .expect("refresh")
                .refresh_token;
        });
    });
    group.finish();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
