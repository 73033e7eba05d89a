//! Password hashing and verification.
//!
//! The pieces, from the outside in:
//!
//! - [`PasswordPool`]: what a server uses. Async `hash` / `verify` /
//!   `verify_dummy` that run on a fixed set of worker threads behind a bounded
//!   queue, so a login flood can neither block the async executor nor exhaust
//!   memory. It applies the [`PasswordPolicy`] first.
//! - [`PasswordPolicy`]: length limits in Unicode code points, NFKC
//!   normalisation, an early byte limit, and an optional [`Blocklist`].
//! - [`Argon2Hasher`]: the default [`PasswordHasher`] and [`PasswordVerifier`]:
//!   argon2id, m = 19456 KiB, t = 2, p = 1 (the OWASP recommendation), a
//!   16-byte random salt and a 32-byte output, in a PHC string.
//! - [`Password`]: the secret itself, redacted in `Debug` and zeroized on drop.
//!
//! # Defaults, and why
//!
//! | setting | default | why |
//! | --- | --- | --- |
//! | algorithm | argon2id v19 | winner of the Password Hashing Competition; RFC 9106's first choice; resists both GPU and side-channel attacks |
//! | memory, time, parallelism | 19456 KiB, 2, 1 | OWASP Password Storage Cheat Sheet; about 20–40 ms on a current server core |
//! | salt, output | 16 bytes from the OS, 32 bytes | RFC 9106 §3.1 |
//! | ceilings on stored hashes | m ≤ 256 MiB, t ≤ 16, p ≤ 16 | a stored hash is untrusted input: without a ceiling a planted `m=8388608` makes one login allocate 8 GiB |
//! | workers, queue | available parallelism, 4 × workers | peak memory is workers × m, whatever the number of callers; a full queue answers `Overloaded` at once |
//! | policy | 8 to 128 code points after NFKC, raw input ≤ 4 KiB | NIST SP 800-63B; no composition rules, never truncation |
//!
//! # Example
//!
//! ```
//! use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Cheap parameters keep the example fast; servers keep the default.
//! let hasher = Argon2Hasher::new(Argon2Params::new(1024, 1, 1))?;
//! let pool = PasswordPool::builder().hasher(hasher).workers(1).build()?;
//!
//! let hash = pool.hash(&Password::new("correct horse battery staple")).await?;
//! assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
//!
//! let verified = pool.verify(&Password::new("correct horse battery staple"), &hash).await?;
//! assert!(verified.is_valid());
//! assert!(!pool.verify(&Password::new("Correct horse battery staple"), &hash).await?.is_valid());
//! # Ok(())
//! # }
//! ```

mod argon2id;
#[cfg(feature = "legacy")]
pub mod legacy;
mod policy;
mod pool;

use std::any::Any;
use std::fmt;

use zeroize::Zeroizing;

pub use self::argon2id::{Argon2Hasher, Argon2Limits, Argon2Params};
pub use self::policy::{Blocklist, PasswordPolicy, PasswordPolicyBuilder, SetBlocklist};
pub use self::pool::{PasswordPool, PasswordPoolBuilder, PoolStats};
pub use crate::error::{PasswordError, PolicyError};

/// A password in memory.
///
/// `Debug` prints `[redacted]`, there is no `Display`, and the bytes are
/// zeroed when the value is dropped. Read it with
/// [`expose_secret`](Self::expose_secret).
///
/// ```
/// use tessera_core::password::Password;
///
/// let password = Password::new("hunter22");
/// assert_eq!(format!("{password:?}"), "[redacted]");
/// assert_eq!(password.expose_secret(), "hunter22");
/// ```
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(Zeroizing::new(password.into()))
    }

    /// The password itself. Every use of it is a place to review.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Self::new(password)
    }
}

impl From<&str> for Password {
    fn from(password: &str) -> Self {
        Self::new(password)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a verification result must be checked"]
pub struct Verified {
    valid: bool,
    needs_rehash: bool,
}

impl Verified {
    /// The password did not match.
    pub const INVALID: Self = Self {
        valid: false,
        needs_rehash: false,
    };

    /// The password matched; `needs_rehash` says whether the stored hash is
    /// below the current parameters.
    pub const fn valid(needs_rehash: bool) -> Self {
        Self {
            valid: true,
            needs_rehash,
        }
    }

    /// Whether the password matched the stored hash.
    pub const fn is_valid(&self) -> bool {
        self.valid
    }

    /// Whether the password matched and the stored hash should be replaced by
    /// a hash with the current parameters: another algorithm, an argon2
    /// version below 0x13, or any cost (memory, time, parallelism, salt or
    /// output length) below the current ones. Always `false` for a mismatch,
    /// since a new hash needs the right password.
    pub const fn needs_rehash(&self) -> bool {
        self.valid && self.needs_rehash
    }
}

/// Working memory that a hasher may keep between calls.
///
/// Each worker of a [`PasswordPool`] owns one, so the argon2 memory blocks are
/// allocated once per worker rather than once per hash. A hasher keeps
/// whatever [`Workspace`] it needs in it; one that needs none ignores it.
#[derive(Default)]
pub struct Scratch {
    space: Option<Box<dyn Workspace>>,
}

/// Memory a hasher keeps in a [`Scratch`] between calls.
pub trait Workspace: Any + Send {
    /// Bytes held.
    fn held_bytes(&self) -> usize;

    /// Overwrites everything held with zeros.
    fn wipe(&mut self);
}

impl Scratch {
    /// Empty working memory; the hasher fills it on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// The workspace of type `W`, created with `W::default()` when the
    /// scratch is empty or holds another type (the old one is wiped first).
    pub fn workspace<W: Workspace + Default>(&mut self) -> &mut W {
        let holds_w = self
            .space
            .as_deref()
            .is_some_and(|space| (space as &dyn Any).is::<W>());
        if !holds_w {
            self.wipe();
            self.space = Some(Box::new(W::default()));
        }
        let space = self.space.get_or_insert_with(|| Box::new(W::default()));
        match (space.as_mut() as &mut dyn Any).downcast_mut::<W>() {
            Some(w) => w,
            // Replaced just above when it held another type.
            None => unreachable!("scratch holds the requested workspace type"),
        }
    }

    /// Bytes currently held.
    pub fn held_bytes(&self) -> usize {
        self.space.as_ref().map_or(0, |space| space.held_bytes())
    }

    /// Overwrites the held memory with zeros, keeping it allocated.
    pub fn wipe(&mut self) {
        if let Some(space) = &mut self.space {
            space.wipe();
        }
    }
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scratch")
            .field("held_bytes", &self.held_bytes())
            .finish()
    }
}

/// Turns a password into a string that can be stored.
///
/// Object safe. The input is the password as it should be hashed: callers
/// that use a hasher directly, rather than through a [`PasswordPool`], run it
/// through [`PasswordPolicy::check`] first.
pub trait PasswordHasher: Send + Sync {
    /// Hashes `password` with a fresh random salt, using `scratch` as working
    /// memory.
    fn hash_password_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<String, PasswordError>;

    /// Hashes `password` with freshly allocated working memory.
    fn hash_password(&self, password: &Password) -> Result<String, PasswordError> {
        self.hash_password_with(password, &mut Scratch::new())
    }

    /// Does the work of a verification at the parameters of new hashes and
    /// discards the result.
    ///
    /// A login for an account that does not exist (or is disabled) calls
    /// this, so it costs what a login for an existing account costs and the
    /// response time does not tell an attacker which accounts exist.
    fn verify_dummy_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError>;

    /// [`verify_dummy_with`](Self::verify_dummy_with) for a password a
    /// [`PasswordPolicy`] prepared from `typed`: a hasher whose
    /// [`PasswordVerifier::verify_prepared_with`] tries more than one form
    /// does as much work here as a wrong password costs there. The default
    /// ignores `typed`. [`PasswordPool::verify_dummy`] calls this. A wrapper
    /// around another hasher forwards this together with
    /// `verify_prepared_with`, or unknown accounts answer faster.
    fn verify_dummy_prepared_with(
        &self,
        prepared: &Password,
        typed: &Password,
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        let _ = typed;
        self.verify_dummy_with(prepared, scratch)
    }
}

/// Checks a password against a stored hash.
///
/// Object safe, and separate from [`PasswordHasher`] so that verifiers of
/// legacy formats can be chained in front of the current hasher. Stored
/// hashes are untrusted input: implementations reject
/// malformed strings and excessive cost parameters with an error, before
/// allocating, and never panic.
pub trait PasswordVerifier: Send + Sync {
    /// Verifies `password` against `stored`, using `scratch` as working
    /// memory. A mismatch is `Ok` with [`Verified::is_valid`] false; an
    /// unusable `stored` string is an error.
    fn verify_password_with(
        &self,
        password: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError>;

    /// Verifies with freshly allocated working memory.
    fn verify_password(
        &self,
        password: &Password,
        stored: &str,
    ) -> Result<Verified, PasswordError> {
        self.verify_password_with(password, stored, &mut Scratch::new())
    }

    /// Verifies `prepared`, the form a [`PasswordPolicy`] made of what the
    /// user typed (`typed`; NFKC-normalised by default).
    ///
    /// tessera hashes the prepared form, but systems that do not normalise
    /// hashed the password as typed. The default verifies `prepared` only.
    /// A verifier of such hashes (`legacy::LegacyHasher`, feature `legacy`)
    /// also tries `typed` when it differs and `prepared` did not match, and
    /// reports that match as needing a rehash, so the stored hash moves to
    /// the prepared form on this login. [`PasswordPool::verify`] calls this.
    /// A wrapper around another verifier must forward this method too, or
    /// the inner one loses `typed`.
    fn verify_prepared_with(
        &self,
        prepared: &Password,
        typed: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        let _ = typed;
        self.verify_password_with(prepared, stored, scratch)
    }
}

/// Both halves, as one object-safe trait for `Arc<dyn PasswordHashing>`.
pub trait PasswordHashing: PasswordHasher + PasswordVerifier {}

impl<T: PasswordHasher + PasswordVerifier + ?Sized> PasswordHashing for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_is_redacted() {
        let password = Password::new("s3cret-value");
        let printed = format!("{password:?} {:?}", Some(&password));
        assert!(!printed.contains("s3cret"), "{printed}");
        assert_eq!(format!("{password:?}"), "[redacted]");
    }

    #[test]
    fn needs_rehash_is_never_reported_for_a_mismatch() {
        assert!(!Verified::INVALID.needs_rehash());
        assert!(!Verified::INVALID.is_valid());
        assert!(Verified::valid(true).needs_rehash());
        assert!(!Verified::valid(false).needs_rehash());
    }
}
