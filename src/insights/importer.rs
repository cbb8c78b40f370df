//! The importers (one per insight type, in Robotoff's order), what each takes, and what
//! an import run knows.

use super::resources::ImportResources;
use crate::types::{PredictionType, Product};
use chrono::{NaiveDateTime, TimeDelta};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// What an import run knows besides the predictions and existing insights.
#[derive(Debug, Clone, Copy)]
pub struct ImportContext<'a> {
    pub resources: &'a ImportResources,
    /// The product; `None` when it is missing from the product store.
    pub product: Option<&'a Product>,
    /// Nutrition-table detections of the product's images with a score of at least
    /// [`NUTRITION_TABLE_MIN_SCORE`], by source image (read by the nutrition-image importer).
    pub nutrition_tables: &'a HashMap<String, Vec<Value>>,
    /// Import time (UTC): timestamp of created and updated insights.
    pub now: NaiveDateTime,
    /// Delay before an automatically processable insight is applied.
    pub automatic_processing_wait: TimeDelta,
}

/// Minimum score of a nutrition-table detection used to crop nutrition images.
pub const NUTRITION_TABLE_MIN_SCORE: f64 = 0.8;

/// One importer per insight type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Importer {
    PackagerCode,
    Label,
    Category,
    ProductWeight,
    ExpirationDate,
    Brand,
    Store,
    Packaging,
    UpcImage,
    NutritionImage,
    IngredientSpellcheck,
    NutrientExtraction,
    ImageOrientation,
    IngredientDetection,
}

use PredictionType as P;

impl Importer {
    /// Every importer, in the order Robotoff runs them.
    pub const ORDER: [Importer; 14] = [
        Self::PackagerCode,
        Self::Label,
        Self::Category,
        Self::ProductWeight,
        Self::ExpirationDate,
        Self::Brand,
        Self::Store,
        Self::Packaging,
        Self::UpcImage,
        Self::NutritionImage,
        Self::IngredientSpellcheck,
        Self::NutrientExtraction,
        Self::ImageOrientation,
        Self::IngredientDetection,
    ];

    /// The type of the insights it produces.
    pub fn insight_type(self) -> PredictionType {
        match self {
            Self::PackagerCode => P::PackagerCode,
            Self::Label => P::Label,
            Self::Category => P::Category,
            Self::ProductWeight => P::ProductWeight,
            Self::ExpirationDate => P::ExpirationDate,
            Self::Brand => P::Brand,
            Self::Store => P::Store,
            Self::Packaging => P::Packaging,
            Self::UpcImage => P::IsUpcImage,
            Self::NutritionImage => P::NutritionImage,
            Self::IngredientSpellcheck => P::IngredientSpellcheck,
            Self::NutrientExtraction => P::NutrientExtraction,
            Self::ImageOrientation => P::ImageOrientation,
            Self::IngredientDetection => P::IngredientDetection,
        }
    }

    /// Prediction types that must be among the new (or stored) predictions for the
    /// importer to run.
    pub fn required_types(self) -> &'static [PredictionType] {
        match self {
            Self::NutritionImage => &[P::NutrientMention, P::ImageOrientation],
            Self::PackagerCode => &[P::PackagerCode],
            Self::Label => &[P::Label],
            Self::Category => &[P::Category],
            Self::ProductWeight => &[P::ProductWeight],
            Self::ExpirationDate => &[P::ExpirationDate],
            Self::Brand => &[P::Brand],
            Self::Store => &[P::Store],
            Self::Packaging => &[P::Packaging],
            Self::UpcImage => &[P::IsUpcImage],
            Self::IngredientSpellcheck => &[P::IngredientSpellcheck],
            Self::NutrientExtraction => &[P::NutrientExtraction],
            Self::ImageOrientation => &[P::ImageOrientation],
            Self::IngredientDetection => &[P::IngredientDetection],
        }
    }

    /// Prediction types the importer reads (its required types and optional extras).
    pub fn input_types(self) -> &'static [PredictionType] {
        match self {
            Self::NutritionImage => &[P::Nutrient, P::NutrientMention, P::ImageOrientation],
            Self::NutrientExtraction => &[
                P::NutrientExtraction,
                P::ImageOrientation,
                P::NutrientMention,
            ],
            Self::IngredientDetection => &[P::IngredientDetection, P::ImageOrientation],
            other => other.required_types(),
        }
    }

    /// The importer of an insight type, if that type has one.
    pub fn for_insight_type(kind: PredictionType) -> Option<Importer> {
        Self::ORDER.into_iter().find(|i| i.insight_type() == kind)
    }
}

/// The importers to run, in order, when predictions of `types` were added (or, for a
/// refresh, are stored): those whose required types are all present.
pub fn importers_for(types: &HashSet<PredictionType>) -> Vec<Importer> {
    Importer::ORDER
        .into_iter()
        .filter(|i| i.required_types().iter().all(|t| types.contains(t)))
        .collect()
}
