//! The one mapping of `AuthError` to an axum response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::auth::AuthError;
use tessera_core::auth::request::Rejection;

/// A refused request. Its response is [`AuthError::response`], applied here
/// and nowhere else.
#[derive(Debug)]
pub struct AuthRejection {
    error: AuthError,
    login_redirect: Option<String>,
}

impl AuthRejection {
    /// A rejection for `error`.
    pub fn new(error: AuthError) -> Self {
        Self {
            error,
            login_redirect: None,
        }
    }

    /// The error.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// The rejection of a route that needs the layer when it is not
    /// installed: a server error to fix, never an open door.
    pub(crate) fn layer_missing() -> Self {
        tracing::error!(target: "tessera::auth", "tessera_axum::AuthLayer is not installed on this route");
        Self::new(AuthError::Unavailable("AuthLayer missing".into()))
    }
}

impl From<Rejection> for AuthRejection {
    fn from(rejection: Rejection) -> Self {
        Self {
            error: rejection.error,
            login_redirect: rejection.login_redirect,
        }
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self::new(error)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if let Some(location) = self.login_redirect
            && let Ok(location) = HeaderValue::from_str(&location)
        {
            return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
        }
        let described = self.error.response();
        let status =
            StatusCode::from_u16(described.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, described.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(challenge) = described.www_authenticate
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(seconds) = described.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
