//! The rejection table of CONTRACTS.md §1 on the starter's protected routes:
//! no credentials (J1), malformed `Authorization` (G1, G2, G7), tokens in
//! the query string (G3), bad tokens and revoked ones (G4), Basic, a dead
//! cookie, a missing scope or role (J2–J4), an empty requirement (J5).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use base64ct::{Base64, Encoding};
use common::{ALICE, PASSWORD, Req, Res, TestApp};
use serde_json::json;
use tessera_axum::{AuthLayer, require};
use tessera_core::authz::Requirement;
use tower::ServiceExt;

const BEARER: &str = r#"Bearer realm="tessera""#;

/// Every route that needs an identity, with a body it would accept.
fn protected() -> Vec<Req> {
    vec![
        Req::post("/auth/logout"),
        Req::post("/auth/logout-all"),
        Req::get("/me"),
        Req::post("/auth/password")
            .json(json!({"current_password": PASSWORD, "new_password": "something new"})),
        Req::post("/auth/api-keys").json(json!({"name": "k", "scopes": []})),
        Req::delete("/auth/api-keys/x"),
        Req::get("/notes"),
        Req::post("/notes").json(json!({"text": "x"})),
        Req::get("/admin/users"),
        Req::patch("/admin/users/x").json(json!({})),
        Req::post("/session/logout"),
        Req::get("/session/csrf"),
    ]
}

#[track_caller]
fn assert_rejection(res: &Res, status: u16, challenge: Option<&str>, body: &str) {
    assert_eq!(res.status.as_u16(), status, "{}", res.text());
    assert_eq!(res.header("www-authenticate"), challenge);
    assert_eq!(res.text(), body);
    assert_eq!(res.header("content-type"), Some("application/json"));
}

/// J1: no credentials.
#[tokio::test]
async fn j1_no_credentials() {
    let t = TestApp::new().await;
    for req in protected() {
        let described = format!("{req:?}");
        let res = t.send(req).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{described}");
        assert_rejection(&res, 401, Some(BEARER), r#"{"error":"unauthenticated"}"#);
    }
}

/// G1, G2, G7: a malformed `Authorization` header is 400 on every route.
#[tokio::test]
async fn g1_g2_malformed_authorization() {
    let t = TestApp::new().await;
    let (_, access, _) = t.user(ALICE).await;
    let no_colon = format!("Basic {}", Base64::encode_string(b"alice"));
    let malformed = [
        "Bearer",
        "Bearer ",
        "Token abc",
        "Basic !!!",
        no_colon.as_str(),
        "Bearer a b",
    ];
    let challenge = r#"Bearer realm="tessera", error="invalid_request""#;
    for value in malformed {
        for req in protected() {
            let res = t.send(req.header("authorization", value)).await;
            assert_rejection(&res, 400, Some(challenge), r#"{"error":"invalid_request"}"#);
        }
    }
    // G2: two headers, even two good ones, never "first wins".
    for req in protected() {
        let res = t
            .send(
                req.header("authorization", &format!("Bearer {access}"))
                    .header("authorization", &format!("Bearer {access}")),
            )
            .await;
        assert_rejection(&res, 400, Some(challenge), r#"{"error":"invalid_request"}"#);
    }
    // The scheme is case-insensitive, and spaces before the token are
    // allowed.
    for value in [
        format!("bearer {access}"),
        format!("BEARER {access}"),
        format!("Bearer  {access}"),
    ] {
        let res = t
            .send(Req::get("/me").header("authorization", &value))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{value}");
    }
}

/// G3: a token in the query string is not read.
#[tokio::test]
async fn g3_tokens_in_the_query_are_ignored() {
    let t = TestApp::new().await;
    let (_, access, _) = t.user(ALICE).await;
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    for uri in [
        format!("/notes?access_token={access}"),
        format!("/notes?access_token={api_key}"),
        format!("/me?authorization=Bearer%20{access}"),
    ] {
        let res = t.send(Req::get(&uri)).await;
        assert_rejection(&res, 401, Some(BEARER), r#"{"error":"unauthenticated"}"#);
    }
}

/// Bad, revoked (G4) and expired-looking tokens; wrong Basic; a dead cookie.
#[tokio::test]
async fn bad_credentials() {
    let t = TestApp::new().await;
    let (_, access, _) = t.user(ALICE).await;
    let invalid = r#"Bearer realm="tessera", error="invalid_token""#;
    // One signature character changed well before the end, where every bit
    // is data (the last character of a base64url segment carries padding
    // bits, and replacing it can leave the token unchanged).
    let mut tampered = access.clone().into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_ne!(tampered, access);
    for token in [
        "abc",
        tampered.as_str(),
        "tsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let res = t.send(Req::get("/me").bearer(token)).await;
        assert_rejection(&res, 401, Some(invalid), r#"{"error":"invalid_token"}"#);
    }
    // G4: revoked at logout, refused at once.
    assert_eq!(
        t.send(Req::post("/auth/logout").bearer(&access))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let res = t.send(Req::get("/notes").bearer(&access)).await;
    assert_rejection(&res, 401, Some(invalid), r#"{"error":"invalid_token"}"#);

    for (email, password) in [(ALICE, "wrong password"), ("nobody@example.com", PASSWORD)] {
        let res = t.send(Req::get("/me").basic(email, password)).await;
        assert_rejection(
            &res,
            401,
            Some(r#"Basic realm="tessera""#),
            r#"{"error":"invalid_credentials"}"#,
        );
    }
    let res = t.send(Req::get("/notes").basic(ALICE, PASSWORD)).await;
    assert_eq!(res.status, StatusCode::OK);

    for cookie in [
        "x",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$%\"",
        &"a".repeat(10_000),
    ] {
        let res = t.send(Req::get("/me").cookie(cookie)).await;
        assert_rejection(&res, 401, None, r#"{"error":"unauthenticated"}"#);
    }
}

/// J2, J3, J4: a missing role or scope is 403 (not 401); matching is exact
/// and case-sensitive; a JWT keeps its roles until refreshed.
#[tokio::test]
async fn j2_j3_j4_roles_and_scopes() {
    let t = TestApp::new().await;
    let (alice, access, refresh) = t.user(ALICE).await;
    let admin = t.admin_token().await;

    for req in [
        Req::get("/admin/users"),
        Req::patch("/admin/users/x").json(json!({})),
    ] {
        let res = t.send(req.bearer(&access)).await;
        assert_rejection(
            &res,
            403,
            None,
            r#"{"error":"forbidden","missing_role":"admin"}"#,
        );
    }
    // J4: `Admin` is not `admin`.
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{alice}"))
                .bearer(&admin)
                .json(json!({"roles": ["Admin", "user"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let basic = t
        .send(Req::get("/admin/users").basic(ALICE, PASSWORD))
        .await;
    assert_rejection(
        &basic,
        403,
        None,
        r#"{"error":"forbidden","missing_role":"admin"}"#,
    );

    // J3: roles taken away. Basic (read per request) is refused at once;
    // the JWT keeps the roles it was issued with until it is refreshed.
    t.send(
        Req::patch(&format!("/admin/users/{alice}"))
            .bearer(&admin)
            .json(json!({"roles": []})),
    )
    .await;
    let res = t.send(Req::get("/notes").basic(ALICE, PASSWORD)).await;
    assert_rejection(
        &res,
        403,
        Some(r#"Bearer realm="tessera", error="insufficient_scope", scope="notes:read""#),
        r#"{"error":"insufficient_scope","missing_scope":"notes:read"}"#,
    );
    assert_eq!(
        t.send(Req::get("/notes").bearer(&access)).await.status,
        StatusCode::OK
    );
    let refreshed = t
        .send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .json();
    assert_eq!(refreshed["scope"], "");
    let res = t
        .send(
            Req::post("/notes")
                .bearer(refreshed["access_token"].as_str().unwrap())
                .json(json!({"text": "x"})),
        )
        .await;
    assert_rejection(
        &res,
        403,
        Some(r#"Bearer realm="tessera", error="insufficient_scope", scope="notes:write""#),
        r#"{"error":"insufficient_scope","missing_scope":"notes:write"}"#,
    );
}

/// J5: a guard with an empty requirement denies, even the administrator.
#[tokio::test]
async fn j5_an_empty_requirement_denies() {
    let t = TestApp::new().await;
    let admin = t.admin_token().await;
    let router = Router::new()
        .route("/x", get(|| async { "reached" }))
        .route_layer(require(Requirement::all_of([])))
        .layer(AuthLayer::new(t.app.auth().clone()));
    let response = router
        .oneshot(Req::get("/x").bearer(&admin).build())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
