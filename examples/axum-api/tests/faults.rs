//! Store faults (K1–K6) and the logout race (C9), through store wrappers
//! that fail, fail on writes, stall or hold a save on demand, each behind
//! the deadline every store has.
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
use common::faulty::{Mode, Switches};
use common::{ALICE, PASSWORD, Req, Res, TestApp};
use serde_json::json;
use tessera_core::clock::ManualClock;
use tessera_core::users::UserId;

async fn app() -> (TestApp, Switches) {
    let switches = Switches::default();
    let stores = switches.stores();
    (
        TestApp::with(|config| config.stores(stores)).await,
        switches,
    )
}

#[track_caller]
fn assert_unavailable(res: &Res) {
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        res.text()
    );
    assert_eq!(res.text(), r#"{"error":"temporarily_unavailable"}"#);
    assert_eq!(res.header("retry-after"), Some("5"));
    assert!(res.header("www-authenticate").is_none());
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
}

/// K1: the session store fails on load: 503, the handler does not run and
/// the cookie is not cleared.
#[tokio::test]
async fn k1_session_store_fails_on_load() {
    let (t, switches) = app().await;
    t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    switches.sessions.set(Mode::Fail);
    assert_unavailable(&t.send(Req::get("/me").cookie(&cookie)).await);
    let res = t
        .send(
            Req::post("/notes")
                .cookie(&cookie)
                .csrf(&csrf)
                .json(json!({"text": "x"})),
        )
        .await;
    assert_unavailable(&res);
    assert_unavailable(
        &t.send(Req::post("/session/logout").cookie(&cookie).csrf(&csrf))
            .await,
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));

    switches.sessions.set(Mode::Ok);
    assert_eq!(
        t.send(Req::get("/notes").cookie(&cookie)).await.json(),
        json!([])
    );
}

/// K2, K5: a session store that cannot write: the login is 503 without a
/// cookie. The same for a user store that fails during a token login.
#[tokio::test]
async fn k2_k5_logins_while_stores_fail() {
    let (t, switches) = app().await;
    t.register(ALICE).await;
    switches.sessions.set(Mode::FailWrites);
    let res = t
        .send(Req::post("/session/login").json(json!({"email": ALICE, "password": PASSWORD})))
        .await;
    assert_unavailable(&res);
    switches.sessions.set(Mode::Ok);

    switches.users.set(Mode::Fail);
    for path in ["/auth/login", "/session/login"] {
        let res = t
            .send(Req::post(path).json(json!({"email": ALICE, "password": PASSWORD})))
            .await;
        assert_unavailable(&res);
    }
    assert_unavailable(&t.send(Req::get("/me").basic(ALICE, PASSWORD)).await);
    assert_unavailable(
        &t.send(
            Req::post("/auth/register")
                .json(json!({"email": "b@example.com", "password": PASSWORD})),
        )
        .await,
    );
    assert_unavailable(
        &t.send(Req::post("/auth/password-reset").json(json!({"email": ALICE})))
            .await,
    );
    switches.users.set(Mode::Ok);
    // The token store refuses new families.
    switches.tokens.set(Mode::FailWrites);
    assert_unavailable(
        &t.send(Req::post("/auth/login").json(json!({"email": ALICE, "password": PASSWORD})))
            .await,
    );
    switches.tokens.set(Mode::Ok);
    t.login(ALICE, PASSWORD).await;
}

/// K3: with every store down, requests without credentials are served (or
/// refused as unauthenticated) without contacting a store.
#[tokio::test]
async fn k3_no_credentials_no_store() {
    let (t, switches) = app().await;
    switches.set_all(Mode::Fail);
    let before = switches.calls();
    let res = t.send(Req::get("/health")).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = t.send(Req::get("/.well-known/jwks.json")).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = t.send(Req::get("/me")).await;
    res.assert_error(401, "unauthenticated");
    let res = t.send(Req::get("/notes")).await;
    res.assert_error(401, "unauthenticated");
    let res = t.send(Req::get("/me").cookie("malformed")).await;
    res.assert_error(401, "unauthenticated");
    assert_eq!(switches.calls(), before, "a store was contacted");
}

/// K4: a store that hangs is cut off by its deadline: 503 with
/// `Retry-After`, not a hung request. Time is paused: the deadline passes
/// without waiting.
#[tokio::test(start_paused = true)]
async fn k4_stalled_stores_time_out() {
    let (t, switches) = app().await;
    let (_, access, _) = t.user(ALICE).await;
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;

    switches.sessions.set(Mode::Stall);
    assert_unavailable(&t.send(Req::get("/me").cookie(&cookie)).await);
    switches.sessions.set(Mode::Ok);

    switches.tokens.set(Mode::Stall);
    assert_unavailable(&t.send(Req::get("/notes").bearer(&api_key)).await);
    switches.tokens.set(Mode::Ok);

    switches.users.set(Mode::Stall);
    assert_unavailable(&t.send(Req::get("/me").bearer(&api_key)).await);
    switches.users.set(Mode::Ok);

    assert_eq!(
        t.send(Req::get("/notes").bearer(&api_key)).await.status,
        StatusCode::OK
    );
}

/// K6: the revocation store cannot answer: a JWT is refused (503), never
/// let through.
#[tokio::test]
async fn k6_revocations_down_fail_closed() {
    let (t, switches) = app().await;
    let (_, access, _) = t.user(ALICE).await;
    switches.revocations.set(Mode::Fail);
    assert_unavailable(&t.send(Req::get("/me").bearer(&access)).await);
    assert_unavailable(&t.send(Req::get("/notes").bearer(&access)).await);
    switches.revocations.set(Mode::Ok);
    assert_eq!(
        t.send(Req::get("/me").bearer(&access)).await.status,
        StatusCode::OK
    );
}

/// C9: a request that loaded the session before a logout finished and
/// writes it back afterwards does not bring it back.
#[tokio::test]
async fn c9_a_save_racing_a_logout_does_not_resurrect_the_session() {
    let switches = Switches::default();
    let stores = switches.stores();
    let clock = ManualClock::new(SystemTime::now());
    let t = Arc::new(
        TestApp::with(|config| config.stores(stores).clock(Arc::new(clock.clone()))).await,
    );
    let alice = t.register(ALICE).await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    // Past the touch interval, so the next load writes the session back.
    clock.advance(Duration::from_secs(61));

    let gate = switches.sessions.gate_next_save();
    let slow = tokio::spawn({
        let t = t.clone();
        let cookie = cookie.clone();
        async move { t.send(Req::get("/me").cookie(&cookie)).await }
    });
    gate.entered.notified().await;

    let res = t
        .send(Req::post("/session/logout").cookie(&cookie).csrf(&csrf))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    gate.release.notify_one();

    let slow = slow.await.unwrap();
    slow.assert_error(401, "unauthenticated");
    let left = t
        .app
        .auth()
        .sessions()
        .list(&UserId::new(alice), None)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
}
