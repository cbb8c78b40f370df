//! OCR prediction extraction from Google Cloud Vision documents.

pub mod packaging;
