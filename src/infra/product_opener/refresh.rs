//! Refreshing one product of the product store from Product Opener.

use super::{PoError, ProductOpener};
use crate::infra::db::products;
use crate::types::ServerType;
use sqlx::PgPool;

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// The product was fetched and stored.
    Stored,
    /// Product Opener does not have it: removed from the store (`existed`: it was there).
    Removed { existed: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    ProductOpener(#[from] PoError),
    #[error("storing product {barcode} ({server_type}): {source}")]
    Db {
        barcode: String,
        server_type: ServerType,
        #[source]
        source: sqlx::Error,
    },
}

/// Fetches the product from Product Opener's API and stores it; a product Product
/// Opener does not know is removed from the store. Run it inside the product's shard.
pub async fn refresh_product(
    po: &ProductOpener,
    pool: &PgPool,
    barcode: &str,
    server_type: ServerType,
) -> Result<Refreshed, RefreshError> {
    let db_err = |source| RefreshError::Db {
        barcode: barcode.to_string(),
        server_type,
        source,
    };
    match po.get_product(barcode, server_type).await? {
        Some(product) => {
            products::upsert_many(pool, std::slice::from_ref(&product))
                .await
                .map_err(db_err)?;
            Ok(Refreshed::Stored)
        }
        None => {
            let existed = products::delete(pool, barcode, server_type)
                .await
                .map_err(db_err)?;
            Ok(Refreshed::Removed { existed })
        }
    }
}
