//! Small read queries: annotation counts per user, open questions per product, the
//! insights of one product, and the product images questions show.

use super::insight_query::INSIGHT_COLUMNS;
use super::rows::InsightRow;
use crate::types::ServerType;
use sqlx::{PgPool, QueryBuilder};
use std::collections::HashMap;
use uuid::Uuid;

/// Number of insights annotated by `username`.
pub async fn annotations_by(pool: &PgPool, username: &str) -> Result<i64, sqlx::Error> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM product_insight WHERE username = $1"#,
        username
    )
    .fetch_one(pool)
    .await?;
    Ok(n)
}

/// One insight by id.
pub async fn insight(pool: &PgPool, id: Uuid) -> Result<Option<InsightRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {INSIGHT_COLUMNS} FROM product_insight WHERE id = "
    ));
    q.push_bind(id);
    q.build_query_as().fetch_optional(pool).await
}

/// Every insight of a product, annotated or not, oldest first.
pub async fn insights_of_product(
    pool: &PgPool,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<InsightRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {INSIGHT_COLUMNS} FROM product_insight WHERE barcode = "
    ));
    q.push_bind(barcode.to_string());
    q.push(" AND server_type = ").push_bind(server_type.name());
    q.push(" ORDER BY timestamp NULLS FIRST, id");
    q.build_query_as().fetch_all(pool).await
}

/// Open questions (not annotated, not automatically processable, of a question type)
/// per barcode, for the given barcodes, in one query.
pub async fn open_question_counts(
    pool: &PgPool,
    server_type: ServerType,
    barcodes: &[String],
    types: &[String],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT barcode, count(*) AS "n!"
           FROM product_insight
           WHERE barcode = ANY($1) AND server_type = $2 AND type = ANY($3)
             AND annotation IS NULL AND automatic_processing = false
           GROUP BY barcode"#,
        barcodes,
        server_type.name(),
        types,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.barcode, r.n)).collect())
}

/// The `images` field of stored products, by barcode.
pub async fn product_images(
    pool: &PgPool,
    server_type: ServerType,
    barcodes: &[String],
) -> Result<HashMap<String, serde_json::Value>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT code, images FROM product WHERE server_type = $1 AND code = ANY($2)",
        server_type.name(),
        barcodes,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.code, r.images)).collect())
}

/// Whether this user (or, without a user name, this device) has voted on any insight.
pub async fn has_voted(
    pool: &PgPool,
    username: Option<&str>,
    device_id: &str,
) -> Result<bool, sqlx::Error> {
    let mut q = QueryBuilder::new("SELECT EXISTS (SELECT 1 FROM annotation_vote WHERE ");
    match username {
        Some(u) => q.push("username = ").push_bind(u.to_string()),
        None => q.push("device_id = ").push_bind(device_id.to_string()),
    };
    q.push(")");
    q.build_query_scalar().fetch_one(pool).await
}
