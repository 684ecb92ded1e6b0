-- One table for every lease (the Telegram poller, each mailbox) instead of one per channel.
-- Leases live for seconds: the old rows are not carried over, a running instance takes its
-- lease again on its next renewal.

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

DROP TABLE telegram_lease;
DROP TABLE email_leases;
