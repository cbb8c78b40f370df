//! Shard ownership fenced by PostgreSQL advisory locks held on one dedicated connection:
//! a shard has at most one owner, and a dead owner's locks vanish with its connection.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::collections::BTreeSet;

/// Advisory lock namespace of shard ownership (first key of the two-key lock).
const SHARD_LOCK_SPACE: i32 = 0x526f_626f; // "Robo"
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

pub struct ShardFence {
    conn: PgConnection,
    held: BTreeSet<i32>,
}

impl ShardFence {
    pub async fn open(options: &PgConnectOptions) -> Result<ShardFence, sqlx::Error> {
        let options = options
            .clone()
            .application_name("robotoff-fence")
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
