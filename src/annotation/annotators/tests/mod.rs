//! Table-driven checks of every annotator against Robotoff's unit and integration tests
//! (`tests/unit/insights/test_annotate.py`, `tests/integration/insights/test_annotate.py`).

use super::*;
use crate::types::ServerType;
use serde_json::json;

const ID: &str = "94371643-c2bc-4291-a585-af2cb1a5270a";
const CODE: &str = "3760094310634";

fn insight(kind: PredictionType) -> Insight {
    Insight {
        id: Uuid::parse_str(ID).unwrap_or_default(),
        barcode: CODE.into(),
        kind,
        data: json!({}),
        timestamp: None,
        completed_at: None,
        annotation: None,
        annotated_result: None,
        n_votes: 0,
        username: None,
        countries: vec![],
        brands: vec![],
        process_after: None,
        value_tag: None,
        value: None,
        source_image: None,
        automatic_processing: false,
        server_type: ServerType::Off,
        unique_scans_n: 0,
        reserved_barcode: false,
        predictor: None,
        predictor_version: None,
        campaign: vec![],
        confidence: None,
        bounding_box: None,
        lc: None,
        with_image: None,
    }
}

fn product(images: Value) -> Product {
    let mut p = Product::new(CODE, ServerType::Off);
    p.images = images.as_object().cloned().unwrap_or_default();
    p
}

fn fields(pairs: &[(&str, &str)]) -> ProductEdit {
    ProductEdit::UpdateFields(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn auto(action: &str) -> String {
    format!("[robotoff] {action}, ID: {ID} (automated edit)")
}

fn run(
    insight: &Insight,
    product: Option<&Product>,
    data: Option<&Value>,
) -> Result<Plan, PlanError> {
    let facts = ImageFacts::default();
    plan(&Target {
        insight,
        product,
        data,
        is_vote: false,
        automatic: true,
        facts: &facts,
    })
}

fn edits(plan: &Plan) -> (AnnotationStatus, Vec<ProductEdit>) {
    (plan.status, plan.edits.clone())
}

mod fields;
mod images;
mod text;
