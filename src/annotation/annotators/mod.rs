//! Per-type annotators (spec api-db §4.3): given an insight, the product as stored and
//! the user's data, decide the result, the Product Opener edits and the insight change.
//! Pure: everything they read is passed in.

mod images;
mod tags;
#[cfg(test)]
mod tests;
mod text;

use super::data::{self, ValidationErrors};
use super::nutrients::NutrientData;
use super::status::AnnotationStatus;
use crate::types::ProductEdit;
use crate::types::{Insight, PredictionType, Product};
use serde_json::{Map, Value};
use uuid::Uuid;

/// What an annotator reads besides the insight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// The product (from the product store).
    pub product: bool,
    /// The stored rotation and nutrition-table detections of the insight's image.
    pub image_facts: bool,
}

/// Facts about the insight's source image kept by earlier jobs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageFacts {
    /// `data.rotation` of the image's `image_orientation` prediction.
    pub rotation: Option<i64>,
    /// Objects of the image's `nutrition_table` detection (`label`, `score`,
    /// `bounding_box`), or `None` when the image was never run through the detector.
    pub nutrition_tables: Option<Vec<Value>>,
}

/// Everything an annotator decides from.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub insight: &'a Insight,
    /// `None`: the product is not known.
    pub product: Option<&'a Product>,
    /// The user's data (annotation 2), already validated with [`validate_data`].
    pub data: Option<&'a Value>,
    /// The annotation was settled by anonymous votes.
    pub is_vote: bool,
    /// No user is behind the change (votes, automatic processing): Robotoff's account.
    pub automatic: bool,
    pub facts: &'a ImageFacts,
}

/// New values of the insight columns an annotator may change.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightChange {
    pub data: Value,
    pub value_tag: Option<String>,
    pub value: Option<String>,
}

/// An annotator's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub status: AnnotationStatus,
    /// Sent to Product Opener in this order.
    pub edits: Vec<ProductEdit>,
    /// Saved with the annotation, whatever the result.
    pub change: Option<InsightChange>,
}

impl Plan {
    fn status(status: AnnotationStatus) -> Self {
        Plan {
            status,
            edits: Vec::new(),
            change: None,
        }
    }

    fn edits(status: AnnotationStatus, edits: Vec<ProductEdit>) -> Self {
        Plan {
            status,
            edits,
            change: None,
        }
    }

    fn with_change(mut self, change: Option<InsightChange>) -> Self {
        self.change = change;
        self
    }
}

/// Why an insight cannot be applied at all (nothing is saved).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("insights of type {0} cannot be annotated")]
    NoAnnotator(PredictionType),
    #[error("insight {id} cannot be applied: {reason}")]
    Invalid { id: Uuid, reason: String },
}

impl PlanError {
    fn invalid(insight: &Insight, reason: impl Into<String>) -> Self {
        PlanError::Invalid {
            id: insight.id,
            reason: reason.into(),
        }
    }
}

/// What the annotator of `kind` reads; `None` when the type has no annotator.
pub fn needs(kind: PredictionType, is_vote: bool) -> Option<Needs> {
    use PredictionType as T;
    let product = Needs {
        product: true,
        image_facts: false,
    };
    match kind {
        T::PackagerCode
        | T::Label
        | T::Category
        | T::ProductWeight
        | T::ExpirationDate
        | T::Brand
        | T::Store
        | T::Packaging
        | T::NutritionImage
        | T::IsUpcImage
        | T::ImageOrientation => Some(product),
        T::IngredientSpellcheck => Some(Needs::default()),
        T::NutrientExtraction if is_vote => Some(Needs::default()),
        T::NutrientExtraction => Some(Needs {
            product: true,
            image_facts: true,
        }),
        T::IngredientDetection if is_vote => Some(Needs::default()),
        T::IngredientDetection => Some(product),
        T::ImageFlag
        | T::Nutrient
        | T::Trace
        | T::PackagingText
        | T::Location
        | T::NutrientMention
        | T::ImageLang => None,
    }
}

/// Checks the user's `data` for an insight of `kind` (result 11 when invalid).
pub fn validate_data(kind: PredictionType, data: &Value) -> Result<(), ValidationErrors> {
    match kind {
        PredictionType::Category => data::category_body(data).map(|_| ()),
        PredictionType::IngredientSpellcheck | PredictionType::IngredientDetection => {
            data::ingredient_body(data).map(|_| ())
        }
        PredictionType::NutrientExtraction => NutrientData::parse(data).map(|_| ()),
        _ => Ok(()),
    }
}

/// Runs the annotator of the insight's type.
pub fn plan(t: &Target<'_>) -> Result<Plan, PlanError> {
    use PredictionType as T;
    match t.insight.kind {
        T::PackagerCode => tags::packager_code(t),
        T::Label => tags::label(t),
        T::Category => tags::category(t),
        T::ProductWeight => tags::product_weight(t),
        T::ExpirationDate => tags::expiration_date(t),
        T::Brand => tags::brand(t),
        T::Store => tags::store(t),
        T::Packaging => tags::packaging(t),
        T::NutritionImage => images::nutrition_image(t),
        T::IsUpcImage => images::upc_image(t),
        T::ImageOrientation => images::image_orientation(t),
        T::IngredientSpellcheck => text::ingredient_spellcheck(t),
        T::NutrientExtraction => text::nutrient_extraction(t),
        T::IngredientDetection => text::ingredient_detection(t),
        other => Err(PlanError::NoAnnotator(other)),
    }
}

/// `code` and `comment` form fields followed by `fields`.
fn form(t: &Target<'_>, comment: String, fields: &[(&str, &str)]) -> ProductEdit {
    let mut all = vec![
        ("code".to_string(), t.insight.barcode.clone()),
        ("comment".to_string(), comment),
    ];
    all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ProductEdit::UpdateFields(all)
}

/// Comment of an edit made for this insight.
fn comment(t: &Target<'_>, action: &str) -> String {
    super::comment::edit_comment(action, t.is_vote, t.automatic, Some(t.insight.id))
}

/// The insight's `data` as an object (stored data that is not one counts as empty).
fn data_object(insight: &Insight) -> Map<String, Value> {
    insight.data.as_object().cloned().unwrap_or_default()
}

fn change_data(insight: &Insight, data: Map<String, Value>) -> InsightChange {
    InsightChange {
        data: Value::Object(data),
        value_tag: insight.value_tag.clone(),
        value: insight.value.clone(),
    }
}

fn required<'a>(
    insight: &Insight,
    value: &'a Option<String>,
    field: &str,
) -> Result<&'a str, PlanError> {
    value
        .as_deref()
        .ok_or_else(|| PlanError::invalid(insight, format!("it has no {field}")))
}
