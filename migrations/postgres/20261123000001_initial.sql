-- Rathaus schema, version 1. The same tables on SQLite and PostgreSQL; times are
-- milliseconds since the Unix epoch, JSON is stored as text.

CREATE TABLE entries (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    data        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE offices (
    id          TEXT PRIMARY KEY,
    data        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE synonyms (
    lang        TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    channel       TEXT NOT NULL,
    token_digest  TEXT NOT NULL,
    state         TEXT NOT NULL,
    context       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX conversations_updated ON conversations (updated_at);
CREATE INDEX conversations_state ON conversations (state);

CREATE TABLE messages (
    conversation_id  TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    author           TEXT NOT NULL,
    channel          TEXT NOT NULL,
    text             TEXT NOT NULL,
    outcome          TEXT,
    entries          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Questions the bot could not answer, personal data masked: the admins' to-do list.
CREATE TABLE unanswered (
    id          TEXT PRIMARY KEY,
    text        TEXT NOT NULL,
    lang        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX unanswered_created ON unanswered (created_at);
