//! The throttling table of CONTRACTS.md §1 over HTTP, on both starters:
//! B5–B7 and B19 at the account level (the generic 401, even for the right
//! password), B12 at the address level (429 with `Retry-After`), the
//! registration and reset limits, and an administrator's unlock. Each run
//! comes from its own address through the trusted proxy 127.0.0.1.

use serde_json::json;

use crate::{ADMIN, NEW_PASSWORD, PASSWORD, Req, Run};

const ALICE: &str = "alice@example.com";

fn login(email: &str, password: &str) -> Req {
    Req::post("/auth/login").json(json!({"email": email, "password": password}))
}

fn invalid_credentials() -> serde_json::Value {
    json!({"error": "invalid_credentials"})
}

/// After five failures the right password gets the same 401 as a wrong
/// one, by token, session and Basic alike; an administrator's `unlock`
/// lifts it.
pub async fn account_delay_and_unlock(run: &mut Run) {
    let alice = run.register(ALICE).await;
    let admin = run.login(ADMIN, PASSWORD).await.str("access_token");
    let mut wrong = None;
    for n in 1..=5 {
        let res = run
            .expect_json(
                &format!("failure {n}"),
                login(ALICE, "wrong password"),
                401,
                invalid_credentials(),
            )
            .await;
        wrong = Some(res);
    }
    let wrong = wrong.unwrap();
    let refused = run
        .expect_json(
            "B6 right password during the delay",
            login(ALICE, PASSWORD),
            401,
            invalid_credentials(),
        )
        .await;
    assert_eq!(refused.body, wrong.body);
    assert_eq!(
        refused.header("www-authenticate"),
        wrong.header("www-authenticate")
    );
    assert_eq!(
        refused.header("retry-after"),
        None,
        "the delay is not disclosed"
    );
    let origin = run.origin();
    run.expect_json(
        "session login during the delay",
        Req::post("/session/login")
            .header("origin", origin)
            .json(json!({"email": ALICE, "password": PASSWORD})),
        401,
        invalid_credentials(),
    )
    .await;
    let res = run
        .expect_json(
            "Basic during the delay",
            Req::get("/me").basic(ALICE, PASSWORD),
            401,
            invalid_credentials(),
        )
        .await;
    assert_eq!(
        res.header("www-authenticate"),
        Some("Basic realm=\"tessera\"")
    );
    run.expect_json(
        "unlock",
        Req::patch(&format!("/admin/users/{alice}"))
            .bearer(&admin)
            .json(json!({"unlock": true})),
        200,
        json!({"id": alice, "email": ALICE, "roles": ["user"], "active": true}),
    )
    .await;
    run.login(ALICE, PASSWORD).await;
}

/// B12: one address spraying one password over many accounts gets 429
/// with `Retry-After` after 50 failures; another address is not affected.
pub async fn address_limit_on_failed_logins(run: &mut Run) {
    for n in 0..50 {
        run.expect_json(
            &format!("spray {n}"),
            login(&format!("user{n}@example.com"), PASSWORD),
            401,
            invalid_credentials(),
        )
        .await;
    }
    let res = run
        .expect_json(
            "B12 the 51st failure",
            login("user50@example.com", PASSWORD),
            429,
            json!({"error": "too_many_requests"}),
        )
        .await;
    let retry_after: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    assert_eq!(res.header("cache-control"), Some("no-store"));
    run.expect_json(
        "Basic from the same address",
        Req::get("/me").basic("user51@example.com", PASSWORD),
        429,
        json!({"error": "too_many_requests"}),
    )
    .await;
    run.expect_json(
        "another address",
        login("user50@example.com", PASSWORD).header("x-forwarded-for", "198.19.0.1"),
        401,
        invalid_credentials(),
    )
    .await;
    run.expect(
        "a spoofed hop before the real one changes nothing",
        login("user50@example.com", PASSWORD).header(
            "x-forwarded-for",
            format!("198.19.0.2, {}", run.forwarded_for()),
        ),
        429,
    )
    .await;
}

/// Registration attempts and reset requests: 20 per hour per address.
pub async fn registration_and_reset_limits(run: &mut Run) {
    for n in 0..20 {
        run.expect(
            &format!("register {n}"),
            Req::post("/auth/register")
                .json(json!({"email": format!("user{n}@example.com"), "password": PASSWORD})),
            201,
        )
        .await;
    }
    run.expect_json(
        "the 21st registration",
        Req::post("/auth/register")
            .json(json!({"email": "user20@example.com", "password": PASSWORD})),
        429,
        json!({"error": "too_many_requests"}),
    )
    .await;
    for n in 0..20 {
        run.expect_json(
            &format!("reset {n}"),
            Req::post("/auth/password-reset").json(json!({"email": "user0@example.com"})),
            202,
            json!({"status": "sent"}),
        )
        .await;
    }
    run.expect_json(
        "the 21st reset request",
        Req::post("/auth/password-reset").json(json!({"email": "user0@example.com"})),
        429,
        json!({"error": "too_many_requests"}),
    )
    .await;
    let messages = run.outbox().await;
    assert_eq!(
        messages.len(),
        5,
        "{:?}: five messages an hour per account",
        run.starter
    );
    run.note("reset messages", json!(messages.len()));
    run.login("user0@example.com", PASSWORD).await;
}

/// B19: the current password of `/auth/password` is throttled like a
/// login, in its own bucket.
pub async fn step_up_is_throttled(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    let change = |current: &str| {
        Req::post("/auth/password")
            .bearer(&at)
            .json(json!({"current_password": current, "new_password": NEW_PASSWORD}))
    };
    for n in 1..=5 {
        run.expect_json(
            &format!("wrong current {n}"),
            change("wrong password"),
            401,
            invalid_credentials(),
        )
        .await;
    }
    run.expect_json(
        "B19 right password during the delay",
        change(PASSWORD),
        401,
        invalid_credentials(),
    )
    .await;
    run.login(ALICE, PASSWORD).await;
}
