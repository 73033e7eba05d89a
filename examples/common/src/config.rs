//! The starter's configuration, read from the environment
//! (CONTRACTS.md §1) or built in code (tests).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::throttle::{ThrottleConfig, TrustedProxies};

use tessera_core::clock::Clock;
use tessera_core::password::{Password, PasswordPool};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::stores::Stores;

/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:3000";
/// Default database: a SQLite file in the working directory, created if
/// missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tessera-example.db?mode=rwc";
/// Shortest accepted `TESSERA_SECRET_KEY` and `TESSERA_JWT_SECRET`, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Where the JWT signing key comes from.
#[derive(Clone)]
#[non_exhaustive]
pub enum JwtKeySource {
    /// `TESSERA_JWT_SECRET`: an HS256 secret of at least 32 bytes. Instances
    /// that share it accept each other's tokens; the JWKS is empty.
    Secret(Zeroizing<Vec<u8>>),
    /// `TESSERA_JWT_KEY_FILE`: a PEM private key (Ed25519, P-256 or RSA of
    /// at least 2048 bits), tried as EdDSA, ES256 and RS256 in turn.
    KeyFile(PathBuf),
    /// Neither: a new Ed25519 key at every start (tokens die with the
    /// process), with a warning.
    Generate,
}

impl fmt::Debug for JwtKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::KeyFile(path) => f.debug_tuple("KeyFile").field(path).finish(),
            Self::Generate => f.write_str("Generate"),
        }
    }
}

/// Everything the starter needs to start.
///
/// [`Config::from_env`] reads the variables of CONTRACTS.md §1; the
/// setters build one in code. The setters marked *for tests* replace parts
/// a deployment never replaces.
#[derive(Clone)]
pub struct Config {
    pub(crate) bind: String,
    pub(crate) database_url: String,
    pub(crate) redis_url: Option<String>,
    pub(crate) jwt: JwtKeySource,
    pub(crate) secret_key: Option<Zeroizing<Vec<u8>>>,
    pub(crate) admin: Option<(String, Password)>,
    pub(crate) outbox: Option<PathBuf>,
    pub(crate) insecure_cookies: bool,
    pub(crate) public_url: Option<String>,
    pub(crate) password_pool: Option<PasswordPool>,
    pub(crate) stores: Option<Stores>,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) throttle: Option<ThrottleConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND.to_owned(),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            redis_url: None,
            jwt: JwtKeySource::Generate,
            secret_key: None,
            admin: None,
            outbox: None,
            insecure_cookies: false,
            public_url: None,
            password_pool: None,
            stores: None,
            clock: None,
            trusted_proxies: TrustedProxies::none(),
            throttle: None,
        }
    }
}

impl Config {
    /// The defaults of CONTRACTS.md §1: every variable unset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the process environment.
    ///
    /// # Errors
    /// [`Error::Config`] for a contradictory or unusable setting (both JWT
    /// key variables, a short secret, an admin email without a password…).
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (the environment, or a map in
    /// tests). An empty value counts as unset.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let var = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let mut config = Self::new();
        if let Some(bind) = var("TESSERA_BIND") {
            config.bind = bind;
        }
        if let Some(url) = var("DATABASE_URL") {
            config.database_url = url;
        }
        config.redis_url = var("REDIS_URL");
        config.jwt = match (var("TESSERA_JWT_SECRET"), var("TESSERA_JWT_KEY_FILE")) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "TESSERA_JWT_SECRET and TESSERA_JWT_KEY_FILE are both set; set one: \
                     a shared HS256 secret, or a private key whose public half is served \
                     at /.well-known/jwks.json"
                        .into(),
                ));
            }
            (Some(secret), None) => {
                check_length("TESSERA_JWT_SECRET", &secret)?;
                JwtKeySource::Secret(Zeroizing::new(secret.into_bytes()))
            }
            (None, Some(path)) => JwtKeySource::KeyFile(PathBuf::from(path)),
            (None, None) => JwtKeySource::Generate,
        };
        if let Some(secret) = var("TESSERA_SECRET_KEY") {
            check_length("TESSERA_SECRET_KEY", &secret)?;
            config.secret_key = Some(Zeroizing::new(secret.into_bytes()));
        }
        config.admin = match (var("TESSERA_ADMIN_EMAIL"), var("TESSERA_ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email, Password::new(password))),
            (None, None) => None,
            _ => {
                return Err(Error::Config(
                    "TESSERA_ADMIN_EMAIL and TESSERA_ADMIN_PASSWORD go together; set both or neither"
                        .into(),
                ));
            }
        };
        config.outbox = var("TESSERA_OUTBOX").map(PathBuf::from);
        config.insecure_cookies = match var("TESSERA_INSECURE_COOKIES").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(Error::Config(format!(
                    "TESSERA_INSECURE_COOKIES must be 1 (or unset), not {other:?}"
                )));
            }
        };
        config.public_url = var("TESSERA_PUBLIC_URL");
        if let Some(list) = var("TESSERA_TRUSTED_PROXIES") {
            config.trusted_proxies = TrustedProxies::parse(&list)
                .map_err(|why| Error::Config(format!("TESSERA_TRUSTED_PROXIES: {why}")))?;
        }
        Ok(config)
    }

    /// Proxies whose `X-Forwarded-For` is believed
    /// (`TESSERA_TRUSTED_PROXIES`); none by default.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Throttling limits other than CONTRACTS.md §1's (tests).
    pub fn throttle(mut self, config: ThrottleConfig) -> Self {
        self.throttle = Some(config);
        self
    }

    /// The listen address (`TESSERA_BIND`).
    pub fn bind(mut self, bind: impl Into<String>) -> Self {
        self.bind = bind.into();
        self
    }

    /// The database (`DATABASE_URL`): `sqlite://…`, `sqlite::memory:` or
    /// `postgres://…`.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = url.into();
        self
    }

    /// Redis for revocations and the token store (`REDIS_URL`).
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// Where the JWT key comes from (`TESSERA_JWT_SECRET`,
    /// `TESSERA_JWT_KEY_FILE`).
    pub fn jwt_key(mut self, source: JwtKeySource) -> Self {
        self.jwt = source;
        self
    }

    /// The secret the CSRF, one-time-token and token-digest keys are derived
    /// from (`TESSERA_SECRET_KEY`, at least 32 bytes; checked at
    /// [`Services::build`](crate::Services::build)).
    pub fn secret_key(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret_key = Some(Zeroizing::new(secret.into()));
        self
    }

    /// An administrator created at start if missing
    /// (`TESSERA_ADMIN_EMAIL`, `TESSERA_ADMIN_PASSWORD`).
    pub fn admin(mut self, email: impl Into<String>, password: Password) -> Self {
        self.admin = Some((email.into(), password));
        self
    }

    /// The folder outgoing mail is written to (`TESSERA_OUTBOX`).
    pub fn outbox(mut self, dir: impl Into<PathBuf>) -> Self {
        self.outbox = Some(dir.into());
        self
    }

    /// Plain-http cookies (`TESSERA_INSECURE_COOKIES=1`): no `Secure`, no
    /// `__Host-` prefix. Development only.
    pub fn insecure_cookies(mut self, insecure: bool) -> Self {
        self.insecure_cookies = insecure;
        self
    }

    /// The server's own origin (`TESSERA_PUBLIC_URL`), for the CSRF origin
    /// check and links in mail.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// The address to listen on (`TESSERA_BIND`).
    pub fn listen_address(&self) -> &str {
        &self.bind
    }

    /// Without `TESSERA_PUBLIC_URL`, and when the bind address is numeric,
    /// makes the public URL `http://` + the address actually bound (so port 0
    /// gives the port chosen). A configured public URL is kept.
    #[must_use]
    pub fn resolve_public_url(mut self, bound: std::net::SocketAddr) -> Self {
        if self.public_url.is_none() && self.bind.parse::<std::net::SocketAddr>().is_ok() {
            self.public_url = Some(format!("http://{bound}"));
        }
        self
    }

    /// The public URL in force: the configured one, or `http://` + the
    /// bind address.
    pub fn effective_public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }

    /// *For tests*: the password pool, so that tests can hash with cheap
    /// parameters. A server keeps the default (argon2id with the OWASP
    /// parameters).
    pub fn password_pool(mut self, pool: PasswordPool) -> Self {
        self.password_pool = Some(pool);
        self
    }

    /// *For tests*: stores to use instead of connecting to `DATABASE_URL`
    /// and `REDIS_URL` (for example wrappers that fail on demand).
    pub fn stores(mut self, stores: Stores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// *For tests*: the clock of the `Auth` service (sessions, tokens).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs may hold passwords: show only their scheme.
        let scheme = |url: &str| url.split(':').next().unwrap_or_default().to_owned();
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database", &scheme(&self.database_url))
            .field("redis", &self.redis_url.as_deref().map(scheme))
            .field("jwt", &self.jwt)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "[redacted]"),
            )
            .field("admin", &self.admin.as_ref().map(|(email, _)| email))
            .field("outbox", &self.outbox)
            .field("insecure_cookies", &self.insecure_cookies)
            .field("public_url", &self.public_url)
            .field("custom_stores", &self.stores.is_some())
            .finish_non_exhaustive()
    }
}

fn check_length(name: &str, secret: &str) -> Result<(), Error> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(Error::Config(format!(
            "{name} has {} bytes; at least {MIN_SECRET_BYTES} are needed",
            secret.len()
        )));
    }
    Ok(())
}
