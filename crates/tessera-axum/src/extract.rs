//! Extractors over the layer's result.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use tessera_core::authz::Requires;
use tessera_core::identity::Identity;
use tessera_core::session::Session;

use crate::layer::AuthState;
use crate::rejection::AuthRejection;

fn state(parts: &Parts) -> Result<&AuthState, AuthRejection> {
    parts
        .extensions
        .get::<AuthState>()
        .ok_or_else(AuthRejection::layer_missing)
}

/// The caller's identity; rejects a request without one (401), and a
/// request whose credentials were bad with their own error.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(state(parts)?.authenticated()?.clone()))
    }
}

/// `Option<Authenticated>`: `None` for a request without credentials. Bad
/// credentials are still refused: a request with a bad token is never
/// treated as anonymous.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(state(parts)?.optional()?.cloned().map(Self))
    }
}

/// An identity that entered a password recently; 401
/// `fresh_login_required` otherwise.
#[derive(Debug, Clone)]
pub struct Fresh(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Fresh {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(state(parts)?.fresh()?.clone()))
    }
}

/// The session a cookie-authenticated request came with (for logout, the
/// CSRF token, a password change), if any.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Option<Session>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(state(parts)?.session().cloned()))
    }
}

/// The client the request came from, for [`Auth::from_client`]
/// (throttled logins, registrations, reset requests): its address is the
/// connection's peer, or behind a trusted proxy the right-most
/// `X-Forwarded-For` hop no trusted proxy added.
///
/// [`Auth::from_client`]: tessera_core::auth::Auth::from_client
#[derive(Debug, Clone, Copy)]
pub struct AuthClient(pub tessera_core::throttle::Client);

impl<S: Send + Sync> FromRequestParts<S> for AuthClient {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(state(parts)?.client()))
    }
}

/// The caller's identity, checked against `R`: a guard as an extractor.
/// 401 without an identity, 403 for a missing role or scope, 401
/// `fresh_login_required` for a stale one.
///
/// ```
/// use tessera_axum::{Guarded, requirement};
/// use tessera_core::authz::Requirement;
///
/// requirement!(AdminOnly = Requirement::role("admin"));
///
/// async fn list_users(Guarded(admin, ..): Guarded<AdminOnly>) -> String {
///     admin.subject.to_string()
/// }
/// ```
pub struct Guarded<R: Requires>(pub Identity, pub std::marker::PhantomData<R>);

impl<R: Requires> std::fmt::Debug for Guarded<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Guarded").field(&self.0).finish()
    }
}

impl<S: Send + Sync, R: Requires> FromRequestParts<S> for Guarded<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let identity = state(parts)?.check(&R::requirement())?.clone();
        Ok(Self(identity, std::marker::PhantomData))
    }
}
