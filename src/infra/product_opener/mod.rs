//! Product Opener client: product reads (API v2/v3) and every write Robotoff makes
//! (form updates, v3 patches, image selection), over one shared HTTP connection pool.
//! Edits arrive as `types::ProductEdit` values decided by `annotation`.

mod error;
mod images_schema;
mod ingredients;
mod product_json;
mod reads;
mod refresh;
mod writes;

pub use auth::Verdict;
pub use error::PoError;
pub use images_schema::to_legacy_images;
pub use product_json::{parse_product, parse_product_value, ProductJsonError};
pub use refresh::{refresh_product, RefreshError, Refreshed};
mod auth;
mod client;
pub use client::{
    Credentials, ProductOpener, CROP_TIMEOUT, PRODUCT_TYPE_TIMEOUT, READ_TIMEOUT, USER_AGENT,
    WRITE_TIMEOUT,
};
