//! The token API of CONTRACTS.md §1, row by row, in process: health,
//! registration, login (B1), refresh (H2, H9), logout, logout-all, `/me`,
//! password change, API keys (G4), notes, administration (C12, H9), the
//! JWKS, malformed bodies on every route, and `Cache-Control: no-store`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

mod common;

use axum::http::StatusCode;
use common::{
    ADMIN, ALICE, BOB, NEW_PASSWORD, PASSWORD, Req, TestApp, jwt_claims, jwt_header, keys,
};
use serde_json::{Value, json};

#[tokio::test]
async fn health_fallbacks_and_cache_control() {
    let t = TestApp::new().await;
    let res = t.send(Req::get("/health")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), r#"{"status":"ok"}"#);
    assert_eq!(res.header("content-type"), Some("application/json"));

    t.send(Req::get("/nowhere"))
        .await
        .assert_error(404, "not_found");
    // D9's neighbour: a wrong method is refused with JSON, not served.
    t.send(Req::get("/auth/login"))
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn register_creates_an_account_with_the_user_role() {
    let t = TestApp::new().await;
    let res = t
        .send(
            Req::post("/auth/register")
                .json(json!({"email": "  Alice@Example.COM ", "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let body = res.json();
    assert_eq!(keys(&body), ["email", "id", "roles"]);
    assert_eq!(body["email"], ALICE);
    assert_eq!(body["roles"], json!(["user"]));
    assert!(!body["id"].as_str().unwrap().is_empty());

    // The same address, however written, is taken.
    t.send(
        Req::post("/auth/register")
            .json(json!({"email": "ALICE@example.com", "password": PASSWORD})),
    )
    .await
    .assert_error(409, "email_taken");
    // The policy: 8 to 128 code points.
    for weak in ["short", &"x".repeat(129)] {
        t.send(Req::post("/auth/register").json(json!({"email": BOB, "password": weak})))
            .await
            .assert_error(422, "weak_password");
    }
    let longest = "é".repeat(128);
    let res = t
        .send(Req::post("/auth/register").json(json!({"email": BOB, "password": longest})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    // Malformed emails.
    for email in [
        "",
        "no-at-sign",
        "@example.com",
        "a@",
        "a b@example.com",
        "a\n@example.com",
    ] {
        t.send(Req::post("/auth/register").json(json!({"email": email, "password": PASSWORD})))
            .await
            .assert_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn login_returns_the_token_shape() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let res = t
        .send(
            Req::post("/auth/login")
                .json(json!({"email": " ALICE@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let body = res.json();
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "notes:read notes:write");
    assert!(body["refresh_token"].as_str().unwrap().starts_with("tsr_"));
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_header(access)["typ"], "at+jwt");
    assert_eq!(jwt_header(access)["alg"], "EdDSA");
    let claims = jwt_claims(access);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    // The field order is part of the byte-identical contract.
    assert!(res.text().starts_with(r#"{"access_token":""#));
    assert!(
        res.text()
            .contains(r#"","token_type":"Bearer","expires_in":900,"refresh_token":"tsr_"#)
    );
}

#[tokio::test]
async fn login_scopes_narrow_and_unknown_scopes_are_refused() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let res = t
        .send(
            Req::post("/auth/login")
                .json(json!({"email": ALICE, "password": PASSWORD, "scope": "notes:read"})),
        )
        .await;
    assert_eq!(res.json()["scope"], "notes:read");
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        t.send(Req::get("/notes").bearer(&token)).await.status,
        StatusCode::OK
    );
    let res = t
        .send(
            Req::post("/notes")
                .bearer(&token)
                .json(json!({"text": "x"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.text(),
        r#"{"error":"insufficient_scope","missing_scope":"notes:write"}"#
    );

    // A scope the roles do not allow.
    t.send(
        Req::post("/auth/login")
            .json(json!({"email": ALICE, "password": PASSWORD, "scope": "notes:read admin:users"})),
    )
    .await
    .assert_error(400, "invalid_scope");
    // The administrator's roles allow it.
    let res = t
        .send(
            Req::post("/auth/login")
                .json(json!({"email": ADMIN, "password": PASSWORD, "scope": "admin:users"})),
        )
        .await;
    assert_eq!(res.json()["scope"], "admin:users");
}

/// B1: an unknown email, a wrong password and a disabled account get the
/// same status, headers and body, byte for byte.
#[tokio::test]
async fn b1_failed_logins_are_indistinguishable() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let bob = t.register(BOB).await;
    let admin = t.admin_token().await;
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{bob}"))
                .bearer(&admin)
                .json(json!({"active": false})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);

    let attempt = |email: &'static str, password: &'static str| {
        Req::post("/auth/login").json(json!({"email": email, "password": password}))
    };
    let unknown = t.send(attempt("carol@example.com", PASSWORD)).await;
    let wrong = t.send(attempt(ALICE, "wrong password!")).await;
    let disabled = t.send(attempt(BOB, PASSWORD)).await;
    unknown.assert_error(401, "invalid_credentials");
    for other in [&wrong, &disabled] {
        assert_eq!(other.status, unknown.status);
        assert_eq!(other.headers, unknown.headers);
        assert_eq!(other.body, unknown.body);
    }
    assert!(unknown.headers.get("www-authenticate").is_none());
    assert!(unknown.headers.get("set-cookie").is_none());
}

/// H1, H2, H10: rotation, and a used-up refresh token revokes its family.
#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let t = TestApp::new().await;
    t.register(ALICE).await;
    let login = t
        .send(
            Req::post("/auth/login")
                .json(json!({"email": ALICE, "password": PASSWORD, "scope": "notes:read"})),
        )
        .await
        .json();
    let first = login["refresh_token"].as_str().unwrap();
    let res = t
        .send(Req::post("/auth/refresh").json(json!({"refresh_token": first})))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let second = res.json();
    assert_eq!(
        keys(&second),
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ]
    );
    assert_ne!(second["refresh_token"], login["refresh_token"]);
    // The login's scopes are kept.
    assert_eq!(second["scope"], "notes:read");
    let access = second["access_token"].as_str().unwrap();
    assert_ne!(jwt_claims(access)["fresh"], true);
    assert_eq!(
        t.send(Req::get("/me").bearer(access)).await.status,
        StatusCode::OK
    );

    // Reuse of the first token: refused, and the newest pair dies with it.
    t.send(Req::post("/auth/refresh").json(json!({"refresh_token": first})))
        .await
        .assert_error(401, "invalid_grant");
    t.send(Req::post("/auth/refresh").json(json!({"refresh_token": second["refresh_token"]})))
        .await
        .assert_error(401, "invalid_grant");
    t.send(Req::get("/me").bearer(access))
        .await
        .assert_error(401, "invalid_token");
    // Garbage and an access token are not refresh tokens.
    for token in ["tsr_nope", "x", access] {
        t.send(Req::post("/auth/refresh").json(json!({"refresh_token": token})))
            .await
            .assert_error(401, "invalid_grant");
    }
}

#[tokio::test]
async fn logout_ends_the_jwt_family_and_nothing_for_api_keys_or_basic() {
    let t = TestApp::new().await;
    let (_, access, refresh) = t.user(ALICE).await;
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    let other = t.login(ALICE, PASSWORD).await;

    // An API key and Basic have nothing to end.
    for req in [
        Req::post("/auth/logout").bearer(&api_key),
        Req::post("/auth/logout").basic(ALICE, PASSWORD),
    ] {
        let res = t.send(req).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert!(res.body.is_empty());
        assert_eq!(res.header("cache-control"), Some("no-store"));
    }
    assert_eq!(
        t.send(Req::get("/notes").bearer(&api_key)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.send(Req::get("/me").bearer(&access)).await.status,
        StatusCode::OK
    );

    let res = t.send(Req::post("/auth/logout").bearer(&access)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    t.send(Req::get("/me").bearer(&access))
        .await
        .assert_error(401, "invalid_token");
    t.send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .assert_error(401, "invalid_grant");
    // Another login of the same account is untouched.
    let other_access = other["access_token"].as_str().unwrap();
    assert_eq!(
        t.send(Req::get("/me").bearer(other_access)).await.status,
        StatusCode::OK
    );

    t.send(Req::post("/auth/logout"))
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn logout_all_ends_tokens_and_sessions_but_not_api_keys() {
    let t = TestApp::new().await;
    let (_, access, refresh) = t.user(ALICE).await;
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    let other = t.login(ALICE, PASSWORD).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;

    let res = t.send(Req::post("/auth/logout-all").bearer(&access)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    for token in [access.as_str(), other["access_token"].as_str().unwrap()] {
        t.send(Req::get("/me").bearer(token))
            .await
            .assert_error(401, "invalid_token");
    }
    for token in [refresh.as_str(), other["refresh_token"].as_str().unwrap()] {
        t.send(Req::post("/auth/refresh").json(json!({"refresh_token": token})))
            .await
            .assert_error(401, "invalid_grant");
    }
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(
        t.send(Req::get("/notes").bearer(&api_key)).await.status,
        StatusCode::OK
    );
    t.send(Req::post("/auth/logout-all"))
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn me_describes_the_caller() {
    let t = TestApp::new().await;
    let (id, access, _) = t.user(ALICE).await;
    let res = t.send(Req::get("/me").bearer(&access)).await;
    assert_eq!(res.status, StatusCode::OK);
    // Members in the contract's order, byte for byte.
    assert_eq!(
        res.text(),
        format!(
            r#"{{"id":"{id}","email":"{ALICE}","roles":["user"],"scopes":["notes:read","notes:write"]}}"#
        )
    );
    assert_eq!(
        res.json(),
        json!({"id": id, "email": ALICE, "roles": ["user"], "scopes": ["notes:read", "notes:write"]})
    );
    // Basic carries every allowed scope; an API key its own.
    let res = t
        .send(Req::get("/me").basic(" Alice@example.com", PASSWORD))
        .await;
    assert_eq!(res.json()["scopes"], json!(["notes:read", "notes:write"]));
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    let res = t.send(Req::get("/me").bearer(&api_key)).await;
    assert_eq!(res.json()["scopes"], json!(["notes:read"]));
    // Sorted lists.
    let admin = t.admin_token().await;
    let res = t.send(Req::get("/me").bearer(&admin)).await;
    assert_eq!(res.json()["roles"], json!(["admin", "user"]));
    assert_eq!(
        res.json()["scopes"],
        json!(["admin:users", "notes:read", "notes:write"])
    );
}

#[tokio::test]
async fn password_change_with_a_fresh_token() {
    let t = TestApp::new().await;
    let (_, access, refresh) = t.user(ALICE).await;
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;
    let change = |current: &str, new: &str| {
        Req::post("/auth/password").json(json!({"current_password": current, "new_password": new}))
    };

    // Not fresh: a refreshed token and an API key.
    let refreshed = t
        .send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .json();
    for token in [
        refreshed["access_token"].as_str().unwrap(),
        api_key.as_str(),
    ] {
        t.send(change(PASSWORD, NEW_PASSWORD).bearer(token))
            .await
            .assert_error(401, "fresh_login_required");
    }
    t.send(change("not the password", NEW_PASSWORD).bearer(&access))
        .await
        .assert_error(401, "invalid_credentials");
    t.send(change(PASSWORD, "short").bearer(&access))
        .await
        .assert_error(422, "weak_password");
    t.send(change(PASSWORD, NEW_PASSWORD))
        .await
        .assert_error(401, "unauthenticated");

    let res = t.send(change(PASSWORD, NEW_PASSWORD).bearer(&access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(res.set_cookies().is_empty());
    let body = res.json();
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(body["scope"], "notes:read notes:write");
    let new_access = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(new_access)["fresh"], true);

    // Everything earlier is revoked, except API keys.
    t.send(Req::get("/me").bearer(&access))
        .await
        .assert_error(401, "invalid_token");
    t.send(Req::post("/auth/refresh").json(json!({"refresh_token": refreshed["refresh_token"]})))
        .await
        .assert_error(401, "invalid_grant");
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(
        t.send(Req::get("/me").bearer(new_access)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.send(Req::get("/notes").bearer(&api_key)).await.status,
        StatusCode::OK
    );
    t.send(Req::post("/auth/login").json(json!({"email": ALICE, "password": PASSWORD})))
        .await
        .assert_error(401, "invalid_credentials");
    t.login(ALICE, NEW_PASSWORD).await;
}

/// API keys: created by a fresh login, shown once, used as bearer, deleted
/// by their owner only (G4: a deleted key is refused at once).
#[tokio::test]
async fn api_keys_are_created_used_and_deleted() {
    let t = TestApp::new().await;
    let (_, access, refresh) = t.user(ALICE).await;
    let (_, bob) = {
        let (id, bob_access, _) = t.user(BOB).await;
        (id, bob_access)
    };

    let res = t
        .send(
            Req::post("/auth/api-keys")
                .bearer(&access)
                .json(json!({"name": "ci", "scopes": ["notes:read"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let body = res.json();
    assert_eq!(keys(&body), ["api_key", "id"]);
    let (id, key) = (
        body["id"].as_str().unwrap().to_owned(),
        body["api_key"].as_str().unwrap().to_owned(),
    );
    assert!(key.starts_with("tsk_"));
    assert!(!key.contains(&id));
    assert_eq!(res.text(), format!(r#"{{"id":"{id}","api_key":"{key}"}}"#));

    let res = t.send(Req::get("/notes").bearer(&key)).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = t
        .send(Req::post("/notes").bearer(&key).json(json!({"text": "x"})))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // An API key is never fresh.
    t.send(
        Req::post("/auth/api-keys")
            .bearer(&key)
            .json(json!({"name": "again", "scopes": []})),
    )
    .await
    .assert_error(401, "fresh_login_required");
    // Nor is a refreshed token.
    let refreshed = t
        .send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .json();
    t.send(
        Req::post("/auth/api-keys")
            .bearer(refreshed["access_token"].as_str().unwrap())
            .json(json!({"name": "again", "scopes": []})),
    )
    .await
    .assert_error(401, "fresh_login_required");
    // A scope the roles do not allow.
    let fresh = t.login(ALICE, PASSWORD).await;
    let fresh = fresh["access_token"].as_str().unwrap();
    t.send(
        Req::post("/auth/api-keys")
            .bearer(fresh)
            .json(json!({"name": "root", "scopes": ["admin:users"]})),
    )
    .await
    .assert_error(403, "forbidden");

    // Someone else's key and unknown ids are 404.
    for unknown in [id.as_str(), "nope", "%2e%2e", "0"] {
        t.send(Req::delete(&format!("/auth/api-keys/{unknown}")).bearer(&bob))
            .await
            .assert_error(404, "not_found");
    }
    assert_eq!(
        t.send(Req::get("/notes").bearer(&key)).await.status,
        StatusCode::OK
    );
    let res = t
        .send(Req::delete(&format!("/auth/api-keys/{id}")).bearer(fresh))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    t.send(Req::get("/notes").bearer(&key))
        .await
        .assert_error(401, "invalid_token");
    t.send(Req::delete(&format!("/auth/api-keys/{id}")).bearer(fresh))
        .await
        .assert_error(404, "not_found");
    t.send(Req::delete(&format!("/auth/api-keys/{id}")))
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn notes_belong_to_their_author() {
    let t = TestApp::new().await;
    let (_, alice, _) = t.user(ALICE).await;
    let (_, bob, _) = t.user(BOB).await;
    let res = t
        .send(
            Req::post("/notes")
                .bearer(&alice)
                .json(json!({"text": "milk"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let note = res.json();
    assert_eq!(keys(&note), ["id", "text"]);
    assert_eq!(
        res.text(),
        format!(
            r#"{{"id":"{}","text":"milk"}}"#,
            note["id"].as_str().unwrap()
        )
    );
    assert_eq!(note["text"], "milk");
    t.send(
        Req::post("/notes")
            .bearer(&alice)
            .json(json!({"text": "eggs"})),
    )
    .await;

    let res = t.send(Req::get("/notes").bearer(&alice)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().starts_with(r#"[{"id":""#), "{}", res.text());
    let list = res.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0], note);
    assert_eq!(list[1]["text"], "eggs");
    assert_eq!(
        t.send(Req::get("/notes").bearer(&bob)).await.json(),
        json!([])
    );
    t.send(Req::get("/notes"))
        .await
        .assert_error(401, "unauthenticated");
}

/// Administration: listing, role changes (applied to JWTs at their next
/// refresh), deactivation (C12, H9), unknown ids.
#[tokio::test]
async fn admin_lists_and_changes_accounts() {
    let t = TestApp::new().await;
    let (alice, access, refresh) = t.user(ALICE).await;
    let (_, api_key) = t.api_key(&access, &["notes:read"]).await;
    let (cookie, _, _) = t.session(ALICE, PASSWORD).await;
    let admin = t.admin_token().await;

    let res = t.send(Req::get("/admin/users").bearer(&admin)).await;
    assert_eq!(res.status, StatusCode::OK);
    let users = res.json();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 2);
    let row = users.iter().find(|u| u["email"] == ALICE).unwrap();
    assert_eq!(
        row,
        &json!({"id": alice, "email": ALICE, "roles": ["user"], "active": true})
    );
    let row = users.iter().find(|u| u["email"] == ADMIN).unwrap();
    assert_eq!(row["roles"], json!(["admin", "user"]));

    // Not for users.
    let res = t.send(Req::get("/admin/users").bearer(&access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.text(),
        r#"{"error":"forbidden","missing_role":"admin"}"#
    );

    // Roles: sorted in the answer; `unlock` clears throttling (nothing to
    // clear here) and answers the account.
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{alice}"))
                .bearer(&admin)
                .json(json!({"roles": ["user", "editor"], "unlock": true})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.text(),
        format!(r#"{{"id":"{alice}","email":"{ALICE}","roles":["editor","user"],"active":true}}"#)
    );
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{alice}"))
                .bearer(&admin)
                .json(json!({})),
        )
        .await;
    assert_eq!(res.json()["roles"], json!(["editor", "user"]));

    // Unknown or unparsable ids.
    for id in ["nope", "%20", "..%2F1", "0"] {
        t.send(
            Req::patch(&format!("/admin/users/{id}"))
                .bearer(&admin)
                .json(json!({"active": false})),
        )
        .await
        .assert_error(404, "not_found");
        t.send(
            Req::patch(&format!("/admin/users/{id}"))
                .bearer(&admin)
                .json(json!({})),
        )
        .await
        .assert_error(404, "not_found");
    }

    // Deactivation ends everything (C12, H9).
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{alice}"))
                .bearer(&admin)
                .json(json!({"active": false})),
        )
        .await;
    assert_eq!(res.json()["active"], false);
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
    t.send(Req::get("/me").basic(ALICE, PASSWORD))
        .await
        .assert_error(401, "invalid_credentials");
    t.send(Req::post("/auth/login").json(json!({"email": ALICE, "password": PASSWORD})))
        .await
        .assert_error(401, "invalid_credentials");

    // Reactivation: a new login works; the old credentials stay dead.
    let res = t
        .send(
            Req::patch(&format!("/admin/users/{alice}"))
                .bearer(&admin)
                .json(json!({"active": true})),
        )
        .await;
    assert_eq!(res.json()["active"], true);
    t.login(ALICE, PASSWORD).await;
    t.send(Req::get("/notes").bearer(&api_key))
        .await
        .assert_error(401, "invalid_token");
}

/// H9: a refresh after a password change is refused.
#[tokio::test]
async fn h9_refresh_after_password_change() {
    let t = TestApp::new().await;
    let (_, access, refresh) = t.user(ALICE).await;
    let res = t
        .send(
            Req::post("/auth/password")
                .bearer(&access)
                .json(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    t.send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .assert_error(401, "invalid_grant");
}

#[tokio::test]
async fn jwks_serves_the_public_key() {
    let t = TestApp::new().await;
    let res = t.send(Req::get("/.well-known/jwks.json")).await;
    assert_eq!(res.status, StatusCode::OK);
    let jwks = res.json();
    let key = &jwks["keys"][0];
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["alg"], "EdDSA");
    assert!(key.get("d").is_none());
    // Tokens name the key.
    let (_, access, _) = t.user(ALICE).await;
    assert_eq!(jwt_header(&access)["kid"], key["kid"]);
}

/// Every route with a body: not JSON, not sent as JSON, a missing field, a
/// field of the wrong type: 400 `invalid_request`.
#[tokio::test]
async fn malformed_bodies_are_invalid_requests_everywhere() {
    let t = TestApp::new().await;
    let (alice, access, _) = t.user(ALICE).await;
    let admin = t.admin_token().await;
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;

    let cases: Vec<(Req, Vec<Value>)> = vec![
        (
            Req::post("/auth/register"),
            vec![
                json!({"email": ALICE}),
                json!({"email": 1, "password": PASSWORD}),
                json!([]),
            ],
        ),
        (
            Req::post("/auth/login"),
            vec![
                json!({"password": PASSWORD}),
                json!({"email": ALICE, "password": PASSWORD, "scope": ["notes:read"]}),
                json!("x"),
            ],
        ),
        (
            Req::post("/auth/refresh"),
            vec![json!({}), json!({"refresh_token": 5})],
        ),
        (
            Req::post("/auth/password").bearer(&access),
            vec![
                json!({"current_password": PASSWORD}),
                json!({"current_password": PASSWORD, "new_password": null}),
            ],
        ),
        (
            Req::post("/auth/api-keys").bearer(&access),
            vec![
                json!({"name": "ci"}),
                json!({"name": "ci", "scopes": "notes:read"}),
                json!({"name": 1, "scopes": []}),
            ],
        ),
        (
            Req::post("/notes").bearer(&access),
            vec![json!({}), json!({"text": 1})],
        ),
        (
            Req::patch(&format!("/admin/users/{alice}")).bearer(&admin),
            vec![
                json!({"active": "no"}),
                json!({"roles": "admin"}),
                json!({"unlock": 1}),
                json!(null),
            ],
        ),
        (
            Req::post("/session/login").origin(common::PUBLIC_URL),
            vec![
                json!({"email": ALICE}),
                json!({"email": ALICE, "password": PASSWORD, "remember": "yes"}),
            ],
        ),
        (
            Req::post("/auth/password-reset"),
            vec![json!({}), json!({"email": ["x"]})],
        ),
        (
            Req::post("/auth/password-reset/confirm"),
            vec![
                json!({"token": "tsp_x"}),
                json!({"token": 1, "new_password": NEW_PASSWORD}),
            ],
        ),
        (
            Req::post("/notes").cookie(&cookie).csrf(&csrf),
            vec![json!({"txt": "x"})],
        ),
    ];
    for (request, bodies) in cases {
        let mut attempts: Vec<Req> = bodies
            .into_iter()
            .map(|body| request.clone().json(body))
            .collect();
        attempts.push(request.clone().raw("application/json", "{not json"));
        attempts.push(
            request
                .clone()
                .raw("text/plain", r#"{"email":"a@b.c","password":"x"}"#),
        );
        attempts.push(request.clone().raw("", ""));
        for attempt in attempts {
            let described = format!("{attempt:?}");
            let res = t.send(attempt).await;
            assert_eq!(
                res.status,
                StatusCode::BAD_REQUEST,
                "{described}: {}",
                res.text()
            );
            assert_eq!(res.text(), r#"{"error":"invalid_request"}"#, "{described}");
        }
    }
    // Nothing was created by the refused note bodies.
    assert_eq!(
        t.send(Req::get("/notes").bearer(&access)).await.json(),
        json!([])
    );
}

/// `Cache-Control: no-store` on every `/auth/…` and `/session/…` response,
/// errors included (the layer's own rejections too).
#[tokio::test]
async fn auth_and_session_responses_are_never_cached() {
    let t = TestApp::new().await;
    let (cookie, _, _) = t.session(ADMIN, PASSWORD).await;
    let requests = [
        Req::post("/auth/register").json(json!({})),
        Req::post("/auth/login").json(json!({"email": "x@y.z", "password": "wrong pass"})),
        Req::post("/auth/refresh").json(json!({"refresh_token": "tsr_x"})),
        Req::post("/auth/logout"),
        Req::post("/auth/logout").header("authorization", "Bearer"),
        Req::post("/auth/logout-all").bearer("bad.token.here"),
        Req::post("/auth/password"),
        Req::post("/auth/api-keys"),
        Req::delete("/auth/api-keys/x"),
        Req::post("/auth/password-reset").json(json!({"email": "x@y.z"})),
        Req::post("/auth/password-reset/confirm").json(json!({"token": "x", "new_password": "y"})),
        Req::post("/session/login")
            .origin("https://evil.example")
            .json(json!({})),
        Req::post("/session/logout"),
        Req::post("/session/logout").cookie(&cookie),
        Req::get("/session/csrf"),
        Req::get("/session/nowhere"),
    ];
    for request in requests {
        let described = format!("{request:?}");
        let res = t.send(request).await;
        assert!(
            res.status.is_client_error() || res.status.is_success(),
            "{described}"
        );
        assert_eq!(res.header("cache-control"), Some("no-store"), "{described}");
        assert_eq!(
            res.header("content-type"),
            Some("application/json"),
            "{described}"
        );
    }
}

/// B2 over HTTP: a login body without its email or password is refused
/// before any hash (a wrong password costs exactly one); and a throttled
/// attempt costs none.
#[tokio::test]
async fn b2_no_hash_for_a_missing_field_or_a_throttled_attempt() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tessera_core::password::{
        Argon2Hasher, Argon2Params, Password, PasswordError, PasswordHasher, PasswordPool,
        PasswordVerifier, Scratch, Verified,
    };

    struct Counting(Argon2Hasher, Arc<AtomicUsize>);
    impl PasswordHasher for Counting {
        fn hash_password_with(
            &self,
            password: &Password,
            scratch: &mut Scratch,
        ) -> Result<String, PasswordError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.hash_password_with(password, scratch)
        }
        fn verify_dummy_with(
            &self,
            password: &Password,
            scratch: &mut Scratch,
        ) -> Result<(), PasswordError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.verify_dummy_with(password, scratch)
        }
    }
    impl PasswordVerifier for Counting {
        fn verify_password_with(
            &self,
            password: &Password,
            stored: &str,
            scratch: &mut Scratch,
        ) -> Result<Verified, PasswordError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.verify_password_with(password, stored, scratch)
        }
    }

    let calls = Arc::new(AtomicUsize::new(0));
    let hasher = Counting(
        Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap(),
        calls.clone(),
    );
    let pool = PasswordPool::builder().hasher(hasher).build().unwrap();
    let t = TestApp::with(|config| config.password_pool(pool)).await;
    t.register(ALICE).await;
    let cost = |body: Value| {
        let t = &t;
        let calls = calls.clone();
        async move {
            let before = calls.load(Ordering::SeqCst);
            let res = t.send(Req::post("/auth/login").json(body)).await;
            (res.status, calls.load(Ordering::SeqCst) - before)
        }
    };
    assert_eq!(
        cost(json!({"email": ALICE})).await,
        (StatusCode::BAD_REQUEST, 0)
    );
    assert_eq!(
        cost(json!({"password": PASSWORD})).await,
        (StatusCode::BAD_REQUEST, 0)
    );
    assert_eq!(
        cost(json!({"email": null, "password": PASSWORD})).await,
        (StatusCode::BAD_REQUEST, 0)
    );
    for _ in 0..5 {
        assert_eq!(
            cost(json!({"email": ALICE, "password": "wrong password"})).await,
            (StatusCode::UNAUTHORIZED, 1)
        );
    }
    // Within the delay: refused, no hash, even for the right password.
    assert_eq!(
        cost(json!({"email": ALICE, "password": PASSWORD})).await,
        (StatusCode::UNAUTHORIZED, 0)
    );
}
