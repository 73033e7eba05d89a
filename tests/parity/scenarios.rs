//! The scenarios: every row of the contract tables of CONTRACTS.md §1, and
//! cases G1–G3, J1, J2, J4, C1, C5, C8, D1, D2, D4–D7, D10, H1–H3, I1 and
//! I5 of SECURITY-CASES.md over HTTP. Each asserts the contract; `main.rs`
//! compares what both starters answered.

use serde_json::json;
use tokio::task::JoinSet;

use crate::{ADMIN, COOKIE, NEW_PASSWORD, PASSWORD, Req, Run};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const BEARER: &str = "Bearer realm=\"tessera\"";

fn invalid_request() -> serde_json::Value {
    json!({"error": "invalid_request"})
}

/// `GET /health`, the key set, unknown paths and methods; which responses
/// may be cached.
pub async fn health_jwks_and_fallbacks(run: &mut Run) {
    let res = run
        .expect_json("health", Req::get("/health"), 200, json!({"status": "ok"}))
        .await;
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let res = run
        .expect("jwks", Req::get("/.well-known/jwks.json"), 200)
        .await;
    assert_eq!(res.json()["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        res.header("cache-control"),
        None,
        "the key set may be cached"
    );
    run.expect_json(
        "unknown path",
        Req::get("/nope"),
        404,
        json!({"error": "not_found"}),
    )
    .await;
    run.expect_json(
        "below a route",
        Req::get("/health/x"),
        404,
        json!({"error": "not_found"}),
    )
    .await;
    let res = run
        .expect_json(
            "wrong method",
            Req::delete("/health"),
            405,
            json!({"error": "method_not_allowed"}),
        )
        .await;
    assert_eq!(res.header("cache-control"), Some("no-store"));
    run.expect("wrong method on a protected route", Req::post("/me"), 405)
        .await;
    run.expect("HEAD of a GET route", Req::new("HEAD", "/health"), 200)
        .await;
}

/// Every request body is JSON; anything else is 400 `invalid_request` on
/// every route, whatever the framework's default.
pub async fn request_bodies(run: &mut Run) {
    let body = r#"{"email":"alice@example.com","password":"correct horse battery"}"#;
    let cases = [
        ("text/plain", body.to_owned()),
        (
            "application/x-www-form-urlencoded",
            "email=a&password=b".to_owned(),
        ),
        ("application/json", "{not json".to_owned()),
        ("application/json", String::new()),
        (
            "application/json",
            r#"{"email":"alice@example.com"}"#.to_owned(),
        ),
        (
            "application/json",
            r#"{"email":5,"password":"correct horse battery"}"#.to_owned(),
        ),
        ("application/json", format!("{body} trailing")),
        (
            "application/json",
            format!(r#"{{"email":"a@b","password":"{}"}}"#, "x".repeat(70_000)),
        ),
    ];
    for (i, (content_type, body)) in cases.into_iter().enumerate() {
        run.expect_json(
            &format!("register body {i}"),
            Req::post("/auth/register").raw(content_type, body),
            400,
            invalid_request(),
        )
        .await;
    }
    run.expect_json(
        "no content type",
        Req::post("/auth/register").header("x-nothing", "1"),
        400,
        invalid_request(),
    )
    .await;
    for path in [
        "/auth/login",
        "/auth/refresh",
        "/auth/password-reset",
        "/session/login",
    ] {
        run.expect_json(
            &format!("{path} empty object"),
            Req::post(path).json(json!({})),
            400,
            invalid_request(),
        )
        .await;
    }
    run.expect(
        "charset parameter",
        Req::post("/auth/register").raw("application/json; charset=utf-8", body),
        201,
    )
    .await;
}

/// `POST /auth/register`: 201, 400, 422, 409.
pub async fn registration(run: &mut Run) {
    let res = run
        .expect(
            "register",
            Req::post("/auth/register").json(json!({"email": ALICE, "password": PASSWORD})),
            201,
        )
        .await;
    let body = res.json();
    assert_eq!(body["email"], ALICE);
    assert_eq!(body["roles"], json!(["user"]));
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    for (label, password) in [
        ("too short", "short".to_owned()),
        ("too long", "x".repeat(129)),
    ] {
        run.expect_json(
            label,
            Req::post("/auth/register").json(json!({"email": BOB, "password": password})),
            422,
            json!({"error": "weak_password"}),
        )
        .await;
    }
    run.expect_json(
        "taken, other case and spaces",
        Req::post("/auth/register")
            .json(json!({"email": "  Alice@Example.COM ", "password": PASSWORD})),
        409,
        json!({"error": "email_taken"}),
    )
    .await;
    run.expect_json(
        "not an address",
        Req::post("/auth/register").json(json!({"email": "no-at-sign", "password": PASSWORD})),
        400,
        invalid_request(),
    )
    .await;
}

/// `POST /auth/login`: the token shape, scopes, and one answer for every
/// failed login.
pub async fn token_login(run: &mut Run) {
    let alice = run.register(ALICE).await;
    let res = run.login(ALICE, PASSWORD).await;
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "notes:read notes:write");
    assert!(body.get("csrf_token").is_none());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let res = run
        .expect(
            "narrowed scope",
            Req::post("/auth/login")
                .json(json!({"email": ALICE, "password": PASSWORD, "scope": "notes:read"})),
            200,
        )
        .await;
    assert_eq!(res.json()["scope"], "notes:read");
    run.expect_json(
        "scope the roles do not allow",
        Req::post("/auth/login")
            .json(json!({"email": ALICE, "password": PASSWORD, "scope": "admin:users"})),
        400,
        json!({"error": "invalid_scope"}),
    )
    .await;
    let wrong = run
        .expect_json(
            "wrong password",
            Req::post("/auth/login").json(json!({"email": ALICE, "password": "wrong password"})),
            401,
            json!({"error": "invalid_credentials"}),
        )
        .await;
    let unknown = run
        .expect(
            "unknown email",
            Req::post("/auth/login").json(json!({"email": BOB, "password": PASSWORD})),
            401,
        )
        .await;
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        wrong.header("www-authenticate"),
        unknown.header("www-authenticate")
    );
    let admin = run.login(ADMIN, PASSWORD).await.str("access_token");
    run.expect(
        "deactivate",
        Req::patch(&format!("/admin/users/{alice}"))
            .bearer(&admin)
            .json(json!({"active": false})),
        200,
    )
    .await;
    let disabled = run
        .expect(
            "disabled account",
            Req::post("/auth/login").json(json!({"email": ALICE, "password": PASSWORD})),
            401,
        )
        .await;
    assert_eq!(disabled.body, wrong.body);
}

/// H1, H2: a refresh rotates; presenting a used-up token revokes the whole
/// family, the newest tokens included.
pub async fn refresh_rotation_and_reuse(run: &mut Run) {
    let (_, _, rt1) = run.user(ALICE).await;
    let res = run
        .expect(
            "H1 refresh",
            Req::post("/auth/refresh").json(json!({"refresh_token": rt1})),
            200,
        )
        .await;
    let (at2, rt2) = (res.str("access_token"), res.str("refresh_token"));
    assert_ne!(rt1, rt2);
    assert_eq!(res.json()["scope"], "notes:read notes:write");
    run.expect("H1 new access token", Req::get("/me").bearer(&at2), 200)
        .await;
    run.expect_json(
        "H2 reuse",
        Req::post("/auth/refresh").json(json!({"refresh_token": rt1})),
        401,
        json!({"error": "invalid_grant"}),
    )
    .await;
    run.expect_json(
        "H2 successor revoked",
        Req::post("/auth/refresh").json(json!({"refresh_token": rt2})),
        401,
        json!({"error": "invalid_grant"}),
    )
    .await;
    let res = run
        .expect_json(
            "H2 access token revoked",
            Req::get("/me").bearer(&at2),
            401,
            json!({"error": "invalid_token"}),
        )
        .await;
    assert_eq!(
        res.header("www-authenticate"),
        Some("Bearer realm=\"tessera\", error=\"invalid_token\"")
    );
    run.expect_json(
        "unknown refresh token",
        Req::post("/auth/refresh").json(json!({"refresh_token": "tsr_unknown"})),
        401,
        json!({"error": "invalid_grant"}),
    )
    .await;
}

/// H3: 32 concurrent refreshes with one token: exactly one wins, and the
/// losers' reuse revokes the family.
pub async fn concurrent_refresh(run: &mut Run) {
    let (_, _, rt1) = run.user(ALICE).await;
    let addr = run.addr();
    let request = Req::post("/auth/refresh").json(json!({"refresh_token": rt1}));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = JoinSet::new();
    for _ in 0..32 {
        let (request, barrier) = (request.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            crate::http::send(addr, &request).await
        });
    }
    let mut winners = Vec::new();
    let mut losers = 0;
    while let Some(res) = tasks.join_next().await {
        let res = res.unwrap();
        match res.status {
            200 => winners.push(res.str("refresh_token")),
            401 => {
                assert_eq!(res.json(), json!({"error": "invalid_grant"}));
                losers += 1;
            }
            other => panic!("{:?}: H3 answered {other}: {}", run.starter, res.text()),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "{:?}: exactly one refresh wins",
        run.starter
    );
    run.note(
        "H3 outcome",
        json!({"winners": winners.len(), "losers": losers}),
    );
    run.expect_json(
        "H3 no successor stays live",
        Req::post("/auth/refresh").json(json!({"refresh_token": winners[0]})),
        401,
        json!({"error": "invalid_grant"}),
    )
    .await;
}

/// `POST /auth/logout` ends what the caller authenticated with;
/// `POST /auth/logout-all` ends everything but API keys.
pub async fn logout_and_logout_all(run: &mut Run) {
    let (_, at_a, rt_a) = run.user(ALICE).await;
    let second = run.login(ALICE, PASSWORD).await;
    let (at_b, rt_b) = (second.str("access_token"), second.str("refresh_token"));
    run.expect_json(
        "logout without credentials",
        Req::post("/auth/logout"),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
    let res = run
        .expect("logout", Req::post("/auth/logout").bearer(&at_a), 204)
        .await;
    assert!(
        res.all("set-cookie").is_empty(),
        "a token logout sets no cookie"
    );
    run.expect("logged-out token", Req::get("/me").bearer(&at_a), 401)
        .await;
    run.expect(
        "logged-out family",
        Req::post("/auth/refresh").json(json!({"refresh_token": rt_a})),
        401,
    )
    .await;
    run.expect("other login untouched", Req::get("/me").bearer(&at_b), 200)
        .await;
    let key = run
        .expect(
            "an API key",
            Req::post("/auth/api-keys")
                .bearer(&at_b)
                .json(json!({"name": "ci", "scopes": ["notes:read"]})),
            201,
        )
        .await
        .str("api_key");
    run.expect(
        "logout with an API key",
        Req::post("/auth/logout").bearer(&key),
        204,
    )
    .await;
    run.expect("the key still works", Req::get("/me").bearer(&key), 200)
        .await;
    // A session logout through /auth/logout: a cookie write, so CSRF.
    let (cookie, csrf) = run.session(ALICE).await;
    run.expect_json(
        "session logout without the token",
        Req::post("/auth/logout").cookie(&cookie),
        403,
        json!({"error": "csrf_failed"}),
    )
    .await;
    let res = run
        .expect(
            "session logout",
            Req::post("/auth/logout").cookie(&cookie).csrf(&csrf),
            204,
        )
        .await;
    assert_eq!(
        res.session_cookie().as_deref(),
        Some(""),
        "the cookie is cleared"
    );
    run.expect("ended session", Req::get("/me").cookie(&cookie), 401)
        .await;
    let (cookie, _) = run.session(ALICE).await;
    run.expect(
        "logout-all",
        Req::post("/auth/logout-all").bearer(&at_b),
        204,
    )
    .await;
    run.expect("token after logout-all", Req::get("/me").bearer(&at_b), 401)
        .await;
    run.expect(
        "refresh after logout-all",
        Req::post("/auth/refresh").json(json!({"refresh_token": rt_b})),
        401,
    )
    .await;
    run.expect(
        "session after logout-all",
        Req::get("/me").cookie(&cookie),
        401,
    )
    .await;
    run.expect("API keys stay", Req::get("/me").bearer(&key), 200)
        .await;
    let (cookie, csrf) = run.session(ALICE).await;
    let res = run
        .expect(
            "logout-all by session",
            Req::post("/auth/logout-all").cookie(&cookie).csrf(&csrf),
            204,
        )
        .await;
    assert_eq!(
        res.session_cookie().as_deref(),
        Some(""),
        "the cookie is cleared"
    );
    run.expect("the session is gone", Req::get("/me").cookie(&cookie), 401)
        .await;
}

/// `GET /me` with each kind of credentials: one identity.
pub async fn me_with_every_credential(run: &mut Run) {
    let (id, at, _) = run.user(ALICE).await;
    let expected = json!({
        "id": id,
        "email": ALICE,
        "roles": ["user"],
        "scopes": ["notes:read", "notes:write"],
    });
    run.expect_json("JWT", Req::get("/me").bearer(&at), 200, expected.clone())
        .await;
    run.expect_json(
        "Basic",
        Req::get("/me").basic(ALICE, PASSWORD),
        200,
        expected.clone(),
    )
    .await;
    let (cookie, _) = run.session(ALICE).await;
    run.expect_json("session", Req::get("/me").cookie(&cookie), 200, expected)
        .await;
    let key = run
        .expect(
            "API key",
            Req::post("/auth/api-keys")
                .bearer(&at)
                .json(json!({"name": "ro", "scopes": ["notes:read"]})),
            201,
        )
        .await
        .str("api_key");
    run.expect_json(
        "me by API key",
        Req::get("/me").bearer(&key),
        200,
        json!({"id": id, "email": ALICE, "roles": ["user"], "scopes": ["notes:read"]}),
    )
    .await;
}

/// The rejection table, row by row, on protected routes; J1, J2.
pub async fn rejection_table(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    let res = run
        .expect_json(
            "J1 no credentials",
            Req::get("/notes"),
            401,
            json!({"error": "unauthenticated"}),
        )
        .await;
    assert_eq!(res.header("www-authenticate"), Some(BEARER));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let res = run
        .expect_json(
            "malformed Authorization",
            Req::get("/me").header("authorization", "Token abc"),
            400,
            invalid_request(),
        )
        .await;
    assert_eq!(
        res.header("www-authenticate"),
        Some("Bearer realm=\"tessera\", error=\"invalid_request\"")
    );
    run.expect_json(
        "bad token",
        Req::get("/me").bearer("not-a-token"),
        401,
        json!({"error": "invalid_token"}),
    )
    .await;
    let res = run
        .expect_json(
            "wrong Basic",
            Req::get("/me").basic(ALICE, "wrong password"),
            401,
            json!({"error": "invalid_credentials"}),
        )
        .await;
    assert_eq!(
        res.header("www-authenticate"),
        Some("Basic realm=\"tessera\"")
    );
    let res = run
        .expect_json(
            "bad session cookie",
            Req::get("/me").cookie("not-a-session"),
            401,
            json!({"error": "unauthenticated"}),
        )
        .await;
    assert_eq!(res.header("www-authenticate"), None);
    let key = run
        .expect(
            "read-only key",
            Req::post("/auth/api-keys")
                .bearer(&at)
                .json(json!({"name": "ro", "scopes": ["notes:read"]})),
            201,
        )
        .await
        .str("api_key");
    let res = run
        .expect_json(
            "missing scope",
            Req::post("/notes").bearer(&key).json(json!({"text": "hi"})),
            403,
            json!({"error": "insufficient_scope", "missing_scope": "notes:write"}),
        )
        .await;
    assert_eq!(
        res.header("www-authenticate"),
        Some("Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"notes:write\"")
    );
    let res = run
        .expect_json(
            "J2 missing role",
            Req::get("/admin/users").bearer(&at),
            403,
            json!({"error": "forbidden", "missing_role": "admin"}),
        )
        .await;
    assert_eq!(res.header("www-authenticate"), None);
    run.expect(
        "a bad bearer on a public route is not looked at",
        Req::get("/health").bearer("not-a-token"),
        200,
    )
    .await;
}

/// G1–G3: the `Authorization` grammar; tokens in the query are ignored.
pub async fn authorization_header_grammar(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    for (label, value) in [
        ("G1 empty bearer", "Bearer".to_owned()),
        ("G1 bearer and a space", "Bearer ".to_owned()),
        ("G1 not a token68", format!("Bearer {at} extra")),
        ("unknown scheme", format!("Token {at}")),
        ("Basic not base64", "Basic !!!".to_owned()),
        ("Basic without colon", "Basic YWxpY2U=".to_owned()),
    ] {
        run.expect_json(
            label,
            Req::get("/me").header("authorization", value),
            400,
            invalid_request(),
        )
        .await;
    }
    run.expect(
        "G1 two spaces",
        Req::get("/me").header("authorization", format!("Bearer  {at}")),
        200,
    )
    .await;
    run.expect(
        "G1 lower-case scheme",
        Req::get("/me").header("authorization", format!("bearer {at}")),
        200,
    )
    .await;
    run.expect_json(
        "G2 two Authorization headers",
        Req::get("/me").bearer(&at).bearer(&at),
        400,
        invalid_request(),
    )
    .await;
    run.expect_json(
        "G3 token in the query",
        Req::get(&format!("/me?access_token={at}")),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
    let (cookie, _) = run.session(ALICE).await;
    run.expect(
        "session id in the query",
        Req::get(&format!("/me?{COOKIE}={cookie}")),
        401,
    )
    .await;
    run.expect_json(
        "Authorization alone decides",
        Req::get("/me").bearer("not-a-token").cookie(&cookie),
        401,
        json!({"error": "invalid_token"}),
    )
    .await;
}

/// A store that cannot answer: 503 with `Retry-After`.
pub async fn store_unavailable(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    run.fail_store(true);
    let res = run
        .expect_json(
            "store down",
            Req::get("/me").bearer(&at),
            503,
            json!({"error": "temporarily_unavailable"}),
        )
        .await;
    assert_eq!(res.header("retry-after"), Some("5"));
    // K7: the throttle store is down too: logins fail closed, never
    // counted afresh.
    run.expect_json(
        "K7 login with the throttle store down",
        Req::post("/auth/login").json(json!({"email": ALICE, "password": PASSWORD})),
        503,
        json!({"error": "temporarily_unavailable"}),
    )
    .await;
    run.fail_store(false);
    run.expect("store back", Req::get("/me").bearer(&at), 200)
        .await;
}

/// `POST /auth/password`: fresh only; revokes everything earlier but keeps
/// a session caller's (rotated) session.
pub async fn password_change(run: &mut Run) {
    let (_, at, rt) = run.user(ALICE).await;
    let refreshed = run
        .expect(
            "refresh",
            Req::post("/auth/refresh").json(json!({"refresh_token": rt})),
            200,
        )
        .await;
    let (stale_at, rt2) = (
        refreshed.str("access_token"),
        refreshed.str("refresh_token"),
    );
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    run.expect_json(
        "refreshed token is not fresh",
        Req::post("/auth/password")
            .bearer(&stale_at)
            .json(change(PASSWORD, NEW_PASSWORD)),
        401,
        json!({"error": "fresh_login_required"}),
    )
    .await;
    let fresh_at = run.login(ALICE, PASSWORD).await.str("access_token");
    run.expect_json(
        "wrong current password",
        Req::post("/auth/password")
            .bearer(&fresh_at)
            .json(change("wrong password", NEW_PASSWORD)),
        401,
        json!({"error": "invalid_credentials"}),
    )
    .await;
    run.expect_json(
        "weak new password",
        Req::post("/auth/password")
            .bearer(&fresh_at)
            .json(change(PASSWORD, "short")),
        422,
        json!({"error": "weak_password"}),
    )
    .await;
    let (cookie, _) = run.session(ALICE).await;
    let res = run
        .expect(
            "change by token",
            Req::post("/auth/password")
                .bearer(&fresh_at)
                .json(change(PASSWORD, NEW_PASSWORD)),
            200,
        )
        .await;
    assert_eq!(res.json()["token_type"], "Bearer");
    assert!(res.json().get("csrf_token").is_none());
    let new_at = res.str("access_token");
    for (label, request) in [
        ("old token", Req::get("/me").bearer(&at)),
        ("changing token", Req::get("/me").bearer(&fresh_at)),
        ("old session", Req::get("/me").cookie(&cookie)),
    ] {
        run.expect(label, request, 401).await;
    }
    run.expect(
        "old refresh token",
        Req::post("/auth/refresh").json(json!({"refresh_token": rt2})),
        401,
    )
    .await;
    run.expect("new token", Req::get("/me").bearer(&new_at), 200)
        .await;
    // A session caller keeps its session, under a new id.
    let (cookie, csrf) = run.session_with(ALICE, NEW_PASSWORD).await;
    let res = run
        .expect(
            "change by session",
            Req::post("/auth/password")
                .cookie(&cookie)
                .csrf(&csrf)
                .header("origin", run.origin())
                .json(change(NEW_PASSWORD, PASSWORD)),
            200,
        )
        .await;
    assert!(res.json()["csrf_token"].is_string());
    let rotated = res.session_cookie().expect("the rotated session cookie");
    assert_ne!(rotated, cookie);
    run.expect("old session id", Req::get("/me").cookie(&cookie), 401)
        .await;
    run.expect("rotated session", Req::get("/me").cookie(&rotated), 200)
        .await;
}

/// `POST /auth/api-keys` and `DELETE /auth/api-keys/{id}`.
pub async fn api_keys(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    let (_, bob_at, _) = run.user(BOB).await;
    let res = run
        .expect(
            "create",
            Req::post("/auth/api-keys")
                .bearer(&at)
                .json(json!({"name": "ci", "scopes": ["notes:read"]})),
            201,
        )
        .await;
    let (id, key) = (res.str("id"), res.str("api_key"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    run.expect_json(
        "a scope the roles do not allow",
        Req::post("/auth/api-keys")
            .bearer(&at)
            .json(json!({"name": "x", "scopes": ["admin:users"]})),
        403,
        json!({"error": "forbidden"}),
    )
    .await;
    run.expect_json(
        "a key is never fresh",
        Req::post("/auth/api-keys")
            .bearer(&key)
            .json(json!({"name": "x", "scopes": ["notes:read"]})),
        401,
        json!({"error": "fresh_login_required"}),
    )
    .await;
    run.expect("use the key", Req::get("/notes").bearer(&key), 200)
        .await;
    run.expect_json(
        "someone else's key",
        Req::delete(&format!("/auth/api-keys/{id}")).bearer(&bob_at),
        404,
        json!({"error": "not_found"}),
    )
    .await;
    run.expect_json(
        "unknown id",
        Req::delete("/auth/api-keys/nope").bearer(&at),
        404,
        json!({"error": "not_found"}),
    )
    .await;
    run.expect_json(
        "unparsable id",
        Req::delete("/auth/api-keys/%FF%FE").bearer(&at),
        404,
        json!({"error": "not_found"}),
    )
    .await;
    run.expect(
        "delete",
        Req::delete(&format!("/auth/api-keys/{id}")).bearer(&at),
        204,
    )
    .await;
    run.expect_json(
        "deleted key",
        Req::get("/notes").bearer(&key),
        401,
        json!({"error": "invalid_token"}),
    )
    .await;
}

/// `GET /notes` and `POST /notes` under their scopes; J4.
pub async fn notes_and_scopes(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    let (_, bob_at, _) = run.user(BOB).await;
    let res = run
        .expect(
            "create",
            Req::post("/notes")
                .bearer(&at)
                .json(json!({"text": "hello"})),
            201,
        )
        .await;
    assert_eq!(res.json()["text"], "hello");
    let list = run
        .expect("list", Req::get("/notes").bearer(&at), 200)
        .await;
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));
    run.expect_json(
        "someone else's",
        Req::get("/notes").bearer(&bob_at),
        200,
        json!([]),
    )
    .await;
    run.expect_json(
        "no text",
        Req::post("/notes").bearer(&at).json(json!({})),
        400,
        invalid_request(),
    )
    .await;
    let read_only = run
        .expect(
            "read-only login",
            Req::post("/auth/login")
                .json(json!({"email": ALICE, "password": PASSWORD, "scope": "notes:read"})),
            200,
        )
        .await
        .str("access_token");
    run.expect_json(
        "J4 read is not write",
        Req::post("/notes")
            .bearer(&read_only)
            .json(json!({"text": "x"})),
        403,
        json!({"error": "insufficient_scope", "missing_scope": "notes:write"}),
    )
    .await;
    run.expect(
        "read-only may read",
        Req::get("/notes").bearer(&read_only),
        200,
    )
    .await;
}

/// `GET /admin/users` and `PATCH /admin/users/{id}`; J4 for roles.
pub async fn admin_and_roles(run: &mut Run) {
    let alice = run.register(ALICE).await;
    let alice_at = run.login(ALICE, PASSWORD).await.str("access_token");
    let admin = run.login(ADMIN, PASSWORD).await.str("access_token");
    let res = run
        .expect_unordered("list", Req::get("/admin/users").bearer(&admin), 200)
        .await;
    let users = res.json();
    assert_eq!(users.as_array().map(Vec::len), Some(2));
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == ALICE && u["roles"] == json!(["user"]) && u["active"] == true)
    );
    let patch = |body| {
        Req::patch(&format!("/admin/users/{alice}"))
            .bearer(&admin)
            .json(body)
    };
    run.expect_json(
        "J4 Admin is not admin",
        patch(json!({"roles": ["Admin", "user"]})),
        200,
        json!({"id": alice, "email": ALICE, "roles": ["Admin", "user"], "active": true}),
    )
    .await;
    run.expect(
        "J4 case-sensitive role",
        Req::get("/admin/users").basic(ALICE, PASSWORD),
        403,
    )
    .await;
    run.expect(
        "grant admin",
        patch(json!({"roles": ["admin", "user"]})),
        200,
    )
    .await;
    run.expect_unordered(
        "a session or Basic sees the new role at once",
        Req::get("/admin/users").basic(ALICE, PASSWORD),
        200,
    )
    .await;
    run.expect(
        "a JWT keeps its roles until refreshed",
        Req::get("/admin/users").bearer(&alice_at),
        403,
    )
    .await;
    run.expect_json(
        "empty patch",
        patch(json!({"unlock": true})),
        200,
        json!({"id": alice, "email": ALICE, "roles": ["admin", "user"], "active": true}),
    )
    .await;
    run.expect_json(
        "bad patch",
        patch(json!({"active": "no"})),
        400,
        invalid_request(),
    )
    .await;
    let (cookie, _) = run.session(ALICE).await;
    let key = run
        .expect(
            "an API key before deactivation",
            Req::post("/auth/api-keys")
                .bearer(&alice_at)
                .json(json!({"name": "ci", "scopes": ["notes:read"]})),
            201,
        )
        .await
        .str("api_key");
    run.expect("deactivate", patch(json!({"active": false})), 200)
        .await;
    run.expect("deactivated session", Req::get("/me").cookie(&cookie), 401)
        .await;
    run.expect("deactivated key", Req::get("/me").bearer(&key), 401)
        .await;
    run.expect("deactivated token", Req::get("/me").bearer(&alice_at), 401)
        .await;
    run.expect(
        "deactivated Basic",
        Req::get("/me").basic(ALICE, PASSWORD),
        401,
    )
    .await;
    for (label, path) in [
        ("unknown id", "/admin/users/nope"),
        ("unparsable id", "/admin/users/%FF"),
    ] {
        run.expect_json(
            label,
            Req::patch(path)
                .bearer(&admin)
                .json(json!({"active": true})),
            404,
            json!({"error": "not_found"}),
        )
        .await;
    }
}

/// C5: the session cookie's attributes; C1: a login replaces a presented
/// session id.
pub async fn session_cookie_and_fixation(run: &mut Run) {
    run.register(ALICE).await;
    let (s0, _) = run.session(ALICE).await;
    let res = run
        .expect(
            "C5 cookie",
            Req::post("/session/login")
                .header("origin", run.origin())
                .json(json!({"email": ALICE, "password": PASSWORD})),
            200,
        )
        .await;
    let cookie = res.all("set-cookie")[0].to_owned();
    assert!(cookie.starts_with(&format!("{COOKIE}=")), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').skip(1).map(str::trim).collect();
    for wanted in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} in {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
    assert!(
        !cookie.contains("Max-Age"),
        "a browser-session cookie: {cookie}"
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let res = run
        .expect(
            "remember me",
            Req::post("/session/login")
                .header("origin", run.origin())
                .json(json!({"email": ALICE, "password": PASSWORD, "remember": true})),
            200,
        )
        .await;
    assert!(res.all("set-cookie")[0].contains("Max-Age=2592000"));
    let res = run
        .expect(
            "C1 login over a session",
            Req::post("/session/login")
                .header("origin", run.origin())
                .cookie(&s0)
                .json(json!({"email": ALICE, "password": PASSWORD})),
            200,
        )
        .await;
    let s1 = res.session_cookie().expect("a new session cookie");
    assert_ne!(s0, s1);
    run.expect_json(
        "C1 the old id is dead",
        Req::get("/me").cookie(&s0),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
    run.expect("C1 the new id works", Req::get("/me").cookie(&s1), 200)
        .await;
    run.expect_json(
        "wrong password",
        Req::post("/session/login")
            .header("origin", run.origin())
            .json(json!({"email": ALICE, "password": "wrong password"})),
        401,
        json!({"error": "invalid_credentials"}),
    )
    .await;
}

/// D1, D2, D4, D10: cookie writes need the session's CSRF token; bearer
/// writes do not.
pub async fn session_csrf(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    run.register(BOB).await;
    let (cookie, csrf) = run.session(ALICE).await;
    let (_, bob_csrf) = run.session(BOB).await;
    let res = run
        .expect("csrf token", Req::get("/session/csrf").cookie(&cookie), 200)
        .await;
    assert!(res.json()["csrf_token"].is_string());
    run.expect_json(
        "csrf without a session",
        Req::get("/session/csrf"),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
    let note = json!({"text": "x"});
    run.expect_json(
        "D1 no token",
        Req::post("/notes").cookie(&cookie).json(note.clone()),
        403,
        json!({"error": "csrf_failed"}),
    )
    .await;
    run.expect_json(
        "D2 another session's token",
        Req::post("/notes")
            .cookie(&cookie)
            .csrf(&bob_csrf)
            .json(note.clone()),
        403,
        json!({"error": "csrf_failed"}),
    )
    .await;
    for method in ["post", "TrAcE", "get", "INVALID", "DELETE", "PATCH"] {
        run.expect_json(
            &format!("D4 {method}"),
            Req::new(method, "/notes")
                .cookie(&cookie)
                .json(note.clone()),
            403,
            json!({"error": "csrf_failed"}),
        )
        .await;
    }
    run.expect(
        "with the token",
        Req::post("/notes")
            .cookie(&cookie)
            .csrf(&csrf)
            .json(note.clone()),
        201,
    )
    .await;
    run.expect(
        "a safe method needs none",
        Req::get("/notes").cookie(&cookie),
        200,
    )
    .await;
    run.expect(
        "D10 bearer needs none",
        Req::post("/notes").bearer(&at).json(note),
        201,
    )
    .await;
}

/// D5–D7, and login CSRF: where the request comes from.
pub async fn csrf_provenance(run: &mut Run) {
    run.register(ALICE).await;
    let (cookie, csrf) = run.session(ALICE).await;
    let note = || {
        Req::post("/notes")
            .cookie(&cookie)
            .csrf(&csrf)
            .json(json!({"text": "x"}))
    };
    let evil = format!("{}.attacker.net", run.origin());
    for (label, request) in [
        (
            "D5 cross-site",
            note().header("sec-fetch-site", "cross-site"),
        ),
        ("D6 same-site", note().header("sec-fetch-site", "same-site")),
        ("D7 Origin null", note().header("origin", "null")),
        (
            "D7 look-alike origin",
            note().header("origin", evil.as_str()),
        ),
    ] {
        run.expect_json(label, request, 403, json!({"error": "csrf_failed"}))
            .await;
    }
    run.expect(
        "same origin",
        note()
            .header("sec-fetch-site", "same-origin")
            .header("origin", run.origin()),
        201,
    )
    .await;
    let login = json!({"email": ALICE, "password": PASSWORD});
    for (label, request) in [
        (
            "login from another origin",
            Req::post("/session/login").header("origin", "https://evil.example"),
        ),
        (
            "login cross-site",
            Req::post("/session/login").header("sec-fetch-site", "cross-site"),
        ),
    ] {
        run.expect_json(
            label,
            request.json(login.clone()),
            403,
            json!({"error": "csrf_failed"}),
        )
        .await;
    }
    run.expect_json(
        "Basic from another origin",
        Req::post("/notes")
            .basic(ALICE, PASSWORD)
            .header("origin", "https://evil.example")
            .json(json!({"text": "x"})),
        403,
        json!({"error": "csrf_failed"}),
    )
    .await;
    run.expect(
        "token login from anywhere, a stale cookie ignored",
        Req::post("/auth/login")
            .header("origin", "https://evil.example")
            .cookie("stale")
            .json(login),
        200,
    )
    .await;
}

/// C8: `POST /session/logout`, then the old cookie is dead.
pub async fn session_logout_and_replay(run: &mut Run) {
    run.register(ALICE).await;
    let (cookie, csrf) = run.session(ALICE).await;
    run.expect_json(
        "logout without the token",
        Req::post("/session/logout").cookie(&cookie),
        403,
        json!({"error": "csrf_failed"}),
    )
    .await;
    let res = run
        .expect(
            "logout",
            Req::post("/session/logout").cookie(&cookie).csrf(&csrf),
            204,
        )
        .await;
    let removal = res.all("set-cookie");
    assert_eq!(removal.len(), 1, "{removal:?}");
    assert!(
        removal[0].starts_with(&format!("{COOKIE}=;")),
        "{removal:?}"
    );
    assert!(removal[0].contains("Max-Age=0"), "{removal:?}");
    run.expect_json(
        "C8 replay",
        Req::get("/me").cookie(&cookie),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
    run.expect_json(
        "logout without a session",
        Req::post("/session/logout"),
        401,
        json!({"error": "unauthenticated"}),
    )
    .await;
}

/// I1, I5: password reset.
pub async fn password_reset(run: &mut Run) {
    let (_, at, _) = run.user(ALICE).await;
    let (cookie, _) = run.session(ALICE).await;
    let key = run
        .expect(
            "an API key before the reset",
            Req::post("/auth/api-keys")
                .bearer(&at)
                .json(json!({"name": "ci", "scopes": ["notes:read"]})),
            201,
        )
        .await
        .str("api_key");
    let known = run
        .expect_json(
            "I5 known address",
            Req::post("/auth/password-reset").json(json!({"email": ALICE})),
            202,
            json!({"status": "sent"}),
        )
        .await;
    let unknown = run
        .expect(
            "I5 unknown address",
            Req::post("/auth/password-reset").json(json!({"email": BOB})),
            202,
        )
        .await;
    assert_eq!(known.body, unknown.body);
    let messages = run.outbox().await;
    assert_eq!(
        messages.len(),
        1,
        "{:?}: one message, to the known address",
        run.starter
    );
    assert!(messages[0].starts_with(&format!("To: {ALICE}\n")));
    let token = messages[0]
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .expect("a token line")
        .to_owned();
    assert!(messages[0].contains(&format!("{}/reset?token={token}", run.origin())));
    run.expect_json(
        "weak password keeps the token",
        Req::post("/auth/password-reset/confirm")
            .json(json!({"token": token, "new_password": "short"})),
        422,
        json!({"error": "weak_password"}),
    )
    .await;
    run.expect(
        "I1 first use",
        Req::post("/auth/password-reset/confirm")
            .json(json!({"token": token, "new_password": NEW_PASSWORD})),
        204,
    )
    .await;
    run.expect_json(
        "I1 second use",
        Req::post("/auth/password-reset/confirm")
            .json(json!({"token": token, "new_password": "another good one"})),
        400,
        json!({"error": "invalid_token"}),
    )
    .await;
    run.expect_json(
        "unknown token",
        Req::post("/auth/password-reset/confirm")
            .json(json!({"token": "tsp_nope", "new_password": NEW_PASSWORD})),
        400,
        json!({"error": "invalid_token"}),
    )
    .await;
    run.expect("earlier tokens revoked", Req::get("/me").bearer(&at), 401)
        .await;
    run.expect("sessions revoked", Req::get("/me").cookie(&cookie), 401)
        .await;
    run.expect("API keys revoked", Req::get("/me").bearer(&key), 401)
        .await;
    run.login(ALICE, NEW_PASSWORD).await;
}
