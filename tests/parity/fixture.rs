//! The same small app on each adapter, for what the starters do not
//! exercise: browser mode (J1), the empty requirement (J5), any-of and
//! all-of guards, the fresh-login guard, the optional identity, and a
//! CSRF-exempt form. Both apps are built only from the adapters' public
//! API, route for route.

use std::net::SocketAddr;
use std::sync::mpsc::Sender;

use serde_json::{Value, json};
use tessera_core::auth::Auth;
use tessera_core::authz::Requirement;
use tessera_core::identity::{Credentials, Identity};
use tessera_core::jwt::{JwtKey, JwtKeySet};
use tessera_core::password::Password;

use crate::{PASSWORD, Ready, cheap_pool};

pub const ALICE: &str = "alice@example.com";
pub const ROOT: &str = "root@example.com";
/// The login page of browser mode.
pub const LOGIN_PAGE: &str = "/login";
/// The CSRF-exempt form.
pub const FORM: &str = "/form";

fn any_of() -> Requirement {
    Requirement::any_of([
        Requirement::role("admin"),
        Requirement::scope("notes:write"),
    ])
}

fn all_of() -> Requirement {
    Requirement::all_of([
        Requirement::role("admin"),
        Requirement::scope("notes:write"),
    ])
}

fn nothing() -> Requirement {
    Requirement::any_of([])
}

/// What the handlers answer: the identity without its random parts.
fn describe(identity: Option<&Identity>) -> Value {
    match identity {
        None => json!("anonymous"),
        Some(identity) => json!({
            "method": format!("{:?}", identity.method),
            "fresh": identity.fresh,
            "roles": identity.roles,
            "scopes": identity.scopes,
        }),
    }
}

/// The fixture's `Auth`, with Alice (`user`), Root (`admin`, `user`) and an
/// API key of Alice's limited to `notes:read`, whose secret it returns.
async fn auth(addr: SocketAddr) -> (Auth, String) {
    let auth = Auth::builder()
        .in_memory()
        .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k")).unwrap(), vec![]).unwrap())
        .secret_key([7u8; 32])
        .issuer(format!("http://{addr}"))
        .audience(format!("http://{addr}"))
        .public_origin(format!("http://{addr}"))
        .role_scopes("user", ["notes:read", "notes:write"])
        .role_scopes("admin", ["admin:users"])
        .password_pool(cheap_pool())
        .build()
        .unwrap();
    let password = Password::new(PASSWORD);
    auth.ensure_account(ALICE, &password, &["user"])
        .await
        .unwrap();
    auth.ensure_account(ROOT, &password, &["admin", "user"])
        .await
        .unwrap();
    let alice = auth
        .authenticate(&Credentials::Basic {
            login: ALICE.to_owned(),
            password,
        })
        .await
        .unwrap()
        .unwrap();
    let key = auth
        .issue_api_key(&alice, "read-only", ["notes:read".to_owned()].into())
        .await
        .unwrap();
    (auth, key.token.expose_secret().to_owned())
}

pub mod axum_app {
    use axum::Json;
    use axum::Router;
    use axum::routing::{get, post};
    use serde_json::Value;
    use tessera_axum::{AuthLayer, Authenticated, Guarded, require, require_fresh, requirement};

    use super::*;

    requirement!(Writers = Requirement::scope("notes:write"));

    async fn who(Authenticated(me): Authenticated) -> Json<Value> {
        Json(describe(Some(&me)))
    }

    pub fn router(auth: Auth) -> Router {
        Router::new()
            .route("/who", get(who))
            .route(
                "/maybe",
                get(|me: Option<Authenticated>| async move {
                    Json(describe(me.as_ref().map(|Authenticated(me)| me)))
                }),
            )
            .route("/either", get(who).route_layer(require(any_of())))
            .route("/both", get(who).route_layer(require(all_of())))
            .route("/none", get(who).route_layer(require(nothing())))
            .route("/fresh", get(who).route_layer(require_fresh()))
            .route(
                "/guarded",
                get(|Guarded(me, ..): Guarded<Writers>| async move { Json(describe(Some(&me))) }),
            )
            .route(FORM, post(|| async { Json(json!({"form": "ok"})) }))
            .layer(
                AuthLayer::new(auth)
                    .browser_login_page(LOGIN_PAGE)
                    .csrf_exempt([FORM]),
            )
    }

    pub fn serve(listener: std::net::TcpListener, ready: Sender<Ready>) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let addr = listener.local_addr().unwrap();
            let (auth, key) = auth(addr).await;
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            ready
                .send(Ready {
                    mailer: None,
                    key: Some(key),
                    stop: Box::new(move || {
                        let _ = stop.send(());
                    }),
                })
                .unwrap();
            let service = router(auth).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    }
}

pub mod actix_app {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use tessera_actix::{
        AuthMiddleware, Authenticated, Guarded, MaybeAuthenticated, require, require_fresh,
        requirement,
    };

    use super::*;

    requirement!(Writers = Requirement::scope("notes:write"));

    async fn who(Authenticated(me): Authenticated) -> HttpResponse {
        HttpResponse::Ok().json(describe(Some(&me)))
    }

    pub fn serve(listener: std::net::TcpListener, ready: Sender<Ready>) {
        actix_web::rt::System::new().block_on(async move {
            let addr = listener.local_addr().unwrap();
            let (auth, key) = auth(addr).await;
            let server = HttpServer::new(move || {
                App::new()
                    .route("/who", web::get().to(who))
                    .route(
                        "/maybe",
                        web::get().to(|MaybeAuthenticated(me): MaybeAuthenticated| async move {
                            HttpResponse::Ok().json(describe(me.as_ref()))
                        }),
                    )
                    .route("/either", web::get().to(who).wrap(require(any_of())))
                    .route("/both", web::get().to(who).wrap(require(all_of())))
                    .route("/none", web::get().to(who).wrap(require(nothing())))
                    .route("/fresh", web::get().to(who).wrap(require_fresh()))
                    .route(
                        "/guarded",
                        web::get().to(|Guarded(me, ..): Guarded<Writers>| async move {
                            HttpResponse::Ok().json(describe(Some(&me)))
                        }),
                    )
                    .route(
                        FORM,
                        web::post().to(|| async { HttpResponse::Ok().json(json!({"form": "ok"})) }),
                    )
                    .wrap(
                        AuthMiddleware::new(auth.clone())
                            .browser_login_page(LOGIN_PAGE)
                            .csrf_exempt([FORM]),
                    )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
            let handle = server.handle();
            ready
                .send(Ready {
                    mailer: None,
                    key: Some(key),
                    stop: Box::new(move || drop(handle.stop(false))),
                })
                .unwrap();
            server.await.unwrap();
        });
    }
}
