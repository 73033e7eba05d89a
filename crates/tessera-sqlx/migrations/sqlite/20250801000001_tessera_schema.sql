-- tessera schema, version 1 (SQLite). Times are INTEGER milliseconds since
-- the Unix epoch; digests are 32-byte BLOBs; roles and scopes are JSON arrays
-- of strings, sorted. No raw token or session id is ever stored.

CREATE TABLE tessera_users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    login               TEXT    NOT NULL UNIQUE,
    password_hash       TEXT    NOT NULL,
    roles               TEXT    NOT NULL DEFAULT '[]',
    active              INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at          INTEGER NOT NULL,
    last_login_at       INTEGER,
    password_changed_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tessera_token_families (
    id         TEXT    NOT NULL PRIMARY KEY,
    subject    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;

CREATE INDEX tessera_token_families_subject ON tessera_token_families (subject);
CREATE INDEX tessera_token_families_expires_at ON tessera_token_families (expires_at);

CREATE TABLE tessera_tokens (
    digest       BLOB    NOT NULL PRIMARY KEY CHECK (length(digest) = 32),
    id           TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('refresh', 'api_key')),
    subject      TEXT    NOT NULL,
    family_id    TEXT,
    name         TEXT,
    scopes       TEXT    NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    used_at      INTEGER,
    successor    BLOB CHECK (successor IS NULL OR length(successor) = 32)
) STRICT;

CREATE INDEX tessera_tokens_subject ON tessera_tokens (subject, kind);
CREATE INDEX tessera_tokens_family_id ON tessera_tokens (family_id);
CREATE INDEX tessera_tokens_expires_at ON tessera_tokens (expires_at);

CREATE TABLE tessera_revocations (
    kind       TEXT    NOT NULL CHECK (kind IN ('token', 'family', 'subject')),
    target     TEXT    NOT NULL,
    not_before INTEGER,
    keep_until INTEGER NOT NULL,
    PRIMARY KEY (kind, target)
) STRICT;

CREATE INDEX tessera_revocations_keep_until ON tessera_revocations (keep_until);

CREATE TABLE tessera_sessions (
    digest     BLOB    NOT NULL PRIMARY KEY CHECK (length(digest) = 32),
    subject    TEXT,
    expires_at INTEGER NOT NULL,
    state      BLOB    NOT NULL
) STRICT;

CREATE INDEX tessera_sessions_subject ON tessera_sessions (subject);
CREATE INDEX tessera_sessions_expires_at ON tessera_sessions (expires_at);

CREATE TABLE tessera_onetime (
    digest     BLOB    NOT NULL PRIMARY KEY CHECK (length(digest) = 32),
    keep_until INTEGER NOT NULL
) STRICT;

CREATE INDEX tessera_onetime_keep_until ON tessera_onetime (keep_until);
