//! The step after an annotation: the product's non-annotated insights are recomputed
//! from its stored predictions, in a transaction of their own (spec api-db §4.1 step 4
//! "Finally").

use crate::config::Settings;
use crate::insights::import::{refresh_product, Importing};
use crate::types::ProductId;
use sqlx::PgPool;

/// Re-runs the insight importers of `product` and commits.
pub async fn refresh(
    pool: &PgPool,
    settings: &Settings,
    product: &ProductId,
) -> Result<(), String> {
    let importing = Importing::from_settings(settings)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    refresh_product(&mut tx, &importing, &product.barcode, product.server_type)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}
