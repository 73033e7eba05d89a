//! API keys: long-lived opaque tokens an account issues for its programs.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use super::{
    OpaqueToken, TokenError, TokenHasher, TokenId, TokenKind, TokenRecord, TokenStore,
    USE_RECORD_INTERVAL,
};
use crate::clock::Clock;
use crate::users::UserId;

/// Longest API key name, in bytes.
const MAX_NAME_LEN: usize = 128;

/// A newly issued API key: the key itself (shown once) and its record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewApiKey {
    /// The key, for the client. It is not stored and cannot be shown again.
    pub token: OpaqueToken,
    /// What was stored: the digest, the name, the scopes.
    pub record: TokenRecord,
}

/// Issues, authenticates, lists and revokes API keys.
///
/// An API key carries the scopes it was issued with, which must be a subset
/// of what the account was allowed at that moment. It is never "fresh" and
/// never ends by itself; it is revoked one by one by its owner, or all at
/// once when the account is deactivated or its password reset.
#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn TokenStore>,
    hasher: TokenHasher,
    clock: Arc<dyn Clock>,
}

impl ApiKeys {
    /// API keys in `store`, digested by `hasher`, timed by `clock`.
    pub fn new(store: Arc<dyn TokenStore>, hasher: TokenHasher, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            hasher,
            clock,
        }
    }

    /// Issues a key named `name` with `scopes` for `subject`. `allowed` is
    /// what the account may have (the scopes of its roles).
    ///
    /// # Errors
    /// [`TokenError::ScopeNotAllowed`] for a scope outside `allowed`;
    /// [`TokenError::InvalidName`] for an empty or over-long name;
    /// [`TokenError::Store`].
    pub async fn issue(
        &self,
        subject: &UserId,
        name: &str,
        scopes: BTreeSet<String>,
        allowed: &BTreeSet<String>,
    ) -> Result<NewApiKey, TokenError> {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(TokenError::InvalidName);
        }
        if let Some(scope) = scopes.iter().find(|s| !allowed.contains(*s)) {
            return Err(TokenError::ScopeNotAllowed {
                scope: scope.clone(),
            });
        }
        let token = OpaqueToken::generate(TokenKind::ApiKey)?;
        let mut record = TokenRecord::new(
            TokenId::generate()?,
            self.hasher.digest(&token),
            TokenKind::ApiKey,
            subject.clone(),
            scopes,
            self.clock.now(),
        );
        record.name = Some(name.to_owned());
        self.store.insert(record.clone()).await?;
        tracing::info!(
            target: "tessera::audit",
            event = "api_key.created",
            subject = %subject,
            key = record.id.as_str(),
            "api key issued"
        );
        Ok(NewApiKey { token, record })
    }

    /// The live key `presented` stands for. A malformed key is refused
    /// without a store lookup. Records the use at most once per
    /// [`USE_RECORD_INTERVAL`].
    ///
    /// # Errors
    /// [`TokenError::Malformed`], [`TokenError::Invalid`] (unknown or
    /// revoked), [`TokenError::Store`].
    pub async fn authenticate(&self, presented: &str) -> Result<TokenRecord, TokenError> {
        let token = OpaqueToken::parse(TokenKind::ApiKey, presented)?;
        let now = self.clock.now();
        for digest in self.hasher.candidates(&token) {
            let Some(record) = self.store.find(&digest, now).await? else {
                continue;
            };
            if record.kind != TokenKind::ApiKey {
                return Err(TokenError::Invalid);
            }
            let mut record = record;
            let stale = record
                .last_used_at
                .is_none_or(|at| now.duration_since(at).unwrap_or_default() >= USE_RECORD_INTERVAL);
            if stale {
                // Bookkeeping: a failure here must not refuse a valid key.
                match self.store.record_use(&digest, now).await {
                    Ok(()) => record.last_used_at = Some(now),
                    Err(e) => {
                        tracing::warn!(target: "tessera::auth", error = %e, "could not record api key use");
                    }
                }
            }
            return Ok(record);
        }
        Err(TokenError::Invalid)
    }

    /// `subject`'s live keys, oldest first.
    ///
    /// # Errors
    /// [`TokenError::Store`].
    pub async fn list(&self, subject: &UserId) -> Result<Vec<TokenRecord>, TokenError> {
        Ok(self.store.list_api_keys(subject, self.clock.now()).await?)
    }

    /// Revokes `subject`'s key `id`. `Ok(false)` when the subject has no such
    /// key, which includes someone else's key.
    ///
    /// # Errors
    /// [`TokenError::Store`].
    pub async fn revoke(&self, subject: &UserId, id: &TokenId) -> Result<bool, TokenError> {
        let revoked = self.store.revoke_api_key(subject, id).await?;
        if revoked {
            tracing::info!(target: "tessera::audit", event = "api_key.revoked", subject = %subject, key = id.as_str(), "api key revoked");
        }
        Ok(revoked)
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}
