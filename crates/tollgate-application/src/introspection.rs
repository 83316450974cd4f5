use tollgate_domain::rotation::{self, Assessment};
use tollgate_domain::{AccessClaims, RefreshClaims};

use crate::{AccessGuard, Error, TokenCheckPorts, TokenTypeHint};

/// What introspection found out about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspected {
    /// Not a token this server would accept now, for whatever reason (RFC 7662 `active: false`).
    Inactive,
    /// A live access token: verified, and its session (`sid`) live.
    Access(AccessClaims),
    /// A live refresh token: verified, stored, unspent, its family live and unexpired.
    Refresh(RefreshClaims),
}

/// Token introspection (RFC 7662): whether a token is active right now, and its claims.
#[derive(Clone)]
pub struct Introspection {
    ports: TokenCheckPorts,
    /// The same rule as the bearer-protected endpoints, so that introspection and this server's
    /// own checks never disagree about an access token.
    access: AccessGuard,
}

impl Introspection {
    /// Builds the use case.
    pub fn new(ports: TokenCheckPorts) -> Self {
        Self {
            access: AccessGuard::new(ports.clone()),
            ports,
        }
    }

    /// Introspects `token`. Blocking (storage).
    ///
    /// # Errors
    /// Storage errors only; every kind of refusal is [`Introspected::Inactive`].
    pub fn execute(&self, token: &str, hint: Option<TokenTypeHint>) -> Result<Introspected, Error> {
        for kind in TokenTypeHint::order(hint) {
            let found = match kind {
                TokenTypeHint::AccessToken => match self.access.authenticate(token) {
                    Ok(claims) => Some(Introspected::Access(claims)),
                    Err(Error::InvalidToken(_)) => None,
                    Err(e) => return Err(e),
                },
                TokenTypeHint::RefreshToken => self.refresh(token)?.map(Introspected::Refresh),
            };
            if let Some(found) = found {
                return Ok(found);
            }
        }
        Ok(Introspected::Inactive)
    }

    /// The claims of `token` if it is a refresh token the refresh grant would rotate now.
    fn refresh(&self, token: &str) -> Result<Option<RefreshClaims>, Error> {
        let p = &self.ports;
        let now = p.clock.now();
        let claims = match p.verifier.verify_refresh(token, now) {
            Ok(claims) => claims,
            Err(Error::InvalidToken(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some((record, family)) = p.sessions.find_token(claims.token_id)? else {
            return Ok(None);
        };
        // The rotation rules decide: a spent token is not active, even inside a retry grace
        // (which can only hand back the pair already issued).
        Ok(match rotation::assess(&claims, &record, &family, now) {
            Assessment::Rotate => Some(claims),
            Assessment::Reuse | Assessment::Reject(_) => None,
        })
    }
}
