//! Domain vocabulary shared by every layer: server types, prediction and insight types,
//! the `Prediction` produced by extractors and models, the `Insight` built from them,
//! and the `Product` they are checked against.

mod insight;
mod prediction;
mod product;
mod server_type;

pub use insight::Insight;
pub use prediction::{Prediction, PredictionType, UnknownPredictionType};
pub use product::{is_digit_id, Product, DEFAULT_SCHEMA_VERSION};
pub use server_type::{ServerType, UnknownServerType};
