//! The in-process cost of the axum layer and of the actix-web middleware,
//! on the same routes: a request to an unprotected route, to routes
//! protected by a JWT (HS256 and EdDSA), an API key and a session cookie,
//! all on in-memory stores. Compare each to its adapter's unprotected route
//! for the adapter's overhead, and the two groups for the adapters.
//!
//! ```sh
//! cargo bench --bench middleware --features axum,actix-web
//! ```
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use criterion::async_executor::AsyncExecutor;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tessera::auth::Auth;
use tessera::axum::{AuthLayer, Authenticated};
use tessera::identity::Credentials;
use tessera::jwt::{Algorithm, JwtKey, JwtKeySet};
use tessera::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
use tower::ServiceExt;

fn auth(key: JwtKey) -> Auth {
    Auth::builder()
        .in_memory()
        .jwt_keys(JwtKeySet::new(key, vec![]).unwrap())
        .secret_key([7u8; 32])
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin("https://app.example.com")
        .role_scopes("user", ["notes:read"])
        .password_pool(
            PasswordPool::builder()
                .hasher(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn router(auth: Auth) -> Router {
    Router::new()
        .route("/open", get(|| async { "ok" }))
        .route(
            "/me",
            get(|Authenticated(me): Authenticated| async move { me.subject.to_string() }),
        )
        .layer(AuthLayer::new(auth))
}

/// The same routes on actix-web.
fn actix_app(
    auth: Auth,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use actix_web::web;
    actix_web::App::new()
        .route("/open", web::get().to(|| async { "ok" }))
        .route(
            "/me",
            web::get().to(
                |tessera::actix::Authenticated(me): tessera::actix::Authenticated| async move {
                    me.subject.to_string()
                },
            ),
        )
        .wrap(tessera::actix::AuthMiddleware::new(auth))
}

/// criterion's async driver on an actix-web runtime (`System`), whose
/// services are not `Send`.
struct Actix(actix_web::rt::SystemRunner);

impl AsyncExecutor for &Actix {
    fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.0.block_on(future)
    }
}

/// A benchmark case: name, `Auth`, credential header, path.
type Case = (
    String,
    Auth,
    Option<(header::HeaderName, String)>,
    &'static str,
);

fn middleware(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let password = Password::new("correct horse battery");
    let mut cases: Vec<Case> = Vec::new();

    for (name, key) in [
        (
            "HS256",
            JwtKey::hmac(Some("hs"), Algorithm::HS256, &[9u8; 32]).unwrap(),
        ),
        ("EdDSA", JwtKey::generate_ed25519(Some("ed")).unwrap()),
    ] {
        let auth = auth(key);
        let tokens = runtime.block_on(async {
            auth.register("alice@example.com", &password).await.unwrap();
            auth.login("alice@example.com", &password, None)
                .await
                .unwrap()
        });
        if name == "HS256" {
            cases.push(("unprotected".into(), auth.clone(), None, "/open"));
            let (api_key, session) = runtime.block_on(async {
                let identity = auth
                    .authenticate(&Credentials::Bearer(tokens.access_token.clone()))
                    .await
                    .unwrap()
                    .unwrap();
                let key = auth
                    .issue_api_key(&identity, "bench", ["notes:read".to_owned()].into())
                    .await
                    .unwrap();
                let session = auth
                    .login_session(None, "alice@example.com", &password, false, None)
                    .await
                    .unwrap();
                (
                    key.token.expose_secret().to_owned(),
                    session.id().expose_secret().to_owned(),
                )
            });
            cases.push((
                "api key".into(),
                auth.clone(),
                Some((header::AUTHORIZATION, format!("Bearer {api_key}"))),
                "/me",
            ));
            let cookie = format!("{}={session}", auth.sessions().cookie_settings().name());
            cases.push((
                "session".into(),
                auth.clone(),
                Some((header::COOKIE, cookie)),
                "/me",
            ));
        }
        cases.push((
            format!("jwt {name}"),
            auth,
            Some((
                header::AUTHORIZATION,
                format!("Bearer {}", tokens.access_token),
            )),
            "/me",
        ));
    }

    let mut group = c.benchmark_group("middleware/axum");
    for (name, auth, credential, path) in &cases {
        let router = router(auth.clone());
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(&runtime).iter(|| {
                let router = router.clone();
                let mut request = Request::get(*path);
                if let Some((header, value)) = credential {
                    request = request.header(header, value);
                }
                let request = request.body(Body::empty()).unwrap();
                async move {
                    let response = router.oneshot(request).await.unwrap();
                    assert!(
                        response.status().is_success(),
                        "{name}: {}",
                        response.status()
                    );
                    response
                }
            });
        });
    }
    group.finish();

    let actix = Actix(actix_web::rt::System::new());
    let mut group = c.benchmark_group("middleware/actix");
    for (name, auth, credential, path) in &cases {
        let service = actix
            .0
            .block_on(actix_web::test::init_service(actix_app(auth.clone())));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(&actix).iter(|| {
                let mut request = actix_web::test::TestRequest::get().uri(path);
                if let Some((header, value)) = credential {
                    request = request.insert_header((header.as_str(), value.as_str()));
                }
                let request = request.to_request();
                let service = &service;
                async move {
                    let response = actix_web::test::call_service(service, request).await;
                    assert!(
                        response.status().is_success(),
                        "{name}: {}",
                        response.status()
                    );
                    response
                }
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = middleware
}
criterion_main!(benches);
