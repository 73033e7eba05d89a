//! Password reset through the outbox: the message (CONTRACTS.md §1), the
//! same answer for any address (I5), links on the configured public URL
//! whatever the `Host` (I9), single use, refused passwords that keep the
//! token, and everything of the account revoked afterwards (I6).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

mod common;

use axum::http::StatusCode;
use common::{ADMIN, ALICE, BOB, NEW_PASSWORD, PASSWORD, PUBLIC_URL, Req, Res, TestApp};
use serde_json::json;

fn reset(email: &str) -> Req {
    Req::post("/auth/password-reset").json(json!({"email": email}))
}

fn confirm(token: &str, password: &str) -> Req {
    Req::post("/auth/password-reset/confirm")
        .json(json!({"token": token, "new_password": password}))
}

/// The token of a message, checking its shape on the way.
fn token_of(message: &str) -> String {
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[1], "Subject: Reset your password");
    assert_eq!(lines[2], "");
    let token = lines
        .iter()
        .find_map(|line| line.strip_prefix("token: "))
        .expect("a token line")
        .to_owned();
    assert!(token.starts_with("tsp_"), "{token}");
    assert!(
        lines.contains(&format!("or open {PUBLIC_URL}/reset?token={token}").as_str()),
        "{message}"
    );
    token
}

fn assert_sent(res: &Res) {
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.text(), r#"{"status":"sent"}"#);
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

/// I5: the same answer for an existing, an unknown and a disabled address;
/// one message for the first only.
#[tokio::test]
async fn i5_same_answer_for_every_address() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let bob = t.register(BOB).await;
    let admin = t.admin_token().await;
    t.send(
        Req::patch(&format!("/admin/users/{bob}"))
            .bearer(&admin)
            .json(json!({"active": false})),
    )
    .await;

    let known = t.send(reset(" Alice@Example.com ")).await;
    let unknown = t.send(reset("carol@example.com")).await;
    let disabled = t.send(reset(BOB)).await;
    let malformed = t.send(reset("")).await;
    assert_sent(&known);
    for other in [&unknown, &disabled, &malformed] {
        assert_eq!(other.status, known.status);
        assert_eq!(other.headers, known.headers);
        assert_eq!(other.body, known.body);
    }

    let messages = t.outbox_messages().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].starts_with(&format!("To: {ALICE}\n")));
    token_of(&messages[0]);
}

/// I9: a request naming another host still gets links on the public URL.
#[tokio::test]
async fn i9_links_use_the_configured_public_url() {
    let t = TestApp::with(|config| config.public_url("https://app.example.com")).await;
    t.register(ALICE).await;
    let res = t
        .send(
            reset(ALICE)
                .header("host", "evil.com")
                .header("x-forwarded-host", "evil.com")
                .header("forwarded", "host=evil.com")
                .origin("https://app.example.com"),
        )
        .await;
    assert_sent(&res);
    let messages = t.outbox_messages().await;
    assert_eq!(messages.len(), 1);
    assert!(!messages[0].contains("evil.com"));
    let token = messages[0]
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .unwrap();
    assert!(
        messages[0].contains(&format!(
            "or open https://app.example.com/reset?token={token}\n"
        )),
        "{}",
        messages[0]
    );
}

/// Confirmation: a refused password keeps the token; the reset revokes
/// every token, API key and session of the account (I6) and logs nobody in;
/// the token works once (I1).
#[tokio::test]
async fn i6_confirm_revokes_everything_and_logs_nobody_in() {
    let t = TestApp::new().await;
    let (_, access, refresh) = t.user(ALICE).await;
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;
    let (_, bob_access, _) = t.user(BOB).await;

    assert_sent(&t.send(reset(ALICE)).await);
    let token = token_of(&t.outbox_messages().await[0]);

    t.send(confirm(&token, "short"))
        .await
        .assert_error(422, "weak_password");
    let res = t.send(confirm(&token, NEW_PASSWORD)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert!(res.body.is_empty());
    assert!(res.set_cookies().is_empty());
    assert_eq!(res.header("cache-control"), Some("no-store"));

    t.send(confirm(&token, "another good password"))
        .await
        .assert_error(400, "invalid_token");
    t.send(Req::get("/me").bearer(&access))
        .await
        .assert_error(401, "invalid_token");
    t.send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .assert_error(401, "invalid_grant");
    t.send(Req::get("/notes").bearer(&api_key))
        .await
        .assert_error(401, "invalid_token");
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
    t.send(Req::post("/auth/login").json(json!({"email": ALICE, "password": PASSWORD})))
        .await
        .assert_error(401, "invalid_credentials");
    t.login(ALICE, NEW_PASSWORD).await;
    // Nobody else is touched.
    assert_eq!(
        t.send(Req::get("/me").bearer(&bob_access)).await.status,
        StatusCode::OK
    );
}

/// I3, I4: a token dies with a password change made since, and garbage or
/// tampered tokens are refused alike.
#[tokio::test]
async fn stale_and_forged_tokens_are_invalid() {
    let t = TestApp::new().await;
    let (_, access, _) = t.user(ALICE).await;
    t.register(BOB).await;
    t.send(reset(ALICE)).await;
    t.send(reset(BOB)).await;
    let messages = t.outbox_messages().await;
    assert_eq!(messages.len(), 2);
    let alice_token = token_of(
        messages
            .iter()
            .find(|m| m.starts_with("To: alice"))
            .unwrap(),
    );
    let bob_token = token_of(messages.iter().find(|m| m.starts_with("To: bob")).unwrap());

    let res = t
        .send(
            Req::post("/auth/password")
                .bearer(&access)
                .json(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    t.send(confirm(&alice_token, "yet another password"))
        .await
        .assert_error(400, "invalid_token");

    let mut tampered = bob_token.clone();
    tampered.pop();
    tampered.push(if bob_token.ends_with('A') { 'B' } else { 'A' });
    for token in ["", "tsp_", "nonsense", tampered.as_str(), access.as_str()] {
        t.send(confirm(token, "yet another password"))
            .await
            .assert_error(400, "invalid_token");
    }
    // Bob's own token still works.
    let res = t.send(confirm(&bob_token, NEW_PASSWORD)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    // The administrator was never mailed.
    assert!(!t.outbox_messages().await.iter().any(|m| m.contains(ADMIN)));
}
