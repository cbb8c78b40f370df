//! What the model steps of image import read and write: the image row, its
//! `image_prediction` per model, the `logo_annotation` rows of a logo detection, their
//! `embedding.logo_embedding`, and the image's fingerprint (spec pipeline §2.7, §2.11,
//! §6.3). Writes run in the product shard's transaction.

use serde_json::Value;
use sqlx::PgConnection;

/// An image row, as the model steps need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub id: i32,
    pub barcode: String,
    pub source_image: String,
    pub width: i32,
    pub height: i32,
    pub deleted: bool,
    pub fingerprint: Option<i64>,
}

/// The image of `(source_image, server_type)`.
pub async fn image(
    conn: &mut PgConnection,
    source_image: &str,
    server_type: &str,
) -> Result<Option<ImageRow>, sqlx::Error> {
    sqlx::query_as!(
        ImageRow,
        r#"SELECT id, barcode, source_image, width, height, deleted, fingerprint
           FROM image WHERE source_image = $1 AND server_type IS NOT DISTINCT FROM $2"#,
        source_image,
        server_type,
    )
    .fetch_optional(conn)
    .await
}

/// A stored image prediction of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPrediction {
    pub id: i32,
    pub model_name: String,
    pub data: Value,
}

/// The image predictions of `image_id` by the models named, first one per model.
pub async fn predictions_of_image(
    conn: &mut PgConnection,
    image_id: i32,
    model_names: &[String],
) -> Result<Vec<StoredPrediction>, sqlx::Error> {
    sqlx::query_as!(
        StoredPrediction,
        r#"SELECT DISTINCT ON (model_name) id, model_name, data
           FROM image_prediction WHERE image_id = $1 AND model_name = ANY($2)
           ORDER BY model_name, id"#,
        image_id,
        model_names,
    )
    .fetch_all(conn)
    .await
}

/// A logo of a logo detection, and whether it has its embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLogo {
    pub id: i32,
    pub index: i32,
    pub bounding_box: Value,
    pub embedded: bool,
}

/// The logos of an image prediction, by index.
pub async fn logos_of_prediction(
    conn: &mut PgConnection,
    image_prediction_id: i32,
) -> Result<Vec<StoredLogo>, sqlx::Error> {
    sqlx::query_as!(
        StoredLogo,
        r#"SELECT l.id, l.index, l.bounding_box,
                  EXISTS (SELECT 1 FROM embedding.logo_embedding e WHERE e.logo_id = l.id) AS "embedded!"
           FROM logo_annotation l WHERE l.image_prediction_id = $1
           ORDER BY l.index"#,
        image_prediction_id,
    )
    .fetch_all(conn)
    .await
}

/// An image prediction to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewImagePrediction<'a> {
    pub kind: &'a str,
    pub model_name: &'a str,
    pub model_version: &'a str,
    pub data: &'a Value,
    pub image_id: i32,
    pub max_confidence: Option<f32>,
}

/// Stores an image prediction (timestamp: now, UTC); returns its id.
pub async fn insert_prediction(
    conn: &mut PgConnection,
    p: &NewImagePrediction<'_>,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO image_prediction (type, model_name, model_version, data, "timestamp", image_id, max_confidence)
           VALUES ($1, $2, $3, $4, (now() AT TIME ZONE 'utc'), $5, $6)
           RETURNING id"#,
        p.kind,
        p.model_name,
        p.model_version,
        p.data,
        p.image_id,
        p.max_confidence,
    )
    .fetch_one(conn)
    .await
}

/// A logo to store for an image prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogo<'a> {
    pub index: i32,
    pub bounding_box: Value,
    pub score: f32,
    pub barcode: &'a str,
    pub source_image: &'a str,
    pub text: Option<String>,
    pub server_type: &'a str,
}

/// Stores the logos of an image prediction; returns their ids, in order. A logo whose
/// index is already taken keeps its row (and id).
pub async fn insert_logos(
    conn: &mut PgConnection,
    image_prediction_id: i32,
    logos: &[NewLogo<'_>],
) -> Result<Vec<i32>, sqlx::Error> {
    let mut ids = Vec::with_capacity(logos.len());
    for logo in logos {
        let id = sqlx::query_scalar!(
            r#"WITH inserted AS (
                   INSERT INTO logo_annotation (image_prediction_id, index, bounding_box, score,
                                                barcode, source_image, text, server_type)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (image_prediction_id, index) DO NOTHING
                   RETURNING id
               )
               SELECT id AS "id!" FROM inserted
               UNION ALL
               SELECT id FROM logo_annotation WHERE image_prediction_id = $1 AND index = $2
               LIMIT 1"#,
            image_prediction_id,
            logo.index,
            logo.bounding_box,
            logo.score,
            logo.barcode,
            logo.source_image,
            logo.text,
            logo.server_type,
        )
        .fetch_one(&mut *conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Stores logo embeddings (512 float32, little-endian); a logo that already has one
/// keeps it. Returns how many were stored.
pub async fn insert_embeddings(
    conn: &mut PgConnection,
    embeddings: &[(i32, Vec<u8>)],
) -> Result<u64, sqlx::Error> {
    if embeddings.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i32> = embeddings.iter().map(|(id, _)| *id).collect();
    let vectors: Vec<Vec<u8>> = embeddings.iter().map(|(_, v)| v.clone()).collect();
    let done = sqlx::query!(
        r#"INSERT INTO embedding.logo_embedding (logo_id, embedding)
           SELECT * FROM unnest($1::int[], $2::bytea[])
           ON CONFLICT (logo_id) DO NOTHING"#,
        &ids,
        &vectors,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Sets the image's fingerprint unless it has one; returns whether it was set.
pub async fn set_fingerprint(
    conn: &mut PgConnection,
    image_id: i32,
    fingerprint: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE image SET fingerprint = $2 WHERE id = $1 AND fingerprint IS NULL",
        image_id,
        fingerprint,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An image of a product and its cached CLIP embedding, if any.
#[derive(Debug, Clone)]
pub struct ImageEmbeddingRow {
    /// The image's id on Product Opener.
    pub image_id: i64,
    /// The `image` row.
    pub row_id: i32,
    pub embedding: Option<Vec<f32>>,
}

/// The image rows of `image_ids` of a product (not deleted) with their cached
/// embeddings (`embedding.image_embedding`).
pub async fn image_embeddings(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: &str,
    image_ids: &[i64],
) -> Result<Vec<ImageEmbeddingRow>, sqlx::Error> {
    let ids: Vec<String> = image_ids.iter().map(i64::to_string).collect();
    let rows: Vec<(i32, String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT i.id, i.image_id, e.embedding FROM image i \
         LEFT JOIN embedding.image_embedding e ON e.image_id = i.id \
         WHERE i.barcode = $1 AND i.server_type = $2 AND i.image_id = ANY($3) \
           AND NOT i.deleted",
    )
    .bind(barcode)
    .bind(server_type)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(row_id, image_id, bytes)| {
            Some(ImageEmbeddingRow {
                image_id: image_id.parse().ok()?,
                row_id,
                embedding: bytes.filter(|b| b.len() % 4 == 0).map(|b| {
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect()
                }),
            })
        })
        .collect())
}

/// Caches image embeddings (little-endian float32); rows already there are kept.
pub async fn insert_image_embeddings(
    conn: &mut PgConnection,
    embeddings: &[(i32, Vec<f32>)],
) -> Result<u64, sqlx::Error> {
    if embeddings.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i32> = embeddings.iter().map(|(i, _)| *i).collect();
    let bytes: Vec<Vec<u8>> = embeddings
        .iter()
        .map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let done = sqlx::query(
        "INSERT INTO embedding.image_embedding (image_id, embedding) \
         SELECT * FROM UNNEST($1::int[], $2::bytea[]) \
         ON CONFLICT (image_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&bytes)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
