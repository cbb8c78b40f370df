//! The model catalogue: Robotoff's object-detection models (spec pipeline §7.3), the
//! tensor names of the YOLO and CLIP Triton models (§7.2) and CLIP's preprocessing
//! constants (§7.4).

/// Detection threshold the import pipeline passes for every detector, overriding the
/// model's own default (spec pipeline §2.7).
pub const PIPELINE_THRESHOLD: f32 = 0.1;

/// IoU threshold of the non-maximum suppression when none is given (spec pipeline §7.3).
pub const DEFAULT_NMS_THRESHOLD: f32 = 0.7;

/// NMS `eta` when none is given: 1.0 keeps the IoU threshold fixed.
pub const DEFAULT_NMS_ETA: f32 = 1.0;

/// Name of the YOLO input tensor, FP32 `[1, 3, size, size]`.
pub const YOLO_INPUT_NAME: &str = "images";

/// Name of the YOLO output tensor, FP32 `[1, 4 + labels, columns]`.
pub const YOLO_OUTPUT_NAME: &str = "output0";

/// Grey level of the letterbox padding.
pub const LETTERBOX_FILL: u8 = 114;

/// Triton name of the CLIP model.
pub const CLIP_MODEL_NAME: &str = "clip";

/// Side of CLIP's square input, and of the logo crops sent to it (spec pipeline §6.3).
pub const CLIP_IMAGE_SIZE: u32 = 224;

/// Per-channel (R, G, B) mean of CLIP's image normalisation.
pub const CLIP_MEAN: [f64; 3] = [0.48145466, 0.4578275, 0.40821073];

/// Per-channel (R, G, B) standard deviation of CLIP's image normalisation.
pub const CLIP_STD: [f64; 3] = [0.26862954, 0.26130258, 0.27577711];

/// The dummy text sent with every image: BOS, EOS token ids.
pub const CLIP_INPUT_IDS: [i64; 2] = [49406, 49407];

/// Most images in one CLIP request (the model's `max_batch_size`).
pub const CLIP_MAX_BATCH_SIZE: usize = 32;

/// Length of a CLIP image embedding.
pub const CLIP_EMBEDDING_DIM: usize = 512;

/// CLIP input tensor: FP32 `[B, 3, 224, 224]`.
pub const CLIP_PIXEL_VALUES_NAME: &str = "pixel_values";

/// CLIP input tensor: INT64 `[B, 2]`, all ones.
pub const CLIP_ATTENTION_MASK_NAME: &str = "attention_mask";

/// CLIP input tensor: INT64 `[B, 2]`, [`CLIP_INPUT_IDS`] per row.
pub const CLIP_INPUT_IDS_NAME: &str = "input_ids";

/// CLIP output tensor: FP32 `[B, 512]`.
pub const CLIP_OUTPUT_NAME: &str = "image_embeds";

/// An object-detection model served by Triton (spec pipeline §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectDetectionModel {
    Nutriscore,
    NutritionTable,
    UniversalLogoDetector,
    PriceTagDetection,
}

const NUTRISCORE_LABELS: [&str; 5] = [
    "nutriscore-a",
    "nutriscore-b",
    "nutriscore-c",
    "nutriscore-d",
    "nutriscore-e",
];

impl ObjectDetectionModel {
    /// Every model, in catalogue order.
    pub const ALL: [ObjectDetectionModel; 4] = [
        ObjectDetectionModel::Nutriscore,
        ObjectDetectionModel::NutritionTable,
        ObjectDetectionModel::UniversalLogoDetector,
        ObjectDetectionModel::PriceTagDetection,
    ];

    /// The name stored as `image_prediction.model_name`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nutriscore => "nutriscore",
            Self::NutritionTable => "nutrition_table",
            Self::UniversalLogoDetector => "universal_logo_detector",
            Self::PriceTagDetection => "price_tag_detection",
        }
    }

    /// The model's name on the Triton server.
    pub fn triton_name(self) -> &'static str {
        match self {
            Self::Nutriscore => "nutriscore",
            Self::NutritionTable => "nutrition_table",
            Self::UniversalLogoDetector => "universal_logo_detector_yolo",
            Self::PriceTagDetection => "price_tag_detection",
        }
    }

    /// The version stored as `image_prediction.model_version` (and as the
    /// `predictor_version` of the predictions derived from it).
    pub fn version(self) -> &'static str {
        match self {
            Self::Nutriscore => "yolo-nutriscore-1.0",
            Self::NutritionTable => "yolo-nutrition-table-1.0",
            Self::UniversalLogoDetector => "yolo-universal-logo-detector-1.0",
            Self::PriceTagDetection => "price-tag-detection-1.0",
        }
    }

    /// Side of the square model input in pixels.
    pub fn image_size(self) -> u32 {
        match self {
            Self::PriceTagDetection => 960,
            _ => 640,
        }
    }

    /// Class labels, in the order of the model's class rows.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Self::Nutriscore => &NUTRISCORE_LABELS,
            Self::NutritionTable => &["nutrition-table"],
            Self::UniversalLogoDetector => &["object"],
            Self::PriceTagDetection => &["price-tag"],
        }
    }

    /// Threshold used when a caller gives none (the API); the import pipeline passes
    /// [`PIPELINE_THRESHOLD`] instead.
    pub fn default_threshold(self) -> f32 {
        match self {
            Self::Nutriscore | Self::NutritionTable => 0.5,
            Self::UniversalLogoDetector | Self::PriceTagDetection => 0.25,
        }
    }

    /// Rows of the model output: 4 box coordinates, then one score per label.
    pub fn output_rows(self) -> usize {
        4 + self.labels().len()
    }

    /// Candidate boxes (columns) of the model output: one per cell of the 8, 16 and 32
    /// pixel grids (8400 at 640 px, 18900 at 960 px).
    pub fn output_columns(self) -> usize {
        let s = self.image_size() as usize;
        (s / 8).pow(2) + (s / 16).pow(2) + (s / 32).pow(2)
    }

    /// The model whose [`name`](Self::name) is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The `value_tag` of the Nutri-Score label prediction for a detected class
/// (`nutriscore-a` → `en:nutriscore-grade-a`, spec pipeline §2.7).
pub fn nutriscore_label_tag(label: &str) -> Option<&'static str> {
    match label {
        "nutriscore-a" => Some("en:nutriscore-grade-a"),
        "nutriscore-b" => Some("en:nutriscore-grade-b"),
        "nutriscore-c" => Some("en:nutriscore-grade-c"),
        "nutriscore-d" => Some("en:nutriscore-grade-d"),
        "nutriscore-e" => Some("en:nutriscore-grade-e"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in ObjectDetectionModel::ALL {
            assert_eq!(ObjectDetectionModel::from_name(m.name()), Some(m));
        }
        assert_eq!(
            ObjectDetectionModel::from_name("universal_logo_detector_yolo"),
            None
        );
        assert_eq!(ObjectDetectionModel::from_name(""), None);
    }

    #[test]
    fn catalogue_matches_the_triton_configs() {
        use ObjectDetectionModel::*;
        assert_eq!(
            UniversalLogoDetector.triton_name(),
            "universal_logo_detector_yolo"
        );
        assert_eq!(Nutriscore.version(), "yolo-nutriscore-1.0");
        assert_eq!(Nutriscore.output_rows(), 9);
        assert_eq!(NutritionTable.output_rows(), 5);
        assert_eq!(Nutriscore.output_columns(), 8400);
        assert_eq!(PriceTagDetection.image_size(), 960);
        assert_eq!(PriceTagDetection.output_columns(), 18900);
        assert_eq!(UniversalLogoDetector.default_threshold(), 0.25);
        assert_eq!(NutritionTable.default_threshold(), 0.5);
    }

    #[test]
    fn nutriscore_labels_map_to_grade_tags() {
        let tags: Vec<_> = ObjectDetectionModel::Nutriscore
            .labels()
            .iter()
            .map(|l| nutriscore_label_tag(l))
            .collect();
        assert_eq!(
            tags,
            vec![
                Some("en:nutriscore-grade-a"),
                Some("en:nutriscore-grade-b"),
                Some("en:nutriscore-grade-c"),
                Some("en:nutriscore-grade-d"),
                Some("en:nutriscore-grade-e"),
            ]
        );
        assert_eq!(nutriscore_label_tag("nutriscore-f"), None);
        assert_eq!(nutriscore_label_tag("object"), None);
    }
}
