//! Read queries on `logo_annotation` (joined with its image prediction and image) for
//! the `/images/logos*` and `/annotation/collection` endpoints and the product audit.

use super::rows::{LogoRow, LOGO_JOIN_COLUMNS, LOGO_JOIN_FROM};
use crate::types::ServerType;
use sqlx::{PgPool, Postgres, QueryBuilder};

fn select() -> QueryBuilder<Postgres> {
    QueryBuilder::new(format!("SELECT {LOGO_JOIN_COLUMNS}{LOGO_JOIN_FROM}"))
}

/// Logos with these ids whose image is not deleted.
pub async fn by_ids(pool: &PgPool, ids: &[i32]) -> Result<Vec<LogoRow>, sqlx::Error> {
    let mut q = select();
    q.push(" WHERE l.id = ANY(")
        .push_bind(ids.to_vec())
        .push(")");
    q.push(" AND im.deleted = false ORDER BY l.id");
    q.build_query_as().fetch_all(pool).await
}

/// One logo, whatever its image.
pub async fn get(pool: &PgPool, id: i32) -> Result<Option<LogoRow>, sqlx::Error> {
    let mut q = select();
    q.push(" WHERE l.id = ").push_bind(id);
    q.build_query_as().fetch_optional(pool).await
}

/// Filters of `/images/logos/search`.
#[derive(Debug, Clone)]
pub struct LogoSearch {
    pub server_type: ServerType,
    pub annotated: Option<bool>,
    pub min_confidence: Option<f64>,
    pub barcode: Option<String>,
    pub kind: Option<String>,
    pub value_tag: Option<String>,
    pub taxonomy_value: Option<String>,
    pub random: bool,
}

impl LogoSearch {
    fn push_where(&self, q: &mut QueryBuilder<Postgres>) {
        q.push(" WHERE im.server_type = ")
            .push_bind(self.server_type.name());
        q.push(" AND im.deleted = false");
        match self.annotated {
            Some(true) => {
                q.push(" AND l.annotation_value IS NOT NULL");
            }
            Some(false) => {
                q.push(" AND l.annotation_value IS NULL");
            }
            None => {}
        }
        if let Some(v) = self.min_confidence {
            q.push(" AND l.score >= ").push_bind(v);
        }
        if let Some(v) = &self.barcode {
            q.push(" AND im.barcode = ").push_bind(v.clone());
        }
        if let Some(v) = &self.kind {
            q.push(" AND l.annotation_type = ").push_bind(v.clone());
        }
        if let Some(v) = &self.value_tag {
            q.push(" AND l.annotation_value_tag = ")
                .push_bind(v.clone());
        }
        if let Some(v) = &self.taxonomy_value {
            q.push(" AND l.taxonomy_value = ").push_bind(v.clone());
        }
    }
}

/// Up to `limit` matching logos and the number of matching logos.
pub async fn search(
    pool: &PgPool,
    s: &LogoSearch,
    limit: i64,
) -> Result<(Vec<LogoRow>, i64), sqlx::Error> {
    let mut q = select();
    s.push_where(&mut q);
    if s.random {
        q.push(" ORDER BY random()");
    }
    q.push(" LIMIT ").push_bind(limit);
    let rows = q.build_query_as().fetch_all(pool).await?;
    let mut c = QueryBuilder::new(format!("SELECT count(*){LOGO_JOIN_FROM}"));
    s.push_where(&mut c);
    let total = c.build_query_scalar().fetch_one(pool).await?;
    Ok((rows, total))
}

/// Filters of `/annotation/collection`.
#[derive(Debug, Clone)]
pub struct LogoCollection {
    pub server_type: ServerType,
    pub barcode: Option<String>,
    pub types: Option<Vec<String>>,
    pub value_tag: Option<String>,
}

impl LogoCollection {
    fn push_where(&self, q: &mut QueryBuilder<Postgres>) {
        q.push(" WHERE im.server_type = ")
            .push_bind(self.server_type.name());
        q.push(" AND im.deleted = false");
        if let Some(v) = &self.barcode {
            q.push(" AND l.barcode = ").push_bind(v.clone());
        }
        if let Some(v) = &self.value_tag {
            q.push(" AND l.annotation_value_tag = ")
                .push_bind(v.clone());
        }
        if let Some(v) = self.types.as_ref().filter(|t| !t.is_empty()) {
            q.push(" AND l.annotation_type = ANY(")
                .push_bind(v.clone())
                .push(")");
        }
    }
}

/// A page of logos, newest image prediction first.
pub async fn collection(
    pool: &PgPool,
    c: &LogoCollection,
    limit: i64,
    offset: i64,
) -> Result<Vec<LogoRow>, sqlx::Error> {
    let mut q = select();
    c.push_where(&mut q);
    q.push(" ORDER BY ip.id DESC, l.id LIMIT ").push_bind(limit);
    q.push(" OFFSET ").push_bind(offset);
    q.build_query_as().fetch_all(pool).await
}

/// Number of logos of the collection, at most `cap`.
pub async fn collection_count(
    pool: &PgPool,
    c: &LogoCollection,
    cap: i64,
) -> Result<i64, sqlx::Error> {
    let mut q = QueryBuilder::new(format!("SELECT count(*) FROM (SELECT 1{LOGO_JOIN_FROM}"));
    c.push_where(&mut q);
    q.push(" LIMIT ").push_bind(cap).push(") AS matching");
    q.build_query_scalar().fetch_one(pool).await
}

/// Every logo of a product's images.
pub async fn of_product(
    pool: &PgPool,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<LogoRow>, sqlx::Error> {
    let mut q = select();
    q.push(" WHERE im.barcode = ")
        .push_bind(barcode.to_string());
    q.push(" AND im.server_type = ")
        .push_bind(server_type.name());
    q.push(" ORDER BY l.id");
    q.build_query_as().fetch_all(pool).await
}
