-- The outbox of staff replies for channels that carry them to the citizen themselves
-- (e-mail, Telegram): a reply is pending until its channel has sent it or given up.
-- `delivery_retry_at` is both the next attempt's time and a sender's lease on it.
ALTER TABLE messages ADD COLUMN delivery_state TEXT;
ALTER TABLE messages ADD COLUMN delivery_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN delivery_retry_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN delivery_error TEXT;
ALTER TABLE messages ADD COLUMN delivered_at BIGINT;

CREATE INDEX messages_outbox ON messages (channel, delivery_retry_at)
    WHERE author = 'staff' AND delivery_state IS NULL;
