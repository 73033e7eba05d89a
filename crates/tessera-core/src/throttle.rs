//! Login throttling: growing delays and a lock per account, rate limits per
//! client address, and the [`ThrottleStore`] that keeps the counts.
//!
//! Two kinds of bucket:
//!
//! - **Account** buckets ([`AccountLimits`]) count consecutive failed
//!   password attempts for one key (the normalised login, or an account id
//!   for step-up re-authentication). A few failures are free; after them
//!   each attempt must wait, the wait doubling per failure up to a ceiling;
//!   after `lock_after` consecutive failures the key is locked until it is
//!   cleared (a successful login, a completed password reset, an
//!   administrator's unlock) or the lock window ends. An attempt refused
//!   during a wait is not evaluated and does not count, so a burst of
//!   requests cannot lock an account for good: only evaluated failures do.
//! - **Rate** buckets ([`RateLimit`]) count events per fixed window for one
//!   key (a client address, or an account for reset requests): spraying
//!   one password over many accounts, registration floods, reset spam.
//!
//! Both are counted **before** the password hash is computed, atomically in
//! the store ([`ThrottleStore::begin_attempt`], [`ThrottleStore::hit`]), so
//! concurrent attempts cannot slip past a limit together, and a refused
//! attempt costs no hash. A success then clears or forgives what it was
//! counted as. If the store cannot answer, the caller must fail closed:
//! there is no fallback to a fresh local counter.
//!
//! Keys never hold the login in clear: [`BucketKeys`] makes them an HMAC of
//! the bucket's name and value under a secret key, so a shared store
//! (Redis) holds no email addresses, its reader cannot test a list of them
//! against the keys, and every key has the same small size.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use tessera_core::memory::MemoryThrottleStore;
//! use tessera_core::keys::HmacKey;
//! use tessera_core::throttle::{AccountLimits, Attempt, BucketKeys, ThrottleStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryThrottleStore::new();
//! let limits = AccountLimits::default(); // 5 free failures, then 1 s, 2 s, 4 s … 15 min
//! let keys = BucketKeys::new(HmacKey::new("throttle-1", [7u8; 32])?);
//! let key = keys.key("login", "alice@example.com");
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
//! for _ in 0..5 {
//!     // Counted before the hash; the password then turns out wrong.
//!     assert!(matches!(store.begin_attempt(&key, &limits, t0).await?, Attempt::Allowed { .. }));
//! }
//! // The sixth attempt must wait a second and is not evaluated.
//! assert!(matches!(
//!     store.begin_attempt(&key, &limits, t0).await?,
//!     Attempt::Delayed { retry_after } if retry_after == Duration::from_secs(1)
//! ));
//! // After the wait it is evaluated again; a success clears the count.
//! let later = t0 + Duration::from_secs(1);
//! assert!(matches!(store.begin_attempt(&key, &limits, later).await?, Attempt::Allowed { failures: 6 }));
//! store.clear(&key).await?;
//! assert_eq!(store.failures(&key, &limits, later).await?, 0);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::StoreError;
use crate::keys::HmacKey;

/// The limits of an account bucket. The defaults are CONTRACTS.md §1's:
/// 5 free failures, then 1 s doubling up to 15 minutes, and a lock after
/// 100 consecutive failures (NIST SP 800-63B §5.2.2) for 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountLimits {
    /// Consecutive failures that impose no wait.
    pub free_failures: u32,
    /// The wait after the last free failure.
    pub first_delay: Duration,
    /// The longest wait; each further failure doubles it up to this.
    pub max_delay: Duration,
    /// Consecutive evaluated failures that lock the key (at most 100, as
    /// NIST requires; [`AccountLimits::lock_after`] clamps).
    pub lock_after: u32,
    /// How long a lock lasts after the last failure, unless cleared. Also
    /// how long failures are remembered at all.
    pub lock_window: Duration,
}

impl Default for AccountLimits {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            lock_after: 100,
            lock_window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl AccountLimits {
    /// Sets the free failures.
    #[must_use]
    pub fn free_failures(mut self, failures: u32) -> Self {
        self.free_failures = failures;
        self
    }

    /// Sets the first wait and its ceiling.
    #[must_use]
    pub fn delays(mut self, first: Duration, max: Duration) -> Self {
        self.first_delay = first;
        self.max_delay = max.max(first);
        self
    }

    /// Sets the failures that lock the key, between 1 and 100.
    #[must_use]
    pub fn lock_after(mut self, failures: u32) -> Self {
        self.lock_after = failures.clamp(1, 100);
        self
    }

    /// Sets the lock window.
    #[must_use]
    pub fn lock_window(mut self, window: Duration) -> Self {
        self.lock_window = window;
        self
    }

    /// The wait imposed after `failures` consecutive failures: none while
    /// they are free, then `first_delay`, doubling per further failure, up
    /// to `max_delay`.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures < self.free_failures.max(1) {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures.max(1)).min(31);
        self.first_delay
            .checked_mul(1u32 << doublings)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// What an attempt at `now` meets after `failures` consecutive
    /// failures, the last at `last`: `None` when it may be evaluated.
    /// Failures older than the lock window are forgotten.
    pub fn refusal(&self, failures: u32, last: SystemTime, now: SystemTime) -> Option<Attempt> {
        let since = now.duration_since(last).unwrap_or(Duration::ZERO);
        if failures == 0 || since >= self.lock_window {
            return None;
        }
        if failures >= self.lock_after.clamp(1, 100) {
            return Some(Attempt::Locked {
                retry_after: self.lock_window - since,
            });
        }
        let delay = self.delay(failures);
        (since < delay).then(|| Attempt::Delayed {
            retry_after: delay - since,
        })
    }
}

/// At most `limit` events per fixed `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Events allowed per window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// `limit` events per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window }
    }
}

/// Every bucket [`Auth`](crate::auth::Auth) keeps, with CONTRACTS.md §1's
/// defaults. Each is a public field; change what you need:
///
/// ```
/// use std::time::Duration;
/// use tessera_core::throttle::{RateLimit, ThrottleConfig};
///
/// let mut config = ThrottleConfig::default();
/// config.login_address = RateLimit::new(100, Duration::from_secs(300));
/// config.disclose_lock = false; // the default: a lock looks like a wrong password
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Per account (the normalised login): failed password logins and
    /// failed Basic attempts.
    pub login: AccountLimits,
    /// Per account (its id): failed step-up re-authentication (the current
    /// password of a password change).
    pub step_up: AccountLimits,
    /// Per client address: failed logins and Basic attempts over all
    /// accounts, refused ones included (50 per 5 minutes).
    pub login_address: RateLimit,
    /// Per client address: registration attempts (20 per hour).
    pub registration_address: RateLimit,
    /// Per client address: password-reset requests (20 per hour).
    pub reset_address: RateLimit,
    /// Per account (the normalised login) and client address:
    /// password-reset requests. Over the limit no message is sent, and the
    /// answer does not change; the account is never locked by them (5 per
    /// hour).
    pub reset_account: RateLimit,
    /// Per account (its id): API keys created (20 per hour).
    pub api_key_creation: RateLimit,
    /// Say "locked" (401 `account_locked`) instead of the generic
    /// `invalid_credentials` for a locked account. Off by default: it tells
    /// an attacker which accounts exist and are under attack.
    pub disclose_lock: bool,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        Self {
            login: AccountLimits::default(),
            step_up: AccountLimits::default(),
            login_address: RateLimit::new(50, 5 * MINUTE),
            registration_address: RateLimit::new(20, HOUR),
            reset_address: RateLimit::new(20, HOUR),
            reset_account: RateLimit::new(5, HOUR),
            api_key_creation: RateLimit::new(20, HOUR),
            disclose_lock: false,
        }
    }
}

/// The buckets, as named in their store keys.
pub mod buckets {
    /// Failed logins and Basic attempts of one account.
    pub const LOGIN: &str = "login";
    /// Failed step-up re-authentication of one account.
    pub const STEP_UP: &str = "step-up";
    /// Failed logins of one client address.
    pub const LOGIN_ADDRESS: &str = "login-address";
    /// Registrations of one client address.
    pub const REGISTRATION_ADDRESS: &str = "register-address";
    /// Reset requests of one client address.
    pub const RESET_ADDRESS: &str = "reset-address";
    /// Reset requests for one account from one address.
    pub const RESET_ACCOUNT: &str = "reset";
    /// API keys created by one account.
    pub const API_KEY_CREATION: &str = "api-key";
}

/// The client a request came from, as throttling sees it: its address,
/// when the adapter knows it (see [`TrustedProxies::client_address`]).
/// Without one only the account buckets apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Client {
    /// The client's address.
    pub address: Option<IpAddr>,
}

impl Client {
    /// A client at `address`.
    pub fn at(address: IpAddr) -> Self {
        Self {
            address: Some(address),
        }
    }

    /// A client whose address is not known: only account buckets apply.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// The store key of this client in `bucket`, if its address is known.
    pub fn key(&self, keys: &BucketKeys, bucket: &str) -> Option<String> {
        self.address
            .map(|address| keys.key(bucket, &address_bucket(address)))
    }
}

/// What [`ThrottleStore::begin_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attempt {
    /// Evaluate the password; the attempt is already counted as a failure
    /// (`failures`, this one included) until [`ThrottleStore::clear`].
    Allowed {
        /// Consecutive failures, this attempt included.
        failures: u32,
    },
    /// Refused without evaluation and without counting: within a wait.
    Delayed {
        /// When the next attempt will be evaluated.
        retry_after: Duration,
    },
    /// Refused without evaluation: locked until cleared or the window ends.
    Locked {
        /// When the lock ends by itself.
        retry_after: Duration,
    },
}

/// What [`ThrottleStore::hit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hit {
    /// Whether the event is within the limit (it was counted either way).
    pub allowed: bool,
    /// Events counted in the current window, this one included.
    pub count: u32,
    /// When the current window ends.
    pub retry_after: Duration,
    /// When the window that counted the event started: what
    /// [`ThrottleStore::forgive`] takes, so that forgiving never reaches
    /// into a later window.
    pub window_start: SystemTime,
}

impl Hit {
    /// A decision: `allowed`, with `count` events in the window that
    /// started at `window_start` and ends in `retry_after` (for store
    /// implementations).
    pub fn new(allowed: bool, count: u32, retry_after: Duration, window_start: SystemTime) -> Self {
        Self {
            allowed,
            count,
            retry_after,
            window_start,
        }
    }
}

/// Where throttling counts live. Every operation is atomic: concurrent
/// calls for one key never lose a count (50 concurrent failures count 50).
///
/// Keys come from [`BucketKeys`]. Implementations forget a key once it can
/// no longer matter (an account key `lock_window` after its last failure, a
/// rate key when its window ends) and keep their memory bounded.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// An account-bucket attempt at `now`: refused without counting while
    /// the key waits or is locked ([`AccountLimits::refusal`]); otherwise
    /// counted as a failure at `now` and allowed.
    async fn begin_attempt(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<Attempt, StoreError>;

    /// Forgets the failures of an account key: a success, a completed
    /// password reset, an administrator's unlock.
    async fn clear(&self, key: &str) -> Result<(), StoreError>;

    /// The consecutive failures an account key holds at `now` (0 once
    /// forgotten).
    async fn failures(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<u32, StoreError>;

    /// Counts one event of a rate key in the window that holds `now`, and
    /// says whether it is within the limit.
    async fn hit(&self, key: &str, limit: &RateLimit, now: SystemTime) -> Result<Hit, StoreError>;

    /// Takes back one event counted by [`hit`](Self::hit) (an attempt
    /// counted before its outcome that succeeded), only if the window that
    /// counted it, [`Hit::window_start`], is still the key's: a success at
    /// the end of one window never erases a failure of the next.
    async fn forgive(
        &self,
        key: &str,
        limit: &RateLimit,
        window_start: SystemTime,
    ) -> Result<(), StoreError>;
}

/// Turns the values throttling counts by (logins, account ids, client
/// addresses) into store keys: `"<bucket>:"` and 32 hex digits of
/// HMAC-SHA256 under a secret key. No login or address is kept in clear,
/// and a reader of the store cannot test a list of emails or addresses
/// against the keys without the secret. Instances that share a store must
/// share the key; [`Auth`](crate::auth::Auth) derives it from its secret
/// key (purpose `tessera/v1/throttle`) unless given one.
///
/// ```
/// use tessera_core::keys::HmacKey;
/// use tessera_core::throttle::BucketKeys;
///
/// let keys = BucketKeys::new(HmacKey::new("t1", [7u8; 32]).unwrap());
/// let key = keys.key("login", "alice@example.com");
/// assert!(key.starts_with("login:") && key.len() == "login:".len() + 32);
/// assert!(!key.contains("alice"));
/// assert_eq!(key, keys.key("login", "alice@example.com"));
/// ```
#[derive(Clone)]
pub struct BucketKeys(HmacKey);

impl BucketKeys {
    /// Keys made with `key`.
    pub fn new(key: HmacKey) -> Self {
        Self(key)
    }

    /// The store key of `value` in bucket `bucket`.
    pub fn key(&self, bucket: &str, value: &str) -> String {
        use std::fmt::Write as _;
        let mac = self.0.mac(&[bucket.as_bytes(), &[0], value.as_bytes()]);
        let mut key = String::with_capacity(bucket.len() + 33);
        key.push_str(bucket);
        key.push(':');
        for byte in &mac[..16] {
            // Writing to a `String` cannot fail.
            let _ = write!(key, "{byte:02x}");
        }
        key
    }
}

impl fmt::Debug for BucketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BucketKeys").field(&self.0).finish()
    }
}

/// The value an address is counted under: IPv4 as is (IPv4-mapped IPv6
/// included), IPv6 by its /64 prefix, which one subscriber usually holds
/// whole.
pub fn address_bucket(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// The proxies whose `X-Forwarded-For` is believed. Empty by default: the
/// header is ignored and the socket's address is the client's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    /// No trusted proxy.
    pub fn none() -> Self {
        Self::default()
    }

    /// These addresses.
    pub fn new(addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        Self(addresses.into_iter().map(canonical).collect())
    }

    /// Parses a comma-separated list (`TESSERA_TRUSTED_PROXIES`); blanks
    /// are skipped.
    ///
    /// # Errors
    /// The first entry that is not an IP address.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpAddr>()
                    .map_err(|_| format!("not an IP address: {entry:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    /// Whether `address` is a trusted proxy.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&canonical(address))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client's address: the socket's (`peer`), unless `peer` is a
    /// trusted proxy; then the right-most `X-Forwarded-For` entry that is
    /// not a trusted proxy (the values of every `X-Forwarded-For` header,
    /// in order, read as one list). An entry that is not an address ends
    /// the walk at the last trusted hop; a list of trusted hops only gives
    /// its left-most.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&[u8]> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(|&b| b == b','))
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(address) = parse_hop(entry) else {
                return client;
            };
            client = address;
            if !self.contains(address) {
                return address;
            }
        }
        client
    }
}

/// An address as compared: IPv4-mapped IPv6 as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` hop: an address, optionally with a port
/// (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn bucket_key(bucket: &str, value: &str) -> String {
        BucketKeys::new(HmacKey::new("test", [9u8; 32]).unwrap()).key(bucket, value)
    }
    use crate::memory::MemoryThrottleStore;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn allowed(attempt: Attempt) -> bool {
        matches!(attempt, Attempt::Allowed { .. })
    }

    /// B5: 100 evaluated failures (the clock moving past each wait) lock
    /// the key; the lock holds for its window, then everything is
    /// forgotten. B6: attempts within a wait are refused and not counted.
    #[tokio::test]
    async fn a_hundred_failures_lock_and_waits_do_not_count() {
        let store = MemoryThrottleStore::new();
        let limits = AccountLimits::default();
        let key = bucket_key("login", "alice@example.com");
        let mut now = t0();
        for n in 1..=100 {
            assert_eq!(
                store.begin_attempt(&key, &limits, now).await.unwrap(),
                Attempt::Allowed { failures: n }
            );
            // B6: a burst within the wait is neither evaluated nor counted.
            if n >= 5 {
                for _ in 0..3 {
                    assert!(matches!(
                        store.begin_attempt(&key, &limits, now).await.unwrap(),
                        Attempt::Delayed { .. } | Attempt::Locked { .. }
                    ));
                }
            }
            now += limits.delay(n);
        }
        assert_eq!(store.failures(&key, &limits, now).await.unwrap(), 100);
        let later = now + Duration::from_secs(3600);
        assert!(matches!(
            store.begin_attempt(&key, &limits, later).await.unwrap(),
            Attempt::Locked { .. }
        ));
        assert_eq!(store.failures(&key, &limits, later).await.unwrap(), 100);
        // The window ends: a fresh start.
        let over = now - limits.delay(100) + limits.lock_window;
        assert_eq!(
            store.begin_attempt(&key, &limits, over).await.unwrap(),
            Attempt::Allowed { failures: 1 }
        );
    }

    /// B7, B18: a success (or a reset, an unlock) clears the count.
    #[tokio::test]
    async fn clearing_forgets_failures_and_locks() {
        let store = MemoryThrottleStore::new();
        let limits = AccountLimits::default().lock_after(3);
        let key = bucket_key("login", "bob@example.com");
        for _ in 0..3 {
            assert!(allowed(
                store.begin_attempt(&key, &limits, t0()).await.unwrap()
            ));
        }
        assert!(matches!(
            store.begin_attempt(&key, &limits, t0()).await.unwrap(),
            Attempt::Locked { .. }
        ));
        store.clear(&key).await.unwrap();
        assert_eq!(store.failures(&key, &limits, t0()).await.unwrap(), 0);
        assert_eq!(
            store.begin_attempt(&key, &limits, t0()).await.unwrap(),
            Attempt::Allowed { failures: 1 }
        );
    }

    /// B9 at the store: 50 concurrent failures count exactly 50.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_failures_are_all_counted() {
        let store = Arc::new(MemoryThrottleStore::new());
        let limits = AccountLimits::default().free_failures(1000);
        let key = bucket_key("login", "carol@example.com");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (store, limits, key) = (store.clone(), limits.clone(), key.clone());
            tasks.spawn(async move { store.begin_attempt(&key, &limits, t0()).await });
        }
        while let Some(result) = tasks.join_next().await {
            assert!(allowed(result.unwrap().unwrap()));
        }
        assert_eq!(store.failures(&key, &limits, t0()).await.unwrap(), 50);
        let rate = RateLimit::new(1000, Duration::from_secs(60));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (store, key) = (store.clone(), bucket_key("address", "203.0.113.7"));
            tasks.spawn(async move { store.hit(&key, &rate, t0()).await });
        }
        let mut counts = Vec::new();
        while let Some(result) = tasks.join_next().await {
            counts.push(result.unwrap().unwrap().count);
        }
        counts.sort_unstable();
        assert_eq!(counts, (1..=50).collect::<Vec<_>>());
    }

    /// A rate bucket: the limit, `Retry-After` to the window's end, a new
    /// window, and forgiveness for an attempt that succeeded.
    #[tokio::test]
    async fn rate_limits() {
        let store = MemoryThrottleStore::new();
        let rate = RateLimit::new(3, Duration::from_secs(300));
        let key = bucket_key("address", "203.0.113.7");
        for n in 1..=3 {
            let hit = store.hit(&key, &rate, t0()).await.unwrap();
            assert!(hit.allowed && hit.count == n);
        }
        let start = store.hit(&key, &rate, t0()).await.unwrap().window_start;
        assert_eq!(start, t0());
        store.forgive(&key, &rate, start).await.unwrap();
        store.forgive(&key, &rate, start).await.unwrap();
        assert!(store.hit(&key, &rate, t0()).await.unwrap().allowed);
        let refused = store
            .hit(&key, &rate, t0() + Duration::from_secs(100))
            .await
            .unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(200));
        let next = store
            .hit(&key, &rate, t0() + Duration::from_secs(300))
            .await
            .unwrap();
        assert!(next.allowed && next.count == 1);
    }

    /// B15: a flood of distinct logins keeps the table within its
    /// capacity, and never evicts a key that delays or locks.
    #[tokio::test]
    async fn memory_stays_bounded_and_locks_survive_a_flood() {
        let store = MemoryThrottleStore::with_capacity(1000);
        let limits = AccountLimits::default();
        let victim = bucket_key("login", "victim@example.com");
        for _ in 0..5 {
            store.begin_attempt(&victim, &limits, t0()).await.unwrap();
        }
        for n in 0..20_000 {
            let key = bucket_key("login", &format!("random-{n}@example.com"));
            store.begin_attempt(&key, &limits, t0()).await.unwrap();
            assert!(store.len() <= 1000);
        }
        assert_eq!(store.failures(&victim, &limits, t0()).await.unwrap(), 5);
        assert!(matches!(
            store.begin_attempt(&victim, &limits, t0()).await.unwrap(),
            Attempt::Delayed { .. }
        ));
        // A table full of active limits refuses new keys: the caller fails
        // closed rather than forgetting a lock.
        let full = MemoryThrottleStore::with_capacity(16);
        let limits = limits.free_failures(1);
        for n in 0..16 {
            let key = bucket_key("login", &format!("locked-{n}"));
            full.begin_attempt(&key, &limits, t0()).await.unwrap();
        }
        let refused = full
            .begin_attempt(&bucket_key("login", "one more"), &limits, t0())
            .await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))));
        // Once their waits have passed, such keys impose nothing until their
        // next failure: a new key may evict one, fewest failures first.
        let after = t0() + Duration::from_secs(2);
        assert!(allowed(
            full.begin_attempt(&bucket_key("login", "one more"), &limits, after)
                .await
                .unwrap()
        ));
        assert!(full.len() <= 16);
        // Expired keys are swept.
        full.sweep(t0() + limits.lock_window + Duration::from_secs(2));
        assert!(full.is_empty());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn delays_grow_then_lock() {
        let limits = AccountLimits::default();
        assert_eq!(limits.delay(4), Duration::ZERO);
        assert_eq!(limits.delay(5), Duration::from_secs(1));
        assert_eq!(limits.delay(6), Duration::from_secs(2));
        assert_eq!(limits.delay(14), Duration::from_secs(512));
        assert_eq!(limits.delay(15), Duration::from_secs(900));
        assert_eq!(limits.delay(99), Duration::from_secs(900));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(limits.refusal(4, t0, t0), None);
        assert_eq!(
            limits.refusal(5, t0, t0 + Duration::from_millis(400)),
            Some(Attempt::Delayed {
                retry_after: Duration::from_millis(600)
            })
        );
        assert_eq!(limits.refusal(5, t0, t0 + Duration::from_secs(1)), None);
        assert_eq!(
            limits.refusal(100, t0, t0 + Duration::from_secs(3600)),
            Some(Attempt::Locked {
                retry_after: Duration::from_secs(23 * 3600)
            })
        );
        // The lock ends with its window, and the failures are forgotten.
        assert_eq!(limits.refusal(100, t0, t0 + limits.lock_window), None);
        // A clock that went back imposes the whole wait, not none.
        assert!(limits.refusal(5, t0, t0 - Duration::from_secs(5)).is_some());
        assert_eq!(AccountLimits::default().lock_after(1000).lock_after, 100);
    }

    #[test]
    fn keys_hide_their_values() {
        let key = bucket_key("login", "alice@example.com");
        assert!(key.starts_with("login:"));
        assert_eq!(key.len(), "login:".len() + 32);
        assert!(!key.contains("alice"));
        assert_ne!(key, bucket_key("step-up", "alice@example.com"));
        assert_eq!(key, bucket_key("login", "alice@example.com"));
    }

    #[test]
    fn addresses_are_bucketed() {
        assert_eq!(address_bucket(ip("203.0.113.7")), "203.0.113.7");
        assert_eq!(address_bucket(ip("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(
            address_bucket(ip("2001:db8:1:2:3:4:5:6")),
            address_bucket(ip("2001:db8:1:2:ffff::1"))
        );
        assert_eq!(address_bucket(ip("2001:db8:1:2::9")), "2001:db8:1:2::/64");
    }

    /// B13, B14: the header is believed only from a trusted proxy, and then
    /// only up to the first hop the proxies did not add.
    #[test]
    fn client_addresses() {
        let none = TrustedProxies::none();
        let spoofed: [&[u8]; 1] = [b"198.51.100.1"];
        assert_eq!(
            none.client_address(ip("203.0.113.7"), spoofed),
            ip("203.0.113.7")
        );

        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.2,").unwrap();
        assert!(trusted.contains(ip("::ffff:127.0.0.1")));
        let peer = ip("127.0.0.1");
        let chain: [&[u8]; 1] = [b"198.51.100.1, 203.0.113.9, 10.0.0.2"];
        assert_eq!(trusted.client_address(peer, chain), ip("203.0.113.9"));
        // Several headers are one list, in order.
        let split: [&[u8]; 2] = [b"198.51.100.1", b"203.0.113.9:4711"];
        assert_eq!(trusted.client_address(peer, split), ip("203.0.113.9"));
        let v6: [&[u8]; 1] = [b"[2001:db8::1]:443"];
        assert_eq!(trusted.client_address(peer, v6), ip("2001:db8::1"));
        // Garbage ends the walk at the last trusted hop.
        let garbage: [&[u8]; 1] = [b"198.51.100.1, not-an-ip, 10.0.0.2"];
        assert_eq!(trusted.client_address(peer, garbage), ip("10.0.0.2"));
        // Only trusted hops: the left-most; no header: the proxy itself.
        let internal: [&[u8]; 1] = [b"10.0.0.2, 127.0.0.1"];
        assert_eq!(trusted.client_address(peer, internal), ip("10.0.0.2"));
        assert_eq!(trusted.client_address(peer, []), peer);
        // An untrusted peer's header is ignored.
        assert_eq!(
            trusted.client_address(ip("203.0.113.7"), chain),
            ip("203.0.113.7")
        );
        assert!(TrustedProxies::parse("10.0.0.1, proxy.local").is_err());
    }
}
