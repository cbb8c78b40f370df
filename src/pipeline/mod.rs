//! What each job kind does: plain async functions over the job's transaction (an
//! uploaded image, OCR insights, an edited, deleted or moved product), and the runner
//! that commits a job's effects with its completion. Actors call into this module; it
//! uses the domain modules (`insights`, `ocr`, `events`, `ann`) and `infra`, never `actors`.

pub mod category;
mod category_job;
pub mod context;
mod edits;
mod image;
pub mod ingredients;
pub mod job;
pub mod logo_annotations;
pub mod logos;
pub mod model_step;
pub mod models;
pub mod nutrition;
mod ocr_fetch;
mod product;
pub mod runner;
mod text_steps;

pub use context::{Context, JobResources, ResourcesError};
pub use job::{Effects, JobError};
pub use runner::{commit_model_step, record_failure, run, JobOutcome, JobRun};
