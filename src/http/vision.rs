//! `GET /images/predict`: object detection on any image of a Product Opener image host,
//! with the caller's threshold and NMS parameters, as JSON or as a JPEG with the boxes
//! drawn (spec api-db §1.5). Nothing is stored.

use super::doc::{Doc, Security, P};
use super::error::ApiError;
use super::params::invalid;
use super::predict::{heavy_turn, host_error};
use super::reply::{bytes, json};
use super::router::{handler, ApiRequest, Route};
use super::AppState;
use crate::ml::letterbox::letterbox;
use crate::ml::models::{ObjectDetectionModel, DEFAULT_NMS_ETA, DEFAULT_NMS_THRESHOLD};
use crate::ml::yolo::PostprocessOptions;
use crate::pipeline::model_step::object_json;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

/// Models one request may name at most (each is one model call).
const MAX_MODELS: usize = 8;

fn model_names() -> String {
    ObjectDetectionModel::ALL
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A float parameter in `[low, high]`, or its default.
fn float_in(
    req: &ApiRequest,
    name: &str,
    default: f32,
    low: f32,
    high: f32,
) -> Result<f32, ApiError> {
    match req.params.float(name)? {
        None => Ok(default),
        Some(v) if v.is_finite() && (f64::from(low)..=f64::from(high)).contains(&v) => Ok(v as f32),
        Some(_) => Err(invalid(
            name,
            &format!("The value must be a number between {low} and {high}."),
        )),
    }
}

/// `GET /images/predict`.
pub async fn images_predict(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let image_url = p.required("image_url")?.to_string();
    let names = p
        .list_capped("models", MAX_MODELS)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| super::params::missing("models"))?;
    let mut models: Vec<ObjectDetectionModel> = Vec::new();
    for name in &names {
        let model = ObjectDetectionModel::from_name(name).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_model",
                format!("unknown model {name}, available models: {}", model_names()),
            )
            .with_title("invalid_model")
        })?;
        if !models.contains(&model) {
            models.push(model);
        }
    }
    let mut options = PostprocessOptions::new(float_in(&req, "threshold", 0.5, 0.0, 1.0)?);
    options.nms_threshold = float_in(&req, "nms_threshold", DEFAULT_NMS_THRESHOLD, 0.0, 1.0)?;
    options.nms_eta = float_in(&req, "nms_eta", DEFAULT_NMS_ETA, f32::MIN_POSITIVE, 1.0)?;
    options.nms = p.bool("nms", false)?.unwrap_or(true);
    let output_image = p.bool("output_image", false)?.unwrap_or(false);
    if output_image && models.len() != 1 {
        return Err(ApiError::bad_request(
            "invalid_request",
            "a single model must be specified with the `models` parameter when `output_image` is True",
        )
        .with_title("invalid_request"));
    }
    if state.image_hosts.check(&image_url).is_err() {
        return Err(host_error(&image_url));
    }
    let _turn = heavy_turn(&state).await?;
    let runtime = &state.services.resources.models;
    options.box_order = runtime.nms_order;
    options.geometry = runtime.box_geometry;
    let fetched = state.image_hosts.get(&image_url).await.map_err(|e| {
        tracing::info!(error = %e, "image download failed");
        let t = format!("Could not fetch image: {image_url}");
        ApiError::bad_request("image_download_failed", t.clone()).with_title(t)
    })?;
    let max_pixels = state.settings.http.max_image_pixels;
    let sizes: Vec<u32> = {
        let mut s: Vec<u32> = models.iter().map(|m| m.image_size()).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let prepared = tokio::task::spawn_blocking(move || {
        let rgb = crate::imaging::decode_oriented(&fetched, max_pixels)
            .map_err(|e| e.to_string())?
            .upright_rgb();
        let mut inputs = BTreeMap::new();
        for size in sizes {
            let l = letterbox(&rgb, size).map_err(|e| e.to_string())?;
            let geometry = l.geometry;
            inputs.insert(size, (Bytes::from(l.into_tensor_bytes()), geometry));
        }
        Ok::<_, String>((Arc::new(rgb), inputs))
    })
    .await
    .map_err(|e| ApiError::internal(format!("decoding {image_url}: {e}")))?;
    let (rgb, inputs) = prepared.map_err(|why| {
        ApiError::bad_request("invalid_image", format!("{image_url}: {why}"))
            .with_title("invalid_image")
    })?;
    let mut predictions = Map::new();
    let mut drawn = Vec::new();
    for model in &models {
        let Some((tensor, geometry)) = inputs.get(&model.image_size()) else {
            continue;
        };
        let objects = runtime
            .detect(*model, tensor.clone(), geometry, &options)
            .await
            .map_err(|e| {
                tracing::warn!(model = model.name(), error = %e, "image prediction failed");
                ApiError::unavailable(
                    "model_unavailable",
                    format!("model {} is not available: {e}", model.name()),
                )
                .with_retry_after(10)
            })?;
        predictions.insert(
            model.name().to_string(),
            Value::Array(objects.iter().map(object_json).collect()),
        );
        drawn = objects;
    }
    if output_image {
        let jpeg = tokio::task::spawn_blocking(move || crate::ml::draw::boxes_jpeg(&rgb, &drawn))
            .await
            .map_err(|e| ApiError::internal(format!("drawing boxes: {e}")))?
            .map_err(ApiError::internal)?;
        return Ok(bytes(jpeg, "image/jpeg", StatusCode::OK));
    }
    json(&json!({ "predictions": predictions }))
}

pub fn routes() -> Vec<Route> {
    vec![Route::new(
        Method::GET,
        "/api/v1/images/predict",
        handler(images_predict),
        Doc {
            summary: "Object detection on an image of an image host",
            params: &[
                P("image_url", "string", true, "image URL on an image host"),
                P(
                    "models",
                    "list",
                    true,
                    "nutriscore, nutrition_table, universal_logo_detector, price_tag_detection",
                ),
                P("threshold", "number", false, "minimum score (default 0.5)"),
                P(
                    "nms_threshold",
                    "number",
                    false,
                    "NMS IoU threshold (default 0.7)",
                ),
                P("nms_eta", "number", false, "NMS eta (default 1.0)"),
                P("nms", "boolean", false, "run NMS (default true)"),
                P(
                    "output_image",
                    "boolean",
                    false,
                    "answer a JPEG with the boxes (one model only)",
                ),
            ],
            body: None,
            ok: &[200],
            errors: &[400, 503],
            security: Security::Public,
        },
    )]
}
