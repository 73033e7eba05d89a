//! One parity suite for both starters (CONTRACTS.md §1): every scenario
//! runs against the axum starter and the actix-web starter, each a real
//! server on 127.0.0.1 (a random port, its own in-memory SQLite and
//! outbox). Each scenario asserts the contract as it goes, and records what
//! every response showed (status, `WWW-Authenticate`, `Cache-Control`,
//! `Content-Type`, `Retry-After`, `Location`, the attributes of each
//! `Set-Cookie`, the body byte for byte with its random values masked); the two
//! transcripts must be equal, so a difference between the adapters is a
//! failing test.
//!
//! The servers run each starter's library in process, on a socket bound
//! here: the axum app on a Tokio runtime, the actix-web app in an actix
//! `System`, each on its own thread.
#![allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure; each scenario uses some helpers"
)]

mod fixture;
mod fixture_scenarios;
mod http;
mod scenarios;
mod throttle_scenarios;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tessera_core::async_trait;
use tessera_core::error::StoreError;
use tessera_core::jwt::{RevocationCheck, Revocations};
use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
use tessera_core::throttle::{
    AccountLimits, Attempt, Hit, RateLimit, ThrottleStore, TrustedProxies,
};
use tessera_core::token::FamilyId;
use tessera_core::users::UserId;
use tessera_example_common::{Config, Mailer, Stores};

pub use crate::http::{Req, Res};

pub const ADMIN: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery";
pub const NEW_PASSWORD: &str = "staple tractor lantern";
/// The secure session cookie's name (CONTRACTS.md §1).
pub const COOKIE: &str = "__Host-tessera_session";

/// Which starter a run talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starter {
    Axum,
    Actix,
}

/// What one response showed, with its random values masked.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    /// Each `Set-Cookie`: name, whether the value is empty, attributes.
    pub cookies: Vec<(String, bool, Vec<String>)>,
    /// The body, with random values masked.
    pub body: String,
}

impl Observation {
    fn of(res: &Res) -> Self {
        let header = |name: &str| res.header(name).map(str::to_owned);
        let cookies = res
            .all("set-cookie")
            .into_iter()
            .map(|cookie| {
                let mut parts = cookie.split(';').map(str::trim);
                let (name, value) = parts
                    .next()
                    .and_then(|pair| pair.split_once('='))
                    .unwrap_or_default();
                let mut attributes: Vec<String> = parts.map(str::to_owned).collect();
                attributes.sort_by_key(|a| a.to_ascii_lowercase());
                (name.to_owned(), value.is_empty(), attributes)
            })
            .collect();
        let body = mask(&res.text());
        Self {
            status: res.status,
            www_authenticate: header("www-authenticate"),
            cache_control: header("cache-control"),
            content_type: header("content-type"),
            // A throttling window's remaining seconds depend on when the
            // request ran; its presence and the status are what must match.
            retry_after: header("retry-after").map(|value| {
                if res.status == 429 {
                    "<seconds>".to_owned()
                } else {
                    value.to_owned()
                }
            }),
            location: header("location"),
            cookies,
            body,
        }
    }
}

/// The body as sent, byte for byte (member order and spacing included),
/// with the values that differ from run to run (ids, tokens, keys) masked.
fn mask(body: &str) -> String {
    const RANDOM: [&str; 8] = [
        "id",
        "access_token",
        "refresh_token",
        "api_key",
        "csrf_token",
        "kid",
        "x",
        "y",
    ];
    let mut out = body.to_owned();
    for name in RANDOM {
        let opening = format!("\"{name}\":\"");
        let mut from = 0;
        while let Some(at) = out[from..].find(&opening) {
            let start = from + at + opening.len();
            // These values are ids, tokens and base64url: no escapes.
            let Some(len) = out[start..].find('"') else {
                break;
            };
            out.replace_range(start..start + len, "<random>");
            from = start + "<random>".len();
        }
    }
    out
}

/// A store switch: while on, every revocation lookup fails, so every JWT
/// request meets a store that cannot answer (the 503 row).
struct Switchable {
    inner: Arc<dyn Revocations>,
    fail: Arc<AtomicBool>,
}

/// `Err` while the test has switched the stores off.
fn switched(fail: &AtomicBool) -> Result<(), StoreError> {
    if fail.load(Ordering::SeqCst) {
        Err(StoreError::Unavailable("switched off by the test".into()))
    } else {
        Ok(())
    }
}

impl Switchable {
    fn check(&self) -> Result<(), StoreError> {
        switched(&self.fail)
    }
}

#[async_trait]
impl Revocations for Switchable {
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        self.check()?;
        self.inner.revoke_token(jti, until).await
    }

    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError> {
        self.check()?;
        self.inner.revoke_family(family, until).await
    }

    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner
            .revoke_subject_before(subject, before, until)
            .await
    }

    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.is_revoked(token, now).await
    }
}

/// The same switch for the throttle store: while on, logins meet a store
/// that cannot answer (K7).
struct SwitchableThrottle {
    inner: Arc<dyn ThrottleStore>,
    fail: Arc<AtomicBool>,
}

impl SwitchableThrottle {
    fn check(&self) -> Result<(), StoreError> {
        switched(&self.fail)
    }
}

#[async_trait]
impl ThrottleStore for SwitchableThrottle {
    async fn begin_attempt(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<Attempt, StoreError> {
        self.check()?;
        self.inner.begin_attempt(key, limits, now).await
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.clear(key).await
    }

    async fn failures(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<u32, StoreError> {
        self.check()?;
        self.inner.failures(key, limits, now).await
    }

    async fn hit(&self, key: &str, limit: &RateLimit, now: SystemTime) -> Result<Hit, StoreError> {
        self.check()?;
        self.inner.hit(key, limit, now).await
    }

    async fn forgive(
        &self,
        key: &str,
        limit: &RateLimit,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.forgive(key, limit, now).await
    }
}

/// A folder removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "tessera-parity-{label}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cheap argon2: the suite tests the API, not hashing cost.
fn cheap_pool() -> PasswordPool {
    PasswordPool::builder()
        .hasher(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap())
        .build()
        .unwrap()
}

/// The same configuration for both starters, but for the address.
async fn config(addr: SocketAddr, outbox: &Path, fail: Arc<AtomicBool>) -> Config {
    let mut stores = Stores::connect("sqlite::memory:", None).await.unwrap();
    stores.revocations = Arc::new(Switchable {
        inner: stores.revocations,
        fail: fail.clone(),
    });
    stores.throttle = Arc::new(SwitchableThrottle {
        inner: stores.throttle,
        fail,
    });
    Config::new()
        .stores(stores)
        .public_url(format!("http://{addr}"))
        .secret_key([7u8; 32])
        .outbox(outbox)
        .password_pool(cheap_pool())
        .admin(ADMIN, Password::new(PASSWORD))
        // Each run sends its own `X-Forwarded-For` through 127.0.0.1, so
        // per-address limits never leak between scenarios.
        .trusted_proxies(TrustedProxies::parse("127.0.0.1").unwrap())
}

/// What a server thread hands back once it serves.
pub struct Ready {
    /// The starter's mailer (the fixture has none).
    mailer: Option<Mailer>,
    /// The fixture's read-only API key.
    key: Option<String>,
    /// Stops the server.
    stop: Box<dyn FnOnce() + Send>,
}

/// What a run serves: a starter, or the adapters' fixture app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serves {
    Starter,
    Fixture,
}

/// A server on 127.0.0.1, stopped when dropped.
struct Server {
    addr: SocketAddr,
    mailer: Option<Mailer>,
    key: Option<String>,
    stop: Option<Box<dyn FnOnce() + Send>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(starter: Starter, serves: Serves, outbox: &Path, fail: Arc<AtomicBool>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let outbox = outbox.to_owned();
        let (ready, started) = std::sync::mpsc::channel();
        let thread = match (serves, starter) {
            (Serves::Fixture, Starter::Axum) => {
                std::thread::spawn(move || fixture::axum_app::serve(listener, ready))
            }
            (Serves::Fixture, Starter::Actix) => {
                std::thread::spawn(move || fixture::actix_app::serve(listener, ready))
            }
            (Serves::Starter, Starter::Axum) => std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let app = tessera_example_axum::build(config(addr, &outbox, fail).await)
                        .await
                        .unwrap();
                    listener.set_nonblocking(true).unwrap();
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                    ready
                        .send(Ready {
                            mailer: Some(app.mailer().clone()),
                            key: None,
                            stop: Box::new(move || {
                                let _ = stop.send(());
                            }),
                        })
                        .unwrap();
                    let service = app
                        .router()
                        .into_make_service_with_connect_info::<SocketAddr>();
                    axum::serve(listener, service)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                        .unwrap();
                });
            }),
            (Serves::Starter, Starter::Actix) => std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let app = tessera_example_actix::build(config(addr, &outbox, fail).await)
                        .await
                        .unwrap();
                    let server = app.server(listener, 1).unwrap();
                    let handle = server.handle();
                    ready
                        .send(Ready {
                            mailer: Some(app.mailer().clone()),
                            key: None,
                            // The command is sent at once; the future only
                            // waits for it.
                            stop: Box::new(move || drop(handle.stop(false))),
                        })
                        .unwrap();
                    server.await.unwrap();
                });
            }),
        };
        let ready = started
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start");
        Self {
            addr,
            mailer: ready.mailer,
            key: ready.key,
            stop: Some(ready.stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One scenario's run against one starter, and its transcript.
pub struct Run {
    pub starter: Starter,
    server: Server,
    outbox: TempDir,
    fail: Arc<AtomicBool>,
    steps: Vec<(String, Observation)>,
    /// The client address this run's requests come from, through the
    /// trusted proxy 127.0.0.1.
    forwarded_for: String,
}

impl Run {
    fn start(starter: Starter, serves: Serves) -> Self {
        let outbox = TempDir::new("outbox");
        let fail = Arc::new(AtomicBool::new(false));
        let server = Server::start(starter, serves, outbox.path(), fail.clone());
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            starter,
            server,
            outbox,
            fail,
            steps: Vec::new(),
            forwarded_for: format!("198.18.{}.{}", (n / 250) % 250, n % 250 + 1),
        }
    }

    /// The client address this run's requests come from.
    pub fn forwarded_for(&self) -> String {
        self.forwarded_for.clone()
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The server's origin: what its CSRF check accepts.
    pub fn origin(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Sends `request` and records what came back under `label`.
    pub async fn send(&mut self, label: &str, mut request: Req) -> Res {
        if !request
            .headers
            .iter()
            .any(|(name, _)| name == "x-forwarded-for")
        {
            request = request.header("x-forwarded-for", &self.forwarded_for);
        }
        let res = http::send(self.server.addr, &request).await;
        self.steps.push((label.to_owned(), Observation::of(&res)));
        res
    }

    /// Sends `request`, records it, and asserts its status.
    pub async fn expect(&mut self, label: &str, request: Req, status: u16) -> Res {
        let res = self.send(label, request).await;
        assert_eq!(
            res.status,
            status,
            "{:?}, {label}: {} {:?}",
            self.starter,
            res.status,
            res.text()
        );
        res
    }

    /// As [`Run::expect`] for a JSON array of flat objects whose order the
    /// contract leaves open (accounts, listed by random id): the recorded
    /// body has its elements sorted.
    pub async fn expect_unordered(&mut self, label: &str, request: Req, status: u16) -> Res {
        let res = self.expect(label, request, status).await;
        let step = &mut self.steps.last_mut().expect("just recorded").1;
        if let Some(inner) = step
            .body
            .strip_prefix("[{")
            .and_then(|b| b.strip_suffix("}]"))
        {
            let mut items: Vec<&str> = inner.split("},{").collect();
            items.sort_unstable();
            step.body = format!("[{{{}}}]", items.join("},{"));
        }
        res
    }

    /// Sends `request`, records it, and asserts its status and exact body.
    pub async fn expect_json(
        &mut self,
        label: &str,
        request: Req,
        status: u16,
        body: Value,
    ) -> Res {
        let res = self.expect(label, request, status).await;
        assert_eq!(res.json(), body, "{:?}, {label}", self.starter);
        res
    }

    /// Records a fact a scenario derived (a count, an equality).
    pub fn note(&mut self, label: &str, fact: Value) {
        self.steps.push((
            label.to_owned(),
            Observation {
                status: 0,
                www_authenticate: None,
                cache_control: None,
                content_type: None,
                retry_after: None,
                location: None,
                cookies: Vec::new(),
                body: fact.to_string(),
            },
        ));
    }

    /// While `on`, the revocation store fails every call.
    pub fn fail_store(&self, on: bool) {
        self.fail.store(on, Ordering::SeqCst);
    }

    /// Registers `email` with [`PASSWORD`]; returns the account's id.
    pub async fn register(&mut self, email: &str) -> String {
        let res = self
            .expect(
                "register",
                Req::post("/auth/register").json(json!({"email": email, "password": PASSWORD})),
                201,
            )
            .await;
        res.str("id")
    }

    /// A password login for the token API; returns the token response.
    pub async fn login(&mut self, email: &str, password: &str) -> Res {
        self.expect(
            "login",
            Req::post("/auth/login").json(json!({"email": email, "password": password})),
            200,
        )
        .await
    }

    /// Registers `email` and logs it in: (id, access token, refresh token).
    pub async fn user(&mut self, email: &str) -> (String, String, String) {
        let id = self.register(email).await;
        let tokens = self.login(email, PASSWORD).await;
        (id, tokens.str("access_token"), tokens.str("refresh_token"))
    }

    /// A session login from our origin: (cookie value, CSRF token).
    pub async fn session(&mut self, email: &str) -> (String, String) {
        self.session_with(email, PASSWORD).await
    }

    /// A session login with `password`: (cookie value, CSRF token).
    pub async fn session_with(&mut self, email: &str, password: &str) -> (String, String) {
        let origin = self.origin();
        let res = self
            .expect(
                "session login",
                Req::post("/session/login")
                    .header("origin", origin)
                    .json(json!({"email": email, "password": password})),
                200,
            )
            .await;
        let cookie = res.session_cookie().expect("a session cookie");
        (cookie, res.str("csrf_token"))
    }

    /// The fixture's read-only API key.
    pub fn api_key(&self) -> String {
        self.server.key.clone().expect("the fixture's API key")
    }

    /// The messages in the outbox, after the mailer has written them.
    pub async fn outbox(&self) -> Vec<String> {
        if let Some(mailer) = &self.server.mailer {
            mailer.flush().await;
        }
        let mut messages: Vec<(PathBuf, String)> = std::fs::read_dir(self.outbox.path())
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                (path, text)
            })
            .collect();
        messages.sort();
        messages.into_iter().map(|(_, text)| text).collect()
    }
}

/// Runs each scenario of `$module` against both adapters' `$serves` and
/// compares their transcripts.
macro_rules! parity {
    ($serves:expr, $module:ident: $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let mut axum = Run::start(Starter::Axum, $serves);
                $module::$name(&mut axum).await;
                let mut actix = Run::start(Starter::Actix, $serves);
                $module::$name(&mut actix).await;
                compare(stringify!($name), &axum.steps, &actix.steps);
            }
        )*
    };
}

fn compare(scenario: &str, axum: &[(String, Observation)], actix: &[(String, Observation)]) {
    for (i, (a, b)) in axum.iter().zip(actix).enumerate() {
        assert_eq!(
            a, b,
            "{scenario}, step {i}: the adapters differ (left axum, right actix)"
        );
    }
    assert_eq!(
        axum.len(),
        actix.len(),
        "{scenario}: the adapters took different paths"
    );
    assert!(!axum.is_empty(), "{scenario} recorded nothing");
}

parity!(
    Serves::Starter,
    scenarios:
    health_jwks_and_fallbacks,
    request_bodies,
    registration,
    token_login,
    refresh_rotation_and_reuse,
    concurrent_refresh,
    logout_and_logout_all,
    me_with_every_credential,
    rejection_table,
    authorization_header_grammar,
    store_unavailable,
    password_change,
    api_keys,
    notes_and_scopes,
    admin_and_roles,
    session_cookie_and_fixation,
    session_csrf,
    csrf_provenance,
    session_logout_and_replay,
    password_reset,
);

parity!(
    Serves::Starter,
    throttle_scenarios:
    account_delay_and_unlock,
    address_limit_on_failed_logins,
    registration_and_reset_limits,
    step_up_is_throttled,
);

parity!(
    Serves::Fixture,
    fixture_scenarios:
    browser_mode,
    guard_combinations,
    fresh_login,
    optional_identity,
    exempt_form,
    forwarded_for_ignored_without_a_trusted_proxy,
);
