use chrono::{DateTime, Utc};
use tollgate_domain::RevokeReason;

use crate::{Error, RequestOrigin, TokenCheckPorts};

/// RFC 7009 / RFC 7662 `token_type_hint`: which kind of token the caller believes it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// The kinds to try, hinted one first. A hint only orders the search: a wrong hint must not
    /// stop a token from being found (RFC 7009 §2.1).
    pub(crate) fn order(hint: Option<Self>) -> [Self; 2] {
        match hint {
            Some(Self::AccessToken) => [Self::AccessToken, Self::RefreshToken],
            _ => [Self::RefreshToken, Self::AccessToken],
        }
    }
}

/// Token revocation (RFC 7009): a refresh token revokes its family, an access token its `sid`
/// family.
#[derive(Clone)]
pub struct Revocation {
    ports: TokenCheckPorts,
}

impl Revocation {
    /// Builds the use case.
    pub fn new(ports: TokenCheckPorts) -> Self {
        Self { ports }
    }

    /// Revokes the session `token` belongs to. Blocking (storage).
    ///
    /// A token that does not verify (malformed, foreign, expired, wrong audience) or names no
    /// stored session is ignored, so the caller cannot learn whether a token was valid. A spent
    /// refresh token still revokes its family, as it would at the token endpoint.
    ///
    /// `origin.client_id` is the client the request authenticated as (`None` without client
    /// authentication). A token whose family is bound to another client is ignored the same
    /// way (RFC 7009 §2.1: the token must have been issued to the revoking client; the refusal
    /// is silent so that the answer tells nothing about whose token it is).
    /// A family that was live is recorded as revoked, with `origin`.
    ///
    /// # Errors
    /// Storage errors only, as the ports return them.
    pub fn execute(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
        origin: &RequestOrigin,
    ) -> Result<(), Error> {
        let now = self.ports.clock.now();
        for kind in TokenTypeHint::order(hint) {
            let recognised = match kind {
                TokenTypeHint::RefreshToken => self.revoke_refresh(token, now, origin)?,
                TokenTypeHint::AccessToken => self.revoke_access(token, now, origin)?,
            };
            if recognised {
                break;
            }
        }
        Ok(())
    }

    /// Revokes the family of a refresh token; `false` when `token` is not one of ours.
    fn revoke_refresh(
        &self,
        token: &str,
        now: DateTime<Utc>,
        origin: &RequestOrigin,
    ) -> Result<bool, Error> {
        let p = &self.ports;
        let claims = match p.verifier.verify_refresh(token, now) {
            Ok(claims) => claims,
            Err(Error::InvalidToken(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if let Some((record, family)) = p.sessions.find_token(claims.token_id)? {
            // A token whose subject does not own the family is not a credential for it, and a
            // client may revoke only its own tokens and unbound ones.
            if family.user_id == claims.sub
                && record.family_id == family.id
                && family.accepts_client(origin.client_id.as_ref())
            {
                p.revoke_and_record(&family, now, RevokeReason::Revoked, origin)?;
            }
        }
        Ok(true)
    }

    /// Revokes the `sid` family of an access token; `false` when `token` is not one of ours.
    fn revoke_access(
        &self,
        token: &str,
        now: DateTime<Utc>,
        origin: &RequestOrigin,
    ) -> Result<bool, Error> {
        let p = &self.ports;
        let claims = match p.verifier.verify_access(token, now) {
            Ok(claims) => claims,
            Err(Error::InvalidToken(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if let Some(family) = p.sessions.find_family(claims.sid)? {
            if family.user_id == claims.sub && family.accepts_client(origin.client_id.as_ref()) {
                p.revoke_and_record(&family, now, RevokeReason::Revoked, origin)?;
            }
        }
        Ok(true)
    }
}
