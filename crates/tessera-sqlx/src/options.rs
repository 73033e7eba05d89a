//! Deadlines and retries of the stores.

use std::time::Duration;

/// How long a store operation may take, and how often it is retried.
///
/// | setting | default | why |
/// | --- | --- | --- |
/// | [`timeout`](Self::timeout) | 2 s | a request must not hang on a stalled database: past the deadline the operation fails with [`StoreError::Unavailable`](tessera_core::StoreError::Unavailable), which the adapters answer with 503 and `Retry-After` (fail closed) |
/// | [`max_retries`](Self::max_retries) | 5 | SQLite `BUSY`/`LOCKED` and PostgreSQL serialization failures and deadlocks (`40001`, `40P01`) are transient; a few retries with a short backoff hide them, and the deadline bounds the whole |
///
/// The deadline covers the whole operation, retries and waits for a pooled
/// connection included.
///
/// ```
/// use std::time::Duration;
/// use tessera_sqlx::StoreOptions;
///
/// let options = StoreOptions::default().timeout(Duration::from_millis(500)).max_retries(2);
/// assert_eq!(options.timeout, Duration::from_millis(500));
/// assert_eq!(StoreOptions::default().max_retries, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Deadline of one operation, retries included (default 2 s).
    pub timeout: Duration,
    /// Retries after a transient failure (default 5).
    pub max_retries: u32,
}

impl StoreOptions {
    /// The defaults: 2 s, 5 retries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the deadline of one operation.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how often a transient failure is retried.
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            max_retries: 5,
        }
    }
}
