use std::sync::Arc;

use chrono::{DateTime, Utc};

use tollgate_domain::rotation::{self, Assessment};
use tollgate_domain::{
    AccessTokenId, ClientId, DpopRejection, Family, Jkt, RefreshClaims, RefreshTokenRecord,
    RevokeReason, TokenId, TokenPolicy, TokenRejection, User,
};

use crate::issue::sign_pair;
use crate::{
    Clock, Error, IdGenerator, RequestOrigin, RotateOutcome, SecurityEvent, SecurityEventKind,
    SecurityEvents, SessionStore, TokenPair, TokenSigner, TokenVerifier, UserStore,
};

/// The ports [`Refresh`] uses, and only those.
#[derive(Clone)]
pub struct RefreshPorts {
    /// Time source (expiry checks, `used_at`, the successor's instants).
    pub clock: Arc<dyn Clock>,
    /// Ids of the successor refresh and access tokens.
    pub ids: Arc<dyn IdGenerator>,
    /// The family's owner, who must still exist and be enabled (a host may bring its own).
    pub users: Arc<dyn UserStore>,
    /// Token records and families: lookup, rotation, revocation on reuse.
    pub sessions: Arc<dyn SessionStore>,
    /// Signs the successor pair.
    pub signer: Arc<dyn TokenSigner>,
    /// Verifies the presented refresh token.
    pub verifier: Arc<dyn TokenVerifier>,
    /// Hears about reuse.
    pub events: Arc<dyn SecurityEvents>,
}

/// The refresh grant: spends a refresh token and issues its successor pair.
#[derive(Clone)]
pub struct Refresh {
    ports: RefreshPorts,
    policy: Arc<TokenPolicy>,
}

impl Refresh {
    /// Builds the use case.
    pub fn new(ports: RefreshPorts, policy: Arc<TokenPolicy>) -> Self {
        Self { ports, policy }
    }

    /// Exchanges a refresh token for a new pair. Blocking (storage).
    ///
    /// A token that was already spent, including by a concurrent request that won the race,
    /// revokes its whole family, except within the retry grace (`TokenPolicy::reuse_grace`,
    /// API.md §3): the token spent last in its family, presented again at most that long after
    /// it was spent while its successor is still unused, gets that successor's pair again, signed
    /// anew from the stored record and so byte-identical. A retry never mints a second successor.
    ///
    /// `client` is the client the request authenticated as (`None` without client
    /// authentication). A token whose family is bound to a client is refused to every other
    /// caller before anything else is judged (RFC 6749 §6): nothing is spent or revoked, so a
    /// caller that is not the token's client can neither use it nor, by presenting it spent,
    /// revoke its family. An unbound token is accepted from any caller (see
    /// `Family::accepts_client`).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] when the token is refused for any reason; storage errors as the
    /// ports return them (a storage error never leaves a half-done rotation).
    pub fn execute(&self, token: &str, client: Option<&ClientId>) -> Result<TokenPair, Error> {
        let origin = RequestOrigin {
            client_id: client.cloned(),
            address: None,
        };
        self.execute_from(token, &origin)
    }

    /// [`Refresh::execute`] for a request from `origin`: `origin.client_id` is the client the
    /// request authenticated as (the binding is checked against it), and a reuse detection's
    /// security events carry the whole origin. Without a DPoP key: a family bound to one is
    /// refused (see [`Refresh::execute_with_key`]).
    ///
    /// # Errors
    /// As [`Refresh::execute_with_key`].
    pub fn execute_from(&self, token: &str, origin: &RequestOrigin) -> Result<TokenPair, Error> {
        self.execute_with_key(token, origin, None)
    }

    /// As [`Refresh::execute_from`], with the DPoP key `jkt` of a proof
    /// [`DpopCheck`](crate::DpopCheck) accepted for this request. A family bound to a key
    /// (RFC 9449 §5) is refreshed only with a proof by that key: without one, or with another
    /// key, the token is refused before anything is read about its use, so nothing is spent and
    /// a thief holding only the token cannot even trip reuse detection. An unbound family
    /// ignores `jkt` and stays a bearer family. The client binding (RFC 6749 §6) is checked
    /// first and independently: a bound family needs its client AND, if it has one, its key.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] with [`TokenRejection::ClientMismatch`] for another client's
    /// family; [`Error::InvalidDpopProof`] with [`DpopRejection::KeyMismatch`] for a
    /// key-bound family without its key; otherwise as [`Refresh::execute`].
    pub fn execute_with_key(
        &self,
        token: &str,
        origin: &RequestOrigin,
        jkt: Option<&Jkt>,
    ) -> Result<TokenPair, Error> {
        let ctx = Ctx { origin };
        let client = origin.client_id.as_ref();
        let p = &self.ports;
        let now = p.clock.now();
        let claims = p.verifier.verify_refresh(token, now)?;
        // The owner comes with the token where the store can join it (one round trip less).
        let (record, family, owner) = p
            .sessions
            .find_token_with_owner(claims.token_id)?
            .ok_or(Error::InvalidToken(TokenRejection::UnknownTokenId))?;
        if !family.accepts_client(client) {
            return Err(Error::InvalidToken(TokenRejection::ClientMismatch));
        }
        if family.jkt.is_some() && family.jkt.as_ref() != jkt {
            return Err(Error::InvalidDpopProof(DpopRejection::KeyMismatch));
        }

        match rotation::assess(&claims, &record, &family, now) {
            Assessment::Rotate => self.rotate(ctx, &claims, &record, &family, owner, now),
            Assessment::Reuse => self.spent_token_presented(ctx, &record, &family, owner, now),
            Assessment::Reject(reason) => Err(Error::InvalidToken(reason)),
        }
    }

    /// Spends the live `record` and stores its successor; answers with the successor's pair.
    /// `owner` is the family's owner if the store read it with the token.
    fn rotate(
        &self,
        ctx: Ctx<'_>,
        claims: &RefreshClaims,
        record: &RefreshTokenRecord,
        family: &Family,
        owner: Option<User>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, Error> {
        let p = &self.ports;
        let user = self.owner(family, owner)?;
        let successor = rotation::successor(
            record,
            family,
            &self.policy,
            now,
            TokenId::from_uuid(p.ids.new_uuid()),
            AccessTokenId::from_uuid(p.ids.new_uuid()),
        );
        // Sign first, so that once the token is spent nothing can fail before we answer.
        let pair = sign_pair(p.signer.as_ref(), &self.policy, &user, family, &successor)?;
        match p.sessions.rotate(record.id, now, &successor)? {
            RotateOutcome::Rotated => Ok(pair),
            // `pair` is dropped unsent: its successor was never stored, so it was never minted.
            RotateOutcome::AlreadyUsed => self.lost_rotation_race(ctx, claims, record, family, now),
            RotateOutcome::FamilyRevoked => Err(Error::InvalidToken(TokenRejection::Revoked)),
            RotateOutcome::NotFound => Err(Error::InvalidToken(TokenRejection::UnknownTokenId)),
        }
    }

    /// Someone spent `record` between our read and our write.
    ///
    /// Without a grace that is reuse, as it always was. With one, the request is judged as if it
    /// had arrived a moment later and found the token spent: a client retrying while its first
    /// request is still in flight is the very case the grace exists for, and its outcome should
    /// not hinge on which of the two requests reached the database first. So the token is read
    /// again (the winner's `used_at` and successor are committed by now, in one transaction) and
    /// goes down the spent-token path: the winner's pair is re-sent or the family is revoked.
    /// Nothing is minted either way.
    fn lost_rotation_race(
        &self,
        ctx: Ctx<'_>,
        claims: &RefreshClaims,
        record: &RefreshTokenRecord,
        family: &Family,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, Error> {
        if !self.grace_enabled() {
            return Err(self.reuse_detected(ctx, record, family, now));
        }
        let Some((record, family)) = self.ports.sessions.find_token(record.id)? else {
            return Err(Error::InvalidToken(TokenRejection::UnknownTokenId));
        };
        match rotation::assess(claims, &record, &family, now) {
            Assessment::Reuse => self.spent_token_presented(ctx, &record, &family, None, now),
            Assessment::Reject(reason) => Err(Error::InvalidToken(reason)),
            // The store has just reported the token spent; reading it unused contradicts that,
            // and the safe reading of a contradiction about a spent token is reuse.
            Assessment::Rotate => Err(self.reuse_detected(ctx, &record, &family, now)),
        }
    }

    /// A spent token came back: a retry inside the grace, or reuse.
    ///
    /// Linearizable against the successor's own use and against revocations without a
    /// transaction, because every fact read here only moves one way: `used_at` and `revoked_at`
    /// are set once and never cleared, and a successor is stored in the same transaction that
    /// spends its parent. `record` and `family` were read together at some instant t1, the
    /// successor later. If the successor is still unused then, it was stored and unused at t1
    /// too, so every condition of the grace held at t1 and the answer is the one a request
    /// served entirely at t1 would get; the successor's use, if it comes, is an ordinary
    /// rotation ordered after it. If the successor is spent when read, its use came first and
    /// this is reuse: the revocation kills the grandchild as well.
    fn spent_token_presented(
        &self,
        ctx: Ctx<'_>,
        record: &RefreshTokenRecord,
        family: &Family,
        owner: Option<User>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, Error> {
        match self.grace_successor(record, family, now)? {
            Some(successor) => {
                // No write and no security event: inside the grace this is a client retrying a
                // lost answer (API.md §3). A thief this quick gets the pair too, the accepted
                // price of turning the grace on; whichever of the two holders then uses the
                // successor second still trips reuse and revokes the family.
                let user = self.owner(family, owner)?;
                sign_pair(
                    self.ports.signer.as_ref(),
                    &self.policy,
                    &user,
                    family,
                    &successor,
                )
            }
            None => Err(self.reuse_detected(ctx, record, family, now)),
        }
    }

    /// The successor whose pair a retry of the spent `record` gets, if the grace applies.
    fn grace_successor(
        &self,
        record: &RefreshTokenRecord,
        family: &Family,
        now: DateTime<Utc>,
    ) -> Result<Option<RefreshTokenRecord>, Error> {
        let grace = self.policy.reuse_grace;
        // Checked first so that, with the grace off or the window passed, reuse costs no read.
        if !rotation::within_grace(record, grace, now) {
            return Ok(None);
        }
        let successor = self.ports.sessions.find_successor(record.id)?;
        Ok(successor.filter(|s| rotation::grace_applies(record, s, family, grace, now)))
    }

    /// Whether `tokens.reuse_grace` is on at all.
    fn grace_enabled(&self) -> bool {
        self.policy.reuse_grace > chrono::Duration::zero()
    }

    /// The family's owner, if it may still be issued tokens: `read` if the session store read
    /// it with the token, else from the user store.
    fn owner(&self, family: &Family, read: Option<User>) -> Result<User, Error> {
        let user = match read {
            Some(user) => Some(user),
            None => self.ports.users.find_by_id(family.user_id)?,
        };
        match user {
            Some(user) if !user.disabled => Ok(user),
            _ => Err(Error::InvalidToken(TokenRejection::UserDisabled)),
        }
    }

    /// Revokes the family of a spent token that came back, and reports it.
    fn reuse_detected(
        &self,
        ctx: Ctx<'_>,
        record: &RefreshTokenRecord,
        family: &Family,
        now: DateTime<Utc>,
    ) -> Error {
        let p = &self.ports;
        let revoked = p
            .sessions
            .revoke_family(family.id, now, RevokeReason::Reuse);
        let event = |kind| SecurityEvent {
            at: now,
            origin: ctx.origin.clone(),
            kind,
        };
        // The theft signal is reported even when the revocation itself failed.
        p.events
            .record(&event(SecurityEventKind::RefreshTokenReused {
                user_id: family.user_id,
                family_id: family.id,
                token_id: record.id,
            }));
        if let Ok(true) = revoked {
            p.events.record(&event(SecurityEventKind::FamilyRevoked {
                user_id: family.user_id,
                family_id: Some(family.id),
                reason: RevokeReason::Reuse,
                count: 1,
            }));
        }
        match revoked {
            Ok(_) => Error::InvalidToken(TokenRejection::Reused),
            // The client is refused either way; the operator must see the storage failure.
            Err(e) => e,
        }
    }
}

/// What one request brings along to the steps of a refresh.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// Who sent it, for security events.
    origin: &'a RequestOrigin,
}
