-- The Telegram channel: the conversation each chat has, every update received from the Bot
-- API (kept until processed, then only its id, so that none is processed twice), and the
-- lease that lets one instance at a time poll and process. Times are milliseconds since the
-- Unix epoch.

CREATE TABLE telegram_chats (
    chat_id          BIGINT PRIMARY KEY,
    conversation_id  TEXT NOT NULL UNIQUE REFERENCES conversations (id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL
);

-- `payload` is the update as the Bot API sent it, emptied once processed. `conversation_id`
-- and `mark_seq` note where the conversation's transcript stood when processing began, so a
-- restart can tell whether the turn was already recorded.
CREATE TABLE telegram_updates (
    update_id        BIGINT PRIMARY KEY,
    chat_id          BIGINT,
    payload          TEXT NOT NULL,
    conversation_id  TEXT,
    mark_seq         BIGINT,
    received_at      BIGINT NOT NULL,
    done_at          BIGINT
);
CREATE INDEX telegram_updates_pending ON telegram_updates (done_at, update_id);

CREATE TABLE telegram_lease (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
