//! Extractors over the middleware's result.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tessera_core::auth::request::RequestState;
use tessera_core::authz::Requires;
use tessera_core::identity::Identity;
use tessera_core::session::Session;

use crate::rejection::AuthRejection;

/// Runs `f` on the middleware's result, or refuses when it is missing.
pub(crate) fn with_state<T>(
    request: &impl HttpMessage,
    f: impl FnOnce(&RequestState) -> Result<T, AuthRejection>,
) -> Result<T, AuthRejection> {
    match request.extensions().get::<RequestState>() {
        Some(state) => f(state),
        None => Err(AuthRejection::middleware_missing()),
    }
}

/// The caller's identity; rejects a request without one (401), and a
/// request whose credentials were bad with their own error.
///
/// actix-web's `Option<Authenticated>` (its blanket `Option<T>` extractor)
/// turns every error into `None`, bad credentials included; use
/// [`MaybeAuthenticated`] where a bad token must not pass for anonymous.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Identity);

impl FromRequest for Authenticated {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_state(request, |state| {
            Ok(Self(state.authenticated()?.clone()))
        }))
    }
}

/// The caller's identity if there is one, `None` for a request without
/// credentials; bad credentials are still refused, as by the axum adapter's
/// `Option<Authenticated>`: a request with a bad token is never treated as
/// anonymous.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Identity>);

impl FromRequest for MaybeAuthenticated {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_state(request, |state| {
            Ok(Self(state.optional()?.cloned()))
        }))
    }
}

/// An identity that entered a password recently; 401
/// `fresh_login_required` otherwise.
#[derive(Debug, Clone)]
pub struct Fresh(pub Identity);

impl FromRequest for Fresh {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_state(request, |state| {
            Ok(Self(state.fresh()?.clone()))
        }))
    }
}

/// The session a cookie-authenticated request came with (for logout, the
/// CSRF token, a password change), if any.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Option<Session>);

impl FromRequest for CurrentSession {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_state(request, |state| {
            Ok(Self(state.session().cloned()))
        }))
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

impl FromRequest for AuthClient {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_state(request, |state| Ok(Self(state.client()))))
    }
}

/// The caller's identity, checked against `R`: a guard as an extractor.
/// 401 without an identity, 403 for a missing role or scope, 401
/// `fresh_login_required` for a stale one.
///
/// ```
/// use tessera_actix::{Guarded, requirement};
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

impl<R: Requires> FromRequest for Guarded<R> {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_state(request, |state| {
            let identity = state.check(&R::requirement())?.clone();
            Ok(Self(identity, std::marker::PhantomData))
        }))
    }
}
