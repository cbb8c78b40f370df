//! OCR prediction extraction: Cloud Vision documents (or plain text) in, predictions out,
//! one extractor per prediction type, run in Robotoff's order. Pure: data files are read
//! through [`OcrResources`]. Uses `taxonomy`, `text`, `types`.

pub mod brand;
pub mod category;
pub mod content;
pub mod corpus;
pub mod data_files;
pub mod document;
pub mod expiration_date;
mod extract;
pub mod image_flag;
pub mod image_lang;
pub mod image_orientation;
pub mod keywords;
pub mod label;
pub mod location;
pub mod nutrient;
pub mod packager_code;
pub mod packaging;
pub mod pattern;
pub mod product_weight;
pub mod resources;
pub mod store;
pub mod trace;

pub use content::OcrContent;
pub use data_files::ResourceError;
pub use document::{OcrDocument, OcrField, OcrParseError};
pub use extract::{
    extract, extract_from_bytes, extract_one, prepare, ExtractError, DEFAULT_OCR_PREDICTION_TYPES,
    OCR_PREDICTION_TYPES,
};
pub use resources::OcrResources;
