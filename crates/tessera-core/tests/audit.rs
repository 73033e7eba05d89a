//! The audit events (`tracing` target `tessera::audit`): one test per kind,
//! checking its `event` name and fields, and that no password, token,
//! session id, CSRF token or key appears in any field of any event.
//!
//! The events and their fields are listed in `tessera_core::auth`'s docs
//! ("Audit events"); this file holds the list to them.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tessera_core::auth::request::{RequestHead, RequestPolicy, resolve};
use tessera_core::auth::{Auth, AuthError};
use tessera_core::clock::ManualClock;
use tessera_core::identity::Credentials;
use tessera_core::jwt::{JwtKey, JwtKeySet};
use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
use tessera_core::throttle::{Client, RateLimit, ThrottleConfig};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

const ALICE: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "wrong horse battery";
const NEW_PASSWORD: &str = "staple tractor lantern";

type Fields = BTreeMap<String, String>;

/// Records the audit events of the current thread.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Fields>>>);

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "tessera::audit" {
            let mut fields = Fields::new();
            event.record(&mut Visitor(&mut fields));
            self.0.lock().unwrap().push(fields);
        }
    }
}

impl Capture {
    /// The events named `name`.
    fn named(&self, name: &str) -> Vec<Fields> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|fields| fields.get("event").map(String::as_str) == Some(name))
            .cloned()
            .collect()
    }

    /// The one event named `name`, with exactly these field names (besides
    /// `event` and `message`).
    fn one(&self, name: &str, fields: &[&str]) -> Fields {
        let events = self.named(name);
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        let event = events.into_iter().next().unwrap();
        let mut names: Vec<&str> = event
            .keys()
            .map(String::as_str)
            .filter(|n| !matches!(*n, "event" | "message"))
            .collect();
        names.sort_unstable();
        let mut wanted = fields.to_vec();
        wanted.sort_unstable();
        assert_eq!(names, wanted, "{name}: {event:?}");
        event
    }

    /// No field of any event holds any of `secrets`.
    fn assert_secret_free(&self, secrets: &[&str]) {
        let events = self.0.lock().unwrap();
        assert!(!events.is_empty());
        for event in events.iter() {
            for (name, value) in event {
                for secret in secrets.iter().filter(|s| !s.is_empty()) {
                    assert!(!value.contains(secret), "{name} = {value:?} holds a secret");
                }
            }
        }
    }
}

fn auth(throttle: ThrottleConfig) -> Auth {
    auth_with(
        throttle,
        Arc::new(tessera_core::memory::MemoryUserStore::new()),
        Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap(),
    )
}

fn auth_with(
    throttle: ThrottleConfig,
    users: Arc<dyn tessera_core::users::UserStore>,
    hasher: impl tessera_core::password::PasswordHashing + 'static,
) -> Auth {
    Auth::builder()
        .in_memory()
        .users(users)
        .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k")).unwrap(), vec![]).unwrap())
        .secret_key([7u8; 32])
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin("https://app.example.com")
        .role_scopes("user", ["notes:read"])
        .clock(Arc::new(ManualClock::default()))
        .throttle(throttle)
        .password_pool(PasswordPool::builder().hasher(hasher).build().unwrap())
        .build()
        .unwrap()
}

/// Runs `test` with a fresh capture installed on this thread.
async fn captured<F, Fut>(test: F) -> Capture
where
    F: FnOnce(Capture) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    test(capture.clone()).await;
    capture
}

fn pw(password: &str) -> Password {
    Password::new(password)
}

#[tokio::test(flavor = "current_thread")]
async fn account_events() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let event = capture.one("account.registered", &["subject"]);
        assert_eq!(event["subject"], user.id.as_str());
        auth.set_roles(&user.id, &["user".to_owned(), "editor".to_owned()].into())
            .await
            .unwrap();
        capture.one("account.roles_changed", &["subject", "roles"]);
        auth.unlock(&user.id).await.unwrap();
        capture.one("account.unlocked", &["subject"]);
        auth.set_active(&user.id, false).await.unwrap();
        let event = capture.one("account.activation_changed", &["subject", "active"]);
        assert_eq!(event["active"], "false");
        capture.assert_secret_free(&[PASSWORD]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn login_success_and_failure_keep_the_reason_internal() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let tokens = auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let event = capture.one("login.succeeded", &["method", "subject"]);
        assert_eq!(
            (event["method"].as_str(), event["subject"].as_str()),
            ("password", user.id.as_str())
        );
        let _ = auth.login(ALICE, &pw(WRONG), None).await;
        let _ = auth.login("nobody@example.com", &pw(WRONG), None).await;
        let basic = Credentials::Basic {
            login: ALICE.to_owned(),
            password: pw(WRONG),
        };
        let _ = auth.authenticate(&basic).await;
        let failed = capture.named("login.failed");
        let reasons: Vec<(&str, &str)> = failed
            .iter()
            .map(|e| (e["method"].as_str(), e["reason"].as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("password", "wrong_password"),
                ("password", "unknown_or_disabled_account"),
                ("basic", "wrong_password"),
            ]
        );
        assert_eq!(failed[0]["subject"], user.id.as_str());
        assert!(!failed[1].contains_key("subject"));
        capture.assert_secret_free(&[
            PASSWORD,
            WRONG,
            &tokens.access_token,
            &tokens.refresh_token,
            "nobody@example.com",
        ]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn throttling_and_lockout() {
    captured(|capture| async move {
        let mut config = ThrottleConfig::default();
        config.login = config.login.free_failures(1).lock_after(2);
        config.login_address = RateLimit::new(3, std::time::Duration::from_secs(60));
        let auth = auth(config);
        auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let client = Client::at("203.0.113.7".parse().unwrap());
        let _ = auth
            .from_client(client)
            .login(ALICE, &pw(WRONG), None)
            .await;
        let _ = auth
            .from_client(client)
            .login(ALICE, &pw(WRONG), None)
            .await;
        let event = capture.one("login.throttled", &["bucket", "retry_after_secs"]);
        assert_eq!(event["bucket"], "login");
        let _ = auth
            .from_client(client)
            .login(ALICE, &pw(WRONG), None)
            .await;
        // The 4th failure from the address: over its limit.
        let result = auth
            .from_client(client)
            .login(ALICE, &pw(WRONG), None)
            .await;
        assert!(
            matches!(result, Err(AuthError::Throttled { .. })),
            "{result:?}"
        );
        let event = capture.one(
            "address.throttled",
            &["bucket", "client", "retry_after_secs"],
        );
        assert_eq!(
            (event["bucket"].as_str(), event["client"].as_str()),
            ("login-address", "203.0.113.7")
        );
        capture.assert_secret_free(&[PASSWORD, WRONG]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_lock_is_an_event() {
    captured(|capture| async move {
        let mut config = ThrottleConfig::default();
        config.login = config
            .login
            .free_failures(10)
            .lock_after(2)
            .delays(std::time::Duration::ZERO, std::time::Duration::ZERO);
        let auth = auth(config);
        auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let _ = auth.login(ALICE, &pw(WRONG), None).await;
        let _ = auth.login(ALICE, &pw(WRONG), None).await;
        // The client's address is not known here: no `client` field.
        let event = capture.one("account.locked", &["failures"]);
        assert_eq!(event["failures"], "2");
        let _ = auth.login(ALICE, &pw(PASSWORD), None).await;
        capture.one("login.locked", &["bucket", "retry_after_secs"]);
        capture.assert_secret_free(&[PASSWORD, WRONG]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn refresh_reuse() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let first = auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let second = auth.refresh(&first.refresh_token).await.unwrap();
        assert!(auth.refresh(&first.refresh_token).await.is_err());
        let event = capture.one("refresh.reused", &["subject", "family"]);
        assert_eq!(event["subject"], user.id.as_str());
        capture.assert_secret_free(&[
            &first.refresh_token,
            &second.refresh_token,
            &first.access_token,
            &second.access_token,
        ]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn logout_and_logout_all() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let tokens = auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let identity = auth
            .authenticate(&Credentials::Bearer(tokens.access_token.clone()))
            .await
            .unwrap()
            .unwrap();
        auth.logout(&identity, None).await.unwrap();
        let event = capture.one("logout", &["subject", "method"]);
        assert_eq!(
            (event["subject"].as_str(), event["method"].as_str()),
            (user.id.as_str(), "Jwt")
        );
        auth.logout_all(&user.id).await.unwrap();
        capture.one("logout.all", &["subject"]);
        capture.assert_secret_free(&[&tokens.access_token, &tokens.refresh_token]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn password_changed_and_reset() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let tokens = auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let identity = auth
            .authenticate(&Credentials::Bearer(tokens.access_token.clone()))
            .await
            .unwrap()
            .unwrap();
        let changed = auth
            .change_password(&identity, None, &pw(PASSWORD), &pw(NEW_PASSWORD))
            .await
            .unwrap();
        capture.one("password.changed", &["subject"]);
        let (_, token) = auth.request_password_reset(ALICE).await.unwrap().unwrap();
        capture.one("password.reset_requested", &["subject"]);
        auth.confirm_password_reset(token.expose_secret(), &pw(PASSWORD))
            .await
            .unwrap();
        let event = capture.one("password.reset", &["subject"]);
        assert_eq!(event["subject"], user.id.as_str());
        capture.assert_secret_free(&[
            PASSWORD,
            NEW_PASSWORD,
            token.expose_secret(),
            &tokens.access_token,
            &changed.tokens.access_token,
            &changed.tokens.refresh_token,
        ]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn sessions_started_ended_and_revoked() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let session = auth
            .login_session(None, ALICE, &pw(PASSWORD), false, None)
            .await
            .unwrap();
        let id = session.id().expose_secret().to_owned();
        capture.one("session.started", &["subject"]);
        let event = capture.one("login.succeeded", &["method", "subject"]);
        assert_eq!(event["method"], "session");
        let csrf = auth.csrf().token(session.id());
        let identity = auth
            .authenticate_session(&id)
            .await
            .unwrap()
            .unwrap()
            .identity;
        auth.logout(&identity, Some(session)).await.unwrap();
        capture.one("session.ended", &["subject"]);
        let other = auth
            .login_session(None, ALICE, &pw(PASSWORD), false, None)
            .await
            .unwrap();
        let other_id = other.id().expose_secret().to_owned();
        auth.set_active(&user.id, false).await.unwrap();
        let event = capture.one("session.revoked", &["subject", "sessions"]);
        assert_eq!(event["sessions"], "1");
        capture.assert_secret_free(&[&id, &other_id, &csrf, PASSWORD]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn api_keys_created_and_revoked() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let tokens = auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let identity = auth
            .authenticate(&Credentials::Bearer(tokens.access_token.clone()))
            .await
            .unwrap()
            .unwrap();
        let key = auth
            .issue_api_key(&identity, "ci", ["notes:read".to_owned()].into())
            .await
            .unwrap();
        let event = capture.one("api_key.created", &["subject", "key"]);
        assert_eq!(event["key"], key.record.id.as_str());
        auth.revoke_api_key(&user.id, key.record.id.as_str())
            .await
            .unwrap();
        capture.one("api_key.revoked", &["subject", "key"]);
        capture.assert_secret_free(&[key.token.expose_secret(), &tokens.access_token]);
    })
    .await;
}

/// A request head for `resolve`.
struct Head(Vec<(&'static str, String)>);

impl RequestHead for Head {
    fn method(&self) -> &str {
        "POST"
    }
    fn path(&self) -> &str {
        "/notes"
    }
    fn path_and_query(&self) -> &str {
        "/notes"
    }
    fn header_values(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.0
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_bytes())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn csrf_refusals() {
    captured(|capture| async move {
        let auth = auth(ThrottleConfig::default());
        auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let session = auth
            .login_session(None, ALICE, &pw(PASSWORD), false, None)
            .await
            .unwrap();
        let id = session.id().expose_secret().to_owned();
        let cookie = format!("{}={id}", auth.sessions().cookie_settings().name());
        let head = Head(vec![("cookie", cookie)]);
        let resolution = resolve(&auth, &RequestPolicy::new(), &head).await;
        assert!(matches!(resolution.reject, Some(AuthError::Csrf(_))));
        let event = capture.one("csrf.refused", &["method", "reason"]);
        assert_eq!(event["method"], "POST");
        capture.assert_secret_free(&[&id, &auth.csrf().token(session.id())]);
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn reset_and_api_key_throttling() {
    captured(|capture| async move {
        let mut config = ThrottleConfig::default();
        config.reset_account = RateLimit::new(1, std::time::Duration::from_secs(3600));
        config.api_key_creation = RateLimit::new(1, std::time::Duration::from_secs(3600));
        let auth = auth(config);
        let user = auth.register(ALICE, &pw(PASSWORD)).await.unwrap();
        let (_, token) = auth.request_password_reset(ALICE).await.unwrap().unwrap();
        assert!(auth.request_password_reset(ALICE).await.unwrap().is_none());
        capture.one("reset.throttled", &["retry_after_secs"]);
        let tokens = auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let identity = auth
            .authenticate(&Credentials::Bearer(tokens.access_token.clone()))
            .await
            .unwrap()
            .unwrap();
        let key = auth
            .issue_api_key(&identity, "ci", ["notes:read".to_owned()].into())
            .await
            .unwrap();
        let refused = auth
            .issue_api_key(&identity, "ci2", ["notes:read".to_owned()].into())
            .await;
        assert!(
            matches!(refused, Err(AuthError::Throttled { .. })),
            "{refused:?}"
        );
        let event = capture.one("api_key.throttled", &["subject", "retry_after_secs"]);
        assert_eq!(event["subject"], user.id.as_str());
        capture.assert_secret_free(&[
            PASSWORD,
            token.expose_secret(),
            key.token.expose_secret(),
            &tokens.access_token,
            ALICE,
        ]);
    })
    .await;
}

/// A login that upgrades the stored hash says so, naming the scheme it
/// replaced (and nothing of the hash or the password).
#[tokio::test]
async fn a_rehash_on_login_is_an_event() {
    use tessera_core::memory::MemoryUserStore;
    use tessera_core::password::PasswordHasher;
    use tessera_core::users::{Login, NewUser, UserStore};

    captured(|capture| async move {
        let users = Arc::new(MemoryUserStore::new());
        let auth = auth_with(
            ThrottleConfig::default(),
            users.clone(),
            Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap(),
        );
        // Below the pool's parameters (m=256): upgraded on login.
        let weak = Argon2Hasher::new(Argon2Params::new(128, 1, 1))
            .unwrap()
            .hash_password(&pw(PASSWORD))
            .unwrap();
        let user = users
            .create(
                NewUser::new(Login::parse(ALICE).unwrap(), weak.clone()),
                std::time::SystemTime::now(),
            )
            .await
            .unwrap();
        assert!(auth.login(ALICE, &pw(WRONG), None).await.is_err());
        assert!(capture.named("password.rehashed").is_empty());
        auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let event = capture.one("password.rehashed", &["subject", "from"]);
        assert_eq!(event["subject"], user.id.as_str());
        assert_eq!(event["from"], "argon2");
        // Once upgraded, no second event.
        auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        capture.one("password.rehashed", &["subject", "from"]);
        capture.assert_secret_free(&[PASSWORD, WRONG, &weak]);
    })
    .await;
}

/// With legacy hashes, `from` names the scheme the login replaced.
#[cfg(feature = "legacy")]
#[tokio::test]
async fn a_legacy_upgrade_names_its_scheme() {
    use tessera_core::memory::MemoryUserStore;
    use tessera_core::password::legacy::LegacyHasher;
    use tessera_core::users::{Login, NewUser, UserStore};

    captured(|capture| async move {
        let users = Arc::new(MemoryUserStore::new());
        let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
        let auth = auth_with(ThrottleConfig::default(), users.clone(), hasher);
        // Werkzeug: generate_password_hash("correct horse battery", "pbkdf2:sha256:1000")
        let werkzeug = "pbkdf2:sha256:1000$esgmF7PaDkpgjcPH$e7baecf4da3781f0964fe194269c482e1bb0b329630552bb40e1d41da77c6dba";
        users
            .create(
                NewUser::new(Login::parse(ALICE).unwrap(), werkzeug.to_owned()),
                std::time::SystemTime::now(),
            )
            .await
            .unwrap();
        auth.login(ALICE, &pw(PASSWORD), None).await.unwrap();
        let event = capture.one("password.rehashed", &["subject", "from"]);
        assert_eq!(event["from"], "werkzeug-pbkdf2");
        capture.assert_secret_free(&[PASSWORD, werkzeug, "esgmF7PaDkpgjcPH"]);
    })
    .await;
}
