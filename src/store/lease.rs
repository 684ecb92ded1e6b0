//! Leases: which Rathaus instance does a piece of work that only one may do at a time (poll
//! the Telegram bot, work a mailbox). A lease is held until it runs out or is given back; its
//! holder renews it long before then, and another instance takes it over once it has run out.

use async_trait::async_trait;

use super::{PostgresStore, Result, SqliteStore};

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `until`: true when `holder` has it
    /// now (it was free, had run out by `now`, or was already `holder`'s).
    async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool>;

    /// Gives the lease back, if `holder` has it, so another instance need not wait it out.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
}

macro_rules! lease_store {
    ($store:ident) => {
        #[async_trait]
        impl LeaseStore for $store {
            async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
                let r = sqlx::query(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                     WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
                )
                .bind(name)
                .bind(holder)
                .bind(until)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
                sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                    .bind(name)
                    .bind(holder)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

lease_store!(SqliteStore);
lease_store!(PostgresStore);
