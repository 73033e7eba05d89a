//! The environment variables of CONTRACTS.md §1: defaults, refusals at
//! start, the JWT key choices (HS256 secret, PEM key files, a generated
//! key), and the shared secret key between instances.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use axum::http::StatusCode;
use common::{
    ALICE, COOKIE, NEW_PASSWORD, PASSWORD, PUBLIC_URL, Req, TempDir, TestApp, jwt_header,
};
use serde_json::json;
use tessera_core::memory::{
    MemoryOneTimeStore, MemoryRevocations, MemorySessionStore, MemoryTokenStore, MemoryUserStore,
};
use tessera_example_axum::{Config, Error, Stores};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn from(vars: &[(&str, &str)]) -> Result<Config, Error> {
    Config::from_lookup(lookup(vars))
}

fn key_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name)
        .display()
        .to_string()
}

/// A configuration read from `vars`, plus what every test app needs.
async fn app_from(vars: &[(&str, &str)]) -> TestApp {
    let config = from(vars).unwrap();
    TestApp::with(move |base| {
        // Keep the variables' JWT and cookie settings; take the rest from
        // the test base.
        let _ = base;
        config
            .database_url("sqlite::memory:")
            .public_url(PUBLIC_URL)
            .password_pool(common::cheap_pool())
    })
    .await
}

#[track_caller]
fn config_error(result: Result<Config, Error>) -> String {
    match result {
        Err(error @ Error::Config(_)) => error.to_string(),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let config = from(&[]).unwrap();
    assert_eq!(config.effective_public_url(), "http://127.0.0.1:3000");
    let described = format!("{config:?}");
    assert!(
        described.contains(r#"bind: "127.0.0.1:3000""#),
        "{described}"
    );
    assert!(described.contains(r#"database: "sqlite""#), "{described}");
    assert!(described.contains("jwt: Generate"), "{described}");
    let config = from(&[("TESSERA_BIND", "0.0.0.0:8080")]).unwrap();
    assert_eq!(config.effective_public_url(), "http://0.0.0.0:8080");
    let config = from(&[("TESSERA_PUBLIC_URL", "https://app.example.com")]).unwrap();
    assert_eq!(config.effective_public_url(), "https://app.example.com");
}

#[test]
fn contradictory_or_weak_settings_refuse_to_start() {
    let both = config_error(from(&[
        ("TESSERA_JWT_SECRET", SECRET),
        ("TESSERA_JWT_KEY_FILE", "/etc/key.pem"),
    ]));
    assert!(both.contains("TESSERA_JWT_SECRET"), "{both}");
    assert!(both.contains("TESSERA_JWT_KEY_FILE"), "{both}");
    assert!(config_error(from(&[("TESSERA_JWT_SECRET", "short")])).contains("TESSERA_JWT_SECRET"));
    assert!(
        config_error(from(&[("TESSERA_SECRET_KEY", &SECRET[1..])])).contains("TESSERA_SECRET_KEY")
    );
    assert!(
        config_error(from(&[("TESSERA_ADMIN_EMAIL", "root@example.com")]))
            .contains("TESSERA_ADMIN_PASSWORD")
    );
    assert!(
        config_error(from(&[("TESSERA_INSECURE_COOKIES", "yes")]))
            .contains("TESSERA_INSECURE_COOKIES")
    );
    // Empty values are unset: no conflict.
    let config = from(&[("TESSERA_JWT_SECRET", SECRET), ("TESSERA_JWT_KEY_FILE", "")]).unwrap();
    assert!(format!("{config:?}").contains("Secret([redacted])"));
    assert!(!format!("{config:?}").contains(SECRET));
}

#[tokio::test]
async fn unusable_databases_and_keys_refuse_to_start() {
    let outbox = TempDir::new("refusals");
    let base = || common::config(outbox.path());
    let key = |file: &str| {
        from(&[("TESSERA_JWT_KEY_FILE", file)])
            .unwrap()
            .database_url("sqlite::memory:")
    };
    type Expected = fn(&Error) -> bool;
    let refused: Vec<(Config, Expected)> = vec![
        (
            base().database_url("mysql://localhost/db"),
            |e| matches!(e, Error::Config(why) if why.contains("DATABASE_URL")),
        ),
        (
            base().database_url("sqlite:///nonexistent-dir/x/y.db"),
            |e| matches!(e, Error::Store(_)),
        ),
        (
            key(&key_file("p384.pem")),
            |e| matches!(e, Error::Config(why) if why.contains("p384.pem")),
        ),
        (key(&key_file("rsa1024.pem")), |e| {
            matches!(e, Error::Key(tessera_core::jwt::KeyError::Weak { .. }))
        }),
        (key(&key_file("README.md")), |e| {
            matches!(e, Error::Config(_))
        }),
        (
            key("/nonexistent/key.pem"),
            |e| matches!(e, Error::Io { context, .. } if context.contains("/nonexistent/key.pem")),
        ),
        (
            base().secret_key(vec![1u8; 31]),
            |e| matches!(e, Error::Config(why) if why.contains("TESSERA_SECRET_KEY")),
        ),
        (base().public_url("not a url"), |e| {
            matches!(e, Error::Auth(_))
        }),
    ];
    for (config, expected) in refused {
        let described = format!("{config:?}");
        match tessera_example_axum::build(config.password_pool(common::cheap_pool())).await {
            Ok(_) => panic!("{described} started"),
            Err(error) => assert!(expected(&error), "{described}: {error:?}"),
        }
    }
}

#[tokio::test]
async fn a_generated_key_is_published_and_names_its_tokens() {
    let t = app_from(&[]).await;
    let jwks = t.send(Req::get("/.well-known/jwks.json")).await.json();
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    let (_, access, _) = t.user(ALICE).await;
    assert_eq!(jwt_header(&access)["alg"], "EdDSA");
    assert_eq!(jwt_header(&access)["kid"], jwks["keys"][0]["kid"]);
    // Another start is another key.
    let other = app_from(&[]).await;
    let res = other.send(Req::get("/notes").bearer(&access)).await;
    res.assert_error(401, "invalid_token");
}

/// `TESSERA_JWT_SECRET`: HS256, an empty JWKS, and instances that share
/// the secret accept each other's tokens.
#[tokio::test]
async fn an_hs256_secret_is_shared_by_instances() {
    let a = app_from(&[("TESSERA_JWT_SECRET", SECRET)]).await;
    let b = app_from(&[("TESSERA_JWT_SECRET", SECRET)]).await;
    let c = app_from(&[("TESSERA_JWT_SECRET", &SECRET.replace('0', "9"))]).await;
    let res = a.send(Req::get("/.well-known/jwks.json")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({"keys": []}));
    let (_, access, _) = a.user(ALICE).await;
    assert_eq!(jwt_header(&access)["alg"], "HS256");
    // A JWT needs no account lookup: another instance with the secret
    // accepts it.
    assert_eq!(
        b.send(Req::get("/notes").bearer(&access)).await.status,
        StatusCode::OK
    );
    c.send(Req::get("/notes").bearer(&access))
        .await
        .assert_error(401, "invalid_token");
}

/// `TESSERA_JWT_KEY_FILE`: Ed25519, P-256 and RSA PEM keys, published with
/// a `kid` that stays the same across starts.
#[tokio::test]
async fn pem_key_files() {
    for (file, alg, kty) in [
        ("ed25519.pem", "EdDSA", "OKP"),
        ("p256.pem", "ES256", "EC"),
        ("rsa2048.pem", "RS256", "RSA"),
    ] {
        let vars = [("TESSERA_JWT_KEY_FILE", key_file(file))];
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = app_from(&vars).await;
        let b = app_from(&vars).await;
        let jwks = a.send(Req::get("/.well-known/jwks.json")).await.json();
        let key = &jwks["keys"][0];
        assert_eq!(key["alg"], alg, "{file}");
        assert_eq!(key["kty"], kty, "{file}");
        assert!(key.get("d").is_none() && key.get("p").is_none(), "{file}");
        assert_eq!(
            b.send(Req::get("/.well-known/jwks.json")).await.json(),
            jwks,
            "{file}"
        );
        let (_, access, _) = a.user(ALICE).await;
        assert_eq!(jwt_header(&access)["alg"], alg);
        assert_eq!(jwt_header(&access)["kid"], key["kid"]);
        assert_eq!(
            b.send(Req::get("/notes").bearer(&access)).await.status,
            StatusCode::OK
        );
    }
}

fn shared_stores() -> Stores {
    Stores::new(
        std::sync::Arc::new(MemoryUserStore::new()),
        std::sync::Arc::new(MemoryTokenStore::new()),
        std::sync::Arc::new(MemorySessionStore::new()),
        std::sync::Arc::new(MemoryRevocations::new()),
        std::sync::Arc::new(MemoryOneTimeStore::new()),
    )
}

/// `TESSERA_SECRET_KEY`: instances on the same stores that share it accept
/// each other's CSRF tokens and reset links; with another key they do not.
#[tokio::test]
async fn the_secret_key_is_shared_by_instances() {
    let stores = shared_stores();
    let with_key = |key: &'static str| {
        let stores = stores.clone();
        move |config: Config| {
            config
                .stores(stores)
                .secret_key(key.as_bytes().to_vec())
                .jwt_key(tessera_example_axum::JwtKeySource::Secret(
                    SECRET.as_bytes().to_vec().into(),
                ))
        }
    };
    let a = TestApp::with(with_key("A-shared-secret-of-at-least-32-bytes")).await;
    let b = TestApp::with(with_key("A-shared-secret-of-at-least-32-bytes")).await;
    let c = TestApp::with(with_key("Another-secret-of-at-least-32-bytes")).await;
    a.register(ALICE).await;
    let (cookie, csrf, _) = a.session(ALICE, PASSWORD).await;
    let note = || {
        Req::post("/notes")
            .cookie(&cookie)
            .csrf(&csrf)
            .json(json!({"text": "x"}))
    };
    assert_eq!(b.send(note()).await.status, StatusCode::CREATED);
    c.send(note()).await.assert_error(403, "csrf_failed");

    a.send(Req::post("/auth/password-reset").json(json!({"email": ALICE})))
        .await;
    let messages = a.outbox_messages().await;
    let token = messages[0]
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .unwrap();
    let confirm = |password: &str| {
        Req::post("/auth/password-reset/confirm")
            .json(json!({"token": token, "new_password": password}))
    };
    c.send(confirm(NEW_PASSWORD))
        .await
        .assert_error(400, "invalid_token");
    assert_eq!(
        b.send(confirm(NEW_PASSWORD)).await.status,
        StatusCode::NO_CONTENT
    );
    b.login(ALICE, NEW_PASSWORD).await;
}

/// `TESSERA_ADMIN_EMAIL` / `_PASSWORD`: created once, with roles `admin`
/// and `user`; a restart leaves the account (and its password) as it is.
#[tokio::test]
async fn the_admin_account_is_created_idempotently() {
    let stores = shared_stores();
    let vars = [
        ("TESSERA_ADMIN_EMAIL", " Root@Example.com "),
        ("TESSERA_ADMIN_PASSWORD", "root password 1"),
    ];
    let start = |password: &'static str| {
        let stores = stores.clone();
        let mut vars = vars.to_vec();
        vars[1].1 = password;
        let config = from(&vars).unwrap();
        TestApp::with(move |_| {
            config
                .stores(stores)
                .public_url(PUBLIC_URL)
                .password_pool(common::cheap_pool())
        })
    };
    let first = start("root password 1").await;
    let admin = first.login("root@example.com", "root password 1").await;
    let me = first
        .send(Req::get("/me").bearer(admin["access_token"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(me["roles"], json!(["admin", "user"]));
    let second = start("another password").await;
    second.login("root@example.com", "root password 1").await;
    let users = second
        .send(Req::get("/admin/users").basic("root@example.com", "root password 1"))
        .await
        .json();
    assert_eq!(users.as_array().unwrap().len(), 1);
}

/// `TESSERA_INSECURE_COOKIES=1` and `TESSERA_OUTBOX` read from the
/// environment.
#[tokio::test]
async fn cookie_and_outbox_variables() {
    let outbox = TempDir::new("env-outbox");
    let dir = outbox.path().join("created-at-start");
    let t = app_from(&[
        ("TESSERA_INSECURE_COOKIES", "1"),
        ("TESSERA_OUTBOX", dir.to_str().unwrap()),
    ])
    .await;
    assert!(dir.is_dir());
    t.register(ALICE).await;
    let res = t
        .send(Req::post("/session/login").json(json!({"email": ALICE, "password": PASSWORD})))
        .await;
    assert!(res.cookie_value("tessera_session").is_some());
    assert!(res.cookie_value(COOKIE).is_none());
    t.send(Req::post("/auth/password-reset").json(json!({"email": ALICE})))
        .await;
    t.app.mailer().flush().await;
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}
