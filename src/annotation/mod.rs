//! Annotation: turning a user's (or Robotoff's) answer to an insight into a saved
//! annotation and Product Opener edits. The decisions (votes, data checks, per-type
//! annotators, payloads, crops, comments) are pure and live in the submodules; `run`
//! drives them against the database and Product Opener. May use `insights`, `infra`,
//! `types`, `text`.

pub mod annotators;
pub mod comment;
pub mod crop;
pub mod data;
pub mod edits;
pub mod logos;
pub mod nutrients;
pub mod refresh;
pub mod request;
pub mod run;
pub mod status;
pub mod votes;

pub use crate::types::{ProductEdit, SelectImage};
pub use request::{AnnotateRequest, Auth, Caller, RequestError};
pub use run::{annotate, AnnotateContext, AnnotateError};
pub use status::{AnnotateOutcome, AnnotationStatus};
