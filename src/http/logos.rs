//! `/images/logos*`, and `/ann/search` (spec api-db §1.4).

use super::doc::{Doc, Security, BARCODE_Q, LOGO_ID_PATH, P, SERVER_TYPE};
use super::error::ApiError;
use super::params::barcode_filter;
use super::reply::{db_error, json};
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::{dto, server_type, AppState};
use crate::infra::db::logos::{self, LogoSearch};
use crate::text::get_tag;
use serde_json::{json, Value};
use warp::http::Method;
use warp::http::StatusCode;
use warp::reply::Response;

/// Logo annotation types.
pub const LOGO_TYPES: [&str; 9] = [
    "brand",
    "category",
    "label",
    "no_logo",
    "nutritional_label",
    "packager_code",
    "packaging",
    "qr_code",
    "store",
];

/// `GET /images/logos?logo_ids=...`.
pub async fn by_ids(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let raw = req
        .params
        .list("logo_ids")
        .ok_or_else(|| super::params::missing("logo_ids"))?;
    let mut ids = Vec::with_capacity(raw.len());
    for r in &raw {
        let id: i32 = r.trim().parse().map_err(|_| {
            super::params::invalid("logo_ids", "The value must be a list of integers.")
        })?;
        ids.push(id);
    }
    if ids.len() > 500 {
        return Err(ApiError::bad_request(
            "too_many_logos",
            "too many logos requested, max: 500",
        ));
    }
    let rows = logos::by_ids(&state.pool, &ids)
        .await
        .map_err(db_error("reading logos"))?;
    let items: Vec<Value> = rows.iter().map(dto::logo).collect();
    json(&json!({"logos": items, "count": items.len()}))
}

/// `GET /images/logos/search`.
pub async fn search(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let st = server_type(&req)?;
    let count = p.int_or("count", 1, Some(2000), 25)?;
    let kind = p.get("type").map(str::to_string);
    let barcode = barcode_filter(p);
    let value = p.get("value").map(str::to_string);
    let taxonomy_value = p.get("taxonomy_value").map(str::to_string);
    let min_confidence = p.float("min_confidence")?;
    let random = p.bool("random", true)?.unwrap_or(false);
    let annotated = p.bool("annotated", true)?;
    if kind.is_none() && (value.is_some() || taxonomy_value.is_some()) {
        return Err(ApiError::bad_request(
            "invalid_logo_search",
            "a type is required if `value` or `taxonomy_value` is provided",
        ));
    }
    if value.is_some() && taxonomy_value.is_some() {
        return Err(ApiError::bad_request(
            "invalid_logo_search",
            "`value` and `taxonomy_value` are mutually exclusive parameters",
        ));
    }
    if kind.as_deref() == Some("label") && taxonomy_value.is_none() && value.is_some() {
        return Err(ApiError::bad_request(
            "invalid_logo_search",
            "you should provide a `taxonomy_value` and not a `value` for label type",
        ));
    }
    let search = LogoSearch {
        server_type: st,
        annotated,
        min_confidence,
        barcode,
        kind,
        value_tag: value.as_deref().map(get_tag),
        taxonomy_value,
        random,
    };
    let (rows, total) = logos::search(&state.pool, &search, count)
        .await
        .map_err(db_error("searching logos"))?;
    let items: Vec<Value> = rows.iter().map(dto::logo).collect();
    json(&json!({"logos": items, "count": total}))
}

pub fn logo_id(req: &ApiRequest) -> Option<i32> {
    i32::try_from(req.path_int(0)).ok()
}

/// `GET /images/logos/{logo_id}`: 404 with an empty body when missing.
pub async fn detail(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let Some(id) = logo_id(&req) else {
        return super::reply::empty(StatusCode::NOT_FOUND);
    };
    match logos::get(&state.pool, id)
        .await
        .map_err(db_error("reading a logo"))?
    {
        Some(row) => json(&dto::logo(&row)),
        None => super::reply::empty(StatusCode::NOT_FOUND),
    }
}

/// `GET /ann/search` and `/ann/search/{logo_id}`: needs the logo index.
pub async fn ann_search(_state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    req.params.int_or("count", 1, Some(500), 100)?;
    server_type(&req)?;
    Err(ApiError::unavailable("index_not_ready", "index not ready"))
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/images/logos",
            handler(by_ids),
            Doc {
                summary: "Logos by id",
                params: &[P("logo_ids", "int_list", true, "logo ids (at most 500)")],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/images/logos/search",
            handler(search),
            Doc {
                summary: "Search logos",
                params: &[
                    SERVER_TYPE,
                    P("count", "logo_count", false, "1 to 2000"),
                    P("type", "string", false, "annotation type"),
                    BARCODE_Q,
                    P("value", "string", false, "annotation value"),
                    P("taxonomy_value", "string", false, "taxonomy value"),
                    P("min_confidence", "number", false, "minimum score"),
                    P("random", "boolean", false, "random order"),
                    P("annotated", "boolean", false, "annotated or not"),
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/images/logos/{logo_id:int}",
            handler(detail),
            Doc {
                summary: "One logo",
                params: &[LOGO_ID_PATH],
                body: None,
                ok: &[200],
                errors: &[404],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/ann/search",
            handler(ann_search),
            Doc {
                summary: "Nearest logos of a random logo",
                params: &[P("count", "ann_count", false, "1 to 500"), SERVER_TYPE],
                body: None,
                ok: &[200],
                errors: &[400, 503],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/ann/search/{logo_id:int}",
            handler(ann_search),
            Doc {
                summary: "Nearest logos of a logo",
                params: &[
                    LOGO_ID_PATH,
                    P("count", "ann_count", false, "1 to 500"),
                    SERVER_TYPE,
                ],
                body: None,
                ok: &[200],
                errors: &[400, 404, 503],
                security: Security::Public,
            },
        ),
    ]
}
