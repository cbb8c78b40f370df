//! The dump-based cleanup of predictions and insights: the products of a Product Opener
//! dump go into a temporary table, then a few set-based statements delete what refers to
//! gone products or images and bring insight product fields up to date.

use chrono::NaiveDateTime;
use sqlx::PgConnection;

/// The fields of one dump product the cleanup needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpProduct {
    pub code: String,
    pub brands_tags: Vec<String>,
    pub countries_tags: Vec<String>,
    pub unique_scans_n: i32,
    /// Keys of `images` that are image ids (digits).
    pub image_ids: Vec<String>,
}

/// What the cleanup changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupCounts {
    pub predictions_product_gone: u64,
    pub predictions_image_gone: u64,
    pub insights_product_gone: u64,
    pub insights_image_gone: u64,
    pub insights_updated: u64,
}

/// The id of a `source_image` (`/359/671/000/8379/1.jpg` → `1`): its file name without
/// the last extension.
const IMAGE_ID: &str = r"regexp_replace(regexp_replace({col}, '^.*/', ''), '\.[^.]*$', '')";

fn image_id_of(column: &str) -> String {
    IMAGE_ID.replace("{col}", column)
}

/// Creates the session's temporary dump table (dropped at the end of the transaction).
pub async fn create_dump_table(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TEMP TABLE dump_product (
             code text PRIMARY KEY,
             brands jsonb NOT NULL,
             countries jsonb NOT NULL,
             unique_scans_n integer NOT NULL,
             image_ids jsonb NOT NULL
         ) ON COMMIT DROP",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds products to the dump table; a later product with the same code replaces the
/// earlier one.
pub async fn insert_dump_products(
    conn: &mut PgConnection,
    batch: &[DumpProduct],
) -> Result<(), sqlx::Error> {
    // One statement may not touch a row twice: keep the last product of each code.
    let mut seen = std::collections::HashSet::new();
    let mut rows: Vec<&DumpProduct> = batch
        .iter()
        .rev()
        .filter(|p| seen.insert(p.code.as_str()))
        .collect();
    rows.reverse();
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".to_string());
    let codes: Vec<&str> = rows.iter().map(|p| p.code.as_str()).collect();
    let brands: Vec<String> = rows.iter().map(|p| json(&p.brands_tags)).collect();
    let countries: Vec<String> = rows.iter().map(|p| json(&p.countries_tags)).collect();
    let scans: Vec<i32> = rows.iter().map(|p| p.unique_scans_n).collect();
    let images: Vec<String> = rows.iter().map(|p| json(&p.image_ids)).collect();
    sqlx::query(
        "INSERT INTO dump_product (code, brands, countries, unique_scans_n, image_ids)
         SELECT c, b::jsonb, co::jsonb, u, i::jsonb
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[]) AS t(c, b, co, u, i)
         ON CONFLICT (code) DO UPDATE SET
             brands = EXCLUDED.brands, countries = EXCLUDED.countries,
             unique_scans_n = EXCLUDED.unique_scans_n, image_ids = EXCLUDED.image_ids",
    )
    .bind(codes)
    .bind(brands)
    .bind(countries)
    .bind(scans)
    .bind(images)
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies the cleanup to OFF rows stored at or before `threshold` (spec pipeline §4.2):
/// predictions and non-annotated insights of products absent from the dump, or whose
/// source image is not one of the product's images, are deleted; the brands, countries
/// and scan count of the remaining non-annotated insights follow the dump.
pub async fn apply(
    conn: &mut PgConnection,
    threshold: NaiveDateTime,
) -> Result<CleanupCounts, sqlx::Error> {
    sqlx::query("ANALYZE dump_product")
        .execute(&mut *conn)
        .await?;
    let predictions_product_gone = sqlx::query(
        "DELETE FROM prediction p
         WHERE p.server_type = 'off' AND p.\"timestamp\" <= $1
           AND NOT EXISTS (SELECT 1 FROM dump_product d WHERE d.code = p.barcode)",
    )
    .bind(threshold)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let image_id = image_id_of("p.source_image");
    let predictions_image_gone = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM prediction p USING dump_product d
         WHERE d.code = p.barcode AND p.server_type = 'off' AND p.\"timestamp\" <= $1
           AND p.source_image IS NOT NULL
           AND NOT ({image_id} ~ '^[0-9]+$' AND d.image_ids ? {image_id})"
    )))
    .bind(threshold)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let insights_product_gone = sqlx::query(
        "DELETE FROM product_insight i
         WHERE i.annotation IS NULL AND i.server_type = 'off' AND i.\"timestamp\" <= $1
           AND NOT EXISTS (SELECT 1 FROM dump_product d WHERE d.code = i.barcode)",
    )
    .bind(threshold)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let image_id = image_id_of("i.source_image");
    let insights_image_gone = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM product_insight i USING dump_product d
         WHERE d.code = i.barcode AND i.annotation IS NULL AND i.server_type = 'off'
           AND i.\"timestamp\" <= $1 AND i.source_image IS NOT NULL
           AND NOT ({image_id} ~ '^[0-9]+$' AND d.image_ids ? {image_id})"
    )))
    .bind(threshold)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let insights_updated = sqlx::query(
        "UPDATE product_insight i
         SET brands = d.brands, countries = d.countries, unique_scans_n = d.unique_scans_n
         FROM dump_product d
         WHERE d.code = i.barcode AND i.annotation IS NULL AND i.server_type = 'off'
           AND i.\"timestamp\" <= $1
           AND (i.brands IS DISTINCT FROM d.brands OR i.countries IS DISTINCT FROM d.countries
                OR i.unique_scans_n <> d.unique_scans_n)",
    )
    .bind(threshold)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(CleanupCounts {
        predictions_product_gone,
        predictions_image_gone,
        insights_product_gone,
        insights_image_gone,
        insights_updated,
    })
}

/// A brand insight to check against the brand lists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BrandInsight {
    pub id: uuid::Uuid,
    pub barcode: String,
    pub predictor: Option<String>,
    pub value_tag: Option<String>,
}

/// Non-annotated OFF brand insights from the predictors whose brands are checked
/// against the blacklist and barcode ranges.
pub async fn checked_brand_insights(
    conn: &mut PgConnection,
) -> Result<Vec<BrandInsight>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, barcode, predictor, value_tag FROM product_insight
         WHERE type = 'brand' AND annotation IS NULL AND server_type = 'off'
           AND predictor IN ('taxonomy', 'curated-list')",
    )
    .fetch_all(conn)
    .await
}

/// Deletes insights by id; returns how many were deleted.
pub async fn delete_insights(
    conn: &mut PgConnection,
    ids: &[uuid::Uuid],
) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(
        sqlx::query("DELETE FROM product_insight WHERE id = ANY($1)")
            .bind(ids)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
