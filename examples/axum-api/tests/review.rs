//! Regressions found in review: a role change rotating the session on the
//! very write that carries the old CSRF token, Basic credentials sent
//! cross-site, unparsable ids in paths, and public routes with a live
//! session cookie.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

mod common;

use axum::http::StatusCode;
use common::{ALICE, COOKIE, PASSWORD, PUBLIC_URL, Req, TestApp};
use serde_json::json;

/// The first write after a role change rotates the session; the CSRF token
/// the page holds belongs to the id it presented, so the write succeeds and
/// the response carries the new cookie and works with the new token.
#[tokio::test]
async fn a_write_that_rotates_the_session_keeps_its_csrf_token() {
    let t = TestApp::new().await;
    let alice = t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    let admin = t.admin_token().await;
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{alice}"))
                .bearer(&admin)
                .json(json!({"roles": ["user", "admin"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let res = t
        .send(
            Req::post("/notes")
                .cookie(&cookie)
                .csrf(&csrf)
                .json(json!({"text": "after the role change"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let rotated = res.cookie_value(COOKIE).expect("the rotated cookie");
    assert_ne!(rotated, cookie);
    // The old id is gone; the new one has the new role and its own token.
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
    let res = t.send(Req::get("/me").cookie(&rotated)).await;
    assert_eq!(res.json()["roles"], json!(["admin", "user"]));
    let new_csrf = t
        .send(Req::get("/session/csrf").cookie(&rotated))
        .await
        .json()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_csrf, csrf);
    // The old token does not carry over to the new id.
    t.send(
        Req::post("/notes")
            .cookie(&rotated)
            .csrf(&csrf)
            .json(json!({"text": "x"})),
    )
    .await
    .assert_error(403, "csrf_failed");
    let res = t
        .send(
            Req::post("/notes")
                .cookie(&rotated)
                .csrf(&new_csrf)
                .json(json!({"text": "x"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

/// A browser that cached Basic credentials replays them on a cross-site
/// form post: the layer refuses it, as it does for cookies.
#[tokio::test]
async fn cross_site_basic_writes_are_refused() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    t.send(
        Req::post("/notes")
            .basic(ALICE, PASSWORD)
            .origin("https://evil.example")
            .json(json!({"text": "forged"})),
    )
    .await
    .assert_error(403, "csrf_failed");
    // Nothing was written.
    let res = t.send(Req::get("/notes").basic(ALICE, PASSWORD)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!([]));
    // Same-origin and non-browser clients (no Origin) are unaffected.
    let res = t
        .send(
            Req::post("/notes")
                .basic(ALICE, PASSWORD)
                .origin(PUBLIC_URL)
                .json(json!({"text": "mine"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = t
        .send(
            Req::post("/notes")
                .basic(ALICE, PASSWORD)
                .json(json!({"text": "cli"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

/// Ids that cannot be ids (bad percent-encoding, not UTF-8, not our format)
/// are "not found", in JSON, never a plain-text 400 from the router.
#[tokio::test]
async fn unparsable_ids_are_not_found() {
    let t = TestApp::new().await;
    let (_, access, _) = t.user(ALICE).await;
    let admin = t.admin_token().await;
    for path in [
        "/auth/api-keys/%FF",
        "/auth/api-keys/%zz",
        "/auth/api-keys/x",
    ] {
        t.send(Req::delete(path).bearer(&access))
            .await
            .assert_error(404, "not_found");
    }
    for path in [
        "/admin/users/%FF",
        "/admin/users/%C0%80",
        "/admin/users/nope",
    ] {
        t.send(Req::patch(path).bearer(&admin).json(json!({"roles": []})))
            .await
            .assert_error(404, "not_found");
    }
}

/// Public routes authenticate from their body, not the cookie: a stale
/// session cookie must not make them demand a CSRF token.
#[tokio::test]
async fn public_routes_ignore_a_live_session_cookie() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;
    let res = t
        .send(
            Req::post("/auth/login")
                .cookie(&cookie)
                .json(json!({"email": ALICE, "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = t
        .send(
            Req::post("/auth/password-reset")
                .cookie(&cookie)
                .json(json!({"email": ALICE})),
        )
        .await;
    assert!(res.status.is_success(), "{} {}", res.status, res.text());
    // Token routes are an API: another origin may call them (only the
    // session login form is origin-bound), cookie or not.
    let res = t
        .send(
            Req::post("/auth/login")
                .origin("https://spa.example")
                .cookie(&cookie)
                .json(json!({"email": ALICE, "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    t.send(
        Req::post("/session/login")
            .origin("https://spa.example")
            .json(json!({"email": ALICE, "password": PASSWORD})),
    )
    .await
    .assert_error(403, "csrf_failed");
    // Logging in again from the app's origin with the old cookie replaces
    // the session (C1) without a CSRF token.
    let res = t
        .send(
            Req::post("/session/login")
                .origin(PUBLIC_URL)
                .cookie(&cookie)
                .json(json!({"email": ALICE, "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_ne!(res.cookie_value(COOKIE).unwrap(), cookie);
}
