//! Domain vocabulary shared by every layer: server types, prediction and insight types,
//! the `Prediction` produced by extractors and models, the `Insight` built from them,
//! the `Product` they are checked against, and the edits sent to Product Opener. Uses
//! only `text`.

mod edit;
mod insight;
mod prediction;
mod product;
mod server_type;
mod urls;
mod vote;

pub use edit::{CropBox, ProductEdit, SelectImage};
pub use insight::Insight;
pub use prediction::{Prediction, PredictionType, UnknownPredictionType};
pub use product::{is_digit_id, Product, DEFAULT_SCHEMA_VERSION};
pub use server_type::{ServerType, UnknownServerType};
pub use urls::{
    barcode_path, image_id_of, image_path, image_url, images_url, ocr_path, ocr_url, split_barcode,
    InvalidBarcode, ProductId,
};
pub use vote::VoteCount;
