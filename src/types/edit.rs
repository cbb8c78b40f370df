//! The changes an annotation sends to Product Opener, described as data so that the
//! decision (annotation, pure) and the sending (the Product Opener client) stay apart.

use crate::text::py_float;

/// One write to Product Opener for a product. Credentials are added when it is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum ProductEdit {
    /// `POST /cgi/product_jqm2.pl` with these form fields (`code` and `comment` included).
    UpdateFields(Vec<(String, String)>),
    /// `PATCH /api/v3/product/{code}` with this JSON body.
    PatchProduct(serde_json::Value),
    /// `POST /cgi/product_image_crop.pl`: select (and rotate, crop) an uploaded image.
    SelectImage(SelectImage),
    /// `POST /cgi/product_image_unselect.pl`: unselect `image_key` (`front_fr`).
    UnselectImage { image_key: String },
}

/// Selecting uploaded image `image_id` as `image_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectImage {
    pub image_id: String,
    pub image_key: String,
    /// Rotation in degrees (90, 180, 270); `None` or 0 sends no angle.
    pub angle: Option<i64>,
    pub crop: Option<CropBox>,
    pub comment: String,
}

impl ProductEdit {
    /// Short name of the edit, for logs and errors.
    pub fn label(&self) -> &'static str {
        match self {
            Self::UpdateFields(_) => "product update",
            Self::PatchProduct(_) => "product patch",
            Self::SelectImage(_) => "image selection",
            Self::UnselectImage { .. } => "image unselection",
        }
    }
}

/// A box in absolute pixels of the full image: (y_min, x_min, y_max, x_max).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    pub y_min: f64,
    pub x_min: f64,
    pub y_max: f64,
    pub x_max: f64,
}

impl CropBox {
    pub fn new(y_min: f64, x_min: f64, y_max: f64, x_max: f64) -> Self {
        CropBox {
            y_min,
            x_min,
            y_max,
            x_max,
        }
    }

    /// Form fields `x1`, `y1`, `x2`, `y2` as Product Opener reads them.
    pub fn form_fields(&self) -> [(&'static str, String); 4] {
        [
            ("x1", py_float(self.x_min)),
            ("y1", py_float(self.y_min)),
            ("x2", py_float(self.x_max)),
            ("y2", py_float(self.y_max)),
        ]
    }
}
