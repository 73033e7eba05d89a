//! [`ThrottleStore`] over Redis hashes, one per bucket key, each decision a
//! Lua script (atomic on the server) and each key expiring with its window.
//!
//! Instants are milliseconds since the epoch (exact in Lua's doubles for
//! 285 000 years). The account script applies [`AccountLimits::refusal`]'s
//! rule, the one the conformance suite holds every backend to: failures
//! older than the lock window are forgotten, `lock_after` failures lock,
//! and from `free_failures` on each failure doubles the wait from
//! `first_delay` up to `max_delay`.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redis::Script;
use tessera_core::error::StoreError;
use tessera_core::throttle::{AccountLimits, Attempt, Hit, RateLimit, ThrottleStore};

use crate::store::{RedisStore, fail};

const THROTTLE: &str = "th:";

/// KEYS: bucket. ARGV: now, free failures (≥ 1), first delay, max delay,
/// lock after, lock window, TTL (all milliseconds but the counts).
/// Returns `{0, failures}` (allowed and counted), `{1, wait}` (delayed) or
/// `{2, wait}` (locked).
static ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local free, first, maxd = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lock, window = tonumber(ARGV[5]), tonumber(ARGV[6])
local v = redis.call('HMGET', KEYS[1], 'count', 'at')
local count = tonumber(v[1]) or 0
local at = tonumber(v[2]) or now
local since = now - at
if since < 0 then since = 0 end
if count > 0 and since >= window then count = 0 end
if count > 0 then
  if count >= lock then return {2, window - since} end
  if count >= free then
    local wait = first * 2 ^ math.min(count - free, 31)
    if wait > maxd then wait = maxd end
    if since < wait then return {1, wait - since} end
  end
end
count = count + 1
redis.call('HSET', KEYS[1], 'count', count, 'at', now)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {0, count}
",
    )
});

/// KEYS: bucket. ARGV: now, window, TTL. Counts one event in the window
/// that holds `now` (a new one when the last ended); returns `{count,
/// milliseconds to the window's end, the window's start}`.
static HIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'count', 'start')
local count = tonumber(v[1]) or 0
local start = tonumber(v[2]) or now
if count == 0 or now >= start + window then
  count = 0
  start = now
  redis.call('DEL', KEYS[1])
end
count = count + 1
redis.call('HSET', KEYS[1], 'count', count, 'start', start)
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {count, start + window - now, start}
",
    )
});

/// KEYS: bucket. ARGV: the start of the window that counted the event.
/// Takes the event back only if that window is still the key's.
static FORGIVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'count', 'start')
local count, start = tonumber(v[1]), tonumber(v[2])
if count and start and count > 0 and start == tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[1], 'count', -1)
end
return 0
",
    )
});

fn ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A count the store handed back, which must fit a `u32`: anything else is
/// corrupted, and fails the operation closed.
fn count(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupted("throttle count out of range".into()))
}

#[async_trait]
impl ThrottleStore for RedisStore {
    async fn begin_attempt(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<Attempt, StoreError> {
        self.run(async {
            let (kind, value): (i64, i64) = ATTEMPT
                .key(self.key(THROTTLE, key))
                .arg(ms(now))
                .arg(limits.free_failures.max(1))
                .arg(millis(limits.first_delay))
                .arg(millis(limits.max_delay))
                .arg(limits.lock_after.clamp(1, 100))
                .arg(millis(limits.lock_window))
                .arg(self.ttl_ms(now + limits.lock_window))
                .invoke_async(&mut self.con())
                .await
                .map_err(fail)?;
            let wait = Duration::from_millis(u64::try_from(value).unwrap_or(0));
            match kind {
                0 => Ok(Attempt::Allowed {
                    failures: count(value)?,
                }),
                1 => Ok(Attempt::Delayed { retry_after: wait }),
                _ => Ok(Attempt::Locked { retry_after: wait }),
            }
        })
        .await
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.run(async {
            redis::cmd("DEL")
                .arg(self.key(THROTTLE, key))
                .query_async::<()>(&mut self.con())
                .await
                .map_err(fail)
        })
        .await
    }

    async fn failures(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<u32, StoreError> {
        self.run(async {
            let (failures, at): (Option<i64>, Option<u64>) = redis::cmd("HMGET")
                .arg(self.key(THROTTLE, key))
                .arg("count")
                .arg("at")
                .query_async(&mut self.con())
                .await
                .map_err(fail)?;
            let (Some(failures), Some(at)) = (failures, at) else {
                return Ok(0);
            };
            let since = Duration::from_millis(ms(now).saturating_sub(at));
            if since >= limits.lock_window {
                return Ok(0);
            }
            count(failures)
        })
        .await
    }

    async fn hit(&self, key: &str, limit: &RateLimit, now: SystemTime) -> Result<Hit, StoreError> {
        self.run(async {
            let (events, left, start): (i64, i64, u64) = HIT
                .key(self.key(THROTTLE, key))
                .arg(ms(now))
                .arg(millis(limit.window))
                .arg(self.ttl_ms(now + limit.window))
                .invoke_async(&mut self.con())
                .await
                .map_err(fail)?;
            let events = count(events)?;
            let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
            let window_start = UNIX_EPOCH + Duration::from_millis(start);
            Ok(Hit::new(events <= limit.limit, events, left, window_start))
        })
        .await
    }

    async fn forgive(
        &self,
        key: &str,
        _limit: &RateLimit,
        window_start: SystemTime,
    ) -> Result<(), StoreError> {
        self.run(async {
            FORGIVE
                .key(self.key(THROTTLE, key))
                .arg(ms(window_start))
                .invoke_async::<i64>(&mut self.con())
                .await
                .map_err(fail)
                .map(|_| ())
        })
        .await
    }
}
