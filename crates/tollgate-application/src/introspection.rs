use tollgate_domain::rotation::{self, Assessment};
use tollgate_domain::{AccessClaims, Client, ClientId, Jkt, RefreshClaims};

use crate::{AccessGuard, Error, TokenCheckPorts, TokenTypeHint};

/// What introspection found out about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspected {
    /// Not a token this server would accept now, or not one the caller may see (RFC 7662
    /// `active: false`).
    Inactive,
    /// A live access token: verified, and its session (`sid`) live.
    Access {
        /// Its claims.
        claims: AccessClaims,
        /// The client its session is bound to, if any (RFC 7662 `client_id`).
        client_id: Option<ClientId>,
    },
    /// A live refresh token: verified, stored, unspent, its family live and unexpired.
    Refresh {
        /// Its claims.
        claims: RefreshClaims,
        /// The client its family is bound to, if any (RFC 7662 `client_id`).
        client_id: Option<ClientId>,
        /// The DPoP key its family is bound to, if any (`cnf.jkt`, RFC 9449 §6.2).
        jkt: Option<Jkt>,
    },
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

    /// Introspects `token` for the authenticated client `caller`. Blocking (storage).
    ///
    /// A token bound to another client is [`Introspected::Inactive`] unless `caller` is marked
    /// `introspect_any` (RFC 7662 §2.1 lets the server decide which tokens a caller may see;
    /// see `Client::may_introspect`).
    ///
    /// # Errors
    /// Storage errors only; every kind of refusal is [`Introspected::Inactive`].
    pub fn execute(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
        caller: &Client,
    ) -> Result<Introspected, Error> {
        for kind in TokenTypeHint::order(hint) {
            let found = match kind {
                TokenTypeHint::AccessToken => match self.access.session(token) {
                    Ok((claims, family)) if caller.may_introspect(&family) => {
                        Some(Introspected::Access {
                            claims,
                            client_id: family.client_id,
                        })
                    }
                    // Recognised, but not the caller's to see: no point trying the other kind.
                    Ok(_) => return Ok(Introspected::Inactive),
                    Err(Error::InvalidToken(_)) => None,
                    Err(e) => return Err(e),
                },
                TokenTypeHint::RefreshToken => self.refresh(token, caller)?,
            };
            if let Some(found) = found {
                return Ok(found);
            }
        }
        Ok(Introspected::Inactive)
    }

    /// `token` as a refresh token the refresh grant would rotate now and `caller` may see.
    fn refresh(&self, token: &str, caller: &Client) -> Result<Option<Introspected>, Error> {
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
        if !caller.may_introspect(&family) {
            return Ok(Some(Introspected::Inactive));
        }
        // The rotation rules decide: a spent token is not active, even inside a retry grace
        // (which can only hand back the pair already issued).
        Ok(match rotation::assess(&claims, &record, &family, now) {
            Assessment::Rotate => Some(Introspected::Refresh {
                claims,
                client_id: family.client_id,
                jkt: family.jkt,
            }),
            Assessment::Reuse | Assessment::Reject(_) => None,
        })
    }
}
