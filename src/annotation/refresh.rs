//! The step after an annotation: re-running the insight importers of the product
//! (spec api-db §4.1 step 4 "Finally"), behind a trait so the importers plug in here.

use crate::types::ProductId;
use sqlx::PgPool;

/// Re-derives a product's non-annotated insights from its stored predictions.
#[async_trait::async_trait]
pub trait Refresh: Send + Sync {
    async fn refresh(&self, pool: &PgPool, product: &ProductId) -> Result<(), String>;
}

/// Does nothing (for tests of the annotation flow alone; the service uses
/// `actors::insight_importer::ImporterRefresh`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRefresh;

#[async_trait::async_trait]
impl Refresh for NoRefresh {
    async fn refresh(&self, _pool: &PgPool, _product: &ProductId) -> Result<(), String> {
        Ok(())
    }
}
