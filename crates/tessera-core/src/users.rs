//! Accounts and where they are kept.
//!
//! [`UserStore`] is the one trait an application implements to bring its own
//! user table. tessera ships an in-memory store
//! ([`MemoryUserStore`](crate::memory::MemoryUserStore)) and SQL stores.
//!
//! # Bringing your own table
//!
//! Implement [`UserStore`] over your table. The rules every implementation
//! follows (the in-memory store is the reference):
//!
//! - Logins arrive as [`Login`], already normalised (trimmed, lower-cased);
//!   store and compare them as they are, and make the login column unique so
//!   that [`create`](UserStore::create) can report
//!   [`CreateUserError::LoginTaken`] even when two registrations race.
//! - "Not found" is `Ok(None)`; `Err` means the database failed.
//! - [`PasswordUpdate::Rehash`] is a compare-and-swap
//!   (`UPDATE … SET password_hash = $new WHERE id = $id AND password_hash = $previous`):
//!   a rehash on login must never overwrite a password changed in between.
//! - Roles are a set of strings; keep them in a join table or an array
//!   column, and return them sorted (a [`BTreeSet`] does that for you).
//!
//! ```
//! use std::collections::BTreeSet;
//! use std::time::SystemTime;
//! use tessera_core::async_trait;
//! use tessera_core::error::{CreateUserError, StoreError};
//! use tessera_core::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};
//!
//! /// A store over an application's own table (here a stand-in).
//! struct MyUsers { /* a database pool */ }
//!
//! #[async_trait]
//! impl UserStore for MyUsers {
//!     async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
//!         // SELECT … FROM accounts WHERE email = $1
//!         # let _ = login;
//!         Ok(None)
//!     }
//!     # async fn find_by_id(&self, _: &UserId) -> Result<Option<User>, StoreError> { Ok(None) }
//!     # async fn create(&self, u: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
//!     #     Ok(User::new(UserId::new("1"), u.login, u.password_hash, at))
//!     # }
//!     # async fn update_password_hash(&self, _: &UserId, _: &str, _: PasswordUpdate) -> Result<Option<User>, StoreError> { Ok(None) }
//!     # async fn set_roles(&self, _: &UserId, _: &BTreeSet<String>) -> Result<Option<User>, StoreError> { Ok(None) }
//!     # async fn set_active(&self, _: &UserId, _: bool) -> Result<Option<User>, StoreError> { Ok(None) }
//!     # async fn record_login(&self, _: &UserId, _: SystemTime) -> Result<Option<User>, StoreError> { Ok(None) }
//!     # async fn list_users(&self, _: Option<&UserId>, _: usize) -> Result<Vec<User>, StoreError> { Ok(vec![]) }
//!     // … and the other methods, each one statement.
//! }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use unicode_normalization::UnicodeNormalization;

pub use crate::error::{CreateUserError, LoginError, StoreError};

/// An account's login (its email address), normalised.
///
/// This is the one place logins are normalised, so `" Alice@Example.com "`
/// and `"alice@example.com"` are the same account everywhere (stores,
/// throttling, reset requests): NFKC (so full-width `Ａｌｉｃｅ` and a
/// decomposed `é` do not make look-alike accounts), then surrounding
/// whitespace trimmed, then lower case.
///
/// ```
/// use tessera_core::users::{Login, LoginError};
///
/// assert_eq!(Login::parse(" Alice@Example.COM\n").unwrap().as_str(), "alice@example.com");
/// assert_eq!(Login::parse("ａｌｉｃｅ@example.com").unwrap().as_str(), "alice@example.com");
/// assert_eq!(Login::parse("  "), Err(LoginError::Empty));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Login(String);

impl Login {
    /// Longest login after normalisation, in bytes: the longest email
    /// address SMTP can deliver to (RFC 5321 §4.5.3.1.3).
    pub const MAX_LEN: usize = 254;

    /// Normalises `raw`.
    ///
    /// # Errors
    /// [`LoginError::Empty`] when nothing is left; [`LoginError::TooLong`]
    /// above [`MAX_LEN`](Self::MAX_LEN) bytes (checked on the raw input too,
    /// before normalising, so a huge input costs nothing).
    pub fn parse(raw: &str) -> Result<Self, LoginError> {
        // Whitespace around a valid login is allowed; beyond that slack the
        // input cannot normalise to MAX_LEN or less.
        if raw.len() > 4 * Self::MAX_LEN {
            return Err(LoginError::TooLong { max: Self::MAX_LEN });
        }
        let normalised: String = raw.nfkc().collect();
        let login = normalised.trim().to_lowercase();
        if login.is_empty() {
            return Err(LoginError::Empty);
        }
        if login.len() > Self::MAX_LEN {
            return Err(LoginError::TooLong { max: Self::MAX_LEN });
        }
        Ok(Self(login))
    }

    /// The normalised login.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Takes the normalised string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account's id: an opaque string chosen by the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(String);

impl UserId {
    /// Wraps an id produced by a store.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account.
///
/// Construct it with [`User::new`] and set the other fields; the struct may
/// gain fields in a minor release.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// The store's id for the account.
    pub id: UserId,
    /// The login: an email address, normalised.
    pub login: Login,
    /// The PHC string of the password.
    pub password_hash: String,
    /// The account's roles, sorted.
    pub roles: BTreeSet<String>,
    /// A deactivated account cannot log in and its credentials are refused.
    pub active: bool,
    /// When the account was created.
    pub created_at: SystemTime,
    /// When the account last logged in with its password.
    pub last_login_at: Option<SystemTime>,
    /// When the password was last set (at creation, change or reset).
    /// Tokens and sessions issued before it are dead.
    pub password_changed_at: SystemTime,
}

impl User {
    /// An active account without roles, created at `created_at`, whose
    /// password was set at the same time.
    pub fn new(id: UserId, login: Login, password_hash: String, created_at: SystemTime) -> Self {
        Self {
            id,
            login,
            password_hash,
            roles: BTreeSet::new(),
            active: true,
            created_at,
            last_login_at: None,
            password_changed_at: created_at,
        }
    }

    /// Whether the account has `role` (exact, case-sensitive match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is not the password, but it is what an offline attack
        // starts from: keep it out of logs.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("password_hash", &"[redacted]")
            .field("roles", &self.roles)
            .field("active", &self.active)
            .field("created_at", &self.created_at)
            .field("last_login_at", &self.last_login_at)
            .field("password_changed_at", &self.password_changed_at)
            .finish()
    }
}

/// An account to create.
#[derive(Clone)]
#[non_exhaustive]
pub struct NewUser {
    /// The login, normalised.
    pub login: Login,
    /// The PHC string of the password.
    pub password_hash: String,
    /// Initial roles.
    pub roles: BTreeSet<String>,
    /// Whether the account starts active.
    pub active: bool,
}

impl NewUser {
    /// An active account without roles.
    pub fn new(login: Login, password_hash: String) -> Self {
        Self {
            login,
            password_hash,
            roles: BTreeSet::new(),
            active: true,
        }
    }

    /// Sets the initial roles.
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("login", &self.login)
            .field("password_hash", &"[redacted]")
            .field("roles", &self.roles)
            .field("active", &self.active)
            .finish()
    }
}

/// Why a password hash is being written.
///
/// Stores must handle each case, so this enum is deliberately exhaustive: a
/// new case would be a breaking change, not a silent wildcard match.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordUpdate {
    /// The password itself changed (change or reset): sets
    /// `password_changed_at`, which ends earlier tokens and sessions.
    Changed {
        /// When it changed.
        at: SystemTime,
    },
    /// The same password, hashed again with current parameters after a login.
    /// Written only if the stored hash is still `previous`, and leaves
    /// `password_changed_at` alone.
    Rehash {
        /// The hash the login verified against.
        previous: String,
    },
}

impl fmt::Debug for PasswordUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed { at } => f.debug_struct("Changed").field("at", at).finish(),
            Self::Rehash { .. } => f.debug_struct("Rehash").finish_non_exhaustive(),
        }
    }
}

/// Where accounts are kept.
///
/// Every method that changes an account returns it as it now is, or
/// `Ok(None)` when there is no account with that id (or, for a
/// [`PasswordUpdate::Rehash`], when the hash changed in between).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The account with this login.
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError>;

    /// The account with this id.
    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError>;

    /// Creates an account at time `at` (its `created_at` and
    /// `password_changed_at`).
    ///
    /// # Errors
    /// [`CreateUserError::LoginTaken`] when another account has the login,
    /// including when two creates race: exactly one of them succeeds.
    async fn create(&self, user: NewUser, at: SystemTime) -> Result<User, CreateUserError>;

    /// Replaces the password hash; see [`PasswordUpdate`].
    async fn update_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        update: PasswordUpdate,
    ) -> Result<Option<User>, StoreError>;

    /// Replaces the account's roles.
    async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<Option<User>, StoreError>;

    /// Activates or deactivates the account.
    async fn set_active(&self, id: &UserId, active: bool) -> Result<Option<User>, StoreError>;

    /// Records a successful password login at `at`.
    async fn record_login(&self, id: &UserId, at: SystemTime) -> Result<Option<User>, StoreError>;

    /// Up to `limit` accounts ordered by id, starting after `after` (keyset
    /// pagination: pass the last id of a page to get the next).
    async fn list_users(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_normalised_in_one_way() {
        for raw in [
            "alice@example.com",
            "  Alice@Example.com ",
            "ALICE@EXAMPLE.COM\n",
            "ａｌｉｃｅ@ｅｘａｍｐｌｅ.com",
        ] {
            assert_eq!(
                Login::parse(raw).unwrap().as_str(),
                "alice@example.com",
                "{raw:?}"
            );
        }
        // A decomposed accent composes.
        assert_eq!(
            Login::parse("Jose\u{301}@example.com").unwrap(),
            Login::parse("jos\u{e9}@example.com").unwrap()
        );
    }

    #[test]
    fn empty_and_oversized_logins_are_refused() {
        assert_eq!(Login::parse(""), Err(LoginError::Empty));
        assert_eq!(Login::parse(" \t\n"), Err(LoginError::Empty));
        let longest = format!("{}@example.com", "a".repeat(Login::MAX_LEN - 12));
        assert_eq!(
            Login::parse(&longest).unwrap().as_str().len(),
            Login::MAX_LEN
        );
        let too_long = format!("a{longest}");
        assert_eq!(
            Login::parse(&too_long),
            Err(LoginError::TooLong { max: 254 })
        );
        assert_eq!(
            Login::parse(&"a".repeat(1 << 20)),
            Err(LoginError::TooLong { max: 254 })
        );
    }
}
