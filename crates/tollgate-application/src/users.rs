use tollgate_domain::{Family, Password, RevokeReason, User, UserId, UserName};

use std::sync::Arc;

use crate::{
    Clock, Error, IdGenerator, PasswordHasher, RequestOrigin, SecurityEvent, SecurityEventKind,
    SecurityEvents, SessionStore, UserStore,
};

/// The ports [`UserAdmin`] uses, and only those.
#[derive(Clone)]
pub struct UserAdminPorts {
    /// Time source (creation and revocation instants).
    pub clock: Arc<dyn Clock>,
    /// Ids of new users.
    pub ids: Arc<dyn IdGenerator>,
    /// The accounts administered.
    pub users: Arc<dyn UserStore>,
    /// The users' families, listed and revoked.
    pub sessions: Arc<dyn SessionStore>,
    /// Hashes new passwords.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Hears about disabled, enabled and deleted users, password changes and revocations.
    pub events: Arc<dyn SecurityEvents>,
}

/// User administration: what the `tollgate user …` commands do.
#[derive(Clone)]
pub struct UserAdmin {
    ports: UserAdminPorts,
}

impl UserAdmin {
    /// Builds the use case.
    pub fn new(ports: UserAdminPorts) -> Self {
        Self { ports }
    }

    /// Creates a user.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad name or password, [`Error::UserExists`] when taken.
    pub fn add(&self, name: &str, password: &str) -> Result<User, Error> {
        let p = &self.ports;
        let user = User {
            id: UserId::from_uuid(p.ids.new_uuid()),
            name: UserName::parse(name)?,
            password_hash: p.hasher.hash(&Password::parse(password)?)?,
            disabled: false,
            created_at: p.clock.now(),
        };
        p.users.create(&user)?;
        Ok(user)
    }

    /// Every user, ordered by name.
    ///
    /// # Errors
    /// Storage errors only.
    pub fn list(&self) -> Result<Vec<User>, Error> {
        self.ports.users.list()
    }

    /// Disables a user and revokes all their sessions, or enables them again.
    /// Returns how many sessions were revoked.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] for an unknown name.
    pub fn set_disabled(&self, name: &str, disabled: bool) -> Result<u64, Error> {
        let user = self.find(name)?;
        self.ports.users.set_disabled(user.id, disabled)?;
        let user_id = user.id;
        if disabled {
            self.record(SecurityEventKind::UserDisabled { user_id });
            self.revoke_all(user.id, RevokeReason::UserDisabled)
        } else {
            self.record(SecurityEventKind::UserEnabled { user_id });
            Ok(0)
        }
    }

    /// Sets a new password and revokes all the user's sessions. Returns how many were revoked.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad password, [`Error::UserNotFound`] for an unknown name.
    pub fn set_password(&self, name: &str, password: &str) -> Result<u64, Error> {
        let password = Password::parse(password)?;
        let user = self.find(name)?;
        let hash = self.ports.hasher.hash(&password)?;
        self.ports.users.set_password_hash(user.id, &hash)?;
        self.record(SecurityEventKind::PasswordChanged { user_id: user.id });
        self.revoke_all(user.id, RevokeReason::PasswordChanged)
    }

    /// Deletes a user: their sessions are revoked (and reported), then the user and every
    /// session record are removed. Returns how many sessions were live.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] for an unknown name.
    pub fn delete(&self, name: &str) -> Result<u64, Error> {
        let user = self.find(name)?;
        // Revoke first: should the delete fail, the user's tokens are dead all the same.
        let revoked = self.revoke_all(user.id, RevokeReason::UserDeleted)?;
        self.ports.users.delete(user.id)?;
        self.record(SecurityEventKind::UserDeleted { user_id: user.id });
        Ok(revoked)
    }

    /// Every session (family) of a user, newest first, revoked ones included.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] for an unknown name.
    pub fn list_sessions(&self, name: &str) -> Result<Vec<Family>, Error> {
        let user = self.find(name)?;
        self.ports.sessions.list_user_families(user.id)
    }

    /// Revokes every live session of a user. Returns how many were live.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] for an unknown name.
    pub fn revoke_sessions(&self, name: &str) -> Result<u64, Error> {
        let user = self.find(name)?;
        self.revoke_all(user.id, RevokeReason::Admin)
    }

    fn find(&self, name: &str) -> Result<User, Error> {
        let name = UserName::parse(name)?;
        self.ports
            .users
            .find_by_name(&name)?
            .ok_or(Error::UserNotFound)
    }

    fn revoke_all(&self, user_id: UserId, reason: RevokeReason) -> Result<u64, Error> {
        let p = &self.ports;
        let count = p
            .sessions
            .revoke_user_families(user_id, p.clock.now(), reason)?;
        if count > 0 {
            self.record(SecurityEventKind::FamilyRevoked {
                user_id,
                family_id: None,
                reason,
                count,
            });
        }
        Ok(count)
    }

    /// Records an administrative event (no request origin: it comes from the command line).
    fn record(&self, kind: SecurityEventKind) {
        self.ports.events.record(&SecurityEvent {
            at: self.ports.clock.now(),
            origin: RequestOrigin::default(),
            kind,
        });
    }
}
