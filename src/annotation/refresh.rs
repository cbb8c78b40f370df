//! The step after an annotation: the product's non-annotated insights are recomputed
//! from its stored predictions, in a transaction of their own (spec api-db §4.1 step 4
//! "Finally"). A product missing from the store is looked up on Product Opener first:
//! its insights are deleted for being without a product only when Product Opener says
//! it does not exist.

use crate::config::Settings;
use crate::infra::db::products;
use crate::infra::product_opener::ProductOpener;
use crate::insights::import::{refresh_product, Importing};
use crate::types::ProductId;
use sqlx::PgPool;

/// Re-runs the insight importers of `product` and commits. `missing_on_po`: Product
/// Opener was just asked and does not have the product.
pub async fn refresh(
    pool: &PgPool,
    po: &ProductOpener,
    settings: &Settings,
    product: &ProductId,
    missing_on_po: bool,
) -> Result<(), String> {
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    let stored = products::get(&mut conn, &product.barcode, product.server_type)
        .await
        .map_err(|e| e.to_string())?;
    drop(conn);
    if stored.is_none() && !missing_on_po {
        match po.get_product(&product.barcode, product.server_type).await {
            Ok(Some(fetched)) => {
                products::upsert_many(pool, std::slice::from_ref(&fetched))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(None) => {}
            Err(e) => {
                return Err(format!(
                    "the product is not in the store and Product Opener could not say whether it exists ({e}); insights left as they are"
                ))
            }
        }
    }
    let importing = Importing::from_settings(settings)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    refresh_product(&mut tx, &importing, &product.barcode, product.server_type)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}
