-- tessera schema, version 1 (PostgreSQL). Tables are created in the first
-- schema of the connection's search_path. Times are BIGINT milliseconds
-- since the Unix epoch; digests are 32-byte BYTEA; roles and scopes are JSON
-- arrays of strings, sorted, as TEXT. No raw token or session id is ever
-- stored.

CREATE TABLE tessera_users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    login               TEXT    NOT NULL CONSTRAINT tessera_users_login_key UNIQUE,
    password_hash       TEXT    NOT NULL,
    roles               TEXT    NOT NULL DEFAULT '[]',
    active              BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          BIGINT  NOT NULL,
    last_login_at       BIGINT,
    password_changed_at BIGINT  NOT NULL
);

CREATE TABLE tessera_token_families (
    id         TEXT    NOT NULL PRIMARY KEY,
    subject    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX tessera_token_families_subject ON tessera_token_families (subject);
CREATE INDEX tessera_token_families_expires_at ON tessera_token_families (expires_at);

CREATE TABLE tessera_tokens (
    digest       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(digest) = 32),
    id           TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('refresh', 'api_key')),
    subject      TEXT    NOT NULL,
    family_id    TEXT,
    name         TEXT,
    scopes       TEXT    NOT NULL DEFAULT '[]',
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked      BOOLEAN NOT NULL DEFAULT FALSE,
    used_at      BIGINT,
    successor    BYTEA CHECK (successor IS NULL OR octet_length(successor) = 32)
);

CREATE INDEX tessera_tokens_subject ON tessera_tokens (subject, kind);
CREATE INDEX tessera_tokens_family_id ON tessera_tokens (family_id);
CREATE INDEX tessera_tokens_expires_at ON tessera_tokens (expires_at);

CREATE TABLE tessera_revocations (
    kind       TEXT   NOT NULL CHECK (kind IN ('token', 'family', 'subject')),
    target     TEXT   NOT NULL,
    not_before BIGINT,
    keep_until BIGINT NOT NULL,
    PRIMARY KEY (kind, target)
);

CREATE INDEX tessera_revocations_keep_until ON tessera_revocations (keep_until);

CREATE TABLE tessera_sessions (
    digest     BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(digest) = 32),
    subject    TEXT,
    expires_at BIGINT NOT NULL,
    state      BYTEA  NOT NULL
);

CREATE INDEX tessera_sessions_subject ON tessera_sessions (subject);
CREATE INDEX tessera_sessions_expires_at ON tessera_sessions (expires_at);

CREATE TABLE tessera_onetime (
    digest     BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(digest) = 32),
    keep_until BIGINT NOT NULL
);

CREATE INDEX tessera_onetime_keep_until ON tessera_onetime (keep_until);
