//! The request-level error, and the one description of its HTTP response
//! that every adapter applies.

use crate::authz::Denied;
use crate::error::PolicyError;

/// Why a request was refused. Precise for logs and tests; the response
/// ([`AuthError::response`]) is generic where detail would help an attacker.
/// `Clone`, so that an adapter can keep it in request extensions.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A protected route was called without credentials.
    #[error("no credentials")]
    Unauthenticated,
    /// The `Authorization` header is malformed (empty token, unknown scheme,
    /// two headers, Basic that is not base64 of `login:password`), or a
    /// request body lacks or mistypes a field.
    #[error("malformed request: {0}")]
    InvalidRequest(&'static str),
    /// A bearer token (JWT or API key) is bad, expired or revoked.
    #[error("invalid bearer token")]
    InvalidToken,
    /// Basic credentials are wrong (unknown login, wrong password, disabled
    /// account).
    #[error("invalid Basic credentials")]
    InvalidBasic,
    /// A password login failed: unknown login, wrong password, disabled or
    /// throttled account. One answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The session cookie names no live session.
    #[error("no live session")]
    SessionEnded,
    /// The identity lacks something the route requires.
    #[error("denied: {0}")]
    Denied(#[from] Denied),
    /// The operation needs a fresh login.
    #[error("fresh login required")]
    FreshLoginRequired,
    /// A login asked for scopes its roles do not allow.
    #[error("invalid scope")]
    InvalidScope,
    /// A refresh token is unknown, used up, revoked or expired, or its
    /// account is disabled.
    #[error("invalid grant")]
    InvalidGrant,
    /// The new password breaks the policy.
    #[error("weak password: {0}")]
    WeakPassword(PolicyError),
    /// The email is taken.
    #[error("email taken")]
    EmailTaken,
    /// A reset or verification token is unknown, used, expired or stale.
    #[error("invalid one-time token")]
    InvalidOneTimeToken,
    /// An API key asked for a scope the account may not have.
    #[error("scope not allowed: {0}")]
    ScopeNotAllowed(String),
    /// The thing named does not exist or is not the caller's.
    #[error("not found")]
    NotFound,
    /// The CSRF check failed.
    #[error("CSRF check failed")]
    Csrf(#[from] crate::csrf::CsrfError),
    /// A store could not answer, or the password workers are saturated.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// The client address (or the account, for API keys) exceeded a rate
    /// limit: 429 with `Retry-After`.
    #[error("too many requests; retry after {retry_after} s")]
    Throttled {
        /// Seconds until the limit's window ends.
        retry_after: u64,
    },
    /// The account is locked by failed logins. Only with
    /// `ThrottleConfig::disclose_lock`; otherwise a locked account answers
    /// [`AuthError::InvalidCredentials`] like a wrong password.
    #[error("account locked; retry after {retry_after} s")]
    AccountLocked {
        /// Seconds until the lock ends by itself.
        retry_after: u64,
    },
}

/// What an adapter sends for an [`AuthError`]: status, headers and a JSON
/// body. Both adapters apply this one description, so their responses are
/// byte-identical.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `WWW-Authenticate` header, if any.
    pub www_authenticate: Option<String>,
    /// The `Retry-After` header in seconds, if any.
    pub retry_after: Option<u64>,
    /// The JSON body.
    pub body: String,
}

/// Seconds a client is asked to wait when a store or the password workers
/// are unavailable.
pub const RETRY_AFTER_SECS: u64 = 5;

const REALM: &str = "Bearer realm=\"tessera\"";

impl ErrorResponse {
    fn new(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            www_authenticate: None,
            retry_after: None,
            body: body.to_string(),
        }
    }

    fn challenge(mut self, value: impl Into<String>) -> Self {
        self.www_authenticate = Some(value.into());
        self
    }
}

impl AuthError {
    /// The response for this error (CONTRACTS.md §1, the rejection table;
    /// RFC 6750 for bearer challenges).
    pub fn response(&self) -> ErrorResponse {
        use serde_json::json;
        match self {
            Self::Unauthenticated => {
                ErrorResponse::new(401, json!({"error": "unauthenticated"})).challenge(REALM)
            }
            Self::InvalidRequest(_) => ErrorResponse::new(400, json!({"error": "invalid_request"}))
                .challenge(format!("{REALM}, error=\"invalid_request\"")),
            Self::InvalidToken => ErrorResponse::new(401, json!({"error": "invalid_token"}))
                .challenge(format!("{REALM}, error=\"invalid_token\"")),
            Self::InvalidBasic => ErrorResponse::new(401, json!({"error": "invalid_credentials"}))
                .challenge("Basic realm=\"tessera\""),
            Self::InvalidCredentials => {
                ErrorResponse::new(401, json!({"error": "invalid_credentials"}))
            }
            Self::SessionEnded => ErrorResponse::new(401, json!({"error": "unauthenticated"})),
            Self::Denied(Denied::MissingScope(scope)) => ErrorResponse::new(
                403,
                json!({"error": "insufficient_scope", "missing_scope": scope}),
            )
            .challenge(format!(
                "{REALM}, error=\"insufficient_scope\", scope=\"{}\"",
                scope.replace(['"', '\\'], "")
            )),
            Self::Denied(Denied::MissingRole(role)) => {
                ErrorResponse::new(403, json!({"error": "forbidden", "missing_role": role}))
            }
            Self::Denied(Denied::NotFresh) | Self::FreshLoginRequired => {
                ErrorResponse::new(401, json!({"error": "fresh_login_required"}))
            }
            Self::Denied(_) | Self::ScopeNotAllowed(_) => {
                ErrorResponse::new(403, json!({"error": "forbidden"}))
            }
            Self::InvalidScope => ErrorResponse::new(400, json!({"error": "invalid_scope"})),
            Self::InvalidGrant => ErrorResponse::new(401, json!({"error": "invalid_grant"})),
            Self::WeakPassword(_) => ErrorResponse::new(422, json!({"error": "weak_password"})),
            Self::EmailTaken => ErrorResponse::new(409, json!({"error": "email_taken"})),
            Self::InvalidOneTimeToken => ErrorResponse::new(400, json!({"error": "invalid_token"})),
            Self::NotFound => ErrorResponse::new(404, json!({"error": "not_found"})),
            Self::Csrf(_) => ErrorResponse::new(403, json!({"error": "csrf_failed"})),
            Self::Unavailable(_) => {
                let mut response =
                    ErrorResponse::new(503, json!({"error": "temporarily_unavailable"}));
                response.retry_after = Some(RETRY_AFTER_SECS);
                response
            }
            Self::Throttled { retry_after } => {
                let mut response = ErrorResponse::new(429, json!({"error": "too_many_requests"}));
                response.retry_after = Some((*retry_after).max(1));
                response
            }
            Self::AccountLocked { retry_after } => {
                let mut response = ErrorResponse::new(401, json!({"error": "account_locked"}));
                response.retry_after = Some((*retry_after).max(1));
                response
            }
        }
    }
}

impl From<crate::error::StoreError> for AuthError {
    fn from(error: crate::error::StoreError) -> Self {
        tracing::error!(target: "tessera::auth", error = %error, "store unavailable");
        Self::Unavailable(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rejection table of CONTRACTS.md §1, byte for byte.
    #[test]
    fn rejection_table() {
        let cases: Vec<(AuthError, u16, Option<&str>, &str)> = vec![
            (
                AuthError::Unauthenticated,
                401,
                Some("Bearer realm=\"tessera\""),
                r#"{"error":"unauthenticated"}"#,
            ),
            (
                AuthError::InvalidRequest("x"),
                400,
                Some("Bearer realm=\"tessera\", error=\"invalid_request\""),
                r#"{"error":"invalid_request"}"#,
            ),
            (
                AuthError::InvalidToken,
                401,
                Some("Bearer realm=\"tessera\", error=\"invalid_token\""),
                r#"{"error":"invalid_token"}"#,
            ),
            (
                AuthError::InvalidBasic,
                401,
                Some("Basic realm=\"tessera\""),
                r#"{"error":"invalid_credentials"}"#,
            ),
            (
                AuthError::SessionEnded,
                401,
                None,
                r#"{"error":"unauthenticated"}"#,
            ),
            (
                AuthError::Denied(Denied::MissingScope("notes:write".into())),
                403,
                Some(
                    "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"notes:write\"",
                ),
                r#"{"error":"insufficient_scope","missing_scope":"notes:write"}"#,
            ),
            (
                AuthError::Denied(Denied::MissingRole("admin".into())),
                403,
                None,
                r#"{"error":"forbidden","missing_role":"admin"}"#,
            ),
            (
                AuthError::Unavailable("x".into()),
                503,
                None,
                r#"{"error":"temporarily_unavailable"}"#,
            ),
            (
                AuthError::InvalidCredentials,
                401,
                None,
                r#"{"error":"invalid_credentials"}"#,
            ),
            (
                AuthError::Csrf(crate::csrf::CsrfError::Missing),
                403,
                None,
                r#"{"error":"csrf_failed"}"#,
            ),
        ];
        for (error, status, challenge, body) in cases {
            let response = error.response();
            assert_eq!(response.status, status, "{error:?}");
            assert_eq!(response.www_authenticate.as_deref(), challenge, "{error:?}");
            assert_eq!(response.body, body, "{error:?}");
        }
        assert_eq!(
            AuthError::Unavailable("x".into()).response().retry_after,
            Some(5)
        );
        let throttled = AuthError::Throttled { retry_after: 42 }.response();
        assert_eq!(
            (
                throttled.status,
                throttled.body.as_str(),
                throttled.retry_after
            ),
            (429, r#"{"error":"too_many_requests"}"#, Some(42))
        );
        assert_eq!(throttled.www_authenticate, None);
        // A window that ends within the second still asks for one.
        assert_eq!(
            AuthError::Throttled { retry_after: 0 }
                .response()
                .retry_after,
            Some(1)
        );
    }
}
