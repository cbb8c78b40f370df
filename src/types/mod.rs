//! Domain vocabulary shared by every layer: server types, prediction and insight types,
//! and the `Prediction` value produced by extractors and models.

mod prediction;
mod server_type;

pub use prediction::{Prediction, PredictionType, UnknownPredictionType};
pub use server_type::{ServerType, UnknownServerType};
