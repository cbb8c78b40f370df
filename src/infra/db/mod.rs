//! PostgreSQL access: the pool, migrations, and one repository module per concern. Every
//! SQL statement of the service lives here, taking an executor or a transaction.

pub mod annotations;
pub mod cluster;
pub mod dump_cleanup;
pub mod fence;
pub mod image_import;
pub mod image_predictions;
pub mod images;
pub mod insight_query;
pub mod insights;
pub mod jobs;
pub mod logo_index;
pub mod logo_writes;
pub mod logos;
pub mod ops;
pub mod prediction_query;
pub mod predictions;
pub mod product_edits;
pub mod products;
pub mod rows;
pub mod stats;
pub mod stream_offsets;
pub mod vision;
pub mod votes;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// The service's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("could not apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Opens a pool of at most `max_connections` to `url`.
pub async fn connect(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| DbError::InvalidUrl(e.to_string()))?
        .application_name("robotoff");
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await.map_err(DbError::Migrate)
}

/// Lets the current transaction commit without waiting for the WAL flush: used where
/// the transaction's effects and its record of being done are lost or kept together
/// (a PostgreSQL crash before the flush simply makes the work run again).
pub async fn commit_without_flush(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(conn)
        .await
        .map(|_| ())
}

/// One round trip to PostgreSQL.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(pool)
        .await
        .map(|_| ())
}
