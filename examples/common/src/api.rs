//! The starter API's request and response bodies (CONTRACTS.md §1) and the
//! helpers both starters' handlers use, so that the axum and actix-web
//! starters accept and answer byte for byte the same.
//!
//! Answers are structs, not `json!` maps: members come out in the
//! contract's order.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tessera_core::auth::{Auth, AuthError, TokenPair};
use tessera_core::identity::Identity;
use tessera_core::onetime::OneTimeToken;
use tessera_core::users::{User, UserId};

use crate::Message;

/// Accounts listed per store round trip by `GET /admin/users`.
pub const USERS_PAGE: usize = 100;

/// The largest request body the starters read (64 KiB: their bodies are a
/// few hundred bytes). A larger one is `invalid_request`, in both.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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
    /// `true` clears the account's login throttling and lock.
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

/// Whether a `Content-Type` value is JSON: `application/json` or
/// `application/<anything>+json`, parameters ignored, case-insensitive.
pub fn is_json(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type.and_then(|v| std::str::from_utf8(v).ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// A request body, read the same way by both starters: JSON by
/// `Content-Type`, at most [`MAX_BODY_BYTES`], every required member
/// present and well typed, nothing after the value. Anything else is
/// `invalid_request` (never the framework's 413, 415 or 422).
///
/// # Errors
/// [`AuthError::InvalidRequest`]; serde's message is logged at debug
/// without the body's values.
pub fn parse_body<T: DeserializeOwned>(
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<T, AuthError> {
    if !is_json(content_type) {
        return Err(AuthError::InvalidRequest("body is not application/json"));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(AuthError::InvalidRequest("body too large"));
    }
    serde_json::from_slice(body).map_err(|error| {
        // The category and position only: serde's message can echo the
        // body's values, passwords included.
        tracing::debug!(
            target: "tessera::auth",
            category = ?error.classify(),
            line = error.line(),
            column = error.column(),
            "request body refused"
        );
        AuthError::InvalidRequest("body")
    })
}

/// `POST /auth/password`: changes the password of a fresh caller. A
/// session caller keeps its session under a new id, returned with the CSRF
/// token for it in the answer; the adapter sets its cookie.
///
/// # Errors
/// As [`Auth::change_password`].
pub async fn change_password(
    auth: &Auth,
    identity: &Identity,
    session: Option<tessera_core::session::Session>,
    body: PasswordChange,
) -> Result<(Tokens, Option<tessera_core::session::Session>), AuthError> {
    let session =
        session.filter(|_| identity.method == tessera_core::identity::AuthMethod::Session);
    let changed = auth
        .change_password(
            identity,
            session,
            &tessera_core::password::Password::new(body.current_password),
            &tessera_core::password::Password::new(body.new_password),
        )
        .await?;
    let mut tokens = Tokens::from(&changed.tokens);
    if let Some(session) = &changed.session {
        tokens.csrf_token = Some(auth.csrf().token(session.id()));
    }
    Ok((tokens, changed.session))
}

/// `POST /session/login`: a cookie session for the account (replacing
/// `current`, whose id is never reused) and the CSRF token bound to it. The
/// adapter sets the session cookie and answers with the token.
///
/// # Errors
/// As [`ClientAuth::login_session`](tessera_core::auth::ClientAuth::login_session).
pub async fn session_login(
    auth: &Auth,
    client: tessera_core::throttle::Client,
    current: Option<tessera_core::session::Session>,
    body: SessionLogin,
    user_agent: Option<&str>,
) -> Result<(tessera_core::session::Session, CsrfToken), AuthError> {
    let session = auth
        .from_client(client)
        .login_session(
            current,
            &body.email,
            &tessera_core::password::Password::new(body.password),
            body.remember.unwrap_or(false),
            user_agent,
        )
        .await?;
    let csrf_token = auth.csrf().token(session.id());
    Ok((session, CsrfToken { csrf_token }))
}

/// `GET /me`: the caller's account and what this request may do.
///
/// # Errors
/// `unauthenticated` when the account is gone; a store error.
pub async fn me(auth: &Auth, identity: Identity) -> Result<Me, AuthError> {
    let user = auth
        .users()
        .find_by_id(&identity.subject)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    Ok(Me {
        id: user.id.as_str().to_owned(),
        email: user.login.into_string(),
        roles: identity.roles,
        scopes: identity.scopes,
    })
}

/// `GET /admin/users`: every account, [`USERS_PAGE`] per store round trip.
///
/// # Errors
/// A store error.
pub async fn list_accounts(auth: &Auth) -> Result<Vec<AdminView>, AuthError> {
    let mut users = Vec::new();
    let mut after: Option<UserId> = None;
    loop {
        let page = auth.users().list_users(after.as_ref(), USERS_PAGE).await?;
        let last_page = page.len() < USERS_PAGE;
        after = page.last().map(|user| user.id.clone());
        users.extend(page.into_iter().map(AdminView::from));
        if last_page || after.is_none() {
            return Ok(users);
        }
    }
}

/// `PATCH /admin/users/{id}`: `unlock`, roles, then `active`; an empty patch
/// answers the account as it is.
///
/// # Errors
/// `not_found` for an unknown id; a store error.
pub async fn update_account(
    auth: &Auth,
    id: &str,
    patch: UserPatch,
) -> Result<AdminView, AuthError> {
    let id = UserId::new(id);
    let mut user = None;
    if patch.unlock == Some(true) {
        user = Some(auth.unlock(&id).await?);
    }
    if let Some(roles) = &patch.roles {
        user = Some(auth.set_roles(&id, roles).await?);
    }
    if let Some(active) = patch.active {
        user = Some(auth.set_active(&id, active).await?);
    }
    let user = match user {
        Some(user) => user,
        None => auth
            .users()
            .find_by_id(&id)
            .await?
            .ok_or(AuthError::NotFound)?,
    };
    Ok(AdminView::from(user))
}

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
    fn bodies_are_read_alike() {
        assert!(is_json(Some(b"application/json")));
        assert!(is_json(Some(b"Application/JSON; charset=utf-8")));
        assert!(is_json(Some(b"application/merge-patch+json")));
        for bad in [
            &b"text/json"[..],
            b"application/jsonx",
            b"json",
            b"",
            b"\xff",
        ] {
            assert!(!is_json(Some(bad)), "{bad:?}");
        }
        assert!(!is_json(None));
        let json = Some(&b"application/json"[..]);
        let ok: RefreshBody = parse_body(json, br#"{"refresh_token":"tsr_x"}"#).unwrap();
        assert_eq!(ok.refresh_token, "tsr_x");
        for bad in [
            &br#"{"refresh_token":1}"#[..],
            br#"{}"#,
            br#"{"refresh_token":"a"} x"#,
            b"",
            b"not json",
        ] {
            assert!(matches!(
                parse_body::<RefreshBody>(json, bad),
                Err(AuthError::InvalidRequest(_))
            ));
        }
        assert!(parse_body::<RefreshBody>(None, br#"{"refresh_token":"a"}"#).is_err());
        let big = format!(r#"{{"refresh_token":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert!(parse_body::<RefreshBody>(json, big.as_bytes()).is_err());
    }

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
