//! The changes an annotation sends to Product Opener, described as data so that the
//! decision (annotation, pure) and the sending (the Product Opener client) stay apart.

use crate::text::py_float;
use serde::{Deserialize, Serialize};

/// One write to Product Opener for a product. Credentials are added when it is sent.
/// Stored as JSON in the edit outbox until Product Opener has answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A box in absolute pixels of the full image: (y_min, x_min, y_max, x_max). Stored
/// with its numbers as text, so that a queued edit sends exactly the numbers planned.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropBox {
    #[serde(with = "exact_f64")]
    pub y_min: f64,
    #[serde(with = "exact_f64")]
    pub x_min: f64,
    #[serde(with = "exact_f64")]
    pub y_max: f64,
    #[serde(with = "exact_f64")]
    pub x_max: f64,
}

/// An `f64` as its shortest round-trip text (JSON numbers may not parse back exactly).
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_crops_keep_every_digit() {
        let edit = ProductEdit::SelectImage(SelectImage {
            image_id: "2".into(),
            image_key: "nutrition_fr".into(),
            angle: Some(90),
            crop: Some(CropBox::new(
                202.98996567726135,
                1164.435088634491,
                990.9706115722656,
                1876.0185241699219,
            )),
            comment: "c".into(),
        });
        let json = serde_json::to_string(&edit).unwrap_or_default();
        let back: Option<ProductEdit> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(edit));
    }
}
