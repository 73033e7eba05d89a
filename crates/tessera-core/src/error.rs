//! Errors, one type per concern.
//!
//! Each error is precise, for logs and tests. None of them is meant to be
//! shown to a client as it is: the adapters answer with generic bodies where
//! detail would help an attacker (for example, a login never says whether
//! the account exists).

use std::error::Error as StdError;

/// The boxed cause kept by errors that wrap a failure of another system.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A store could not answer.
///
/// "Not found", "expired" and "revoked" are not errors: lookups return
/// `Ok(None)` for them. A `StoreError` means the system broke, and the
/// adapters answer it with 503 and `Retry-After`, never with a silent pass.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or failed to execute the operation.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// The backend answered with data tessera cannot read.
    #[error("store returned corrupted data")]
    Corrupted(#[source] BoxError),
    /// A write would have replaced a record that must never be replaced (a
    /// digest already stored); nothing changed. With 256-bit random tokens
    /// this means a bug or tampering, not chance.
    #[error("store conflict: {0}")]
    Conflict(&'static str),
}

impl StoreError {
    /// Wraps a backend failure.
    pub fn unavailable(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable(cause.into())
    }
}

/// Creating a user failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateUserError {
    /// Another account already has this login (after normalisation).
    #[error("login already taken")]
    LoginTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A login could not be normalised into a usable one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Nothing is left after trimming.
    #[error("login is empty")]
    Empty,
    /// Longer than the limit.
    #[error("login is longer than {max} bytes")]
    TooLong {
        /// The limit in bytes, after normalisation.
        max: usize,
    },
}

/// A password was refused by the [`PasswordPolicy`](crate::password::PasswordPolicy).
///
/// Each variant names the rule that failed, so a registration form can say
/// exactly what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The raw input is larger than the byte limit checked before anything
    /// else (normalisation included).
    #[error("password input is {actual} bytes, more than the {max} allowed")]
    InputTooLarge {
        /// The limit in bytes.
        max: usize,
        /// The size of the input in bytes.
        actual: usize,
    },
    /// Fewer code points than the minimum, counted after normalisation.
    #[error("password has {actual} characters, fewer than the {min} required")]
    TooShort {
        /// The minimum in Unicode code points.
        min: usize,
        /// The length in Unicode code points after normalisation.
        actual: usize,
    },
    /// More code points than the maximum, counted after normalisation.
    #[error("password has {actual} characters, more than the {max} allowed")]
    TooLong {
        /// The maximum in Unicode code points.
        max: usize,
        /// The length in Unicode code points after normalisation.
        actual: usize,
    },
    /// The password is on the configured blocklist.
    #[error("password is on the blocklist of common or breached passwords")]
    Blocklisted,
}

/// Hashing or verifying a password failed.
///
/// A wrong password is not an error: verification returns
/// [`Verified`](crate::password::Verified) with `is_valid() == false`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password breaks the policy.
    #[error("password refused by policy: {0}")]
    Policy(#[from] PolicyError),
    /// The stored hash names an algorithm tessera cannot verify, or is not a
    /// PHC string at all (garbage, empty).
    #[error("unknown or unsupported password hash algorithm")]
    UnknownAlgorithm,
    /// The stored hash belongs to a scheme tessera does not verify (with the
    /// `legacy` feature: anything but argon2 and the legacy schemes); the
    /// scheme's prefix, for the operator.
    #[error("unsupported password hash scheme {0:?}")]
    UnsupportedScheme(String),
    /// The stored hash names a supported algorithm but cannot be parsed or
    /// holds values the algorithm rejects.
    #[error("malformed password hash: {0}")]
    MalformedHash(&'static str),
    /// The stored hash asks for more work than the configured ceilings allow.
    /// Checked before any memory is allocated, so a planted hash cannot be
    /// used to exhaust the server.
    #[error("stored hash parameter {param}={value} exceeds the ceiling {max}")]
    ParamsOutOfBounds {
        /// The parameter: `m` (KiB), `t` or `p`.
        param: &'static str,
        /// The value in the stored hash.
        value: u64,
        /// The configured ceiling.
        max: u64,
    },
    /// The hasher's own parameters are invalid (a configuration error).
    #[error("invalid hashing parameters: {0}")]
    InvalidParams(&'static str),
    /// Every hashing worker is busy and the queue is full. Answer with 503 and
    /// `Retry-After`; do not retry in a loop.
    #[error("password hashing is overloaded")]
    Overloaded,
    /// The worker pool has shut down or a worker died.
    #[error("password hashing workers are unavailable")]
    WorkersUnavailable,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random(#[source] BoxError),
    /// The hashing primitive failed unexpectedly.
    #[error("password hashing failed: {0}")]
    Internal(&'static str),
}

/// An opaque token (refresh token or API key) was refused, or could not be
/// issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a well-formed token of the expected kind (prefix, length,
    /// alphabet or checksum). Found without a store lookup.
    #[error("malformed token")]
    Malformed,
    /// Unknown, expired, revoked or used up. For a refresh, OAuth's
    /// `invalid_grant`.
    #[error("invalid, expired or revoked token")]
    Invalid,
    /// A used-up refresh token was presented again after the grace window:
    /// its whole family is now revoked.
    #[error("refresh token reused; its family is revoked")]
    Reused {
        /// The revoked family.
        family: crate::token::FamilyId,
    },
    /// A refresh asked for a scope its login was not granted.
    #[error("scope {scope:?} was not granted")]
    InvalidScope {
        /// The first such scope.
        scope: String,
    },
    /// An API key name is empty, longer than 128 bytes or has control
    /// characters.
    #[error("invalid api key name")]
    InvalidName,
    /// An API key asked for a scope the account may not have.
    #[error("scope {scope:?} is not allowed for this account")]
    ScopeNotAllowed {
        /// The first such scope.
        scope: String,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random(#[source] BoxError),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A configuration was refused at construction.
///
/// Builders return this at start-up, so a bad configuration never fails a
/// request later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting has a value that cannot work.
    #[error("invalid configuration of {setting}: {reason}")]
    Invalid {
        /// The setting, as named in the builder.
        setting: &'static str,
        /// Why the value cannot work.
        reason: String,
    },
    /// A resource the configuration needs could not be set up.
    #[error("could not set up {what}")]
    Setup {
        /// What could not be set up.
        what: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
}

impl ConfigError {
    pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting,
            reason: reason.into(),
        }
    }
}
