//! Logo annotation writes (the logo game): annotate one logo or many, reset one, rename
//! annotations in bulk — each by a user Product Opener vouches for; brand and label
//! annotations become insights applied in the product's shard (spec api-db §4.7).

use super::access::required_user;
use super::auth::parse_auth;
use super::doc::{Doc, Security, LOGO_ID_PATH, P};
use super::error::ApiError;
use super::logos::{logo_id, LOGO_TYPES};
use super::reply::{db_error, json};
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::AppState;
use crate::annotation;
use crate::infra::db::jobs;
use crate::infra::db::logo_writes::{self, LogoAnnotation};
use crate::infra::db::logos::{self};
use crate::pipeline::logo_annotations;
use crate::taxonomy::is_prefixed_value;
use crate::taxonomy::TaxonomyType;
use crate::text::get_tag;
use crate::types::ServerType;
use serde_json::{json, Value};
use std::str::FromStr;
use warp::http::Method;
use warp::http::StatusCode;
use warp::reply::Response;

/// Robotoff's check of a logo annotation's type and value.
pub fn check_logo_annotation(kind: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) => {
            if kind == "label" && !is_prefixed_value(v) {
                return Err(ApiError::bad_request(
                    "invalid_logo_annotation",
                    format!("language-prefixed value are required for label type (here: {v})"),
                ));
            }
        }
        None => {
            if matches!(kind, "brand" | "category" | "label" | "store") {
                return Err(ApiError::bad_request(
                    "invalid_logo_annotation",
                    format!("value required for type {kind})"),
                ));
            }
        }
    }
    Ok(())
}

/// The flavor of a logo's row (off when unset).
fn flavor_of(server_type: Option<&str>) -> ServerType {
    server_type
        .and_then(|s| ServerType::from_str(s).ok())
        .unwrap_or(ServerType::Off)
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "authentication is required to annotate logos",
    )
}

fn schema_error(what: &str) -> ApiError {
    ApiError::bad_request("invalid_body", what.to_string())
        .with_title("Request data failed validation")
}

/// `PUT /images/logos/{logo_id}`: body `{"type": str, "value": str|null}`, caller
/// authenticated. The write itself is not available on this node yet.
pub async fn update(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let body = req.json_body()?;
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| schema_error("`type` is required and must be a non-empty string"))?;
    let value = match body.get("value") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()).filter(|s| !s.is_empty()),
        Some(_) => return Err(schema_error("`value` must be a string or null")),
    };
    let Some(credentials) = parse_auth(&req.headers)? else {
        return Err(forbidden());
    };
    let id = logo_id(&req);
    let found = match id {
        Some(id) => logos::get(&state.pool, id)
            .await
            .map_err(db_error("reading a logo"))?,
        None => None,
    };
    let (Some(id), Some(found)) = (id, found) else {
        return super::reply::empty(StatusCode::NOT_FOUND);
    };
    check_logo_annotation(kind, value)?;
    let user = state
        .identities
        .verify(flavor_of(found.server_type.as_deref()), credentials)
        .await?;
    let username = Some(user.username.clone());
    let (tag, taxonomy_value) = tag_and_taxonomy_value(&state, kind, value);
    let annotation = LogoAnnotation {
        kind,
        value,
        value_tag: tag.as_deref(),
        taxonomy_value: taxonomy_value.as_deref(),
        username: username.as_deref(),
    };
    let mut conn = state
        .pool
        .acquire()
        .await
        .map_err(db_error("annotating a logo"))?;
    let changed = logo_writes::annotate_if_changed(&mut conn, id, &annotation)
        .await
        .map_err(db_error("annotating a logo"))?;
    drop(conn);
    if changed {
        let logo = logos::get(&state.pool, id)
            .await
            .map_err(db_error("reading a logo"))?;
        let caller = annotation::Caller::User(user.into());
        if let Err(e) =
            crate::actors::shards::apply_logo_annotations(&state.services, logo.as_slice(), &caller)
                .await
        {
            tracing::error!(logo = id, error = %e, "insights of an annotated logo");
            return Err(ApiError::unavailable(
                "logo_insights_unavailable",
                "the logo was annotated but its insights could not be applied yet, retry later",
            ));
        }
    }
    super::reply::empty(StatusCode::NO_CONTENT)
}

/// The tag of a logo annotation's value and its canonical taxonomy value.
fn tag_and_taxonomy_value(
    state: &AppState,
    kind: &str,
    value: Option<&str>,
) -> (Option<String>, Option<String>) {
    let Some(value) = value else {
        return (None, None);
    };
    let tag = get_tag(value);
    let taxonomy_value = TaxonomyType::from_str(kind)
        .ok()
        .and_then(|t| {
            state
                .resources
                .taxonomies
                .match_taxonomized_value(&tag, t)
                .ok()
        })
        .flatten();
    (Some(tag), taxonomy_value)
}

/// `POST /images/logos/annotate`.
pub async fn annotate(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let body = req.json_body()?;
    let items = body
        .get("annotations")
        .and_then(Value::as_array)
        .ok_or_else(|| schema_error("`annotations` is required and must be a list"))?;
    let mut parsed = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("logo_id")
            .and_then(Value::as_i64)
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(|| schema_error("each annotation needs an integer `logo_id`"))?;
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| LOGO_TYPES.contains(t))
            .ok_or_else(|| schema_error("each annotation needs a `type` among the logo types"))?;
        let value = match item.get("value") {
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
            _ => {
                return Err(schema_error(
                    "each annotation needs a `value`, a string or null",
                ))
            }
        };
        parsed.push((id, kind.to_string(), value));
    }
    let Some(credentials) = parse_auth(&req.headers)? else {
        return Err(forbidden());
    };
    let server_type = match body.get("server_type").and_then(Value::as_str) {
        Some(st) => super::params::server_type_named(st)?,
        None => ServerType::Off,
    };
    let mut rows = std::collections::HashMap::new();
    for (id, kind, value) in &parsed {
        check_logo_annotation(kind, value.as_deref())?;
        let found = logos::get(&state.pool, *id)
            .await
            .map_err(db_error("reading a logo"))?;
        let Some(found) = found else {
            return Err(ApiError::not_found(format!("logo {id} not found")));
        };
        rows.insert(*id, found);
    }
    let user = state.identities.verify(server_type, credentials).await?;
    let username = Some(user.username)
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let mut tx = state
        .pool
        .begin()
        .await
        .map_err(db_error("annotating logos"))?;
    let mut annotated = 0;
    // The insights of brand and label logos, one job per product, queued with the
    // annotations so that they follow even if this node stops after answering.
    let mut by_product: std::collections::BTreeMap<(String, ServerType), Vec<i32>> =
        Default::default();
    for (id, kind, value) in &parsed {
        let (tag, taxonomy_value) = tag_and_taxonomy_value(&state, kind, value.as_deref());
        let annotation = LogoAnnotation {
            kind,
            value: value.as_deref(),
            value_tag: tag.as_deref(),
            taxonomy_value: taxonomy_value.as_deref(),
            username: Some(&username),
        };
        if !logo_writes::annotate_if_new(&mut tx, *id, &annotation)
            .await
            .map_err(db_error("annotating logos"))?
        {
            continue;
        }
        annotated += 1;
        let row = rows.get(id);
        let barcode = row
            .and_then(|r| r.barcode.clone())
            .filter(|b| !b.is_empty());
        if let (Some(barcode), "brand" | "label") = (barcode, kind.as_str()) {
            let flavor = row
                .and_then(|r| r.server_type.as_deref())
                .and_then(|s| ServerType::from_str(s).ok())
                .unwrap_or(ServerType::Off);
            by_product.entry((barcode, flavor)).or_default().push(*id);
        }
    }
    let w = &state.settings.workers;
    for ((barcode, flavor), ids) in &by_product {
        let job = logo_annotations::job(barcode, *flavor, ids, &username);
        jobs::enqueue(&mut *tx, &job, w.shards, w.max_attempts)
            .await
            .map_err(db_error("queueing the insights of annotated logos"))?;
    }
    tx.commit().await.map_err(db_error("annotating logos"))?;
    let count = annotated;
    json(&json!({"annotated": count}))
}

/// `POST /images/logos/{logo_id}/reset`: a verified user only.
pub async fn reset(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let found = match logo_id(&req) {
        Some(id) => logos::get(&state.pool, id)
            .await
            .map_err(db_error("reading a logo"))?,
        None => None,
    };
    let (Some(id), Some(found)) = (logo_id(&req), found) else {
        return super::reply::empty(StatusCode::NOT_FOUND);
    };
    required_user(
        &state,
        &req,
        flavor_of(found.server_type.as_deref()),
        "resetting a logo",
    )
    .await?;
    let mut tx = state
        .pool
        .begin()
        .await
        .map_err(db_error("resetting a logo"))?;
    let reset = logo_writes::reset(&mut tx, id)
        .await
        .map_err(db_error("resetting a logo"))?;
    tx.commit().await.map_err(db_error("resetting a logo"))?;
    match reset {
        Some(_) => super::reply::empty(StatusCode::NO_CONTENT),
        None => super::reply::empty(StatusCode::NOT_FOUND),
    }
}

/// `POST /images/logos/update`: bulk rename of logo annotations, by a verified user,
/// with the checks of a single annotation on the target.
pub async fn bulk_update(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let source_value = p.required("source_value")?;
    let source_type = p.required("source_type")?;
    let target_value = p.required("target_value")?;
    let target_type = p.required("target_type")?;
    for (name, kind) in [("source_type", source_type), ("target_type", target_type)] {
        if !LOGO_TYPES.contains(&kind) {
            return Err(ApiError::bad_request(
                "invalid_logo_annotation",
                format!("`{name}` must be one of {}", LOGO_TYPES.join(", ")),
            ));
        }
    }
    check_logo_annotation(target_type, Some(target_value).filter(|v| !v.is_empty()))?;
    let server_type = req.params.server_type()?;
    let user = required_user(&state, &req, server_type, "renaming logo annotations").await?;
    let username = Some(user.username);
    let source_tag = get_tag(source_value);
    let (target_tag, taxonomy_value) =
        tag_and_taxonomy_value(&state, target_type, Some(target_value));
    let target = LogoAnnotation {
        kind: target_type,
        value: Some(target_value),
        value_tag: target_tag.as_deref(),
        taxonomy_value: taxonomy_value.as_deref(),
        username: username.as_deref(),
    };
    let updated = logo_writes::rename(&state.pool, source_type, &source_tag, &target)
        .await
        .map_err(db_error("renaming logo annotations"))?;
    json(&json!({"updated": updated}))
}

/// The routes of the logo writes, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::PUT,
            "/api/v1/images/logos/{logo_id:int}",
            handler(update),
            Doc {
                summary: "Annotate one logo (authenticated)",
                params: &[LOGO_ID_PATH],
                body: Some(logo_update_body),
                ok: &[204],
                errors: &[400, 401, 403, 404, 503],
                security: Security::User,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/images/logos/{logo_id:int}/reset",
            handler(reset),
            Doc {
                summary: "Reset a logo annotation",
                params: &[LOGO_ID_PATH],
                body: None,
                ok: &[204],
                errors: &[401, 404, 503],
                security: Security::User,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/images/logos/annotate",
            handler(annotate),
            Doc {
                summary: "Annotate logos (authenticated)",
                params: &[],
                body: Some(logo_annotate_body),
                ok: &[200],
                errors: &[400, 401, 403, 404, 503],
                security: Security::User,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/images/logos/update",
            handler(bulk_update),
            Doc {
                summary: "Rename logo annotations in bulk",
                params: &[
                    P("source_type", "string", true, "current type"),
                    P("source_value", "string", true, "current value"),
                    P("target_type", "string", true, "new type"),
                    P("target_value", "string", true, "new value"),
                ],
                body: None,
                ok: &[200],
                errors: &[400, 401, 503],
                security: Security::User,
            },
        ),
    ]
}

fn logo_update_body() -> Value {
    json!({"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "minLength": 1}, "value": {"type": ["string", "null"]}}})
}

fn logo_annotate_body() -> Value {
    json!({"type": "object", "required": ["annotations"], "properties": {
        "server_type": {"type": "string", "enum": ["off", "obf", "opff", "opf", "off_pro"]},
        "annotations": {"type": "array", "items": {"type": "object",
            "required": ["logo_id", "type", "value"], "properties": {
                "logo_id": {"type": "integer"},
                "type": {"type": "string", "enum": LOGO_TYPES},
                "value": {"type": ["string", "null"]}}}}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_annotation_checks() {
        assert!(check_logo_annotation("brand", Some("Nutella")).is_ok());
        assert!(check_logo_annotation("no_logo", None).is_ok());
        assert_eq!(
            check_logo_annotation("brand", None)
                .unwrap_err()
                .description,
            "value required for type brand)"
        );
        assert_eq!(
            check_logo_annotation("label", Some("organic"))
                .unwrap_err()
                .description,
            "language-prefixed value are required for label type (here: organic)"
        );
        assert!(check_logo_annotation("label", Some("en:organic")).is_ok());
    }
}
