//! The `Auth` service at the core level: register, login, refresh, logout,
//! password change and reset, API keys, account administration and
//! `authenticate`, with the cases of SECURITY-CASES.md that need no HTTP
//! layer (A4, A5, B1, B2, C3, C11, C12, H1, H2, H9, I1, I3, I5, I6, J3, K1,
//! K4–K6; and throttling: B2, B5–B8, B11, B12, B16–B19, K7) and the
//! semantics of CONTRACTS.md §1.
//!
//! Every test runs on a [`ManualClock`] standing on a whole second, with
//! cheap argon2 parameters behind a hasher that counts its calls; faults come
//! from store wrappers that fail or stall on demand behind
//! [`Timeout`]. Nothing here asserts on timing.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use tessera_core::async_trait;
use tessera_core::auth::{Auth, AuthBuilder, AuthError, SessionIdentity, TokenPair};
use tessera_core::clock::{Clock, ManualClock};
use tessera_core::error::{ConfigError, CreateUserError, PasswordError, StoreError};
use tessera_core::identity::{AuthMethod, Credentials, Identity};
use tessera_core::jwt::{JwtKey, JwtKeySet, RevocationCheck, Revocations};
use tessera_core::memory::{
    MemoryOneTimeStore, MemoryRevocations, MemorySessionStore, MemoryTokenStore, MemoryUserStore,
};
use tessera_core::password::{
    Argon2Hasher, Argon2Params, Password, PasswordHasher, PasswordPool, PasswordVerifier,
    PolicyError, Scratch, Verified,
};
use tessera_core::session::{Moved, Session, SessionState, SessionStore};
use tessera_core::throttle::{Client, ThrottleConfig, ThrottleStore};
use tessera_core::timeout::Timeout;
use tessera_core::token::{
    Family, FamilyId, NewApiKey, RevokeScope, Rotation, Successor, TokenDigest, TokenId,
    TokenRecord, TokenStore,
};
use tessera_core::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "staple tractor lantern";
/// The deadline of every store call in the fault rig.
const DEADLINE: Duration = Duration::from_millis(200);

fn pw(password: &str) -> Password {
    Password::new(password)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn all_user_scopes() -> BTreeSet<String> {
    set(&["notes:read", "notes:write"])
}

/// Matches a result against an error pattern, printing what came instead.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}

// ---------------------------------------------------------------------------
// A hasher that counts what the pool asks of it.

#[derive(Default)]
struct Counts {
    hash: AtomicUsize,
    verify: AtomicUsize,
    dummy: AtomicUsize,
}

impl Counts {
    fn reset(&self) {
        self.hash.store(0, Ordering::SeqCst);
        self.verify.store(0, Ordering::SeqCst);
        self.dummy.store(0, Ordering::SeqCst);
    }

    /// (hashes, verifications, dummy verifications) since the last reset.
    fn get(&self) -> (usize, usize, usize) {
        (
            self.hash.load(Ordering::SeqCst),
            self.verify.load(Ordering::SeqCst),
            self.dummy.load(Ordering::SeqCst),
        )
    }
}

/// Argon2 with cheap parameters, counting every call.
struct CountingHasher {
    inner: Argon2Hasher,
    counts: Arc<Counts>,
}

impl PasswordHasher for CountingHasher {
    fn hash_password_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<String, PasswordError> {
        self.counts.hash.fetch_add(1, Ordering::SeqCst);
        self.inner.hash_password_with(password, scratch)
    }

    fn verify_dummy_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        self.counts.dummy.fetch_add(1, Ordering::SeqCst);
        self.inner.verify_dummy_with(password, scratch)
    }
}

impl PasswordVerifier for CountingHasher {
    fn verify_password_with(
        &self,
        password: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        self.counts.verify.fetch_add(1, Ordering::SeqCst);
        self.inner.verify_password_with(password, stored, scratch)
    }
}

fn pool(counts: Arc<Counts>) -> PasswordPool {
    let inner = Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap();
    PasswordPool::builder()
        .hasher(CountingHasher { inner, counts })
        .workers(1)
        .build()
        .unwrap()
}

fn jwt_keys() -> JwtKeySet {
    JwtKeySet::new(JwtKey::generate_ed25519(Some("k")).unwrap(), vec![]).unwrap()
}

/// Everything but the stores, the JWT keys and the secret.
fn base(clock: &ManualClock, counts: Arc<Counts>) -> AuthBuilder {
    Auth::builder()
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin("https://app.example.com")
        .role_scopes("user", ["notes:read", "notes:write"])
        .role_scopes("admin", ["admin:users"])
        .password_pool(pool(counts))
        .clock(Arc::new(clock.clone()))
}

/// Everything but the stores.
fn configured(clock: &ManualClock, counts: Arc<Counts>) -> AuthBuilder {
    base(clock, counts)
        .jwt_keys(jwt_keys())
        .secret_key([7u8; 32])
}

// ---------------------------------------------------------------------------
// The in-memory rig.

struct Rig {
    auth: Auth,
    clock: ManualClock,
    users: Arc<MemoryUserStore>,
    tokens: Arc<MemoryTokenStore>,
    counts: Arc<Counts>,
}

fn rig() -> Rig {
    let clock = ManualClock::default();
    let counts = Arc::new(Counts::default());
    let users = Arc::new(MemoryUserStore::new());
    let tokens = Arc::new(MemoryTokenStore::new());
    let auth = configured(&clock, counts.clone())
        .in_memory()
        .users(users.clone())
        .token_store(tokens.clone())
        .build()
        .unwrap();
    Rig {
        auth,
        clock,
        users,
        tokens,
        counts,
    }
}

impl Rig {
    async fn register(&self, email: &str) -> User {
        self.auth.register(email, &pw(PASSWORD)).await.unwrap()
    }

    async fn login(&self, email: &str) -> TokenPair {
        self.auth.login(email, &pw(PASSWORD), None).await.unwrap()
    }

    async fn login_session(&self, email: &str) -> Session {
        self.auth
            .login_session(None, email, &pw(PASSWORD), false, Some("test agent"))
            .await
            .unwrap()
    }

    async fn bearer(&self, token: &str) -> Result<Identity, AuthError> {
        let identity = self
            .auth
            .authenticate(&Credentials::Bearer(token.to_owned()))
            .await?;
        Ok(identity.unwrap())
    }

    async fn session(&self, session: &Session) -> Result<SessionIdentity, AuthError> {
        let cookie = session.id().expose_secret();
        Ok(self.auth.authenticate_session(cookie).await?.unwrap())
    }

    async fn user(&self, id: &UserId) -> User {
        self.users.find_by_id(id).await.unwrap().unwrap()
    }

    async fn api_key(&self, identity: &Identity, scopes: &[&str]) -> NewApiKey {
        self.auth
            .issue_api_key(identity, "ci", set(scopes))
            .await
            .unwrap()
    }

    async fn live_sessions(&self, id: &UserId) -> usize {
        self.auth.sessions().list(id, None).await.unwrap().len()
    }
}

fn key_of(key: &NewApiKey) -> &str {
    key.token.expose_secret()
}

// ---------------------------------------------------------------------------
// Register.

/// Register: a new account has the default roles `["user"]` and its email is
/// stored normalised.
#[tokio::test]
async fn register_gives_default_roles_and_a_normalised_email() {
    let rig = rig();
    let user = rig.register("  Alice@Example.COM ").await;
    assert_eq!(user.roles, set(&["user"]));
    assert_eq!(user.login.as_str(), ALICE);
    assert!(user.active);
    assert_eq!(user.created_at, rig.clock.now());

    let stored = rig.user(&user.id).await;
    assert_eq!(stored, user);
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=256,t=1,p=1$")
    );
    // The normalised address logs in.
    let pair = rig.login(ALICE).await;
    assert_eq!(pair.scopes, all_user_scopes());
}

/// Register: a taken email is `EmailTaken`, also when it differs only in
/// case and surrounding whitespace; no second account appears.
#[tokio::test]
async fn register_refuses_a_taken_email_even_after_normalisation() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    for again in [ALICE, "Alice@Example.com ", " ALICE@EXAMPLE.COM"] {
        let result = rig.auth.register(again, &pw(NEW_PASSWORD)).await;
        assert_err!(result, AuthError::EmailTaken);
    }
    assert_eq!(rig.users.len(), 1);
    // The original password is untouched.
    assert_eq!(rig.user(&alice.id).await.password_hash, alice.password_hash);
    assert_eq!(
        AuthError::EmailTaken.response().body,
        r#"{"error":"email_taken"}"#
    );
}

/// Register: a password the policy refuses is `WeakPassword` (422), nothing
/// is hashed and no account is created.
#[tokio::test]
async fn register_refuses_a_weak_password() {
    let rig = rig();
    rig.counts.reset();
    let result = rig.auth.register(ALICE, &pw("short")).await;
    let Err(AuthError::WeakPassword(policy)) = result else {
        panic!("expected WeakPassword, got {result:?}");
    };
    assert_eq!(policy, PolicyError::TooShort { min: 8, actual: 5 });
    assert_eq!(
        rig.counts.get(),
        (0, 0, 0),
        "no hash for a refused password"
    );
    assert!(rig.users.is_empty());
    let response = AuthError::WeakPassword(policy).response();
    assert_eq!(response.status, 422);
    assert_eq!(response.body, r#"{"error":"weak_password"}"#);
}

/// Register: an email that normalises to nothing or is over the length
/// limit is `InvalidRequest` (400); no account is created.
#[tokio::test]
async fn register_refuses_an_unusable_email() {
    let rig = rig();
    let too_long = format!("{}@example.com", "a".repeat(Login::MAX_LEN));
    for email in ["", "   ", "\t\n", too_long.as_str()] {
        let result = rig.auth.register(email, &pw(PASSWORD)).await;
        let Err(error @ AuthError::InvalidRequest(_)) = result else {
            panic!("expected InvalidRequest for {email:?}, got {result:?}");
        };
        assert_eq!(error.response().status, 400);
        assert_eq!(error.response().body, r#"{"error":"invalid_request"}"#);
    }
    assert!(rig.users.is_empty());
}

// ---------------------------------------------------------------------------
// Login: B1, B2, A4, A5, scopes.

/// B1: an unknown email, a wrong password and a disabled account (with its
/// right password) all fail with `InvalidCredentials`, and their responses
/// are byte-identical: status, headers and body.
#[tokio::test]
async fn b1_login_failures_are_one_error_with_identical_responses() {
    let rig = rig();
    rig.register(ALICE).await;
    let bob = rig.register(BOB).await;
    rig.auth.set_active(&bob.id, false).await.unwrap();

    let unknown = rig
        .auth
        .login("carol@example.com", &pw(PASSWORD), None)
        .await;
    let wrong = rig.auth.login(ALICE, &pw("wrong password!"), None).await;
    let disabled = rig.auth.login(BOB, &pw(PASSWORD), None).await;
    let mut responses = Vec::new();
    for result in [unknown, wrong, disabled] {
        let Err(error @ AuthError::InvalidCredentials) = result else {
            panic!("expected InvalidCredentials, got {result:?}");
        };
        responses.push(error.response());
    }
    assert_eq!(responses[0], responses[1]);
    assert_eq!(responses[0], responses[2]);
    let response = &responses[0];
    assert_eq!(response.status, 401);
    assert_eq!(response.www_authenticate, None);
    assert_eq!(response.retry_after, None);
    assert_eq!(response.body, r#"{"error":"invalid_credentials"}"#);
}

/// B2: with a counting hasher, an unknown email, a wrong password, a
/// disabled account and a malformed email each cost exactly one
/// verification-equivalent (a real or a dummy verification) and no hash.
#[tokio::test]
async fn b2_each_login_failure_costs_exactly_one_verification() {
    let rig = rig();
    rig.register(ALICE).await;
    let bob = rig.register(BOB).await;
    rig.auth.set_active(&bob.id, false).await.unwrap();

    // (email, password, expected (hash, verify, dummy))
    let cases = [
        ("carol@example.com", "correct horse battery", (0, 0, 1)),
        (ALICE, "wrong password!", (0, 1, 0)),
        (BOB, PASSWORD, (0, 0, 1)),
        ("   ", PASSWORD, (0, 0, 1)),
    ];
    for (email, password, expected) in cases {
        rig.counts.reset();
        let result = rig.auth.login(email, &pw(password), None).await;
        assert_err!(result, AuthError::InvalidCredentials);
        assert_eq!(rig.counts.get(), expected, "login as {email:?}");
        let (_, verify, dummy) = rig.counts.get();
        assert_eq!(verify + dummy, 1, "login as {email:?}");
    }

    // The control: a successful login costs one verification too.
    rig.counts.reset();
    rig.login(ALICE).await;
    assert_eq!(rig.counts.get(), (0, 1, 0));
}

/// B1 with A8: a password over the 4 KiB input limit is refused without
/// any hashing, and with one answer whether the account exists, is
/// disabled or is active (by login and by Basic); otherwise the answer
/// tells an attacker which emails have an active account.
#[tokio::test]
async fn b1_an_oversized_password_gets_one_answer_for_every_account() {
    let rig = rig();
    rig.register(ALICE).await;
    let bob = rig.register(BOB).await;
    rig.auth.set_active(&bob.id, false).await.unwrap();
    let huge = "x".repeat(5000);

    let mut logins = Vec::new();
    let mut basics = Vec::new();
    for email in [ALICE, "carol@example.com", BOB] {
        rig.counts.reset();
        let result = rig.auth.login(email, &pw(&huge), None).await;
        let Err(error) = result else {
            panic!("login as {email} with a huge password: {result:?}");
        };
        logins.push(error.response());
        let basic = Credentials::Basic {
            login: email.to_owned(),
            password: pw(&huge),
        };
        let result = rig.auth.authenticate(&basic).await;
        let Err(error) = result else {
            panic!("Basic as {email} with a huge password: {result:?}");
        };
        basics.push(error.response());
        assert_eq!(rig.counts.get(), (0, 0, 0), "nothing hashed for {email}");
    }
    assert_eq!(logins[0], logins[1], "active vs unknown (login)");
    assert_eq!(logins[0], logins[2], "active vs disabled (login)");
    assert_eq!(basics[0], basics[1], "active vs unknown (Basic)");
    assert_eq!(basics[0], basics[2], "active vs disabled (Basic)");
}

/// A4: a correct password against a stored hash below the current
/// parameters logs in, and the stored hash is replaced by one with the
/// pool's parameters; the password change time stays.
#[tokio::test]
async fn a4_login_upgrades_a_weaker_stored_hash() {
    let rig = rig();
    let old_hash = Argon2Hasher::new(Argon2Params::new(128, 1, 1))
        .unwrap()
        .hash_password(&pw(PASSWORD))
        .unwrap();
    assert!(old_hash.starts_with("$argon2id$v=19$m=128,t=1,p=1$"));
    let user = rig
        .users
        .create(
            NewUser::new(Login::parse(ALICE).unwrap(), old_hash.clone()).with_roles(["user"]),
            rig.clock.now(),
        )
        .await
        .unwrap();

    rig.clock.advance(Duration::from_secs(60));
    let pair = rig.login(ALICE).await;
    assert_eq!(pair.scopes, all_user_scopes());

    let stored = rig.user(&user.id).await;
    assert_ne!(stored.password_hash, old_hash);
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
        "rehashed with the current parameters"
    );
    assert_eq!(stored.password_changed_at, user.password_changed_at);
    // The new hash holds the same password, and needs no further upgrade.
    rig.counts.reset();
    rig.login(ALICE).await;
    assert_eq!(rig.counts.get(), (0, 1, 0), "no second rehash");
    assert_eq!(rig.user(&user.id).await.password_hash, stored.password_hash);
}

/// A5: when the rehash write fails, the login still succeeds and the old
/// hash stays as it was.
#[tokio::test]
async fn a5_a_failed_rehash_write_does_not_fail_the_login() {
    let rig = fault_rig();
    let old_hash = Argon2Hasher::new(Argon2Params::new(128, 1, 1))
        .unwrap()
        .hash_password(&pw(PASSWORD))
        .unwrap();
    let user = rig
        .users
        .create(
            NewUser::new(Login::parse(ALICE).unwrap(), old_hash.clone()).with_roles(["user"]),
            rig.clock.now(),
        )
        .await
        .unwrap();
    rig.user_faults
        .fail_password_update
        .store(true, Ordering::SeqCst);

    let pair = rig.auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
    assert_eq!(pair.scopes, all_user_scopes());
    let identity = rig
        .auth
        .authenticate(&Credentials::Bearer(pair.access_token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.subject, user.id);
    // A rehash was attempted (and failed), so the test cannot pass vacuously.
    assert_eq!(rig.user_faults.password_updates.load(Ordering::SeqCst), 1);
    let stored = rig.users.find_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, old_hash);
}

/// Login with a scope request: a subset of what the roles allow is granted
/// exactly, in the pair and in the access token.
#[tokio::test]
async fn login_with_a_scope_subset_grants_that_subset() {
    let rig = rig();
    rig.register(ALICE).await;
    let pair = rig
        .auth
        .login(ALICE, &pw(PASSWORD), Some("notes:read"))
        .await
        .unwrap();
    assert_eq!(pair.scopes, set(&["notes:read"]));
    assert_eq!(pair.scope(), "notes:read");
    assert_eq!(pair.expires_in, 900);
    let identity = rig.bearer(&pair.access_token).await.unwrap();
    assert_eq!(identity.scopes, set(&["notes:read"]));
    assert_eq!(identity.roles, set(&["user"]));

    // A refresh keeps the narrowed grant.
    let refreshed = rig.auth.refresh(&pair.refresh_token).await.unwrap();
    assert_eq!(refreshed.scopes, set(&["notes:read"]));

    // Without a request, everything the roles allow, in sorted order.
    let full = rig.login(ALICE).await;
    assert_eq!(full.scope(), "notes:read notes:write");
}

/// Login with a scope the roles do not allow: `InvalidScope` (400
/// `invalid_scope`), and no refresh token is stored.
#[tokio::test]
async fn login_with_a_scope_outside_the_roles_is_invalid_scope() {
    let rig = rig();
    rig.register(ALICE).await;
    let before = rig.tokens.digests().len();
    for scope in ["admin:users", "notes:read admin:users", "notes:Read"] {
        let result = rig.auth.login(ALICE, &pw(PASSWORD), Some(scope)).await;
        assert_err!(result, AuthError::InvalidScope);
    }
    assert_eq!(rig.tokens.digests().len(), before);
    let response = AuthError::InvalidScope.response();
    assert_eq!(response.status, 400);
    assert_eq!(response.body, r#"{"error":"invalid_scope"}"#);
}

// ---------------------------------------------------------------------------
// Authenticate.

/// Authenticate a bearer JWT from a password login: the account, its roles
/// and scopes, the login's family, and `fresh` with the login time.
#[tokio::test]
async fn bearer_jwt_from_a_password_login_is_fresh() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let identity = rig.bearer(&pair.access_token).await.unwrap();
    assert_eq!(identity.subject, alice.id);
    assert_eq!(identity.method, AuthMethod::Jwt);
    assert_eq!(identity.roles, set(&["user"]));
    assert_eq!(identity.scopes, all_user_scopes());
    assert!(identity.fresh);
    assert_eq!(identity.authenticated_at, Some(rig.clock.now()));
    assert!(identity.token_id.is_some());
    assert!(identity.family.is_some());
    // A second request (served from the verified cache) answers the same.
    assert_eq!(rig.bearer(&pair.access_token).await.unwrap(), identity);
    // The cache does not outlive the token: refused at `exp`.
    rig.clock.advance(Duration::from_secs(pair.expires_in));
    assert_err!(
        rig.bearer(&pair.access_token).await,
        AuthError::InvalidToken
    );
}

/// Authenticate a JWT minted by a refresh: same account and family, but not
/// fresh and without a password time.
#[tokio::test]
async fn bearer_jwt_from_a_refresh_is_not_fresh() {
    let rig = rig();
    rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let login = rig.bearer(&pair.access_token).await.unwrap();
    rig.clock.advance(Duration::from_secs(60));
    let refreshed = rig.auth.refresh(&pair.refresh_token).await.unwrap();
    let identity = rig.bearer(&refreshed.access_token).await.unwrap();
    assert_eq!(identity.subject, login.subject);
    assert_eq!(identity.family, login.family);
    assert_eq!(identity.scopes, all_user_scopes());
    assert!(!identity.fresh);
    assert_eq!(identity.authenticated_at, None);
}

/// Authenticate an API key: method `ApiKey`, never fresh, scopes the key's
/// intersected with what the account's roles allow now; removing a role
/// removes its scopes from the key's next request.
#[tokio::test]
async fn api_key_identity_follows_the_current_roles() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    rig.auth
        .set_roles(&alice.id, &set(&["admin", "user"]))
        .await
        .unwrap();
    let login = rig
        .bearer(&rig.login(ALICE).await.access_token)
        .await
        .unwrap();
    let key = rig.api_key(&login, &["notes:read", "admin:users"]).await;

    let identity = rig.bearer(key_of(&key)).await.unwrap();
    assert_eq!(identity.subject, alice.id);
    assert_eq!(identity.method, AuthMethod::ApiKey);
    assert!(!identity.fresh);
    assert_eq!(identity.roles, set(&["admin", "user"]));
    // The key's scopes, not everything the roles allow.
    assert_eq!(identity.scopes, set(&["admin:users", "notes:read"]));
    assert_eq!(identity.token_id.as_deref(), Some(key.record.id.as_str()));

    rig.auth
        .set_roles(&alice.id, &set(&["user"]))
        .await
        .unwrap();
    let identity = rig.bearer(key_of(&key)).await.unwrap();
    assert_eq!(identity.roles, set(&["user"]));
    assert_eq!(identity.scopes, set(&["notes:read"]));
    // The stored grant is unchanged: the narrowing is applied per request.
    let listed = rig.auth.list_api_keys(&alice.id).await.unwrap();
    assert_eq!(listed[0].scopes, set(&["admin:users", "notes:read"]));
}

/// Authenticate Basic: fresh, with every scope the roles allow; a wrong
/// Basic password is `InvalidBasic`, whose response challenges with
/// `Basic realm="tessera"`.
#[tokio::test]
async fn basic_is_fresh_and_a_wrong_basic_password_is_invalid_basic() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let basic = |login: &str, password: &str| Credentials::Basic {
        login: login.to_owned(),
        password: pw(password),
    };
    let identity = rig
        .auth
        .authenticate(&basic(" Alice@Example.com", PASSWORD))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.subject, alice.id);
    assert_eq!(identity.method, AuthMethod::Basic);
    assert!(identity.fresh);
    assert_eq!(identity.scopes, all_user_scopes());

    for (login, password) in [(ALICE, "wrong password!"), ("carol@example.com", PASSWORD)] {
        let result = rig.auth.authenticate(&basic(login, password)).await;
        let Err(error @ AuthError::InvalidBasic) = result else {
            panic!("expected InvalidBasic, got {result:?}");
        };
        let response = error.response();
        assert_eq!(response.status, 401);
        assert_eq!(
            response.www_authenticate.as_deref(),
            Some("Basic realm=\"tessera\"")
        );
        assert_eq!(response.body, r#"{"error":"invalid_credentials"}"#);
    }
}

/// Authenticate a garbage bearer token (JWT-shaped or API-key-shaped):
/// `InvalidToken`, never anonymous.
#[tokio::test]
async fn garbage_bearer_is_invalid_token() {
    let rig = rig();
    rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let tampered = format!("{}x", pair.access_token);
    for token in [
        "garbage",
        "a.b.c",
        "tsk_garbage",
        pair.refresh_token.as_str(),
        tampered.as_str(),
    ] {
        let result = rig.bearer(token).await;
        assert_err!(result, AuthError::InvalidToken);
    }
    let response = AuthError::InvalidToken.response();
    assert_eq!(response.status, 401);
    assert_eq!(
        response.www_authenticate.as_deref(),
        Some("Bearer realm=\"tessera\", error=\"invalid_token\"")
    );
}

// ---------------------------------------------------------------------------
// Refresh: H1, H2, H9.

/// H1/H2: a refresh gives a new pair and uses the old refresh token up;
/// presenting it again is `InvalidGrant` and revokes the family, so every
/// access and refresh token of that login is refused, while another login's
/// are not.
#[tokio::test]
async fn h1_h2_refresh_rotates_and_reuse_revokes_the_family() {
    let rig = rig();
    rig.register(ALICE).await;
    let first = rig.login(ALICE).await;
    let other = rig.login(ALICE).await;
    rig.clock.advance(Duration::from_secs(60));

    let second = rig.auth.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.scopes, first.scopes);
    rig.bearer(&first.access_token).await.unwrap();
    rig.bearer(&second.access_token).await.unwrap();

    // Reuse of the used-up token.
    assert_err!(
        rig.auth.refresh(&first.refresh_token).await,
        AuthError::InvalidGrant
    );
    assert_err!(
        rig.bearer(&first.access_token).await,
        AuthError::InvalidToken
    );
    assert_err!(
        rig.bearer(&second.access_token).await,
        AuthError::InvalidToken
    );
    assert_err!(
        rig.auth.refresh(&second.refresh_token).await,
        AuthError::InvalidGrant
    );

    // The other login is another family.
    rig.bearer(&other.access_token).await.unwrap();
    rig.auth.refresh(&other.refresh_token).await.unwrap();

    let response = AuthError::InvalidGrant.response();
    assert_eq!(response.status, 401);
    assert_eq!(response.body, r#"{"error":"invalid_grant"}"#);
}

/// H9: a refresh is refused once the account is deactivated, and stays
/// refused after it is reactivated.
#[tokio::test]
async fn h9_refresh_is_refused_after_deactivation() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    rig.auth.set_active(&alice.id, false).await.unwrap();
    assert_err!(
        rig.auth.refresh(&pair.refresh_token).await,
        AuthError::InvalidGrant
    );
    rig.auth.set_active(&alice.id, true).await.unwrap();
    assert_err!(
        rig.auth.refresh(&pair.refresh_token).await,
        AuthError::InvalidGrant
    );
}

/// H9: a refresh is refused after a password change, for a login older than
/// the change.
#[tokio::test]
async fn h9_refresh_is_refused_after_a_password_change() {
    let rig = rig();
    rig.register(ALICE).await;
    let older = rig.login(ALICE).await;
    let pair = rig.login(ALICE).await;
    let identity = rig.bearer(&pair.access_token).await.unwrap();
    let changed = rig
        .auth
        .change_password(&identity, None, &pw(PASSWORD), &pw(NEW_PASSWORD))
        .await
        .unwrap();
    for token in [&older.refresh_token, &pair.refresh_token] {
        assert_err!(rig.auth.refresh(token).await, AuthError::InvalidGrant);
    }
    // The pair the change returned refreshes.
    rig.auth
        .refresh(&changed.tokens.refresh_token)
        .await
        .unwrap();
}

/// Refresh after an administrator removed a role: the new pair has only
/// the scopes the remaining roles allow, and the new access token the
/// current roles.
#[tokio::test]
async fn refresh_narrows_scopes_after_a_role_is_removed() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    rig.auth
        .set_roles(&alice.id, &set(&["admin", "user"]))
        .await
        .unwrap();
    let pair = rig.login(ALICE).await;
    assert_eq!(
        pair.scopes,
        set(&["admin:users", "notes:read", "notes:write"])
    );

    rig.auth
        .set_roles(&alice.id, &set(&["user"]))
        .await
        .unwrap();
    // The JWT keeps its roles until refreshed (documented bound).
    let before = rig.bearer(&pair.access_token).await.unwrap();
    assert!(before.has_role("admin"));

    let refreshed = rig.auth.refresh(&pair.refresh_token).await.unwrap();
    assert_eq!(refreshed.scopes, all_user_scopes());
    let identity = rig.bearer(&refreshed.access_token).await.unwrap();
    assert_eq!(identity.scopes, all_user_scopes());
    assert_eq!(identity.roles, set(&["user"]));
    // Putting the role back does not widen the family again.
    rig.auth
        .set_roles(&alice.id, &set(&["admin", "user"]))
        .await
        .unwrap();
    let again = rig.auth.refresh(&refreshed.refresh_token).await.unwrap();
    assert_eq!(again.scopes, all_user_scopes());
}

// ---------------------------------------------------------------------------
// Logout and logout-all.

/// Logout with a JWT ends that login's access and refresh tokens, not those
/// of another login of the same account; logout with an API key ends
/// nothing; logout with a session ends that session only.
#[tokio::test]
async fn logout_ends_that_logins_tokens_only() {
    let rig = rig();
    rig.register(ALICE).await;
    let one = rig.login(ALICE).await;
    let two = rig.login(ALICE).await;
    let identity = rig.bearer(&one.access_token).await.unwrap();
    let key = rig.api_key(&identity, &["notes:read"]).await;

    rig.auth.logout(&identity, None).await.unwrap();
    assert_err!(rig.bearer(&one.access_token).await, AuthError::InvalidToken);
    assert_err!(
        rig.auth.refresh(&one.refresh_token).await,
        AuthError::InvalidGrant
    );
    rig.bearer(&two.access_token).await.unwrap();

    let key_identity = rig.bearer(key_of(&key)).await.unwrap();
    rig.auth.logout(&key_identity, None).await.unwrap();
    rig.bearer(key_of(&key)).await.unwrap();
    rig.bearer(&two.access_token).await.unwrap();
    rig.auth.refresh(&two.refresh_token).await.unwrap();

    // A session logout ends that session only.
    let s1 = rig.login_session(ALICE).await;
    let s2 = rig.login_session(ALICE).await;
    let resolved = rig.session(&s1).await.unwrap();
    rig.auth
        .logout(&resolved.identity, Some(resolved.session))
        .await
        .unwrap();
    assert_err!(rig.session(&s1).await, AuthError::SessionEnded);
    rig.session(&s2).await.unwrap();
}

/// Logout-all ends every access token, refresh token and session of the
/// account (those minted in the same second included), but its API keys
/// keep working, and other accounts are untouched.
#[tokio::test]
async fn logout_all_ends_tokens_and_sessions_but_not_api_keys() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    rig.register(BOB).await;
    let one = rig.login(ALICE).await;
    let identity = rig.bearer(&one.access_token).await.unwrap();
    let key = rig.api_key(&identity, &["notes:read"]).await;
    rig.clock.advance(Duration::from_secs(1));
    let two = rig.login(ALICE).await;
    let s1 = rig.login_session(ALICE).await;
    let s2 = rig.login_session(ALICE).await;
    let bob = rig.login(BOB).await;
    let bob_session = rig.login_session(BOB).await;
    assert_eq!(rig.live_sessions(&alice.id).await, 2);

    rig.auth.logout_all(&alice.id).await.unwrap();

    for pair in [&one, &two] {
        assert_err!(
            rig.bearer(&pair.access_token).await,
            AuthError::InvalidToken
        );
        assert_err!(
            rig.auth.refresh(&pair.refresh_token).await,
            AuthError::InvalidGrant
        );
    }
    for session in [&s1, &s2] {
        assert_err!(rig.session(session).await, AuthError::SessionEnded);
    }
    assert_eq!(rig.live_sessions(&alice.id).await, 0);
    let key_identity = rig.bearer(key_of(&key)).await.unwrap();
    assert_eq!(key_identity.subject, alice.id);
    assert_eq!(rig.auth.list_api_keys(&alice.id).await.unwrap().len(), 1);

    rig.bearer(&bob.access_token).await.unwrap();
    rig.session(&bob_session).await.unwrap();
    // A new login after logout-all works.
    let three = rig.login(ALICE).await;
    rig.bearer(&three.access_token).await.unwrap();
}

// ---------------------------------------------------------------------------
// Change password: freshness, C11.

/// Change password needs a fresh identity: one minted by a refresh, an API
/// key, or a session past its freshness window get `FreshLoginRequired`
/// (401 `fresh_login_required`) and the password stays.
#[tokio::test]
async fn change_password_requires_a_fresh_identity() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let key = rig
        .api_key(
            &rig.bearer(&pair.access_token).await.unwrap(),
            &["notes:read"],
        )
        .await;
    let session = rig.login_session(ALICE).await;
    rig.clock.advance(Duration::from_secs(11 * 60));
    let refreshed = rig.auth.refresh(&pair.refresh_token).await.unwrap();

    let stale = rig.session(&session).await.unwrap();
    assert!(!stale.identity.fresh);
    let identities = [
        (rig.bearer(&refreshed.access_token).await.unwrap(), None),
        (rig.bearer(key_of(&key)).await.unwrap(), None),
        (stale.identity, Some(stale.session)),
    ];
    for (identity, session) in identities {
        let result = rig
            .auth
            .change_password(&identity, session, &pw(PASSWORD), &pw(NEW_PASSWORD))
            .await;
        let Err(error @ AuthError::FreshLoginRequired) = result else {
            panic!("expected FreshLoginRequired, got {result:?}");
        };
        assert_eq!(error.response().status, 401);
        assert_eq!(error.response().body, r#"{"error":"fresh_login_required"}"#);
    }
    assert_eq!(rig.user(&alice.id).await.password_hash, alice.password_hash);
    rig.bearer(&refreshed.access_token).await.unwrap();
}

/// Change password with a wrong current password: `InvalidCredentials`,
/// nothing changes and nothing is revoked; a weak new one: `WeakPassword`.
#[tokio::test]
async fn change_password_with_a_wrong_current_password_is_refused() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let identity = rig.bearer(&pair.access_token).await.unwrap();

    let result = rig
        .auth
        .change_password(&identity, None, &pw("wrong password!"), &pw(NEW_PASSWORD))
        .await;
    assert_err!(result, AuthError::InvalidCredentials);
    let result = rig
        .auth
        .change_password(&identity, None, &pw(PASSWORD), &pw("short"))
        .await;
    assert_err!(result, AuthError::WeakPassword(_));

    let stored = rig.user(&alice.id).await;
    assert_eq!(stored.password_hash, alice.password_hash);
    assert_eq!(stored.password_changed_at, alice.password_changed_at);
    rig.bearer(&pair.access_token).await.unwrap();
    rig.login(ALICE).await;
}

/// C11: with three sessions, a password change from one of them rotates and
/// keeps that session (its old id dead) and ends the other two; every
/// earlier access token (one from an earlier second and one from the same
/// second) and refresh token is refused; the returned pair and the API
/// keys work; the old password no longer logs in and the new one does.
#[tokio::test]
async fn c11_change_password_keeps_the_callers_session_and_ends_the_rest() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let s1 = rig.login_session(ALICE).await;
    let s2 = rig.login_session(ALICE).await;
    let s3 = rig.login_session(ALICE).await;
    let earlier = rig.login(ALICE).await;
    rig.clock.advance(Duration::from_secs(1));
    let same_second = rig.login(ALICE).await;
    // Both verified once, so the cache holds them.
    rig.bearer(&earlier.access_token).await.unwrap();
    rig.bearer(&same_second.access_token).await.unwrap();

    let key = rig
        .api_key(
            &rig.bearer(&earlier.access_token).await.unwrap(),
            &["notes:read"],
        )
        .await;
    let caller = rig.session(&s1).await.unwrap();
    assert!(caller.identity.fresh);
    assert!(!caller.rotated);
    let changed = rig
        .auth
        .change_password(
            &caller.identity,
            Some(caller.session.clone()),
            &pw(PASSWORD),
            &pw(NEW_PASSWORD),
        )
        .await
        .unwrap();

    // The caller's session: rotated and kept.
    let kept = changed.session.unwrap();
    assert_ne!(kept.id(), s1.id());
    assert_eq!(kept.subject(), Some(alice.id.clone()));
    let resumed = rig.session(&kept).await.unwrap();
    assert_eq!(resumed.identity.subject, alice.id);
    assert!(resumed.identity.fresh);
    for dead in [&s1, &s2, &s3] {
        assert_err!(rig.session(dead).await, AuthError::SessionEnded);
    }
    let live = rig.auth.sessions().list(&alice.id, None).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].handle, kept.handle());

    // Earlier tokens are dead, the returned pair is alive.
    for pair in [&earlier, &same_second] {
        assert_err!(
            rig.bearer(&pair.access_token).await,
            AuthError::InvalidToken
        );
        assert_err!(
            rig.auth.refresh(&pair.refresh_token).await,
            AuthError::InvalidGrant
        );
    }
    let fresh = rig.bearer(&changed.tokens.access_token).await.unwrap();
    assert!(fresh.fresh);
    assert_eq!(fresh.scopes, all_user_scopes());
    assert_eq!(changed.tokens.scopes, all_user_scopes());
    // API keys stay (CONTRACTS.md §1).
    rig.bearer(key_of(&key)).await.unwrap();

    // The stored password is the new one.
    let stored = rig.user(&alice.id).await;
    assert_ne!(stored.password_hash, alice.password_hash);
    assert_eq!(stored.password_changed_at, rig.clock.now());
    assert_err!(
        rig.auth.login(ALICE, &pw(PASSWORD), None).await,
        AuthError::InvalidCredentials
    );
    rig.auth
        .login(ALICE, &pw(NEW_PASSWORD), None)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------
// Password reset: I1, I3, I5, I6.

/// I5: a reset request for an unknown, malformed or disabled address is
/// `Ok(None)`; for a known one (in any case) `Ok(Some)` with the account
/// and a token. Both are `Ok`, so the caller answers the same.
#[tokio::test]
async fn i5_reset_request_is_ok_for_unknown_and_known_emails() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let bob = rig.register(BOB).await;
    rig.auth.set_active(&bob.id, false).await.unwrap();

    for email in ["carol@example.com", "", BOB] {
        let answer = rig.auth.request_password_reset(email).await.unwrap();
        assert!(answer.is_none(), "{email:?}");
    }
    let (user, token) = rig
        .auth
        .request_password_reset(" ALICE@example.com ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.id, alice.id);
    assert!(!token.expose_secret().is_empty());
    // A request changes nothing.
    assert_eq!(rig.user(&alice.id).await, alice);
}

/// Reset confirm with a weak password: `WeakPassword`, the password is
/// unchanged and the token still works afterwards.
#[tokio::test]
async fn reset_with_a_weak_password_keeps_the_token_usable() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let (_, token) = rig
        .auth
        .request_password_reset(ALICE)
        .await
        .unwrap()
        .unwrap();
    let result = rig
        .auth
        .confirm_password_reset(token.expose_secret(), &pw("short"))
        .await;
    assert_err!(result, AuthError::WeakPassword(_));
    assert_eq!(rig.user(&alice.id).await.password_hash, alice.password_hash);

    rig.auth
        .confirm_password_reset(token.expose_secret(), &pw(NEW_PASSWORD))
        .await
        .unwrap();
    rig.auth
        .login(ALICE, &pw(NEW_PASSWORD), None)
        .await
        .unwrap();
}

/// I1: a reset token works once; the second use is `InvalidOneTimeToken`
/// (400 `invalid_token`) and does not change the password again. A garbage
/// token is refused the same way.
#[tokio::test]
async fn i1_a_reset_token_works_once() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let (_, token) = rig
        .auth
        .request_password_reset(ALICE)
        .await
        .unwrap()
        .unwrap();
    rig.auth
        .confirm_password_reset(token.expose_secret(), &pw(NEW_PASSWORD))
        .await
        .unwrap();
    let after_first = rig.user(&alice.id).await.password_hash;

    let result = rig
        .auth
        .confirm_password_reset(token.expose_secret(), &pw("a third password"))
        .await;
    let Err(error @ AuthError::InvalidOneTimeToken) = result else {
        panic!("expected InvalidOneTimeToken, got {result:?}");
    };
    assert_eq!(error.response().status, 400);
    assert_eq!(error.response().body, r#"{"error":"invalid_token"}"#);
    assert_eq!(rig.user(&alice.id).await.password_hash, after_first);
    assert_err!(
        rig.auth
            .confirm_password_reset("tsp_garbage", &pw("a third password"))
            .await,
        AuthError::InvalidOneTimeToken
    );

    assert_err!(
        rig.auth.login(ALICE, &pw(PASSWORD), None).await,
        AuthError::InvalidCredentials
    );
    rig.auth
        .login(ALICE, &pw(NEW_PASSWORD), None)
        .await
        .unwrap();
}

/// I6: a completed reset ends every session, access token, refresh token
/// and API key of the account, and logs nobody in.
#[tokio::test]
async fn i6_reset_ends_everything_and_logs_nobody_in() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let key = rig
        .api_key(
            &rig.bearer(&pair.access_token).await.unwrap(),
            &["notes:read"],
        )
        .await;
    let s1 = rig.login_session(ALICE).await;
    let s2 = rig.login_session(ALICE).await;
    let (_, token) = rig
        .auth
        .request_password_reset(ALICE)
        .await
        .unwrap()
        .unwrap();
    let last_login = rig.user(&alice.id).await.last_login_at;
    assert!(last_login.is_some());

    rig.clock.advance(Duration::from_secs(60));
    rig.auth
        .confirm_password_reset(token.expose_secret(), &pw(NEW_PASSWORD))
        .await
        .unwrap();

    for session in [&s1, &s2] {
        assert_err!(rig.session(session).await, AuthError::SessionEnded);
    }
    assert_err!(
        rig.bearer(&pair.access_token).await,
        AuthError::InvalidToken
    );
    assert_err!(
        rig.auth.refresh(&pair.refresh_token).await,
        AuthError::InvalidGrant
    );
    assert_err!(rig.bearer(key_of(&key)).await, AuthError::InvalidToken);

    // State: no session, no key, no login recorded by the reset.
    assert_eq!(rig.live_sessions(&alice.id).await, 0);
    assert!(rig.auth.list_api_keys(&alice.id).await.unwrap().is_empty());
    let stored = rig.user(&alice.id).await;
    assert_eq!(stored.last_login_at, last_login);
    assert_eq!(stored.password_changed_at, rig.clock.now());
    rig.auth
        .login(ALICE, &pw(NEW_PASSWORD), None)
        .await
        .unwrap();
}

/// I3: a reset token issued before a password change is refused, and the
/// changed password stays.
#[tokio::test]
async fn i3_a_reset_token_from_before_a_password_change_is_refused() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let (_, token) = rig
        .auth
        .request_password_reset(ALICE)
        .await
        .unwrap()
        .unwrap();
    let identity = rig
        .bearer(&rig.login(ALICE).await.access_token)
        .await
        .unwrap();
    rig.auth
        .change_password(&identity, None, &pw(PASSWORD), &pw(NEW_PASSWORD))
        .await
        .unwrap();
    let changed = rig.user(&alice.id).await.password_hash;

    let result = rig
        .auth
        .confirm_password_reset(token.expose_secret(), &pw("a third password"))
        .await;
    assert_err!(result, AuthError::InvalidOneTimeToken);
    assert_eq!(rig.user(&alice.id).await.password_hash, changed);
    rig.auth
        .login(ALICE, &pw(NEW_PASSWORD), None)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------
// API keys.

/// Issuing an API key needs a fresh identity: a refresh-minted JWT or an
/// API key get `FreshLoginRequired`, and nothing is issued.
#[tokio::test]
async fn api_key_issue_requires_a_fresh_identity() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let key = rig
        .api_key(
            &rig.bearer(&pair.access_token).await.unwrap(),
            &["notes:read"],
        )
        .await;
    let refreshed = rig.auth.refresh(&pair.refresh_token).await.unwrap();
    for token in [refreshed.access_token.as_str(), key_of(&key)] {
        let identity = rig.bearer(token).await.unwrap();
        let result = rig
            .auth
            .issue_api_key(&identity, "another", set(&["notes:read"]))
            .await;
        assert_err!(result, AuthError::FreshLoginRequired);
    }
    assert_eq!(rig.auth.list_api_keys(&alice.id).await.unwrap().len(), 1);
}

/// Issuing an API key with a scope the roles do not allow:
/// `ScopeNotAllowed` with the scope, answered 403 `{"error":"forbidden"}`;
/// nothing is issued.
#[tokio::test]
async fn api_key_scope_outside_the_roles_is_forbidden() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let identity = rig
        .bearer(&rig.login(ALICE).await.access_token)
        .await
        .unwrap();
    let result = rig
        .auth
        .issue_api_key(&identity, "ci", set(&["notes:read", "admin:users"]))
        .await;
    let Err(AuthError::ScopeNotAllowed(scope)) = result else {
        panic!("expected ScopeNotAllowed, got {result:?}");
    };
    assert_eq!(scope, "admin:users");
    let response = AuthError::ScopeNotAllowed(scope).response();
    assert_eq!(response.status, 403);
    assert_eq!(response.www_authenticate, None);
    assert_eq!(response.body, r#"{"error":"forbidden"}"#);
    assert!(rig.auth.list_api_keys(&alice.id).await.unwrap().is_empty());
}

/// API keys are listed for their owner; another account's revoke is
/// `NotFound` (404) and leaves the key working; the owner's revoke ends it.
#[tokio::test]
async fn api_keys_are_listed_and_revoked_only_by_their_owner() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let bob = rig.register(BOB).await;
    let identity = rig
        .bearer(&rig.login(ALICE).await.access_token)
        .await
        .unwrap();
    let key = rig.api_key(&identity, &["notes:read"]).await;
    assert!(key_of(&key).starts_with("tsk_"));

    let listed = rig.auth.list_api_keys(&alice.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, key.record.id);
    assert_eq!(listed[0].name.as_deref(), Some("ci"));
    assert_eq!(listed[0].scopes, set(&["notes:read"]));
    assert!(rig.auth.list_api_keys(&bob.id).await.unwrap().is_empty());

    let id = key.record.id.as_str();
    let result = rig.auth.revoke_api_key(&bob.id, id).await;
    let Err(error @ AuthError::NotFound) = result else {
        panic!("expected NotFound, got {result:?}");
    };
    assert_eq!(error.response().status, 404);
    rig.bearer(key_of(&key)).await.unwrap();
    assert_err!(
        rig.auth.revoke_api_key(&alice.id, "no-such-key").await,
        AuthError::NotFound
    );

    rig.auth.revoke_api_key(&alice.id, id).await.unwrap();
    assert_err!(rig.bearer(key_of(&key)).await, AuthError::InvalidToken);
    assert!(rig.auth.list_api_keys(&alice.id).await.unwrap().is_empty());
    assert_err!(
        rig.auth.revoke_api_key(&alice.id, id).await,
        AuthError::NotFound
    );
}

// ---------------------------------------------------------------------------
// Administration: C3/J3, C12.

/// C3/J3: a role change shows on a session's next request, which rotates
/// its id (`rotated == true`, the old id dead); removing a role removes its
/// scopes the same way.
#[tokio::test]
async fn c3_j3_a_role_change_applies_to_a_session_on_its_next_request() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let session = rig.login_session(ALICE).await;
    let first = rig.session(&session).await.unwrap();
    assert!(!first.rotated);
    assert_eq!(first.identity.roles, set(&["user"]));
    assert_eq!(first.identity.method, AuthMethod::Session);

    let user = rig
        .auth
        .set_roles(&alice.id, &set(&["admin", "user"]))
        .await
        .unwrap();
    assert_eq!(user.roles, set(&["admin", "user"]));
    let promoted = rig.session(&session).await.unwrap();
    assert!(promoted.rotated);
    assert_ne!(promoted.session.id(), session.id());
    assert_eq!(promoted.identity.roles, set(&["admin", "user"]));
    assert!(promoted.identity.has_scope("admin:users"));
    assert_err!(rig.session(&session).await, AuthError::SessionEnded);
    let steady = rig.session(&promoted.session).await.unwrap();
    assert!(!steady.rotated);
    assert_eq!(steady.session.id(), promoted.session.id());

    rig.auth
        .set_roles(&alice.id, &set(&["user"]))
        .await
        .unwrap();
    let demoted = rig.session(&promoted.session).await.unwrap();
    assert!(demoted.rotated);
    assert_ne!(demoted.session.id(), promoted.session.id());
    assert!(!demoted.identity.has_role("admin"));
    assert_eq!(demoted.identity.scopes, all_user_scopes());
    assert_err!(
        rig.session(&promoted.session).await,
        AuthError::SessionEnded
    );
    assert_eq!(rig.live_sessions(&alice.id).await, 1);

    assert_err!(
        rig.auth
            .set_roles(&UserId::new("nobody"), &set(&["user"]))
            .await,
        AuthError::NotFound
    );
}

/// C12: deactivation ends the account's sessions, access tokens, refresh
/// tokens and API keys, and refuses its password; reactivation brings none
/// of them back.
#[tokio::test]
async fn c12_deactivation_ends_sessions_tokens_and_api_keys() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    let bob = rig.register(BOB).await;
    let pair = rig.login(ALICE).await;
    let key = rig
        .api_key(
            &rig.bearer(&pair.access_token).await.unwrap(),
            &["notes:read"],
        )
        .await;
    let session = rig.login_session(ALICE).await;
    let bob_pair = rig.login(BOB).await;

    let user = rig.auth.set_active(&alice.id, false).await.unwrap();
    assert!(!user.active);
    assert!(!rig.user(&alice.id).await.active);

    assert_err!(rig.session(&session).await, AuthError::SessionEnded);
    assert_err!(
        rig.bearer(&pair.access_token).await,
        AuthError::InvalidToken
    );
    assert_err!(rig.bearer(key_of(&key)).await, AuthError::InvalidToken);
    assert_err!(
        rig.auth.refresh(&pair.refresh_token).await,
        AuthError::InvalidGrant
    );
    assert_err!(
        rig.auth.login(ALICE, &pw(PASSWORD), None).await,
        AuthError::InvalidCredentials
    );
    let basic = Credentials::Basic {
        login: ALICE.to_owned(),
        password: pw(PASSWORD),
    };
    assert_err!(rig.auth.authenticate(&basic).await, AuthError::InvalidBasic);
    assert_eq!(rig.live_sessions(&alice.id).await, 0);
    assert!(rig.auth.list_api_keys(&alice.id).await.unwrap().is_empty());
    rig.bearer(&bob_pair.access_token).await.unwrap();

    rig.auth.set_active(&alice.id, true).await.unwrap();
    assert_err!(rig.session(&session).await, AuthError::SessionEnded);
    assert_err!(
        rig.bearer(&pair.access_token).await,
        AuthError::InvalidToken
    );
    assert_err!(rig.bearer(key_of(&key)).await, AuthError::InvalidToken);
    rig.login(ALICE).await;

    assert_err!(
        rig.auth.set_active(&UserId::new("nobody"), false).await,
        AuthError::NotFound
    );
    assert!(rig.user(&bob.id).await.active);
}

// ---------------------------------------------------------------------------
// Faults: K1, K4, K5, K6.

/// What a store wrapper does on its next calls.
#[derive(Default)]
struct Faults {
    /// Every call fails with `StoreError::Unavailable`.
    fail: AtomicBool,
    /// Every call never answers.
    stall: AtomicBool,
    /// `update_password_hash` fails (user store only).
    fail_password_update: AtomicBool,
    /// Calls of `update_password_hash` seen.
    password_updates: AtomicUsize,
}

impl Faults {
    async fn gate(&self) -> Result<(), StoreError> {
        if self.stall.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("injected fault"));
        }
        Ok(())
    }

    fn set_fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

struct FaultyUsers {
    inner: Arc<MemoryUserStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl UserStore for FaultyUsers {
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        self.faults.gate().await?;
        self.inner.find_by_login(login).await
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.faults.gate().await?;
        self.inner.find_by_id(id).await
    }

    async fn create(&self, user: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
        self.faults.gate().await?;
        self.inner.create(user, at).await
    }

    async fn update_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        update: PasswordUpdate,
    ) -> Result<Option<User>, StoreError> {
        self.faults.password_updates.fetch_add(1, Ordering::SeqCst);
        self.faults.gate().await?;
        if self.faults.fail_password_update.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("injected password update fault"));
        }
        self.inner
            .update_password_hash(id, password_hash, update)
            .await
    }

    async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<Option<User>, StoreError> {
        self.faults.gate().await?;
        self.inner.set_roles(id, roles).await
    }

    async fn set_active(&self, id: &UserId, active: bool) -> Result<Option<User>, StoreError> {
        self.faults.gate().await?;
        self.inner.set_active(id, active).await
    }

    async fn record_login(&self, id: &UserId, at: SystemTime) -> Result<Option<User>, StoreError> {
        self.faults.gate().await?;
        self.inner.record_login(id, at).await
    }

    async fn list_users(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.faults.gate().await?;
        self.inner.list_users(after, limit).await
    }
}

struct FaultyTokens {
    inner: Arc<MemoryTokenStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl TokenStore for FaultyTokens {
    async fn insert(&self, record: TokenRecord) -> Result<(), StoreError> {
        self.faults.gate().await?;
        self.inner.insert(record).await
    }

    async fn start_family(&self, family: Family, first: TokenRecord) -> Result<(), StoreError> {
        self.faults.gate().await?;
        self.inner.start_family(family, first).await
    }

    async fn find(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.faults.gate().await?;
        self.inner.find(digest, now).await
    }

    async fn rotate(
        &self,
        presented: &TokenDigest,
        successor: Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        self.faults.gate().await?;
        self.inner.rotate(presented, successor, now, grace).await
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.faults.gate().await?;
        self.inner.revoke(digest).await
    }

    async fn revoke_api_key(&self, subject: &UserId, id: &TokenId) -> Result<bool, StoreError> {
        self.faults.gate().await?;
        self.inner.revoke_api_key(subject, id).await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError> {
        self.faults.gate().await?;
        self.inner.revoke_family(family).await
    }

    async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<Vec<Family>, StoreError> {
        self.faults.gate().await?;
        self.inner.revoke_subject(subject, scope).await
    }

    async fn list_api_keys(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.faults.gate().await?;
        self.inner.list_api_keys(subject, now).await
    }

    async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError> {
        self.faults.gate().await?;
        self.inner.record_use(digest, at).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.faults.gate().await?;
        TokenStore::purge_expired(&*self.inner, now).await
    }
}

struct FaultySessions {
    inner: Arc<MemorySessionStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl SessionStore for FaultySessions {
    async fn create(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.faults.gate().await?;
        self.inner.create(digest, state).await
    }

    async fn load(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<SessionState>, StoreError> {
        self.faults.gate().await?;
        self.inner.load(digest, now).await
    }

    async fn save(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.faults.gate().await?;
        self.inner.save(digest, state).await
    }

    async fn rotate(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        state: &SessionState,
    ) -> Result<Moved, StoreError> {
        self.faults.gate().await?;
        self.inner.rotate(old, new, state).await
    }

    async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.faults.gate().await?;
        self.inner.delete(digest).await
    }

    async fn list_subject(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
        self.faults.gate().await?;
        self.inner.list_subject(subject, now).await
    }

    async fn delete_subject(
        &self,
        subject: &UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        self.faults.gate().await?;
        self.inner.delete_subject(subject, keep).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.faults.gate().await?;
        SessionStore::purge_expired(&*self.inner, now).await
    }
}

struct FaultyRevocations {
    inner: MemoryRevocations,
    faults: Arc<Faults>,
}

#[async_trait]
impl Revocations for FaultyRevocations {
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        self.faults.gate().await?;
        self.inner.revoke_token(jti, until).await
    }

    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError> {
        self.faults.gate().await?;
        self.inner.revoke_family(family, until).await
    }

    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError> {
        self.faults.gate().await?;
        self.inner
            .revoke_subject_before(subject, before, until)
            .await
    }

    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.faults.gate().await?;
        self.inner.is_revoked(token, now).await
    }
}

/// Every store behind a fault switch of its own and a [`Timeout`].
struct FaultRig {
    auth: Auth,
    clock: ManualClock,
    users: Arc<MemoryUserStore>,
    tokens: Arc<MemoryTokenStore>,
    user_faults: Arc<Faults>,
    token_faults: Arc<Faults>,
    session_faults: Arc<Faults>,
    revocation_faults: Arc<Faults>,
}

fn fault_rig() -> FaultRig {
    let clock = ManualClock::default();
    let users = Arc::new(MemoryUserStore::new());
    let tokens = Arc::new(MemoryTokenStore::new());
    let user_faults = Arc::new(Faults::default());
    let token_faults = Arc::new(Faults::default());
    let session_faults = Arc::new(Faults::default());
    let revocation_faults = Arc::new(Faults::default());
    let auth = configured(&clock, Arc::new(Counts::default()))
        .users(Arc::new(Timeout::new(
            FaultyUsers {
                inner: users.clone(),
                faults: user_faults.clone(),
            },
            DEADLINE,
        )))
        .token_store(Arc::new(Timeout::new(
            FaultyTokens {
                inner: tokens.clone(),
                faults: token_faults.clone(),
            },
            DEADLINE,
        )))
        .session_store(Arc::new(Timeout::new(
            FaultySessions {
                inner: Arc::new(MemorySessionStore::new()),
                faults: session_faults.clone(),
            },
            DEADLINE,
        )))
        .revocations(Arc::new(Timeout::new(
            FaultyRevocations {
                inner: MemoryRevocations::with_clock(Arc::new(clock.clone())),
                faults: revocation_faults.clone(),
            },
            DEADLINE,
        )))
        .onetime_store(Arc::new(MemoryOneTimeStore::new()))
        .build()
        .unwrap();
    FaultRig {
        auth,
        clock,
        users,
        tokens,
        user_faults,
        token_faults,
        session_faults,
        revocation_faults,
    }
}

/// Checks that a result is `Unavailable` answered 503 with `Retry-After: 5`
/// and the generic body.
#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, AuthError>, what: &str) {
    let Err(error @ AuthError::Unavailable(_)) = result else {
        panic!("{what}: expected Unavailable, got {result:?}");
    };
    let response = error.response();
    assert_eq!(response.status, 503, "{what}");
    assert_eq!(response.retry_after, Some(5), "{what}");
    assert_eq!(response.www_authenticate, None, "{what}");
    assert_eq!(
        response.body, r#"{"error":"temporarily_unavailable"}"#,
        "{what}"
    );
}

/// What a fault test logs in with.
struct Held {
    pair: TokenPair,
    key: NewApiKey,
    session: Session,
}

impl FaultRig {
    async fn hold(&self) -> Held {
        self.auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let pair = self.auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let identity = self
            .auth
            .authenticate(&Credentials::Bearer(pair.access_token.clone()))
            .await
            .unwrap()
            .unwrap();
        let key = self
            .auth
            .issue_api_key(&identity, "ci", set(&["notes:read"]))
            .await
            .unwrap();
        let session = self
            .auth
            .login_session(None, ALICE, &pw(PASSWORD), false, None)
            .await
            .unwrap();
        Held { pair, key, session }
    }

    fn credentials(held: &Held) -> [(&'static str, Credentials); 4] {
        [
            ("jwt", Credentials::Bearer(held.pair.access_token.clone())),
            ("api key", Credentials::Bearer(key_of(&held.key).to_owned())),
            (
                "basic",
                Credentials::Basic {
                    login: ALICE.to_owned(),
                    password: pw(PASSWORD),
                },
            ),
            (
                "session",
                Credentials::Session(held.session.id().expose_secret().to_owned()),
            ),
        ]
    }

    async fn all_work(&self, held: &Held) {
        for (what, credentials) in Self::credentials(held) {
            let identity = self.auth.authenticate(&credentials).await;
            assert!(
                matches!(identity, Ok(Some(_))),
                "{what} after the fault: {identity:?}"
            );
        }
    }
}

/// K1/K5: with each store failing in turn, `authenticate` of every kind of
/// credentials that needs that store, `login`, `login_session`, `refresh`
/// and `register` answer `Unavailable` (503, `Retry-After: 5`,
/// `temporarily_unavailable`), never `Ok` and never a rejection; nothing is
/// revoked or written by the failed calls, so everything works again once
/// the store is back.
#[tokio::test]
async fn k1_k5_failing_stores_make_requests_unavailable() {
    let rig = fault_rig();
    let held = rig.hold().await;
    let [jwt, api_key, basic, session] = FaultRig::credentials(&held);
    let alice_id = rig
        .users
        .find_by_login(&Login::parse(ALICE).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let before = rig.users.find_by_id(&alice_id).await.unwrap().unwrap();
    rig.clock.advance(Duration::from_secs(60));

    // The user store: everything that reads the account.
    rig.user_faults.set_fail(true);
    for (what, credentials) in [&api_key, &basic, &session] {
        assert_unavailable(rig.auth.authenticate(credentials).await, what);
    }
    assert_unavailable(rig.auth.login(ALICE, &pw(PASSWORD), None).await, "login");
    assert_unavailable(
        rig.auth
            .login_session(None, ALICE, &pw(PASSWORD), false, None)
            .await,
        "session login",
    );
    assert_unavailable(rig.auth.refresh(&held.pair.refresh_token).await, "refresh");
    assert_unavailable(rig.auth.register(BOB, &pw(PASSWORD)).await, "register");
    // A JWT needs no user lookup (issue 6): it still authenticates.
    rig.auth.authenticate(&jwt.1).await.unwrap().unwrap();
    rig.user_faults.set_fail(false);
    assert_eq!(rig.users.len(), 1, "no account was created");

    // The token store: API keys, logins (a family is started) and refresh.
    let digests = rig.tokens.digests().len();
    rig.token_faults.set_fail(true);
    assert_unavailable(rig.auth.authenticate(&api_key.1).await, "api key");
    assert_unavailable(rig.auth.login(ALICE, &pw(PASSWORD), None).await, "login");
    assert_unavailable(rig.auth.refresh(&held.pair.refresh_token).await, "refresh");
    rig.token_faults.set_fail(false);
    assert_eq!(rig.tokens.digests().len(), digests, "no token was stored");

    // The session store: session cookies and session logins.
    rig.session_faults.set_fail(true);
    assert_unavailable(rig.auth.authenticate(&session.1).await, "session");
    assert_unavailable(
        rig.auth
            .login_session(None, ALICE, &pw(PASSWORD), false, None)
            .await,
        "session login",
    );
    rig.session_faults.set_fail(false);

    // The revocation store: JWTs (fail closed).
    rig.revocation_faults.set_fail(true);
    assert_unavailable(rig.auth.authenticate(&jwt.1).await, "jwt");
    rig.revocation_faults.set_fail(false);

    // Nothing was revoked or recorded by the failures.
    rig.all_work(&held).await;
    let after = rig.users.find_by_id(&alice_id).await.unwrap().unwrap();
    assert_eq!(after.password_hash, before.password_hash);
    rig.auth.refresh(&held.pair.refresh_token).await.unwrap();
}

/// K4/K6: a revocation store that never answers, behind a 200 ms
/// [`Timeout`], makes JWT authentication fail closed with `Unavailable`,
/// both for a token never seen and for one in the verified cache; other
/// credentials keep working, and JWTs work again once the store answers.
#[tokio::test]
async fn k4_k6_a_stalled_revocation_store_fails_jwts_closed() {
    let rig = fault_rig();
    let held = rig.hold().await;
    // Seen once: in the verified cache.
    let cached = Credentials::Bearer(held.pair.access_token.clone());
    rig.auth.authenticate(&cached).await.unwrap().unwrap();
    let unseen = rig.auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
    let unseen = Credentials::Bearer(unseen.access_token);

    rig.revocation_faults.stall.store(true, Ordering::SeqCst);
    assert_unavailable(rig.auth.authenticate(&cached).await, "cached jwt");
    assert_unavailable(rig.auth.authenticate(&unseen).await, "unseen jwt");
    let key = Credentials::Bearer(key_of(&held.key).to_owned());
    rig.auth.authenticate(&key).await.unwrap().unwrap();

    rig.revocation_faults.stall.store(false, Ordering::SeqCst);
    rig.auth.authenticate(&cached).await.unwrap().unwrap();
    rig.auth.authenticate(&unseen).await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------
// The builder.

/// The builder refuses a configuration without JWT keys, without a secret
/// key, with a 16-byte secret or without stores, with a `ConfigError`; the
/// complete configuration builds.
#[tokio::test]
async fn builder_refuses_missing_or_short_settings() {
    let clock = ManualClock::default();
    let counts = Arc::new(Counts::default());
    let base = || base(&clock, counts.clone());

    let cases = [
        ("jwt_keys", base().in_memory().secret_key([7u8; 32])),
        ("secret_key", base().in_memory().jwt_keys(jwt_keys())),
        (
            "secret_key",
            base()
                .in_memory()
                .jwt_keys(jwt_keys())
                .secret_key([7u8; 16]),
        ),
        ("users", base().jwt_keys(jwt_keys()).secret_key([7u8; 32])),
    ];
    for (expected, builder) in cases {
        let error = builder.build().unwrap_err();
        let ConfigError::Invalid { setting, reason } = &error else {
            panic!("expected ConfigError::Invalid for {expected}, got {error:?}");
        };
        assert_eq!(*setting, expected, "{error}");
        if expected == "secret_key" {
            assert!(
                reason.contains("16 bytes") || reason.contains("required"),
                "{reason}"
            );
        }
    }
    let auth = base()
        .in_memory()
        .jwt_keys(jwt_keys())
        .secret_key([7u8; 32])
        .build()
        .unwrap();
    assert_eq!(
        auth.scopes_for(&set(&["admin", "user"])),
        set(&["admin:users", "notes:read", "notes:write"])
    );
}

// ---------------------------------------------------------------------------
// Revocations on the injected clock.

/// A logout's revocation keeps refusing the token however many other
/// revocations are written later. With `in_memory()` and a manual clock
/// behind real time, the revocation store must not forget live entries by
/// the system clock.
#[tokio::test]
async fn a_revocation_outlives_later_revocation_writes() {
    let rig = rig();
    rig.register(ALICE).await;
    let pair = rig.login(ALICE).await;
    let identity = rig.bearer(&pair.access_token).await.unwrap();
    rig.auth.logout(&identity, None).await.unwrap();
    assert_err!(
        rig.bearer(&pair.access_token).await,
        AuthError::InvalidToken
    );

    // Each logout-all of another account writes one revocation entry.
    for n in 0..300 {
        rig.auth
            .logout_all(&UserId::new(format!("someone-{n}")))
            .await
            .unwrap();
    }
    assert_err!(
        rig.bearer(&pair.access_token).await,
        AuthError::InvalidToken
    );
}

// ---------------------------------------------------------------------------
// Review follow-ups.

/// A login narrowed to `notes:read` cannot mint an API key with more.
#[tokio::test]
async fn a_narrowed_login_cannot_mint_a_broader_api_key() {
    let rig = rig();
    rig.register("alice@example.com").await;
    let narrow = rig
        .auth
        .login("alice@example.com", &pw(PASSWORD), Some("notes:read"))
        .await
        .unwrap();
    let identity = rig.bearer(&narrow.access_token).await.unwrap();
    let refused = rig
        .auth
        .issue_api_key(&identity, "ci", set(&["notes:write"]))
        .await;
    assert!(
        matches!(refused, Err(AuthError::ScopeNotAllowed(_))),
        "{refused:?}"
    );
    assert!(
        rig.auth
            .issue_api_key(&identity, "ci", set(&["notes:read"]))
            .await
            .is_ok()
    );
}

/// H4 through `Auth`: with a grace window, a retried refresh gets the same
/// refresh token.
#[tokio::test]
async fn a_retried_refresh_within_the_grace_window_gets_the_same_successor() {
    let clock = ManualClock::default();
    let counts = Arc::new(Counts::default());
    let mut config = tessera_core::token::RefreshConfig::default();
    config.grace = std::time::Duration::from_secs(10);
    let auth = configured(&clock, counts)
        .in_memory()
        .refresh_config(config)
        .build()
        .unwrap();
    auth.register("alice@example.com", &pw(PASSWORD))
        .await
        .unwrap();
    let login = auth
        .login("alice@example.com", &pw(PASSWORD), None)
        .await
        .unwrap();
    let first = auth.refresh(&login.refresh_token).await.unwrap();
    let retry = auth.refresh(&login.refresh_token).await.unwrap();
    assert_eq!(first.refresh_token, retry.refresh_token);
    assert_eq!(retry.scopes, all_user_scopes());
    clock.advance(std::time::Duration::from_secs(11));
    assert!(matches!(
        auth.refresh(&login.refresh_token).await,
        Err(AuthError::InvalidGrant)
    ));
}

/// An oversized current password is a wrong password, not a weak one.
#[tokio::test]
async fn an_oversized_current_password_is_invalid_credentials() {
    let rig = rig();
    rig.register("alice@example.com").await;
    let tokens = rig.login("alice@example.com").await;
    let identity = rig.bearer(&tokens.access_token).await.unwrap();
    let result = rig
        .auth
        .change_password(
            &identity,
            None,
            &pw(&"x".repeat(5000)),
            &pw("a brand new password"),
        )
        .await;
    assert!(
        matches!(result, Err(AuthError::InvalidCredentials)),
        "{result:?}"
    );
}

/// Key sets given one by one need no secret key, and rotate.
#[tokio::test]
async fn key_sets_can_be_given_one_by_one() {
    use tessera_core::keys::{HmacKey, HmacKeys};
    let clock = ManualClock::default();
    let key = |id: &str, byte: u8| HmacKey::new(id, vec![byte; 32]).unwrap();
    let build = |csrf: HmacKeys| {
        base(&clock, Arc::new(Counts::default()))
            .jwt_keys(jwt_keys())
            .in_memory()
            .csrf_keys(csrf)
            .onetime_keys(HmacKeys::single(key("o", 2)))
            .token_pepper(HmacKeys::single(key("p", 3)))
            .successor_keys(HmacKeys::single(key("s", 4)))
            .throttle_key(key("t", 6))
            .build()
            .unwrap()
    };
    let old = build(HmacKeys::single(key("c-old", 1)));
    let session = tessera_core::session::SessionId::generate().unwrap();
    let token = old.csrf().token(&session);
    let rotated = build(HmacKeys::new(vec![key("c-new", 5), key("c-old", 1)]).unwrap());
    assert!(rotated.csrf().verify_token(&session, &token));
    assert!(rotated.csrf().token(&session).starts_with("c-new."));
    // Without a secret and without every key set: a configuration error.
    let partial = base(&clock, Arc::new(Counts::default()))
        .jwt_keys(jwt_keys())
        .in_memory()
        .csrf_keys(HmacKeys::single(key("c", 1)))
        .build();
    assert!(partial.is_err());
}

// ---------------------------------------------------------------------------
// Throttling (B2, B5–B8, B11, B12, B16–B19, K7).

fn at(ip: &str) -> Client {
    Client::at(ip.parse().unwrap())
}

impl Rig {
    /// A wrong-password login for `email` from `client`.
    async fn wrong(&self, client: Client, email: &str) -> Result<TokenPair, AuthError> {
        self.auth
            .from_client(client)
            .login(email, &pw("wrong password"), None)
            .await
    }

    /// `n` evaluated failures, the clock moving past each wait.
    async fn fail(&self, email: &str, n: u32) {
        let limits = tessera_core::throttle::AccountLimits::default();
        for failures in 1..=n {
            assert_err!(
                self.wrong(Client::unknown(), email).await,
                AuthError::InvalidCredentials
            );
            self.clock.advance(limits.delay(failures));
        }
    }

    async fn failed_logins(&self, email: &str) -> u32 {
        self.auth
            .failed_logins(&Login::parse(email).unwrap())
            .await
            .unwrap()
    }
}

/// B5, B18: 100 evaluated failures lock the account: the right password is
/// then refused without a hash, until an administrator's unlock, a
/// completed reset, or the end of the lock window.
#[tokio::test]
async fn b5_b18_a_hundred_failures_lock_until_unlock_reset_or_window() {
    let rig = rig();
    let alice = rig.register(ALICE).await;
    rig.fail(ALICE, 100).await;
    assert_eq!(rig.failed_logins(ALICE).await, 100);
    rig.clock.advance(Duration::from_secs(3600));
    rig.counts.reset();
    assert_err!(
        rig.auth.login(ALICE, &pw(PASSWORD), None).await,
        AuthError::InvalidCredentials
    );
    assert_eq!(
        rig.counts.get(),
        (0, 0, 0),
        "a locked attempt computes no hash"
    );
    // An administrator's unlock.
    rig.auth.unlock(&alice.id).await.unwrap();
    assert_eq!(rig.failed_logins(ALICE).await, 0);
    rig.login(ALICE).await;
    // Locked again; a completed reset clears it.
    rig.fail(ALICE, 100).await;
    let (_, token) = rig
        .auth
        .request_password_reset(ALICE)
        .await
        .unwrap()
        .unwrap();
    rig.auth
        .confirm_password_reset(token.expose_secret(), &pw(NEW_PASSWORD))
        .await
        .unwrap();
    rig.auth
        .login(ALICE, &pw(NEW_PASSWORD), None)
        .await
        .unwrap();
    // Locked again; the window ends.
    rig.fail(ALICE, 100).await;
    assert_err!(
        rig.auth.login(ALICE, &pw(NEW_PASSWORD), None).await,
        AuthError::InvalidCredentials
    );
    rig.clock.advance(Duration::from_secs(24 * 3600));
    rig.auth
        .login(ALICE, &pw(NEW_PASSWORD), None)
        .await
        .unwrap();
}

/// B6, B7, B2: within a delay even the right password gets the generic
/// answer and costs no hash; after it, a success resets the count.
#[tokio::test]
async fn b6_b7_the_right_password_during_a_delay_is_refused_then_resets() {
    let rig = rig();
    rig.register(BOB).await;
    for _ in 0..5 {
        assert_err!(
            rig.wrong(Client::unknown(), BOB).await,
            AuthError::InvalidCredentials
        );
    }
    rig.counts.reset();
    let refused = rig.auth.login(BOB, &pw(PASSWORD), None).await;
    let wrong = rig
        .auth
        .login("nobody@example.com", &pw(PASSWORD), None)
        .await;
    assert_err!(refused, AuthError::InvalidCredentials);
    assert_err!(wrong, AuthError::InvalidCredentials);
    // One dummy verification for the unknown account, none for the delay.
    assert_eq!(rig.counts.get(), (0, 0, 1));
    assert_eq!(
        rig.failed_logins(BOB).await,
        5,
        "a refused attempt does not count"
    );
    rig.clock.advance(Duration::from_secs(1));
    rig.login(BOB).await;
    assert_eq!(rig.failed_logins(BOB).await, 0);
}

/// B8: case and surrounding spaces do not make a new bucket; B11: neither
/// does a new client address.
#[tokio::test]
async fn b8_b11_one_bucket_per_account_whatever_the_spelling_or_address() {
    let rig = rig();
    rig.register(ALICE).await;
    for (n, email) in [
        "Alice@example.com",
        " alice@example.com ",
        "ALICE@EXAMPLE.COM",
        ALICE,
        "aLiCe@Example.com",
    ]
    .into_iter()
    .enumerate()
    {
        assert_err!(
            rig.wrong(at(&format!("198.51.100.{n}")), email).await,
            AuthError::InvalidCredentials
        );
    }
    assert_eq!(rig.failed_logins(ALICE).await, 5);
    assert_err!(
        rig.auth
            .from_client(at("203.0.113.99"))
            .login(ALICE, &pw(PASSWORD), None)
            .await,
        AuthError::InvalidCredentials
    );
}

/// B12: one password sprayed over many accounts from one address: 429
/// after 50 failures, while the accounts answer as before and another
/// address is not affected.
#[tokio::test]
async fn b12_spraying_from_one_address_is_throttled_by_address() {
    let rig = rig();
    let sprayer = at("203.0.113.7");
    for n in 0..50 {
        assert_err!(
            rig.wrong(sprayer, &format!("user{n}@example.com")).await,
            AuthError::InvalidCredentials
        );
    }
    rig.counts.reset();
    match rig.wrong(sprayer, "user50@example.com").await {
        Err(AuthError::Throttled { retry_after }) => {
            assert!((1..=300).contains(&retry_after), "{retry_after}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    assert_eq!(
        rig.counts.get(),
        (0, 0, 0),
        "a throttled attempt computes no hash"
    );
    assert_err!(
        rig.wrong(at("203.0.113.8"), "user50@example.com").await,
        AuthError::InvalidCredentials
    );
    // The same address succeeds again once the window has passed; a success
    // is not held against it.
    rig.register(ALICE).await;
    rig.clock.advance(Duration::from_secs(300));
    rig.auth
        .from_client(sprayer)
        .login(ALICE, &pw(PASSWORD), None)
        .await
        .unwrap();
}

/// Basic attempts count in the login buckets.
#[tokio::test]
async fn basic_attempts_share_the_login_buckets() {
    let rig = rig();
    rig.register(ALICE).await;
    let basic = |password: &str| Credentials::Basic {
        login: ALICE.to_owned(),
        password: pw(password),
    };
    for _ in 0..5 {
        assert_err!(
            rig.auth
                .from_client(at("203.0.113.5"))
                .authenticate(&basic("wrong password"))
                .await,
            AuthError::InvalidBasic
        );
    }
    assert_eq!(rig.failed_logins(ALICE).await, 5);
    assert_err!(
        rig.auth.authenticate(&basic(PASSWORD)).await,
        AuthError::InvalidBasic
    );
    assert_err!(
        rig.auth.login(ALICE, &pw(PASSWORD), None).await,
        AuthError::InvalidCredentials
    );
}

/// B16: failures against a login that is no account do not burden the
/// account registered with it later.
#[tokio::test]
async fn b16_failures_before_registration_do_not_throttle_the_new_account() {
    let rig = rig();
    for _ in 0..5 {
        assert_err!(
            rig.wrong(Client::unknown(), ALICE).await,
            AuthError::InvalidCredentials
        );
    }
    rig.register(ALICE).await;
    rig.login(ALICE).await;
}

/// B17: reset requests are limited per account (no message over the
/// limit, the same answer) and per address (429), and never lock.
#[tokio::test]
async fn b17_reset_requests_are_limited_and_never_lock() {
    let rig = rig();
    rig.register(ALICE).await;
    let client = at("203.0.113.20");
    let mut messages = 0;
    for _ in 0..20 {
        if rig
            .auth
            .from_client(client)
            .request_password_reset(ALICE)
            .await
            .unwrap()
            .is_some()
        {
            messages += 1;
        }
    }
    assert_eq!(messages, 5, "five messages an hour per account and address");
    match rig
        .auth
        .from_client(client)
        .request_password_reset(ALICE)
        .await
    {
        // The window started with the first request; whole seconds, rounded
        // up.
        Err(AuthError::Throttled { retry_after }) => assert_eq!(retry_after, 3600),
        other => panic!("expected 429, got {other:?}"),
    }
    // Someone else's requests do not hold back the owner's own.
    assert!(
        rig.auth
            .from_client(at("198.51.100.77"))
            .request_password_reset(ALICE)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(rig.failed_logins(ALICE).await, 0);
    rig.login(ALICE).await;
}

/// Registrations: 20 an hour per address.
#[tokio::test]
async fn registrations_are_limited_per_address() {
    let rig = rig();
    let client = at("2001:db8:1:2::1");
    for n in 0..20 {
        rig.auth
            .from_client(client)
            .register(&format!("user{n}@example.com"), &pw(PASSWORD))
            .await
            .unwrap();
    }
    // The same /64 is the same subscriber.
    assert_err!(
        rig.auth
            .from_client(at("2001:db8:1:2::ffff"))
            .register("one-more@example.com", &pw(PASSWORD))
            .await,
        AuthError::Throttled { .. }
    );
    rig.auth
        .from_client(at("2001:db8:1:3::1"))
        .register("elsewhere@example.com", &pw(PASSWORD))
        .await
        .unwrap();
}

/// B19: the current password of a password change is throttled like a
/// login, in its own bucket.
#[tokio::test]
async fn b19_step_up_is_throttled() {
    let rig = rig();
    rig.register(ALICE).await;
    let tokens = rig.login(ALICE).await;
    let identity = rig.bearer(&tokens.access_token).await.unwrap();
    for _ in 0..5 {
        assert_err!(
            rig.auth
                .change_password(&identity, None, &pw("wrong password"), &pw(NEW_PASSWORD))
                .await,
            AuthError::InvalidCredentials
        );
    }
    rig.counts.reset();
    assert_err!(
        rig.auth
            .change_password(&identity, None, &pw(PASSWORD), &pw(NEW_PASSWORD))
            .await,
        AuthError::InvalidCredentials
    );
    assert_eq!(rig.counts.get(), (0, 0, 0));
    assert_eq!(rig.failed_logins(ALICE).await, 0, "a separate bucket");
    rig.clock.advance(Duration::from_secs(1));
    rig.auth
        .change_password(&identity, None, &pw(PASSWORD), &pw(NEW_PASSWORD))
        .await
        .unwrap();
}

/// API keys: 20 an hour per account.
#[tokio::test]
async fn api_key_creation_is_limited_per_account() {
    let rig = rig();
    rig.register(ALICE).await;
    let identity = rig
        .bearer(&rig.login(ALICE).await.access_token)
        .await
        .unwrap();
    for _ in 0..20 {
        rig.api_key(&identity, &["notes:read"]).await;
    }
    assert_err!(
        rig.auth
            .issue_api_key(&identity, "ci", set(&["notes:read"]))
            .await,
        AuthError::Throttled { .. }
    );
}

/// Disclosing a lock is an option, off by default.
#[tokio::test]
async fn a_lock_is_disclosed_only_when_asked() {
    let clock = ManualClock::default();
    let mut config = ThrottleConfig::default();
    config.disclose_lock = true;
    config.login = config.login.lock_after(2);
    let auth = configured(&clock, Arc::new(Counts::default()))
        .in_memory()
        .throttle(config)
        .build()
        .unwrap();
    auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
    for _ in 0..2 {
        assert_err!(
            auth.login(ALICE, &pw("wrong password"), None).await,
            AuthError::InvalidCredentials
        );
    }
    assert_err!(
        auth.login(ALICE, &pw(PASSWORD), None).await,
        AuthError::AccountLocked { .. }
    );
}

/// K7: a throttle store that cannot answer fails the login closed (503),
/// before any hash; it never falls back to a fresh local count.
#[tokio::test]
async fn k7_a_throttle_store_that_cannot_answer_fails_closed() {
    struct Down;
    #[async_trait]
    impl ThrottleStore for Down {
        async fn begin_attempt(
            &self,
            _: &str,
            _: &tessera_core::throttle::AccountLimits,
            _: SystemTime,
        ) -> Result<tessera_core::throttle::Attempt, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn clear(&self, _: &str) -> Result<(), StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn failures(
            &self,
            _: &str,
            _: &tessera_core::throttle::AccountLimits,
            _: SystemTime,
        ) -> Result<u32, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn hit(
            &self,
            _: &str,
            _: &tessera_core::throttle::RateLimit,
            _: SystemTime,
        ) -> Result<tessera_core::throttle::Hit, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn forgive(
            &self,
            _: &str,
            _: &tessera_core::throttle::RateLimit,
            _: SystemTime,
        ) -> Result<(), StoreError> {
            Err(StoreError::unavailable("down"))
        }
    }
    let clock = ManualClock::default();
    let counts = Arc::new(Counts::default());
    let auth = configured(&clock, counts.clone())
        .in_memory()
        .throttle_store(Arc::new(Down))
        .build()
        .unwrap();
    counts.reset();
    assert_err!(
        auth.login(ALICE, &pw(PASSWORD), None).await,
        AuthError::Unavailable(_)
    );
    assert_err!(
        auth.from_client(at("203.0.113.1"))
            .login(ALICE, &pw(PASSWORD), None)
            .await,
        AuthError::Unavailable(_)
    );
    assert_eq!(counts.get(), (0, 0, 0));
}

/// B10: an attempt that starts while another is being evaluated meets the
/// count that one already added (counted before the hash), so a burst of
/// parallel guesses gets one evaluation, not one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn b10_parallel_attempts_meet_each_others_counts() {
    let clock = ManualClock::default();
    let counts = Arc::new(Counts::default());
    let mut config = ThrottleConfig::default();
    config.login = config.login.free_failures(1);
    let auth = configured(&clock, counts.clone())
        .in_memory()
        .throttle(config)
        .build()
        .unwrap();
    auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
    counts.reset();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let auth = auth.clone();
        tasks.spawn(async move { auth.login(ALICE, &pw("wrong password"), None).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_err!(result.unwrap(), AuthError::InvalidCredentials);
    }
    assert_eq!(
        counts.get(),
        (0, 1, 0),
        "one evaluation for eight parallel guesses"
    );
    assert_eq!(
        auth.failed_logins(&Login::parse(ALICE).unwrap())
            .await
            .unwrap(),
        1
    );
}
