//! A JSON body extractor whose every rejection is the contract's 400.

use axum::Json;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use tessera_axum::AuthRejection;
use tessera_core::auth::AuthError;

/// `Json<T>`, except that a body that is not JSON (or not sent as
/// `application/json`), lacks a required field or has one of the wrong type
/// is 400 `{"error":"invalid_request"}`, whatever axum's default (415, 422).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                // The status only: serde's message can echo the body's
                // values, passwords included.
                tracing::debug!(target: "tessera::auth", status = %rejection.status(), "request body refused");
                Err(AuthError::InvalidRequest("body").into())
            }
        }
    }
}
