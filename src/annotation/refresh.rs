//! The step after an annotation: re-running the insight importers of the product
//! (spec api-db §4.1 step 4 "Finally"), behind a trait so the importers plug in here.

use crate::types::ProductId;
use sqlx::PgPool;
use std::sync::Arc;

/// Re-derives a product's non-annotated insights from its stored predictions.
#[async_trait::async_trait]
pub trait Refresh: Send + Sync {
    async fn refresh(&self, pool: &PgPool, product: &ProductId) -> Result<(), String>;
}

/// Does nothing (until the insight importers provide `refresh_insights`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRefresh;

#[async_trait::async_trait]
impl Refresh for NoRefresh {
    async fn refresh(&self, _pool: &PgPool, _product: &ProductId) -> Result<(), String> {
        Ok(())
    }
}

/// The refresh product shards run after each annotation.
pub fn installed() -> Arc<dyn Refresh> {
    Arc::new(NoRefresh)
}
