-- Login attempts, recorded before the password is checked, so that concurrent tries are
-- counted against the limit before any of them is worked (per account and per address).
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    id   BIGSERIAL PRIMARY KEY,
    key  TEXT NOT NULL,
    at   BIGINT NOT NULL
);
CREATE INDEX login_attempts_key ON login_attempts (key, at);

-- Keys the server signs with (the login form's token), made once and shared by every
-- instance on the database.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
