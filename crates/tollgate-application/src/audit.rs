use std::sync::Arc;

use tollgate_domain::{UserId, UserName};
use uuid::Uuid;

use crate::{Error, EventFilter, SecurityEventLog, SecurityEventRecord, UserStore};

/// The ports [`AuditTrail`] uses, and only those.
#[derive(Clone)]
pub struct AuditTrailPorts {
    /// Resolves a user name to the id events are stored under.
    pub users: Arc<dyn UserStore>,
    /// The stored events.
    pub log: Arc<dyn SecurityEventLog>,
}

/// Reading the security event trail: what `tollgate audit` does.
#[derive(Clone)]
pub struct AuditTrail {
    ports: AuditTrailPorts,
}

impl AuditTrail {
    /// Builds the use case.
    pub fn new(ports: AuditTrailPorts) -> Self {
        Self { ports }
    }

    /// The events `filter` selects, newest first; `user`, when given, narrows them to one user,
    /// named by login name or by id (a deleted user's events are found by id).
    ///
    /// # Errors
    /// [`Error::UserNotFound`] when `user` is neither a user's name nor a UUID; storage errors
    /// as the ports return them.
    pub fn list(
        &self,
        user: Option<&str>,
        filter: EventFilter,
    ) -> Result<Vec<SecurityEventRecord>, Error> {
        let filter = match user {
            Some(user) => EventFilter {
                user_id: Some(self.resolve(user)?),
                ..filter
            },
            None => filter,
        };
        self.ports.log.list(&filter)
    }

    /// A name first (names are what operators type), then an id.
    fn resolve(&self, user: &str) -> Result<UserId, Error> {
        if let Ok(name) = UserName::parse(user) {
            if let Some(found) = self.ports.users.find_by_name(&name)? {
                return Ok(found.id);
            }
        }
        Uuid::parse_str(user)
            .map(UserId::from_uuid)
            .map_err(|_| Error::UserNotFound)
    }
}
