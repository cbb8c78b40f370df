//! Read queries on `image_prediction` (joined with its image) for `/image_predictions`
//! and the product audit.

use super::rows::{ImagePredictionRow, IMAGE_PREDICTION_JOIN_COLUMNS};
use crate::types::ServerType;
use sqlx::{PgPool, Postgres, QueryBuilder};

/// Filters of `/image_predictions`.
#[derive(Debug, Clone)]
pub struct ImagePredictionFilter {
    pub server_type: ServerType,
    /// false: only image predictions without a logo.
    pub with_logo: bool,
    pub barcode: Option<String>,
    pub kind: Option<String>,
    pub model_name: Option<String>,
    pub model_version: Option<String>,
    pub min_confidence: Option<f64>,
    pub image_id: Option<String>,
}

impl ImagePredictionFilter {
    fn push_from_where(&self, q: &mut QueryBuilder<Postgres>) {
        q.push(" FROM image_prediction ip JOIN image im ON im.id = ip.image_id");
        q.push(" WHERE im.server_type = ")
            .push_bind(self.server_type.name());
        if !self.with_logo {
            q.push(" AND NOT EXISTS (SELECT 1 FROM logo_annotation l WHERE l.image_prediction_id = ip.id)");
        }
        if let Some(v) = &self.image_id {
            q.push(" AND im.image_id = ").push_bind(v.clone());
        }
        if let Some(v) = &self.barcode {
            q.push(" AND im.barcode = ").push_bind(v.clone());
        }
        if let Some(v) = &self.kind {
            q.push(" AND ip.type = ").push_bind(v.clone());
        }
        if let Some(v) = &self.model_name {
            q.push(" AND ip.model_name = ").push_bind(v.clone());
        }
        if let Some(v) = &self.model_version {
            q.push(" AND ip.model_version = ").push_bind(v.clone());
        }
        if let Some(v) = self.min_confidence {
            q.push(" AND ip.max_confidence >= ").push_bind(v);
        }
    }
}

pub async fn list(
    pool: &PgPool,
    filter: &ImagePredictionFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<ImagePredictionRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!("SELECT {IMAGE_PREDICTION_JOIN_COLUMNS}"));
    filter.push_from_where(&mut q);
    q.push(" LIMIT ").push_bind(limit);
    q.push(" OFFSET ").push_bind(offset);
    q.build_query_as().fetch_all(pool).await
}

pub async fn count(pool: &PgPool, filter: &ImagePredictionFilter) -> Result<i64, sqlx::Error> {
    let mut q = QueryBuilder::new("SELECT count(*)");
    filter.push_from_where(&mut q);
    q.build_query_scalar().fetch_one(pool).await
}

/// Every image prediction of a product's images.
pub async fn of_product(
    pool: &PgPool,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<ImagePredictionRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {IMAGE_PREDICTION_JOIN_COLUMNS} FROM image_prediction ip JOIN image im ON im.id = ip.image_id"
    ));
    q.push(" WHERE im.barcode = ")
        .push_bind(barcode.to_string());
    q.push(" AND im.server_type = ")
        .push_bind(server_type.name());
    q.push(" ORDER BY ip.id");
    q.build_query_as().fetch_all(pool).await
}

/// An image prediction posted to the import route.
#[derive(Debug, Clone)]
pub struct PostedImagePrediction {
    pub barcode: String,
    pub image_id: String,
    pub server_type: ServerType,
    pub kind: String,
    pub model_name: String,
    pub model_version: String,
    pub data: serde_json::Value,
    pub max_confidence: Option<f32>,
}

/// An image the import names is not known (for that barcode and flavor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownImage {
    pub index: usize,
    pub barcode: String,
    pub image_id: String,
}

/// Stores every posted prediction in one transaction, one row per (image, model): a
/// model's earlier prediction of the image is replaced. An unknown image stores nothing.
pub async fn import(
    pool: &PgPool,
    items: &[PostedImagePrediction],
) -> Result<Result<usize, UnknownImage>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    for (index, item) in items.iter().enumerate() {
        let image = sqlx::query_scalar!(
            r#"SELECT id FROM image
               WHERE barcode = $1 AND image_id = $2 AND server_type = $3
               ORDER BY id LIMIT 1"#,
            item.barcode,
            item.image_id,
            item.server_type.name()
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(image) = image else {
            return Ok(Err(UnknownImage {
                index,
                barcode: item.barcode.clone(),
                image_id: item.image_id.clone(),
            }));
        };
        let updated = sqlx::query!(
            r#"UPDATE image_prediction
               SET type = $3, model_version = $4, data = $5, max_confidence = $6,
                   "timestamp" = (now() AT TIME ZONE 'utc')
               WHERE image_id = $1 AND model_name = $2"#,
            image,
            item.model_name,
            item.kind,
            item.model_version,
            item.data,
            item.max_confidence
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            sqlx::query!(
                r#"INSERT INTO image_prediction
                   (type, model_name, model_version, data, "timestamp", image_id, max_confidence)
                   VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'utc', $5, $6)"#,
                item.kind,
                item.model_name,
                item.model_version,
                item.data,
                image,
                item.max_confidence
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Ok(items.len()))
}
