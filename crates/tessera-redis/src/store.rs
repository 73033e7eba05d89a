//! The store handle, its options, and what every operation shares: the
//! timeout, key names, TTLs and SCAN.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::error::{ConfigError, StoreError};
use tessera_core::token::TokenDigest;

/// Added to every TTL: the allowance for clock skew between the instances
/// that share the server. A reader whose clock is behind the writer's would
/// otherwise see an entry vanish (a revocation, a used one-time token)
/// while it still considers it live.
pub(crate) const TTL_SLACK: Duration = Duration::from_secs(5);
/// The shortest TTL written, for entries whose end has already passed.
pub(crate) const MIN_TTL: Duration = Duration::from_secs(1);
/// The longest TTL written (about 31 700 years): beyond it Redis refuses
/// the expiry, and Lua numbers lose integer precision.
const MAX_TTL_MS: u64 = 1_000_000_000_000_000;
/// Keys handled per SCAN page and per purge script.
const SCAN_BATCH: usize = 256;

/// Options of a [`RedisStore`].
///
/// ```
/// use std::time::Duration;
/// use tessera_redis::RedisOptions;
///
/// let options = RedisOptions::default()
///     .prefix("myapp:auth:")
///     .timeout(Duration::from_millis(500));
/// assert_eq!(options.prefix, "myapp:auth:");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Every key starts with this (default `tessera:`), so several
    /// applications, or several tests, can share one server. It must not be
    /// empty.
    pub prefix: String,
    /// How long any one operation may take, connecting included (default
    /// 2 s). Past it the operation fails with
    /// [`StoreError::Unavailable`]: a store that hangs must not hang the
    /// request, and nothing is allowed through because of it. Must be above
    /// zero.
    pub timeout: Duration,
    /// The clock TTLs are computed from (default the system clock). Give it
    /// the clock the rest of tessera uses: TTLs are `until - clock.now()`,
    /// relative, so a test clock standing in another year still gives keys
    /// their intended lifetime on a server that runs on real time.
    pub clock: Arc<dyn Clock>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "tessera:".to_owned(),
            timeout: Duration::from_secs(2),
            clock: Arc::new(SystemClock),
        }
    }
}

impl RedisOptions {
    /// The key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The per-operation timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock TTLs are computed from.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A connection manager configuration whose connection and response
    /// timeouts are [`timeout`](Self::timeout), for building the manager
    /// given to [`RedisStore::from_manager`].
    pub fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_max_delay(self.timeout)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.prefix.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "prefix",
                reason: "must not be empty: keys would mix with other data".to_owned(),
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Invalid {
                setting: "timeout",
                reason: "must be above zero".to_owned(),
            });
        }
        Ok(())
    }
}

/// The Redis stores: [`TokenStore`](tessera_core::token::TokenStore),
/// [`Revocations`](tessera_core::jwt::Revocations),
/// [`SessionStore`](tessera_core::session::SessionStore) and
/// [`OneTimeStore`](tessera_core::onetime::OneTimeStore) over one
/// connection manager.
///
/// Cheap to clone: clones share the connection. See the
/// [crate documentation](crate) for the key layout.
#[derive(Clone)]
pub struct RedisStore {
    manager: ConnectionManager,
    options: Arc<RedisOptions>,
}

impl RedisStore {
    /// Connects to the server at `url` (`redis://[user:password@]host[:port][/db]`)
    /// and checks that it answers within the timeout.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for bad options or a URL that is not a Redis
    /// URL; [`ConfigError::Setup`] when the server cannot be reached in time.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, ConfigError> {
        options.validate()?;
        let client = client(url)?;
        let connecting = ConnectionManager::new_with_config(client, options.manager_config());
        let manager = match tokio::time::timeout(options.timeout, connecting).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(e)) => return Err(setup(e)),
            Err(_) => return Err(setup(TimedOut(options.timeout))),
        };
        Ok(Self::new(manager, options))
    }

    /// A store for the server at `url` that connects on first use, so the
    /// application can start while Redis is down (its operations fail with
    /// [`StoreError::Unavailable`] until it is back). Must be called within
    /// a Tokio runtime.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for bad options, a URL that is not a Redis
    /// URL, or no Tokio runtime.
    pub fn connect_lazy(url: &str, options: RedisOptions) -> Result<Self, ConfigError> {
        options.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::Invalid {
                setting: "runtime",
                reason: "RedisStore::connect_lazy must be called within a Tokio runtime".to_owned(),
            });
        }
        let manager =
            ConnectionManager::new_lazy_with_config(client(url)?, options.manager_config())
                .map_err(setup)?;
        Ok(Self::new(manager, options))
    }

    /// A store over a connection manager the application built (see
    /// [`RedisOptions::manager_config`] for matching timeouts).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for bad options.
    pub fn from_manager(
        manager: ConnectionManager,
        options: RedisOptions,
    ) -> Result<Self, ConfigError> {
        options.validate()?;
        Ok(Self::new(manager, options))
    }

    fn new(manager: ConnectionManager, options: RedisOptions) -> Self {
        Self {
            manager,
            options: Arc::new(options),
        }
    }

    /// The options the store was built with.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// A handle on the connection, for one operation.
    pub(crate) fn con(&self) -> ConnectionManager {
        self.manager.clone()
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.options.prefix
    }

    /// Runs one operation under the timeout.
    pub(crate) async fn run<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.options.timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::unavailable(TimedOut(self.options.timeout))),
        }
    }

    /// `{prefix}{kind}{id}`.
    pub(crate) fn key(&self, kind: &str, id: &str) -> String {
        let mut key = String::with_capacity(self.prefix().len() + kind.len() + id.len());
        key.push_str(self.prefix());
        key.push_str(kind);
        key.push_str(id);
        key
    }

    pub(crate) fn digest_key(&self, kind: &str, digest: &TokenDigest) -> String {
        self.key(kind, &digest.to_hex())
    }

    /// Milliseconds from the injected clock's now to `until`, plus the
    /// slack, at least [`MIN_TTL`].
    pub(crate) fn ttl_ms(&self, until: SystemTime) -> u64 {
        let left = until
            .duration_since(self.options.clock.now())
            .unwrap_or_default();
        let ttl = left.saturating_add(TTL_SLACK).max(MIN_TTL);
        u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .min(MAX_TTL_MS)
    }

    /// [`ttl_ms`](Self::ttl_ms) as a script argument, `"0"` for no end.
    pub(crate) fn ttl_arg(&self, until: Option<SystemTime>) -> String {
        until.map_or_else(|| "0".to_owned(), |u| self.ttl_ms(u).to_string())
    }

    /// Every key `{prefix}{kind}*` of `type_`, page by page, handing each
    /// page to `each` (which deletes what it must and says how many). Each
    /// page is one operation under the timeout, so a large keyspace makes
    /// a purge long, never a timeout.
    pub(crate) async fn scan_pages<F, Fut>(
        &self,
        kind: &str,
        type_: &str,
        mut each: F,
    ) -> Result<u64, StoreError>
    where
        F: FnMut(Vec<String>) -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let pattern = format!("{}{kind}*", glob_escape(self.prefix()));
        let mut cursor: u64 = 0;
        let mut total = 0u64;
        loop {
            let page = self.run(async {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_BATCH)
                    .arg("TYPE")
                    .arg(type_)
                    .query_async(&mut self.con())
                    .await
                    .map_err(fail)?;
                Ok((next, keys))
            });
            let (next, keys) = page.await?;
            for chunk in keys.chunks(SCAN_BATCH) {
                total = total.saturating_add(self.run(each(chunk.to_vec())).await?);
            }
            if next == 0 {
                return Ok(total);
            }
            cursor = next;
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The manager's Debug shows the connection info; leave it out.
        f.debug_struct("RedisStore")
            .field("prefix", &self.options.prefix)
            .field("timeout", &self.options.timeout)
            .finish_non_exhaustive()
    }
}

fn client(url: &str) -> Result<redis::Client, ConfigError> {
    // The parser's message may quote the URL, password included: not kept.
    redis::Client::open(url).map_err(|_| ConfigError::Invalid {
        setting: "redis url",
        reason: "not a valid Redis URL (redis://host:port/db)".to_owned(),
    })
}

fn setup(cause: impl std::error::Error + Send + Sync + 'static) -> ConfigError {
    ConfigError::Setup {
        what: "redis connection",
        source: Box::new(cause),
    }
}

/// A failed command: the server is unreachable or refused to execute it.
pub(crate) fn fail(e: redis::RedisError) -> StoreError {
    StoreError::unavailable(e)
}

/// Escapes the glob characters of `text` for `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The operation did not finish within the store's timeout.
#[derive(Debug)]
struct TimedOut(Duration);

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redis did not answer within {:?}", self.0)
    }
}

impl std::error::Error for TimedOut {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(glob_escape("tessera:"), "tessera:");
    }

    #[test]
    fn options_are_validated() {
        assert!(RedisOptions::default().validate().is_ok());
        assert!(RedisOptions::default().prefix("").validate().is_err());
        assert!(
            RedisOptions::default()
                .timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
    }
}
