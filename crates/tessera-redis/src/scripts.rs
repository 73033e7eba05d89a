//! The Lua scripts: every change to several keys, and every check-then-write,
//! runs on the server as one script, so it is atomic.
//!
//! Conventions: instants are the fixed-width strings of [`crate::time`] and
//! are compared as strings; TTLs are milliseconds as decimal strings, `"0"`
//! meaning "never expires"; absent values are returned as `""`. Scripts
//! build the keys of records they find through other records (a token's
//! family, an index's members) from the prefix in `ARGV[1]`, so they need a
//! single Redis server (not a cluster).

use std::sync::LazyLock;

use redis::Script;

/// Helpers prepended to the scripts that maintain an index.
const PRELUDE: &str = r"
-- Gives an index key a TTL at least `ttl`, or none for '0'. A key that was
-- already there without a TTL holds a member that never expires: it stays so.
local function index_ttl(key, existed, ttl)
  if ttl == '0' then
    redis.call('PERSIST', key)
    return
  end
  local current = redis.call('PTTL', key)
  if existed == 0 or (current >= 0 and current < tonumber(ttl)) then
    redis.call('PEXPIRE', key, ttl)
  end
end

local function set_add(key, member, ttl)
  local existed = redis.call('EXISTS', key)
  redis.call('SADD', key, member)
  index_ttl(key, existed, ttl)
end

local function hash_add(key, field, value, ttl)
  local existed = redis.call('EXISTS', key)
  redis.call('HSET', key, field, value)
  index_ttl(key, existed, ttl)
end

-- Writes the token hash at `key` (the caller checked it is free).
local function put_token(key, rec, kind, sub, id, fam, exp, ttl)
  redis.call('HSET', key, 'rec', rec, 'kind', kind, 'sub', sub, 'id', id)
  if fam ~= '' then redis.call('HSET', key, 'fam', fam) end
  if exp ~= '' then redis.call('HSET', key, 'exp', exp) end
  if ttl ~= '0' then redis.call('PEXPIRE', key, ttl) end
end

-- Whether the family hash at `key` exists, is not revoked and has not
-- ended at `now`.
local function family_live(key, now)
  local f = redis.call('HMGET', key, 'rec', 'revoked', 'exp')
  return f[1] and not f[2] and f[3] and now < f[3]
end
";

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// KEYS: token, [API-key index]. ARGV: prefix, rec, kind, subject, id,
/// family, expiry, ttl, digest. Returns 0, changing nothing, if the digest
/// is already stored.
pub(crate) static TOKEN_INSERT: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
put_token(KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
if KEYS[2] then hash_add(KEYS[2], ARGV[5], ARGV[9], ARGV[8]) end
return 1
",
    )
});

/// KEYS: family, family index, first token. ARGV: prefix, family rec,
/// subject, family id, family expiry, family ttl, then the token's rec,
/// kind, id, family, expiry, ttl. Returns 0, changing nothing, if the
/// token's digest is already stored.
pub(crate) static FAMILY_START: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r"
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'sub', ARGV[3], 'id', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
set_add(KEYS[2], ARGV[4], ARGV[6])
put_token(KEYS[3], ARGV[7], ARGV[8], ARGV[3], ARGV[9], ARGV[10], ARGV[11], ARGV[12])
return 1
",
    )
});

/// KEYS: token. ARGV: prefix. Returns `{}` for no token, else the token's
/// rec, revoked, used_at, last_used, and its family's rec and revoked.
pub(crate) static TOKEN_READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('HMGET', KEYS[1], 'rec', 'revoked', 'used_at', 'last_used', 'fam')
if not t[1] then return {} end
local f = {false, false}
if t[5] then f = redis.call('HMGET', ARGV[1] .. 'fam:' .. t[5], 'rec', 'revoked') end
return {t[1], t[2] and '1' or '', t[3] or '', t[4] or '', f[1] or '', f[2] and '1' or ''}
",
    )
});

/// The refresh rotation.
///
/// KEYS: presented token, its family, successor. ARGV: prefix, the
/// presented token's rec as read before (the successor was computed from
/// it), now, the grace threshold (`now - grace`, or `""`), then the
/// successor's digest, rec, id, expiry, ttl, subject, family.
///
/// Returns `{'retry'}` (the record changed since it was read),
/// `{'invalid'}`, `{'revoked'}` (of a family revoked earlier: nothing
/// changed), `{'taken'}` (the successor's digest is in use: nothing
/// changed), `{'rotated', last_used}`, `{'grace', rec, last_used}` (the
/// stored successor) or `{'reused'}` (the family is now revoked).
pub(crate) static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r"
local prefix, now = ARGV[1], ARGV[3]
local t = redis.call('HMGET', KEYS[1], 'rec', 'revoked', 'exp', 'used_at', 'succ', 'last_used', 'kind', 'fam')
if not t[1] then return {'invalid'} end
if t[1] ~= ARGV[2] then return {'retry'} end
if t[2] or t[7] ~= 'refresh' or not t[8] then return {'invalid'} end
if t[3] and now >= t[3] then return {'invalid'} end
local f = redis.call('HMGET', KEYS[2], 'rec', 'revoked', 'exp')
if not f[1] or not f[3] or now >= f[3] then return {'invalid'} end
if f[2] then return {'revoked'} end

if not t[4] then
  if redis.call('EXISTS', KEYS[3]) == 1 then return {'taken'} end
  redis.call('HSET', KEYS[1], 'used_at', now, 'succ', ARGV[5])
  put_token(KEYS[3], ARGV[6], 'refresh', ARGV[10], ARGV[7], ARGV[11], ARGV[8], ARGV[9])
  return {'rotated', t[6] or ''}
end

-- Used before: within the grace window (threshold < used_at <= now) the
-- stored successor is handed out again if it is still live.
if ARGV[4] < t[4] and t[4] <= now and t[5] then
  local s = redis.call('HMGET', prefix .. 'tok:' .. t[5], 'rec', 'revoked', 'exp', 'used_at', 'kind', 'fam', 'last_used')
  local live = s[1] and not s[2] and not s[4] and (not s[3] or now < s[3])
  if live then
    if s[6] then
      live = family_live(prefix .. 'fam:' .. s[6], now)
    elseif s[5] == 'refresh' then
      live = false
    end
  end
  if live then return {'grace', s[1], s[7] or ''} end
end
redis.call('HSET', KEYS[2], 'revoked', '1')
return {'reused'}
",
    )
});

/// KEYS: token. Returns 1 if a token was revoked now.
pub(crate) static TOKEN_REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
",
    )
});

/// KEYS: API-key index. ARGV: prefix, key id, subject.
pub(crate) static API_KEY_REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local digest = redis.call('HGET', KEYS[1], ARGV[2])
if not digest then return 0 end
local key = ARGV[1] .. 'tok:' .. digest
local t = redis.call('HMGET', key, 'kind', 'sub', 'id', 'revoked')
if not t[1] then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return 0
end
if t[1] ~= 'api_key' or t[2] ~= ARGV[3] or t[3] ~= ARGV[2] or t[4] then return 0 end
redis.call('HSET', key, 'revoked', '1')
return 1
",
    )
});

/// KEYS: family. Returns the family's rec (nil if none) and revokes it.
pub(crate) static FAMILY_REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local rec = redis.call('HGET', KEYS[1], 'rec')
if not rec then return false end
redis.call('HSET', KEYS[1], 'revoked', '1')
return rec
",
    )
});

/// KEYS: family index, API-key index. ARGV: prefix, subject, `'1'` to
/// revoke API keys too. Revokes every family of the subject and returns
/// their recs, those revoked before included.
pub(crate) static SUBJECT_REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local prefix, subject = ARGV[1], ARGV[2]
local revoked = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = prefix .. 'fam:' .. id
  local f = redis.call('HMGET', key, 'rec', 'sub')
  if not f[1] then
    redis.call('SREM', KEYS[1], id)
  elseif f[2] == subject then
    redis.call('HSET', key, 'revoked', '1')
    revoked[#revoked + 1] = f[1]
  end
end
if ARGV[3] == '1' then
  local keys = redis.call('HGETALL', KEYS[2])
  for i = 1, #keys, 2 do
    local key = prefix .. 'tok:' .. keys[i + 1]
    local t = redis.call('HMGET', key, 'kind', 'sub', 'revoked')
    if not t[1] then
      redis.call('HDEL', KEYS[2], keys[i])
    elseif t[1] == 'api_key' and t[2] == subject and not t[3] then
      redis.call('HSET', key, 'revoked', '1')
    end
  end
end
return revoked
",
    )
});

/// KEYS: API-key index. ARGV: prefix. Returns rec, revoked, last_used for
/// each indexed key, dropping index entries whose token is gone.
pub(crate) static API_KEY_LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
local keys = redis.call('HGETALL', KEYS[1])
for i = 1, #keys, 2 do
  local t = redis.call('HMGET', ARGV[1] .. 'tok:' .. keys[i + 1], 'rec', 'revoked', 'last_used')
  if not t[1] then
    redis.call('HDEL', KEYS[1], keys[i])
  else
    out[#out + 1] = t[1]
    out[#out + 1] = t[2] and '1' or ''
    out[#out + 1] = t[3] or ''
  end
end
return out
",
    )
});

/// KEYS: token. ARGV: instant. Never creates a token.
pub(crate) static TOKEN_USE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'last_used', ARGV[1]) end
return 1
",
    )
});

/// KEYS: family hashes found by SCAN. ARGV: prefix, now. Deletes those
/// revoked or ended, and their index entries; returns how many.
pub(crate) static PURGE_FAMILIES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local prefix, now = ARGV[1], ARGV[2]
local n = 0
for _, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'rec', 'revoked', 'exp', 'sub', 'id')
  if f[1] and (f[2] or not f[3] or now >= f[3]) then
    redis.call('DEL', key)
    n = n + 1
    if f[4] and f[5] then redis.call('SREM', prefix .. 'sub:fam:' .. f[4], f[5]) end
  end
end
return n
",
    )
});

/// KEYS: token hashes found by SCAN. ARGV: prefix, now. Deletes those
/// revoked, expired or of a family that is gone (run after
/// [`PURGE_FAMILIES`]), and their index entries; returns how many.
pub(crate) static PURGE_TOKENS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local prefix, now = ARGV[1], ARGV[2]
local n = 0
for _, key in ipairs(KEYS) do
  local t = redis.call('HMGET', key, 'rec', 'revoked', 'exp', 'fam', 'kind', 'sub', 'id')
  if t[1] then
    local dead = t[2] or (t[3] and now >= t[3])
      or (t[4] and redis.call('EXISTS', prefix .. 'fam:' .. t[4]) == 0)
    if dead then
      redis.call('DEL', key)
      n = n + 1
      if t[5] == 'api_key' and t[6] and t[7] then
        local index = prefix .. 'sub:keys:' .. t[6]
        local digest = string.sub(key, #prefix + 5)
        if redis.call('HGET', index, t[7]) == digest then redis.call('HDEL', index, t[7]) end
      end
    end
  end
end
return n
",
    )
});

/// KEYS: session, [subject index]. ARGV: prefix, state, ttl, digest.
pub(crate) static SESSION_CREATE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r"
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 0 end
if KEYS[2] then set_add(KEYS[2], ARGV[4], ARGV[3]) end
return 1
",
    )
});

/// KEYS: session, [subject index]. ARGV: prefix, state, ttl, digest.
/// `SET … XX`: a session that is gone is never re-created.
pub(crate) static SESSION_SAVE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r"
if not redis.call('SET', KEYS[1], ARGV[2], 'XX', 'PX', ARGV[3]) then return 0 end
if KEYS[2] then set_add(KEYS[2], ARGV[4], ARGV[3]) end
return 1
",
    )
});

/// KEYS: old session, new session, [subject index]. ARGV: prefix, state,
/// ttl, new digest, old digest.
pub(crate) static SESSION_ROTATE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'taken' end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if KEYS[3] then
  redis.call('SREM', KEYS[3], ARGV[5])
  set_add(KEYS[3], ARGV[4], ARGV[3])
end
return 'done'
",
    )
});

/// KEYS: keys; ARGV: prefix, then the value each key was read with. Deletes
/// each key whose value is still that one; returns how many.
pub(crate) static DELETE_UNCHANGED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
",
    )
});

/// KEYS: subject index. ARGV: prefix. Returns digest, state for each
/// indexed session, dropping members whose session is gone.
pub(crate) static SESSION_LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for _, digest in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local state = redis.call('GET', ARGV[1] .. 'sess:' .. digest)
  if state then
    out[#out + 1] = digest
    out[#out + 1] = state
  else
    redis.call('SREM', KEYS[1], digest)
  end
end
return out
",
    )
});

/// KEYS: subject index. ARGV: prefix, subject, digest to keep (or `""`).
/// Deletes the subject's sessions but that one; returns how many.
/// Undecodable records are left alone (as the reference store does); members
/// that are gone or belong to someone else now are dropped from the index.
pub(crate) static SESSION_DELETE_SUBJECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local prefix, subject, keep = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for _, digest in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = prefix .. 'sess:' .. digest
  local state = redis.call('GET', key)
  if not state then
    redis.call('SREM', KEYS[1], digest)
  else
    local ok, decoded = pcall(cjson.decode, state)
    if ok and type(decoded) == 'table' then
      if decoded['subject'] ~= subject then
        redis.call('SREM', KEYS[1], digest)
      elseif digest ~= keep then
        redis.call('DEL', key)
        redis.call('SREM', KEYS[1], digest)
        n = n + 1
      end
    end
  end
end
return n
",
    )
});

/// KEYS: one-time entries found by SCAN. ARGV: prefix, now. Deletes those
/// whose `until` has passed (or is unreadable); returns how many.
pub(crate) static PURGE_ONETIME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = 0
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value and not (#value == 29 and not string.find(value, '%D') and value > ARGV[2]) then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
",
    )
});

/// KEYS: a revocation entry (string). ARGV: prefix, until, ttl. Keeps the
/// later of the stored and the given `until`.
pub(crate) static REVOKE_UNTIL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if current and #current == 29 and not string.find(current, '%D') and current >= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
",
    )
});

/// KEYS: a subject's cut-off (hash of `before`, `until`). ARGV: prefix,
/// before, until, ttl. Keeps the later of each.
pub(crate) static REVOKE_SUBJECT_BEFORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function valid(v) return v and #v == 29 and not string.find(v, '%D') end
local c = redis.call('HMGET', KEYS[1], 'before', 'until')
local before, until_ = ARGV[2], ARGV[3]
if valid(c[1]) and c[1] > before then before = c[1] end
local keep = valid(c[2]) and c[2] >= until_ and redis.call('PTTL', KEYS[1]) >= 0
if keep then until_ = c[2] end
redis.call('HSET', KEYS[1], 'before', before, 'until', until_)
if not keep then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
",
    )
});

/// KEYS: token entry, subject cut-off, [family entry]. Returns the token's
/// until, the family's until, the subject's before and until (`""` where
/// absent).
pub(crate) static REVOCATION_READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local token = redis.call('GET', KEYS[1])
local subject = redis.call('HMGET', KEYS[2], 'before', 'until')
local family = false
if KEYS[3] then family = redis.call('GET', KEYS[3]) end
return {token or '', family or '', subject[1] or '', subject[2] or ''}
",
    )
});
