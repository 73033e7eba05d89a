//! Cookie sessions and CSRF through the starter's router: login, the
//! cookie's attributes (C5), remember-me, replacement of a presented
//! session (C1), logout (C8, D9), the CSRF rules (D1, D2, D5–D7, D10),
//! session ids in the query string (C10), freshness and password change
//! (C11), role changes mid-session (C3, J3).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use common::{ADMIN, ALICE, BOB, COOKIE, NEW_PASSWORD, PASSWORD, PUBLIC_URL, Req, TestApp, keys};
use serde_json::json;
use tessera_core::clock::ManualClock;

#[tokio::test]
async fn session_login_sets_a_host_only_secure_cookie() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let (cookie, csrf, res) = t.session(ALICE, PASSWORD).await;
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(keys(&res.json()), ["csrf_token"]);
    assert_eq!(res.json()["csrf_token"], csrf.as_str());
    // C5: the exact cookie: __Host- name, Secure, HttpOnly, SameSite=Lax,
    // Path=/, no Domain, no Max-Age (a browser-session cookie).
    assert_eq!(
        res.set_cookies(),
        [format!(
            "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax; Secure"
        )]
    );
    assert_eq!(cookie.len(), 43);

    let res = t.send(Req::get("/me").cookie(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["email"], ALICE);
    assert_eq!(res.json()["scopes"], json!(["notes:read", "notes:write"]));
    // The token is the session's, whenever asked.
    let res = t.send(Req::get("/session/csrf").cookie(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.json(), json!({"csrf_token": csrf}));
}

#[tokio::test]
async fn remember_me_makes_the_cookie_persistent() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let res = t
        .send(
            Req::post("/session/login")
                .json(json!({"email": ALICE, "password": PASSWORD, "remember": true})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let cookie = &res.set_cookies()[0];
    assert!(
        cookie.contains("; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax; Secure"),
        "{cookie}"
    );
    for remember in [json!(false), json!(null)] {
        let res = t
            .send(
                Req::post("/session/login")
                    .json(json!({"email": ALICE, "password": PASSWORD, "remember": remember})),
            )
            .await;
        assert!(!res.set_cookies()[0].contains("Max-Age"));
    }
}

#[tokio::test]
async fn insecure_cookies_drop_secure_and_the_prefix() {
    let t = TestApp::with(|config| config.insecure_cookies(true)).await;
    t.register(ALICE).await;
    let res = t
        .send(Req::post("/session/login").json(json!({"email": ALICE, "password": PASSWORD})))
        .await;
    let cookie = res.cookie_value("tessera_session").unwrap();
    assert_eq!(
        res.set_cookies(),
        [format!(
            "tessera_session={cookie}; Path=/; HttpOnly; SameSite=Lax"
        )]
    );
    let res = t
        .send(Req::get("/me").header("cookie", &format!("tessera_session={cookie}")))
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn session_login_refusals() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let login = || Req::post("/session/login").json(json!({"email": ALICE, "password": PASSWORD}));
    // Another origin, however the browser says it.
    for req in [
        login().origin("https://evil.example"),
        login().origin("null"),
        login().origin("http://127.0.0.1:3000.evil.example"),
        login().header("sec-fetch-site", "cross-site"),
        login().header("sec-fetch-site", "same-site"),
    ] {
        let res = t.send(req).await;
        res.assert_error(403, "csrf_failed");
        assert!(res.set_cookies().is_empty());
    }
    // The same origin, or a request without browser headers (curl).
    for req in [
        login().origin(PUBLIC_URL),
        login().header("sec-fetch-site", "same-origin"),
        login().header("sec-fetch-site", "none"),
        login(),
    ] {
        assert_eq!(t.send(req).await.status, StatusCode::OK);
    }
    // As /auth/login: one answer for every failure.
    let wrong = t
        .send(
            Req::post("/session/login").json(json!({"email": ALICE, "password": "wrong password"})),
        )
        .await;
    let unknown = t
        .send(Req::post("/session/login").json(json!({"email": BOB, "password": PASSWORD})))
        .await;
    wrong.assert_error(401, "invalid_credentials");
    assert_eq!(wrong.headers, unknown.headers);
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.set_cookies().is_empty());
}

/// C1, C2, D8: a presented session is replaced; its old id is dead, and so
/// is its CSRF token.
#[tokio::test]
async fn c1_session_login_replaces_the_presented_session() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    t.register(BOB).await;
    let (first, first_csrf, _) = t.session(ALICE, PASSWORD).await;
    let res = t
        .send(
            Req::post("/session/login")
                .cookie(&first)
                .origin(PUBLIC_URL)
                .json(json!({"email": BOB, "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let second = res.cookie_value(COOKIE).unwrap();
    let second_csrf = res.json()["csrf_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_ne!(first_csrf, second_csrf);
    t.send(Req::get("/me").cookie(&first))
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(
        t.send(Req::get("/me").cookie(&second)).await.json()["email"],
        BOB
    );
    // The old token does not fit the new session.
    t.send(
        Req::post("/notes")
            .cookie(&second)
            .csrf(&first_csrf)
            .json(json!({"text": "x"})),
    )
    .await
    .assert_error(403, "csrf_failed");
}

/// D1, D2, D5, D6, D7: cookie-authenticated writes need the session's token
/// and must come from the app's own origin; the handler does not run
/// otherwise.
#[tokio::test]
async fn csrf_rules_for_cookie_writes() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    t.register(BOB).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    let (_, bob_csrf, _) = t.session(BOB, PASSWORD).await;
    let note = || {
        Req::post("/notes")
            .cookie(&cookie)
            .json(json!({"text": "x"}))
    };

    let refused = [
        note(),                                                    // D1: no token
        note().csrf(""),                                           // D1: empty token
        note().csrf(&bob_csrf),                                    // D2: another session's token
        note().csrf("derived-1.AAAA"),                             // D3: a planted value
        note().csrf(&csrf).header("sec-fetch-site", "cross-site"), // D5
        note().csrf(&csrf).header("sec-fetch-site", "same-site"),  // D6
        note().csrf(&csrf).origin("null"),                         // D7
        note()
            .csrf(&csrf)
            .origin("http://127.0.0.1:3000.attacker.net"), // D7
        note().csrf(&csrf).origin("https://127.0.0.1:3000"),
    ];
    for req in refused {
        let described = format!("{req:?}");
        let res = t.send(req).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{described}");
        res.assert_error(403, "csrf_failed");
    }
    // Other unsafe methods too (D4: methods as written).
    t.send(Req::delete("/auth/api-keys/x").cookie(&cookie))
        .await
        .assert_error(403, "csrf_failed");
    t.send(Req::post("/auth/logout-all").cookie(&cookie))
        .await
        .assert_error(403, "csrf_failed");
    assert_eq!(
        t.send(Req::get("/notes").cookie(&cookie)).await.json(),
        json!([])
    );

    for req in [
        note().csrf(&csrf),
        note().csrf(&csrf).origin(PUBLIC_URL),
        note().csrf(&csrf).header("sec-fetch-site", "same-origin"),
    ] {
        assert_eq!(t.send(req).await.status, StatusCode::CREATED);
    }
    assert_eq!(
        t.send(Req::get("/notes").cookie(&cookie))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// D10: bearer requests need no CSRF token, from anywhere; with an
/// Authorization header the cookie is not even read.
#[tokio::test]
async fn d10_bearer_requests_need_no_token() {
    let t = TestApp::new().await;
    let (_, access, _) = t.user(ALICE).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;
    let res = t
        .send(
            Req::post("/notes")
                .bearer(&access)
                .origin("https://evil.example")
                .header("sec-fetch-site", "cross-site")
                .json(json!({"text": "x"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    // The header alone decides: a bad bearer token next to a good cookie.
    t.send(Req::get("/me").bearer("not.a.token").cookie(&cookie))
        .await
        .assert_error(401, "invalid_token");
    let res = t
        .send(
            Req::post("/notes")
                .bearer(&access)
                .cookie(&cookie)
                .json(json!({"text": "y"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
}

/// C8, C16, D9: logout needs the cookie and the token, deletes the session
/// and clears the cookie; GET does not log out.
#[tokio::test]
async fn session_logout() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;

    // D9: a GET is not a logout.
    t.send(Req::get("/session/logout").cookie(&cookie))
        .await
        .assert_error(405, "method_not_allowed");
    t.send(Req::post("/session/logout").cookie(&cookie))
        .await
        .assert_error(403, "csrf_failed");
    t.send(
        Req::post("/session/logout")
            .cookie(&cookie)
            .csrf(&csrf)
            .origin("https://evil.example"),
    )
    .await
    .assert_error(403, "csrf_failed");
    assert_eq!(
        t.send(Req::get("/me").cookie(&cookie)).await.status,
        StatusCode::OK
    );

    let res = t
        .send(Req::post("/session/logout").cookie(&cookie).csrf(&csrf))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(
        res.set_cookies(),
        [format!(
            "{COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax; Secure"
        )]
    );
    // C8: the old cookie is dead.
    for req in [
        Req::get("/me").cookie(&cookie),
        Req::get("/session/csrf").cookie(&cookie),
        Req::post("/session/logout").cookie(&cookie).csrf(&csrf),
    ] {
        let res = t.send(req).await;
        res.assert_error(401, "unauthenticated");
        assert!(res.header("www-authenticate").is_none());
    }
    // Without a cookie, or with bearer credentials only.
    t.send(Req::post("/session/logout"))
        .await
        .assert_error(401, "unauthenticated");
    let (_, access, _) = t.user(BOB).await;
    t.send(Req::post("/session/logout").bearer(&access))
        .await
        .assert_error(401, "unauthenticated");
    t.send(Req::get("/session/csrf").bearer(&access))
        .await
        .assert_error(401, "unauthenticated");
}

/// `/auth/logout` with a session ends the session (CSRF applies).
#[tokio::test]
async fn auth_logout_with_a_session() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    t.send(Req::post("/auth/logout").cookie(&cookie))
        .await
        .assert_error(403, "csrf_failed");
    let res = t
        .send(Req::post("/auth/logout").cookie(&cookie).csrf(&csrf))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.set_cookies()[0].starts_with(&format!("{COOKIE}=; Max-Age=0")));
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
}

/// C10: session ids (and tokens) are never read from the query string or
/// the path.
#[tokio::test]
async fn c10_session_ids_in_the_url_are_ignored() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;
    for uri in [
        format!("/me?session_id={cookie}"),
        format!("/me?tessera_session={cookie}"),
        format!("/me?{COOKIE}={cookie}"),
    ] {
        let res = t.send(Req::get(&uri)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(res.text(), r#"{"error":"unauthenticated"}"#);
    }
    for uri in [format!("/me/{cookie}"), format!("/me;{COOKIE}={cookie}")] {
        t.send(Req::get(&uri)).await.assert_error(404, "not_found");
    }
    // Cookies under other names are not the session cookie.
    t.send(Req::get("/me").header("cookie", &format!("tessera_session={cookie}")))
        .await
        .assert_error(401, "unauthenticated");
}

/// C11 and the `/auth/password` answer for a session caller: a fresh token
/// pair plus `csrf_token`, the session rotated and kept, other sessions
/// ended.
#[tokio::test]
async fn c11_password_change_in_a_session() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    let (other, _, _) = t.session(ALICE, PASSWORD).await;
    let (third, _, _) = t.session(ALICE, PASSWORD).await;
    let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});

    t.send(
        Req::post("/auth/password")
            .cookie(&cookie)
            .json(change.clone()),
    )
    .await
    .assert_error(403, "csrf_failed");
    let res = t
        .send(
            Req::post("/auth/password")
                .cookie(&cookie)
                .csrf(&csrf)
                .json(change),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "csrf_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ]
    );
    let rotated = res.cookie_value(COOKIE).unwrap();
    assert_ne!(rotated, cookie);
    assert_ne!(body["csrf_token"], csrf.as_str());
    assert!(res.set_cookies()[0].ends_with("; Path=/; HttpOnly; SameSite=Lax; Secure"));

    for dead in [&cookie, &other, &third] {
        t.send(Req::get("/me").cookie(dead))
            .await
            .assert_error(401, "unauthenticated");
    }
    assert_eq!(
        t.send(Req::get("/me").cookie(&rotated)).await.status,
        StatusCode::OK
    );
    let res = t
        .send(
            Req::post("/notes")
                .cookie(&rotated)
                .csrf(body["csrf_token"].as_str().unwrap())
                .json(json!({"text": "x"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        t.send(Req::get("/me").bearer(access)).await.status,
        StatusCode::OK
    );
}

/// A session is fresh for 10 minutes after its password entry; older, a
/// password change and API-key creation need a new login. C6: the idle
/// timeout (30 minutes) ends it.
#[tokio::test]
async fn session_freshness_and_idle_timeout() {
    let clock = ManualClock::new(SystemTime::now());
    let t = TestApp::with(|config| config.clock(Arc::new(clock.clone()))).await;
    t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    clock.advance(Duration::from_secs(11 * 60));
    let res = t
        .send(
            Req::post("/auth/password")
                .cookie(&cookie)
                .csrf(&csrf)
                .json(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    res.assert_error(401, "fresh_login_required");
    t.send(
        Req::post("/auth/api-keys")
            .cookie(&cookie)
            .csrf(&csrf)
            .json(json!({"name": "k", "scopes": []})),
    )
    .await
    .assert_error(401, "fresh_login_required");
    // Used at 11 minutes, so alive until 41.
    clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        t.send(Req::get("/me").cookie(&cookie)).await.status,
        StatusCode::OK
    );
    clock.advance(Duration::from_secs(30 * 60 + 1));
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
}

/// C3, J3: an administrator's role change applies to a session on its next
/// request, which also gets a new id.
#[tokio::test]
async fn c3_role_change_applies_to_sessions_at_once() {
    let t = TestApp::new().await;
    let alice = t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    let (admin_cookie, admin_csrf, _) = t.session(ADMIN, PASSWORD).await;

    // The administrator works through a session too (CSRF applies).
    t.send(
        Req::patch(&format!("/admin/users/{alice}"))
            .cookie(&admin_cookie)
            .json(json!({"roles": []})),
    )
    .await
    .assert_error(403, "csrf_failed");
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{alice}"))
                .cookie(&admin_cookie)
                .csrf(&admin_csrf)
                .json(json!({"roles": []})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["roles"], json!([]));

    let res = t.send(Req::get("/notes").cookie(&cookie)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.text(),
        r#"{"error":"insufficient_scope","missing_scope":"notes:read"}"#
    );
    let rotated = res
        .cookie_value(COOKIE)
        .expect("the rotated session's cookie");
    assert_ne!(rotated, cookie);
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
    let res = t.send(Req::get("/me").cookie(&rotated)).await;
    assert_eq!(res.json()["roles"], json!([]));
    assert_eq!(res.json()["scopes"], json!([]));
    // The CSRF token follows the id.
    let res = t.send(Req::get("/session/csrf").cookie(&rotated)).await;
    assert_ne!(res.json()["csrf_token"], csrf.as_str());
}
