//! Helpers shared by the HTTP tests: an app on `sqlite::memory:` with cheap
//! argon2 and a temporary outbox, a request builder, and response readers.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: each test binary uses some of them; a panic is a failure"
)]

pub mod faulty;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
use tessera_example_axum::{App, Config};
use tower::ServiceExt;

pub const PUBLIC_URL: &str = "http://127.0.0.1:3000";
pub const ADMIN: &str = "admin@example.com";
pub const ALICE: &str = "alice@example.com";
pub const BOB: &str = "bob@example.com";
pub const PASSWORD: &str = "correct horse battery";
pub const NEW_PASSWORD: &str = "staple tractor lantern";
/// The secure session cookie's name (CONTRACTS.md §1).
pub const COOKIE: &str = "__Host-tessera_session";

/// Cheap argon2 so that tests hash in microseconds. Servers keep the
/// default.
pub fn cheap_pool() -> PasswordPool {
    PasswordPool::builder()
        .hasher(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap())
        .build()
        .unwrap()
}

/// A folder removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "tessera-example-axum-{label}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The base configuration of the tests: in-memory SQLite, a fixed secret,
/// cheap hashing, an administrator, and an outbox in `outbox`.
pub fn config(outbox: &Path) -> Config {
    Config::new()
        .database_url("sqlite::memory:")
        .public_url(PUBLIC_URL)
        .secret_key([7u8; 32])
        .outbox(outbox)
        .password_pool(cheap_pool())
        .admin(ADMIN, Password::new(PASSWORD))
}

/// The app under test, with its outbox.
pub struct TestApp {
    pub app: App,
    pub outbox: TempDir,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(|config| config).await
    }

    /// An app whose base configuration `change` adjusts.
    pub async fn with(change: impl FnOnce(Config) -> Config) -> Self {
        let outbox = TempDir::new("outbox");
        let app = tessera_example_axum::build(change(config(outbox.path())))
            .await
            .unwrap();
        Self { app, outbox }
    }

    pub async fn send(&self, request: Req) -> Res {
        let response = self.app.router().oneshot(request.build()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Res {
            status,
            headers,
            body,
        }
    }

    /// Registers `email` with [`PASSWORD`]; returns the account's id.
    pub async fn register(&self, email: &str) -> String {
        let res = self
            .send(Req::post("/auth/register").json(json!({"email": email, "password": PASSWORD})))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        res.json()["id"].as_str().unwrap().to_owned()
    }

    /// A password login; returns the token response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let res = self
            .send(Req::post("/auth/login").json(json!({"email": email, "password": password})))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        res.json()
    }

    /// Registers `email` and logs it in: (id, access token, refresh token).
    pub async fn user(&self, email: &str) -> (String, String, String) {
        let id = self.register(email).await;
        let tokens = self.login(email, PASSWORD).await;
        (
            id,
            tokens["access_token"].as_str().unwrap().to_owned(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// The administrator's access token.
    pub async fn admin_token(&self) -> String {
        self.login(ADMIN, PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A session login from the app's own origin: (cookie value, CSRF
    /// token, the response).
    pub async fn session(&self, email: &str, password: &str) -> (String, String, Res) {
        let res = self
            .send(
                Req::post("/session/login")
                    .origin(PUBLIC_URL)
                    .json(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let cookie = res.cookie_value(COOKIE).expect("a session cookie");
        let csrf = res.json()["csrf_token"].as_str().unwrap().to_owned();
        (cookie, csrf, res)
    }

    /// Creates an API key with `scopes` using a fresh `token`: (id, key).
    pub async fn api_key(&self, token: &str, scopes: &[&str]) -> (String, String) {
        let res = self
            .send(
                Req::post("/auth/api-keys")
                    .bearer(token)
                    .json(json!({"name": "ci", "scopes": scopes})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        let body = res.json();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["api_key"].as_str().unwrap().to_owned(),
        )
    }

    /// The messages in the outbox, oldest first, after every queued one was
    /// written.
    pub async fn outbox_messages(&self) -> Vec<String> {
        self.app.mailer().flush().await;
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.outbox.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect()
    }
}

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl Req {
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(uri: &str) -> Self {
        Self::new(Method::GET, uri)
    }

    pub fn post(uri: &str) -> Self {
        Self::new(Method::POST, uri)
    }

    pub fn patch(uri: &str) -> Self {
        Self::new(Method::PATCH, uri)
    }

    pub fn delete(uri: &str) -> Self {
        Self::new(Method::DELETE, uri)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: Value) -> Self {
        self.raw("application/json", &body.to_string())
    }

    /// A body with the given content type (none when empty).
    pub fn raw(mut self, content_type: &str, body: &str) -> Self {
        if !content_type.is_empty() {
            self = self.header("content-type", content_type);
        }
        self.body = Some(body.to_owned());
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn basic(self, email: &str, password: &str) -> Self {
        let encoded = Base64::encode_string(format!("{email}:{password}").as_bytes());
        self.header("authorization", &format!("Basic {encoded}"))
    }

    /// The secure session cookie.
    pub fn cookie(self, value: &str) -> Self {
        self.header("cookie", &format!("{COOKIE}={value}"))
    }

    pub fn csrf(self, token: &str) -> Self {
        self.header("x-csrf-token", token)
    }

    pub fn origin(self, origin: &str) -> Self {
        self.header("origin", origin)
    }

    pub fn build(self) -> Request<Body> {
        let mut builder = Request::builder().method(self.method).uri(self.uri);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(self.body.map_or_else(Body::empty, Body::from))
            .unwrap()
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Res {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value the response sets for cookie `name`.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|cookie| {
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }

    /// Asserts the status and the exact JSON error body, and
    /// `Cache-Control: no-store`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.text(), format!(r#"{{"error":"{error}"}}"#));
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

/// The JOSE header of a JWT.
pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(header).unwrap()).unwrap()
}

/// The claims of a JWT (not verified).
pub fn jwt_claims(token: &str) -> Value {
    let claims = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(claims).unwrap()).unwrap()
}

/// The sorted member names of a JSON object.
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}
