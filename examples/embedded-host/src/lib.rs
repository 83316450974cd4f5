//! A host application embedding Tollgate: its members live in its own `members` table, Tollgate
//! keeps the sessions in the same SQLite file, and the token routes are mounted under `/auth`.

use std::error::Error as StdError;
use std::path::Path;
use std::sync::{Arc, Mutex};

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tollgate_application::{
    AccessGuard, Clock, Error, Login, LoginPorts, PasswordHasher, Refresh, RefreshPorts,
    SessionStore, TokenCheckPorts, UserStore,
};
use tollgate_domain::{Password, PasswordHash, RevokeReason, TokenPolicy, User, UserId, UserName};
use tollgate_infrastructure::db::{Database, DieselSessionStore, PoolOptions};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet};
use tollgate_infrastructure::{
    Argon2Hasher, Argon2Params, LogSecurityEvents, RandomIds, SystemClock,
};
use tollgate_web::{Authenticated, BearerAuth, TokenService};

diesel::table! {
    /// The host's own accounts. Tollgate never reads this table; it asks [`Members`].
    members (id) {
        id -> Text,
        login -> Text,
        password_hash -> Text,
        suspended -> Bool,
        joined_at -> BigInt,
    }
}

type Row = (String, String, String, bool, i64);

/// The host's members, offered to Tollgate as its [`UserStore`].
pub struct Members {
    conn: Mutex<SqliteConnection>,
}

impl Members {
    /// Opens `file` and creates the `members` table if needed.
    ///
    /// # Errors
    /// When the file cannot be opened or the table created.
    pub fn open(file: &Path) -> Result<Self, Box<dyn StdError>> {
        let mut conn = SqliteConnection::establish(&file.to_string_lossy())?;
        diesel::sql_query("PRAGMA busy_timeout = 5000").execute(&mut conn)?;
        diesel::sql_query(
            "CREATE TABLE IF NOT EXISTS members (id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, \
             password_hash TEXT NOT NULL, suspended BOOLEAN NOT NULL, joined_at BIGINT NOT NULL)",
        )
        .execute(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Signs a member up with a password hashed by `hasher` (the one Tollgate verifies with).
    ///
    /// # Errors
    /// An invalid name or password, a taken name, or a storage failure.
    pub fn sign_up(
        &self,
        login: &str,
        password: &str,
        hasher: &dyn PasswordHasher,
    ) -> Result<User, Error> {
        let user = User {
            id: UserId::from_uuid(uuid::Uuid::new_v4()),
            name: UserName::parse(login)?,
            password_hash: hasher.hash(&Password::parse(password)?)?,
            disabled: false,
            created_at: SystemClock.now(),
        };
        self.create(&user)?;
        Ok(user)
    }

    fn run<T>(
        &self,
        query: impl FnOnce(&mut SqliteConnection) -> QueryResult<T>,
    ) -> Result<T, Error> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Error::Unexpected("lock poisoned".into()))?;
        query(&mut conn).map_err(|e| Error::Unexpected(Box::new(e)))
    }

    fn one(
        &self,
        query: impl FnOnce(&mut SqliteConnection) -> QueryResult<Option<Row>>,
    ) -> Result<Option<User>, Error> {
        self.run(query)?.map(to_user).transpose()
    }
}

fn to_user((id, login, hash, suspended, joined_at): Row) -> Result<User, Error> {
    let bad = |what: &str| Error::Unexpected(format!("bad member row: {what}").into());
    Ok(User {
        id: UserId::from_uuid(id.parse().map_err(|_| bad("id"))?),
        name: UserName::parse(&login)?,
        password_hash: PasswordHash::new(hash),
        disabled: suspended,
        created_at: DateTime::from_timestamp(joined_at, 0).ok_or_else(|| bad("joined_at"))?,
    })
}

fn updated(rows: usize) -> Result<(), Error> {
    if rows == 0 {
        Err(Error::UserNotFound)
    } else {
        Ok(())
    }
}

impl UserStore for Members {
    fn create(&self, user: &User) -> Result<(), Error> {
        let row = (
            members::id.eq(user.id.to_string()),
            members::login.eq(user.name.as_str()),
            members::password_hash.eq(user.password_hash.as_str()),
            members::suspended.eq(user.disabled),
            members::joined_at.eq(user.created_at.timestamp()),
        );
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Error::Unexpected("lock poisoned".into()))?;
        match diesel::insert_into(members::table)
            .values(row)
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Err(Error::UserExists)
            }
            Err(e) => Err(Error::Unexpected(Box::new(e))),
        }
    }

    fn find_by_name(&self, name: &UserName) -> Result<Option<User>, Error> {
        self.one(|c| {
            members::table
                .filter(members::login.eq(name.as_str()))
                .get_result(c)
                .optional()
        })
    }

    fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        self.one(|c| members::table.find(id.to_string()).get_result(c).optional())
    }

    fn list(&self) -> Result<Vec<User>, Error> {
        let rows: Vec<Row> = self.run(|c| members::table.order(members::login).load(c))?;
        rows.into_iter().map(to_user).collect()
    }

    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<(), Error> {
        let target = members::table.find(id.to_string());
        updated(self.run(|c| {
            diesel::update(target)
                .set(members::suspended.eq(disabled))
                .execute(c)
        })?)
    }

    fn set_password_hash(&self, id: UserId, hash: &PasswordHash) -> Result<(), Error> {
        let target = members::table.find(id.to_string());
        updated(self.run(|c| {
            diesel::update(target)
                .set(members::password_hash.eq(hash.as_str()))
                .execute(c)
        })?)
    }

    fn replace_password_hash(
        &self,
        id: UserId,
        old: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, Error> {
        // Conditional on the old hash, so a rehash never overwrites a password set meanwhile.
        let target = members::table
            .find(id.to_string())
            .filter(members::password_hash.eq(old.as_str()));
        let rows = self.run(|c| {
            diesel::update(target)
                .set(members::password_hash.eq(new.as_str()))
                .execute(c)
        })?;
        Ok(rows == 1)
    }

    /// Deletes the member. Their refresh tokens stop working at once (`Refresh` finds no owner);
    /// a host that wants the session rows gone too calls `SessionStore::revoke_user_families`
    /// (as [`Auth::change_password`] does).
    fn delete(&self, id: UserId) -> Result<(), Error> {
        updated(self.run(|c| diesel::delete(members::table.find(id.to_string())).execute(c))?)
    }
}

/// Tollgate as this host wires it.
pub struct Auth {
    /// The token routes (`POST /api/oauth2/token`, logout, `GET /api/users/me`).
    pub tokens: TokenService,
    /// Guards the host's own routes; checks the session too, so logout and reuse act at once.
    pub bearer: BearerAuth,
    /// The host's members.
    pub members: Arc<Members>,
    /// The password hasher Tollgate verifies with, for signing members up.
    pub hasher: Arc<Argon2Hasher>,
    /// Tollgate's sessions of the members.
    pub sessions: Arc<DieselSessionStore>,
}

impl Auth {
    /// Sets a member's password, then ends their sessions: those that exist, and those of
    /// logins that checked the old password meanwhile. The revocation comes *after* the change,
    /// because it also records its instant as the member's cut-off, in the same database as
    /// the sessions: a login that read the member before it stores no session.
    ///
    /// # Errors
    /// An invalid password, an unknown member, or a storage failure.
    pub fn change_password(&self, member: UserId, password: &str) -> Result<(), Error> {
        let hash = self.hasher.hash(&Password::parse(password)?)?;
        self.members.set_password_hash(member, &hash)?;
        self.end_sessions(member, RevokeReason::PasswordChanged)
    }

    /// Suspends a member, then ends their sessions (see [`Auth::change_password`]).
    ///
    /// # Errors
    /// An unknown member or a storage failure.
    pub fn suspend(&self, member: UserId) -> Result<(), Error> {
        self.members.set_disabled(member, true)?;
        self.end_sessions(member, RevokeReason::UserDisabled)
    }

    fn end_sessions(&self, member: UserId, reason: RevokeReason) -> Result<(), Error> {
        self.sessions
            .revoke_user_families(member, SystemClock.now(), reason)?;
        Ok(())
    }
}

/// Opens the host's members and Tollgate's sessions in `db_file`, and its signing keys in `keys_dir`.
///
/// # Errors
/// When the database or the keys cannot be opened.
pub fn tollgate(db_file: &Path, keys_dir: &Path, issuer: &str) -> Result<Auth, Box<dyn StdError>> {
    // Tollgate first: it creates the file private (0600) and refuses one others can read, which
    // matters here since the host's member hashes live in the same file.
    let db = Database::connect(
        &format!("sqlite://{}", db_file.display()),
        &PoolOptions::default(),
    )?;
    let members = Arc::new(Members::open(db_file)?);
    let policy = Arc::new(TokenPolicy {
        issuer: issuer.to_owned(),
        access_ttl: Duration::minutes(15),
        refresh_ttl: Duration::days(1),
        refresh_long_ttl: Duration::days(14),
        family_max_lifetime: Duration::days(90),
        reuse_grace: Duration::zero(),
        leeway: Duration::seconds(30),
    });
    let codec = Arc::new(JwtCodec::for_policy(
        Arc::new(KeySet::load_or_generate(keys_dir)?),
        &policy,
    ));
    let hasher = Arc::new(Argon2Hasher::new(Argon2Params::default())?);
    let (clock, ids, events) = (
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        Arc::new(LogSecurityEvents),
    );
    let sessions = Arc::new(db.session_store_for_external_users());
    let login = Login::new(
        LoginPorts {
            clock: clock.clone(),
            ids: ids.clone(),
            users: members.clone(),
            sessions: sessions.clone(),
            signer: codec.clone(),
            hasher: hasher.clone(),
            events: events.clone(),
            // Failed logins are counted in Tollgate's tables, shared by every process.
            throttle: Arc::new(db.login_throttle()),
        },
        policy.clone(),
    );
    let refresh = Refresh::new(
        RefreshPorts {
            clock: clock.clone(),
            ids,
            users: members.clone(),
            sessions: sessions.clone(),
            signer: codec.clone(),
            verifier: codec.clone(),
            events: events.clone(),
        },
        policy,
    );
    let guard = AccessGuard::new(TokenCheckPorts {
        clock,
        verifier: codec,
        sessions: sessions.clone(),
        events,
    });
    Ok(Auth {
        tokens: TokenService::builder(login, refresh)
            .logout(guard.clone())
            .build(),
        bearer: BearerAuth::with_session_check(guard).realm("notes"),
        members,
        hasher,
        sessions,
    })
}

/// The host's routes: Tollgate's under `/auth`, its own `GET /api/notes` for members only.
pub fn routes(auth: &Auth) -> impl FnOnce(&mut web::ServiceConfig) {
    let (tokens, bearer) = (auth.tokens.configure(), web::Data::new(auth.bearer.clone()));
    move |cfg| {
        cfg.app_data(bearer)
            .service(web::scope("/auth").configure(tokens))
            .route("/api/notes", web::get().to(notes));
    }
}

async fn notes(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok()
        .json(serde_json::json!({ "owner": caller.0.unique_name, "notes": ["embed Tollgate"] }))
}
