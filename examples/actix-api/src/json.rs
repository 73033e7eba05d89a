//! A JSON body extractor whose every rejection is the contract's 400.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use tessera_actix::AuthRejection;
use tessera_core::auth::AuthError;
use tessera_example_common::api::parse_body;

/// A JSON body read by [`parse_body`], the starters' one reading: a body
/// that is not JSON (or not sent as `application/json`), lacks a required
/// field, has one of the wrong type or is larger than
/// [`MAX_BODY_BYTES`](tessera_example_common::api::MAX_BODY_BYTES) is 400
/// `{"error":"invalid_request"}`, whatever actix-web's default (413, 415).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AuthRejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.as_bytes().to_vec());
        // The app's `PayloadConfig` caps the read one byte over the limit.
        let body = web::Bytes::from_request(request, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| AuthError::InvalidRequest("body unreadable or too large"))?;
            Ok(Self(parse_body(content_type.as_deref(), &body)?))
        })
    }
}
