-- Login throttling (tessera_core::throttle): one row per bucket key, a
-- SHA-256 digest of the bucket and its value (no login in clear).
-- `at` is the last failure (account buckets) or the window's start (rate
-- buckets); `expires` when the row no longer matters. Milliseconds.
CREATE TABLE tessera_throttle (
    key     TEXT    NOT NULL PRIMARY KEY,
    count   INTEGER NOT NULL CHECK (count >= 0),
    at      INTEGER NOT NULL,
    expires INTEGER NOT NULL
) STRICT;

CREATE INDEX tessera_throttle_expires ON tessera_throttle (expires);
