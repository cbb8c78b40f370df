//! Insight import: the pure logic that turns a product's predictions into the insights
//! to create, update and delete, one importer per insight type, in Robotoff's order.
//!
//! The importers are pure: given the product, its predictions and its existing insights,
//! [`generate_insights`] computes an [`InsightDiff`]. [`import`] runs them against the
//! database in the caller's transaction. May use `infra`, `ocr`, `taxonomy`, `types`.

mod candidate;
mod category;
mod diff;
pub mod image;
pub mod import;
mod ingredients;
mod label;
mod nutrient_extraction;
mod nutrition_image;
mod packaging;
pub mod predictions;
mod resources;
mod rules;
mod simple;
mod visual;

pub use candidate::{cmp_candidates, cmp_predictions, is_reserved_barcode, Candidate, InsightView};
pub use diff::{generate_insights, select_updates, InsightDiff, Selection};
pub use resources::ImportResources;
pub use simple::is_brand_prediction_valid;
mod error;
mod importer;
pub use error::InsightError;
pub use importer::{importers_for, ImportContext, Importer, NUTRITION_TABLE_MIN_SCORE};

#[cfg(test)]
mod tests;
