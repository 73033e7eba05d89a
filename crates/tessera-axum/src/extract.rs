//! Extractors over the layer's result.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use tessera_core::auth::AuthError;
use tessera_core::identity::Identity;
use tessera_core::session::Session;

use crate::layer::AuthState;
use crate::rejection::AuthRejection;

fn state(parts: &Parts) -> Result<&AuthState, AuthRejection> {
    parts.extensions.get::<AuthState>().ok_or_else(|| {
        tracing::error!(target: "tessera::auth", "AuthLayer is not installed on this route");
        AuthRejection::new(AuthError::Unavailable("AuthLayer missing".into()))
    })
}

/// The caller's identity; rejects a request without one (401), and a
/// request whose credentials were bad with their own error.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        state
            .identity
            .clone()
            .map(Self)
            .ok_or_else(|| state.rejection())
    }
}

/// `Option<Authenticated>`: `None` for a request without credentials. Bad
/// credentials are still refused: a request with a bad token is never
/// treated as anonymous.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        let state = state(parts)?;
        match (&state.identity, &state.error) {
            (Some(identity), _) => Ok(Some(Self(identity.clone()))),
            (None, Some(_)) => Err(state.rejection()),
            (None, None) => Ok(None),
        }
    }
}

/// An identity that entered a password recently; 401
/// `fresh_login_required` otherwise.
#[derive(Debug, Clone)]
pub struct Fresh(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Fresh {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(identity) =
            <Authenticated as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if identity.fresh {
            Ok(Self(identity))
        } else {
            Err(AuthRejection::new(AuthError::FreshLoginRequired))
        }
    }
}

/// The session a cookie-authenticated request came with (for logout, the
/// CSRF token, a password change), if any.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Option<Session>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(state(parts)?.session.clone()))
    }
}
