//! A JSON body extractor whose every rejection is the contract's 400.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use tessera_axum::AuthRejection;
use tessera_core::auth::AuthError;
use tessera_example_common::api::{MAX_BODY_BYTES, parse_body};

/// A JSON body read by [`parse_body`], the starters' one reading: a body
/// that is not JSON (or not sent as `application/json`), lacks a required
/// field, has one of the wrong type or is larger than [`MAX_BODY_BYTES`]
/// is 400 `{"error":"invalid_request"}`, whatever axum's default (413, 415,
/// 422).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.as_bytes().to_vec());
        // One byte over the limit is enough to refuse it.
        let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES + 1)
            .await
            .map_err(|_| AuthError::InvalidRequest("body unreadable or too large"))?;
        Ok(Self(parse_body(content_type.as_deref(), &body)?))
    }
}
