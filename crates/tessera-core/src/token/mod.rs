//! Opaque tokens: refresh tokens and API keys.
//!
//! # Format
//!
//! `tsr_` (refresh token) or `tsk_` (API key), then 256 bits from the
//! operating system's CSPRNG in unpadded base64url (43 characters), then a
//! 6-character checksum: the first 32 bits of SHA-256 over the prefix and
//! the random part, also base64url. 53 characters in all, for example
//! `tsk_q3Rk…Jw0oLm9X`.
//!
//! - The prefix says what a leaked string is, and lets secret scanners
//!   match it (`tsk_` plus 49 base64url characters whose last six check).
//! - The checksum rejects a mistyped, truncated or made-up token before any
//!   store lookup ([`OpaqueToken::parse`]); it is not a security boundary.
//!
//! # At rest
//!
//! Stores only ever see a [`TokenDigest`]: SHA-256 of the token, or
//! HMAC-SHA256 with a server-side pepper ([`TokenHasher::with_pepper`]) so
//! that a copy of the database alone cannot even confirm a guessed token.
//! With a rotated pepper the digest under each listed key is looked up,
//! newest first.

mod api_keys;
mod refresh;

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use self::api_keys::{ApiKeys, NewApiKey};
pub use self::refresh::{RefreshConfig, RefreshTokens, RefreshTokensBuilder, Refreshed};
pub use crate::error::{StoreError, TokenError};
use crate::keys::{HmacKey, HmacKeys};
use crate::users::UserId;

/// Length of the random part, in bytes.
const RANDOM_LEN: usize = 32;
/// Length of the random part, in base64url characters.
const BODY_CHARS: usize = 43;
/// Length of the checksum, in base64url characters (32 bits).
const CHECK_CHARS: usize = 6;

/// What an opaque token is for. Each kind has its own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TokenKind {
    /// A refresh token, `tsr_`.
    Refresh,
    /// An API key, `tsk_`.
    ApiKey,
}

impl TokenKind {
    /// The prefix tokens of this kind start with.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Refresh => "tsr_",
            Self::ApiKey => "tsk_",
        }
    }

    /// A stable name, for stores.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Refresh => "refresh",
            Self::ApiKey => "api_key",
        }
    }

    /// The kind named by [`as_str`](Self::as_str).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "refresh" => Some(Self::Refresh),
            "api_key" => Some(Self::ApiKey),
            _ => None,
        }
    }

    /// Length of a token of this kind, in bytes.
    pub const fn token_len(self) -> usize {
        self.prefix().len() + BODY_CHARS + CHECK_CHARS
    }
}

/// An opaque token in memory.
///
/// `Debug` prints the kind only, there is no `Display`, equality is
/// constant-time, and the string is zeroized on drop. Read it with
/// [`expose_secret`](Self::expose_secret) to hand it to the client, once.
#[derive(Clone)]
pub struct OpaqueToken {
    kind: TokenKind,
    raw: Zeroizing<String>,
}

impl OpaqueToken {
    /// A new token of `kind` with 256 bits from the OS CSPRNG.
    ///
    /// # Errors
    /// [`TokenError::Random`] when the random number generator fails.
    pub fn generate(kind: TokenKind) -> Result<Self, TokenError> {
        let random =
            Zeroizing::new(crate::random::os_bytes::<RANDOM_LEN>().map_err(TokenError::Random)?);
        Ok(Self::from_random(kind, &random))
    }

    /// The token derived from `from` with `key`: the same inputs always give
    /// the same token, and nobody without the key can compute it. Used for a
    /// refresh successor that a repeat presentation within the grace window
    /// must receive again, without the successor being stored.
    pub fn derive(kind: TokenKind, key: &HmacKey, from: &OpaqueToken) -> Self {
        let random =
            Zeroizing::new(key.mac(&[b"tessera/v1/refresh-successor\0", from.raw.as_bytes()]));
        Self::from_random(kind, &random)
    }

    fn from_random(kind: TokenKind, random: &[u8; RANDOM_LEN]) -> Self {
        let mut raw = String::with_capacity(kind.token_len());
        raw.push_str(kind.prefix());
        let mut body = Zeroizing::new([0u8; BODY_CHARS]);
        match Base64UrlUnpadded::encode(random, &mut body[..]) {
            Ok(encoded) => raw.push_str(encoded),
            Err(_) => unreachable!("43 base64url characters hold 32 bytes"),
        }
        let check = checksum(&raw);
        raw.push_str(&check);
        Self {
            kind,
            raw: Zeroizing::new(raw),
        }
    }

    /// Reads a token presented by a client, checking prefix, length,
    /// alphabet and checksum. No store is consulted.
    ///
    /// # Errors
    /// [`TokenError::Malformed`] for anything that is not a well-formed
    /// token of `kind`.
    pub fn parse(kind: TokenKind, presented: &str) -> Result<Self, TokenError> {
        if presented.len() != kind.token_len() {
            return Err(TokenError::Malformed);
        }
        let Some(rest) = presented.strip_prefix(kind.prefix()) else {
            return Err(TokenError::Malformed);
        };
        if !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TokenError::Malformed);
        }
        let (signed, check) = presented.split_at(kind.prefix().len() + BODY_CHARS);
        // The body must be canonical base64url (no stray trailing bits), so
        // every token has exactly one spelling.
        let mut random = Zeroizing::new([0u8; RANDOM_LEN]);
        if Base64UrlUnpadded::decode(&signed[kind.prefix().len()..], &mut random[..]).is_err() {
            return Err(TokenError::Malformed);
        }
        if !bool::from(checksum(signed).as_bytes().ct_eq(check.as_bytes())) {
            return Err(TokenError::Malformed);
        }
        Ok(Self {
            kind,
            raw: Zeroizing::new(presented.to_owned()),
        })
    }

    /// The kind of token.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The token itself.
    pub fn expose_secret(&self) -> &str {
        &self.raw
    }
}

impl PartialEq for OpaqueToken {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && bool::from(self.raw.as_bytes().ct_eq(other.raw.as_bytes()))
    }
}

impl Eq for OpaqueToken {}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueToken")
            .field("kind", &self.kind)
            .field("token", &"[redacted]")
            .finish()
    }
}

fn checksum(signed: &str) -> String {
    let digest = Sha256::digest(signed.as_bytes());
    let mut out = Base64UrlUnpadded::encode_string(&digest[..4]);
    out.truncate(CHECK_CHARS);
    out
}

/// What a store keeps instead of a token: a SHA-256 or HMAC-SHA256 digest.
///
/// Digests are compared in constant time. `Debug` shows a short prefix.
#[derive(Clone, Copy, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// A digest read back from a store.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hexadecimal, for stores that key by strings.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`to_hex`](Self::to_hex) output.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl PartialEq for TokenDigest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for TokenDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with the constant-time `PartialEq`: equal digests have
        // equal bytes.
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({}…)", &self.to_hex()[..8])
    }
}

/// Turns tokens into the digests stores keep.
#[derive(Clone, Debug, Default)]
pub struct TokenHasher {
    pepper: Option<HmacKeys>,
}

impl TokenHasher {
    /// Plain SHA-256 digests.
    pub fn sha256() -> Self {
        Self::default()
    }

    /// HMAC-SHA256 digests under a server-side pepper. New tokens use the
    /// newest key; lookups try every listed key, newest first.
    pub fn with_pepper(keys: HmacKeys) -> Self {
        Self { pepper: Some(keys) }
    }

    /// The digest a new token is stored under.
    pub fn digest(&self, token: &OpaqueToken) -> TokenDigest {
        match &self.pepper {
            None => TokenDigest(Sha256::digest(token.raw.as_bytes()).into()),
            Some(keys) => TokenDigest(keys.current().mac(&[token.raw.as_bytes()])),
        }
    }

    /// The digests `token` may be stored under, newest key first.
    pub fn candidates(&self, token: &OpaqueToken) -> Vec<TokenDigest> {
        match &self.pepper {
            None => vec![self.digest(token)],
            Some(keys) => keys
                .keys()
                .iter()
                .map(|key| TokenDigest(key.mac(&[token.raw.as_bytes()])))
                .collect(),
        }
    }
}

/// A token's public id: what an owner lists and revokes API keys by. Random,
/// and unrelated to the token's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(String);

impl TokenId {
    /// A new random id (128 bits, hexadecimal).
    ///
    /// # Errors
    /// [`TokenError::Random`] when the random number generator fails.
    pub fn generate() -> Result<Self, TokenError> {
        Ok(Self(random_hex()?))
    }

    /// An id read back from a store or a request path.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A refresh-token family's id: one login and everything that descends from
/// it. Access tokens carry it (`sid`), so revoking the family ends them too.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FamilyId(String);

impl FamilyId {
    /// A new random id (128 bits, hexadecimal).
    ///
    /// # Errors
    /// [`TokenError::Random`] when the random number generator fails.
    pub fn generate() -> Result<Self, TokenError> {
        Ok(Self(random_hex()?))
    }

    /// An id read back from a store or a claim.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn random_hex() -> Result<String, TokenError> {
    let bytes = crate::random::os_bytes::<16>().map_err(TokenError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A stored opaque token: its digest and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRecord {
    /// Public id.
    pub id: TokenId,
    /// The digest the token is stored under.
    pub digest: TokenDigest,
    /// Refresh token or API key.
    pub kind: TokenKind,
    /// The account.
    pub subject: UserId,
    /// The refresh family (refresh tokens only).
    pub family: Option<FamilyId>,
    /// The owner's label (API keys only).
    pub name: Option<String>,
    /// The scopes granted, sorted.
    pub scopes: BTreeSet<String>,
    /// When it was issued.
    pub created_at: SystemTime,
    /// When it stops working, if ever.
    pub expires_at: Option<SystemTime>,
    /// When it was last used, to a resolution of
    /// [`USE_RECORD_INTERVAL`]: a use is not written on every request.
    pub last_used_at: Option<SystemTime>,
}

impl TokenRecord {
    /// A record for a newly issued token.
    pub fn new(
        id: TokenId,
        digest: TokenDigest,
        kind: TokenKind,
        subject: UserId,
        scopes: BTreeSet<String>,
        created_at: SystemTime,
    ) -> Self {
        Self {
            id,
            digest,
            kind,
            subject,
            family: None,
            name: None,
            scopes,
            created_at,
            expires_at: None,
            last_used_at: None,
        }
    }

    /// Whether the token is past its expiry at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// How often at most a token's use is written: a busy API key costs one
/// write per interval, not one per request.
pub const USE_RECORD_INTERVAL: Duration = Duration::from_secs(60);

/// A refresh family: one login, and the limit no rotation extends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Family {
    /// The id access tokens carry.
    pub id: FamilyId,
    /// The account.
    pub subject: UserId,
    /// When the login happened.
    pub created_at: SystemTime,
    /// The absolute end of the family: no token of it works after this.
    pub expires_at: SystemTime,
}

impl Family {
    /// A family starting at `created_at` and ending at `expires_at`.
    pub fn new(
        id: FamilyId,
        subject: UserId,
        created_at: SystemTime,
        expires_at: SystemTime,
    ) -> Self {
        Self {
            id,
            subject,
            created_at,
            expires_at,
        }
    }
}

/// What [`TokenStore::rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// The presented token was live and unused: it is now used up and the
    /// successor is stored. Exactly one caller ever gets this for a token.
    Rotated {
        /// The presented token's record.
        previous: TokenRecord,
        /// The successor's record, as stored.
        successor: TokenRecord,
    },
    /// The presented token was already used, within the grace window, and
    /// its successor is still live: the caller should hand out that same
    /// successor again.
    Grace {
        /// The presented token's record.
        previous: TokenRecord,
        /// The successor's record (its digest identifies it).
        successor: TokenRecord,
    },
    /// The presented token was already used, outside the grace window (or
    /// its successor is no longer live): the whole family, newest token
    /// included, is now revoked.
    Reused {
        /// The revoked family.
        family: Family,
    },
    /// The token belongs to a family that was revoked earlier (logout,
    /// reuse, logout-all). Nothing changed; the caller re-asserts the
    /// family's revocation (idempotent), so a revocation whose propagation
    /// failed once is repaired by the next presentation.
    Revoked {
        /// The revoked family.
        family: Family,
    },
    /// Unknown, expired (the token or its family) or revoked on its own:
    /// nothing changed.
    Invalid,
}

/// The successor a rotation stores; the store completes it from the
/// presented token's record (subject, family, scopes) inside the same atomic
/// step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Successor {
    /// Public id of the successor.
    pub id: TokenId,
    /// Digest of the successor.
    pub digest: TokenDigest,
    /// What the account may have now: the successor's scopes are the
    /// presented token's, narrowed to these. Never widened.
    pub allowed_scopes: BTreeSet<String>,
    /// The successor's own end when an idle lifetime is configured; the
    /// family's end applies in any case.
    pub idle_expires_at: Option<SystemTime>,
}

impl Successor {
    /// A successor spec.
    pub fn new(
        id: TokenId,
        digest: TokenDigest,
        allowed_scopes: BTreeSet<String>,
        idle_expires_at: Option<SystemTime>,
    ) -> Self {
        Self {
            id,
            digest,
            allowed_scopes,
            idle_expires_at,
        }
    }

    /// The record a store writes for this successor of `previous` in
    /// `family` at `now`.
    pub fn record(&self, previous: &TokenRecord, family: &Family, now: SystemTime) -> TokenRecord {
        let mut record = TokenRecord::new(
            self.id.clone(),
            self.digest,
            TokenKind::Refresh,
            previous.subject.clone(),
            previous
                .scopes
                .intersection(&self.allowed_scopes)
                .cloned()
                .collect(),
            now,
        );
        record.family = Some(family.id.clone());
        record.expires_at = Some(match self.idle_expires_at {
            Some(idle) => idle.min(family.expires_at),
            None => family.expires_at,
        });
        record
    }
}

/// Which of a subject's tokens [`TokenStore::revoke_subject`] revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeScope {
    /// Refresh families only (logout-all, password change): API keys stay.
    RefreshTokens,
    /// Refresh families and API keys (deactivation, password reset).
    Everything,
}

/// Where opaque tokens are kept, as digests.
///
/// Lookups return `Ok(None)` for unknown, expired and revoked tokens alike.
/// Implementations must make [`rotate`](Self::rotate) atomic: however many
/// callers present the same token at once, exactly one gets
/// [`Rotation::Rotated`] and exactly one successor is stored.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores an API key (or any token outside a family). Fails with
    /// [`StoreError::Conflict`], changing nothing, if the digest is already
    /// stored: a record is never overwritten.
    async fn insert(&self, record: TokenRecord) -> Result<(), StoreError>;

    /// Starts a refresh family with its first token; fails like
    /// [`insert`](Self::insert) on a stored digest.
    async fn start_family(&self, family: Family, first: TokenRecord) -> Result<(), StoreError>;

    /// The live token stored under `digest`: not expired, not revoked, not
    /// used up, and (for a refresh token) of a live family.
    async fn find(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError>;

    /// Atomically uses up the refresh token stored under `presented` and
    /// stores its successor ([`Successor::record`]), or reports why not; see
    /// [`Rotation`]. A repeat presentation within `grace` of the first use is
    /// [`Rotation::Grace`] (if the successor is still live); otherwise
    /// [`Rotation::Reused`], which revokes the family.
    ///
    /// In order: unknown, not a refresh token, revoked on its own, expired,
    /// or of an expired family: [`Rotation::Invalid`]. Of a revoked family:
    /// [`Rotation::Revoked`]. Unused: [`Rotation::Rotated`]. Used, with
    /// `0 <= now - used_at < grace` and a successor that is still live
    /// (unused, unrevoked, unexpired): [`Rotation::Grace`]. Used otherwise:
    /// the family is revoked in the same atomic step and the result is
    /// [`Rotation::Reused`].
    ///
    /// All or nothing: if the successor cannot be written (its digest is
    /// already stored: [`StoreError::Conflict`]; or the backend fails), the
    /// call returns an error and the presented token stays unused.
    async fn rotate(
        &self,
        presented: &TokenDigest,
        successor: Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError>;

    /// Revokes one token. `Ok(false)` if there was none.
    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError>;

    /// Revokes `subject`'s API key with public id `id`. `Ok(false)` if the
    /// subject has no such key (someone else's key included).
    async fn revoke_api_key(&self, subject: &UserId, id: &TokenId) -> Result<bool, StoreError>;

    /// Revokes a refresh family, newest token included. Returns the family
    /// if it exists, whether or not it was already revoked.
    async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError>;

    /// Revokes `subject`'s refresh families (and, with
    /// [`RevokeScope::Everything`], API keys). Returns every family of the
    /// subject the store still holds (expired ones may have been purged),
    /// whether or not it was already revoked, so their access tokens can be
    /// revoked too (again, if an earlier propagation failed).
    async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<Vec<Family>, StoreError>;

    /// `subject`'s live API keys, oldest first.
    async fn list_api_keys(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError>;

    /// Records that the token was used at `at`.
    async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError>;

    /// Deletes what can no longer be used at `now` (expired tokens and
    /// families, and those revoked or used up), returning how many records
    /// went. Schedule it; correctness never depends on it.
    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        for kind in [TokenKind::Refresh, TokenKind::ApiKey] {
            let token = OpaqueToken::generate(kind).unwrap();
            let raw = token.expose_secret();
            assert_eq!(raw.len(), 53);
            assert!(raw.starts_with(kind.prefix()));
            assert_eq!(OpaqueToken::parse(kind, raw).unwrap(), token);
        }
        let a = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
        let b = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
        assert_ne!(a, b);
    }

    /// G5: a bad checksum, a wrong prefix, a wrong length or alphabet are
    /// rejected by parsing alone.
    #[test]
    fn g5_malformed_tokens_are_rejected_without_a_store() {
        let token = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
        let raw = token.expose_secret();
        let mut flipped = raw.to_owned().into_bytes();
        // Change one character of the random part: the checksum no longer fits.
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let wrong_prefix = raw.replacen("tsk_", "tsr_", 1);
        let cases = [
            flipped.as_str(),
            wrong_prefix.as_str(),
            &raw[..52],
            "",
            "tsk_",
            "Bearer tsk_x",
            "tsk_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ];
        for case in cases {
            assert!(
                matches!(
                    OpaqueToken::parse(TokenKind::ApiKey, case),
                    Err(TokenError::Malformed)
                ),
                "{case}"
            );
        }
        // The right kind is required: a refresh token is not an API key.
        let refresh = OpaqueToken::generate(TokenKind::Refresh).unwrap();
        assert!(OpaqueToken::parse(TokenKind::ApiKey, refresh.expose_secret()).is_err());
        // Multi-byte input of the right byte length does not panic.
        let unicode = format!("tsk_{}", "é".repeat(24)) + "x";
        assert_eq!(unicode.len(), 53);
        assert!(OpaqueToken::parse(TokenKind::ApiKey, &unicode).is_err());
    }

    #[test]
    fn derivation_is_deterministic_and_keyed() {
        let key = HmacKey::new("k1", vec![1; 32]).unwrap();
        let other = HmacKey::new("k2", vec![2; 32]).unwrap();
        let from = OpaqueToken::generate(TokenKind::Refresh).unwrap();
        let a = OpaqueToken::derive(TokenKind::Refresh, &key, &from);
        assert_eq!(a, OpaqueToken::derive(TokenKind::Refresh, &key, &from));
        assert_ne!(a, OpaqueToken::derive(TokenKind::Refresh, &other, &from));
        assert_ne!(a, from);
        assert!(OpaqueToken::parse(TokenKind::Refresh, a.expose_secret()).is_ok());
    }

    #[test]
    fn digests_are_sha256_or_peppered_and_never_the_token() {
        let token = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
        let plain = TokenHasher::sha256().digest(&token);
        let expected: [u8; 32] = Sha256::digest(token.expose_secret().as_bytes()).into();
        assert_eq!(plain.as_bytes(), &expected);

        let old = HmacKey::new("old", vec![1; 32]).unwrap();
        let new = HmacKey::new("new", vec![2; 32]).unwrap();
        let before = TokenHasher::with_pepper(HmacKeys::single(old.clone())).digest(&token);
        assert_ne!(before, plain);
        let rotated = TokenHasher::with_pepper(HmacKeys::new(vec![new, old]).unwrap());
        let candidates = rotated.candidates(&token);
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[1], before);
        assert_eq!(candidates[0], rotated.digest(&token));
    }

    #[test]
    fn secrets_do_not_reach_debug() {
        let token = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
        let printed = format!("{token:?}");
        assert!(
            !printed.contains(&token.expose_secret()[4..20]),
            "{printed}"
        );
        let digest = TokenHasher::sha256().digest(&token);
        assert_eq!(TokenDigest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(TokenDigest::from_hex("zz"), None);
        assert_eq!(TokenDigest::from_hex(&"é".repeat(32)), None);
    }
}
