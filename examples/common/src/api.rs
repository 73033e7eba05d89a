//! The starter API's request and response bodies (CONTRACTS.md §1) and the
//! helpers both starters' handlers use, so that the axum and actix-web
//! starters accept and answer byte for byte the same.
//!
//! Answers are structs, not `json!` maps: members come out in the
//! contract's order.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_core::auth::TokenPair;
use tessera_core::onetime::OneTimeToken;
use tessera_core::users::User;

use crate::Message;

/// Accounts listed per store round trip by `GET /admin/users`.
pub const USERS_PAGE: usize = 100;

// ---- bodies -------------------------------------------------------------

/// `POST /auth/register`.
#[derive(Deserialize)]
pub struct RegisterBody {
    /// The login.
    pub email: String,
    /// The password.
    pub password: String,
}

/// `POST /auth/login`.
#[derive(Deserialize)]
pub struct LoginBody {
    /// The login.
    pub email: String,
    /// The password.
    pub password: String,
    /// Space-separated scopes to narrow the tokens to.
    pub scope: Option<String>,
}

/// `POST /auth/refresh`.
#[derive(Deserialize)]
pub struct RefreshBody {
    /// The refresh token to rotate.
    pub refresh_token: String,
}

/// `POST /auth/password`.
#[derive(Deserialize)]
pub struct PasswordChange {
    /// The password in force.
    pub current_password: String,
    /// The password that replaces it.
    pub new_password: String,
}

/// `POST /auth/api-keys`.
#[derive(Debug, Deserialize)]
pub struct NewApiKey {
    /// The key's name, for its owner.
    pub name: String,
    /// The scopes it carries.
    pub scopes: BTreeSet<String>,
}

/// `POST /notes`.
#[derive(Debug, Deserialize)]
pub struct NewNote {
    /// The note.
    pub text: String,
}

/// `PATCH /admin/users/{id}`.
#[derive(Debug, Deserialize)]
pub struct UserPatch {
    /// Enable or disable the account.
    pub active: Option<bool>,
    /// Replace the account's roles.
    pub roles: Option<BTreeSet<String>>,
    /// Accepted (it must be a boolean) and ignored for now: login throttling
    /// and its lock arrive with the throttling issue, and `unlock: true`
    /// will clear them then.
    pub unlock: Option<bool>,
}

/// `POST /session/login`.
#[derive(Deserialize)]
pub struct SessionLogin {
    /// The login.
    pub email: String,
    /// The password.
    pub password: String,
    /// A persistent cookie with the remember-me lifetime.
    pub remember: Option<bool>,
}

/// `POST /auth/password-reset`.
#[derive(Debug, Deserialize)]
pub struct ResetRequest {
    /// The login to send a link to, if it exists.
    pub email: String,
}

/// `POST /auth/password-reset/confirm`.
#[derive(Deserialize)]
pub struct ResetConfirm {
    /// The token from the message.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

// ---- answers ------------------------------------------------------------

/// The login shape; `csrf_token` only after a session caller's password
/// change.
#[derive(Serialize)]
pub struct Tokens {
    /// The access JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The refresh token.
    pub refresh_token: String,
    /// Space-separated granted scopes.
    pub scope: String,
    /// The rotated session's CSRF token, when a session was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

impl From<&TokenPair> for Tokens {
    fn from(pair: &TokenPair) -> Self {
        Self {
            access_token: pair.access_token.clone(),
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token.clone(),
            scope: pair.scope(),
            csrf_token: None,
        }
    }
}

/// A new account.
#[derive(Debug, Serialize)]
pub struct Account<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its normalised login.
    pub email: &'a str,
    /// Its roles.
    pub roles: &'a BTreeSet<String>,
}

impl<'a> From<&'a User> for Account<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id.as_str(),
            email: user.login.as_str(),
            roles: &user.roles,
        }
    }
}

/// An account as administrators see it.
#[derive(Debug, Serialize)]
pub struct AdminView {
    /// Its id.
    pub id: String,
    /// Its normalised login.
    pub email: String,
    /// Its roles.
    pub roles: BTreeSet<String>,
    /// Whether it may log in.
    pub active: bool,
}

impl From<User> for AdminView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_str().to_owned(),
            email: user.login.into_string(),
            roles: user.roles,
            active: user.active,
        }
    }
}

/// `GET /me`.
#[derive(Debug, Serialize)]
pub struct Me {
    /// The account's id.
    pub id: String,
    /// Its normalised login.
    pub email: String,
    /// The roles of the credential.
    pub roles: BTreeSet<String>,
    /// The scopes of the credential.
    pub scopes: BTreeSet<String>,
}

/// A new API key, shown once.
#[derive(Serialize)]
pub struct KeyCreated<'a> {
    /// The key's id, for deletion.
    pub id: &'a str,
    /// The key itself.
    pub api_key: &'a str,
}

/// A session's CSRF token.
#[derive(Serialize)]
pub struct CsrfToken {
    /// The token for `X-CSRF-Token`.
    pub csrf_token: String,
}

// Bodies and answers that carry a secret show only their other fields.

impl fmt::Debug for RegisterBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterBody")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginBody")
            .field("email", &self.email)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RefreshBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshBody").finish_non_exhaustive()
    }
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

impl fmt::Debug for SessionLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLogin")
            .field("email", &self.email)
            .field("remember", &self.remember)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ResetConfirm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetConfirm").finish_non_exhaustive()
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfToken").finish_non_exhaustive()
    }
}

impl fmt::Debug for KeyCreated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCreated")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

// ---- helpers ------------------------------------------------------------

/// The reset message. The link is built on the configured public URL, never
/// on the request's `Host`, which an attacker chooses.
pub fn reset_message(public_url: &str, user: &User, token: &OneTimeToken) -> Message {
    let token = token.expose_secret();
    Message {
        to: user.login.as_str().to_owned(),
        subject: "Reset your password".to_owned(),
        body: format!(
            "Someone asked to reset the password of this account. If it was you, use:\n\
             token: {token}\n\
             or open {public_url}/reset?token={token}\n\
             If it was not you, ignore this message: nothing changes.\n"
        ),
    }
}

/// A usable address: something on each side of an `@`, without spaces or
/// control characters (which would let it add lines to a mail header).
pub fn plausible_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let body: LoginBody = serde_json::from_str(
            r#"{"email":"alice@example.com","password":"hunter2-secret","scope":"notes:read"}"#,
        )
        .unwrap();
        let shown = format!("{body:?}");
        assert!(shown.contains("alice@example.com"), "{shown}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        let tokens = Tokens {
            access_token: "eyJ-access".into(),
            token_type: "Bearer",
            expires_in: 900,
            refresh_token: "tsr_refresh".into(),
            scope: "notes:read".into(),
            csrf_token: Some("csrf-secret".into()),
        };
        let shown = format!("{tokens:?}");
        for secret in ["eyJ-access", "tsr_refresh", "csrf-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let key = KeyCreated {
            id: "k1",
            api_key: "tsk_secret",
        };
        assert!(!format!("{key:?}").contains("tsk_secret"));
    }

    #[test]
    fn tokens_serialise_in_contract_order() {
        let tokens = Tokens {
            access_token: "a".into(),
            token_type: "Bearer",
            expires_in: 900,
            refresh_token: "r".into(),
            scope: "notes:read".into(),
            csrf_token: None,
        };
        assert_eq!(
            serde_json::to_string(&tokens).unwrap(),
            r#"{"access_token":"a","token_type":"Bearer","expires_in":900,"refresh_token":"r","scope":"notes:read"}"#
        );
    }

    #[test]
    fn plausible_emails() {
        assert!(plausible_email("alice@example.com"));
        assert!(plausible_email(" alice@example.com "));
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "a@ex\r\nample.com",
        ] {
            assert!(!plausible_email(bad), "{bad:?}");
        }
    }
}
