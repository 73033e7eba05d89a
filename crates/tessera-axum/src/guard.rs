//! Guards for `route_layer`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tessera_core::authz::Requirement;
use tower::{Layer, Service};

use crate::layer::AuthState;
use crate::rejection::AuthRejection;

/// Requires `requirement` of the request's identity: 401 without one
/// (or the credentials' own error), 403 for a missing role or scope.
pub fn require(requirement: Requirement) -> RequireLayer {
    RequireLayer {
        requirement: Arc::new(requirement),
    }
}

/// Requires a role (exact, case-sensitive).
pub fn require_role(role: &str) -> RequireLayer {
    require(Requirement::role(role))
}

/// Requires a scope (exact, case-sensitive).
pub fn require_scope(scope: &str) -> RequireLayer {
    require(Requirement::scope(scope))
}

/// Requires a recent password entry.
pub fn require_fresh() -> RequireLayer {
    require(Requirement::Fresh)
}

/// The layer of a guard.
#[derive(Clone, Debug)]
pub struct RequireLayer {
    requirement: Arc<Requirement>,
}

impl<S> Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            requirement: self.requirement.clone(),
        }
    }
}

/// The service of a guard.
#[derive(Clone, Debug)]
pub struct RequireService<S> {
    inner: S,
    requirement: Arc<Requirement>,
}

impl<S> Service<Request> for RequireService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let verdict = match request.extensions().get::<AuthState>() {
            None => Err(AuthRejection::layer_missing()),
            Some(state) => state
                .check(&self.requirement)
                .map(|_| ())
                .map_err(AuthRejection::from),
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match verdict {
                Ok(()) => inner.call(request).await,
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
