//! Refresh-token families with rotation and reuse detection.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    Family, FamilyId, OpaqueToken, RevokeScope, Rotation, Successor, TokenError, TokenHasher,
    TokenId, TokenKind, TokenRecord, TokenStore,
};
use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::jwt::Revocations;
use crate::keys::HmacKeys;
use crate::users::UserId;

/// Lifetimes and the grace window of refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshConfig {
    /// How long a family lives from its login, whatever the rotations
    /// (default 30 days). Rotation never extends it.
    pub family_lifetime: Duration,
    /// How long one refresh token stays usable if it is not rotated (default
    /// none: only the family's end applies).
    pub idle_lifetime: Option<Duration>,
    /// How long after a rotation a repeat presentation of the used token
    /// gets the same successor instead of revoking the family (default 0:
    /// any repeat is reuse). Covers clients that retry a refresh whose
    /// answer was lost; needs successor keys.
    pub grace: Duration,
    /// The longest an access token of a family lives (default 15 minutes):
    /// revocations of a family are kept this long past its end.
    pub access_token_ttl: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            family_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            idle_lifetime: None,
            grace: Duration::ZERO,
            access_token_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// A refresh token handed out, and what it grants.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Refreshed {
    /// The new refresh token, for the client. Shown once.
    pub token: OpaqueToken,
    /// Its stored record.
    pub record: TokenRecord,
    /// The family, for the access token's `sid` claim.
    pub family: FamilyId,
    /// The account.
    pub subject: UserId,
    /// The scopes the new access token may carry: the refresh token's
    /// (`record.scopes`), narrowed to the request.
    pub scopes: BTreeSet<String>,
}

/// Issues refresh-token families at login and rotates them on refresh.
///
/// - Each refresh uses the presented token up and returns a successor;
///   exactly one successor is ever created, however many callers race
///   ([`TokenStore::rotate`] is atomic).
/// - Presenting a used-up token again is reuse: the whole family, newest
///   token included, is revoked, and so are its access tokens (through
///   [`Revocations`]). With the default grace of zero, racing callers
///   therefore end with a revoked family.
/// - With a grace window, a repeat presentation within it returns the same
///   successor. The successor is derived from the presented token with a
///   server key, so it is never stored in the clear.
/// - A family ends at a fixed time after its login (30 days by default);
///   rotation never extends it.
/// - A refresh keeps the scopes of the login, narrowed to what the caller
///   says the account may now have; it never widens them.
#[derive(Clone)]
pub struct RefreshTokens {
    store: Arc<dyn TokenStore>,
    revocations: Arc<dyn Revocations>,
    hasher: TokenHasher,
    successor_keys: Option<HmacKeys>,
    clock: Arc<dyn Clock>,
    config: RefreshConfig,
}

impl RefreshTokens {
    /// A builder over a token store and the access-token revocations.
    pub fn builder(
        store: Arc<dyn TokenStore>,
        revocations: Arc<dyn Revocations>,
    ) -> RefreshTokensBuilder {
        RefreshTokensBuilder {
            store,
            revocations,
            hasher: TokenHasher::default(),
            successor_keys: None,
            clock: Arc::new(SystemClock),
            config: RefreshConfig::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RefreshConfig {
        &self.config
    }

    /// Starts a family for a login that was granted `scopes`.
    ///
    /// # Errors
    /// [`TokenError::Store`] when the store fails.
    pub async fn issue(
        &self,
        subject: &UserId,
        scopes: BTreeSet<String>,
    ) -> Result<Refreshed, TokenError> {
        let now = self.clock.now();
        let family = Family::new(
            FamilyId::generate()?,
            subject.clone(),
            now,
            now + self.config.family_lifetime,
        );
        let token = OpaqueToken::generate(TokenKind::Refresh)?;
        let mut record = TokenRecord::new(
            TokenId::generate()?,
            self.hasher.digest(&token),
            TokenKind::Refresh,
            subject.clone(),
            scopes.clone(),
            now,
        );
        record.family = Some(family.id.clone());
        record.expires_at = Some(self.token_expiry(now, family.expires_at));
        let family_id = family.id.clone();
        self.store.start_family(family, record.clone()).await?;
        Ok(Refreshed {
            token,
            record,
            family: family_id,
            subject: subject.clone(),
            scopes,
        })
    }

    /// The live, unused token `presented` stands for, without using it up:
    /// the caller learns the account, checks it (active, password unchanged
    /// since the login) and works out what it may have now, then calls
    /// [`refresh`](Self::refresh).
    ///
    /// # Errors
    /// [`TokenError::Malformed`], [`TokenError::Invalid`] (also for a used
    /// token: call [`refresh`](Self::refresh) anyway to let reuse detection
    /// act), [`TokenError::Store`].
    pub async fn peek(&self, presented: &str) -> Result<TokenRecord, TokenError> {
        let presented = OpaqueToken::parse(TokenKind::Refresh, presented)?;
        let now = self.clock.now();
        for digest in self.hasher.candidates(&presented) {
            if let Some(record) = self.store.find(&digest, now).await? {
                return Ok(record);
            }
        }
        Err(TokenError::Invalid)
    }

    /// Rotates the presented refresh token.
    ///
    /// `allowed` is what the account may have now (from its current roles):
    /// the successor keeps the login's scopes narrowed to it. `requested`,
    /// when given, must be within the login's scopes and narrows the access
    /// token only; the new refresh token keeps the presented one's scopes
    /// (RFC 6749 §6).
    ///
    /// # Errors
    /// [`TokenError::Malformed`] or [`TokenError::Invalid`] (answer
    /// `invalid_grant`); [`TokenError::Reused`] after revoking the family
    /// (also `invalid_grant`); [`TokenError::InvalidScope`] for a request
    /// beyond the login's scopes (nothing is used up);
    /// [`TokenError::Store`].
    pub async fn refresh(
        &self,
        presented: &str,
        allowed: &BTreeSet<String>,
        requested: Option<&BTreeSet<String>>,
    ) -> Result<Refreshed, TokenError> {
        let presented = OpaqueToken::parse(TokenKind::Refresh, presented)?;
        let now = self.clock.now();
        let candidates = self.hasher.candidates(&presented);

        if let Some(requested) = requested {
            // Checked before anything is used up: a bad request must not
            // burn the token.
            let mut granted = None;
            for digest in &candidates {
                if let Some(record) = self.store.find(digest, now).await? {
                    granted = Some(record.scopes);
                    break;
                }
            }
            if let Some(granted) = granted
                && let Some(scope) = requested.iter().find(|s| !granted.contains(*s))
            {
                return Err(TokenError::InvalidScope {
                    scope: scope.clone(),
                });
            }
        }

        let successor = self.successor(&presented)?;
        for digest in &candidates {
            let spec = Successor {
                id: TokenId::generate()?,
                digest: self.hasher.digest(&successor),
                // The refresh token keeps the presented one's scopes (RFC 6749
                // §6), narrowed only to what the account may still have.
                allowed_scopes: allowed.clone(),
                idle_expires_at: self.config.idle_lifetime.map(|idle| now + idle),
            };
            match self
                .store
                .rotate(digest, spec, now, self.config.grace)
                .await?
            {
                Rotation::Invalid => continue,
                Rotation::Rotated {
                    previous,
                    successor: record,
                } => {
                    return self.refreshed(successor, record, &previous, allowed, requested);
                }
                Rotation::Grace {
                    previous,
                    successor: record,
                } => {
                    if let Some(scope) = requested
                        .into_iter()
                        .flatten()
                        .find(|s| !previous.scopes.contains(*s))
                    {
                        return Err(TokenError::InvalidScope {
                            scope: scope.clone(),
                        });
                    }
                    // The stored successor is the one derived from this token
                    // with one of the successor keys.
                    let keys = self.successor_keys.iter().flat_map(HmacKeys::keys);
                    for key in keys {
                        let again = OpaqueToken::derive(TokenKind::Refresh, key, &presented);
                        if self.hasher.candidates(&again).contains(&record.digest) {
                            return self.refreshed(again, record, &previous, allowed, requested);
                        }
                    }
                    return Err(TokenError::Invalid);
                }
                Rotation::Revoked { family } => {
                    // Re-assert the revocation of its access tokens: repairs
                    // an earlier propagation that failed.
                    self.revoke_access_tokens(&family, now).await?;
                    return Err(TokenError::Invalid);
                }
                Rotation::Reused { family } => {
                    self.revoke_access_tokens(&family, now).await?;
                    tracing::warn!(
                        target: "tessera::audit",
                        event = "refresh.reused",
                        subject = %family.subject,
                        family = family.id.as_str(),
                        "refresh token reused: family revoked"
                    );
                    return Err(TokenError::Reused { family: family.id });
                }
            }
        }
        Err(TokenError::Invalid)
    }

    /// Ends one family (logout) and its access tokens.
    ///
    /// # Errors
    /// [`TokenError::Store`] when either store fails.
    pub async fn revoke_family(&self, family: &FamilyId) -> Result<(), TokenError> {
        let now = self.clock.now();
        if let Some(family) = self.store.revoke_family(family).await? {
            self.revoke_access_tokens(&family, now).await?;
        }
        Ok(())
    }

    /// Ends every family of `subject` (and with [`RevokeScope::Everything`]
    /// its API keys), with their access tokens, and marks every access token
    /// issued before now as revoked (logout-all, password change,
    /// deactivation).
    ///
    /// # Errors
    /// [`TokenError::Store`] when either store fails.
    pub async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<(), TokenError> {
        let now = self.clock.now();
        for family in self.store.revoke_subject(subject, scope).await? {
            self.revoke_access_tokens(&family, now).await?;
        }
        // `iat` has whole seconds: a cut-off inside a second would refuse a
        // token minted later in that same second (the new pair of a password
        // change). Tokens of earlier families in that second are revoked
        // through their family.
        let whole_second = UNIX_EPOCH
            + Duration::from_secs(now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
        self.revocations
            .revoke_subject_before(subject, whole_second, now + self.config.access_token_ttl)
            .await?;
        Ok(())
    }

    async fn revoke_access_tokens(
        &self,
        family: &Family,
        now: SystemTime,
    ) -> Result<(), TokenError> {
        // An access token minted just before the family ends lives one TTL
        // past it; keep the revocation that long.
        let until = family.expires_at.max(now) + self.config.access_token_ttl;
        self.revocations.revoke_family(&family.id, until).await?;
        Ok(())
    }

    fn successor(&self, presented: &OpaqueToken) -> Result<OpaqueToken, TokenError> {
        match &self.successor_keys {
            // Derived, so a repeat within the grace window can be given the
            // same token without storing it.
            Some(keys) => Ok(OpaqueToken::derive(
                TokenKind::Refresh,
                keys.current(),
                presented,
            )),
            None => OpaqueToken::generate(TokenKind::Refresh),
        }
    }

    /// The answer for a successor `record`. The access token's scopes are the
    /// refresh token's, narrowed to what the account may have now (a repeat
    /// within the grace window gets a successor stored earlier) and to the
    /// request.
    fn refreshed(
        &self,
        token: OpaqueToken,
        record: TokenRecord,
        previous: &TokenRecord,
        allowed: &BTreeSet<String>,
        requested: Option<&BTreeSet<String>>,
    ) -> Result<Refreshed, TokenError> {
        // A refresh record outside a family is corrupt: refuse it.
        let Some(family) = record.family.clone() else {
            return Err(TokenError::Invalid);
        };
        let scopes = record
            .scopes
            .iter()
            .filter(|s| allowed.contains(*s) && requested.is_none_or(|r| r.contains(*s)))
            .cloned()
            .collect();
        Ok(Refreshed {
            token,
            family,
            subject: previous.subject.clone(),
            scopes,
            record,
        })
    }

    fn token_expiry(&self, now: SystemTime, family_end: SystemTime) -> SystemTime {
        match self.config.idle_lifetime {
            Some(idle) => (now + idle).min(family_end),
            None => family_end,
        }
    }
}

impl fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("config", &self.config)
            .field("hasher", &self.hasher)
            .field("successor_keys", &self.successor_keys)
            .finish_non_exhaustive()
    }
}

/// Builds [`RefreshTokens`]; [`build`](Self::build) validates.
pub struct RefreshTokensBuilder {
    store: Arc<dyn TokenStore>,
    revocations: Arc<dyn Revocations>,
    hasher: TokenHasher,
    successor_keys: Option<HmacKeys>,
    clock: Arc<dyn Clock>,
    config: RefreshConfig,
}

impl RefreshTokensBuilder {
    /// How tokens are digested (default plain SHA-256).
    pub fn hasher(mut self, hasher: TokenHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Keys that derive successors from presented tokens. Required for a
    /// grace window; with them every successor is derived.
    pub fn successor_keys(mut self, keys: HmacKeys) -> Self {
        self.successor_keys = Some(keys);
        self
    }

    /// The clock (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Lifetimes and grace window.
    pub fn config(mut self, config: RefreshConfig) -> Self {
        self.config = config;
        self
    }

    /// Validates the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] for a zero family lifetime, a grace window without
    /// successor keys, or a grace window not shorter than the family's life.
    pub fn build(self) -> Result<RefreshTokens, ConfigError> {
        let c = self.config;
        if c.family_lifetime.is_zero() {
            return Err(ConfigError::invalid(
                "family_lifetime",
                "must be above zero",
            ));
        }
        if c.idle_lifetime.is_some_and(|idle| idle.is_zero()) {
            return Err(ConfigError::invalid("idle_lifetime", "must be above zero"));
        }
        if !c.grace.is_zero() && self.successor_keys.is_none() {
            return Err(ConfigError::invalid(
                "grace",
                "a grace window needs successor_keys to derive the repeated successor",
            ));
        }
        if c.grace >= c.family_lifetime {
            return Err(ConfigError::invalid(
                "grace",
                "must be shorter than family_lifetime",
            ));
        }
        Ok(RefreshTokens {
            store: self.store,
            revocations: self.revocations,
            hasher: self.hasher,
            successor_keys: self.successor_keys,
            clock: self.clock,
            config: c,
        })
    }
}

impl fmt::Debug for RefreshTokensBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokensBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
