-- The e-mail channel: which mails of a mailbox were handled (by UIDVALIDITY and UID, and by
-- Message-ID), the thread of each e-mail conversation, every reply as sent (so a resend after
-- a crash is byte-identical and detectable), and the lease that lets one instance work a
-- mailbox at a time. Times are milliseconds since the Unix epoch.

CREATE TABLE email_leases (
    mailbox     TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Every UID up to last_uid has a row in email_inbound (or came before Rathaus started).
CREATE TABLE email_cursors (
    mailbox      TEXT NOT NULL,
    uidvalidity  BIGINT NOT NULL,
    last_uid     BIGINT NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity)
);

CREATE TABLE email_inbound (
    mailbox          TEXT NOT NULL,
    uidvalidity      BIGINT NOT NULL,
    uid              BIGINT NOT NULL,
    message_id       TEXT NOT NULL,
    state            TEXT NOT NULL,
    detail           TEXT,
    conversation_id  TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX email_inbound_message ON email_inbound (message_id);

-- The citizen's address is what a later mail must come from to join the conversation.
CREATE TABLE email_threads (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    address          TEXT NOT NULL,
    subject          TEXT NOT NULL,
    last_message_id  TEXT NOT NULL,
    refs             TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- Every Message-ID of a conversation, the citizen's and ours, for threading replies.
CREATE TABLE email_message_ids (
    message_id       TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE
);

CREATE TABLE email_outbound (
    message_id       TEXT PRIMARY KEY,
    conversation_id  TEXT REFERENCES conversations (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    raw              BYTEA NOT NULL,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempted_at     BIGINT NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX email_outbound_pending ON email_outbound (state, attempted_at);
CREATE INDEX email_outbound_recipient ON email_outbound (recipient, kind, created_at);
