-- One inbox for every channel, the mirror of the outbox: each message a channel receives is
-- kept here under the channel's own idempotency key before it is worked (a repeat is
-- skipped), worked once by the instance that holds the channel's lease, in order per lane
-- (a chat, a sender), and replayed after a crash. `conversation_id` and `mark_seq` note
-- where the transcript stood when work on it began, so that a replay can tell whether its
-- turn was recorded. The payload is emptied once the message is worked; the key stays a
-- while against repeats. Times are milliseconds since the Unix epoch.
CREATE TABLE inbox (
    channel          TEXT NOT NULL,
    item_key         TEXT NOT NULL,
    lane             TEXT,
    position         BIGINT NOT NULL,
    payload          BLOB NOT NULL,
    conversation_id  TEXT,
    mark_seq         BIGINT,
    received_at      BIGINT NOT NULL,
    done_at          BIGINT,
    PRIMARY KEY (channel, item_key)
);
CREATE INDEX inbox_pending ON inbox (channel, done_at, position);

INSERT INTO inbox (channel, item_key, lane, position, payload, conversation_id, mark_seq, received_at, done_at)
    SELECT 'telegram', CAST(update_id AS TEXT), CAST(chat_id AS TEXT), update_id, CAST(payload AS BLOB),
           conversation_id, mark_seq, received_at, done_at
    FROM telegram_updates;
DROP TABLE telegram_updates;

-- Bot replies go out through the outbox too, on the channels that deliver their own
-- messages. A message is pending delivery while `delivery_state` is NULL; what no channel
-- sender carries (the widget reads its transcript; the phone answers in the call) is 'none'.
-- Bot replies recorded before this were sent at once.
ALTER TABLE messages ADD COLUMN in_reply_to TEXT;
UPDATE messages SET delivery_state = 'sent' WHERE delivery_state IS NULL AND author = 'bot';
UPDATE messages SET delivery_state = 'none'
    WHERE delivery_state IS NULL AND NOT (author = 'staff' AND channel IN ('email', 'telegram'));
DROP INDEX messages_outbox;
CREATE INDEX messages_outbox ON messages (channel, delivery_retry_at) WHERE delivery_state IS NULL;

-- The e-mail channel keeps its mails in the inbox too; what it still keeps of each is how it
-- ended, and whether the mailbox shows that yet (seen, or flagged for a person's look).
ALTER TABLE email_inbound ADD COLUMN flagged_at BIGINT;
UPDATE email_inbound SET flagged_at = updated_at WHERE state <> 'received';
