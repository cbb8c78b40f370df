//! `/images/logos*`, and `/ann/search` (spec api-db §1.4).

use super::doc::{Doc, Security, BARCODE_Q, LOGO_ID_PATH, P, SERVER_TYPE};
use super::error::ApiError;
use super::params::barcode_filter;
use super::params::server_type_named;
use super::reply::{db_error, json};
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::{dto, server_type, AppState};
use crate::actors::logo_index::{LogoIndexError, LogoIndexMsg};
use crate::actors::LOGO_INDEX;
use crate::ann::store::from_le_bytes;
use crate::ann::{Neighbor, EMBEDDING_DIM};
use crate::infra::db::logo_index;
use crate::infra::db::logos::{self, LogoSearch};
use crate::text::get_tag;
use crate::types::ServerType;
use serde_json::{json, Value};
use std::time::Duration;
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

/// How long a search waits for the logo index.
const ANN_TIMEOUT: Duration = Duration::from_secs(10);

/// The `count` nearest logos of `query` among `server_type`'s, `exclude` left out, from
/// the node's logo index.
async fn nearest(
    state: &AppState,
    query: Vec<f32>,
    count: usize,
    server_type: ServerType,
    exclude: Option<i64>,
) -> Result<Vec<Neighbor>, ApiError> {
    let names = &state.services.names;
    let unavailable = || {
        ApiError::unavailable(
            "index_not_ready",
            "the logo index is not ready, retry later",
        )
        .with_retry_after(5)
    };
    let index = names
        .lookup::<LogoIndexMsg>(&names.of(LOGO_INDEX))
        .ok_or_else(unavailable)?;
    let answer = crate::actors::call(
        &index,
        |reply| LogoIndexMsg::Search {
            query,
            k: count,
            server_type: Some(server_type),
            exclude,
            reply,
        },
        ANN_TIMEOUT,
    )
    .await
    .map_err(|_| unavailable())?;
    match answer {
        Ok(found) => Ok(found),
        Err(LogoIndexError::NotReady) => Err(unavailable()),
        Err(LogoIndexError::Index(e)) => Err(ApiError::internal(format!("logo index: {e}"))),
    }
}

fn ann_results(found: &[Neighbor], query_logo_id: Option<i32>) -> Result<Response, ApiError> {
    let results: Vec<Value> = found
        .iter()
        .map(|n| json!({"logo_id": n.logo_id, "distance": f64::from(n.distance)}))
        .collect();
    json(&json!({
        "results": results,
        "count": results.len(),
        "query_logo_id": query_logo_id,
    }))
}

/// `GET /ann/search` and `/ann/search/{logo_id}` (spec pipeline §6.4): the nearest logos
/// of a logo (404 with an empty body when it has no embedding) or of a random logo of
/// the flavor.
pub async fn ann_search(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let count = req.params.int_or("count", 1, Some(500), 100)? as usize;
    let st = server_type(&req)?;
    let query = if !req.path_params.is_empty() {
        let Some(id) = logo_id(&req) else {
            return super::reply::empty(StatusCode::NOT_FOUND);
        };
        match logo_index::embedding_of(&state.pool, id)
            .await
            .map_err(db_error("reading a logo embedding"))?
        {
            Some(bytes) => (id, bytes),
            None => return super::reply::empty(StatusCode::NOT_FOUND),
        }
    } else {
        let mut conn = state
            .pool
            .acquire()
            .await
            .map_err(db_error("picking a random logo"))?;
        match logo_index::random_embedded(&mut conn, st.name())
            .await
            .map_err(db_error("picking a random logo"))?
        {
            Some(row) => row,
            None => return ann_results(&[], None),
        }
    };
    let (id, bytes) = query;
    let vector = from_le_bytes(&bytes)
        .map_err(|e| ApiError::internal(format!("logo {id}: stored embedding: {e}")))?;
    let found = nearest(&state, vector, count, st, Some(i64::from(id))).await?;
    ann_results(&found, Some(id))
}

/// `POST /ann/search`: the nearest logos of a given embedding (`{"embedding": [512
/// numbers], "count": 100, "server_type": "off"}`).
pub async fn ann_search_embedding(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let body = req.json_body()?;
    let bad = |m: String| ApiError::bad_request("invalid_request", m);
    let Some(values) = body.get("embedding").and_then(Value::as_array) else {
        return Err(bad("`embedding` must be an array of 512 numbers".into()));
    };
    if values.len() != EMBEDDING_DIM {
        return Err(bad(format!(
            "`embedding` has {} values, expected {EMBEDDING_DIM}",
            values.len()
        )));
    }
    let mut vector = Vec::with_capacity(EMBEDDING_DIM);
    for v in values {
        match v.as_f64().map(|x| x as f32) {
            Some(x) if x.is_finite() => vector.push(x),
            _ => {
                return Err(bad(
                    "`embedding` must hold numbers within the float32 range only".into(),
                ))
            }
        }
    }
    if vector.iter().all(|x| *x == 0.0) {
        return Err(bad("`embedding` must not be all zeros".into()));
    }
    let count = match body.get("count") {
        None | Some(Value::Null) => 100,
        Some(c) => match c.as_u64() {
            Some(n) if (1..=500).contains(&n) => n as usize,
            _ => return Err(bad("`count` must be an integer from 1 to 500".into())),
        },
    };
    let st = match body.get("server_type") {
        None | Some(Value::Null) => ServerType::Off,
        Some(Value::String(name)) => server_type_named(name)?,
        Some(_) => return Err(bad("`server_type` must be a string".into())),
    };
    let found = nearest(&state, vector, count, st, None).await?;
    ann_results(&found, None)
}

fn ann_search_body() -> Value {
    json!({
        "type": "object",
        "required": ["embedding"],
        "properties": {
            "embedding": {"type": "array", "items": {"type": "number"}, "minItems": 512, "maxItems": 512},
            "count": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
            "server_type": {"type": "string", "enum": ["off", "obf", "opff", "opf", "off_pro"]}
        }
    })
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
            Method::POST,
            "/api/v1/ann/search",
            handler(ann_search_embedding),
            Doc {
                summary: "Nearest logos of an embedding",
                params: &[],
                body: Some(ann_search_body),
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
