//! The webhook adapter (spec pipeline §3.5): the two routes Product Opener called before
//! it published its Redis streams, mapped onto the same durable jobs as the update
//! listener. Off unless `http.webhooks` is set; then both routes answer 404.

use super::doc::{Doc, Security, P};
use super::error::ApiError;
use super::reply;
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::AppState;
use crate::events::update_dedupe_key;
use crate::infra::db::jobs;
use crate::insights::image::image_path;
use crate::jobs::{JobKind, NewJob, Priority};
use crate::types::{is_digit_id, ServerType};
use serde_json::{json, Value};
use std::time::Duration;
use warp::http::Method;
use warp::reply::Response;

const DEFAULT_SERVER_DOMAIN: &str = "api.openfoodfacts.org";

fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.settings.http.webhooks {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "the webhook routes are off on this service (http.webhooks)",
        ))
    }
}

/// The domain without its first label when that is `api` or `world`
/// (`api.openfoodfacts.org` → `openfoodfacts.org`).
fn base_domain(host: &str) -> &str {
    let host = host.trim().trim_end_matches('.');
    host.strip_prefix("api.")
        .or_else(|| host.strip_prefix("world."))
        .unwrap_or(host)
}

/// The flavor whose configured `api_url` is on `server_domain`'s base domain
/// (`api.pro.openfoodfacts.org` → off_pro when off_pro's api_url is
/// `https://world.pro.openfoodfacts.org`). Other domains are refused.
pub fn server_type_of_domain(
    state: &AppState,
    server_domain: &str,
) -> Result<ServerType, ApiError> {
    let wanted = base_domain(server_domain).to_ascii_lowercase();
    let invalid = || {
        ApiError::bad_request(
            "invalid_server_domain",
            format!("invalid server_domain: {server_domain}"),
        )
    };
    if wanted.is_empty() {
        return Err(invalid());
    }
    ServerType::ALL
        .into_iter()
        .find(|st| {
            let api_url = &state.settings.product_opener.flavor(*st).api_url;
            reqwest::Url::parse(api_url)
                .ok()
                .and_then(|u| u.host_str().map(|h| base_domain(h).to_ascii_lowercase()))
                .is_some_and(|h| h == wanted)
        })
        .ok_or_else(invalid)
}

fn required_barcode(req: &ApiRequest) -> Result<String, ApiError> {
    let barcode = req.params.required("barcode")?.trim();
    if barcode.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_barcode",
            "barcode must not be empty",
        ));
    }
    Ok(barcode.to_string())
}

async fn schedule(state: &AppState, job: NewJob) -> Result<Response, ApiError> {
    let w = &state.settings.workers;
    jobs::enqueue(&state.pool, &job, w.shards, w.max_attempts)
        .await
        .map_err(|e| ApiError::internal(format!("enqueueing a job: {e}")))?;
    reply::json(&json!({"status": "scheduled"}))
}

/// `POST /webhook/product` (form: barcode, action, server_domain, diffs): `updated`
/// becomes the delayed update job (collapsed with the other updates of the product inside
/// the wait, as from the stream), `deleted` the deletion job.
pub async fn product(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    enabled(&state)?;
    super::access::require_webhook_secret(&state, &req)?;
    let p = &req.params;
    let barcode = required_barcode(&req)?;
    let action = p.required("action")?;
    let server_type = server_type_of_domain(&state, p.required("server_domain")?)?;
    let raw_diffs = p.required("diffs")?;
    let diffs: Value = serde_json::from_str(raw_diffs).map_err(|e| {
        ApiError::bad_request("invalid_diffs", format!("diffs is not valid JSON: {e}"))
    })?;
    let job = match action {
        "updated" => NewJob::new(JobKind::UpdateInsights, Priority::High)
            .for_product(barcode.clone(), server_type)
            .payload(json!({
                "diffs": (!diffs.is_null()).then_some(diffs),
                "force_category_prediction": false,
            }))
            .delay(Duration::from_secs_f64(
                state.settings.workers.update_wait_secs,
            ))
            .dedupe(update_dedupe_key(server_type, &barcode)),
        "deleted" => NewJob::new(JobKind::DeleteProductInsights, Priority::High)
            .for_product(barcode, server_type),
        other => {
            return Err(ApiError::bad_request(
                "invalid_action",
                format!("invalid action: {other} (expected updated or deleted)"),
            ))
        }
    };
    schedule(&state, job).await
}

/// The image id of an image URL (`.../123.jpg` → `123`).
fn image_id_of_url(image_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(image_url).ok()?;
    let last = url.path_segments()?.next_back()?;
    let id = last.strip_suffix(".jpg").unwrap_or(last);
    is_digit_id(id).then(|| id.to_string())
}

/// `POST /images/import` (form: barcode, image_url, ocr_url, server_domain): the image
/// import job with every step. The OCR document is read from the flavor's image host
/// (as for stream events), whatever `ocr_url` says.
pub async fn import_image(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    enabled(&state)?;
    super::access::require_webhook_secret(&state, &req)?;
    let p = &req.params;
    let barcode = required_barcode(&req)?;
    let image_url = p.required("image_url")?;
    p.required("ocr_url")?;
    let server_type = server_type_of_domain(
        &state,
        p.get("server_domain").unwrap_or(DEFAULT_SERVER_DOMAIN),
    )?;
    let image_id = image_id_of_url(image_url).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_image_url",
            format!("image_url does not name a product image: {image_url}"),
        )
    })?;
    if image_path(&barcode, &image_id).is_none() {
        return Err(ApiError::bad_request(
            "invalid_barcode",
            format!("invalid barcode: {barcode}"),
        ));
    }
    let job = NewJob::new(JobKind::ImportImage, Priority::High)
        .for_product(barcode, server_type)
        .payload(json!({"image_id": image_id}));
    schedule(&state, job).await
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::POST,
            "/api/v1/webhook/product",
            handler(product),
            Doc {
            summary:
                "Product Opener webhook: a product was updated or deleted (off unless http.webhooks)",
            params: &[
                P("barcode", "string", true, "product barcode"),
                P("action", "string", true, "updated or deleted"),
                P(
                    "server_domain",
                    "string",
                    true,
                    "e.g. api.openfoodfacts.org",
                ),
                P("diffs", "string", true, "JSON of the changes"),
            ],
            body: None,
            ok: &[200],
            errors: &[400, 401, 404],
                security: Security::Webhook,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/images/import",
            handler(import_image),
            Doc {
            summary: "Product Opener webhook: an image was uploaded (off unless http.webhooks)",
            params: &[
                P("barcode", "string", true, "product barcode"),
                P("image_url", "string", true, "URL of the image"),
                P("ocr_url", "string", true, "URL of its OCR document"),
                P(
                    "server_domain",
                    "string",
                    false,
                    "default api.openfoodfacts.org",
                ),
            ],
            body: None,
            ok: &[200],
            errors: &[400, 401, 404],
                security: Security::Webhook,
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_domains() {
        assert_eq!(base_domain("api.openfoodfacts.org"), "openfoodfacts.org");
        assert_eq!(
            base_domain("world.pro.openfoodfacts.org"),
            "pro.openfoodfacts.org"
        );
        assert_eq!(
            base_domain("api.pro.openfoodfacts.org"),
            "pro.openfoodfacts.org"
        );
        assert_eq!(base_domain("openbeautyfacts.org"), "openbeautyfacts.org");
    }

    #[test]
    fn image_ids_of_urls() {
        assert_eq!(
            image_id_of_url(
                "https://images.openfoodfacts.org/images/products/325/622/021/5466/3.jpg"
            ),
            Some("3".into())
        );
        assert_eq!(
            image_id_of_url("https://images.openfoodfacts.org/x/front_fr.4.400.jpg"),
            None
        );
        assert_eq!(image_id_of_url("not a url"), None);
    }
}
