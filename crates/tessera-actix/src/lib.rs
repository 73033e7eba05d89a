//! The actix-web adapter of tessera: the same identity, guards and
//! responses as the axum adapter (`tessera-axum`), for actix-web 4.
//!
//! - [`AuthMiddleware`] reads a request's credentials once: `Authorization:
//!   Bearer` (a JWT or an API key) or `Basic`, or, only without an
//!   `Authorization` header, the session cookie. It resolves them through
//!   [`Auth`] and stores the result in the request's extensions. Malformed
//!   input (an empty bearer token, two `Authorization` headers, Basic that
//!   is not base64 of `login:password`, an unknown scheme) is
//!   `invalid_request`, never a panic. Tokens and session ids in the query
//!   string or path are never read. Cookie-authenticated requests with an
//!   unsafe method must pass the CSRF check, or get 403 `csrf_failed`
//!   before any handler runs; so must the `Origin` / `Sec-Fetch-Site` of
//!   Basic-authenticated ones and of [`AuthMiddleware::csrf_exempt`] paths.
//!   These rules are [`tessera_core::auth::request`]'s, shared with every
//!   adapter; this crate only applies them to actix-web's requests and
//!   responses.
//! - Extractors: [`Authenticated`], [`MaybeAuthenticated`], [`Fresh`],
//!   [`CurrentSession`], and [`Guarded`] with [`requirement!`].
//! - Guards as middleware for `.wrap()` on a scope, resource or route:
//!   [`require_role`], [`require_scope`], [`require_fresh`] and [`require`]
//!   for any-of / all-of combinations. They answer 401 or 403; actix-web's
//!   own `Guard`s would turn a refusal into 404. An empty requirement
//!   denies.
//! - [`AuthRejection`]: the one place an `AuthError` becomes a response,
//!   per the rejection table (RFC 6750 challenges for bearer); the same
//!   status, headers and body as the axum adapter.
//!
//! One difference from axum is actix-web's own: its blanket `Option<T>`
//! extractor turns any error into `None`, so `Option<Authenticated>` sees a
//! request with a bad token as anonymous. [`MaybeAuthenticated`] refuses it,
//! as axum's `Option<Authenticated>` does.
//!
//! ```
//! use actix_web::{App, web};
//! use tessera_actix::{AuthMiddleware, Authenticated, require_scope};
//! # fn build(auth: tessera_core::auth::Auth) {
//! let app = App::new()
//!     .route(
//!         "/notes",
//!         web::get()
//!             .to(|Authenticated(me): Authenticated| async move { me.subject.to_string() })
//!             .wrap(require_scope("notes:read")),
//!     )
//!     .route("/health", web::get().to(|| async { "ok" }))
//!     .wrap(AuthMiddleware::new(auth));
//! # let _ = app;
//! # }
//! ```
#![forbid(unsafe_code)]

mod extract;
mod guard;
mod middleware;
mod rejection;

pub use self::extract::{
    AuthClient, Authenticated, CurrentSession, Fresh, Guarded, MaybeAuthenticated,
};
pub use self::guard::{
    Require, RequireService, require, require_fresh, require_role, require_scope,
};
pub use self::middleware::{
    AuthMiddleware, AuthMiddlewareService, remove_session_cookie, session_cookie,
};
pub use self::rejection::AuthRejection;
pub use tessera_core::auth::Auth;
pub use tessera_core::auth::request::RequestState as AuthState;
pub use tessera_core::authz::Requires;
pub use tessera_core::requirement;
pub use tessera_core::throttle::{Client, TrustedProxies};
