//! What both backends share: time and value encodings, row decoding, the
//! deadline-and-retry runner.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_core::StoreError;
use tessera_core::error::BoxError;
use tessera_core::session::SessionState;
use tessera_core::token::{Family, FamilyId, TokenDigest, TokenId, TokenKind, TokenRecord};
use tessera_core::users::{Login, User, UserId};

use crate::StoreOptions;

/// Where undecodable rows and store failures are reported.
const TARGET: &str = "tessera::auth";

// ---------------------------------------------------------------------------
// Times: BIGINT milliseconds since the Unix epoch.

/// `time` in milliseconds since the epoch, rounded down (so earlier times
/// are negative); saturates far outside any useful range.
pub(crate) fn to_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => {
            let ms = before.duration().as_nanos().div_ceil(1_000_000);
            i64::try_from(ms).map_or(i64::MIN, |ms| -ms)
        }
    }
}

/// `time` in milliseconds since the epoch, rounded up: for instants that
/// must not move earlier (a revocation cut-off, how long an entry is kept).
pub(crate) fn to_ms_ceil(time: SystemTime) -> i64 {
    let floor = to_ms(time);
    match from_ms(floor) {
        Some(at) if at < time => floor.saturating_add(1),
        _ => floor,
    }
}

/// The time `ms` milliseconds after the epoch; `None` if not representable.
pub(crate) fn from_ms(ms: i64) -> Option<SystemTime> {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// `time` at the stores' resolution, so that what an operation returns is
/// what a later read returns.
pub(crate) fn normalise(time: SystemTime) -> SystemTime {
    from_ms(to_ms(time)).unwrap_or(time)
}

fn opt_ms(time: Option<SystemTime>) -> Option<i64> {
    time.map(to_ms)
}

fn time(ms: i64, column: &'static str) -> Result<SystemTime, Corrupt> {
    from_ms(ms).ok_or(Corrupt(column))
}

fn opt_time(ms: Option<i64>, column: &'static str) -> Result<Option<SystemTime>, Corrupt> {
    ms.map(|ms| time(ms, column)).transpose()
}

// ---------------------------------------------------------------------------
// Sets of strings (roles, scopes): a JSON array, sorted.

/// Roles and scopes as stored: a JSON array of strings, sorted.
pub(crate) fn encode_set(set: &BTreeSet<String>) -> String {
    // Serialising strings cannot fail; an empty array is the safe fallback.
    serde_json::to_string(set).unwrap_or_else(|_| String::from("[]"))
}

fn decode_set(text: &str, column: &'static str) -> Result<BTreeSet<String>, Corrupt> {
    serde_json::from_str(text).map_err(|_| Corrupt(column))
}

fn digest(bytes: &[u8], column: &'static str) -> Result<TokenDigest, Corrupt> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenDigest::from_bytes)
        .map_err(|_| Corrupt(column))
}

/// A stored value tessera cannot read: the column it was in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Corrupt(pub(crate) &'static str);

/// Logs an undecodable row; the caller then treats it as absent.
pub(crate) fn warn_corrupt(table: &'static str, corrupt: Corrupt) {
    tracing::warn!(
        target: TARGET,
        table,
        column = corrupt.0,
        "undecodable row ignored"
    );
}

/// `result` as an option, logging (and dropping) an undecodable row.
pub(crate) fn or_absent<T>(table: &'static str, result: Result<T, Corrupt>) -> Option<T> {
    result.map_err(|c| warn_corrupt(table, c)).ok()
}

/// A throttling row's count at `now_ms`: 0 once the row has expired. A
/// count that is not a `u32` is a corrupted row, and fails the operation
/// (closed): reading it as absent would lift a limit.
pub(crate) fn throttle_count(count: i64, expires: i64, now_ms: i64) -> Result<u32, Failure> {
    if expires <= now_ms {
        return Ok(0);
    }
    u32::try_from(count).map_err(|_| {
        warn_corrupt("tessera_throttle", Corrupt("count"));
        Failure::Store(StoreError::Corrupted("throttle count out of range".into()))
    })
}

// ---------------------------------------------------------------------------
// Rows.

/// The columns of `tessera_users`, in [`UserRow`]'s order.
macro_rules! user_columns {
    () => {
        "id, login, password_hash, roles, active, created_at, last_login_at, password_changed_at"
    };
}
pub(crate) use user_columns;

/// A row of `tessera_users`.
#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    login: String,
    password_hash: String,
    roles: String,
    active: bool,
    created_at: i64,
    last_login_at: Option<i64>,
    password_changed_at: i64,
}

impl UserRow {
    pub(crate) fn decode(self) -> Result<User, Corrupt> {
        let login = Login::parse(&self.login).map_err(|_| Corrupt("login"))?;
        if login.as_str() != self.login {
            // Stored logins are normalised; anything else was not written by
            // tessera and must not be matched under another spelling.
            return Err(Corrupt("login"));
        }
        let mut user = User::new(
            UserId::new(self.id),
            login,
            self.password_hash,
            time(self.created_at, "created_at")?,
        );
        user.roles = decode_set(&self.roles, "roles")?;
        user.active = self.active;
        user.last_login_at = opt_time(self.last_login_at, "last_login_at")?;
        user.password_changed_at = time(self.password_changed_at, "password_changed_at")?;
        Ok(user)
    }
}

/// A token row as bound into `INSERT`: the record's columns.
pub(crate) struct TokenValues {
    pub(crate) digest: Vec<u8>,
    pub(crate) id: String,
    pub(crate) kind: &'static str,
    pub(crate) subject: String,
    pub(crate) family_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) scopes: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
}

impl TokenValues {
    pub(crate) fn of(record: &TokenRecord) -> Self {
        Self {
            digest: record.digest.as_bytes().to_vec(),
            id: record.id.as_str().to_owned(),
            kind: record.kind.as_str(),
            subject: record.subject.as_str().to_owned(),
            family_id: record.family.as_ref().map(|f| f.as_str().to_owned()),
            name: record.name.clone(),
            scopes: encode_set(&record.scopes),
            created_at: to_ms(record.created_at),
            expires_at: opt_ms(record.expires_at),
            last_used_at: opt_ms(record.last_used_at),
        }
    }
}

/// `record` with every time at the stores' resolution.
pub(crate) fn normalise_record(mut record: TokenRecord) -> TokenRecord {
    record.created_at = normalise(record.created_at);
    record.expires_at = record.expires_at.map(normalise);
    record.last_used_at = record.last_used_at.map(normalise);
    record
}

/// The columns of a token joined with its family (`t`, `f`).
macro_rules! token_select {
    () => {
        "SELECT t.digest, t.id, t.kind, t.subject, t.family_id, t.name, t.scopes, \
         t.created_at, t.expires_at, t.last_used_at, t.revoked, t.used_at, t.successor, \
         f.subject AS family_subject, f.created_at AS family_created_at, \
         f.expires_at AS family_expires_at, f.revoked AS family_revoked \
         FROM tessera_tokens t LEFT JOIN tessera_token_families f ON f.id = t.family_id"
    };
}
pub(crate) use token_select;

/// A row of `tessera_tokens` joined with its family.
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    digest: Vec<u8>,
    id: String,
    kind: String,
    subject: String,
    family_id: Option<String>,
    name: Option<String>,
    scopes: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked: bool,
    used_at: Option<i64>,
    successor: Option<Vec<u8>>,
    family_subject: Option<String>,
    family_created_at: Option<i64>,
    family_expires_at: Option<i64>,
    family_revoked: Option<bool>,
}

/// A token as stored, with its state and its family's.
pub(crate) struct StoredToken {
    pub(crate) record: TokenRecord,
    pub(crate) revoked: bool,
    /// When it was used up, and its successor's digest.
    pub(crate) used: Option<(i64, Option<TokenDigest>)>,
    /// The family row, if the token names one that exists.
    pub(crate) family: Option<StoredFamily>,
}

/// A family as stored.
pub(crate) struct StoredFamily {
    pub(crate) family: Family,
    pub(crate) revoked: bool,
}

impl StoredFamily {
    /// Not revoked and not past its end at `now_ms`.
    pub(crate) fn is_live(&self, now_ms: i64) -> bool {
        !self.revoked && now_ms < to_ms(self.family.expires_at)
    }
}

impl TokenRow {
    pub(crate) fn decode(self) -> Result<StoredToken, Corrupt> {
        let kind = TokenKind::from_name(&self.kind).ok_or(Corrupt("kind"))?;
        let mut record = TokenRecord::new(
            TokenId::new(self.id),
            digest(&self.digest, "digest")?,
            kind,
            UserId::new(self.subject),
            decode_set(&self.scopes, "scopes")?,
            time(self.created_at, "created_at")?,
        );
        record.family = self.family_id.map(FamilyId::new);
        record.name = self.name;
        record.expires_at = opt_time(self.expires_at, "expires_at")?;
        record.last_used_at = opt_time(self.last_used_at, "last_used_at")?;
        let used = match self.used_at {
            Some(at) => {
                let successor = self
                    .successor
                    .map(|bytes| digest(&bytes, "successor"))
                    .transpose()?;
                Some((at, successor))
            }
            None => None,
        };
        let family = match (
            &record.family,
            self.family_subject,
            self.family_created_at,
            self.family_expires_at,
            self.family_revoked,
        ) {
            (Some(id), Some(subject), Some(created), Some(expires), Some(revoked)) => {
                Some(StoredFamily {
                    family: Family::new(
                        id.clone(),
                        UserId::new(subject),
                        time(created, "family created_at")?,
                        time(expires, "family expires_at")?,
                    ),
                    revoked,
                })
            }
            _ => None,
        };
        Ok(StoredToken {
            record,
            revoked: self.revoked,
            used,
            family,
        })
    }
}

impl StoredToken {
    /// Whether `find` returns it at `now_ms`: not expired, revoked or used
    /// up, and (for a refresh token) of a live family.
    pub(crate) fn is_live(&self, now_ms: i64) -> bool {
        if self.revoked || self.used.is_some() || self.is_expired(now_ms) {
            return false;
        }
        match &self.record.family {
            Some(_) => self.family.as_ref().is_some_and(|f| f.is_live(now_ms)),
            None => self.record.kind != TokenKind::Refresh,
        }
    }

    pub(crate) fn is_expired(&self, now_ms: i64) -> bool {
        self.record.expires_at.is_some_and(|at| now_ms >= to_ms(at))
    }
}

/// A row of `tessera_token_families`.
#[derive(sqlx::FromRow)]
pub(crate) struct FamilyRow {
    id: String,
    subject: String,
    created_at: i64,
    expires_at: i64,
}

impl FamilyRow {
    pub(crate) fn decode(self) -> Result<Family, Corrupt> {
        Ok(Family::new(
            FamilyId::new(self.id),
            UserId::new(self.subject),
            time(self.created_at, "created_at")?,
            time(self.expires_at, "expires_at")?,
        ))
    }
}

/// A row of `tessera_token_families` with its state.
#[derive(sqlx::FromRow)]
pub(crate) struct FamilyStateRow {
    id: String,
    subject: String,
    created_at: i64,
    expires_at: i64,
    revoked: bool,
}

impl FamilyStateRow {
    pub(crate) fn decode(self) -> Result<StoredFamily, Corrupt> {
        let revoked = self.revoked;
        let family = FamilyRow {
            id: self.id,
            subject: self.subject,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
        .decode()?;
        Ok(StoredFamily { family, revoked })
    }
}

/// A row of `tessera_sessions` as listed.
#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub(crate) digest: Vec<u8>,
    pub(crate) state: Vec<u8>,
}

/// A session's state as stored, with the columns derived from it.
pub(crate) struct SessionValues {
    pub(crate) state: Vec<u8>,
    pub(crate) subject: Option<String>,
    pub(crate) expires_at: i64,
}

impl SessionValues {
    pub(crate) fn of(state: &SessionState) -> Result<Self, StoreError> {
        Ok(Self {
            state: state
                .encode()
                .map_err(|e| StoreError::Corrupted(Box::new(e)))?,
            subject: state.subject.clone(),
            expires_at: to_ms(state.expires_at()),
        })
    }
}

/// Decodes a session record, logging one that does not decode.
pub(crate) fn decode_session(bytes: &[u8]) -> Option<SessionState> {
    let state = SessionState::decode(bytes);
    if state.is_none() {
        warn_corrupt("tessera_sessions", Corrupt("state"));
    }
    state
}

/// Decodes a listed session row.
pub(crate) fn decode_session_row(row: SessionRow) -> Option<(TokenDigest, SessionState)> {
    let digest = or_absent("tessera_sessions", digest(&row.digest, "digest"))?;
    Some((digest, decode_session(&row.state)?))
}

/// 128 random bits, hex-encoded: account ids that are unguessable and say
/// nothing about how many accounts exist.
pub(crate) fn random_id() -> Result<String, StoreError> {
    use rand::TryRng;
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| StoreError::unavailable(Box::new(e)))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

// ---------------------------------------------------------------------------
// Running an operation: deadline, bounded retries, errors.

/// Why one attempt of an operation failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The database failed; retried when transient.
    Sql(sqlx::Error),
    /// A conditional write lost a race it should not have been able to
    /// lose (the row changed under a lock); the attempt is retried.
    Raced(&'static str),
    /// Final: returned as it is, never retried.
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Failure {
    fn is_transient(&self) -> bool {
        match self {
            Self::Sql(sqlx::Error::Database(db)) => {
                db.code().is_some_and(|code| is_transient(&code))
            }
            Self::Sql(_) | Self::Store(_) => false,
            Self::Raced(_) => true,
        }
    }

    fn into_store_error(self) -> StoreError {
        match self {
            Self::Sql(error) => StoreError::unavailable(error),
            Self::Raced(what) => StoreError::unavailable(Message(what)),
            Self::Store(error) => error,
        }
    }
}

/// SQLite `BUSY` (5) and `LOCKED` (6) with their extended codes (517
/// `BUSY_SNAPSHOT`, 262 `LOCKED_SHAREDCACHE`, …); PostgreSQL
/// `serialization_failure` and `deadlock_detected`.
fn is_transient(code: &str) -> bool {
    match code {
        "40001" | "40P01" => true,
        _ => code
            .parse::<i32>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
    }
}

/// Whether `error` is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A cause that is only a message.
#[derive(Debug)]
pub(crate) struct Message(pub(crate) &'static str);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Message {}

/// An operation that did not finish within its deadline.
#[derive(Debug)]
struct TimedOut {
    operation: &'static str,
    after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store operation {} timed out after {:?}",
            self.operation, self.after
        )
    }
}

impl std::error::Error for TimedOut {}

/// Wraps a failure of set-up (connecting, migrating).
pub(crate) fn unavailable(error: impl Into<BoxError>) -> StoreError {
    StoreError::unavailable(error)
}

/// Runs `attempt` under the deadline, retrying transient failures up to
/// `max_retries` times with a short, jittered, growing backoff.
pub(crate) async fn run<T, F, Fut>(
    options: &StoreOptions,
    operation: &'static str,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let attempts = async {
        let mut retries = 0u32;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) if failure.is_transient() && retries < options.max_retries => {
                    retries += 1;
                    tracing::debug!(target: TARGET, operation, retries, error = ?failure, "retrying store operation");
                    tokio::time::sleep(backoff(retries)).await;
                }
                Err(failure) => {
                    if !matches!(failure, Failure::Store(_)) {
                        tracing::warn!(target: TARGET, operation, error = ?failure, "store operation failed");
                    }
                    return Err(failure.into_store_error());
                }
            }
        }
    };
    match tokio::time::timeout(options.timeout, attempts).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(target: TARGET, operation, deadline = ?options.timeout, "store operation timed out");
            Err(StoreError::unavailable(TimedOut {
                operation,
                after: options.timeout,
            }))
        }
    }
}

/// 5 ms, doubling up to 160 ms, plus up to as much again at random so that
/// racing callers spread out.
fn backoff(retry: u32) -> Duration {
    use rand::TryRng;
    let base = 5u64 << retry.saturating_sub(1).min(5);
    let mut jitter = [0u8; 1];
    let jitter = match rand::rngs::SysRng.try_fill_bytes(&mut jitter) {
        Ok(()) => u64::from(jitter[0]) * base / 255,
        Err(_) => 0,
    };
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_at_millisecond_resolution() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123) + Duration::from_micros(456);
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert_eq!(
            from_ms(to_ms(t)),
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
        );
        let before = UNIX_EPOCH - Duration::from_micros(1500);
        assert_eq!(to_ms(before), -2);
        assert_eq!(from_ms(-2), Some(UNIX_EPOCH - Duration::from_millis(2)));
        assert_eq!(to_ms(UNIX_EPOCH), 0);
        assert_eq!(to_ms_ceil(t), 1_700_000_000_124);
        assert_eq!(to_ms_ceil(UNIX_EPOCH + Duration::from_millis(7)), 7);
        assert_eq!(to_ms_ceil(before), -1);
    }

    #[test]
    fn transient_codes() {
        for code in ["5", "6", "517", "262", "261", "40001", "40P01"] {
            assert!(is_transient(code), "{code}");
        }
        for code in ["1", "19", "2067", "23505", "42P01", "x"] {
            assert!(!is_transient(code), "{code}");
        }
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert!(backoff(1) <= Duration::from_millis(10));
        assert!(backoff(20) <= Duration::from_millis(320));
        assert!(backoff(20) >= Duration::from_millis(160));
    }

    #[test]
    fn sets_are_sorted_json() {
        let set: BTreeSet<String> = ["b".into(), "a b".into()].into();
        let text = encode_set(&set);
        assert_eq!(text, r#"["a b","b"]"#);
        assert_eq!(decode_set(&text, "x").ok(), Some(set));
        assert!(decode_set("a b", "x").is_err());
    }
}
