//! The tessera starter API on axum (CONTRACTS.md §1), as a library: the
//! binary is [`Config::from_env`] then [`serve`], and tests drive the
//! [`Router`] of [`build`] in process.
//!
//! ```no_run
//! # async fn run() -> Result<(), tessera_example_axum::Error> {
//! let config = tessera_example_axum::Config::from_env()?;
//! tessera_example_axum::serve(config).await
//! # }
//! ```
//!
//! What it wires together:
//!
//! - an [`Auth`] service over SQLite (default), PostgreSQL, or either plus
//!   Redis for revocations and the token store;
//! - the [`AuthLayer`] (credentials resolved once per request, CSRF for
//!   cookie-authenticated writes, `/session/login` refused from other
//!   origins), scope and role guards as `route_layer`s;
//! - the routes of the contract, in [`routes`](crate#routes) (small
//!   handlers: one `Auth` call each);
//! - a development [`Mailer`] and an in-memory [`Notes`] resource.
//!
//! # Routes
//!
//! See `README.md` and CONTRACTS.md §1 for every route, status and body.
#![forbid(unsafe_code)]

mod json;
mod routes;

use std::io::Write;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use tessera_axum::{AuthLayer, require_role, require_scope};
use tessera_core::auth::Auth;
use tessera_example_common::{CSRF_EXEMPT, Services, WITHOUT_SESSION_COOKIE};
use tokio::net::TcpListener;

pub use crate::json::ApiJson;
pub use tessera_example_common::{
    Config, DEFAULT_BIND, DEFAULT_DATABASE_URL, Error, JwtKeySource, MIN_SECRET_BYTES, Mailer,
    Message, Note, Notes, ROLE_SCOPES, Stores,
};

/// What the handlers share: the services the common crate builds.
pub(crate) type AppState = Services;

/// The built starter: its router and the services behind it.
#[derive(Debug, Clone)]
pub struct App {
    router: Router,
    auth: Auth,
    mailer: Mailer,
}

impl App {
    /// The router, ready for `axum::serve` or `tower::ServiceExt::oneshot`.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The `Auth` service.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The mailer (tests [`flush`](Mailer::flush) it before reading the
    /// outbox).
    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }
}

/// Builds the `Auth` service and the router from `config`: connects to and
/// migrates the stores, loads or generates the keys, creates the
/// administrator if asked.
///
/// # Errors
/// [`Error`] naming what could not be set up.
pub async fn build(config: Config) -> Result<App, Error> {
    let services = Services::build(config).await?;
    Ok(App {
        auth: services.auth.clone(),
        mailer: services.mailer.clone(),
        router: router(services),
    })
}

fn router(state: AppState) -> Router {
    use crate::routes::*;
    // The session login form needs no CSRF token but must come from our
    // origin; the token routes never read the cookie at all.
    let layer = AuthLayer::new(state.auth.clone())
        .trusted_proxies(state.trusted_proxies.clone())
        .csrf_exempt(CSRF_EXEMPT)
        .without_session_cookie(WITHOUT_SESSION_COOKIE);
    let notes = get(list_notes)
        .route_layer(require_scope("notes:read"))
        .merge(post(create_note).route_layer(require_scope("notes:write")));
    let admin = Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", patch(update_user))
        .route_layer(require_role("admin"));
    Router::new()
        .route("/health", get(health))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
        .route("/auth/password", post(change_password))
        .route("/auth/password-reset", post(request_password_reset))
        .route("/auth/password-reset/confirm", post(confirm_password_reset))
        .route("/auth/api-keys", post(create_api_key))
        .route("/auth/api-keys/{id}", delete(delete_api_key))
        .route("/me", get(me))
        .route("/notes", notes)
        .route("/session/login", post(session_login))
        .route("/session/logout", post(session_logout))
        .route("/session/csrf", get(session_csrf))
        .merge(admin)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(layer)
        .layer(middleware::from_fn(no_store))
}

/// `Cache-Control: no-store` on every response, errors included (the
/// contract requires it on `/auth/…` and `/session/…`; `/me`, notes and
/// accounts are personal too), except the public key set, which caches may
/// keep.
async fn no_store(request: Request, next: Next) -> Response {
    let cacheable = tessera_example_common::cacheable(request.uri().path());
    let mut response = next.run(request).await;
    if !cacheable {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Binds `TESSERA_BIND`, builds the app, prints `listening on http://ADDR`
/// to standard output once ready, and serves until Ctrl-C or SIGTERM.
///
/// Without `TESSERA_PUBLIC_URL`, the public URL is `http://` + the bind
/// address; when that is a numeric address, the bound one (so port 0 gives
/// the port actually chosen).
///
/// # Errors
/// [`Error`] when the address cannot be bound or the app cannot be built.
pub async fn serve(config: Config) -> Result<(), Error> {
    let listener = TcpListener::bind(config.listen_address())
        .await
        .map_err(Error::io(format!(
            "cannot listen on {}",
            config.listen_address()
        )))?;
    let addr = listener
        .local_addr()
        .map_err(Error::io("cannot read the bound address"))?;
    let app = build(config.resolve_public_url(addr)).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(Error::io("cannot write to standard output"))?;
    }
    // The peer address is the client's (or its proxy's): per-address
    // throttling needs it.
    axum::serve(
        listener,
        app.router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .map_err(Error::io("server failed"))?;
    app.mailer().flush().await;
    Ok(())
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
