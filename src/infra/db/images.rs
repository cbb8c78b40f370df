//! Read queries on `image` for `/images` and the product audit.

use super::rows::ImageRow;
use crate::types::ServerType;
use sqlx::{PgPool, Postgres, QueryBuilder};

const COLUMNS: &str = "im.id, im.barcode, im.uploaded_at, im.image_id, im.source_image, \
    im.width, im.height, im.deleted, im.server_type, im.fingerprint";

/// Filters of `/images`.
#[derive(Debug, Clone)]
pub struct ImageFilter {
    pub server_type: ServerType,
    pub barcode: Option<String>,
    /// false: only images that have no image prediction.
    pub with_predictions: bool,
}

impl ImageFilter {
    fn push_from_where(&self, q: &mut QueryBuilder<Postgres>) {
        q.push(" FROM image im");
        if !self.with_predictions {
            q.push(" WHERE NOT EXISTS (SELECT 1 FROM image_prediction ip WHERE ip.image_id = im.id) AND");
        } else {
            q.push(" WHERE");
        }
        q.push(" im.server_type = ")
            .push_bind(self.server_type.name());
        if let Some(b) = &self.barcode {
            q.push(" AND im.barcode = ").push_bind(b.clone());
        }
    }
}

pub async fn list(
    pool: &PgPool,
    filter: &ImageFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<ImageRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!("SELECT {COLUMNS}"));
    filter.push_from_where(&mut q);
    q.push(" LIMIT ").push_bind(limit);
    q.push(" OFFSET ").push_bind(offset);
    q.build_query_as().fetch_all(pool).await
}

pub async fn count(pool: &PgPool, filter: &ImageFilter) -> Result<i64, sqlx::Error> {
    let mut q = QueryBuilder::new("SELECT count(*)");
    filter.push_from_where(&mut q);
    q.build_query_scalar().fetch_one(pool).await
}

/// Every image of a product, by id.
pub async fn of_product(
    pool: &PgPool,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<ImageRow>, sqlx::Error> {
    let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM image im"));
    q.push(" WHERE im.barcode = ")
        .push_bind(barcode.to_string());
    q.push(" AND im.server_type = ")
        .push_bind(server_type.name());
    q.push(" ORDER BY im.id");
    q.build_query_as().fetch_all(pool).await
}
