//! Endpoints of the text models (spec api-db `/predict/*`): ingredient lists and
//! nutrition tables of an OCR document, categories of a product, languages of a text.
//! Nothing is stored. A model not configured or Triton away gives a 503, never a 500.

use super::doc::{Doc, Security, P, SERVER_TYPE};
use super::error::ApiError;
use super::predict::{heavy_turn, host_error};
use super::reply::json;
use super::router::{handler, ApiRequest, Route};
use super::{server_type, AppState};
use crate::infra::image_fetch::FetchError;
use crate::ml::token_classification::AggregationStrategy;
use crate::ocr::OcrDocument;
use crate::pipeline::category::{self, CategoryInput, DEFAULT_THRESHOLD};
use crate::pipeline::ingredients::{self, LangSource};
use crate::pipeline::models::ModelError;
use crate::pipeline::nutrition;
use crate::types::ServerType;
use serde_json::{json, Value};
use std::sync::Arc;
use warp::http::Method;
use warp::reply::Response;

/// A model error as the API answers it.
fn model_error(e: ModelError) -> ApiError {
    tracing::warn!(error = %e, "model call failed");
    match e {
        ModelError::Input { .. } => ApiError::bad_request("invalid_input", e.to_string()),
        e => ApiError::unavailable("model_unavailable", e.to_string()).with_retry_after(10),
    }
}

fn only_off(st: ServerType, what: &str) -> Result<(), ApiError> {
    if st == ServerType::Off {
        return Ok(());
    }
    let t = format!(
        "{what} predictor is only available for 'off' server type (here: '{}')",
        st.name()
    );
    Err(ApiError::bad_request("invalid_server_type", t.clone()).with_title(t))
}

/// `GET /predict/ingredient_list`.
pub async fn ingredient_list(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    only_off(server_type(&req)?, "ingredient list")?;
    let ocr_url = p.required("ocr_url")?.to_string();
    let strategy = match p.get("aggregation_strategy") {
        None => AggregationStrategy::First,
        Some(s) => s.parse().map_err(|()| {
            super::params::invalid(
                "aggregation_strategy",
                "The value must be one of NONE, SIMPLE, FIRST, AVERAGE, MAX.",
            )
        })?,
    };
    let version = p.get("model_version").unwrap_or("1").to_string();
    if state.image_hosts.check(&ocr_url).is_err() {
        return Err(host_error(&ocr_url));
    }
    let _turn = heavy_turn(&state).await?;
    let doc = match fetch_ocr(&state, &ocr_url).await? {
        Ok(doc) => doc,
        Err(description) => {
            return json(&json!({"error": "ocr_input_error", "description": description}))
        }
    };
    let ctx = state.services.job_context();
    let grammar = ingredients::trace_grammar(&ctx.resources);
    let out = ingredients::predict(
        &ctx.resources.models,
        &grammar,
        &doc,
        strategy,
        &version,
        LangSource::of(&ctx),
    )
    .await
    .map_err(model_error)?;
    json(&out.to_json())
}

/// The OCR document at `url`: `Err(description)` for Robotoff's `ocr_input_error`.
async fn fetch_ocr(state: &AppState, url: &str) -> Result<Result<OcrDocument, String>, ApiError> {
    let bytes = match state.image_hosts.get(url).await {
        Ok(b) => b,
        Err(FetchError::HostNotAllowed(_)) | Err(FetchError::InvalidUrl(_)) => {
            return Err(host_error(url))
        }
        Err(e) => {
            tracing::info!(error = %e, url, "OCR download failed");
            return Ok(Err(match e {
                FetchError::Status { status, .. } => {
                    format!("Non-200 status code ({status}) when fetching OCR URL")
                }
                _ => "HTTP Error when fetching OCR URL".to_string(),
            }));
        }
    };
    let parsed = tokio::task::spawn_blocking(move || OcrDocument::from_bytes(&bytes))
        .await
        .map_err(|e| ApiError::internal(format!("parsing {url}: {e}")))?;
    Ok(parsed.map_err(|e| {
        tracing::info!(error = %e, url, "invalid OCR document");
        "Error during OCR parsing".to_string()
    }))
}

/// `GET /predict/nutrition`.
pub async fn nutrition(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let image_url = p.required("image_url")?.to_string();
    let ocr_url = p.required("ocr_url")?.to_string();
    for url in [&image_url, &ocr_url] {
        if state.image_hosts.check(url).is_err() {
            return Err(host_error(url));
        }
    }
    let _turn = heavy_turn(&state).await?;
    let download_error = |what: &str, url: &str| {
        json(&json!({
            "error": "download_error",
            "error_description": format!("an error occurred while downloading {what}: {url}"),
        }))
    };
    let Ok(image_bytes) = state.image_hosts.get(&image_url).await else {
        return download_error("image", &image_url);
    };
    let max_pixels = state.settings.http.max_image_pixels;
    let decoded = tokio::task::spawn_blocking(move || {
        crate::imaging::decode(&image_bytes, max_pixels).map(|i| i.to_rgb8())
    })
    .await
    .map_err(|e| ApiError::internal(format!("decoding {image_url}: {e}")))?;
    let Ok(image) = decoded else {
        return download_error("image", &image_url);
    };
    let doc = match fetch_ocr(&state, &ocr_url).await? {
        Ok(doc) => doc,
        Err(_) => return download_error("OCR JSON", &ocr_url),
    };
    let image = Arc::new(image);
    let prepared = tokio::task::spawn_blocking(move || nutrition::prepare(&doc, &image))
        .await
        .map_err(|e| ApiError::internal(format!("preparing {ocr_url}: {e}")))?;
    let Some(input) = prepared else {
        return json(&json!({"predictions": []}));
    };
    let out = nutrition::predict(&state.services.resources.models, &input)
        .await
        .map_err(model_error)?;
    json(&json!({"predictions": [out]}))
}

/// `POST /predict/category`: by barcode (the stored product, its OCR and images) or by
/// a product given in the body.
pub async fn category(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let body = req.json_body()?;
    let obj = body.as_object().ok_or_else(|| {
        ApiError::bad_request("invalid_body", format!("{body} is not of type 'object'"))
            .with_title("Request data failed validation")
    })?;
    let invalid = |d: String| {
        ApiError::bad_request("invalid_body", d).with_title("Request data failed validation")
    };
    let allowed: &[&str] = if obj.contains_key("product") {
        &[
            "product",
            "deepest_only",
            "threshold",
            "lang",
            "neural_model_name",
        ]
    } else {
        &["barcode", "deepest_only", "threshold", "neural_model_name"]
    };
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let deepest_only = match obj.get("deepest_only") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(invalid(format!("{v} is not of type 'boolean'"))),
    };
    let threshold = match obj.get("threshold") {
        None => DEFAULT_THRESHOLD,
        Some(v) => v
            .as_f64()
            .ok_or_else(|| invalid(format!("{v} is not of type 'number'")))?,
    };
    if let Some(m) = obj.get("neural_model_name") {
        if m != "keras_image_embeddings_3_0" {
            return Err(invalid(format!(
                "{m} is not one of ['keras_image_embeddings_3_0']"
            )));
        }
    }
    only_off(server_type(&req)?, "category")?;
    let ctx = state.services.job_context();
    let _turn = heavy_turn(&state).await?;
    let run = if let Some(product) = obj.get("product") {
        let (mut input, ocr) = product_input(product).map_err(invalid)?;
        if !ocr.is_empty() {
            input.ingredients_ocr_tags = ocr_tags(&state, ocr).await;
        }
        category::run_input(&ctx, &input, threshold).await
    } else {
        let barcode = match obj.get("barcode") {
            Some(Value::String(b)) if !b.is_empty() => super::params::normalize_barcode(b),
            Some(Value::String(_)) => return Err(invalid("'' is too short".into())),
            Some(v) => return Err(invalid(format!("{v} is not of type 'string'"))),
            None => return Err(invalid("'barcode' is a required property".into())),
        };
        if barcode.contains('\0') {
            // No text column can hold it: no product has it.
            return Err(ApiError::not_found(format!(
                "product {} not found",
                barcode.escape_debug()
            )));
        }
        let mut conn = state
            .pool
            .acquire()
            .await
            .map_err(super::reply::db_error("reading the product"))?;
        let product = crate::infra::db::products::get(&mut conn, &barcode, ServerType::Off)
            .await
            .map_err(super::reply::db_error("reading the product"))?;
        drop(conn);
        let Some(product) = product else {
            return Err(ApiError::not_found(format!("product {barcode} not found")));
        };
        category::run_for_product(&ctx, &product, threshold).await
    }
    .map_err(model_error)?;
    let mut predicted = run.predicted;
    if deepest_only {
        if let Ok(tax) = crate::insights::import::Importing::from_settings(&state.settings)
            .await
            .map_err(|e| e.to_string())
            .and_then(|i| {
                i.resources
                    .taxonomy(crate::taxonomy::TaxonomyType::Category)
                    .map_err(|e| e.to_string())
            })
        {
            predicted = category::deepest_only(predicted, &tax);
        }
    }
    let predictions: Vec<Value> = predicted
        .iter()
        .map(|p| json!({"value_tag": p.category, "confidence": p.confidence}))
        .collect();
    json(&json!({"neural": {"predictions": predictions, "debug": run.debug}}))
}

/// The classifier's input from a product given in the body (Robotoff ignores its
/// `nutriments` and `lang`: the nutrient inputs are all missing).
fn product_input(product: &Value) -> Result<(CategoryInput, Vec<String>), String> {
    let obj = product
        .as_object()
        .ok_or_else(|| format!("{product} is not of type 'object'"))?;
    if obj.is_empty() {
        return Err("{} does not have enough properties".into());
    }
    const KEYS: [&str; 5] = [
        "product_name",
        "ingredients_tags",
        "ocr",
        "image_embeddings",
        "nutriments",
    ];
    if let Some(extra) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        ));
    }
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match obj.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .ok_or_else(|| format!("{v} is not of type 'string'"))
                })
                .collect(),
            Some(v) => Err(format!("{v} is not of type 'array'")),
        }
    };
    let product_name = match obj.get("product_name") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) => return Err("'' is too short".into()),
        Some(v) => return Err(format!("{v} is not of type 'string'")),
    };
    let mut embeddings = Vec::new();
    match obj.get("image_embeddings") {
        None => {}
        Some(Value::Array(rows)) if rows.len() <= 10 => {
            for row in rows {
                let values: Option<Vec<f32>> = row
                    .as_array()
                    .filter(|r| r.len() == 512)
                    .and_then(|r| r.iter().map(|v| v.as_f64().map(|f| f as f32)).collect());
                embeddings.push(
                    values.ok_or_else(|| {
                        format!("{} is not an array of 512 numbers", truncate(row))
                    })?,
                );
            }
        }
        Some(v) => {
            return Err(format!(
                "{} is not an array of at most 10 embeddings",
                truncate(v)
            ))
        }
    }
    if let Some(n) = obj.get("nutriments") {
        let n = n
            .as_object()
            .ok_or_else(|| format!("{n} is not of type 'object'"))?;
        let known: Vec<String> = category::NUTRIENTS
            .iter()
            .map(|(_, k)| format!("{k}_100g"))
            .collect();
        if let Some(extra) = n.keys().find(|k| !known.contains(k)) {
            return Err(format!(
                "Additional properties are not allowed ('{extra}' was unexpected)"
            ));
        }
    }
    let tags: Vec<String> = strings("ingredients_tags")?
        .iter()
        .map(|t| category::ingredient_tag(t))
        .collect();
    let ocr = strings("ocr")?;
    Ok((
        CategoryInput {
            product_name,
            ingredients_tags: tags,
            ingredients_ocr_tags: Vec::new(),
            nutrients: [-1.0; 9],
            embeddings,
        },
        ocr,
    ))
}

fn truncate(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(80).collect()
}

/// Ingredient ids found in OCR texts given by the caller.
async fn ocr_tags(state: &AppState, texts: Vec<String>) -> Vec<String> {
    let Ok(importing) = crate::insights::import::Importing::from_settings(&state.settings).await
    else {
        return Vec::new();
    };
    let Ok(taxonomy) = importing
        .resources
        .taxonomy(crate::taxonomy::TaxonomyType::Ingredient)
    else {
        return Vec::new();
    };
    tokio::task::spawn_blocking(move || category::ocr_ingredients(&taxonomy).tags(&texts))
        .await
        .unwrap_or_default()
}

/// `GET|POST /predict/lang`.
pub async fn lang(_state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let text = p.required("text")?.to_string();
    if text.is_empty() {
        return Err(super::params::invalid(
            "text",
            "String should have at least 1 character",
        ));
    }
    let k = p.int("k", Some(1), Some(1000))?.unwrap_or(10) as usize;
    let threshold = match p.float("threshold")? {
        None => 0.01,
        Some(t) if (0.0..=1.0).contains(&t) => t,
        Some(_) => {
            return Err(super::params::invalid(
                "threshold",
                "The value must be a number between 0 and 1.",
            ))
        }
    };
    let predictions =
        tokio::task::spawn_blocking(move || crate::ml::langid::predict(&text, k, threshold))
            .await
            .map_err(|e| ApiError::internal(format!("language identification: {e}")))?;
    json(&json!({ "predictions": predictions }))
}

fn category_body() -> Value {
    json!({"anyOf": [
        {"type": "object", "required": ["barcode"], "additionalProperties": false, "properties": {
            "barcode": {"type": "string", "minLength": 1},
            "deepest_only": {"type": "boolean"}, "threshold": {"type": "number"},
            "neural_model_name": {"type": "string", "enum": ["keras_image_embeddings_3_0"]}}},
        {"type": "object", "required": ["product"], "additionalProperties": false, "properties": {
            "product": {"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
                "product_name": {"type": "string", "minLength": 1},
                "ingredients_tags": {"type": "array", "items": {"type": "string"}},
                "ocr": {"type": "array", "items": {"type": "string"}},
                "image_embeddings": {"type": "array", "maxItems": 10, "items": {"type": "array",
                    "minItems": 512, "maxItems": 512, "items": {"type": "number"}}},
                "nutriments": {"type": "object", "additionalProperties": false, "properties": {
                    "fat_100g": {"type": "number"}, "saturated-fat_100g": {"type": "number"},
                    "carbohydrates_100g": {"type": "number"}, "sugars_100g": {"type": "number"},
                    "fiber_100g": {"type": "number"}, "proteins_100g": {"type": "number"},
                    "salt_100g": {"type": "number"}, "energy-kcal_100g": {"type": "number"},
                    "fruits-vegetables-nuts_100g": {"type": "number"}}}}},
            "deepest_only": {"type": "boolean"}, "threshold": {"type": "number"},
            "lang": {"type": "string", "minLength": 1},
            "neural_model_name": {"type": "string", "enum": ["keras_image_embeddings_3_0"]}}}
    ]})
}

const LANG_PARAMS: &[P] = &[
    P("text", "string", true, "text to identify"),
    P("k", "integer", false, "languages to return (default 10)"),
    P(
        "threshold",
        "number",
        false,
        "minimum confidence, 0 to 1 (default 0.01)",
    ),
];

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/predict/ingredient_list",
            handler(ingredient_list),
            Doc {
                summary: "Ingredient lists in an OCR JSON (ingredient NER)",
                params: &[
                    P("ocr_url", "string", true, "OCR JSON URL on an image host"),
                    P(
                        "aggregation_strategy",
                        "string",
                        false,
                        "NONE, SIMPLE, FIRST (default), AVERAGE or MAX",
                    ),
                    P(
                        "model_version",
                        "string",
                        false,
                        "Triton model version (default 1)",
                    ),
                    SERVER_TYPE,
                ],
                body: None,
                ok: &[200],
                errors: &[400, 503],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/predict/nutrition",
            handler(nutrition),
            Doc {
                summary: "Nutrients of a nutrition table (LayoutLMv3 nutrition extractor)",
                params: &[
                    P("image_url", "string", true, "image URL on an image host"),
                    P("ocr_url", "string", true, "OCR JSON URL on an image host"),
                ],
                body: None,
                ok: &[200],
                errors: &[400, 503],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/predict/category",
            handler(category),
            Doc {
                summary: "Categories of a product (neural classifier)",
                params: &[SERVER_TYPE],
                body: Some(category_body),
                ok: &[200],
                errors: &[400, 404, 503],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/predict/lang",
            handler(lang),
            Doc {
                summary: "Languages of a text",
                params: LANG_PARAMS,
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/predict/lang",
            handler(lang),
            Doc {
                summary: "Languages of a text (query or form parameters)",
                params: LANG_PARAMS,
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
    ]
}
