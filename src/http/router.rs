//! The API's own router: path templates with typed segments where literal segments
//! win over variables, trailing slashes ignored, 404/405, CORS as Robotoff's Falcon
//! middleware answers it, and the request value handlers receive.

use super::doc::Doc;
use super::error::ApiError;
use super::params::Params;
use super::AppState;
use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;
use warp::Reply;

/// One request, as handlers see it.
#[derive(Debug)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    /// Query string merged with an urlencoded form body.
    pub params: Params,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: Option<SocketAddr>,
    /// Values of the template's variable segments, in order.
    pub path_params: Vec<String>,
}

impl ApiRequest {
    /// The `i`-th path variable (always present for a matched route).
    pub fn path_param(&self, i: usize) -> &str {
        self.path_params.get(i).map(String::as_str).unwrap_or("")
    }

    /// An integer path variable (the template guarantees it parses).
    pub fn path_int(&self, i: usize) -> i64 {
        self.path_param(i).parse().unwrap_or_default()
    }

    /// The JSON body, or a 400 naming what is wrong with it.
    pub fn json_body(&self) -> Result<serde_json::Value, ApiError> {
        if self.body.is_empty() {
            return Err(
                ApiError::bad_request("invalid_body", "a JSON body is required")
                    .with_title("Invalid JSON"),
            );
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request("invalid_body", format!("the body is not valid JSON: {e}"))
                .with_title("Invalid JSON")
        })
    }

    /// Whether the body was sent as JSON.
    pub fn is_json(&self) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"))
    }
}

/// `server_type` of a request: from a JSON body's `server_type` key when there is one,
/// else from the parameters; default `off` (spec api-db §0.2).
pub fn server_type(req: &ApiRequest) -> Result<crate::types::ServerType, ApiError> {
    if req.is_json() {
        if let Ok(serde_json::Value::Object(body)) =
            serde_json::from_slice::<serde_json::Value>(&req.body)
        {
            if let Some(v) = body.get("server_type") {
                let name = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                return super::params::server_type_named(&name);
            }
        }
    }
    req.params.server_type()
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
pub type Handler = Arc<dyn Fn(AppState, ApiRequest) -> HandlerFuture + Send + Sync>;

/// Wraps an async function as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(AppState, ApiRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    Arc::new(move |state, req| Box::pin(f(state, req)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Int,
    Uuid,
    Any,
}

impl Segment {
    fn parse(s: &'static str) -> Segment {
        if !s.starts_with('{') {
            return Segment::Literal(s);
        }
        if s.ends_with(":int}") {
            Segment::Int
        } else if s.ends_with(":uuid}") {
            Segment::Uuid
        } else {
            Segment::Any
        }
    }

    /// Lower ranks win: literals, then typed variables, then plain ones.
    fn rank(self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Int | Segment::Uuid => 1,
            Segment::Any => 2,
        }
    }

    fn matches(self, s: &str) -> bool {
        match self {
            Segment::Literal(l) => l == s,
            Segment::Int => !s.is_empty() && s.parse::<i64>().is_ok(),
            Segment::Uuid => Uuid::parse_str(s).is_ok(),
            Segment::Any => !s.is_empty(),
        }
    }
}

/// A route: a method on a template such as `/api/v1/insights/detail/{insight_id:uuid}`.
pub struct Route {
    pub method: Method,
    pub template: &'static str,
    /// What the OpenAPI document says of it.
    pub doc: Doc,
    segments: Vec<Segment>,
    handler: Handler,
}

impl Route {
    pub fn new(method: Method, template: &'static str, handler: Handler, doc: Doc) -> Route {
        let segments = template
            .trim_matches('/')
            .split('/')
            .map(Segment::parse)
            .collect();
        Route {
            method,
            template,
            doc,
            segments,
            handler,
        }
    }

    /// The template with types removed (`{logo_id}`), as OpenAPI writes it.
    pub fn openapi_path(&self) -> String {
        let mut out = String::new();
        for part in self.template.trim_matches('/').split('/') {
            out.push('/');
            match part.split_once(':') {
                Some((name, _)) if part.starts_with('{') => {
                    out.push_str(name);
                    out.push('}');
                }
                _ => out.push_str(part),
            }
        }
        out
    }

    fn rank(&self, segments: &[&str]) -> Option<Vec<u8>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let ok = self
            .segments
            .iter()
            .zip(segments)
            .all(|(t, s)| t.matches(s));
        ok.then(|| self.segments.iter().map(|s| s.rank()).collect())
    }
}

/// What a path resolved to.
pub enum Resolution<'r> {
    Found(&'r Route, Vec<String>),
    /// The path exists with other methods.
    WrongMethod(Vec<Method>),
    NotFound,
}

pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Router {
        Router { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The best template for `path` (trailing slashes ignored): among matching
    /// templates, the one with a literal segment earliest wins.
    fn best(&self, path: &str) -> Option<(&'static str, Vec<String>)> {
        let trimmed = path.trim_end_matches('/');
        let segments: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
        let mut best: Option<(Vec<u8>, &Route)> = None;
        for route in &self.routes {
            if let Some(rank) = route.rank(&segments) {
                if best.as_ref().is_none_or(|(b, _)| rank < *b) {
                    best = Some((rank, route));
                }
            }
        }
        let (_, route) = best?;
        let vars = route
            .segments
            .iter()
            .zip(&segments)
            .filter(|(t, _)| !matches!(t, Segment::Literal(_)))
            .map(|(_, s)| decode_segment(s))
            .collect();
        Some((route.template, vars))
    }

    pub fn resolve(&self, method: &Method, path: &str) -> Resolution<'_> {
        let Some((template, vars)) = self.best(path) else {
            return Resolution::NotFound;
        };
        let on_template = self.routes.iter().filter(|r| r.template == template);
        let mut allowed = Vec::new();
        for route in on_template {
            if route.method == method || (method == Method::HEAD && route.method == Method::GET) {
                return Resolution::Found(route, vars);
            }
            allowed.push(route.method.clone());
        }
        Resolution::WrongMethod(allowed)
    }

    /// The template of `path`, for metrics labels.
    pub fn template_of(&self, path: &str) -> &'static str {
        self.best(path).map(|(t, _)| t).unwrap_or("unmatched")
    }

    /// Runs the request through the matching route, with CORS headers for allowed
    /// origins. A cookie-authenticated write from another site is refused.
    pub async fn dispatch(&self, state: AppState, mut req: ApiRequest) -> Response {
        let origin = req
            .headers
            .get("origin")
            .filter(|o| {
                o.to_str()
                    .is_ok_and(|o| origin_allowed(o, &state.settings.http.cors_origins))
            })
            .cloned();
        if let Some(refused) = cross_site_write(&req, &state.settings.http.cors_origins) {
            return refused.into_response();
        }
        let mut response = match self.resolve(&req.method, &req.path) {
            Resolution::Found(route, vars) => {
                req.path_params = vars;
                match nul_error(&req) {
                    Some(e) => e.into_response(),
                    None => match (route.handler)(state, req).await {
                        Ok(r) => r,
                        Err(e) => e.into_response(),
                    },
                }
            }
            Resolution::WrongMethod(allowed) if req.method == Method::OPTIONS => {
                preflight(&req.headers, &allowed)
            }
            Resolution::WrongMethod(allowed) => {
                let mut r = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("{} is not allowed on this endpoint", req.method),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&method_list(&allowed)) {
                    r.headers_mut().insert("allow", v);
                }
                r
            }
            Resolution::NotFound => ApiError::not_found("no such endpoint").into_response(),
        };
        if let Some(origin) = origin {
            let h = response.headers_mut();
            h.insert("access-control-allow-origin", origin);
            h.insert(
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            );
            h.append("vary", HeaderValue::from_static("Origin"));
        }
        response
    }
}

/// Whether `origin` (`scheme://host[:port]`) matches one of `patterns`: equal, or equal
/// but for one `*` standing for a port (`http://127.0.0.1:*`) or for the start of a host
/// name (`https://*.openfoodfacts.org`).
pub fn origin_allowed(origin: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.split_once('*') {
        None => p == origin,
        Some((before, after)) => {
            let Some(middle) = origin
                .strip_prefix(before)
                .and_then(|rest| rest.strip_suffix(after))
            else {
                return false;
            };
            if middle.is_empty() {
                return false;
            }
            if before.ends_with(':') {
                middle.len() <= 5 && middle.bytes().all(|b| b.is_ascii_digit())
            } else {
                middle
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                    && !middle.starts_with('.')
            }
        }
    })
}

/// A write (not GET, HEAD or OPTIONS) authenticated by the session cookie, sent by a
/// page of another site than the service's own or an allowed origin: the browser sent
/// the cookie along, not the user (cross-site request forgery).
fn cross_site_write(req: &ApiRequest, allowed: &[String]) -> Option<ApiError> {
    if matches!(req.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let has_session = req
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(';').any(|p| p.trim().starts_with("session=")));
    if !has_session || req.headers.contains_key("authorization") {
        return None;
    }
    let origin = req.headers.get("origin").and_then(|o| o.to_str().ok())?;
    let host = req.headers.get("host").and_then(|h| h.to_str().ok());
    let same_site = host.is_some_and(|h| {
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(h))
    });
    if same_site || origin_allowed(origin, allowed) {
        return None;
    }
    Some(
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            format!(
                "a write with the session cookie from {origin} is not accepted (http.cors_origins)"
            ),
        )
        .with_title("Cross-site request refused"),
    )
}

/// A 400 for a NUL character in a parameter or a path segment.
fn nul_error(req: &ApiRequest) -> Option<ApiError> {
    if let Some(name) = req.params.with_nul() {
        return Some(super::params::invalid(name, "It contains a NUL character."));
    }
    req.path_params
        .iter()
        .any(|p| p.contains('\0'))
        .then(|| ApiError::bad_request("invalid_path", "the path contains a NUL character"))
}

fn method_list(methods: &[Method]) -> String {
    let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    names.push("OPTIONS");
    names.join(", ")
}

/// A CORS preflight answer: the route's methods, the requested headers echoed (or `*`),
/// a one-day max age.
fn preflight(headers: &HeaderMap, allowed: &[Method]) -> Response {
    let mut r = StatusCode::OK.into_response();
    let methods = method_list(allowed);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&methods) {
        h.insert("allow", v.clone());
        if headers.contains_key("access-control-request-method") {
            h.insert("access-control-allow-methods", v);
        }
    }
    if headers.contains_key("access-control-request-method") {
        let requested = headers
            .get("access-control-request-headers")
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("*"));
        h.insert("access-control-allow-headers", requested);
        h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    }
    r
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::doc::Security;

    #[test]
    fn origins_match_exactly_or_by_one_wildcard() {
        let allowed: Vec<String> = [
            "https://hunger.openfoodfacts.org",
            "https://*.openfoodfacts.org",
            "http://127.0.0.1:*",
        ]
        .map(String::from)
        .to_vec();
        for (origin, ok) in [
            ("https://hunger.openfoodfacts.org", true),
            ("https://world.openfoodfacts.org", true),
            ("https://fr.pro.openfoodfacts.org", true),
            ("https://openfoodfacts.org", false),
            ("https://evil.com", false),
            ("https://openfoodfacts.org.evil.com", false),
            ("https://evil.com/.openfoodfacts.org", false),
            ("http://world.openfoodfacts.org", false),
            ("http://127.0.0.1:5500", true),
            ("http://127.0.0.1:", false),
            ("http://127.0.0.1:80.evil.com", false),
            ("http://127.0.0.10:80", false),
            ("null", false),
        ] {
            assert_eq!(origin_allowed(origin, &allowed), ok, "{origin}");
        }
    }

    const DOC: Doc = Doc {
        summary: "test route",
        params: &[],
        body: None,
        ok: &[200],
        errors: &[],
        security: Security::Public,
    };

    fn noop() -> Handler {
        handler(|_s, _r| async { Ok(StatusCode::OK.into_response()) })
    }

    fn router() -> Router {
        Router::new(vec![
            Route::new(Method::GET, "/api/v1/questions/{barcode}", noop(), DOC),
            Route::new(Method::GET, "/api/v1/questions/random", noop(), DOC),
            Route::new(
                Method::GET,
                "/api/v1/insights/detail/{insight_id:uuid}",
                noop(),
                DOC,
            ),
            Route::new(Method::POST, "/api/v1/insights/annotate", noop(), DOC),
            Route::new(
                Method::GET,
                "/api/v1/images/logos/{logo_id:int}",
                noop(),
                DOC,
            ),
            Route::new(
                Method::PUT,
                "/api/v1/images/logos/{logo_id:int}",
                noop(),
                DOC,
            ),
            Route::new(Method::GET, "/api/v1/images/logos/search", noop(), DOC),
        ])
    }

    #[test]
    fn literal_segments_win_and_trailing_slashes_are_ignored() {
        let r = router();
        assert_eq!(
            r.template_of("/api/v1/questions/random"),
            "/api/v1/questions/random"
        );
        assert_eq!(
            r.template_of("/api/v1/questions/random/"),
            "/api/v1/questions/random"
        );
        assert_eq!(
            r.template_of("/api/v1/questions/123"),
            "/api/v1/questions/{barcode}"
        );
        assert_eq!(
            r.template_of("/api/v1/images/logos/search"),
            "/api/v1/images/logos/search"
        );
        assert_eq!(
            r.template_of("/api/v1/images/logos/12"),
            "/api/v1/images/logos/{logo_id:int}"
        );
        assert_eq!(r.template_of("/api/v1/images/logos/x"), "unmatched");
        assert_eq!(
            r.template_of("/api/v1/insights/detail/not-a-uuid"),
            "unmatched"
        );
        assert_eq!(r.template_of("/"), "unmatched");
    }

    #[test]
    fn methods_are_checked_per_template() {
        let r = router();
        assert!(matches!(
            r.resolve(&Method::GET, "/api/v1/insights/annotate"),
            Resolution::WrongMethod(_)
        ));
        assert!(matches!(
            r.resolve(&Method::PUT, "/api/v1/images/logos/3"),
            Resolution::Found(_, ref v) if v == &vec!["3".to_string()]
        ));
        let route = r.routes().iter().find(|r| r.template.contains("uuid"));
        assert_eq!(
            route.map(Route::openapi_path).as_deref(),
            Some("/api/v1/insights/detail/{insight_id}")
        );
    }
}
