//! Writes on `logo_annotation`: a user's annotation of one logo, the bulk annotation,
//! the reset and the bulk rename (spec api-db §1.4), and the removal of what a logo
//! annotation had produced.

use sqlx::{PgConnection, PgPool};

/// Predictor of the predictions made from annotated logos.
pub const LOGO_PREDICTOR: &str = "universal-logo-detector";

/// A logo annotation to store.
#[derive(Debug, Clone)]
pub struct LogoAnnotation<'a> {
    pub kind: &'a str,
    pub value: Option<&'a str>,
    pub value_tag: Option<&'a str>,
    pub taxonomy_value: Option<&'a str>,
    pub username: Option<&'a str>,
}

/// Stores `a` on logo `id` when its type or value differs from the stored ones; returns
/// whether the logo changed.
pub async fn annotate_if_changed(
    conn: &mut PgConnection,
    id: i32,
    a: &LogoAnnotation<'_>,
) -> Result<bool, sqlx::Error> {
    annotate_where(
        conn,
        id,
        a,
        "annotation_type IS DISTINCT FROM $2 OR annotation_value IS DISTINCT FROM $3",
    )
    .await
}

/// Stores `a` on logo `id` unless it already has an annotation type; returns whether
/// the logo was annotated.
pub async fn annotate_if_new(
    conn: &mut PgConnection,
    id: i32,
    a: &LogoAnnotation<'_>,
) -> Result<bool, sqlx::Error> {
    annotate_where(conn, id, a, "annotation_type IS NULL").await
}

/// Stores `a` on logo `id` when `condition` (over $2 type and $3 value) holds.
async fn annotate_where(
    conn: &mut PgConnection,
    id: i32,
    a: &LogoAnnotation<'_>,
    condition: &'static str,
) -> Result<bool, sqlx::Error> {
    // `condition` is one of this module's constants.
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE logo_annotation SET annotation_type = $2, annotation_value = $3,
                annotation_value_tag = $4, taxonomy_value = $5, username = $6,
                completed_at = (now() AT TIME ZONE 'UTC')
         WHERE id = $1 AND ({condition})"
    )))
    .bind(id)
    .bind(a.kind)
    .bind(a.value)
    .bind(a.value_tag)
    .bind(a.taxonomy_value)
    .bind(a.username)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a reset removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoReset {
    pub previous_type: Option<String>,
    pub predictions_deleted: u64,
    pub insights_deleted: u64,
}

/// Clears logo `id`'s annotation; when it was a brand or a label, the predictions made
/// from it and their insights not yet annotated go too. `None`: no such logo.
pub async fn reset(conn: &mut PgConnection, id: i32) -> Result<Option<LogoReset>, sqlx::Error> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT annotation_type, barcode FROM logo_annotation WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((previous_type, barcode)) = row else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE logo_annotation SET annotation_value = NULL, annotation_value_tag = NULL,
                taxonomy_value = NULL, annotation_type = NULL, username = NULL,
                completed_at = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let mut out = LogoReset {
        previous_type: previous_type.clone(),
        ..LogoReset::default()
    };
    if let (Some(kind @ ("brand" | "label")), Some(barcode)) =
        (previous_type.as_deref(), barcode.as_deref())
    {
        let logo = id.to_string();
        out.predictions_deleted = sqlx::query(
            "DELETE FROM prediction WHERE barcode = $1 AND type = $2 AND predictor = $3
               AND data->>'logo_id' = $4",
        )
        .bind(barcode)
        .bind(kind)
        .bind(LOGO_PREDICTOR)
        .bind(&logo)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        out.insights_deleted = sqlx::query(
            "DELETE FROM product_insight WHERE barcode = $1 AND type = $2 AND predictor = $3
               AND data->>'logo_id' = $4 AND annotation IS NULL",
        )
        .bind(barcode)
        .bind(kind)
        .bind(LOGO_PREDICTOR)
        .bind(&logo)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(Some(out))
}

/// Renames every logo annotated (`source_type`, `source_tag`) to the target; returns the
/// number of logos changed.
pub async fn rename(
    pool: &PgPool,
    source_type: &str,
    source_tag: &str,
    target: &LogoAnnotation<'_>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE logo_annotation SET annotation_type = $3, annotation_value = $4,
                annotation_value_tag = $5, taxonomy_value = $6, username = $7,
                completed_at = (now() AT TIME ZONE 'UTC')
         WHERE annotation_type = $1 AND annotation_value_tag = $2",
    )
    .bind(source_type)
    .bind(source_tag)
    .bind(target.kind)
    .bind(target.value)
    .bind(target.value_tag)
    .bind(target.taxonomy_value)
    .bind(target.username)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Open insights of a product made from logo `logo_id`.
pub async fn open_insights_of_logo(
    pool: &PgPool,
    barcode: &str,
    kind: &str,
    logo_id: i32,
) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM product_insight WHERE barcode = $1 AND type = $2 AND predictor = $3
           AND data->>'logo_id' = $4 AND annotation IS NULL ORDER BY id",
    )
    .bind(barcode)
    .bind(kind)
    .bind(LOGO_PREDICTOR)
    .bind(logo_id.to_string())
    .fetch_all(pool)
    .await
}
