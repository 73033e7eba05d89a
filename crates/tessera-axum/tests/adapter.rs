//! The adapter end to end on a small router: guards as layers and as
//! extractors, browser mode, malformed headers, CSRF.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use tessera_axum::{AuthLayer, Authenticated, Guarded, require_role, requirement};
use tessera_core::auth::Auth;
use tessera_core::authz::Requirement;
use tessera_core::jwt::{JwtKey, JwtKeySet};
use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
use tower::ServiceExt;

requirement!(Writers = Requirement::scope("notes:write"));
requirement!(Nobody = Requirement::any_of([]));

fn auth() -> Auth {
    Auth::builder()
        .in_memory()
        .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k")).unwrap(), vec![]).unwrap())
        .secret_key([7u8; 32])
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin("https://app.example.com")
        .role_scopes("user", ["notes:read", "notes:write"])
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
        .route("/admin", get(|| async { "admin" }))
        .route_layer(require_role("admin"))
        .route(
            "/write",
            post(|Guarded(me, ..): Guarded<Writers>| async move { me.subject.to_string() }),
        )
        .route("/never", get(|_: Guarded<Nobody>| async { "never" }))
        .route(
            "/me",
            get(|Authenticated(me): Authenticated| async move { me.subject.to_string() }),
        )
        .route(
            "/maybe",
            get(|me: Option<Authenticated>| async move {
                me.map_or("anonymous".to_owned(), |Authenticated(me)| {
                    me.subject.to_string()
                })
            }),
        )
        .layer(AuthLayer::new(auth).browser_login_page("/login"))
}

async fn login(auth: &Auth) -> String {
    let password = Password::new("correct horse battery");
    auth.register("alice@example.com", &password).await.unwrap();
    auth.login("alice@example.com", &password, None)
        .await
        .unwrap()
        .access_token
}

async fn send(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn guards_as_layers_and_extractors() {
    let auth = auth();
    let token = login(&auth).await;
    let router = router(auth);
    let bearer = |req: axum::http::request::Builder| {
        req.header(header::AUTHORIZATION, format!("Bearer {token}"))
    };

    let (status, _, body) = send(
        &router,
        bearer(Request::get("/admin")).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::FORBIDDEN,
            r#"{"error":"forbidden","missing_role":"admin"}"#
        )
    );
    let (status, _, body) = send(
        &router,
        bearer(Request::post("/write")).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = send(
        &router,
        bearer(Request::get("/never")).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an empty requirement denies");
    let (status, _, _) = send(
        &router,
        Request::post("/write").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Option<Authenticated>: anonymous without credentials, refused with bad
/// ones.
#[tokio::test]
async fn optional_identity_is_never_a_bad_token() {
    let router = router(auth());
    let (status, _, body) =
        send(&router, Request::get("/maybe").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let request = Request::get("/maybe")
        .header(header::AUTHORIZATION, "Bearer not.a.jwt")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&router, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"tessera\", error=\"invalid_token\""
    );
    let request = Request::get("/maybe")
        .header(header::AUTHORIZATION, "Bearer ")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, request).await.0, StatusCode::BAD_REQUEST);
}

/// J1, browser mode: an HTML request without credentials is redirected to
/// the login page with the path as `next`; an API request gets 401.
#[tokio::test]
async fn browser_mode_redirects_html_requests() {
    let router = router(auth());
    let request = Request::get("/me?tab=a%20b")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&router, request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login?next=/me%3Ftab%3Da%2520b");
    let (status, _, body) = send(&router, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
    );
}
