//! `Auth`: the service that ties the parts together.
//!
//! Built once at start-up ([`Auth::builder`], validated, a [`ConfigError`]
//! otherwise), shared by the adapters as a cheap clone, and the only thing
//! request handlers call: register, login, refresh, logout, logout-all,
//! change password, password reset, API keys, account administration, and
//! [`authenticate`](Auth::authenticate) for every request.
//!
//! ```
//! use tessera_core::auth::Auth;
//! use tessera_core::identity::Credentials;
//! use tessera_core::jwt::{JwtKey, JwtKeySet};
//! use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Auth::builder()
//!     .in_memory()
//!     .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k1"))?, vec![])?)
//!     .secret_key([7u8; 32])
//!     .issuer("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .public_origin("https://app.example.com")
//!     .role_scopes("user", ["notes:read", "notes:write"])
//!     // Cheap hashing for the example; servers keep the default.
//!     .password_pool(PasswordPool::builder().hasher(Argon2Hasher::new(Argon2Params::new(1024, 1, 1))?).build()?)
//!     .build()?;
//!
//! auth.register("alice@example.com", &Password::new("correct horse battery")).await?;
//! let tokens = auth.login("alice@example.com", &Password::new("correct horse battery"), None).await?;
//! let identity = auth
//!     .authenticate(&Credentials::Bearer(tokens.access_token.clone()))
//!     .await?
//!     .expect("an identity");
//! assert!(identity.has_scope("notes:write"));
//! assert!(identity.fresh);
//! # Ok(())
//! # }
//! ```
//!
//! # Audit events
//!
//! Security-relevant outcomes are `tracing` events under the target
//! `tessera::audit` (route them to your audit log), each with an `event`
//! field. No event holds a password, token, session id, CSRF token, key
//! or request path; accounts appear by id (`subject`), clients by address.
//!
//! | event | fields besides `event` and the message |
//! | --- | --- |
//! | `account.registered`, `account.unlocked` | `subject` |
//! | `account.roles_changed` | `subject`, `roles` |
//! | `account.activation_changed` | `subject`, `active` |
//! | `login.succeeded` | `method` (`password`, `session`), `subject` |
//! | `login.failed` | `method` (`password`, `session`, `basic`, `step_up`), `reason` (`unknown_or_disabled_account`, `wrong_password`, `unusable_hash`), `subject` when known |
//! | `login.throttled`, `login.locked` | `bucket` (`login`, `step-up`), `retry_after_secs`, `subject` when known |
//! | `account.locked` | `failures`, `client` (the address, when known) |
//! | `address.throttled` | `bucket`, `client` (the address), `retry_after_secs` |
//! | `reset.throttled`, `api_key.throttled` | `retry_after_secs` (and `subject`) |
//! | `refresh.reused` | `subject`, `family` |
//! | `logout` | `subject`, `method` |
//! | `logout.all` | `subject` |
//! | `password.changed`, `password.reset_requested`, `password.reset` | `subject` |
//! | `password.rehashed` | `subject`, `from` (the replaced hash's scheme: `argon2`, or with feature `legacy` a `password::legacy::Scheme` name such as `werkzeug-pbkdf2`) |
//! | `session.started`, `session.ended` | `subject` |
//! | `session.revoked` | `subject` (and `sessions`, the count, for all of them) |
//! | `api_key.created`, `api_key.revoked` | `subject`, `key` (the key's public id) |
//! | `csrf.refused` | `method`, `reason` |

mod cache;
mod error;
pub mod request;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

pub use self::error::{AuthError, ErrorResponse, RETRY_AFTER_SECS};
use crate::clock::{Clock, SystemClock};
use crate::csrf::Csrf;
use crate::error::{ConfigError, CreateUserError, PasswordError, TokenError};
use crate::identity::{AuthMethod, Credentials, Identity};
use crate::jwt::{Grant, Jwt, JwtConfig, JwtError, JwtKeySet, Revocations};
use crate::keys::{HmacKey, HmacKeys};
use crate::memory::{
    MemoryOneTimeStore, MemoryRevocations, MemorySessionStore, MemoryThrottleStore,
    MemoryTokenStore, MemoryUserStore,
};
use crate::onetime::{
    OneTimeError, OneTimeStore, OneTimeToken, OneTimeTokens, Purpose, account_stamp,
};
use crate::password::{Password, PasswordPool};
use crate::session::{
    CookieSettings, LoginOptions, Session, SessionConfig, SessionManager, SessionStore,
};
use crate::throttle::{
    AccountLimits, Attempt, BucketKeys, Client, RateLimit, ThrottleConfig, ThrottleStore, buckets,
};
use crate::token::{
    ApiKeys, NewApiKey, RefreshConfig, RefreshTokens, RevokeScope, TokenHasher, TokenId,
    TokenRecord, TokenStore,
};
use crate::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};

/// What a login or refresh hands the client.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenPair {
    /// The access-token JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The new refresh token.
    pub refresh_token: String,
    /// The scopes granted, sorted.
    pub scopes: BTreeSet<String>,
}

impl TokenPair {
    /// The scopes, space-separated (the `scope` field of the response).
    pub fn scope(&self) -> String {
        self.scopes.iter().cloned().collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// An identity resolved from a session cookie, with the session itself
/// (for CSRF, logout, password changes).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionIdentity {
    /// Who it is.
    pub identity: Identity,
    /// The session; its id changed if `rotated`.
    pub session: Session,
    /// The id was rotated on this request (the account's roles changed):
    /// the adapter sets the new cookie.
    pub rotated: bool,
}

/// What a password change returns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PasswordChanged {
    /// A fresh token pair with the caller's scopes.
    pub tokens: TokenPair,
    /// The caller's session, rotated and kept, when the caller used one.
    pub session: Option<Session>,
}

/// The authentication service. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    users: Arc<dyn UserStore>,
    passwords: PasswordPool,
    jwt: Jwt,
    refresh: RefreshTokens,
    api_keys: ApiKeys,
    sessions: SessionManager,
    csrf: Csrf,
    onetime: OneTimeTokens,
    role_scopes: BTreeMap<String, BTreeSet<String>>,
    default_roles: BTreeSet<String>,
    clock: Arc<dyn Clock>,
    cache: cache::VerifiedCache,
    throttle: ThrottleConfig,
    throttle_store: Arc<dyn ThrottleStore>,
    bucket_keys: BucketKeys,
}

impl Auth {
    /// A builder; see [`AuthBuilder`].
    pub fn builder() -> AuthBuilder {
        AuthBuilder::default()
    }

    /// The session manager (cookie settings, loading by cookie).
    pub fn sessions(&self) -> &SessionManager {
        &self.inner.sessions
    }

    /// CSRF protection.
    pub fn csrf(&self) -> &Csrf {
        &self.inner.csrf
    }

    /// The JWT issuer and verifier (for the JWKS endpoint).
    pub fn jwt(&self) -> &Jwt {
        &self.inner.jwt
    }

    /// The password pool (for its statistics).
    pub fn passwords(&self) -> &PasswordPool {
        &self.inner.passwords
    }

    /// The user store.
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.inner.users
    }

    /// The scopes `roles` allow, from the role → scopes map.
    pub fn scopes_for(&self, roles: &BTreeSet<String>) -> BTreeSet<String> {
        roles
            .iter()
            .filter_map(|role| self.inner.role_scopes.get(role))
            .flatten()
            .cloned()
            .collect()
    }

    /// Creates an account with the default roles.
    ///
    /// # Errors
    /// [`AuthError::InvalidRequest`] for an unusable email,
    /// [`AuthError::WeakPassword`], [`AuthError::EmailTaken`],
    /// [`AuthError::Unavailable`].
    pub async fn register(&self, email: &str, password: &Password) -> Result<User, AuthError> {
        self.from_client(Client::unknown())
            .register(email, password)
            .await
    }

    async fn register_checked(&self, email: &str, password: &Password) -> Result<User, AuthError> {
        let login = Login::parse(email).map_err(|_| AuthError::InvalidRequest("email"))?;
        if !looks_like_email(login.as_str()) {
            return Err(AuthError::InvalidRequest("email"));
        }
        let hash = self
            .inner
            .passwords
            .hash(password)
            .await
            .map_err(password_error)?;
        let new = NewUser::new(login, hash).with_roles(self.inner.default_roles.iter().cloned());
        match self.inner.users.create(new, self.inner.clock.now()).await {
            Ok(user) => {
                // Failures against the login before it was an account were
                // against nobody: the new account starts unthrottled (B16).
                self.clear_throttling_after_commit(&user).await;
                tracing::info!(target: "tessera::audit", event = "account.registered", subject = %user.id, "account registered");
                Ok(user)
            }
            Err(CreateUserError::LoginTaken) => Err(AuthError::EmailTaken),
            Err(CreateUserError::Store(e)) => Err(e.into()),
        }
    }

    /// The operations that throttle by client address, for a request from
    /// `client`. The adapters pass the address they resolved (the socket's,
    /// or the right-most untrusted `X-Forwarded-For` hop behind a trusted
    /// proxy); [`Auth::login`] and the other methods of the same names act
    /// for [`Client::unknown`], to which only the account buckets apply.
    pub fn from_client(&self, client: Client) -> ClientAuth<'_> {
        ClientAuth { auth: self, client }
    }

    /// Clears an account's login and step-up throttling and its lock (an
    /// administrator's unlock).
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Unavailable`].
    pub async fn unlock(&self, id: &UserId) -> Result<User, AuthError> {
        let user = self
            .inner
            .users
            .find_by_id(id)
            .await?
            .ok_or(AuthError::NotFound)?;
        self.clear_throttling(&user).await?;
        tracing::info!(target: "tessera::audit", event = "account.unlocked", subject = %id, "account unlocked");
        Ok(user)
    }

    /// [`clear_throttling`](Self::clear_throttling) after a change that is
    /// already committed: a store error is logged, not returned, since the
    /// change went through (and a count left in place loosens nothing).
    async fn clear_throttling_after_commit(&self, user: &User) {
        if let Err(error) = self.clear_throttling(user).await {
            tracing::warn!(target: "tessera::auth", subject = %user.id, error = %error, "could not clear throttling after a committed change");
        }
    }

    async fn clear_throttling(&self, user: &User) -> Result<(), AuthError> {
        let store = &self.inner.throttle_store;
        store
            .clear(
                &self
                    .inner
                    .bucket_keys
                    .key(buckets::LOGIN, user.login.as_str()),
            )
            .await?;
        store
            .clear(
                &self
                    .inner
                    .bucket_keys
                    .key(buckets::STEP_UP, user.id.as_str()),
            )
            .await?;
        Ok(())
    }

    /// The consecutive failed logins an account's bucket holds now (for an
    /// administrator's view; 0 when none or forgotten).
    ///
    /// # Errors
    /// [`AuthError::Unavailable`].
    pub async fn failed_logins(&self, login: &Login) -> Result<u32, AuthError> {
        Ok(self
            .inner
            .throttle_store
            .failures(
                &self.inner.bucket_keys.key(buckets::LOGIN, login.as_str()),
                &self.inner.throttle.login,
                self.inner.clock.now(),
            )
            .await?)
    }

    /// Counts one attempt in a per-account bucket before the password is
    /// checked: `Ok(failures)` to go on, or the refusal (no hash computed).
    async fn begin_account_attempt(
        &self,
        bucket: &'static str,
        key: &str,
        limits: &AccountLimits,
        subject: Option<&UserId>,
    ) -> Result<u32, AuthError> {
        let now = self.inner.clock.now();
        match self
            .inner
            .throttle_store
            .begin_attempt(key, limits, now)
            .await?
        {
            Attempt::Allowed { failures } => Ok(failures),
            Attempt::Delayed { retry_after } => {
                tracing::info!(
                    target: "tessera::audit",
                    event = "login.throttled",
                    bucket,
                    subject = subject.map(UserId::as_str),
                    retry_after_secs = ceil_secs(retry_after),
                    "attempt refused: within a throttling delay"
                );
                Err(AuthError::InvalidCredentials)
            }
            Attempt::Locked { retry_after } => {
                tracing::info!(
                    target: "tessera::audit",
                    event = "login.locked",
                    bucket,
                    subject = subject.map(UserId::as_str),
                    retry_after_secs = ceil_secs(retry_after),
                    "attempt refused: account locked"
                );
                Err(if self.inner.throttle.disclose_lock {
                    AuthError::AccountLocked {
                        retry_after: ceil_secs(retry_after),
                    }
                } else {
                    AuthError::InvalidCredentials
                })
            }
        }
    }

    /// Counts one event of `client` in a per-address bucket; 429 over the
    /// limit. Returns the key and the window, to forgive the event after a
    /// success.
    async fn hit_address(
        &self,
        client: &Client,
        bucket: &'static str,
        limit: &RateLimit,
    ) -> Result<Option<(String, std::time::SystemTime)>, AuthError> {
        let Some(key) = client.key(&self.inner.bucket_keys, bucket) else {
            return Ok(None);
        };
        let hit = self
            .inner
            .throttle_store
            .hit(&key, limit, self.inner.clock.now())
            .await?;
        if !hit.allowed {
            tracing::info!(
                target: "tessera::audit",
                event = "address.throttled",
                bucket,
                client = client.address.map(tracing::field::display),
                retry_after_secs = ceil_secs(hit.retry_after),
                "request refused: client address over its limit"
            );
            return Err(AuthError::Throttled {
                retry_after: ceil_secs(hit.retry_after),
            });
        }
        Ok(Some((key, hit.window_start)))
    }

    /// A throttled password check (login, session login, Basic): the
    /// address and account buckets count the attempt before the hash; a
    /// refused attempt computes none; a success clears the account's count.
    async fn check_login(
        &self,
        client: &Client,
        email: &str,
        password: &Password,
        method: &'static str,
    ) -> Result<User, AuthError> {
        let throttle = &self.inner.throttle;
        let address_key = self
            .hit_address(client, buckets::LOGIN_ADDRESS, &throttle.login_address)
            .await?;
        // Keyed by the normalised login whether or not the account exists,
        // so throttling discloses nothing, and `Alice` is ` alice `.
        let login = Login::parse(email).ok();
        let account_key = match &login {
            Some(login) => self.inner.bucket_keys.key(buckets::LOGIN, login.as_str()),
            None => self
                .inner
                .bucket_keys
                .key(buckets::LOGIN, &email.trim().to_lowercase()),
        };
        let failures = self
            .begin_account_attempt(buckets::LOGIN, &account_key, &throttle.login, None)
            .await?;
        match self.check_password(login.as_ref(), password, method).await {
            Ok(user) => {
                let store = &self.inner.throttle_store;
                store.clear(&account_key).await?;
                if let Some((key, window_start)) = &address_key {
                    store
                        .forgive(key, &throttle.login_address, *window_start)
                        .await?;
                }
                Ok(user)
            }
            Err(error) => {
                if matches!(error, AuthError::InvalidCredentials)
                    && failures == throttle.login.lock_after.clamp(1, 100)
                {
                    tracing::warn!(
                        target: "tessera::audit",
                        event = "account.locked",
                        failures,
                        client = client.address.map(tracing::field::display),
                        "account locked after consecutive failed logins"
                    );
                }
                Err(error)
            }
        }
    }

    /// Creates an account with `roles` if the login is free, or returns the
    /// existing one unchanged (for an administrator set up at start).
    ///
    /// # Errors
    /// As [`register`](Self::register), except for a taken email.
    pub async fn ensure_account(
        &self,
        email: &str,
        password: &Password,
        roles: &[&str],
    ) -> Result<User, AuthError> {
        let login = Login::parse(email).map_err(|_| AuthError::InvalidRequest("email"))?;
        if let Some(user) = self.inner.users.find_by_login(&login).await? {
            return Ok(user);
        }
        let hash = self
            .inner
            .passwords
            .hash(password)
            .await
            .map_err(password_error)?;
        let new = NewUser::new(login.clone(), hash).with_roles(roles.iter().copied());
        match self.inner.users.create(new, self.inner.clock.now()).await {
            Ok(user) => Ok(user),
            Err(CreateUserError::LoginTaken) => self
                .inner
                .users
                .find_by_login(&login)
                .await?
                .ok_or(AuthError::EmailTaken),
            Err(CreateUserError::Store(e)) => Err(e.into()),
        }
    }

    /// Checks a password login and returns the account. Unknown logins and
    /// disabled accounts cost one dummy verification, so all failures take
    /// the same time and give the same error. A hash below the current
    /// parameters is replaced; a failure to write it never fails the login.
    async fn check_password(
        &self,
        login: Option<&Login>,
        password: &Password,
        method: &'static str,
    ) -> Result<User, AuthError> {
        let user = match login {
            Some(login) => self.inner.users.find_by_login(login).await?,
            None => None,
        };
        let Some(user) = user.filter(|u| u.active) else {
            self.inner
                .passwords
                .verify_dummy(password)
                .await
                .map_err(login_error)?;
            tracing::info!(target: "tessera::audit", event = "login.failed", method, reason = "unknown_or_disabled_account", "login refused");
            return Err(AuthError::InvalidCredentials);
        };
        let verified = match self
            .inner
            .passwords
            .verify(password, &user.password_hash)
            .await
        {
            Ok(verified) => verified,
            Err(
                e @ (PasswordError::Overloaded
                | PasswordError::WorkersUnavailable
                | PasswordError::Policy(_)),
            ) => return Err(login_error(e)),
            Err(e) => {
                tracing::warn!(target: "tessera::auth", subject = %user.id, error = %e, "stored password hash unusable");
                tracing::info!(target: "tessera::audit", event = "login.failed", method, subject = %user.id, reason = "unusable_hash", "login refused");
                return Err(AuthError::InvalidCredentials);
            }
        };
        if !verified.is_valid() {
            tracing::info!(target: "tessera::audit", event = "login.failed", method, subject = %user.id, reason = "wrong_password", "login refused");
            return Err(AuthError::InvalidCredentials);
        }
        if verified.needs_rehash() {
            self.rehash(&user, password).await;
        }
        Ok(user)
    }

    async fn rehash(&self, user: &User, password: &Password) {
        let result = match self.inner.passwords.rehash(password).await {
            Ok(hash) => self
                .inner
                .users
                .update_password_hash(
                    &user.id,
                    &hash,
                    PasswordUpdate::Rehash {
                        previous: user.password_hash.clone(),
                    },
                )
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(Some(_)) => {
                tracing::info!(target: "tessera::audit", event = "password.rehashed", subject = %user.id, from = scheme_name(&user.password_hash), "stored password hash replaced with the current parameters");
            }
            // The password changed in between: that hash stays.
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(target: "tessera::auth", subject = %user.id, error, "rehash on login failed; login continues");
            }
        }
    }

    /// A password login: a new refresh family and a fresh access token.
    /// `scope` (space-separated) narrows the grant; without it the account
    /// gets every scope its roles allow.
    ///
    /// # Errors
    /// [`AuthError::InvalidCredentials`] for every kind of failed login,
    /// [`AuthError::InvalidScope`], [`AuthError::Unavailable`].
    pub async fn login(
        &self,
        email: &str,
        password: &Password,
        scope: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        self.from_client(Client::unknown())
            .login(email, password, scope)
            .await
    }

    async fn grant(&self, user: User, scope: Option<&str>) -> Result<TokenPair, AuthError> {
        let allowed = self.scopes_for(&user.roles);
        let granted = match scope {
            None => allowed,
            Some(scope) => {
                let requested: BTreeSet<String> = scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if !requested.is_subset(&allowed) {
                    return Err(AuthError::InvalidScope);
                }
                requested
            }
        };
        self.record_login(&user).await;
        tracing::info!(target: "tessera::audit", event = "login.succeeded", method = "password", subject = %user.id, "login");
        self.issue_pair(&user, granted).await
    }

    async fn record_login(&self, user: &User) {
        if let Err(e) = self
            .inner
            .users
            .record_login(&user.id, self.inner.clock.now())
            .await
        {
            tracing::warn!(target: "tessera::auth", subject = %user.id, error = %e, "could not record login");
        }
    }

    async fn issue_pair(
        &self,
        user: &User,
        scopes: BTreeSet<String>,
    ) -> Result<TokenPair, AuthError> {
        let refreshed = self
            .inner
            .refresh
            .issue(&user.id, scopes.clone())
            .await
            .map_err(token_error)?;
        let access = self
            .inner
            .jwt
            .issue(
                &user.id,
                Grant::for_family(&refreshed.family)
                    .scopes(scopes.iter().cloned())
                    .roles(user.roles.iter().cloned())
                    .fresh(true),
            )
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        Ok(TokenPair {
            access_token: access.token,
            expires_in: self.inner.jwt.config().ttl().as_secs(),
            refresh_token: refreshed.token.expose_secret().to_owned(),
            scopes,
        })
    }

    /// Exchanges a refresh token for a new pair. The new access token is not
    /// fresh; its scopes are the login's, narrowed to what the account's
    /// roles allow now. Refused once the account is disabled or gone (its
    /// password change already revoked the family).
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`] for anything wrong with the token or the
    /// account; [`AuthError::Unavailable`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        let user = match self.inner.refresh.peek(refresh_token).await {
            Ok(record) => self.inner.users.find_by_id(&record.subject).await?,
            Err(TokenError::Store(e)) => return Err(e.into()),
            // Used up, revoked or unknown: let rotation decide. Reuse
            // detection revokes the family; a repeat within the grace window
            // gets the successor handed out before.
            Err(_) => {
                return match self
                    .inner
                    .refresh
                    .refresh(refresh_token, &BTreeSet::new(), None)
                    .await
                {
                    Ok(again) => self.repeat_within_grace(again).await,
                    Err(TokenError::Store(e)) => Err(e.into()),
                    Err(_) => Err(AuthError::InvalidGrant),
                };
            }
        };
        let Some(user) = user.filter(|u| u.active) else {
            return Err(AuthError::InvalidGrant);
        };
        let allowed = self.scopes_for(&user.roles);
        let refreshed = match self
            .inner
            .refresh
            .refresh(refresh_token, &allowed, None)
            .await
        {
            Ok(refreshed) => refreshed,
            Err(TokenError::Store(e)) => return Err(e.into()),
            Err(_) => return Err(AuthError::InvalidGrant),
        };
        let access = self
            .inner
            .jwt
            .issue(
                &user.id,
                Grant::for_family(&refreshed.family)
                    .scopes(refreshed.scopes.iter().cloned())
                    .roles(user.roles.iter().cloned()),
            )
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        Ok(TokenPair {
            access_token: access.token,
            expires_in: self.inner.jwt.config().ttl().as_secs(),
            refresh_token: refreshed.token.expose_secret().to_owned(),
            scopes: refreshed.scopes,
        })
    }

    /// A repeat presentation within the grace window: the same successor,
    /// with an access token for what the account may have now.
    async fn repeat_within_grace(
        &self,
        again: crate::token::Refreshed,
    ) -> Result<TokenPair, AuthError> {
        let Some(user) = self
            .inner
            .users
            .find_by_id(&again.subject)
            .await?
            .filter(|u| u.active)
        else {
            return Err(AuthError::InvalidGrant);
        };
        let scopes: BTreeSet<String> = again
            .record
            .scopes
            .intersection(&self.scopes_for(&user.roles))
            .cloned()
            .collect();
        let access = self
            .inner
            .jwt
            .issue(
                &user.id,
                Grant::for_family(&again.family)
                    .scopes(scopes.iter().cloned())
                    .roles(user.roles.iter().cloned()),
            )
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        Ok(TokenPair {
            access_token: access.token,
            expires_in: self.inner.jwt.config().ttl().as_secs(),
            refresh_token: again.token.expose_secret().to_owned(),
            scopes,
        })
    }

    /// Ends what the identity authenticated with: a JWT's refresh family
    /// (and so every access token of that login), or the session. An API key
    /// or Basic has nothing to end.
    ///
    /// # Errors
    /// [`AuthError::Unavailable`].
    pub async fn logout(
        &self,
        identity: &Identity,
        session: Option<Session>,
    ) -> Result<(), AuthError> {
        match identity.method {
            AuthMethod::Jwt => {
                if let Some(family) = &identity.family {
                    self.inner
                        .refresh
                        .revoke_family(family)
                        .await
                        .map_err(token_error)?;
                }
            }
            AuthMethod::Session => {
                if let Some(session) = session {
                    self.inner
                        .sessions
                        .logout(session)
                        .await
                        .map_err(session_error)?;
                }
            }
            _ => {}
        }
        tracing::info!(target: "tessera::audit", event = "logout", subject = %identity.subject, method = ?identity.method, "logout");
        Ok(())
    }

    /// Ends every access token, refresh token and session of the account
    /// (API keys stay).
    ///
    /// # Errors
    /// [`AuthError::Unavailable`].
    pub async fn logout_all(&self, subject: &UserId) -> Result<(), AuthError> {
        self.inner
            .refresh
            .revoke_subject(subject, RevokeScope::RefreshTokens)
            .await
            .map_err(token_error)?;
        self.inner
            .sessions
            .revoke_all(subject)
            .await
            .map_err(session_error)?;
        tracing::info!(target: "tessera::audit", event = "logout.all", subject = %subject, "logout everywhere");
        Ok(())
    }

    /// Changes the password of a fresh identity. Every earlier access token,
    /// refresh token and session of the account ends, except the caller's
    /// session, which is rotated and kept. Returns a new fresh pair with the
    /// caller's scopes.
    ///
    /// # Errors
    /// [`AuthError::FreshLoginRequired`], [`AuthError::InvalidCredentials`]
    /// for a wrong current password, [`AuthError::WeakPassword`],
    /// [`AuthError::Unavailable`].
    pub async fn change_password(
        &self,
        identity: &Identity,
        session: Option<Session>,
        current: &Password,
        new: &Password,
    ) -> Result<PasswordChanged, AuthError> {
        if !identity.fresh {
            return Err(AuthError::FreshLoginRequired);
        }
        let user = self
            .inner
            .users
            .find_by_id(&identity.subject)
            .await?
            .filter(|u| u.active)
            .ok_or(AuthError::InvalidCredentials)?;
        // Step-up re-authentication is throttled like a login, in its own
        // bucket, counted before the hash.
        let step_up_key = self
            .inner
            .bucket_keys
            .key(buckets::STEP_UP, user.id.as_str());
        self.begin_account_attempt(
            buckets::STEP_UP,
            &step_up_key,
            &self.inner.throttle.step_up,
            Some(&user.id),
        )
        .await?;
        let verified = self
            .inner
            .passwords
            .verify(current, &user.password_hash)
            .await
            .map_err(login_error)?;
        if !verified.is_valid() {
            tracing::info!(target: "tessera::audit", event = "login.failed", method = "step_up", subject = %user.id, reason = "wrong_password", "step-up refused");
            return Err(AuthError::InvalidCredentials);
        }
        self.inner.throttle_store.clear(&step_up_key).await?;
        let hash = self
            .inner
            .passwords
            .hash(new)
            .await
            .map_err(password_error)?;
        let now = self.inner.clock.now();
        let user = self
            .inner
            .users
            .update_password_hash(&user.id, &hash, PasswordUpdate::Changed { at: now })
            .await?
            .ok_or(AuthError::InvalidCredentials)?;
        self.inner
            .refresh
            .revoke_subject(&user.id, RevokeScope::RefreshTokens)
            .await
            .map_err(token_error)?;
        let session = match session {
            Some(mut session) => {
                self.inner
                    .sessions
                    .revoke_others(&session)
                    .await
                    .map_err(session_error)?;
                self.inner
                    .sessions
                    .reauthenticate(&mut session)
                    .await
                    .map_err(session_error)?;
                Some(session)
            }
            None => {
                self.inner
                    .sessions
                    .revoke_all(&user.id)
                    .await
                    .map_err(session_error)?;
                None
            }
        };
        tracing::info!(target: "tessera::audit", event = "password.changed", subject = %user.id, "password changed");
        let scopes = identity
            .scopes
            .intersection(&self.scopes_for(&user.roles))
            .cloned()
            .collect();
        let tokens = self.issue_pair(&user, scopes).await?;
        Ok(PasswordChanged { tokens, session })
    }

    /// Starts a password reset: for an existing, active account, a reset
    /// token and the account to send it to; for any other address, nothing.
    /// The caller answers the same either way.
    ///
    /// # Errors
    /// [`AuthError::Unavailable`].
    pub async fn request_password_reset(
        &self,
        email: &str,
    ) -> Result<Option<(User, OneTimeToken)>, AuthError> {
        self.from_client(Client::unknown())
            .request_password_reset(email)
            .await
    }

    async fn reset_token(
        &self,
        client: &Client,
        login: &Login,
    ) -> Result<Option<(User, OneTimeToken)>, AuthError> {
        // Per account and client address, whether the account exists or
        // not: over the limit no message goes out, and the answer is the
        // same. Never a lock; and someone else's requests from another
        // address cannot hold back the owner's own.
        let value = match client.address {
            Some(address) => format!(
                "{}|{}",
                login.as_str(),
                crate::throttle::address_bucket(address)
            ),
            None => login.as_str().to_owned(),
        };
        let hit = self
            .inner
            .throttle_store
            .hit(
                &self.inner.bucket_keys.key(buckets::RESET_ACCOUNT, &value),
                &self.inner.throttle.reset_account,
                self.inner.clock.now(),
            )
            .await?;
        if !hit.allowed {
            tracing::info!(target: "tessera::audit", event = "reset.throttled", retry_after_secs = ceil_secs(hit.retry_after), "reset request for an account over its limit: no message");
            return Ok(None);
        }
        let Some(user) = self
            .inner
            .users
            .find_by_login(login)
            .await?
            .filter(|u| u.active)
        else {
            return Ok(None);
        };
        let token = self
            .inner
            .onetime
            .issue(&Purpose::PASSWORD_RESET, &user.id, &account_stamp(&user))
            .map_err(onetime_error)?;
        tracing::info!(target: "tessera::audit", event = "password.reset_requested", subject = %user.id, "password reset requested");
        Ok(Some((user, token)))
    }

    /// Completes a password reset. No login follows; every token, API key
    /// and session of the account ends. A refused new password does not use
    /// the token up.
    ///
    /// # Errors
    /// [`AuthError::InvalidOneTimeToken`], [`AuthError::WeakPassword`],
    /// [`AuthError::Unavailable`].
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new: &Password,
    ) -> Result<(), AuthError> {
        let subject = self.inner.onetime.peek(token).map_err(onetime_error)?;
        let user = self
            .inner
            .users
            .find_by_id(&subject)
            .await?
            .filter(|u| u.active)
            .ok_or(AuthError::InvalidOneTimeToken)?;
        let stamp = account_stamp(&user);
        // Validate without using the token up, then check the password, then
        // use it up: a weak password leaves the token valid.
        self.inner
            .onetime
            .verify(&Purpose::PASSWORD_RESET, token, &stamp)
            .map_err(onetime_error)?;
        let hash = self
            .inner
            .passwords
            .hash(new)
            .await
            .map_err(password_error)?;
        self.inner
            .onetime
            .consume(&Purpose::PASSWORD_RESET, token, &stamp)
            .await
            .map_err(onetime_error)?;
        self.inner
            .users
            .update_password_hash(
                &user.id,
                &hash,
                PasswordUpdate::Changed {
                    at: self.inner.clock.now(),
                },
            )
            .await?;
        self.revoke_everything(&user.id).await?;
        // A completed reset lifts the lock it may have been needed for.
        self.clear_throttling_after_commit(&user).await;
        tracing::info!(target: "tessera::audit", event = "password.reset", subject = %user.id, "password reset");
        Ok(())
    }

    async fn revoke_everything(&self, subject: &UserId) -> Result<(), AuthError> {
        self.inner
            .refresh
            .revoke_subject(subject, RevokeScope::Everything)
            .await
            .map_err(token_error)?;
        self.inner
            .sessions
            .revoke_all(subject)
            .await
            .map_err(session_error)?;
        Ok(())
    }

    /// Issues an API key for a fresh identity, with scopes its account's
    /// roles allow.
    ///
    /// # Errors
    /// [`AuthError::FreshLoginRequired`], [`AuthError::ScopeNotAllowed`],
    /// [`AuthError::InvalidRequest`] for a bad name,
    /// [`AuthError::Unavailable`].
    pub async fn issue_api_key(
        &self,
        identity: &Identity,
        name: &str,
        scopes: BTreeSet<String>,
    ) -> Result<NewApiKey, AuthError> {
        if !identity.fresh {
            return Err(AuthError::FreshLoginRequired);
        }
        let user = self
            .inner
            .users
            .find_by_id(&identity.subject)
            .await?
            .filter(|u| u.active)
            .ok_or(AuthError::InvalidToken)?;
        let hit = self
            .inner
            .throttle_store
            .hit(
                &self
                    .inner
                    .bucket_keys
                    .key(buckets::API_KEY_CREATION, user.id.as_str()),
                &self.inner.throttle.api_key_creation,
                self.inner.clock.now(),
            )
            .await?;
        if !hit.allowed {
            tracing::info!(target: "tessera::audit", event = "api_key.throttled", subject = %user.id, retry_after_secs = ceil_secs(hit.retry_after), "API key creation over its limit");
            return Err(AuthError::Throttled {
                retry_after: ceil_secs(hit.retry_after),
            });
        }
        // Within the account's roles and within what the caller holds: a
        // token narrowed at login cannot mint a broader key.
        let allowed: BTreeSet<String> = self
            .scopes_for(&user.roles)
            .intersection(&identity.scopes)
            .cloned()
            .collect();
        match self
            .inner
            .api_keys
            .issue(&user.id, name, scopes, &allowed)
            .await
        {
            Ok(key) => Ok(key),
            Err(TokenError::ScopeNotAllowed { scope }) => Err(AuthError::ScopeNotAllowed(scope)),
            Err(TokenError::InvalidName) => Err(AuthError::InvalidRequest("name")),
            Err(e) => Err(token_error(e)),
        }
    }

    /// The account's API keys.
    ///
    /// # Errors
    /// [`AuthError::Unavailable`].
    pub async fn list_api_keys(&self, subject: &UserId) -> Result<Vec<TokenRecord>, AuthError> {
        self.inner.api_keys.list(subject).await.map_err(token_error)
    }

    /// Revokes the account's key `id`.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] for someone else's key or an unknown id;
    /// [`AuthError::Unavailable`].
    pub async fn revoke_api_key(&self, subject: &UserId, id: &str) -> Result<(), AuthError> {
        if self
            .inner
            .api_keys
            .revoke(subject, &TokenId::new(id))
            .await
            .map_err(token_error)?
        {
            Ok(())
        } else {
            Err(AuthError::NotFound)
        }
    }

    /// Replaces an account's roles. Sessions and API keys see them on their
    /// next request (a session also gets a new id); JWTs when refreshed.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Unavailable`].
    pub async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<User, AuthError> {
        let user = self
            .inner
            .users
            .set_roles(id, roles)
            .await?
            .ok_or(AuthError::NotFound)?;
        tracing::info!(target: "tessera::audit", event = "account.roles_changed", subject = %id, roles = ?roles, "roles changed");
        Ok(user)
    }

    /// Activates or deactivates an account. Deactivation ends every token,
    /// API key and session of it.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Unavailable`].
    pub async fn set_active(&self, id: &UserId, active: bool) -> Result<User, AuthError> {
        let user = self
            .inner
            .users
            .set_active(id, active)
            .await?
            .ok_or(AuthError::NotFound)?;
        if !active {
            self.revoke_everything(id).await?;
        }
        tracing::info!(target: "tessera::audit", event = "account.activation_changed", subject = %id, active, "account activation changed");
        Ok(user)
    }

    /// A session login: checks the password like [`login`](Self::login) and
    /// starts a session with a new id (the presented one, if any, dies).
    ///
    /// # Errors
    /// As [`login`](Self::login).
    pub async fn login_session(
        &self,
        current: Option<Session>,
        email: &str,
        password: &Password,
        remember: bool,
        user_agent: Option<&str>,
    ) -> Result<Session, AuthError> {
        self.from_client(Client::unknown())
            .login_session(current, email, password, remember, user_agent)
            .await
    }

    async fn start_session(
        &self,
        user: User,
        current: Option<Session>,
        remember: bool,
        user_agent: Option<&str>,
    ) -> Result<Session, AuthError> {
        self.record_login(&user).await;
        tracing::info!(target: "tessera::audit", event = "login.succeeded", method = "session", subject = %user.id, "login");
        let options = LoginOptions::default()
            .remember(remember)
            .user_agent(user_agent)
            .privilege_stamp(privilege_stamp(&user));
        self.inner
            .sessions
            .login(current, &user.id, options)
            .await
            .map_err(session_error)
    }

    /// Resolves the credentials of a request. `Ok(None)` never happens for
    /// credentials that were presented: bad ones are an error, so a request
    /// with a bad token is never treated as anonymous.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] (bearer), [`AuthError::InvalidBasic`],
    /// [`AuthError::SessionEnded`], [`AuthError::Unavailable`].
    pub async fn authenticate(
        &self,
        credentials: &Credentials,
    ) -> Result<Option<Identity>, AuthError> {
        self.from_client(Client::unknown())
            .authenticate(credentials)
            .await
    }

    async fn authenticate_for(
        &self,
        client: &Client,
        credentials: &Credentials,
    ) -> Result<Option<Identity>, AuthError> {
        match credentials {
            Credentials::Bearer(token)
                if token.starts_with(crate::token::TokenKind::ApiKey.prefix()) =>
            {
                self.authenticate_api_key(token).await.map(Some)
            }
            Credentials::Bearer(token) => self.authenticate_jwt(token).await.map(Some),
            Credentials::Basic { login, password } => {
                match self.check_login(client, login, password, "basic").await {
                    Ok(user) => Ok(Some(self.identity_of(&user, AuthMethod::Basic, true))),
                    Err(AuthError::InvalidCredentials) => Err(AuthError::InvalidBasic),
                    Err(e) => Err(e),
                }
            }
            Credentials::Session(cookie) => {
                Ok(self.authenticate_session(cookie).await?.map(|s| s.identity))
            }
        }
    }

    /// Resolves a session cookie, with the session. A session whose account
    /// is gone or disabled is ended; one whose account's roles changed gets
    /// a new id (`rotated`).
    ///
    /// # Errors
    /// [`AuthError::SessionEnded`] for a cookie that names no live
    /// session; [`AuthError::Unavailable`].
    pub async fn authenticate_session(
        &self,
        cookie: &str,
    ) -> Result<Option<SessionIdentity>, AuthError> {
        let Some(mut session) = self
            .inner
            .sessions
            .load(cookie)
            .await
            .map_err(session_error)?
        else {
            return Err(AuthError::SessionEnded);
        };
        let Some(subject) = session.subject() else {
            // An anonymous session: no identity.
            return Ok(None);
        };
        let Some(user) = self
            .inner
            .users
            .find_by_id(&subject)
            .await?
            .filter(|u| u.active)
        else {
            self.inner
                .sessions
                .logout(session)
                .await
                .map_err(session_error)?;
            return Err(AuthError::SessionEnded);
        };
        let rotated = self
            .inner
            .sessions
            .check_privileges(&mut session, &privilege_stamp(&user))
            .await
            .map_err(session_error)?;
        let mut identity = self.identity_of(
            &user,
            AuthMethod::Session,
            self.inner.sessions.is_fresh(&session),
        );
        identity.authenticated_at = session.state().authenticated_at;
        Ok(Some(SessionIdentity {
            identity,
            session,
            rotated,
        }))
    }

    async fn authenticate_api_key(&self, token: &str) -> Result<Identity, AuthError> {
        let record = match self.inner.api_keys.authenticate(token).await {
            Ok(record) => record,
            Err(TokenError::Store(e)) => return Err(e.into()),
            Err(_) => return Err(AuthError::InvalidToken),
        };
        let user = self
            .inner
            .users
            .find_by_id(&record.subject)
            .await?
            .filter(|u| u.active)
            .ok_or(AuthError::InvalidToken)?;
        let allowed = self.scopes_for(&user.roles);
        let mut identity = self.identity_of(&user, AuthMethod::ApiKey, false);
        identity.scopes = record.scopes.intersection(&allowed).cloned().collect();
        identity.token_id = Some(record.id.as_str().to_owned());
        Ok(identity)
    }

    async fn authenticate_jwt(&self, token: &str) -> Result<Identity, AuthError> {
        let now = self.inner.clock.now();
        let claims = match self.inner.cache.get(token, now) {
            Some(claims) => {
                // The signature and claims were checked before; revocation
                // is checked on every request.
                self.inner
                    .jwt
                    .check_revocation(&claims, now)
                    .await
                    .map_err(jwt_error)?;
                claims
            }
            None => {
                let verified = self.inner.jwt.verify(token).await.map_err(jwt_error)?;
                self.inner.cache.put(token, &verified.claims);
                verified.claims
            }
        };
        Ok(Identity {
            subject: UserId::new(claims.sub.clone()),
            roles: claims.roles.iter().cloned().collect(),
            scopes: claims.scopes(),
            method: AuthMethod::Jwt,
            token_id: Some(claims.jti.clone()),
            family: claims.sid.as_deref().map(crate::token::FamilyId::new),
            fresh: claims.fresh,
            authenticated_at: claims
                .fresh
                .then(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(claims.iat)),
        })
    }

    fn identity_of(&self, user: &User, method: AuthMethod, fresh: bool) -> Identity {
        Identity {
            subject: user.id.clone(),
            roles: user.roles.clone(),
            scopes: self.scopes_for(&user.roles),
            method,
            token_id: None,
            family: None,
            fresh,
            authenticated_at: None,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("role_scopes", &self.inner.role_scopes)
            .field("jwt", &self.inner.jwt)
            .finish_non_exhaustive()
    }
}

/// `local@domain`, both parts non-empty, no spaces: deliverability is the
/// mailer's to find out.
fn looks_like_email(login: &str) -> bool {
    login.rsplit_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !login.contains(char::is_whitespace)
    })
}

/// What a session remembers of the account's privileges: its roles.
fn privilege_stamp(user: &User) -> String {
    user.roles.iter().cloned().collect::<Vec<_>>().join(",")
}

/// A login failure, for every kind of failure: an oversized password gets
/// the same answer for an unknown account as for an existing one.
fn login_error(error: PasswordError) -> AuthError {
    match error {
        PasswordError::Overloaded | PasswordError::WorkersUnavailable => {
            AuthError::Unavailable("password workers saturated".into())
        }
        _ => AuthError::InvalidCredentials,
    }
}

fn password_error(error: PasswordError) -> AuthError {
    match error {
        PasswordError::Policy(policy) => AuthError::WeakPassword(policy),
        PasswordError::Overloaded | PasswordError::WorkersUnavailable => {
            AuthError::Unavailable("password workers saturated".into())
        }
        other => AuthError::Unavailable(other.to_string()),
    }
}

fn token_error(error: TokenError) -> AuthError {
    match error {
        TokenError::Store(e) => e.into(),
        other => AuthError::Unavailable(other.to_string()),
    }
}

fn session_error(error: crate::session::SessionError) -> AuthError {
    match error {
        crate::session::SessionError::Store(e) => e.into(),
        crate::session::SessionError::Ended => AuthError::SessionEnded,
        other => AuthError::Unavailable(other.to_string()),
    }
}

fn onetime_error(error: OneTimeError) -> AuthError {
    match error {
        OneTimeError::Store(e) => e.into(),
        OneTimeError::Random(e) => AuthError::Unavailable(e.to_string()),
        _ => AuthError::InvalidOneTimeToken,
    }
}

/// The scheme of a stored hash, for the audit log: a fixed name, never any
/// of the string itself.
fn scheme_name(stored: &str) -> &'static str {
    #[cfg(feature = "legacy")]
    if let Some(scheme) = crate::password::legacy::Scheme::identify(stored) {
        return scheme.name();
    }
    if stored.starts_with("$argon2") {
        "argon2"
    } else {
        "other"
    }
}

/// Whole seconds, rounded up: a client that waits `Retry-After` must not
/// be refused again.
fn ceil_secs(duration: std::time::Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn jwt_error(error: JwtError) -> AuthError {
    match error {
        JwtError::Store(e) => e.into(),
        other => {
            tracing::debug!(target: "tessera::auth", error = %other, "bearer token refused");
            AuthError::InvalidToken
        }
    }
}

/// [`Auth`]'s operations for one client, with its address: what the
/// adapters call, so that per-address limits apply (see
/// [`Auth::from_client`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientAuth<'a> {
    auth: &'a Auth,
    client: Client,
}

impl ClientAuth<'_> {
    /// The client.
    pub fn client(&self) -> Client {
        self.client
    }

    /// [`Auth::register`], counted in the client address's registration
    /// bucket first.
    ///
    /// # Errors
    /// As [`Auth::register`], and [`AuthError::Throttled`].
    pub async fn register(&self, email: &str, password: &Password) -> Result<User, AuthError> {
        let throttle = &self.auth.inner.throttle;
        self.auth
            .hit_address(
                &self.client,
                buckets::REGISTRATION_ADDRESS,
                &throttle.registration_address,
            )
            .await?;
        self.auth.register_checked(email, password).await
    }

    /// [`Auth::login`], throttled: the client address's and the account's
    /// buckets count the attempt before the password hash; a refused
    /// attempt computes none and answers like a wrong password (or 429 for
    /// the address).
    ///
    /// # Errors
    /// As [`Auth::login`], and [`AuthError::Throttled`] (and
    /// [`AuthError::AccountLocked`] when locks are disclosed).
    pub async fn login(
        &self,
        email: &str,
        password: &Password,
        scope: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        let user = self
            .auth
            .check_login(&self.client, email, password, "password")
            .await?;
        self.auth.grant(user, scope).await
    }

    /// [`Auth::login_session`], throttled as [`login`](Self::login).
    ///
    /// # Errors
    /// As [`login`](Self::login).
    pub async fn login_session(
        &self,
        current: Option<Session>,
        email: &str,
        password: &Password,
        remember: bool,
        user_agent: Option<&str>,
    ) -> Result<Session, AuthError> {
        let user = self
            .auth
            .check_login(&self.client, email, password, "session")
            .await?;
        self.auth
            .start_session(user, current, remember, user_agent)
            .await
    }

    /// [`Auth::request_password_reset`], counted in the client address's
    /// reset bucket (429 over it) and the account's (no message over it).
    ///
    /// # Errors
    /// As [`Auth::request_password_reset`], and [`AuthError::Throttled`].
    pub async fn request_password_reset(
        &self,
        email: &str,
    ) -> Result<Option<(User, OneTimeToken)>, AuthError> {
        let throttle = &self.auth.inner.throttle;
        self.auth
            .hit_address(
                &self.client,
                buckets::RESET_ADDRESS,
                &throttle.reset_address,
            )
            .await?;
        match Login::parse(email) {
            Ok(login) => self.auth.reset_token(&self.client, &login).await,
            Err(_) => Ok(None),
        }
    }

    /// [`Auth::authenticate`]; Basic credentials are throttled as
    /// [`login`](Self::login), in the same buckets.
    ///
    /// # Errors
    /// As [`Auth::authenticate`], and [`AuthError::Throttled`].
    pub async fn authenticate(
        &self,
        credentials: &Credentials,
    ) -> Result<Option<Identity>, AuthError> {
        self.auth.authenticate_for(&self.client, credentials).await
    }
}

/// Builds an [`Auth`]; [`build`](Self::build) validates everything.
#[derive(Default)]
pub struct AuthBuilder {
    users: Option<Arc<dyn UserStore>>,
    tokens: Option<Arc<dyn TokenStore>>,
    sessions: Option<Arc<dyn SessionStore>>,
    revocations: Option<Arc<dyn Revocations>>,
    onetime: Option<Arc<dyn OneTimeStore>>,
    passwords: Option<PasswordPool>,
    jwt_keys: Option<JwtKeySet>,
    secret: Option<zeroize::Zeroizing<Vec<u8>>>,
    issuer: Option<String>,
    audience: Option<String>,
    public_origin: Option<String>,
    role_scopes: BTreeMap<String, BTreeSet<String>>,
    default_roles: Option<BTreeSet<String>>,
    clock: Option<Arc<dyn Clock>>,
    refresh_config: RefreshConfig,
    session_config: SessionConfig,
    cookie: CookieSettings,
    cache_capacity: Option<usize>,
    memory_revocations: bool,
    csrf_keys: Option<HmacKeys>,
    onetime_keys: Option<HmacKeys>,
    pepper_keys: Option<HmacKeys>,
    throttle_key: Option<HmacKey>,
    successor_keys: Option<HmacKeys>,
    throttle: ThrottleConfig,
    throttle_store: Option<Arc<dyn ThrottleStore>>,
}

impl AuthBuilder {
    /// The throttling limits (CONTRACTS.md §1's by default).
    pub fn throttle(mut self, config: ThrottleConfig) -> Self {
        self.throttle = config;
        self
    }

    /// Where throttling counts live. Default: a [`MemoryThrottleStore`]
    /// for this process; several instances need a shared one (SQL, Redis)
    /// or each would count alone.
    pub fn throttle_store(mut self, store: Arc<dyn ThrottleStore>) -> Self {
        self.throttle_store = Some(store);
        self
    }

    /// Every store in memory (tests, examples, single-process development).
    pub fn in_memory(mut self) -> Self {
        self.users = Some(Arc::new(MemoryUserStore::new()));
        self.tokens = Some(Arc::new(MemoryTokenStore::new()));
        self.sessions = Some(Arc::new(MemorySessionStore::new()));
        // Built in `build`, on the builder's clock.
        self.revocations = None;
        self.memory_revocations = true;
        self.onetime = Some(Arc::new(MemoryOneTimeStore::new()));
        self
    }

    /// The user store.
    pub fn users(mut self, store: Arc<dyn UserStore>) -> Self {
        self.users = Some(store);
        self
    }

    /// The token store (refresh families, API keys).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.tokens = Some(store);
        self
    }

    /// The session store.
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    /// Where access-token revocations live.
    pub fn revocations(mut self, store: Arc<dyn Revocations>) -> Self {
        self.revocations = Some(store);
        self.memory_revocations = false;
        self
    }

    /// Where used one-time tokens are remembered.
    pub fn onetime_store(mut self, store: Arc<dyn OneTimeStore>) -> Self {
        self.onetime = Some(store);
        self
    }

    /// The password pool (default: argon2id with the OWASP parameters, one
    /// worker per core).
    pub fn password_pool(mut self, pool: PasswordPool) -> Self {
        self.passwords = Some(pool);
        self
    }

    /// The JWT keys. Required.
    pub fn jwt_keys(mut self, keys: JwtKeySet) -> Self {
        self.jwt_keys = Some(keys);
        self
    }

    /// The secret (at least 32 bytes) the CSRF, one-time-token, token-pepper,
    /// refresh-successor and throttle keys are derived from (HKDF).
    /// Instances that share it accept each other's CSRF tokens and reset
    /// links, and count each other's login attempts.
    pub fn secret_key(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret = Some(zeroize::Zeroizing::new(secret.into()));
        self
    }

    /// The CSRF keys, instead of deriving them from the secret key. Put a new
    /// key first to rotate; keep the old one listed while its tokens live.
    pub fn csrf_keys(mut self, keys: HmacKeys) -> Self {
        self.csrf_keys = Some(keys);
        self
    }

    /// The one-time-token (reset link) keys, instead of deriving them.
    pub fn onetime_keys(mut self, keys: HmacKeys) -> Self {
        self.onetime_keys = Some(keys);
        self
    }

    /// The key that turns logins and addresses into throttle-store keys
    /// ([`BucketKeys`]), instead of deriving it. Every instance sharing a
    /// throttle store needs the same one; a new key starts every count
    /// afresh.
    pub fn throttle_key(mut self, key: HmacKey) -> Self {
        self.throttle_key = Some(key);
        self
    }

    /// The pepper for token digests, instead of deriving it. Keep old keys
    /// listed while tokens digested with them live.
    pub fn token_pepper(mut self, keys: HmacKeys) -> Self {
        self.pepper_keys = Some(keys);
        self
    }

    /// The keys that derive refresh successors, instead of deriving them.
    pub fn successor_keys(mut self, keys: HmacKeys) -> Self {
        self.successor_keys = Some(keys);
        self
    }

    /// `iss` of issued tokens. Required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// `aud` of issued tokens. Required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The service's public origin, for the CSRF `Origin` check. Required.
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        self.public_origin = Some(origin.into());
        self
    }

    /// Adds the scopes `role` allows.
    pub fn role_scopes<I, S>(mut self, role: &str, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.role_scopes
            .entry(role.to_owned())
            .or_default()
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Roles of new accounts (default `["user"]`).
    pub fn default_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.default_roles = Some(roles.into_iter().map(Into::into).collect());
        self
    }

    /// The clock (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Refresh-token lifetimes and grace window.
    pub fn refresh_config(mut self, config: RefreshConfig) -> Self {
        self.refresh_config = config;
        self
    }

    /// Session timeouts.
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.session_config = config;
        self
    }

    /// Session cookie attributes.
    pub fn cookie(mut self, cookie: CookieSettings) -> Self {
        self.cookie = cookie;
        self
    }

    /// Verified JWTs kept to skip repeated signature checks (default 10 000;
    /// 0 turns the cache off). Revocation is checked on every request either
    /// way.
    pub fn verified_cache(mut self, capacity: usize) -> Self {
        self.cache_capacity = Some(capacity);
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first missing or invalid setting.
    pub fn build(self) -> Result<Auth, ConfigError> {
        let missing = |setting: &'static str| ConfigError::invalid(setting, "is required");
        let users = self.users.ok_or_else(|| missing("users"))?;
        let tokens = self.tokens.ok_or_else(|| missing("token_store"))?;
        let session_store = self.sessions.ok_or_else(|| missing("session_store"))?;
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let revocations: Arc<dyn Revocations> = match self.revocations {
            Some(store) => store,
            None if self.memory_revocations => {
                Arc::new(MemoryRevocations::with_clock(clock.clone()))
            }
            None => return Err(missing("revocations")),
        };
        let onetime_store = self.onetime.ok_or_else(|| missing("onetime_store"))?;
        let jwt_keys = self.jwt_keys.ok_or_else(|| missing("jwt_keys"))?;

        let issuer = self.issuer.ok_or_else(|| missing("issuer"))?;
        let audience = self.audience.ok_or_else(|| missing("audience"))?;
        let public_origin = self.public_origin.ok_or_else(|| missing("public_origin"))?;
        let passwords = match self.passwords {
            Some(pool) => pool,
            None => PasswordPool::builder().build()?,
        };
        // Each key set is given, or derived from the secret key.
        let secret = self.secret;
        let derive = |given: Option<HmacKeys>, purpose: &str| -> Result<HmacKeys, ConfigError> {
            match (given, &secret) {
                (Some(keys), _) => Ok(keys),
                (None, Some(secret)) => {
                    HmacKey::derive("derived-1", secret, purpose).map(HmacKeys::single)
                }
                (None, None) => Err(ConfigError::invalid(
                    "secret_key",
                    "is required unless every key set is given one by one",
                )),
            }
        };
        let pepper = derive(self.pepper_keys, "tessera/v1/token-pepper")?;
        let successor = derive(self.successor_keys, "tessera/v1/refresh-successor")?;
        let csrf_keys = derive(self.csrf_keys, "tessera/v1/csrf")?;
        let onetime_keys = derive(self.onetime_keys, "tessera/v1/one-time")?;
        let throttle_key = derive(
            self.throttle_key.map(HmacKeys::single),
            "tessera/v1/throttle",
        )?
        .current()
        .clone();
        let hasher = TokenHasher::with_pepper(pepper);

        let jwt = Jwt::builder(jwt_keys, JwtConfig::new(issuer, audience))
            .clock(clock.clone())
            .revocations(revocations.clone())
            .build()?;
        let mut refresh_config = self.refresh_config;
        refresh_config.access_token_ttl = jwt.config().ttl();
        let refresh = RefreshTokens::builder(tokens.clone(), revocations)
            .hasher(hasher.clone())
            .successor_keys(successor)
            .clock(clock.clone())
            .config(refresh_config)
            .build()?;
        let api_keys = ApiKeys::new(tokens, hasher, clock.clone());
        let sessions = SessionManager::builder(session_store)
            .clock(clock.clone())
            .config(self.session_config)
            .cookie(self.cookie)
            .build()?;
        let csrf = Csrf::new(csrf_keys, &public_origin)?;
        let onetime = OneTimeTokens::new(onetime_keys, onetime_store).with_clock(clock.clone());
        let default_roles = self
            .default_roles
            .unwrap_or_else(|| ["user".to_owned()].into());
        Ok(Auth {
            inner: Arc::new(Inner {
                users,
                passwords,
                jwt,
                refresh,
                api_keys,
                sessions,
                csrf,
                onetime,
                role_scopes: self.role_scopes,
                default_roles,
                clock,
                cache: cache::VerifiedCache::new(self.cache_capacity.unwrap_or(10_000)),
                throttle: self.throttle,
                throttle_store: self
                    .throttle_store
                    .unwrap_or_else(|| Arc::new(MemoryThrottleStore::new())),
                bucket_keys: BucketKeys::new(throttle_key),
            }),
        })
    }
}

impl fmt::Debug for AuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("public_origin", &self.public_origin)
            .field("role_scopes", &self.role_scopes)
            .finish_non_exhaustive()
    }
}
