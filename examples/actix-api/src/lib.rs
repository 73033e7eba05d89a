//! The tessera starter API on actix-web (CONTRACTS.md §1), as a library:
//! the binary is [`Config::from_env`] then [`serve`]; tests [`build`] it
//! and run [`App::server`] on a socket of their own.
//!
//! ```no_run
//! # async fn run() -> Result<(), tessera_example_actix::Error> {
//! // Inside an actix-web runtime (`actix_web::rt::System`).
//! let config = tessera_example_actix::Config::from_env()?;
//! tessera_example_actix::serve(config).await
//! # }
//! ```
//!
//! It is the axum starter (`tessera-example-axum`) route for route, and
//! answers byte for byte the same: both take their configuration, stores,
//! keys, mailer, notes and bodies from `tessera-example-common`, and their
//! rules from `tessera-core`. What is here is only the actix-web half:
//!
//! - the [`AuthMiddleware`] (credentials resolved once per request, CSRF
//!   for cookie-authenticated writes, `/session/login` refused from other
//!   origins), and scope and role guards wrapped around their routes;
//! - the routes of the contract, in `routes.rs` (small handlers: one
//!   `Auth` call each);
//! - JSON 404 and 405 answers, and `Cache-Control: no-store` on every
//!   response except the public key set.
#![forbid(unsafe_code)]

mod json;
mod routes;

use std::io::Write;
use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpServer, Route, guard, web};
use tessera_actix::{AuthMiddleware, require_role, require_scope};
use tessera_core::auth::Auth;
use tessera_example_common::api::MAX_BODY_BYTES;
use tessera_example_common::{CSRF_EXEMPT, Services, WITHOUT_SESSION_COOKIE};

pub use crate::json::ApiJson;
pub use tessera_example_common::{
    Config, DEFAULT_BIND, DEFAULT_DATABASE_URL, Error, JwtKeySource, MIN_SECRET_BYTES, Mailer,
    Message, Note, Notes, ROLE_SCOPES, Stores,
};

/// What the handlers share: the services the common crate builds.
pub(crate) type AppState = Services;

/// The built starter: the services behind its routes.
#[derive(Debug, Clone)]
pub struct App {
    state: AppState,
}

impl App {
    /// The `Auth` service.
    pub fn auth(&self) -> &Auth {
        &self.state.auth
    }

    /// The mailer (tests [`flush`](Mailer::flush) it before reading the
    /// outbox).
    pub fn mailer(&self) -> &Mailer {
        &self.state.mailer
    }

    /// The actix-web application, for `HttpServer::new` or
    /// `actix_web::test::init_service`.
    pub fn app(
        &self,
    ) -> actix_web::App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = actix_web::Error,
            InitError = (),
        > + use<>,
    > {
        app(self.state.clone())
    }

    /// An HTTP server for this app on `listener`, with `workers` worker
    /// threads (at least one). Await it (inside an actix-web runtime) to
    /// serve until Ctrl-C or SIGTERM, or stop it through its handle.
    ///
    /// # Errors
    /// [`Error::Io`] when the listener cannot be used.
    pub fn server(&self, listener: TcpListener, workers: usize) -> Result<Server, Error> {
        let state = self.state.clone();
        Ok(HttpServer::new(move || app(state.clone()))
            .workers(workers.max(1))
            .listen(listener)
            .map_err(Error::io("cannot serve on the listener"))?
            .run())
    }
}

/// Builds the `Auth` service and the app from `config`: connects to and
/// migrates the stores, loads or generates the keys, creates the
/// administrator if asked.
///
/// # Errors
/// [`Error`] naming what could not be set up.
pub async fn build(config: Config) -> Result<App, Error> {
    Ok(App {
        state: Services::build(config).await?,
    })
}

/// A resource whose other methods get the contract's JSON 405.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(routes::method_not_allowed))
}

/// GET, and HEAD as axum answers it (the GET handler, body dropped).
fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

fn app(
    state: AppState,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use crate::routes::*;
    // The session login form needs no CSRF token but must come from our
    // origin; the token routes never read the cookie at all.
    let middleware = AuthMiddleware::new(state.auth.clone())
        .trusted_proxies(state.trusted_proxies.clone())
        .csrf_exempt(CSRF_EXEMPT)
        .without_session_cookie(WITHOUT_SESSION_COOKIE);
    actix_web::App::new()
        .app_data(web::Data::new(state))
        // One byte over the limit is enough to refuse a body.
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES + 1))
        .service(resource("/health").route(get().to(health)))
        .service(resource("/.well-known/jwks.json").route(get().to(jwks)))
        .service(resource("/auth/register").route(web::post().to(register)))
        .service(resource("/auth/login").route(web::post().to(login)))
        .service(resource("/auth/refresh").route(web::post().to(refresh)))
        .service(resource("/auth/logout").route(web::post().to(logout)))
        .service(resource("/auth/logout-all").route(web::post().to(logout_all)))
        .service(resource("/auth/password").route(web::post().to(change_password)))
        .service(resource("/auth/password-reset").route(web::post().to(request_password_reset)))
        .service(
            resource("/auth/password-reset/confirm").route(web::post().to(confirm_password_reset)),
        )
        .service(resource("/auth/api-keys").route(web::post().to(create_api_key)))
        .service(resource("/auth/api-keys/{id}").route(web::delete().to(delete_api_key)))
        .service(resource("/me").route(get().to(me)))
        // Guards wrap routes, not resources: another method is 405 for
        // everyone, as in axum, not 401 first.
        .service(
            resource("/notes")
                .route(get().to(list_notes).wrap(require_scope("notes:read")))
                .route(
                    web::post()
                        .to(create_note)
                        .wrap(require_scope("notes:write")),
                ),
        )
        .service(resource("/session/login").route(web::post().to(session_login)))
        .service(resource("/session/logout").route(web::post().to(session_logout)))
        .service(resource("/session/csrf").route(get().to(session_csrf)))
        .service(resource("/admin/users").route(get().to(list_users).wrap(require_role("admin"))))
        .service(
            resource("/admin/users/{id}")
                .route(web::patch().to(update_user).wrap(require_role("admin"))),
        )
        .default_service(web::to(not_found))
        .wrap(middleware)
        .wrap(from_fn(no_store))
}

/// `Cache-Control: no-store` on every response, errors included, except
/// the public key set (see [`tessera_example_common::cacheable`]).
async fn no_store(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let cacheable = tessera_example_common::cacheable(request.path());
    let mut response = next.call(request).await?;
    if !cacheable {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Binds `TESSERA_BIND`, builds the app, prints `listening on http://ADDR`
/// to standard output once ready, and serves until Ctrl-C or SIGTERM. Run
/// it inside an actix-web runtime (`actix_web::rt::System`).
///
/// Without `TESSERA_PUBLIC_URL`, the public URL is `http://` + the bind
/// address; when that is a numeric address, the bound one (so port 0 gives
/// the port actually chosen).
///
/// # Errors
/// [`Error`] when the address cannot be bound or the app cannot be built.
pub async fn serve(config: Config) -> Result<(), Error> {
    let listener = TcpListener::bind(config.listen_address()).map_err(Error::io(format!(
        "cannot listen on {}",
        config.listen_address()
    )))?;
    let addr = listener
        .local_addr()
        .map_err(Error::io("cannot read the bound address"))?;
    let app = build(config.resolve_public_url(addr)).await?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let server = app.server(listener, workers)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(Error::io("cannot write to standard output"))?;
    }
    server.await.map_err(Error::io("server failed"))?;
    tracing::info!("shutting down");
    app.mailer().flush().await;
    Ok(())
}
