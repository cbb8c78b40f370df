//! Shard ownership fenced by PostgreSQL advisory locks held on one dedicated connection:
//! a shard has at most one owner, and a dead owner's locks vanish with its connection.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::collections::BTreeSet;

/// Advisory lock namespace of shard ownership (first key of the two-key lock).
pub const SHARD_LOCK_SPACE: i32 = 0x526f_626f; // "Robo"
/// Advisory lock namespace of the scheduler's cluster-wide tasks.
const TASK_LOCK_SPACE: i32 = 0x5363_6865; // "Sche"

/// Takes the cluster-wide lock of task `key` on `conn` if no session holds it.
pub async fn try_lock_task(conn: &mut PgConnection, key: i32) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(TASK_LOCK_SPACE)
        .bind(key)
        .fetch_one(conn)
        .await
}

/// Releases the lock of task `key` held by `conn`.
pub async fn unlock_task(conn: &mut PgConnection, key: i32) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(TASK_LOCK_SPACE)
        .bind(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Application name of a fence connection, before the node's name.
pub const FENCE_APPLICATION: &str = "robotoff-fence:";

pub struct ShardFence {
    conn: PgConnection,
    held: BTreeSet<i32>,
}

impl ShardFence {
    /// Opens the fence connection of node `node` (named after it, so the holder of
    /// each shard can be read from PostgreSQL: see [`FENCE_APPLICATION`]).
    pub async fn open(options: &PgConnectOptions, node: &str) -> Result<ShardFence, sqlx::Error> {
        let name = format!("{FENCE_APPLICATION}{node}");
        // PostgreSQL keeps 63 bytes of an application name.
        let name: String = name.chars().take(63).collect();
        let options = options
            .clone()
            .application_name(&name)
            .log_statements(tracing::log::LevelFilter::Off);
        let conn = PgConnection::connect_with(&options).await?;
        Ok(ShardFence {
            conn,
            held: BTreeSet::new(),
        })
    }

    /// Tries to take every shard of `shards` not yet held; returns those newly taken.
    pub async fn acquire(&mut self, shards: &[i32]) -> Result<Vec<i32>, sqlx::Error> {
        let missing: Vec<i32> = shards
            .iter()
            .copied()
            .filter(|s| !self.held.contains(s))
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let taken: Vec<i32> = sqlx::query_scalar(
            "SELECT s FROM unnest($2::int[]) AS s WHERE pg_try_advisory_lock($1, s)",
        )
        .bind(SHARD_LOCK_SPACE)
        .bind(&missing)
        .fetch_all(&mut self.conn)
        .await?;
        self.held.extend(taken.iter().copied());
        Ok(taken)
    }

    /// Gives up `shards` (cluster rebalancing).
    pub async fn release(&mut self, shards: &[i32]) -> Result<(), sqlx::Error> {
        let held: Vec<i32> = shards
            .iter()
            .copied()
            .filter(|s| self.held.contains(s))
            .collect();
        if held.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_advisory_unlock($1, s) FROM unnest($2::int[]) AS s")
            .bind(SHARD_LOCK_SPACE)
            .bind(&held)
            .execute(&mut self.conn)
            .await?;
        for s in held {
            self.held.remove(&s);
        }
        Ok(())
    }

    /// Checks the connection (and so the locks) is still alive.
    pub async fn ping(&mut self) -> Result<(), sqlx::Error> {
        self.conn.ping().await
    }

    pub fn held(&self) -> &BTreeSet<i32> {
        &self.held
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// Advisory lock namespace of a product's writes in cluster mode.
const PRODUCT_LOCK_SPACE: i32 = 0x5072_6f64; // "Prod"

/// Inside a transaction: waits for, then holds until the transaction ends, the cluster-wide
/// lock of `barcode`'s writes (a job on its shard's owner, an annotation on any node).
pub async fn lock_product(conn: &mut PgConnection, barcode: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(PRODUCT_LOCK_SPACE)
        .bind(crate::shard::shard_key(barcode))
        .execute(conn)
        .await
        .map(|_| ())
}
