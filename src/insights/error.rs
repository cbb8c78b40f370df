//! Errors of the import logic.

use crate::types::PredictionType;

/// Errors of the import logic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InsightError {
    #[error("the {importer} importer does not take {kind} predictions")]
    UnexpectedType {
        importer: PredictionType,
        kind: PredictionType,
    },
    #[error("predictions of several products given to one import: {0:?}")]
    SeveralProducts(Vec<String>),
    #[error("{0}")]
    Resource(String),
}
