//! The HTTP API (warp): one filter hands every request to the API's router
//! ([`router`]); resource modules hold the handlers; one error format; request metrics.

pub mod annotate;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod countries;
pub mod dto;
pub mod error;
pub mod insights;
pub mod logos;
pub mod openapi;
pub mod params;
pub mod predict;
pub mod questions;
pub mod reply;
pub mod router;
pub mod routes;
pub mod system;
pub mod webhook;

use crate::actors::Names;
use crate::config::Settings;
use crate::i18n::Translations;
use crate::infra::image_fetch::ImageHosts;
use crate::ocr::OcrResources;
use crate::taxonomy::Taxonomies;
use crate::types::ServerType;
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use router::ApiRequest;
use sqlx::PgPool;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use warp::http::{HeaderMap, Method};
use warp::{Filter, Rejection, Reply};

/// Data the read endpoints format with, loaded once.
pub struct Resources {
    pub translations: Translations,
    pub taxonomies: Taxonomies,
    /// Label tag → logo URL (`label_logos.json`).
    pub label_logos: HashMap<String, String>,
    pub ocr: Arc<OcrResources>,
}

impl Resources {
    /// Reads translations and the label logo map from the data directory; taxonomies
    /// and OCR data are read on first use.
    pub fn load(data_dir: &std::path::Path) -> Result<Resources, String> {
        let translations = Translations::load(&data_dir.join("i18n")).map_err(|e| e.to_string())?;
        let logos_path = data_dir.join("label_logos.json");
        let label_logos = match std::fs::read_to_string(&logos_path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("invalid {}: {e}", logos_path.display()))?,
            Err(_) => HashMap::new(),
        };
        Ok(Resources {
            translations,
            taxonomies: Taxonomies::new(data_dir),
            label_logos,
            ocr: Arc::new(OcrResources::new(data_dir)),
        })
    }
}

impl Resources {
    /// Loads the taxonomies questions are formatted with (so the first requests do not
    /// wait for them). Failures are logged; formatting then falls back to tags.
    pub fn warm_up(&self) {
        use crate::taxonomy::TaxonomyType as T;
        for kind in [
            T::Category,
            T::Label,
            T::PackagingShape,
            T::PackagingMaterial,
            T::PackagingRecycling,
        ] {
            if let Err(e) = self.taxonomies.get(kind) {
                tracing::warn!(taxonomy = kind.name(), error = %e, "could not load a taxonomy");
            }
        }
    }
}

/// What handlers need: the pool for reads, actor names for writes, settings.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub names: Names,
    pub redis: Option<redis::Client>,
    pub resources: Arc<Resources>,
    /// Downloads from the configured image hosts only.
    pub image_hosts: ImageHosts,
    /// Listings served from memory to callers who have not voted.
    pub cache: Arc<cache::ListingCache>,
    /// The node's services, for calls to product shards.
    pub services: crate::actors::Services,
}

/// `server_type` of a request: from a JSON body's `server_type` key when there is one,
/// else from the parameters; default `off` (spec api-db §0.2).
pub fn server_type(req: &ApiRequest) -> Result<ServerType, error::ApiError> {
    if req.is_json() {
        if let Ok(serde_json::Value::Object(body)) =
            serde_json::from_slice::<serde_json::Value>(&req.body)
        {
            if let Some(v) = body.get("server_type") {
                let name = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                return params::server_type_named(&name);
            }
        }
    }
    req.params.server_type()
}

/// Every route, with rejections mapped to JSON errors and each request counted and timed.
pub fn api(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let limit = state.settings.http.body_limit;
    let router = Arc::new(routes::router());
    let labels = router.clone();
    let log = warp::log::custom(move |info| {
        let template = if info.path() == "/metrics" {
            "/metrics"
        } else {
            labels.template_of(info.path())
        };
        crate::infra::metrics::http_request(
            template,
            info.method().as_str(),
            info.status().as_u16(),
            info.elapsed(),
        );
    });
    let dispatch = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(body_limited(limit))
        .then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  peer: Option<SocketAddr>,
                  body: Result<Bytes, error::ApiError>| {
                let state = state.clone();
                let router = router.clone();
                async move {
                    let body = match body {
                        Ok(b) => b,
                        Err(e) => return e.into_response(),
                    };
                    let mut params = params::Params::parse(&query);
                    let is_form = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
                    if is_form {
                        params.merge_str(&String::from_utf8_lossy(&body), true);
                    }
                    let req = ApiRequest {
                        method,
                        path: path.as_str().to_string(),
                        params,
                        headers,
                        body,
                        peer,
                        path_params: Vec::new(),
                    };
                    router.dispatch(state, req).await
                }
            },
        );
    body_limit(limit)
        .and(
            system::metrics()
                .map(Reply::into_response)
                .or(dispatch)
                .unify(),
        )
        .recover(error::recover)
        .with(log)
}

/// The body, read up to `limit` bytes (bodies sent without a length are capped too).
fn body_limited(
    limit: u64,
) -> impl Filter<Extract = (Result<Bytes, error::ApiError>,), Error = Rejection> + Clone {
    warp::body::stream().then(move |stream| collect_body(stream, limit))
}

async fn collect_body<S, B>(stream: S, limit: u64) -> Result<Bytes, error::ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = Box::pin(stream);
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| {
            error::ApiError::bad_request(
                "invalid_body",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if (buf.len() + chunk.remaining()) as u64 > limit {
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            buf.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

fn too_large(limit: u64) -> error::ApiError {
    error::ApiError::new(
        warp::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is over the limit of {limit} bytes"),
    )
}

/// Rejects a request whose declared body is larger than `limit` bytes. Handlers that
/// read a body also cap what they read, for bodies sent without a length.
fn body_limit(limit: u64) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |length: Option<u64>| async move {
            match length {
                Some(n) if n > limit => Err(reject(error::ApiError::new(
                    warp::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("request body of {n} bytes is over the limit of {limit} bytes"),
                ))),
                _ => Ok(()),
            }
        })
        .untuple_one()
}

/// Rejects with an [`error::ApiError`].
pub fn reject(err: error::ApiError) -> Rejection {
    warp::reject::custom(err)
}
