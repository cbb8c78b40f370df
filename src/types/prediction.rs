//! A prediction: one raw fact extracted from an image, its OCR or a product field.

use super::ServerType;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! prediction_types {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// The 21 prediction / insight types, with Robotoff's string values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
        pub enum PredictionType {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl PredictionType {
            pub const ALL: &'static [PredictionType] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)+ }
            }
        }

        impl FromStr for PredictionType {
            type Err = UnknownPredictionType;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(UnknownPredictionType(other.to_string())),
                }
            }
        }
    };
}

prediction_types! {
    IngredientSpellcheck => "ingredient_spellcheck",
    PackagerCode => "packager_code",
    Label => "label",
    Category => "category",
    ImageFlag => "image_flag",
    ProductWeight => "product_weight",
    ExpirationDate => "expiration_date",
    Brand => "brand",
    ImageOrientation => "image_orientation",
    Store => "store",
    Nutrient => "nutrient",
    Trace => "trace",
    PackagingText => "packaging_text",
    Packaging => "packaging",
    Location => "location",
    NutrientMention => "nutrient_mention",
    ImageLang => "image_lang",
    NutritionImage => "nutrition_image",
    IsUpcImage => "is_upc_image",
    NutrientExtraction => "nutrient_extraction",
    IngredientDetection => "ingredient_detection",
}

impl fmt::Display for PredictionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown prediction type: {0:?}")]
pub struct UnknownPredictionType(pub String);

/// A prediction as Robotoff serialises it: every field is written (absent ones as
/// `null`), in Robotoff's order, and `server_type` defaults to `off`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    #[serde(rename = "type")]
    pub kind: PredictionType,
    #[serde(default = "empty_object")]
    pub data: serde_json::Value,
    #[serde(default)]
    pub value_tag: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub automatic_processing: Option<bool>,
    #[serde(default)]
    pub predictor: Option<String>,
    #[serde(default)]
    pub predictor_version: Option<String>,
    #[serde(default)]
    pub barcode: Option<String>,
    #[serde(default)]
    pub timestamp: Option<NaiveDateTime>,
    #[serde(default)]
    pub source_image: Option<String>,
    #[serde(default)]
    pub id: Option<i32>,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default = "default_server_type")]
    pub server_type: ServerType,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn default_server_type() -> ServerType {
    ServerType::Off
}

impl Prediction {
    /// A prediction of `kind` with empty data, every optional field unset and server
    /// type `off`.
    pub fn new(kind: PredictionType) -> Self {
        Self {
            kind,
            data: empty_object(),
            value_tag: None,
            value: None,
            automatic_processing: None,
            predictor: None,
            predictor_version: None,
            barcode: None,
            timestamp: None,
            source_image: None,
            id: None,
            confidence: None,
            server_type: ServerType::Off,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        assert_eq!(PredictionType::ALL.len(), 21);
        for t in PredictionType::ALL {
            assert_eq!(t.as_str().parse::<PredictionType>(), Ok(*t));
        }
        assert!("nope".parse::<PredictionType>().is_err());
    }

    #[test]
    fn serialises_every_field_in_robotoff_order() {
        let json =
            serde_json::to_string(&Prediction::new(PredictionType::Label)).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"type":"label","data":{},"value_tag":null,"value":null,"automatic_processing":null,"predictor":null,"predictor_version":null,"barcode":null,"timestamp":null,"source_image":null,"id":null,"confidence":null,"server_type":"off"}"#
        );
    }
}
