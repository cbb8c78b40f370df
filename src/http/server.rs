//! The warp filter of the whole API: bodies read within the limit, the web pages, every
//! other request handed to the router, rejections mapped to JSON errors, each request
//! counted and timed.

use super::error;
use super::params;
use super::router::ApiRequest;
use super::state::AppState;
use super::{routes, system, web};
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use warp::http::{HeaderMap, Method};
use warp::{Filter, Rejection, Reply};

/// Every route, with rejections mapped to JSON errors and each request counted and timed.
pub fn api(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let limit = state.settings.http.body_limit;
    let max_count = state.settings.http.max_count;
    let router = Arc::new(routes::router_with(state.settings.http.max_count));
    let labels = router.clone();
    let pages = web::pages(&state.settings);
    let log = warp::log::custom(move |info| {
        let template = if info.path() == "/metrics" {
            "/metrics"
        } else {
            web::label(info.path()).unwrap_or_else(|| labels.template_of(info.path()))
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
                    params.limit_count(max_count);
                    let is_form = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
                    // A GET's body is not a form: listings (and their cache keys) depend
                    // on the query string only.
                    let reads = method == Method::GET || method == Method::HEAD;
                    if is_form && !reads {
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
                .or(pages)
                .unify()
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
