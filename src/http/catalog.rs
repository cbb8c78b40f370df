//! Read endpoints over predictions, images and image predictions (spec api-db §1.3),
//! and the audit of everything known about one product.

use super::doc::{Doc, Security, BARCODE_PATH, BARCODE_Q, COUNT, P, PAGE, SERVER_TYPE};
use super::error::ApiError;
use super::params::{barcode_filter, normalize_barcode};
use super::reply::{db_error, json};
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::{dto, server_type, AppState};
use crate::infra::db::image_predictions::{self, ImagePredictionFilter, PostedImagePrediction};
use crate::infra::db::images::{self, ImageFilter};
use crate::infra::db::logos::{self, LogoCollection};
use crate::infra::db::prediction_query::{self, PredictionFilter};
use crate::infra::db::stats;
use serde_json::{json, Value};
use warp::http::Method;
use warp::reply::Response;

/// `GET /predictions`.
pub async fn predictions(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let (count, offset) = p.page_count(25, None)?;
    let filter = PredictionFilter {
        barcode: barcode_filter(p),
        value_tag: p.non_empty("value_tag").map(str::to_string),
        types: p.list_capped("types", 10),
        server_type: server_type(&req)?,
    };
    let rows = prediction_query::list(&state.pool, &filter, count, offset)
        .await
        .map_err(db_error("listing predictions"))?;
    let total = prediction_query::count(&state.pool, &filter)
        .await
        .map_err(db_error("counting predictions"))?;
    let items: Vec<Value> = rows.iter().map(dto::prediction).collect();
    let status = if items.is_empty() {
        "no_predictions"
    } else {
        "found"
    };
    json(&json!({"count": total, "predictions": items, "status": status}))
}

/// `GET /images`.
pub async fn images(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let count = p.int_or("count", 1, None, 25)?;
    let page = p.int_or("page", 1, None, 1)?;
    let filter = ImageFilter {
        with_predictions: p.bool("with_predictions", true)?.unwrap_or(false),
        barcode: barcode_filter(p),
        server_type: server_type(&req)?,
    };
    let offset = (page - 1).saturating_mul(count);
    let rows = images::list(&state.pool, &filter, count, offset)
        .await
        .map_err(db_error("listing images"))?;
    let total = images::count(&state.pool, &filter)
        .await
        .map_err(db_error("counting images"))?;
    let items: Vec<Value> = rows.iter().map(dto::image).collect();
    let status = if items.is_empty() {
        "no_images"
    } else {
        "found"
    };
    json(&json!({"count": total, "images": items, "status": status}))
}

/// `GET /image_predictions`.
pub async fn image_predictions(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let count = p.int_or("count", 1, None, 25)?;
    let page = p.int_or("page", 1, None, 1)?;
    let filter = ImagePredictionFilter {
        with_logo: p.bool("with_logo", true)?.unwrap_or(false),
        barcode: barcode_filter(p),
        kind: p.non_empty("type").map(str::to_string),
        model_name: p.non_empty("model_name").map(str::to_string),
        model_version: p.non_empty("model_version").map(str::to_string),
        min_confidence: p.float("min_confidence")?,
        image_id: p.non_empty("image_id").map(str::to_string),
        server_type: server_type(&req)?,
    };
    let offset = (page - 1).saturating_mul(count);
    let rows = image_predictions::list(&state.pool, &filter, count, offset)
        .await
        .map_err(db_error("listing image predictions"))?;
    let total = image_predictions::count(&state.pool, &filter)
        .await
        .map_err(db_error("counting image predictions"))?;
    let items: Vec<Value> = rows.iter().map(dto::image_prediction).collect();
    let status = if items.is_empty() {
        "no_image_predictions"
    } else {
        "found"
    };
    json(&json!({"count": total, "image_predictions": items, "status": status}))
}

/// `GET /annotation/collection`: logos with their image prediction and image.
pub async fn logo_collection(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let filter = LogoCollection {
        barcode: barcode_filter(p),
        server_type: server_type(&req)?,
        types: p.list_capped("types", 10),
        value_tag: p.non_empty("value_tag").map(str::to_string),
    };
    let page = p.int_or("page", 1, None, 1)?;
    let count = p.int_or("count", 1, None, 25)?;
    let offset = (page - 1).saturating_mul(count);
    let rows = logos::collection(&state.pool, &filter, count, offset)
        .await
        .map_err(db_error("listing logo annotations"))?;
    // Robotoff counts with its default page size still applied.
    let total = logos::collection_count(&state.pool, &filter, 25)
        .await
        .map_err(db_error("counting logo annotations"))?;
    let items: Vec<Value> = rows.iter().map(dto::logo_nested).collect();
    let status = if items.is_empty() {
        "no_annotation"
    } else {
        "found"
    };
    json(&json!({"count": total, "annotation": items, "status": status}))
}

/// `GET /products/{barcode}/audit`: every prediction, insight (annotated or not),
/// image, image prediction and logo of a product.
pub async fn audit(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let barcode = normalize_barcode(req.path_param(0));
    let st = server_type(&req)?;
    let pool = &state.pool;
    let (predictions, insights, images, image_predictions, logos) = tokio::try_join!(
        prediction_query::of_product(pool, &barcode, st),
        stats::insights_of_product(pool, &barcode, st),
        images::of_product(pool, &barcode, st),
        image_predictions::of_product(pool, &barcode, st),
        logos::of_product(pool, &barcode, st),
    )
    .map_err(db_error("reading the audit of a product"))?;
    json(&json!({
        "barcode": barcode,
        "server_type": st.name(),
        "predictions": predictions.iter().map(dto::prediction).collect::<Vec<_>>(),
        "insights": insights.iter().map(dto::insight).collect::<Vec<_>>(),
        "images": images.iter().map(dto::image).collect::<Vec<_>>(),
        "image_predictions": image_predictions.iter().map(dto::image_prediction).collect::<Vec<_>>(),
        "logos": logos.iter().map(dto::logo).collect::<Vec<_>>(),
    }))
}

/// `POST /image_predictions/import`: the body is validated as Robotoff's schema
/// (`{"predictions": [{barcode, image_id, model_name, model_version, data, server_type?}]}`);
/// Robotoff's own import is broken (it writes columns `image_prediction` does not have),
/// and importing here is not available yet: a valid body is answered 503, nothing is
/// written.
pub async fn import_image_predictions(
    state: AppState,
    req: ApiRequest,
) -> Result<Response, ApiError> {
    super::access::require_operator(&state, &req.headers)?;
    let body = req.json_body()?;
    let items = posted_image_predictions(&body)?;
    match image_predictions::import(&state.pool, &items)
        .await
        .map_err(db_error("importing image predictions"))?
    {
        Ok(n) => json(&json!({"imported": n})),
        Err(unknown) => Err(ApiError::not_found(format!(
            "predictions[{}]: image {} of product {} is not known",
            unknown.index, unknown.image_id, unknown.barcode
        ))),
    }
}

/// Most image predictions one import may carry.
const MAX_IMPORTED: usize = 1000;

/// The `type` of a known model's predictions (others must give theirs).
fn model_type(model_name: &str) -> Option<&'static str> {
    match model_name {
        "universal_logo_detector" | "nutriscore" | "nutrition_table" | "price_tag_detection" => {
            Some("object_detection")
        }
        "ingredient-ner" => Some("ner"),
        "nutrition_extractor" => Some("nutrition_extraction"),
        _ => None,
    }
}

/// The posted predictions, validated as Robotoff's JSON schema says (plus an optional
/// `type` for models this service does not know), or a 400 naming the first fault.
fn posted_image_predictions(body: &Value) -> Result<Vec<PostedImagePrediction>, ApiError> {
    let invalid = |why: String| {
        ApiError::bad_request("invalid_body", why).with_title("Request data failed validation")
    };
    let items = body
        .get("predictions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("`predictions` is required and must be a list".into()))?;
    if items.len() > MAX_IMPORTED {
        return Err(invalid(format!(
            "at most {MAX_IMPORTED} predictions per import, not {}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = |key: &str, max: usize| -> Result<String, ApiError> {
            item.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.chars().count() <= max && !s.contains('\0'))
                .map(String::from)
                .ok_or_else(|| {
                    invalid(format!(
                        "predictions[{i}].{key} is required and must be a string of 1 to {max} characters"
                    ))
                })
        };
        let barcode = text("barcode", 100)?;
        let image_id = text("image_id", 50)?;
        let model_name = text("model_name", 100)?;
        let model_version = text("model_version", 256)?;
        if !crate::types::is_digit_id(&image_id) {
            return Err(invalid(format!(
                "predictions[{i}].image_id must be the number of an uploaded image"
            )));
        }
        let data = item
            .get("data")
            .filter(|d| d.is_object())
            .cloned()
            .ok_or_else(|| {
                invalid(format!(
                    "predictions[{i}].data is required and must be an object"
                ))
            })?;
        let server_type = match item.get("server_type") {
            None | Some(Value::Null) => crate::types::ServerType::Off,
            Some(st) => super::params::server_type_named(st.as_str().unwrap_or_default())?,
        };
        let kind = match item.get("type") {
            Some(Value::String(t)) if !t.trim().is_empty() && t.len() <= 256 => {
                t.trim().to_string()
            }
            Some(_) => {
                return Err(invalid(format!(
                    "predictions[{i}].type must be a string of 1 to 256 characters"
                )))
            }
            None => model_type(&model_name).map(String::from).ok_or_else(|| {
                invalid(format!(
                    "predictions[{i}].type is required for model {model_name}"
                ))
            })?,
        };
        let max_confidence = data
            .get("objects")
            .and_then(Value::as_array)
            .and_then(|objects| {
                objects
                    .iter()
                    .filter_map(|o| o.get("score").and_then(Value::as_f64))
                    .reduce(f64::max)
            })
            .map(|s| s as f32);
        out.push(PostedImagePrediction {
            barcode: super::params::normalize_barcode(&barcode),
            image_id,
            server_type,
            kind,
            model_name,
            model_version,
            data,
            max_confidence,
        });
    }
    Ok(out)
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/predictions",
            handler(predictions),
            Doc {
                summary: "Predictions",
                params: &[
                    PAGE,
                    COUNT,
                    BARCODE_Q,
                    P("value_tag", "string", false, "value tag"),
                    P("types", "list", false, "prediction types (first 10)"),
                    SERVER_TYPE,
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/images",
            handler(images),
            Doc {
                summary: "Images (by default those without image predictions)",
                params: &[
                    COUNT,
                    PAGE,
                    P(
                        "with_predictions",
                        "boolean",
                        false,
                        "include images with predictions",
                    ),
                    BARCODE_Q,
                    SERVER_TYPE,
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/image_predictions",
            handler(image_predictions),
            Doc {
                summary: "Image predictions (by default those without logos)",
                params: &[
                    COUNT,
                    PAGE,
                    P(
                        "with_logo",
                        "boolean",
                        false,
                        "include predictions with logos",
                    ),
                    BARCODE_Q,
                    P("type", "string", false, "prediction type"),
                    P("model_name", "string", false, "model name"),
                    P("model_version", "string", false, "model version"),
                    P("min_confidence", "number", false, "minimum max_confidence"),
                    P("image_id", "string", false, "image id"),
                    SERVER_TYPE,
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/image_predictions/import",
            handler(import_image_predictions),
            Doc {
                summary: "Import image predictions (not available yet)",
                params: &[],
                body: Some(image_prediction_import_body),
                ok: &[200],
                errors: &[400, 401, 403, 404],
                security: Security::Operator,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/annotation/collection",
            handler(logo_collection),
            Doc {
                summary: "Logo annotations with image prediction and image",
                params: &[
                    BARCODE_Q,
                    SERVER_TYPE,
                    P("types", "list", false, "annotation types"),
                    P("value_tag", "string", false, "value tag"),
                    PAGE,
                    COUNT,
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/products/{barcode}/audit",
            handler(audit),
            Doc {
                summary: "Every prediction, insight, image, image prediction and logo of a product",
                params: &[BARCODE_PATH, SERVER_TYPE],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
    ]
}

fn image_prediction_import_body() -> Value {
    json!({"type": "object", "required": ["predictions"], "properties": {
        "predictions": {"type": "array", "items": {"type": "object",
            "required": ["barcode", "image_id", "model_name", "model_version", "data"], "properties": {
                "barcode": {"type": "string"}, "image_id": {"type": "string"},
                "model_name": {"type": "string"}, "model_version": {"type": "string"},
                "data": {"type": "object"},
                "type": {"type": "string", "minLength": 1},
                "server_type": {"type": "string", "enum": ["off", "obf", "opff", "opf", "off_pro"]}}}}}})
}
