//! Categories from protected designations of origin (AOC / AOP mentions).

use super::content::OcrContent;
use super::resources::OcrResources;
use crate::types::Prediction;

/// Category predictions of the content.
pub fn find_category(_content: &OcrContent<'_>, _res: &OcrResources) -> Vec<Prediction> {
    Vec::new()
}
