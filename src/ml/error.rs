//! The error of image pre- and post-processing.

/// Why an image or a model output could not be processed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MlError {
    #[error("the image is empty ({width}×{height} pixels)")]
    EmptyImage { width: u32, height: u32 },
    #[error(
        "the image ({width}×{height}) is too thin: its short side shrinks to 0 pixels at {size}"
    )]
    TooThin { width: u32, height: u32, size: u32 },
    #[error("invalid model input size {0}")]
    InvalidSize(u32),
    #[error("unexpected model output: {0}")]
    Output(String),
    #[error("invalid non-maximum suppression parameters: {0}")]
    Nms(String),
    #[error("invalid bounding box: {0}")]
    InvalidBox(String),
    #[error("the bounding box {0:?} selects no pixel")]
    EmptyCrop([f64; 4]),
    #[error("CLIP takes 224×224 images, not {width}×{height}")]
    ClipInputSize { width: u32, height: u32 },
}
