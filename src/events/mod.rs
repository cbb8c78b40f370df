//! Product Opener's stream events (product updates, OCR ready) and the jobs they become:
//! parsing, filtering and routing as Robotoff's update listener does; [`stream`] reads
//! them from Redis. May use `infra`, `jobs`, `types`.

pub mod stream;

use crate::jobs::{JobKind, NewJob, Priority};
use crate::types::ServerType;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// Users whose edits are mass edits: their events go to the low-priority queue.
pub const BOT_USERS: [&str; 2] = ["scanbot", "update_all_products"];
/// Robotoff's own Product Opener user: its edits are not processed again.
pub const ROBOTOFF_USER: &str = "roboto-app";

/// Image-import steps (Robotoff's flag names).
pub const FLAG_ADD_IMAGE_FINGERPRINT: &str = "add_image_fingerprint";
pub const FLAG_IMPORT_INSIGHTS_FROM_IMAGE: &str = "import_insights_from_image";
pub const FLAG_EXTRACT_INGREDIENTS: &str = "extract_ingredients";
pub const FLAG_EXTRACT_NUTRITION: &str = "extract_nutrition";
pub const FLAG_RUN_LOGO_OBJECT_DETECTION: &str = "run_logo_object_detection";
pub const FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION: &str = "run_nutrition_table_object_detection";
pub const FLAG_PREDICT_CATEGORY: &str = "predict_category";
/// Not an image-import flag in Robotoff (its job is queued when the OCR shows a
/// Nutri-Score logo), but a model step all the same.
pub const FLAG_RUN_NUTRISCORE_OBJECT_DETECTION: &str = "run_nutriscore_object_detection";

/// The steps that need the image's OCR: skipped at upload, run when the OCR is ready
/// (spec pipeline §3.3a, §3.4).
pub const OCR_DEPENDENT_FLAGS: [&str; 5] = [
    FLAG_EXTRACT_INGREDIENTS,
    FLAG_EXTRACT_NUTRITION,
    FLAG_PREDICT_CATEGORY,
    FLAG_IMPORT_INSIGHTS_FROM_IMAGE,
    FLAG_RUN_LOGO_OBJECT_DETECTION,
];

/// An entry of the `product_updates` stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductUpdate {
    pub id: String,
    pub code: String,
    pub flavor: Option<String>,
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub comment: Option<String>,
    pub product_type: Option<String>,
    pub diffs: Option<Value>,
}

/// An entry of the `ocr_ready` stream.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrReady {
    pub id: String,
    pub code: String,
    pub product_type: Option<String>,
    pub image_id: Option<String>,
    pub json_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event {id}: unknown product_type {product_type:?}")]
    UnknownProductType { id: String, product_type: String },
    #[error("event {id}: diffs is not valid JSON: {detail}")]
    BadDiffs { id: String, detail: String },
}

/// Milliseconds since the epoch encoded in a stream entry id (`1700000000000-0`).
pub fn entry_millis(id: &str) -> Option<i64> {
    id.split('-').next()?.parse().ok()
}

fn field(map: &HashMap<String, String>, key: &str) -> Option<String> {
    map.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl ProductUpdate {
    /// From a stream entry's fields (values decoded as UTF-8).
    pub fn from_fields(id: &str, map: &HashMap<String, String>) -> Result<Self, EventError> {
        let diffs = match map.get("diffs").map(|d| d.trim()).filter(|d| !d.is_empty()) {
            None => None,
            Some(raw) => {
                let v: Value = serde_json::from_str(raw).map_err(|e| EventError::BadDiffs {
                    id: id.to_string(),
                    detail: e.to_string(),
                })?;
                (!v.is_null()).then_some(v)
            }
        };
        Ok(ProductUpdate {
            id: id.to_string(),
            code: field(map, "code").unwrap_or_default(),
            flavor: field(map, "flavor"),
            user_id: field(map, "user_id"),
            action: field(map, "action"),
            comment: map.get("comment").cloned(),
            product_type: field(map, "product_type"),
            diffs,
        })
    }
}

impl OcrReady {
    pub fn from_fields(id: &str, map: &HashMap<String, String>) -> Self {
        OcrReady {
            id: id.to_string(),
            code: field(map, "code").unwrap_or_default(),
            product_type: field(map, "product_type"),
            image_id: field(map, "image_id"),
            json_url: field(map, "json_url"),
        }
    }
}

fn server_type(id: &str, product_type: &str) -> Result<ServerType, EventError> {
    ServerType::from_product_type(product_type).ok_or_else(|| EventError::UnknownProductType {
        id: id.to_string(),
        product_type: product_type.to_string(),
    })
}

/// Strings of a JSON array at `diffs.<a>.<b>`.
fn diff_list<'a>(diffs: Option<&'a Value>, a: &str, b: &str) -> Option<Vec<&'a str>> {
    let list = diffs?.get(a)?.get(b)?.as_array()?;
    Some(list.iter().filter_map(Value::as_str).collect())
}

/// Wait before update, image-deletion and type-switch jobs run (Robotoff's
/// `UPDATED_PRODUCT_WAIT`), so that PO's own processing settles first.
#[derive(Debug, Clone, Copy)]
pub struct Routing {
    pub update_wait: Duration,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            update_wait: Duration::from_secs(10),
        }
    }
}

/// Dedupe key of the update job of a product: several updates inside the wait collapse.
pub fn update_dedupe_key(server_type: ServerType, code: &str) -> String {
    format!("update_insights:{}:{code}", server_type.name())
}

impl Routing {
    /// The job a product update becomes, if any (spec pipeline §3.3, exact order of checks).
    pub fn product_update(&self, e: &ProductUpdate) -> Result<Option<NewJob>, EventError> {
        let Some(product_type) = e.product_type.as_deref() else {
            return Ok(None);
        };
        if e.code.is_empty() {
            return Ok(None);
        }
        let st = server_type(&e.id, product_type)?;
        let user = e.user_id.as_deref().unwrap_or("");
        let priority = if BOT_USERS.contains(&user) {
            Priority::Low
        } else {
            Priority::High
        };
        if user == ROBOTOFF_USER
            || e.comment
                .as_deref()
                .is_some_and(|c| c.contains("[robotoff]"))
        {
            return Ok(None);
        }
        let job = |kind: JobKind| NewJob::new(kind, priority).for_product(e.code.clone(), st);
        let diffs = e.diffs.as_ref();
        let job = match e.action.as_deref() {
            Some("deleted") => job(JobKind::DeleteProductInsights),
            Some("updated") => {
                if let Some(added) =
                    diff_list(diffs, "uploaded_images", "add").filter(|l| !l.is_empty())
                {
                    job(JobKind::ImportImage).payload(json!({
                        "image_id": added[0],
                        "exclude_flags": OCR_DEPENDENT_FLAGS,
                    }))
                } else if diff_list(diffs, "fields", "change")
                    .is_some_and(|l| l.contains(&"product_type"))
                {
                    job(JobKind::ProductTypeSwitched).delay(self.update_wait)
                } else if let Some(deleted) =
                    diff_list(diffs, "uploaded_images", "delete").filter(|l| !l.is_empty())
                {
                    job(JobKind::DeletedImage)
                        .payload(json!({"image_id": deleted[0]}))
                        .delay(self.update_wait)
                } else {
                    job(JobKind::UpdateInsights)
                        .payload(json!({"diffs": e.diffs, "force_category_prediction": false}))
                        .delay(self.update_wait)
                        .dedupe(update_dedupe_key(st, &e.code))
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(job))
    }

    /// The job an OCR-ready event becomes, if any (spec pipeline §3.4).
    pub fn ocr_ready(&self, e: &OcrReady) -> Result<Option<NewJob>, EventError> {
        if e.code.is_empty() {
            return Ok(None);
        }
        let Some(image_id) = e.image_id.as_deref() else {
            return Ok(None);
        };
        let Some(product_type) = e.product_type.as_deref() else {
            return Ok(None);
        };
        let st = server_type(&e.id, product_type)?;
        Ok(Some(
            NewJob::new(JobKind::ImportImage, Priority::High)
                .for_product(e.code.clone(), st)
                .payload(json!({"image_id": image_id, "include_flags": OCR_DEPENDENT_FLAGS})),
        ))
    }
}

/// Whether an update job should run the category predictor again (spec pipeline §2.1,
/// §10.6).
pub fn should_rerun_category_predictor(diffs: Option<&Value>) -> bool {
    let Some(diffs) = diffs else { return true };
    if diffs.get("nutriments").is_some() || diffs.get("nutrition").is_some() {
        return true;
    }
    if let Some(images) = diffs.get("uploaded_images") {
        if images.get("add").is_some() || images.get("delete").is_some() {
            return true;
        }
    }
    ["change", "add"].iter().any(|k| {
        diff_list(Some(diffs), "fields", k)
            .is_some_and(|l| l.contains(&"product_name") || l.contains(&"ingredients_text"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(pairs: &[(&str, &str)]) -> ProductUpdate {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProductUpdate::from_fields("1700000000000-0", &map).expect("valid event")
    }

    fn base(extra: &[(&str, &str)]) -> ProductUpdate {
        let mut pairs = vec![
            ("code", "1234567890123"),
            ("flavor", "off"),
            ("product_type", "food"),
            ("user_id", "test_user"),
            ("action", "updated"),
        ];
        pairs.extend_from_slice(extra);
        update(&pairs)
    }

    /// Spec pipeline §10.2: a generic update is delayed 10 s, on the product's queue.
    #[test]
    fn generic_update_is_delayed_and_collapsible() {
        let job = Routing::default()
            .product_update(&base(&[]))
            .expect("ok")
            .expect("a job");
        assert_eq!(job.kind, JobKind::UpdateInsights);
        assert_eq!(job.priority, Priority::High);
        assert_eq!(job.delay, Duration::from_secs(10));
        assert_eq!(job.product, Some(("1234567890123".into(), ServerType::Off)));
        assert_eq!(job.payload["diffs"], Value::Null);
        assert_eq!(
            job.dedupe_key.as_deref(),
            Some("update_insights:off:1234567890123")
        );
    }

    /// Spec pipeline §10.3: scanbot → low queue; Robotoff's own edits → nothing.
    #[test]
    fn bots_go_low_and_robotoff_edits_are_ignored() {
        let r = Routing::default();
        let job = r
            .product_update(&base(&[("user_id", "scanbot")]))
            .expect("ok")
            .expect("job");
        assert_eq!(job.priority, Priority::Low);
        assert_eq!(job.kind, JobKind::UpdateInsights);
        let job = r
            .product_update(&base(&[("user_id", "update_all_products")]))
            .expect("ok")
            .expect("job");
        assert_eq!(job.priority, Priority::Low);
        assert_eq!(
            r.product_update(&base(&[("user_id", "roboto-app")]))
                .expect("ok"),
            None
        );
        assert_eq!(
            r.product_update(&base(&[("comment", "[robotoff] Test update")]))
                .expect("ok"),
            None
        );
    }

    /// Spec pipeline §10.4: deletion runs at once.
    #[test]
    fn deletion_is_immediate() {
        let job = Routing::default()
            .product_update(&base(&[("action", "deleted")]))
            .expect("ok")
            .expect("job");
        assert_eq!(job.kind, JobKind::DeleteProductInsights);
        assert_eq!(job.delay, Duration::ZERO);
        assert_eq!(job.dedupe_key, None);
    }

    /// Spec pipeline §10.5: upload imports the image without the OCR steps; image
    /// deletion is delayed; OCR ready imports with only the OCR steps.
    #[test]
    fn image_upload_deletion_and_ocr_ready() {
        let r = Routing::default();
        let job = r
            .product_update(&base(&[(
                "diffs",
                r#"{"uploaded_images": {"add": ["1"]}}"#,
            )]))
            .expect("ok")
            .expect("job");
        assert_eq!(job.kind, JobKind::ImportImage);
        assert_eq!(job.delay, Duration::ZERO);
        assert_eq!(job.payload["image_id"], "1");
        assert_eq!(
            job.payload["exclude_flags"],
            json!([
                "extract_ingredients",
                "extract_nutrition",
                "predict_category",
                "import_insights_from_image",
                "run_logo_object_detection"
            ])
        );
        let job = r
            .product_update(&base(&[(
                "diffs",
                r#"{"uploaded_images": {"delete": ["4"]}}"#,
            )]))
            .expect("ok")
            .expect("job");
        assert_eq!(job.kind, JobKind::DeletedImage);
        assert_eq!(job.payload["image_id"], "4");
        assert_eq!(job.delay, Duration::from_secs(10));

        let map: HashMap<String, String> = [
            ("code", "1234567890123"),
            ("product_type", "food"),
            ("image_id", "4"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let job = r
            .ocr_ready(&OcrReady::from_fields("1-0", &map))
            .expect("ok")
            .expect("job");
        assert_eq!(job.kind, JobKind::ImportImage);
        assert_eq!(job.priority, Priority::High);
        assert_eq!(job.payload["image_id"], "4");
        assert_eq!(job.payload["include_flags"], json!(OCR_DEPENDENT_FLAGS));
    }

    #[test]
    fn product_type_change_is_a_delayed_switch() {
        let job = Routing::default()
            .product_update(&base(&[
                ("product_type", "beauty"),
                ("diffs", r#"{"fields": {"change": ["product_type"]}}"#),
            ]))
            .expect("ok")
            .expect("job");
        assert_eq!(job.kind, JobKind::ProductTypeSwitched);
        assert_eq!(job.product, Some(("1234567890123".into(), ServerType::Obf)));
        assert_eq!(job.delay, Duration::from_secs(10));
    }

    #[test]
    fn incomplete_or_unknown_events() {
        let r = Routing::default();
        assert_eq!(
            r.product_update(&update(&[("code", "1"), ("action", "updated")]))
                .expect("ok"),
            None
        );
        assert_eq!(r.product_update(&base(&[("code", "")])).expect("ok"), None);
        assert_eq!(
            r.product_update(&base(&[("action", "archived")]))
                .expect("ok"),
            None
        );
        assert!(r
            .product_update(&base(&[("product_type", "spaceship")]))
            .is_err());
        let map: HashMap<String, String> = [("diffs".to_string(), "{not json".to_string())]
            .into_iter()
            .collect();
        assert!(ProductUpdate::from_fields("1-0", &map).is_err());
        let no_image: HashMap<String, String> = [("code", "1"), ("product_type", "food")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            r.ocr_ready(&OcrReady::from_fields("1-0", &no_image))
                .expect("ok"),
            None
        );
        assert_eq!(entry_millis("1700000000123-7"), Some(1_700_000_000_123));
        assert_eq!(entry_millis("garbage"), None);
    }

    /// Spec pipeline §10.6 (`test_should_rerun_category_predictor`).
    #[test]
    fn category_rerun_decision_table() {
        let cases: Vec<(Option<Value>, bool)> = vec![
            (None, true),
            (Some(json!({})), false),
            (Some(json!({"fields": {"change": ["product_name"]}})), true),
            (Some(json!({"fields": {"change": ["labels"]}})), false),
            (Some(json!({"fields": {"add": ["labels"]}})), false),
            (
                Some(
                    json!({"fields": {"add": ["ingredients_text_it"], "change": ["ingredients_text"]}}),
                ),
                true,
            ),
            (
                Some(json!({"fields": {"add": ["product_name", "product_name_fr"]}})),
                true,
            ),
            (Some(json!({"fields": {"add": ["product_name_fr"]}})), false),
            (Some(json!({"nutrition": {"add": ["x"]}})), true),
            (Some(json!({"nutrition": {"delete": ["x"]}})), true),
            (Some(json!({"nutrition": {"change": ["x"]}})), true),
            (Some(json!({"uploaded_images": {"delete": ["1"]}})), true),
            (Some(json!({"uploaded_images": {"add": ["1"]}})), true),
        ];
        for (diffs, expected) in cases {
            assert_eq!(
                should_rerun_category_predictor(diffs.as_ref()),
                expected,
                "{diffs:?}"
            );
        }
    }
}
