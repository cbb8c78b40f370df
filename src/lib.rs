//! Robotoff: predictions, insights and questions from Open Food Facts product photos.
//!
//! Dependencies point one way: `http` → `actors` → `infra` → domain modules
//! (`types`, `ocr`, `taxonomy`, ...), which do no I/O of their own.

pub mod cli;
pub mod ocr;
pub mod taxonomy;
pub mod text;
pub mod types;
