//! `/insights*` reads and `/users/statistics` (spec api-db §1.2).

use super::auth::{device_id, parse_auth, voter, Voter};
use super::countries::countries_param;
use super::doc::{
    Doc, Security, BARCODE_PATH, BARCODE_Q, COUNT, COUNTRIES, DEVICE, P, PAGE, SERVER_TYPE,
};
use super::error::ApiError;
use super::params::{barcode_filter, normalize_barcode};
use super::questions::{body_response, cacheable, cached_json};
use super::reply::{bytes, db_error, empty, json};
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::{dto, server_type, AppState};
use crate::infra::db::insight_query::{self, InsightFilter, InsightOrder, VoteExclusion};
use crate::infra::db::stats;
use crate::types::ServerType;
use serde_json::{json, Value};
use uuid::Uuid;
use warp::http::Method;
use warp::http::StatusCode;
use warp::reply::Response;

/// `GET /insights`.
pub async fn list(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let (count, offset) = p.page_count(25, None)?;
    let mut f = InsightFilter::new(ServerType::Off);
    f.types = p.list_capped("insight_types", 10);
    f.barcode = barcode_filter(p);
    f.annotated = p.bool("annotated", true)?;
    f.annotation = p
        .int("annotation", None, None)?
        .map(|a| i32::try_from(a).unwrap_or(i32::MAX));
    f.value_tag = p.non_empty("value_tag").map(str::to_string);
    f.brands = p.list_capped("brands", 10);
    f.predictor = p.get("predictor").map(str::to_string);
    f.server_type = server_type(&req)?;
    f.countries = countries_param(p)?;
    let order = match p.get("order_by") {
        None => None,
        Some("random") => Some(InsightOrder::Random),
        Some("popularity") => Some(InsightOrder::Popularity),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_order_by",
                format!("invalid `order_by` value: {other}"),
            ))
        }
    };
    f.campaigns = p.list("campaigns").filter(|c| !c.is_empty());
    f.lc = p.list("lc").filter(|c| !c.is_empty());
    let device = device_id(p, &req.headers, req.peer);
    let auth = parse_auth(&req.headers)?;
    let excluded = match voter(auth.as_ref(), device) {
        Voter::Username(u) => VoteExclusion::Username(u),
        Voter::Device(d) => VoteExclusion::Device(d),
    };
    // Random listings are drawn anew each time; others may come from the cache.
    let key = if order != Some(InsightOrder::Random) && cacheable(&state, &excluded).await? {
        let k = super::cache::key(&req.path, p);
        if let Some(body) = state.cache.body(&k) {
            return Ok(body_response(body));
        }
        Some(k)
    } else {
        None
    };
    f.exclude_voted = Some(excluded);
    let rows = insight_query::list(&state.pool, &f, order, Some(count), offset)
        .await
        .map_err(db_error("listing insights"))?;
    let total = insight_query::count(&state.pool, &f, Some(100))
        .await
        .map_err(db_error("counting insights"))?;
    let insights: Vec<Value> = rows.iter().map(dto::insight).collect();
    let status = if insights.is_empty() {
        "no_insights"
    } else {
        "found"
    };
    cached_json(
        &state,
        key,
        &json!({"count": total, "insights": insights, "status": status}),
    )
}

/// `GET /insights/{barcode}`: every open insight of a product.
pub async fn by_barcode(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let barcode = normalize_barcode(req.path_param(0));
    let mut f = InsightFilter::new(server_type(&req)?);
    f.barcode = Some(barcode);
    let rows = insight_query::list(&state.pool, &f, None, None, 0)
        .await
        .map_err(db_error("listing the insights of a product"))?;
    if rows.is_empty() {
        return json(&json!({"status": "no_insights"}));
    }
    let insights: Vec<Value> = rows.iter().map(dto::insight).collect();
    json(&json!({"insights": insights, "status": "found"}))
}

/// `GET /insights/detail/{insight_id}`.
pub async fn detail(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let id =
        Uuid::parse_str(req.path_param(0)).map_err(|_| ApiError::not_found("no such insight"))?;
    let row = stats::insight(&state.pool, id)
        .await
        .map_err(db_error("reading an insight"))?
        .ok_or_else(|| ApiError::not_found(format!("insight {id} not found")))?;
    json(&dto::insight(&row))
}

/// `GET /insights/random`.
pub async fn random(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let mut f = InsightFilter::new(ServerType::Off);
    f.types = p.non_empty("type").map(|t| vec![t.to_string()]);
    f.value_tag = p.non_empty("value_tag").map(str::to_string);
    let count = p.int_or("count", 1, None, 25)?;
    f.predictor = p.get("predictor").map(str::to_string);
    f.server_type = server_type(&req)?;
    f.countries = countries_param(p)?;
    let rows = insight_query::list(&state.pool, &f, Some(InsightOrder::Random), Some(count), 0)
        .await
        .map_err(db_error("listing random insights"))?;
    let total = insight_query::count(&state.pool, &f, None)
        .await
        .map_err(db_error("counting insights"))?;
    let insights: Vec<Value> = rows.iter().map(dto::insight).collect();
    let status = if insights.is_empty() {
        "no_insights"
    } else {
        "found"
    };
    json(&json!({"count": total, "insights": insights, "status": status}))
}

/// Above this many matching insights, `/insights/dump` needs an explicit `count`.
const DUMP_LIMIT: i64 = 10_000;

/// `GET /insights/dump`: matching insights as CSV.
pub async fn dump(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let mut f = InsightFilter::new(ServerType::Off);
    let mut types = p.list("insight_types").unwrap_or_default();
    types.truncate(10);
    f.types = Some(types);
    f.barcode = barcode_filter(p);
    f.annotated = p.bool("annotated", false)?;
    f.value_tag = p.non_empty("value_tag").map(str::to_string);
    let count = p.int("count", Some(0), Some(DUMP_LIMIT))?;
    f.server_type = server_type(&req)?;
    let total = insight_query::count(&state.pool, &f, Some(DUMP_LIMIT + 1))
        .await
        .map_err(db_error("counting insights to dump"))?;
    if total > DUMP_LIMIT && count.is_none() {
        let exact = insight_query::count(&state.pool, &f, None)
            .await
            .map_err(db_error("counting insights to dump"))?;
        return Err(ApiError::bad_request(
            "too_many_insights",
            format!(
                "more than 10 000 insights matching criteria (here: {exact}), use more specific criteria or use count parameter"
            ),
        ));
    }
    let rows = insight_query::list(&state.pool, &f, None, Some(count.unwrap_or(DUMP_LIMIT)), 0)
        .await
        .map_err(db_error("dumping insights"))?;
    if rows.is_empty() {
        return empty(StatusCode::NO_CONTENT);
    }
    let mut out = String::new();
    let mut header_written = false;
    for row in &rows {
        let v = dto::insight(row);
        let Some(obj) = v.as_object() else { continue };
        if !header_written {
            let header: Vec<String> = obj.keys().map(|k| csv_field(k)).collect();
            out.push_str(&header.join(","));
            out.push_str("\r\n");
            header_written = true;
        }
        let cells: Vec<String> = obj.values().map(|v| csv_field(&python_text(v))).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    Ok(bytes(out.into_bytes(), "text/csv", StatusCode::OK))
}

/// A value as Python's `csv` module writes it: `None` empty, booleans `True`/`False`,
/// lists and objects in Python repr.
fn python_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    python_repr(&Value::String(k.clone())),
                    python_repr(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A CSV cell quoted when it holds a separator, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `GET /users/statistics/{username}`.
pub async fn user_statistics(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let n = stats::annotations_by(&state.pool, req.path_param(0))
        .await
        .map_err(db_error("counting a user's annotations"))?;
    json(&json!({"count": {"annotations": n}}))
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/insights",
            handler(list),
            Doc {
                summary: "Insights",
                params: &[
                    COUNT,
                    PAGE,
                    P("insight_types", "list", false, "insight types (first 10)"),
                    BARCODE_Q,
                    P("annotated", "boolean", false, "annotated or not"),
                    P("annotation", "integer", false, "annotation value"),
                    P("value_tag", "string", false, "value tag"),
                    P("brands", "list", false, "brands (first 10)"),
                    P("predictor", "string", false, "predictor"),
                    SERVER_TYPE,
                    COUNTRIES,
                    P(
                        "order_by",
                        "order_by_insights",
                        false,
                        "random or popularity",
                    ),
                    P("campaigns", "list", false, "campaigns"),
                    P("lc", "list", false, "language codes (any)"),
                    DEVICE,
                ],
                body: None,
                ok: &[200],
                errors: &[400, 401],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/insights/{barcode}",
            handler(by_barcode),
            Doc {
                summary: "Open insights of a product",
                params: &[BARCODE_PATH, SERVER_TYPE],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/insights/detail/{insight_id:uuid}",
            handler(detail),
            Doc {
                summary: "One insight",
                params: &[P("insight_id", "path_uuid", true, "insight id")],
                body: None,
                ok: &[200],
                errors: &[404],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/insights/random",
            handler(random),
            Doc {
                summary: "Random open insights",
                params: &[
                    P("type", "string", false, "insight type"),
                    P("value_tag", "string", false, "value tag"),
                    COUNT,
                    P("predictor", "string", false, "predictor"),
                    SERVER_TYPE,
                    COUNTRIES,
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/insights/dump",
            handler(dump),
            Doc {
                summary: "Insights as CSV",
                params: &[
                    P(
                        "insight_types",
                        "list",
                        false,
                        "insight types (required to match anything)",
                    ),
                    BARCODE_Q,
                    P("annotated", "boolean", false, "annotated or not"),
                    P("value_tag", "string", false, "value tag"),
                    P("count", "dump_count", false, "maximum rows (0 to 10000)"),
                    SERVER_TYPE,
                ],
                body: None,
                ok: &[200, 204],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/users/statistics/{username}",
            handler(user_statistics),
            Doc {
                summary: "Annotations of a user",
                params: &[P("username", "path", true, "username")],
                body: None,
                ok: &[200],
                errors: &[],
                security: Security::Public,
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_read_like_python() {
        assert_eq!(python_text(&json!(null)), "");
        assert_eq!(python_text(&json!(true)), "True");
        assert_eq!(
            python_text(&json!(["en:france", "en:world"])),
            "['en:france', 'en:world']"
        );
        assert_eq!(
            python_text(&json!({"a": 1, "b": null})),
            "{'a': 1, 'b': None}"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("x\"y"), "\"x\"\"y\"");
    }
}
