//! The axum adapter of tessera.
//!
//! - [`AuthLayer`] reads a request's credentials once: `Authorization:
//!   Bearer` (a JWT or an API key) or `Basic`, or, only without an
//!   `Authorization` header, the session cookie. It resolves them through
//!   [`Auth`] and stores the result in the request's extensions. Malformed
//!   input (an empty bearer token, two `Authorization` headers, Basic that
//!   is not base64 of `login:password`, an unknown scheme) is
//!   `invalid_request`, never a panic. Tokens and session ids in the query
//!   string or path are never read. Cookie-authenticated requests with an
//!   unsafe method must pass the CSRF check, or get 403 `csrf_failed`
//!   before any handler runs; so must the `Origin` / `Sec-Fetch-Site` of
//!   Basic-authenticated ones and of [`AuthLayer::csrf_exempt`] paths. These
//!   rules are [`tessera_core::auth::request`]'s, shared by every adapter;
//!   this crate only applies them to axum's requests and responses.
//! - Extractors: [`Authenticated`], `Option<Authenticated>`, [`Fresh`],
//!   [`CurrentSession`].
//! - Guards for `route_layer`: [`require_role`], [`require_scope`],
//!   [`require_fresh`] and [`require`] for any-of / all-of combinations; the
//!   same as extractors with [`Guarded`] and [`requirement!`]. An empty
//!   requirement denies.
//! - [`AuthRejection`]: the one place an `AuthError` becomes a response,
//!   per the rejection table (RFC 6750 challenges for bearer).
//!
//! ```
//! use axum::{Router, routing::get};
//! use tessera_axum::{Authenticated, AuthLayer, require_scope};
//! # fn build(auth: tessera_core::auth::Auth) -> Router {
//! let app = Router::new()
//!     .route("/notes", get(|Authenticated(me): Authenticated| async move { me.subject.to_string() }))
//!     .route_layer(require_scope("notes:read"))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(AuthLayer::new(auth));
//! # app
//! # }
//! ```
#![forbid(unsafe_code)]

mod extract;
mod guard;
mod layer;
mod rejection;

pub use self::extract::{AuthClient, Authenticated, CurrentSession, Fresh, Guarded};
pub use self::guard::{
    RequireLayer, RequireService, require, require_fresh, require_role, require_scope,
};
pub use self::layer::{AuthLayer, AuthService, AuthState, remove_session_cookie, session_cookie};
pub use self::rejection::AuthRejection;
pub use tessera_core::auth::Auth;
pub use tessera_core::authz::Requires;
pub use tessera_core::requirement;
pub use tessera_core::throttle::{Client, TrustedProxies};
