//! The adapter end to end on a small app: guards as middleware and as
//! extractors, optional identities, browser mode, malformed headers, CSRF
//! and the router's decoded paths, session rotation.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::collections::BTreeSet;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use tessera_actix::{
    AuthMiddleware, Authenticated, CurrentSession, Fresh, Guarded, MaybeAuthenticated, require,
    require_fresh, require_role, require_scope, requirement, session_cookie,
};
use tessera_core::auth::Auth;
use tessera_core::authz::Requirement;
use tessera_core::jwt::{JwtKey, JwtKeySet};
use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
use tessera_core::users::UserId;

requirement!(Writers = Requirement::scope("notes:write"));
requirement!(Nobody = Requirement::any_of([]));

const ORIGIN: &str = "https://app.example.com";
const PASSWORD: &str = "correct horse battery";

fn auth() -> Auth {
    Auth::builder()
        .in_memory()
        .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k")).unwrap(), vec![]).unwrap())
        .secret_key([7u8; 32])
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin(ORIGIN)
        .role_scopes("user", ["notes:read", "notes:write"])
        .role_scopes("admin", ["admin:users"])
        .password_pool(
            PasswordPool::builder()
                .hasher(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

async fn subject(Authenticated(me): Authenticated) -> String {
    me.subject.to_string()
}

/// The test app; `/login` and `/session/login` set their own cookie.
fn app(
    auth: Auth,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let login_auth = auth.clone();
    App::new()
        .route("/me", web::get().to(subject))
        .route("/admin", web::get().to(subject).wrap(require_role("admin")))
        .route(
            "/notes",
            web::post().to(subject).wrap(require_scope("notes:write")),
        )
        .route(
            "/either",
            web::get().to(subject).wrap(require(Requirement::any_of([
                Requirement::role("admin"),
                Requirement::scope("notes:write"),
            ]))),
        )
        .route(
            "/both",
            web::get().to(subject).wrap(require(Requirement::all_of([
                Requirement::role("admin"),
                Requirement::scope("notes:write"),
            ]))),
        )
        .route(
            "/none",
            web::get()
                .to(subject)
                .wrap(require(Requirement::any_of([]))),
        )
        .route("/fresh", web::get().to(subject).wrap(require_fresh()))
        .route(
            "/fresh-extractor",
            web::get().to(|Fresh(me): Fresh| async move { me.subject.to_string() }),
        )
        .route(
            "/write",
            web::post()
                .to(|Guarded(me, ..): Guarded<Writers>| async move { me.subject.to_string() }),
        )
        .route(
            "/never",
            web::get().to(|_: Guarded<Nobody>| async { "never" }),
        )
        .route(
            "/maybe",
            web::get().to(|MaybeAuthenticated(me): MaybeAuthenticated| async move {
                me.map_or("anonymous".to_owned(), |me| me.subject.to_string())
            }),
        )
        .route(
            "/option",
            web::get().to(|me: Option<Authenticated>| async move {
                me.map_or("anonymous".to_owned(), |Authenticated(me)| {
                    me.subject.to_string()
                })
            }),
        )
        .route(
            "/session/login",
            web::post().to(move |CurrentSession(current): CurrentSession| {
                let auth = login_auth.clone();
                async move {
                    let session = auth
                        .login_session(
                            current,
                            "alice@example.com",
                            &Password::new(PASSWORD),
                            false,
                            None,
                        )
                        .await
                        .unwrap();
                    HttpResponse::Ok()
                        .append_header((header::SET_COOKIE, session_cookie(&auth, &session)))
                        .body(auth.csrf().token(session.id()))
                }
            }),
        )
        .route("/health", web::get().to(|| async { "ok" }))
        .wrap(
            AuthMiddleware::new(auth)
                .browser_login_page("/login")
                .csrf_exempt(["/session/login"]),
        )
}

async fn call(
    service: &impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
    request: test::TestRequest,
) -> (StatusCode, header::HeaderMap, String) {
    let response = test::call_service(service, request.to_request()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = test::read_body(response).await;
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn register(auth: &Auth, email: &str, roles: &[&str]) -> UserId {
    let user = auth
        .register(email, &Password::new(PASSWORD))
        .await
        .unwrap();
    let roles: BTreeSet<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    auth.set_roles(&user.id, &roles).await.unwrap();
    user.id
}

fn bearer(path: &str, token: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(path)
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
}

#[actix_web::test]
async fn guards_as_middleware_and_extractors() {
    let auth = auth();
    let alice = register(&auth, "alice@example.com", &["user"]).await;
    register(&auth, "root@example.com", &["admin", "user"]).await;
    let token = auth
        .login("alice@example.com", &Password::new(PASSWORD), None)
        .await
        .unwrap()
        .access_token;
    let root = auth
        .login("root@example.com", &Password::new(PASSWORD), None)
        .await
        .unwrap()
        .access_token;
    let service = test::init_service(app(auth.clone())).await;

    let (status, headers, body) = call(&service, bearer("/admin", &token)).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::FORBIDDEN,
            r#"{"error":"forbidden","missing_role":"admin"}"#
        )
    );
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let (status, _, body) = call(&service, bearer("/me", &token)).await;
    assert_eq!((status, body), (StatusCode::OK, alice.to_string()));
    let (status, headers, body) = call(
        &service,
        bearer("/notes", "x").method(actix_web::http::Method::POST),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        headers.get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer realm=\"tessera\", error=\"invalid_token\""
    );
    // any-of, all-of, and the empty requirement (J5).
    assert_eq!(
        call(&service, bearer("/either", &token)).await.0,
        StatusCode::OK
    );
    let (status, _, body) = call(&service, bearer("/both", &token)).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::FORBIDDEN,
            r#"{"error":"forbidden","missing_role":"admin"}"#
        )
    );
    assert_eq!(
        call(&service, bearer("/both", &root)).await.0,
        StatusCode::OK
    );
    let (status, _, body) = call(&service, bearer("/none", &root)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::FORBIDDEN, r#"{"error":"forbidden"}"#)
    );
    assert_eq!(
        call(&service, bearer("/never", &root)).await.0,
        StatusCode::FORBIDDEN
    );
    let write = bearer("/write", &token).method(actix_web::http::Method::POST);
    assert_eq!(call(&service, write).await.0, StatusCode::OK);
    let (status, _, _) = call(&service, test::TestRequest::post().uri("/write")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A password login is fresh; an API key never is.
    assert_eq!(
        call(&service, bearer("/fresh", &token)).await.0,
        StatusCode::OK
    );
    let identity = auth
        .authenticate(&tessera_core::identity::Credentials::Bearer(token.clone()))
        .await
        .unwrap()
        .unwrap();
    let key = auth
        .issue_api_key(&identity, "ci", ["notes:read".to_owned()].into())
        .await
        .unwrap();
    let key = key.token.expose_secret().to_owned();
    for path in ["/fresh", "/fresh-extractor"] {
        let (status, _, body) = call(&service, bearer(path, &key)).await;
        assert_eq!(
            (status, body.as_str()),
            (
                StatusCode::UNAUTHORIZED,
                r#"{"error":"fresh_login_required"}"#
            ),
            "{path}"
        );
    }
    let (status, headers, body) = call(
        &service,
        bearer("/notes", &key).method(actix_web::http::Method::POST),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::FORBIDDEN,
            r#"{"error":"insufficient_scope","missing_scope":"notes:write"}"#
        )
    );
    assert_eq!(
        headers.get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"notes:write\""
    );
}

/// `MaybeAuthenticated` refuses bad credentials, as axum's
/// `Option<Authenticated>` does; actix-web's own `Option<Authenticated>`
/// turns them into `None` (documented).
#[actix_web::test]
async fn optional_identities() {
    let service = test::init_service(app(auth())).await;
    let (status, _, body) = call(&service, test::TestRequest::get().uri("/maybe")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let (status, headers, _) = call(&service, bearer("/maybe", "not.a.jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers.get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer realm=\"tessera\", error=\"invalid_token\""
    );
    let (status, _, _) = call(
        &service,
        test::TestRequest::get()
            .uri("/maybe")
            .insert_header((header::AUTHORIZATION, "Bearer ")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) = call(&service, bearer("/option", "not.a.jwt")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
}

/// Malformed `Authorization` is 400 on every route that needs an identity,
/// and a public route does not look at it.
#[actix_web::test]
async fn malformed_headers() {
    let service = test::init_service(app(auth())).await;
    for value in ["Bearer", "Bearer ", "Token abc", "Basic !!!", "Bearer a b"] {
        let (status, headers, body) = call(
            &service,
            test::TestRequest::get()
                .uri("/me")
                .insert_header((header::AUTHORIZATION, value)),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::BAD_REQUEST, r#"{"error":"invalid_request"}"#),
            "{value}"
        );
        assert_eq!(
            headers.get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"tessera\", error=\"invalid_request\""
        );
    }
    let two = test::TestRequest::get()
        .uri("/me")
        .append_header((header::AUTHORIZATION, "Bearer a"))
        .append_header((header::AUTHORIZATION, "Bearer a"));
    assert_eq!(call(&service, two).await.0, StatusCode::BAD_REQUEST);
    let health = test::TestRequest::get()
        .uri("/health")
        .insert_header((header::AUTHORIZATION, "Bearer "));
    assert_eq!(call(&service, health).await.0, StatusCode::OK);
}

/// J1, browser mode: an HTML request without credentials is redirected to
/// the login page with the path as `next`; an API request gets 401.
#[actix_web::test]
async fn browser_mode_redirects_html_requests() {
    let service = test::init_service(app(auth())).await;
    let html = test::TestRequest::get()
        .uri("/me?tab=a%20b")
        .insert_header((header::ACCEPT, "text/html,application/xhtml+xml"));
    let (status, headers, _) = call(&service, html).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers.get(header::LOCATION).unwrap(),
        "/login?next=/me%3Ftab%3Da%2520b"
    );
    let (status, _, body) = call(&service, test::TestRequest::get().uri("/me")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
    );
    // A bad token is never a redirect: the client must learn it is bad.
    let bad = bearer("/me", "x").insert_header((header::ACCEPT, "text/html"));
    assert_eq!(call(&service, bad).await.0, StatusCode::UNAUTHORIZED);
}

/// The CSRF-exempt login form keeps its provenance check under every
/// spelling of its path the router accepts, and a login over an old
/// session sets one cookie: the handler's, not a rotation's.
#[actix_web::test]
async fn exempt_paths_are_the_routed_paths() {
    let auth = auth();
    register(&auth, "alice@example.com", &["user"]).await;
    let service = test::init_service(app(auth.clone())).await;
    for path in ["/session/login", "/session/log%69n"] {
        let foreign = test::TestRequest::post()
            .uri(path)
            .insert_header((header::ORIGIN, "https://evil.example"));
        let (status, _, body) = call(&service, foreign).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::FORBIDDEN, r#"{"error":"csrf_failed"}"#),
            "{path}"
        );
    }
    let login = test::TestRequest::post()
        .uri("/session/login")
        .insert_header((header::ORIGIN, ORIGIN));
    let (status, headers, csrf) = call(&service, login).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(pair.starts_with("__Host-tessera_session="), "{cookie}");
    // D1: a cookie write without the token; then with it.
    let write = || {
        test::TestRequest::post()
            .uri("/write")
            .insert_header((header::COOKIE, pair.clone()))
    };
    let (status, _, body) = call(&service, write()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::FORBIDDEN, r#"{"error":"csrf_failed"}"#)
    );
    let (status, _, _) = call(
        &service,
        write().insert_header(("x-csrf-token", csrf.clone())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Logging in over the session replaces it; only the handler's cookie
    // is sent.
    let again = test::TestRequest::post()
        .uri("/session/login")
        .insert_header((header::ORIGIN, ORIGIN))
        .insert_header((header::COOKIE, pair.clone()));
    let (status, headers, _) = call(&service, again).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get_all(header::SET_COOKIE).count(), 1);
    let me = test::TestRequest::get()
        .uri("/me")
        .insert_header((header::COOKIE, pair));
    let (status, headers, body) = call(&service, me).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
    );
    assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
}

/// A role change rotates the session id on the next request: the response
/// carries the new cookie, even when the request is refused.
#[actix_web::test]
async fn a_role_change_rotates_the_session() {
    let auth = auth();
    let alice = register(&auth, "alice@example.com", &["user"]).await;
    let service = test::init_service(app(auth.clone())).await;
    let login = test::TestRequest::post()
        .uri("/session/login")
        .insert_header((header::ORIGIN, ORIGIN));
    let (_, headers, _) = call(&service, login).await;
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let roles: BTreeSet<String> = ["admin".to_owned(), "user".to_owned()].into();
    auth.set_roles(&alice, &roles).await.unwrap();
    let admin = test::TestRequest::get()
        .uri("/admin")
        .insert_header((header::COOKIE, pair.clone()));
    let (status, headers, _) = call(&service, admin).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = headers.get(header::SET_COOKIE).expect("the rotated cookie");
    let rotated = rotated.to_str().unwrap().split(';').next().unwrap();
    assert_ne!(rotated, pair);
    let old = test::TestRequest::get()
        .uri("/me")
        .insert_header((header::COOKIE, pair));
    assert_eq!(call(&service, old).await.0, StatusCode::UNAUTHORIZED);
    let new = test::TestRequest::get()
        .uri("/me")
        .insert_header((header::COOKIE, rotated.to_owned()));
    assert_eq!(call(&service, new).await.0, StatusCode::OK);
}

/// Extractors and guards on a route without the middleware: 503, never an
/// open door.
#[actix_web::test]
async fn without_the_middleware_nothing_passes() {
    let service = test::init_service(
        App::new().route("/me", web::get().to(subject)).route(
            "/admin",
            web::get()
                .to(|| async { "admin" })
                .wrap(require_role("admin")),
        ),
    )
    .await;
    for path in ["/me", "/admin"] {
        let (status, headers, body) = call(&service, test::TestRequest::get().uri(path)).await;
        assert_eq!(
            (status, body.as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"temporarily_unavailable"}"#
            ),
            "{path}"
        );
        assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "5");
    }
}
