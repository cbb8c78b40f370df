//! The Google Cloud Vision OCR document: pages, blocks, paragraphs, words and symbols with
//! their text offsets and polygons, plus the image annotations (logos, labels, faces).

mod geometry;
mod parse;

pub use geometry::{number, BoundingBox, BoundingPoly, Orientation};
pub use parse::{OcrParseError, MAX_DOCUMENT_BYTES};
mod model;
pub use model::{
    Block, BreakType, DetectedBreak, DetectedLanguage, FaceAnnotation, FullTextAnnotation,
    ImageAnnotation, Likelihood, OcrDocument, OcrField, OrientationResult, Page, Paragraph,
    SafeSearchAnnotation, Symbol, TextAnnotation, Word,
};
