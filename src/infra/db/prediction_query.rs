//! Read queries on `prediction` for `/predictions` and the product audit.

use super::rows::PredictionRow;
use crate::types::ServerType;
use sqlx::{PgPool, Postgres, QueryBuilder};

const COLUMNS: &str = "id, barcode, type, data, timestamp, value_tag, value, source_image, \
    automatic_processing, predictor, predictor_version, confidence, server_type";

/// Filters of `/predictions`; `None` means no condition.
#[derive(Debug, Clone)]
pub struct PredictionFilter {
    pub server_type: ServerType,
    pub barcode: Option<String>,
    pub value_tag: Option<String>,
    /// Any of these types (an empty list means no type filter, as Robotoff).
    pub types: Option<Vec<String>>,
}

impl PredictionFilter {
    fn push_where(&self, q: &mut QueryBuilder<Postgres>) {
        q.push(" WHERE server_type = ")
            .push_bind(self.server_type.name());
        if let Some(b) = &self.barcode {
            q.push(" AND barcode = ").push_bind(b.clone());
        }
        if let Some(v) = &self.value_tag {
            q.push(" AND value_tag = ").push_bind(v.clone());
        }
        if let Some(t) = self.types.as_ref().filter(|t| !t.is_empty()) {
            q.push(" AND type = ANY(").push_bind(t.clone()).push(")");
        }
    }
}

pub async fn list(
    pool: &PgPool,
    filter: &PredictionFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<PredictionRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM prediction"));
    filter.push_where(&mut q);
    q.push(" LIMIT ").push_bind(limit);
    q.push(" OFFSET ").push_bind(offset);
    q.build_query_as().fetch_all(pool).await
}

pub async fn count(pool: &PgPool, filter: &PredictionFilter) -> Result<i64, sqlx::Error> {
    let mut q = QueryBuilder::new("SELECT count(*) FROM prediction");
    filter.push_where(&mut q);
    q.build_query_scalar().fetch_one(pool).await
}

/// Every prediction of a product, oldest first.
pub async fn of_product(
    pool: &PgPool,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<PredictionRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM prediction"));
    q.push(" WHERE barcode = ").push_bind(barcode.to_string());
    q.push(" AND server_type = ").push_bind(server_type.name());
    q.push(" ORDER BY id");
    q.build_query_as().fetch_all(pool).await
}

/// `data` and `source_image` of a product's `image_lang` predictions.
pub async fn image_langs_of_product(
    pool: &PgPool,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<(serde_json::Value, Option<String>)>, sqlx::Error> {
    let mut q = QueryBuilder::new("SELECT data, source_image FROM prediction WHERE barcode = ");
    q.push_bind(barcode.to_string());
    q.push(" AND server_type = ").push_bind(server_type.name());
    q.push(" AND type = 'image_lang' ORDER BY id");
    q.build_query_as().fetch_all(pool).await
}
