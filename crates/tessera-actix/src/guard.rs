//! Guards as middleware, for `.wrap()` on a scope, resource or route.
//!
//! They answer 401 or 403 themselves. actix-web's own `Guard`s only decide
//! whether a route matches, so a refused request would fall through to
//! 404 or 405: never use them for authorization.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, ResponseError};
use futures_util::future::LocalBoxFuture;
use tessera_core::authz::Requirement;

use crate::extract::with_state;
use crate::rejection::AuthRejection;

/// Requires `requirement` of the request's identity: 401 without one (or
/// the credentials' own error), 403 for a missing role or scope, 401
/// `fresh_login_required` for a stale login. An empty any-of or all-of
/// denies.
pub fn require(requirement: Requirement) -> Require {
    Require {
        requirement: Arc::new(requirement),
    }
}

/// Requires a role (exact, case-sensitive).
pub fn require_role(role: &str) -> Require {
    require(Requirement::role(role))
}

/// Requires a scope (exact, case-sensitive).
pub fn require_scope(scope: &str) -> Require {
    require(Requirement::scope(scope))
}

/// Requires a recent password entry.
pub fn require_fresh() -> Require {
    require(Requirement::Fresh)
}

/// A guard middleware; see [`require`].
#[derive(Clone, Debug)]
pub struct Require {
    requirement: Arc<Requirement>,
}

impl<S, B> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireService {
            service: Rc::new(service),
            requirement: self.requirement.clone(),
        }))
    }
}

/// The service of a [`Require`] guard.
#[derive(Debug)]
pub struct RequireService<S> {
    service: Rc<S>,
    requirement: Arc<Requirement>,
}

impl<S, B> Service<ServiceRequest> for RequireService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let verdict = with_state(&request, |state| {
            state
                .check(&self.requirement)
                .map(|_| ())
                .map_err(AuthRejection::from)
        });
        match verdict {
            Ok(()) => {
                let response = self.service.call(request);
                Box::pin(async move { Ok(response.await?.map_into_left_body()) })
            }
            Err(rejection) => {
                let response = request.into_response(rejection.error_response());
                Box::pin(ready(Ok(response.map_into_right_body())))
            }
        }
    }
}
