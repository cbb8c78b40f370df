//! `image` rows written by the image-import jobs (Robotoff's `save_image`).

use chrono::NaiveDateTime;
use sqlx::PgConnection;

/// A stored image: its row id and whether it was marked deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredImage {
    pub id: i32,
    pub deleted: bool,
}

/// The image to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewImage<'a> {
    pub barcode: &'a str,
    pub server_type: &'a str,
    pub image_id: &'a str,
    pub source_image: &'a str,
    pub width: i32,
    pub height: i32,
    pub uploaded_at: Option<NaiveDateTime>,
}

/// The row of `(source_image, server_type)`, inserted if absent (idempotent).
pub async fn save(
    conn: &mut PgConnection,
    image: &NewImage<'_>,
) -> Result<StoredImage, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type)
           VALUES ($1, $2, $3, $4, $5, $6, false, $7)
           ON CONFLICT (source_image, server_type) DO NOTHING
           RETURNING id, deleted"#,
        image.barcode,
        image.uploaded_at,
        image.image_id,
        image.source_image,
        image.width,
        image.height,
        image.server_type,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = inserted {
        return Ok(StoredImage {
            id: row.id,
            deleted: row.deleted,
        });
    }
    let row = sqlx::query!(
        "SELECT id, deleted FROM image WHERE source_image = $1 AND server_type IS NOT DISTINCT FROM $2",
        image.source_image,
        image.server_type,
    )
    .fetch_one(conn)
    .await?;
    Ok(StoredImage {
        id: row.id,
        deleted: row.deleted,
    })
}

/// The existing row of `(source_image, server_type)`, if any.
pub async fn find(
    conn: &mut PgConnection,
    source_image: &str,
    server_type: &str,
) -> Result<Option<StoredImage>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, deleted FROM image WHERE source_image = $1 AND server_type IS NOT DISTINCT FROM $2",
        source_image,
        server_type,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| StoredImage {
        id: r.id,
        deleted: r.deleted,
    }))
}

pub async fn mark_deleted(conn: &mut PgConnection, id: i32) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE image SET deleted = true WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}
