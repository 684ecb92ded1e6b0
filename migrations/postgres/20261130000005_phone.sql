-- The phone channel: one row per call, on the conversation that holds its transcript. The
-- caller's number is kept for the callback only and goes with the conversation when it is
-- deleted. Times are milliseconds since the Unix epoch.

CREATE TABLE phone_calls (
    conversation_id   TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    caller            TEXT,
    lang              TEXT NOT NULL,
    started_at        BIGINT NOT NULL,
    ended_at          BIGINT,
    callback_at       BIGINT,
    called_back_at    BIGINT,
    called_back_by    TEXT,
    called_back_note  TEXT
);
