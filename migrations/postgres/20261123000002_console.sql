-- The handoff console: staff accounts and their sessions, the handoff on each conversation,
-- staff names on their messages, canned replies. Times are milliseconds since the Unix epoch.

CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    active         BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL
);

-- Only a digest of the session cookie is kept, as for conversation tokens.
CREATE TABLE staff_sessions (
    id_digest   TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- Failed logins, per account and per client address, for throttling.
CREATE TABLE login_failures (
    key  TEXT NOT NULL,
    at   BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

ALTER TABLE conversations ADD COLUMN handoff_reason TEXT;
ALTER TABLE conversations ADD COLUMN handoff_at BIGINT;
ALTER TABLE conversations ADD COLUMN assignee TEXT REFERENCES staff (id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN claimed_at BIGINT;
ALTER TABLE conversations ADD COLUMN closed_outcome TEXT;
CREATE INDEX conversations_handoff ON conversations (state, handoff_at);

ALTER TABLE messages ADD COLUMN author_name TEXT;

CREATE TABLE canned_replies (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
