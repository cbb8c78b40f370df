//! Pre- and post-processing of Robotoff's Triton models, as the reference does it.
//!
//! Images, bit for bit as the Open Food Facts SDK 3.4.5 with OpenCV 4.12, albumentations
//! 2.0.8 and transformers' `CLIPImageProcessor`:
//!
//! * [`models`]: the object-detection model catalogue, tensor names and CLIP constants
//!   (spec pipeline §7.2, §7.3, §7.4);
//! * [`letterbox`]: the YOLO input — resize, pad with grey, scale to [0, 1], CHW
//!   (spec pipeline §7.3);
//! * [`yolo`]: `output0` decoding and OpenCV's non-maximum suppression (§7.3);
//! * [`clip`]: logo crops and the CLIP input tensors (§6.3, §7.4);
//! * [`draw`]: boxes drawn on the image for the prediction API.
//!
//! Text (spec pipeline §2.8, §7.5):
//!
//! * [`tokenize`]: Hugging Face tokenizers from a model directory;
//! * [`token_classification`]: the token-classification aggregation strategies;
//! * [`ingredient_mentions`]: organic and allergen-trace mentions after ingredient lists;
//! * [`layoutlm`], [`nutrition_post`]: the nutrition extractor's inputs and nutrients;
//! * [`langid`]: language identification.
//!
//! Pure: no I/O besides reading model files, no async, no database. Input from users and
//! from the network (empty or extreme images, malformed model outputs) gives errors,
//! never panics.

pub mod clip;
pub mod draw;
mod error;
pub mod ingredient_mentions;
pub mod langid;
pub mod layoutlm;
pub mod letterbox;
pub mod models;
pub mod nutrition_post;
mod resize;
pub mod token_classification;
pub mod tokenize;
pub mod yolo;

pub use clip::{logo_crop_224, logo_crop_rect, ClipBatch, CropRect};
pub use error::MlError;
pub use letterbox::{letterbox, BoxGeometry, LetterboxGeometry, Letterboxed};
pub use models::ObjectDetectionModel;
pub use yolo::{decode, DetectedObject, NmsBoxOrder, PostprocessOptions};
