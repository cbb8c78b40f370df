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
