//! `/questions*`: open insights formatted as questions (spec api-db §1.1, §5).

use super::auth::{device_id, parse_auth, voter};
use super::cache::{QuestionCandidate, QuestionPool};
use super::countries::countries_param;
use super::doc::{
    Doc, Security, BARCODE_PATH, COUNT, COUNTRIES, DEVICE, INSIGHT_TYPES, LANG, P, PAGE,
    QUESTION_LIST, SERVER_TYPE,
};
use super::error::ApiError;
use super::params::normalize_barcode;
use super::reply::{db_error, json};
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::{server_type, AppState};
use crate::infra::db::insight_query::{self, InsightFilter, InsightOrder, VoteExclusion};
use crate::infra::db::rows::InsightRow;
use crate::infra::db::stats;
use crate::questions::{self, InsightView, Question, QuestionContext};
use crate::types::ServerType;
use serde_json::json;
use warp::http::Method;
use warp::reply::Response;

/// Robotoff caps the counts of question listings at this value.
const MAX_COUNT: i64 = 100;

/// The cache key of a voter.
pub fn voter_key(e: &VoteExclusion) -> String {
    match e {
        VoteExclusion::Username(u) => crate::annotation::request::user_key(u),
        VoteExclusion::Device(d) => crate::annotation::request::device_key(d),
    }
}

/// Whether listings for this caller may come from the cache: caching is on and the
/// caller has never voted (remembered for the cache's TTL).
pub async fn cacheable(state: &AppState, e: &VoteExclusion) -> Result<bool, ApiError> {
    if !state.cache.enabled() {
        return Ok(false);
    }
    let key = voter_key(e);
    let voted = match state.cache.voted(&key) {
        Some(v) => v,
        None => {
            let (user, device) = match e {
                VoteExclusion::Username(u) => (Some(u.as_str()), ""),
                VoteExclusion::Device(d) => (None, d.as_str()),
            };
            let v = stats::has_voted(&state.pool, user, device)
                .await
                .map_err(db_error("checking the caller's votes"))?;
            state.cache.set_voted(key, v);
            v
        }
    };
    Ok(!voted)
}

/// Serialises `value`, remembering the body under `key` when given.
pub fn cached_json(
    state: &AppState,
    key: Option<String>,
    value: &serde_json::Value,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("serialising a listing: {e}")))?;
    let bytes = bytes::Bytes::from(body);
    if let Some(k) = key {
        state.cache.set_body(k, bytes.clone());
    }
    Ok(body_response(bytes))
}

pub fn body_response(body: bytes::Bytes) -> Response {
    super::reply::bytes(
        body.to_vec(),
        "application/json",
        warp::http::StatusCode::OK,
    )
}

pub fn exclusion(req: &ApiRequest) -> Result<VoteExclusion, ApiError> {
    let device = device_id(&req.params, &req.headers, req.peer);
    let auth = parse_auth(&req.headers)?;
    Ok(match voter(auth.as_ref(), device) {
        super::auth::Voter::Username(u) => VoteExclusion::Username(u),
        super::auth::Voter::Device(d) => VoteExclusion::Device(d),
    })
}

/// `GET /questions/{barcode}`.
pub async fn by_barcode(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let barcode = normalize_barcode(req.path_param(0));
    let count = p.int_or("count", 1, None, 25)?;
    let lang = p.get_or("lang", "en").to_string();
    let st = server_type(&req)?;
    let excluded = exclusion(&req)?;
    let mut filter = InsightFilter::questions(st);
    filter.barcode = Some(barcode);
    filter.types = Some(questions::question_types(
        p.list("insight_types").as_deref(),
    ));
    let key = if cacheable(&state, &excluded).await? {
        let k = super::cache::key(&req.path, p);
        if let Some(body) = state.cache.body(&k) {
            return Ok(body_response(body));
        }
        Some(k)
    } else {
        None
    };
    filter.exclude_voted = Some(excluded);
    let mut rows = insight_query::list(
        &state.pool,
        &filter,
        Some(InsightOrder::NVotes),
        Some(count),
        0,
    )
    .await
    .map_err(db_error("listing the questions of a product"))?;
    rows.sort_by_key(|r| questions::type_priority(&r.kind));
    if rows.is_empty() {
        return cached_json(
            &state,
            key,
            &json!({"questions": [], "status": "no_questions"}),
        );
    }
    let questions = format_all(&state, &rows, &lang, st).await?;
    cached_json(
        &state,
        key,
        &json!({"questions": questions, "status": "found"}),
    )
}

/// `GET /questions` (order from `order_by`), `/questions/random`, `/questions/popular`.
pub async fn collection(
    state: AppState,
    req: ApiRequest,
    forced: Option<InsightOrder>,
) -> Result<Response, ApiError> {
    let p = &req.params;
    let order = match forced {
        Some(o) => o,
        None => match p.get_or("order_by", "popularity") {
            "popularity" => InsightOrder::Popularity,
            "random" => InsightOrder::Random,
            "confidence" => InsightOrder::Confidence,
            other => {
                return Err(ApiError::bad_request(
                    "invalid_order_by",
                    format!("invalid '{other}' value for `order_by` parameter"),
                ))
            }
        },
    };
    let (count, offset) = p.page_count(25, None)?;
    let lang = p.get_or("lang", "en").to_string();
    let mut filter = InsightFilter::questions(ServerType::Off);
    filter.types = Some(questions::question_types(
        p.list("insight_types").as_deref(),
    ));
    filter.value_tag = p.non_empty("value_tag").map(str::to_string);
    filter.brands = p.list_capped("brands", 10);
    let include_reserved = p.bool("reserved_barcode", true)?.unwrap_or(false);
    filter.reserved_barcode = if include_reserved { None } else { Some(false) };
    filter.server_type = server_type(&req)?;
    filter.countries = countries_param(p)?;
    filter.campaigns = campaigns(p);
    filter.with_image = p.bool("with_image", true)?;
    filter.predictor = p.get("predictor").map(str::to_string);
    let excluded = exclusion(&req)?;
    let key = if cacheable(&state, &excluded).await? {
        let k = super::cache::key(&format!("{}#{order:?}", req.path), p);
        if order == InsightOrder::Random {
            let pool = match state.cache.pool(&k) {
                Some(pool) => pool,
                None => {
                    let pool =
                        std::sync::Arc::new(random_pool(&state, &filter, count, &lang).await?);
                    state.cache.set_pool(k, pool.clone());
                    pool
                }
            };
            let drawn = pool.draw(usize::try_from(count).unwrap_or(usize::MAX));
            let status = if drawn.is_empty() {
                "no_questions"
            } else {
                "found"
            };
            return json(&json!({"count": pool.count, "questions": drawn, "status": status}));
        }
        if let Some(body) = state.cache.body(&k) {
            return Ok(body_response(body));
        }
        Some(k)
    } else {
        None
    };
    filter.exclude_voted = Some(excluded);
    let rows = insight_query::list(&state.pool, &filter, Some(order), Some(count), offset)
        .await
        .map_err(db_error("listing questions"))?;
    let total = insight_query::count(&state.pool, &filter, Some(MAX_COUNT))
        .await
        .map_err(db_error("counting questions"))?;
    if rows.is_empty() {
        return cached_json(
            &state,
            key,
            &json!({"count": total, "questions": [], "status": "no_questions"}),
        );
    }
    let questions = format_all(&state, &rows, &lang, filter.server_type).await?;
    cached_json(
        &state,
        key,
        &json!({"count": total, "questions": questions, "status": "found"}),
    )
}

/// Formatted random candidates for `filter` (no vote exclusion: the caller has none)
/// and the capped count: enough candidates for many draws of `count`.
async fn random_pool(
    state: &AppState,
    filter: &InsightFilter,
    count: i64,
    lang: &str,
) -> Result<QuestionPool, ApiError> {
    let size = count.saturating_mul(10).clamp(100, 1000);
    let rows = insight_query::random_candidates(&state.pool, filter, size)
        .await
        .map_err(db_error("sampling questions"))?;
    let total = insight_query::count(&state.pool, filter, Some(MAX_COUNT))
        .await
        .map_err(db_error("counting questions"))?;
    let weights: std::collections::HashMap<String, f64> = rows
        .iter()
        .map(|r| (r.id.to_string(), f64::from(r.n_votes.max(0)) + 1.0))
        .collect();
    let questions = format_all(state, &rows, lang, filter.server_type).await?;
    let candidates = questions
        .into_iter()
        .filter_map(|q| {
            let weight = weights.get(&q.insight_id).copied().unwrap_or(1.0);
            serde_json::to_value(&q)
                .ok()
                .map(|question| QuestionCandidate { weight, question })
        })
        .collect();
    Ok(QuestionPool::new(total, candidates))
}

/// `campaigns`, or the deprecated single `campaign`.
fn campaigns(p: &super::params::Params) -> Option<Vec<String>> {
    p.list("campaigns")
        .filter(|c| !c.is_empty())
        .or_else(|| p.get("campaign").map(|c| vec![c.to_string()]))
}

/// `GET /questions/unanswered`: open questions grouped by value tag.
pub async fn unanswered(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let (count, offset) = p.page_count(25, None)?;
    let mut filter = InsightFilter::questions(ServerType::Off);
    filter.types = p.non_empty("type").map(|t| vec![t.to_string()]);
    filter.countries = countries_param(p)?;
    filter.reserved_barcode = Some(p.bool("reserved_barcode", true)?.unwrap_or(false));
    filter.server_type = server_type(&req)?;
    filter.campaigns = campaigns(p);
    filter.predictor = p.get("predictor").map(str::to_string);
    let groups = insight_query::group_by_value_tag(&state.pool, &filter, count, offset)
        .await
        .map_err(db_error("grouping open questions by value tag"))?;
    let total = insight_query::count(&state.pool, &filter, None)
        .await
        .map_err(db_error("counting open questions"))?;
    let status = if groups.is_empty() {
        "no_questions"
    } else {
        "found"
    };
    let groups: Vec<serde_json::Value> =
        groups.into_iter().map(|(tag, n)| json!([tag, n])).collect();
    json(&json!({"count": total, "questions": groups, "status": status}))
}

/// `GET /questions/counts?barcodes=...`: open questions per barcode, for up to 100
/// barcodes, in one query.
pub async fn counts(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let raw = p.list("barcodes").unwrap_or_default();
    let barcodes: Vec<String> = raw
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| normalize_barcode(b))
        .collect();
    if barcodes.is_empty() {
        return Err(super::params::missing("barcodes"));
    }
    if barcodes.len() > 100 {
        return Err(ApiError::bad_request(
            "too_many_barcodes",
            format!("too many barcodes requested ({}), max: 100", barcodes.len()),
        ));
    }
    let st = server_type(&req)?;
    let types = questions::question_types(p.list("insight_types").as_deref());
    let found = stats::open_question_counts(&state.pool, st, &barcodes, &types)
        .await
        .map_err(db_error("counting open questions per barcode"))?;
    let mut out = serde_json::Map::new();
    for b in barcodes {
        let n = found.get(&b).copied().unwrap_or(0);
        out.insert(b, json!(n));
    }
    json(&json!({"counts": out, "server_type": st.name()}))
}

/// Formats rows as questions, reading product images once for those that need them.
pub async fn format_all(
    state: &AppState,
    rows: &[InsightRow],
    lang: &str,
    st: ServerType,
) -> Result<Vec<Question>, ApiError> {
    let mut need: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == "category" || r.kind == "brand")
        .map(|r| r.barcode.clone())
        .collect();
    need.sort();
    need.dedup();
    let images = if need.is_empty() {
        Default::default()
    } else {
        stats::product_images(&state.pool, st, &need)
            .await
            .map_err(db_error("reading product images for questions"))?
    };
    let res = &state.resources;
    let ctx = QuestionContext {
        translations: &res.translations,
        taxonomies: &res.taxonomies,
        label_logos: &res.label_logos,
        images_url: &state.settings.product_opener.flavor(st).images_url,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let view = InsightView {
            id: r.id.to_string(),
            barcode: &r.barcode,
            server_type: r.server_type.as_deref().unwrap_or(st.name()),
            kind: &r.kind,
            value: r.value.as_deref(),
            value_tag: r.value_tag.as_deref(),
            source_image: r.source_image.as_deref(),
            predictor: r.predictor.as_deref(),
            data: &r.data,
        };
        let product_images = images.get(&r.barcode).and_then(|v| v.as_object());
        if let Some(q) = questions::format(&ctx, &view, lang, product_images) {
            out.push(q);
        }
    }
    Ok(out)
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/questions/{barcode}",
            handler(by_barcode),
            Doc {
                summary: "Questions about one product",
                params: &[
                    BARCODE_PATH,
                    COUNT,
                    LANG,
                    SERVER_TYPE,
                    INSIGHT_TYPES,
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
            "/api/v1/questions",
            handler(|s, q| collection(s, q, None)),
            Doc {
                summary: "Questions, by popularity, randomly or by confidence",
                params: &[
                    P(
                        "order_by",
                        "order_by_questions",
                        false,
                        "popularity (default), random or confidence",
                    ),
                    PAGE,
                    COUNT,
                    LANG,
                    INSIGHT_TYPES,
                    P("value_tag", "string", false, "value tag"),
                    P("brands", "list", false, "brand tags (any, first 10)"),
                    P(
                        "reserved_barcode",
                        "boolean",
                        false,
                        "include reserved barcodes",
                    ),
                    SERVER_TYPE,
                    COUNTRIES,
                    P("campaigns", "list", false, "campaigns (all must match)"),
                    P("campaign", "string", false, "deprecated single campaign"),
                    P(
                        "with_image",
                        "boolean",
                        false,
                        "only insights with (or without) an image",
                    ),
                    P("predictor", "string", false, "predictor"),
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
            "/api/v1/questions/random",
            handler(|s, q| collection(s, q, Some(InsightOrder::Random))),
            Doc {
                summary: "Random questions (biased towards voted ones)",
                params: QUESTION_LIST,
                body: None,
                ok: &[200],
                errors: &[400, 401],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/questions/popular",
            handler(|s, q| collection(s, q, Some(InsightOrder::Popularity))),
            Doc {
                summary: "Questions about the most scanned products",
                params: QUESTION_LIST,
                body: None,
                ok: &[200],
                errors: &[400, 401],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/questions/unanswered",
            handler(unanswered),
            Doc {
                summary: "Open questions grouped by value tag",
                params: &[
                    PAGE,
                    COUNT,
                    P("type", "string", false, "insight type"),
                    COUNTRIES,
                    P(
                        "reserved_barcode",
                        "boolean",
                        false,
                        "only reserved barcodes when true",
                    ),
                    SERVER_TYPE,
                    P("campaigns", "list", false, "campaigns"),
                    P("campaign", "string", false, "deprecated single campaign"),
                    P("predictor", "string", false, "predictor"),
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/questions/counts",
            handler(counts),
            Doc {
                summary: "Open questions per barcode (up to 100 barcodes)",
                params: &[
                    P("barcodes", "list", true, "barcodes"),
                    SERVER_TYPE,
                    INSIGHT_TYPES,
                ],
                body: None,
                ok: &[200],
                errors: &[400],
                security: Security::Public,
            },
        ),
    ]
}
