//! Packaging elements (shape, material, recycling) from the French packaging grammar.

use super::content::OcrContent;
use super::resources::OcrResources;
use crate::types::Prediction;

/// Packaging predictions of the content.
pub fn find_packaging(_content: &OcrContent<'_>, _res: &OcrResources) -> Vec<Prediction> {
    Vec::new()
}
