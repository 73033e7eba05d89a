//! Who a request is: the credentials it carried, and the identity they
//! resolved to.

use std::collections::BTreeSet;
use std::fmt;
use std::time::SystemTime;

use crate::password::Password;
use crate::token::FamilyId;
use crate::users::UserId;

/// Credentials read from a request, before any check.
///
/// Adapters build these from the `Authorization` header (or the session
/// cookie when there is none) and hand them to
/// [`Auth::authenticate`](crate::auth::Auth::authenticate). `Debug` hides
/// every secret.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// `Authorization: Bearer <token>`: an access-token JWT, or an API key
    /// (`tsk_…`).
    Bearer(String),
    /// `Authorization: Basic base64(login:password)`.
    Basic {
        /// The login (email), as sent.
        login: String,
        /// The password.
        password: Password,
    },
    /// The session cookie's value.
    Session(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer([redacted])"),
            Self::Basic { login, .. } => f
                .debug_struct("Basic")
                .field("login", login)
                .field("password", &"[redacted]")
                .finish(),
            Self::Session(_) => f.write_str("Session([redacted])"),
        }
    }
}

/// How an identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// An access-token JWT.
    Jwt,
    /// An API key.
    ApiKey,
    /// Basic email:password on the request.
    Basic,
    /// A session cookie.
    Session,
}

/// An authenticated caller, as extractors and guards see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The account.
    pub subject: UserId,
    /// Its roles: current for sessions, Basic and API keys; as of issue for
    /// JWTs (until they are next refreshed).
    pub roles: BTreeSet<String>,
    /// The scopes this request may use.
    pub scopes: BTreeSet<String>,
    /// How it was established.
    pub method: AuthMethod,
    /// The JWT's `jti`, or the API key's public id.
    pub token_id: Option<String>,
    /// The refresh family (login) a JWT descends from.
    pub family: Option<FamilyId>,
    /// Whether a password was entered recently enough for sensitive
    /// operations: a JWT minted by a password login, a session within its
    /// freshness window, or Basic. Never an API key.
    pub fresh: bool,
    /// When the password was entered, where known.
    pub authenticated_at: Option<SystemTime>,
}

impl Identity {
    /// Whether the identity has `role` (exact, case-sensitive).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Whether the identity has `scope` (exact, case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}
