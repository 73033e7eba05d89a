//! The starter on the shared backends: `DATABASE_URL=postgres://…` (a
//! schema of its own per test, through the URL's `options`) and Redis for
//! revocations and the token store (a key prefix of its own). Each test
//! prints what it skipped when its service variable is unset, and fails
//! instead under `TESSERA_TEST_STRICT=1` (CONTRACTS.md §3).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "test code: a panic is a failure; a skipped test says so on stdout"
)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{ALICE, NEW_PASSWORD, PASSWORD, Req, TestApp};
use serde_json::json;
use tessera_core::token::TokenId;
use tessera_example_axum::Stores;
use tessera_redis::redis::AsyncCommands;
use tessera_redis::{RedisOptions, RedisStore, redis};
use tessera_sqlx::sqlx::Executor;
use tessera_sqlx::sqlx::postgres::PgPoolOptions;

fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("TESSERA_TEST_STRICT").as_deref() != Ok("1"),
                "{var} is not set and TESSERA_TEST_STRICT=1"
            );
            println!("skipped the starter on this backend: {var} is not set");
            None
        }
    }
}

fn random_name() -> String {
    TokenId::generate().unwrap().as_str()[..16].to_owned()
}

/// The whole token and session life on whatever stores `t` has.
async fn exercise(t: &TestApp) {
    let (id, access, refresh) = t.user(ALICE).await;
    t.send(Req::post("/auth/register").json(json!({"email": ALICE, "password": PASSWORD})))
        .await
        .assert_error(409, "email_taken");
    let me = t.send(Req::get("/me").bearer(&access)).await.json();
    assert_eq!(me["id"], id.as_str());

    // Rotation and reuse detection.
    let second = t
        .send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .json();
    t.send(Req::post("/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .assert_error(401, "invalid_grant");
    t.send(Req::get("/me").bearer(second["access_token"].as_str().unwrap()))
        .await
        .assert_error(401, "invalid_token");

    // API keys.
    let fresh = t.login(ALICE, PASSWORD).await;
    let fresh = fresh["access_token"].as_str().unwrap();
    let (key_id, key) = t.api_key(fresh, &["notes:read"]).await;
    assert_eq!(
        t.send(Req::get("/notes").bearer(&key)).await.status,
        StatusCode::OK
    );
    let res = t
        .send(Req::delete(&format!("/auth/api-keys/{key_id}")).bearer(fresh))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    t.send(Req::get("/notes").bearer(&key))
        .await
        .assert_error(401, "invalid_token");

    // Sessions and CSRF.
    let (cookie, csrf, _) = t.session(ALICE, PASSWORD).await;
    let res = t
        .send(
            Req::post("/notes")
                .cookie(&cookie)
                .csrf(&csrf)
                .json(json!({"text": "x"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);

    // Logout, then a reset through the outbox.
    assert_eq!(
        t.send(Req::post("/auth/logout").bearer(fresh)).await.status,
        StatusCode::NO_CONTENT
    );
    t.send(Req::get("/me").bearer(fresh))
        .await
        .assert_error(401, "invalid_token");
    t.send(Req::post("/auth/password-reset").json(json!({"email": ALICE})))
        .await;
    let messages = t.outbox_messages().await;
    let token = messages[0]
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .unwrap();
    let res = t
        .send(
            Req::post("/auth/password-reset/confirm")
                .json(json!({"token": token, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    t.send(Req::get("/me").cookie(&cookie))
        .await
        .assert_error(401, "unauthenticated");
    t.login(ALICE, NEW_PASSWORD).await;
}

#[tokio::test]
async fn postgres_database_url() {
    let Some(url) = service_url("TESSERA_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = format!("tessera_example_{}", random_name());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    // An identifier made of hex digits: it cannot be bound, and needs no
    // quoting.
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let database_url = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let t = TestApp::with(|config| config.database_url(database_url)).await;
    exercise(&t).await;
    let tables: i64 = tessera_sqlx::sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(tables > 0, "the migrations did not run in {schema}");
    drop(t);
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_for_revocations_and_tokens() {
    let Some(url) = service_url("TESSERA_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("tessera-example-test:{}:", random_name());
    let redis_store = Arc::new(
        RedisStore::connect(&url, RedisOptions::default().prefix(prefix.clone()))
            .await
            .unwrap(),
    );
    let mut stores = Stores::connect("sqlite::memory:", None).await.unwrap();
    stores.tokens = redis_store.clone();
    stores.revocations = redis_store;
    let t = TestApp::with(|config| config.stores(stores)).await;
    exercise(&t).await;

    let mut connection = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut keys: Vec<String> = Vec::new();
    {
        let mut iter: redis::AsyncIter<'_, String> =
            connection.scan_match(format!("{prefix}*")).await.unwrap();
        while let Some(key) = iter.next_item().await {
            keys.push(key.unwrap());
        }
    }
    assert!(
        keys.iter().any(|key| key.contains("fam:")),
        "refresh families are not in Redis: {keys:?}"
    );
    if !keys.is_empty() {
        let _: () = connection.del(keys).await.unwrap();
    }
}
