//! Unit tests of the import logic, table-driven from spec pipeline §5 and §10 and from
//! Robotoff's `tests/unit/insights/test_importer.py` (cited per test).

mod diff;
mod images;
mod importers;
mod nutrients;
mod persistence;

use super::{ImportContext, ImportResources};
use crate::types::{Insight, Prediction, PredictionType, Product, ServerType};
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub const BARCODE: &str = "3760094310634";
pub const SOURCE_IMAGE: &str = "/376/009/431/0634/1.jpg";

/// Resources read from the shared data directory, loaded once for all tests.
pub fn resources() -> Arc<ImportResources> {
    static RES: OnceLock<Arc<ImportResources>> = OnceLock::new();
    RES.get_or_init(|| {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
        match ImportResources::load(dir) {
            Ok(r) => Arc::new(r),
            Err(e) => panic!("the shared data directory loads: {e}"),
        }
    })
    .clone()
}

/// A product from Product Opener-like JSON (missing fields take their defaults).
pub fn product(fields: Value) -> Product {
    let mut doc = json!({"code": BARCODE, "server_type": "off"});
    if let (Some(d), Some(f)) = (doc.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            d.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value(doc) {
        Ok(p) => p,
        Err(e) => panic!("test product: {e}"),
    }
}

/// A prediction of `kind` for the test product, with the given fields.
pub fn pred(kind: PredictionType, fields: Value) -> Prediction {
    let mut p = Prediction::new(kind);
    p.barcode = Some(BARCODE.to_string());
    let mut doc = match serde_json::to_value(&p) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    if let (Some(d), Some(f)) = (doc.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            d.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value(doc) {
        Ok(p) => p,
        Err(e) => panic!("test prediction: {e}"),
    }
}

/// A stored insight of `kind` with the given fields.
pub fn insight(kind: PredictionType, fields: Value) -> Insight {
    let mut doc = json!({
        "id": uuid::Uuid::new_v4(), "barcode": BARCODE, "type": kind, "data": {},
        "timestamp": null, "completed_at": null, "annotation": null, "annotated_result": null,
        "n_votes": 0, "username": null, "countries": [], "brands": [], "process_after": null,
        "value_tag": null, "value": null, "source_image": null, "automatic_processing": false,
        "server_type": "off", "unique_scans_n": 0, "reserved_barcode": false, "predictor": null,
        "predictor_version": null, "campaign": [], "confidence": null, "bounding_box": null,
        "lc": null, "with_image": null
    });
    if let (Some(d), Some(f)) = (doc.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            d.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value(doc) {
        Ok(i) => i,
        Err(e) => panic!("test insight: {e}"),
    }
}

pub fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, 1)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .unwrap_or_default()
}

/// Runs `f` with an import context over `product` (and nutrition-table detections).
pub fn with_ctx<T>(
    product: Option<&Product>,
    tables: HashMap<String, Vec<Value>>,
    f: impl FnOnce(&ImportContext<'_>) -> T,
) -> T {
    let res = resources();
    let ctx = ImportContext {
        resources: &res,
        product,
        nutrition_tables: &tables,
        now: now(),
        automatic_processing_wait: TimeDelta::minutes(10),
    };
    f(&ctx)
}
