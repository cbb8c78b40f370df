//! Endpoints that compute from Product Opener files without a model: OCR predictions
//! of an OCR JSON and image crops (spec api-db §1.4, §1.5). Files are fetched only from
//! the configured image hosts.

use super::doc::{Doc, Security, P, SERVER_TYPE};
use super::error::ApiError;
use super::reply::{bytes, json};
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::{server_type, AppState};
use crate::infra::image_fetch::FetchError;
use crate::ocr::{self, OcrDocument, DEFAULT_OCR_PREDICTION_TYPES};
use crate::types::PredictionType;
use serde_json::json;
use std::str::FromStr;
use warp::http::Method;
use warp::http::StatusCode;
use warp::reply::Response;

/// The barcode of an image or OCR URL: the digit folders just above the file name.
pub fn barcode_from_url(url: &str) -> Option<String> {
    let path = url::Url::parse(url).ok()?.path().to_string();
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    let mut digits: Vec<&str> = Vec::new();
    while let Some(part) = parts.pop() {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            digits.push(part);
        } else {
            break;
        }
    }
    if digits.is_empty() {
        return None;
    }
    digits.reverse();
    Some(digits.concat())
}

/// The `source_image` of an image or OCR URL: its path without `/images/products`,
/// with `.json` replaced by `.jpg`.
pub fn source_image_of(url: &str) -> Option<String> {
    let path = url::Url::parse(url).ok()?.path().to_string();
    let path = path
        .strip_prefix("/images/products")
        .unwrap_or(&path)
        .to_string();
    Some(match path.strip_suffix(".json") {
        Some(stem) => format!("{stem}.jpg"),
        None => path,
    })
}

pub(super) fn host_error(url: &str) -> ApiError {
    ApiError::bad_request(
        "host_not_allowed",
        format!("{url} is not on a Product Opener image host"),
    )
    .with_title("Domain not allowed!")
}

/// `GET /predict/ocr_prediction`.
pub async fn ocr_prediction(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let _turn = heavy_turn(&state).await?;
    let p = &req.params;
    let ocr_url = p.required("ocr_url")?.to_string();
    let st = server_type(&req)?;
    let types: Vec<PredictionType> = match p.list("prediction_types") {
        None => DEFAULT_OCR_PREDICTION_TYPES.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| PredictionType::from_str(n))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                super::params::invalid(
                    "prediction_types",
                    "The value must be a list of prediction types.",
                )
            })?,
    };
    let barcode = barcode_from_url(&ocr_url).ok_or_else(|| {
        let t = format!("invalid OCR URL: {ocr_url}");
        ApiError::bad_request("invalid_ocr_url", t.clone()).with_title(t)
    })?;
    let body = match state.image_hosts.get(&ocr_url).await {
        Ok(b) => b,
        Err(FetchError::HostNotAllowed(_)) | Err(FetchError::InvalidUrl(_)) => {
            return Err(host_error(&ocr_url))
        }
        Err(e) => {
            tracing::info!(error = %e, "OCR download failed");
            return json(&json!({
                "error": "download_error",
                "error_description": "an error occurred during OCR JSON download",
            }));
        }
    };
    let resources = state.resources.ocr.clone();
    let source_image = source_image_of(&ocr_url);
    let extracted = tokio::task::spawn_blocking(move || {
        let doc = OcrDocument::from_bytes(&body).map_err(ocr::ExtractError::from)?;
        ocr::extract(&ocr::OcrContent::Document(&doc), &types, &resources)
    })
    .await
    .map_err(|e| ApiError::internal(format!("OCR extraction task of {ocr_url}: {e}")))?;
    let mut predictions = match extracted {
        Ok(p) => p,
        Err(ocr::ExtractError::Parse(e)) => {
            tracing::info!(error = %e, url = %ocr_url, "invalid OCR document");
            return json(&json!({
                "error": "invalid_ocr",
                "error_description": "an error occurred during OCR parsing",
            }));
        }
        Err(e) => {
            return Err(ApiError::internal(format!(
                "extracting predictions of {ocr_url}: {e}"
            )))
        }
    };
    for pred in &mut predictions {
        pred.barcode = Some(barcode.clone());
        pred.server_type = st;
        if pred.source_image.is_none() {
            pred.source_image = source_image.clone();
        }
    }
    json(&json!({"predictions": predictions}))
}

/// `GET /images/crop`: a JPEG of the relative box of an image.
pub async fn crop(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let _turn = heavy_turn(&state).await?;
    let p = &req.params;
    let image_url = p.required("image_url")?.to_string();
    let mut bounds = [0f64; 4];
    for (i, name) in ["y_min", "x_min", "y_max", "x_max"].iter().enumerate() {
        let v = p.float(name)?.ok_or_else(|| super::params::missing(name))?;
        if !v.is_finite() {
            return Err(super::params::invalid(name, "The value must be a float."));
        }
        if let Some(slot) = bounds.get_mut(i) {
            *slot = v;
        }
    }
    let [y_min, x_min, y_max, x_max] = bounds;
    if state.image_hosts.check(&image_url).is_err() {
        return Err(host_error(&image_url));
    }
    let fetched = state.image_hosts.get(&image_url).await.map_err(|e| {
        tracing::info!(error = %e, "image download failed");
        let t = format!("Could not fetch image: {image_url}");
        ApiError::bad_request("image_download_failed", t.clone()).with_title(t)
    })?;
    let url = image_url.clone();
    let max_pixels = state.settings.http.max_image_pixels;
    let jpeg = tokio::task::spawn_blocking(move || {
        crop_jpeg(&fetched, [y_min, x_min, y_max, x_max], max_pixels)
    })
    .await
    .map_err(|e| ApiError::internal(format!("crop task of {url}: {e}")))?
    .map_err(|why| ApiError::bad_request("invalid_crop", format!("{why} ({image_url})")))?;
    Ok(bytes(jpeg, "image/jpeg", StatusCode::OK))
}

/// Longest wait for a turn of a heavy request (downloads, decoding, extraction).
const HEAVY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A turn among the `http.heavy_requests` heavy requests running at once; a 503 with
/// `Retry-After` when none comes in time.
pub(super) async fn heavy_turn(
    state: &AppState,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    match tokio::time::timeout(HEAVY_WAIT, state.heavy.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            crate::infra::metrics::request_refused("heavy_busy");
            Err(ApiError::unavailable(
                "busy",
                "too many prediction requests are running, retry shortly",
            )
            .with_retry_after(5))
        }
    }
}

/// Decodes (at most `max_pixels`), crops the relative box and re-encodes as JPEG.
fn crop_jpeg(
    data: &[u8],
    [y_min, x_min, y_max, x_max]: [f64; 4],
    max_pixels: u64,
) -> Result<Vec<u8>, String> {
    let img = crate::imaging::decode(data, max_pixels).map_err(|e| e.to_string())?;
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let clamp = |v: f64, max: f64| v.clamp(0.0, max);
    let left = clamp(x_min * w, w).round() as u32;
    let right = clamp(x_max * w, w).round() as u32;
    let top = clamp(y_min * h, h).round() as u32;
    let bottom = clamp(y_max * h, h).round() as u32;
    if right <= left || bottom <= top {
        return Err("the crop box is empty: x_max must exceed x_min and y_max exceed y_min within the image".into());
    }
    let cropped = img
        .crop_imm(left, top, right - left, bottom - top)
        .to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    cropped
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .map_err(|e| format!("the crop could not be encoded: {e}"))?;
    Ok(out.into_inner())
}

/// `GET /predict/lang/product`: the languages of a product's images from its
/// `image_lang` predictions: word counts per language (largest first), their share of
/// all words, and the images counted. A product without such predictions gets empty
/// lists (Robotoff answers 500).
pub async fn product_languages(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let barcode = super::params::normalize_barcode(p.required("barcode")?);
    let st = server_type(&req)?;
    let rows =
        crate::infra::db::prediction_query::image_langs_of_product(&state.pool, &barcode, st)
            .await
            .map_err(super::reply::db_error("reading image_lang predictions"))?;
    let mut counts: Vec<(String, i64)> = Vec::new();
    let mut words: i64 = 0;
    let mut image_ids: Vec<i64> = Vec::new();
    for (data, source_image) in rows {
        if let Some(id) = source_image
            .as_deref()
            .and_then(|s| s.rsplit('/').next())
            .and_then(|name| name.split('.').next())
            .and_then(|stem| stem.parse::<i64>().ok())
        {
            image_ids.push(id);
        }
        let Some(map) = data.get("count").and_then(|c| c.as_object()) else {
            continue;
        };
        for (lang, n) in map {
            let n = n.as_i64().unwrap_or(0);
            if lang == "words" {
                words += n;
            } else if let Some(entry) = counts.iter_mut().find(|(l, _)| l == lang) {
                entry.1 += n;
            } else {
                counts.push((lang.clone(), n));
            }
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    image_ids.sort_unstable();
    let percent = |n: i64| {
        if words > 0 {
            n as f64 * 100.0 / words as f64
        } else {
            0.0
        }
    };
    json(&json!({
        "counts": counts.iter().map(|(l, n)| json!({"count": n, "lang": l})).collect::<Vec<_>>(),
        "percent": counts.iter().map(|(l, n)| json!({"percent": percent(*n), "lang": l})).collect::<Vec<_>>(),
        "image_ids": image_ids,
    }))
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/predict/ocr_prediction",
            handler(ocr_prediction),
            Doc {
                summary: "Predictions from an OCR JSON on an image host",
                params: &[
                    P("ocr_url", "string", true, "OCR JSON URL"),
                    SERVER_TYPE,
                    P("prediction_types", "list", false, "prediction types"),
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/images/crop",
            handler(crop),
            Doc {
                summary: "JPEG crop of a product image",
                params: &[
                    P("image_url", "string", true, "image URL on an image host"),
                    P("y_min", "number", true, "relative"),
                    P("x_min", "number", true, "relative"),
                    P("y_max", "number", true, "relative"),
                    P("x_max", "number", true, "relative"),
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/predict/lang/product",
            handler(product_languages),
            Doc {
                summary: "Languages of a product's images (image_lang predictions)",
                params: &[P("barcode", "string", true, "product barcode"), SERVER_TYPE],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_and_sources_from_urls() {
        let u = "https://images.openfoodfacts.org/images/products/301/762/042/2003/1.json";
        assert_eq!(barcode_from_url(u).as_deref(), Some("3017620422003"));
        assert_eq!(
            source_image_of(u).as_deref(),
            Some("/301/762/042/2003/1.jpg")
        );
        assert_eq!(
            barcode_from_url("https://images.openfoodfacts.org/x/1.json"),
            None
        );
    }

    #[test]
    fn crops_a_png() {
        let img = image::RgbImage::from_pixel(10, 20, image::Rgb([200, 10, 10]));
        let mut png = std::io::Cursor::new(Vec::new());
        assert!(image::DynamicImage::ImageRgb8(img)
            .write_to(&mut png, image::ImageFormat::Png)
            .is_ok());
        let jpeg = crop_jpeg(png.get_ref(), [0.0, 0.0, 0.5, 0.5], 1_000_000);
        let decoded = jpeg.ok().and_then(|j| image::load_from_memory(&j).ok());
        assert_eq!(decoded.map(|d| (d.width(), d.height())), Some((5, 10)));
        assert!(crop_jpeg(png.get_ref(), [0.5, 0.5, 0.2, 0.2], 1_000_000).is_err());
        assert!(crop_jpeg(b"nope", [0.0, 0.0, 1.0, 1.0], 1_000_000).is_err());
    }
}
