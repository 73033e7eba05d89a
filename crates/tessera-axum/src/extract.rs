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

/// A requirement named by a type, for [`Guarded`]. Define one with
/// [`requirement!`](crate::requirement).
pub trait Requires: Send + Sync + 'static {
    /// The requirement.
    fn requirement() -> tessera_core::authz::Requirement;
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

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(identity) =
            <Authenticated as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        R::requirement()
            .check(&identity)
            .map_err(|denied| AuthRejection::new(AuthError::Denied(denied)))?;
        Ok(Self(identity, std::marker::PhantomData))
    }
}

/// Defines a type naming a requirement, for [`Guarded`]:
/// `requirement!(Writers = Requirement::scope("notes:write"));`
#[macro_export]
macro_rules! requirement {
    ($(#[$meta:meta])* $vis:vis $name:ident = $requirement:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $name;

        impl $crate::Requires for $name {
            fn requirement() -> $crate::__private::Requirement {
                $requirement
            }
        }
    };
}
