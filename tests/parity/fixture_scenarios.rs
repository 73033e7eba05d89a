//! Scenarios on the adapters' fixture app (`fixture.rs`): J1 in browser
//! mode, J5, any-of and all-of, the fresh-login guard, the optional
//! identity, and a CSRF-exempt form.

use serde_json::json;

use crate::fixture::{ALICE, FORM, ROOT};
use crate::{COOKIE, PASSWORD, Req, Run};

fn html(path: &str) -> Req {
    Req::get(path).header("accept", "text/html,application/xhtml+xml")
}

/// J1 in browser mode: an HTML request without credentials goes to the
/// login page with a validated `next`; an API request, or one with bad
/// credentials, gets its 401.
pub async fn browser_mode(run: &mut Run) {
    let res = run.expect("J1 HTML", html("/who?tab=a%20b"), 303).await;
    assert_eq!(
        res.header("location"),
        Some("/login?next=/who%3Ftab%3Da%2520b")
    );
    run.expect_json(
        "J1 API",
        Req::get("/who"),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
    run.expect("J1 HTML behind a guard", html("/either"), 303)
        .await;
    run.expect(
        "an ended session redirects",
        html("/who").header("cookie", format!("{COOKIE}=gone")),
        303,
    )
    .await;
    run.expect_json(
        "a bad token never does",
        html("/who").bearer("not-a-token"),
        401,
        json!({"error": "invalid_token"}),
    )
    .await;
}

/// any-of, all-of, and J5: an empty requirement denies everyone.
pub async fn guard_combinations(run: &mut Run) {
    let key = run.api_key();
    run.expect(
        "any-of by scope",
        Req::get("/either").basic(ALICE, PASSWORD),
        200,
    )
    .await;
    run.expect(
        "any-of by role",
        Req::get("/either").basic(ROOT, PASSWORD),
        200,
    )
    .await;
    run.expect_json(
        "any-of, neither",
        Req::get("/either").bearer(&key),
        403,
        json!({"error": "forbidden", "missing_role": "admin"}),
    )
    .await;
    run.expect_json(
        "all-of, a part missing",
        Req::get("/both").basic(ALICE, PASSWORD),
        403,
        json!({"error": "forbidden", "missing_role": "admin"}),
    )
    .await;
    run.expect("all-of", Req::get("/both").basic(ROOT, PASSWORD), 200)
        .await;
    run.expect_json(
        "J5 empty requirement",
        Req::get("/none").basic(ROOT, PASSWORD),
        403,
        json!({"error": "forbidden"}),
    )
    .await;
    run.expect_json(
        "J5 without credentials",
        Req::get("/none"),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
    run.expect(
        "guard as extractor",
        Req::get("/guarded").basic(ALICE, PASSWORD),
        200,
    )
    .await;
    run.expect_json(
        "guard as extractor, scope missing",
        Req::get("/guarded").bearer(&key),
        403,
        json!({"error": "insufficient_scope", "missing_scope": "notes:write"}),
    )
    .await;
}

/// The fresh-login guard: Basic carries the password, an API key never is
/// fresh.
pub async fn fresh_login(run: &mut Run) {
    let key = run.api_key();
    run.expect_json(
        "Basic is fresh",
        Req::get("/fresh").basic(ALICE, PASSWORD),
        200,
        json!({
            "method": "Basic",
            "fresh": true,
            "roles": ["user"],
            "scopes": ["notes:read", "notes:write"],
        }),
    )
    .await;
    run.expect_json(
        "an API key is not",
        Req::get("/fresh").bearer(&key),
        401,
        json!({"error": "fresh_login_required"}),
    )
    .await;
}

/// The optional identity: anonymous without credentials, refused with bad
/// ones (axum's `Option<Authenticated>`, actix's `MaybeAuthenticated`).
pub async fn optional_identity(run: &mut Run) {
    let key = run.api_key();
    run.expect_json("anonymous", Req::get("/maybe"), 200, json!("anonymous"))
        .await;
    run.expect_json(
        "with a key",
        Req::get("/maybe").bearer(&key),
        200,
        json!({
            "method": "ApiKey",
            "fresh": false,
            "roles": ["user"],
            "scopes": ["notes:read"],
        }),
    )
    .await;
    run.expect_json(
        "a bad token is not anonymous",
        Req::get("/maybe").bearer("not-a-token"),
        401,
        json!({"error": "invalid_token"}),
    )
    .await;
    run.expect_json(
        "malformed",
        Req::get("/maybe").header("authorization", "Bearer "),
        400,
        json!({"error": "invalid_request"}),
    )
    .await;
    run.expect_json(
        "an ended session",
        Req::get("/maybe").header("cookie", format!("{COOKIE}=gone")),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
}

/// A CSRF-exempt form needs no token but keeps the provenance check. (Other
/// spellings of its path are the adapters' own business: axum routes none,
/// actix routes decoded ones; `tessera-actix`'s adapter tests cover those.)
pub async fn exempt_form(run: &mut Run) {
    run.expect_json(
        "no browser headers",
        Req::post(FORM),
        200,
        json!({"form": "ok"}),
    )
    .await;
    let origin = run.origin();
    run.expect("our origin", Req::post(FORM).header("origin", origin), 200)
        .await;
    run.expect_json(
        "another origin",
        Req::post(FORM).header("origin", "https://evil.example"),
        403,
        json!({"error": "csrf_failed"}),
    )
    .await;
    run.expect_json(
        "cross-site",
        Req::post(FORM).header("sec-fetch-site", "cross-site"),
        403,
        json!({"error": "csrf_failed"}),
    )
    .await;
}

/// B13: without a trusted proxy, `X-Forwarded-For` is ignored: rotating it
/// does not escape the address limit on failed Basic attempts (50 per 5
/// minutes from 127.0.0.1), and the 51st gets 429.
pub async fn forwarded_for_ignored_without_a_trusted_proxy(run: &mut Run) {
    for n in 0..50 {
        run.expect_json(
            &format!("failure {n}"),
            Req::get("/who")
                .basic(&format!("user{n}@example.com"), PASSWORD)
                .header("x-forwarded-for", format!("198.51.100.{n}")),
            401,
            json!({"error": "invalid_credentials"}),
        )
        .await;
    }
    let res = run
        .expect_json(
            "B13 rotating the header changes nothing",
            Req::get("/who")
                .basic("user50@example.com", PASSWORD)
                .header("x-forwarded-for", "198.51.100.250"),
            429,
            json!({"error": "too_many_requests"}),
        )
        .await;
    assert!(res.header("retry-after").is_some());
}
