//! One-time tokens: password reset, email verification.
//!
//! A token is signed (HMAC-SHA256 under a dedicated, rotatable key), names
//! its account and its expiry, and is valid for one purpose only. Its
//! signature also covers a *stamp* the caller passes in, derived from the
//! account's current state ([`account_stamp`]: the password hash and the
//! login), so a reset link dies as soon as the password or email changes.
//! Consumption is recorded atomically in a [`OneTimeStore`]: two concurrent
//! confirmations of one token succeed once.
//!
//! Format: `tsp_<key id>.<payload>.<mac>`, base64url. The payload holds the
//! expiry, a 128-bit nonce and the account id; nothing secret.
//!
//! ```
//! use std::sync::Arc;
//! use tessera_core::keys::{HmacKey, HmacKeys};
//! use tessera_core::memory::MemoryOneTimeStore;
//! use tessera_core::onetime::{OneTimeError, OneTimeTokens, Purpose};
//! use tessera_core::users::UserId;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = OneTimeTokens::new(
//!     HmacKeys::single(HmacKey::generate("ot-1")?),
//!     Arc::new(MemoryOneTimeStore::new()),
//! );
//! let stamp = b"derived from the current password hash";
//! let token = tokens.issue(&Purpose::PASSWORD_RESET, &UserId::new("alice"), stamp)?;
//!
//! // The confirmation: find the account, then consume with its stamp.
//! let subject = tokens.peek(token.expose_secret())?;
//! assert_eq!(subject.as_str(), "alice");
//! tokens.consume(&Purpose::PASSWORD_RESET, token.expose_secret(), stamp).await?;
//! let again = tokens.consume(&Purpose::PASSWORD_RESET, token.expose_secret(), stamp).await;
//! assert!(matches!(again, Err(OneTimeError::Used)));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::clock::{Clock, SystemClock};
use crate::error::{BoxError, StoreError};
use crate::keys::{HmacKeys, Tag};
use crate::token::TokenDigest;
use crate::users::{User, UserId};

/// Prefix of one-time tokens.
pub const PREFIX: &str = "tsp_";
/// Longest token looked at, in bytes.
const MAX_LEN: usize = 1024;
/// Longest account id a token can carry, in bytes.
const MAX_SUBJECT: usize = 255;
const VERSION: u8 = 1;

/// What a one-time token is for, and how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose {
    name: &'static str,
    ttl: Duration,
}

impl Purpose {
    /// Password reset: 1 hour.
    pub const PASSWORD_RESET: Self = Self::new("password-reset", Duration::from_secs(60 * 60));
    /// Email verification: 24 hours.
    pub const EMAIL_VERIFICATION: Self =
        Self::new("email-verification", Duration::from_secs(24 * 60 * 60));

    /// A purpose of the application's own. Tokens of one purpose are never
    /// valid for another.
    pub const fn new(name: &'static str, ttl: Duration) -> Self {
        Self { name, ttl }
    }

    /// The same purpose with another lifetime.
    pub const fn with_ttl(self, ttl: Duration) -> Self {
        Self { ttl, ..self }
    }

    /// The purpose's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// How long tokens live.
    pub const fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// A one-time token was refused, or could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OneTimeError {
    /// Not a one-time token.
    #[error("malformed one-time token")]
    Malformed,
    /// Past its expiry.
    #[error("one-time token expired")]
    Expired,
    /// Signed by no listed key, for another purpose, or for an account state
    /// that has changed (password or email).
    #[error("invalid one-time token")]
    Invalid,
    /// Already used.
    #[error("one-time token already used")]
    Used,
    /// The account id is longer than a token can carry.
    #[error("account id too long for a one-time token")]
    SubjectTooLong,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random(#[source] BoxError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A one-time token in memory. `Debug` is redacted, there is no `Display`
/// and equality is constant-time.
#[derive(Clone)]
pub struct OneTimeToken(Zeroizing<String>);

impl PartialEq for OneTimeToken {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), other.0.as_bytes()).into()
    }
}

impl Eq for OneTimeToken {}

impl OneTimeToken {
    /// The token, for the link or message.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeToken([redacted])")
    }
}

/// Where used one-time tokens are remembered until they expire.
#[async_trait]
pub trait OneTimeStore: Send + Sync {
    /// Atomically marks `id` used, to be remembered until `until`. `Ok(true)`
    /// for the first call for an id, `Ok(false)` for every later one.
    async fn consume(&self, id: &TokenDigest, until: SystemTime) -> Result<bool, StoreError>;

    /// Forgets entries whose `until` has passed; returns how many.
    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError>;
}

/// The stamp for [`OneTimeTokens`] that ties a token to the account's
/// current password hash and login: a change of either kills the token.
pub fn account_stamp(user: &User) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"tessera/v1/account-stamp\0");
    hash.update(user.password_hash.as_bytes());
    hash.update([0]);
    hash.update(user.login.as_str().as_bytes());
    hash.finalize().into()
}

/// The parts of a token.
struct Parsed<'a> {
    key_id: &'a str,
    payload: Vec<u8>,
    mac: [u8; 32],
    expires_at: u64,
    subject: String,
}

/// Issues, checks and consumes one-time tokens.
#[derive(Clone)]
pub struct OneTimeTokens {
    keys: HmacKeys,
    store: Arc<dyn OneTimeStore>,
    clock: Arc<dyn Clock>,
}

impl OneTimeTokens {
    /// Tokens signed with `keys` (dedicated to one-time tokens), consumed in
    /// `store`, timed by the system clock.
    pub fn new(keys: HmacKeys, store: Arc<dyn OneTimeStore>) -> Self {
        Self {
            keys,
            store,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same, timed by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Issues a token for `purpose` and `subject`, bound to `stamp`.
    ///
    /// # Errors
    /// [`OneTimeError::SubjectTooLong`]; [`OneTimeError::Random`].
    pub fn issue(
        &self,
        purpose: &Purpose,
        subject: &UserId,
        stamp: &[u8],
    ) -> Result<OneTimeToken, OneTimeError> {
        let subject = subject.as_str().as_bytes();
        if subject.len() > MAX_SUBJECT {
            return Err(OneTimeError::SubjectTooLong);
        }
        let expires_at = unix_secs(self.clock.now() + purpose.ttl);
        let nonce = crate::random::os_bytes::<16>().map_err(OneTimeError::Random)?;
        let mut payload = Vec::with_capacity(1 + 8 + 16 + subject.len());
        payload.push(VERSION);
        payload.extend_from_slice(&expires_at.to_be_bytes());
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(subject);
        let tag = self.keys.sign(&signed_input(purpose, &payload, stamp));
        let token = format!(
            "{PREFIX}{}.{}.{}",
            tag.key_id(),
            Base64UrlUnpadded::encode_string(&payload),
            Base64UrlUnpadded::encode_string(tag.as_bytes())
        );
        Ok(OneTimeToken(Zeroizing::new(token)))
    }

    /// The account a well-formed, unexpired token names, so the caller can
    /// load it and compute its stamp. The signature is not checked yet:
    /// nothing is trusted until [`consume`](Self::consume) or
    /// [`verify`](Self::verify).
    ///
    /// # Errors
    /// [`OneTimeError::Malformed`], [`OneTimeError::Expired`].
    pub fn peek(&self, token: &str) -> Result<UserId, OneTimeError> {
        let parsed = self.parse_live(token)?;
        Ok(UserId::new(parsed.subject))
    }

    /// Checks a token without using it up (to show a reset form).
    ///
    /// # Errors
    /// [`OneTimeError::Malformed`], [`OneTimeError::Expired`],
    /// [`OneTimeError::Invalid`].
    pub fn verify(
        &self,
        purpose: &Purpose,
        token: &str,
        stamp: &[u8],
    ) -> Result<UserId, OneTimeError> {
        self.check(purpose, token, stamp)
            .map(|parsed| UserId::new(parsed.subject))
    }

    /// Checks a token and uses it up, atomically: of several concurrent
    /// calls with one token, exactly one succeeds.
    ///
    /// # Errors
    /// As [`verify`](Self::verify), and [`OneTimeError::Used`];
    /// [`OneTimeError::Store`].
    pub async fn consume(
        &self,
        purpose: &Purpose,
        token: &str,
        stamp: &[u8],
    ) -> Result<UserId, OneTimeError> {
        let parsed = self.check(purpose, token, stamp)?;
        let id = TokenDigest::from_bytes(Sha256::digest(&parsed.payload).into());
        let until = UNIX_EPOCH + Duration::from_secs(parsed.expires_at);
        if self.store.consume(&id, until).await? {
            Ok(UserId::new(parsed.subject))
        } else {
            Err(OneTimeError::Used)
        }
    }

    fn check<'a>(
        &self,
        purpose: &Purpose,
        token: &'a str,
        stamp: &[u8],
    ) -> Result<Parsed<'a>, OneTimeError> {
        let parsed = self.parse_live(token)?;
        let tag = Tag::from_parts(parsed.key_id, parsed.mac);
        if !self
            .keys
            .verify(&signed_input(purpose, &parsed.payload, stamp), &tag)
        {
            return Err(OneTimeError::Invalid);
        }
        Ok(parsed)
    }

    fn parse_live<'a>(&self, token: &'a str) -> Result<Parsed<'a>, OneTimeError> {
        let parsed = parse(token).ok_or(OneTimeError::Malformed)?;
        // Valid through its expiry second, refused from the next.
        if unix_secs(self.clock.now()) > parsed.expires_at {
            return Err(OneTimeError::Expired);
        }
        Ok(parsed)
    }
}

impl fmt::Debug for OneTimeTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimeTokens")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn parse(token: &str) -> Option<Parsed<'_>> {
    if token.len() > MAX_LEN {
        return None;
    }
    let rest = token.strip_prefix(PREFIX)?;
    let mut parts = rest.rsplitn(3, '.');
    let (mac, payload, key_id) = (parts.next()?, parts.next()?, parts.next()?);
    let payload = Base64UrlUnpadded::decode_vec(payload).ok()?;
    let mut mac_bytes = [0u8; 32];
    if Base64UrlUnpadded::decode(mac, &mut mac_bytes).ok()?.len() != 32 {
        return None;
    }
    if payload.len() < 1 + 8 + 16 + 1 || payload[0] != VERSION {
        return None;
    }
    let expires_at = u64::from_be_bytes(payload[1..9].try_into().ok()?);
    let subject = String::from_utf8(payload[25..].to_vec()).ok()?;
    Some(Parsed {
        key_id,
        payload,
        mac: mac_bytes,
        expires_at,
        subject,
    })
}

fn signed_input(purpose: &Purpose, payload: &[u8], stamp: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(32 + purpose.name.len() + payload.len() + stamp.len());
    input.extend_from_slice(b"tessera/v1/onetime\0");
    input.extend_from_slice(purpose.name.as_bytes());
    input.push(0);
    input.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    input.extend_from_slice(payload);
    input.extend_from_slice(stamp);
    input
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
