//! Revocation of access tokens before they expire.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::token::FamilyId;
use crate::users::UserId;

/// What a revocation check needs to know about an access token.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RevocationCheck<'a> {
    /// The token's `jti`.
    pub jti: &'a str,
    /// The refresh family it was minted for (`sid`), if any.
    pub family: Option<&'a str>,
    /// The account (`sub`).
    pub subject: &'a str,
    /// When it was issued (`iat`).
    pub issued_at: SystemTime,
}

impl<'a> RevocationCheck<'a> {
    /// A check for one token.
    pub fn new(
        jti: &'a str,
        family: Option<&'a str>,
        subject: &'a str,
        issued_at: SystemTime,
    ) -> Self {
        Self {
            jti,
            family,
            subject,
            issued_at,
        }
    }
}

/// Revoked access tokens, families and per-account cut-offs.
///
/// Access tokens are checked against this on every request, so one call
/// ([`is_revoked`](Self::is_revoked)) answers for all three kinds of entry.
/// Entries carry an `until`: the instant after which every token they could
/// match has expired anyway, so stores can forget them then.
///
/// - A token is revoked by its `jti` (a single token).
/// - A refresh family is revoked at logout, on reuse, and for every family
///   of an account at logout-all, password change and deactivation: every
///   access token carries its family (`sid`), so this never depends on clock
///   precision.
/// - A per-account "not before" instant is the backstop for tokens minted
///   outside a family: a token issued strictly before it is revoked.
#[async_trait]
pub trait Revocations: Send + Sync {
    /// Revokes the token with this `jti` until `until`.
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError>;

    /// Revokes every access token of `family` until `until`.
    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError>;

    /// Revokes `subject`'s access tokens issued before `before` (compared in
    /// whole seconds, as `iat` is); the entry is kept until `until`. Stores
    /// keep the latest cut-off and the latest `until`: an earlier call never
    /// moves either back.
    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError>;

    /// Whether the token is revoked by any entry live at `now` (an entry is
    /// live while `now < until`; stores may forget it only after that).
    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError>;
}
