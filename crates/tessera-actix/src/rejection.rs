//! The one mapping of `AuthError` to an actix-web response.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use tessera_core::auth::AuthError;
use tessera_core::auth::request::Rejection;

/// A refused request. Its response is [`AuthError::response`], applied here
/// and nowhere else, so it is byte for byte the axum adapter's.
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

    /// The rejection of a route that needs the middleware when it is not
    /// installed: a server error to fix, never an open door.
    pub(crate) fn middleware_missing() -> Self {
        tracing::error!(target: "tessera::auth", "tessera_actix::AuthMiddleware is not installed on this route");
        Self::new(AuthError::Unavailable("AuthMiddleware missing".into()))
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self::new(error)
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

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        if self.redirect().is_some() {
            return StatusCode::SEE_OTHER;
        }
        StatusCode::from_u16(self.error.response().status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(location) = self.redirect() {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let described = self.error.response();
        let status =
            StatusCode::from_u16(described.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        if let Some(challenge) = described.www_authenticate
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if let Some(seconds) = described.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        response.body(described.body)
    }
}

impl AuthRejection {
    /// The login page to redirect to, when it is a valid header value.
    fn redirect(&self) -> Option<HeaderValue> {
        self.login_redirect
            .as_deref()
            .and_then(|location| HeaderValue::from_str(location).ok())
    }
}
