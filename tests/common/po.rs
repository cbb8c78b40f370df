//! The Product Opener stand-in for tests and benchmarks: one local HTTP server that
//! answers like Product Opener's flavors (product API v2 and v3.4, the write endpoints,
//! the credential check and sign-in),
//! its image host (OCR JSON) and its static host (taxonomies, the product dump, with
//! `Last-Modified` and `ETag`), with a switch that makes it go down, and a record of
//! every request it receives.
//!
//! Paths may start with a flavor (`/obf/api/v2/product/...`); without one they are
//! `off`'s. [`ProductOpenerStandIn::point`] sets every flavor's URLs of a settings value.
#![allow(dead_code)]

use chrono::Utc;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use warp::http::{Response, StatusCode};
use warp::Filter;

/// The flavors, as the first segment of their API paths.
pub const FLAVORS: [&str; 5] = ["off", "obf", "opff", "opf", "off_pro"];

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// Form fields of a urlencoded body, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).expect("urlencoded body")
    }

    /// Form fields as a map (order-independent comparisons).
    pub fn form_map(&self) -> BTreeMap<String, String> {
        self.form().into_iter().collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// A file of the static host.
#[derive(Clone)]
pub struct Served {
    pub body: Vec<u8>,
    pub last_modified: Option<SystemTime>,
    pub etag: Option<String>,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// (flavor, code) → product.
    products: HashMap<(String, String), Value>,
    /// Answers every other code of `off` with this product (its `code` replaced).
    any_product: Option<Value>,
    product_types: HashMap<String, (bool, String)>,
    /// Path → OCR JSON of the image host.
    ocr: HashMap<String, Vec<u8>>,
    /// OCR JSON of every other `/images/....json` path.
    any_ocr: Option<Vec<u8>>,
    files: HashMap<String, Served>,
    down: bool,
    write_status: Option<u16>,
    read_status: Option<u16>,
    patch_errors: Option<Value>,
    fail_containing: Option<(String, u16)>,
    /// Users `/cgi/auth.pl` accepts: name → password.
    users: HashMap<String, String>,
    /// Session cookies `/cgi/auth.pl` accepts.
    sessions: Vec<String>,
}

/// The user `/cgi/auth.pl` knows from the start (HTTP Basic `a:b`, header `Basic YTpi`).
pub const KNOWN_USER: (&str, &str) = ("a", "b");
/// The session cookie `/cgi/auth.pl` knows from the start (user `alice`).
pub const KNOWN_SESSION: &str = "user_id&alice&user_session&XYZ";

/// The running stand-in. Dropping it stops the server.
pub struct ProductOpenerStandIn {
    pub url: String,
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// `{"a": "b"}` → form map, for assertions.
pub fn form(v: Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An HTTP date (`Last-Modified`).
pub fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A product as the v2 API holds it: food, French, sold in France, with `images`.
pub fn product_json(code: &str, product_type: &str, images: Value) -> Value {
    json!({
        "code": code,
        "product_type": product_type,
        "lang": "fr",
        "countries_tags": ["en:france"],
        "images": images,
    })
}

/// The real Cloud Vision document of product 0890000001202, image 1.
pub fn real_ocr_document() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/real_docs/0890000001202_1.json"
    ))
    .expect("real OCR document")
}

type Answer = Response<Vec<u8>>;

fn json_answer(status: u16, body: &Value) -> Answer {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .expect("response")
}

impl ProductOpenerStandIn {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            users: HashMap::from([(KNOWN_USER.0.to_string(), KNOWN_USER.1.to_string())]),
            sessions: vec![KNOWN_SESSION.to_string()],
            ..State::default()
        }));
        let st = state.clone();
        let route = warp::any()
            .and(warp::method())
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(
                move |method: warp::http::Method,
                      path: warp::path::FullPath,
                      query: String,
                      headers: warp::http::HeaderMap,
                      body: bytes::Bytes| {
                    let recorded = Recorded {
                        method: method.to_string(),
                        path: path.as_str().to_string(),
                        query: (!query.is_empty()).then_some(query),
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                            })
                            .collect(),
                        body: body.to_vec(),
                    };
                    let mut s = st.lock().expect("stand-in state");
                    let answer = if split_flavor(&recorded.path).1 == "/cgi/session.pl" && !s.down {
                        open_session(&mut s, &recorded)
                    } else {
                        answer(&s, &recorded)
                    };
                    s.requests.push(recorded);
                    answer
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = warp::serve(route).incoming(listener).graceful(async move {
            let _ = rx.await;
        });
        tokio::spawn(server.run());
        ProductOpenerStandIn {
            url: format!("http://{addr}"),
            addr,
            state,
            _stop: tx,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("stand-in state"))
    }

    /// Points every flavor of `settings` here: API under `/<flavor>`, images and static
    /// files at the root.
    pub fn point(&self, settings: &mut robotoff::config::Settings) {
        let po = &mut settings.product_opener;
        for (name, flavor) in [
            ("off", &mut po.off),
            ("obf", &mut po.obf),
            ("opff", &mut po.opff),
            ("opf", &mut po.opf),
            ("off_pro", &mut po.off_pro),
        ] {
            flavor.api_url = format!("{}/{name}", self.url);
            flavor.images_url = self.url.clone();
            flavor.static_url = self.url.clone();
        }
    }

    /// Serves `product` (a product object, `code` included) as an `off` product.
    pub fn set_product(&self, product: Value) {
        self.put("off", product);
    }

    /// Serves `product` on `flavor`.
    pub fn put(&self, flavor: &str, product: Value) {
        let code = product["code"].as_str().expect("product code").to_string();
        self.with(|s| s.products.insert((flavor.to_string(), code), product));
    }

    /// `code` is no longer a product of `flavor`.
    pub fn remove(&self, flavor: &str, code: &str) {
        self.with(|s| s.products.remove(&(flavor.to_string(), code.to_string())));
    }

    /// Every code without a product of its own is an `off` product like `template`.
    pub fn serve_any_product(&self, template: Value) {
        self.with(|s| s.any_product = Some(template));
    }

    /// What the v3.4 product-type lookup answers for `code`: `Ok(type)` a product of
    /// the asked flavor, `Err(type)` a product of another flavor. Without an answer set,
    /// the lookup follows the products served (the flavor holding the code).
    pub fn set_product_type(&self, code: &str, answer: Result<&str, &str>) {
        let entry = match answer {
            Ok(t) => (true, t.to_string()),
            Err(t) => (false, t.to_string()),
        };
        self.with(|s| s.product_types.insert(code.to_string(), entry));
    }

    /// `/cgi/auth.pl` accepts `user` with `password` too.
    pub fn add_user(&self, user: &str, password: &str) {
        self.with(|s| s.users.insert(user.to_string(), password.to_string()));
    }

    /// Sessions `/cgi/session.pl` opened, oldest first.
    pub fn opened_sessions(&self) -> Vec<String> {
        self.with(|s| {
            s.sessions
                .iter()
                .filter(|c| c.as_str() != KNOWN_SESSION)
                .cloned()
                .collect()
        })
    }

    /// Checks of credentials made so far (`/cgi/auth.pl` requests).
    pub fn auth_checks(&self) -> usize {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| split_flavor(&r.path).1 == "/cgi/auth.pl")
                .count()
        })
    }

    /// The image host serves `document` at `path` (`/images/products/.../1.json`).
    pub fn serve_ocr(&self, path: &str, document: Vec<u8>) {
        self.with(|s| s.ocr.insert(path.to_string(), document));
    }

    /// The image host serves `document` for every OCR path.
    pub fn serve_ocr_for_every_image(&self, document: Vec<u8>) {
        self.with(|s| s.any_ocr = Some(document));
    }

    /// The static host serves `served` at `path`.
    pub fn serve_file(&self, path: &str, served: Served) {
        self.with(|s| s.files.insert(path.to_string(), served));
    }

    /// Down: every API read and write answers 503 (images and static files still answer).
    pub fn set_down(&self, down: bool) {
        self.with(|s| s.down = down);
    }

    /// Every write answers with this status (`None`: normal answers).
    pub fn set_write_status(&self, status: Option<u16>) {
        self.with(|s| s.write_status = status);
    }

    /// Every read answers with this status (`None`: normal answers).
    pub fn set_read_status(&self, status: Option<u16>) {
        self.with(|s| s.read_status = status);
    }

    /// Writes whose body contains `text` answer `status`.
    pub fn fail_writes_containing(&self, text: &str, status: u16) {
        self.with(|s| s.fail_containing = Some((text.to_string(), status)));
    }

    /// `errors` of the v3 patch answers.
    pub fn set_patch_errors(&self, errors: Option<Value>) {
        self.with(|s| s.patch_errors = errors);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// Requests other than GET and HEAD, credential checks and sign-ins left out.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .filter(|r| !matches!(split_flavor(&r.path).1, "/cgi/auth.pl" | "/cgi/session.pl"))
            .collect()
    }

    /// Requests of `method` to `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.method == method && r.path == path)
                .count()
        })
    }

    /// Requests of `method`.
    pub fn count_method(&self, method: &str) -> usize {
        self.with(|s| s.requests.iter().filter(|r| r.method == method).count())
    }

    /// Requests to the product APIs (any flavor, any version).
    pub fn api_calls(&self) -> usize {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| split_flavor(&r.path).1.starts_with("/api/"))
                .count()
        })
    }

    /// Requests for OCR documents.
    pub fn ocr_hits(&self) -> usize {
        self.with(|s| s.requests.iter().filter(|r| is_ocr_path(&r.path)).count())
    }

    pub fn clear(&self) {
        self.with(|s| s.requests.clear());
    }
}

fn is_ocr_path(path: &str) -> bool {
    path.starts_with("/images/") && path.ends_with(".json")
}

/// The flavor a path starts with (default `off`) and the rest of the path.
fn split_flavor(path: &str) -> (&str, &str) {
    for flavor in FLAVORS {
        if let Some(rest) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(flavor))
            .filter(|r| r.starts_with('/'))
        {
            return (flavor, rest);
        }
    }
    ("off", path)
}

fn product_of(s: &State, flavor: &str, code: &str) -> Option<Value> {
    if let Some(p) = s.products.get(&(flavor.to_string(), code.to_string())) {
        return Some(p.clone());
    }
    let held_elsewhere = s.products.keys().any(|(_, c)| c == code);
    match &s.any_product {
        Some(template) if flavor == "off" && !held_elsewhere => {
            let mut p = template.clone();
            p["code"] = json!(code);
            Some(p)
        }
        _ => None,
    }
}

/// The flavor holding `code` and its product type, if any flavor does.
fn home_of(s: &State, code: &str) -> Option<(String, String)> {
    let held = s.products.iter().find(|((_, c), _)| c == code);
    let (flavor, product) = match held {
        Some(((f, _), p)) => (f.clone(), p.clone()),
        None => ("off".to_string(), product_of(s, "off", code)?),
    };
    let t = product["product_type"]
        .as_str()
        .unwrap_or("food")
        .to_string();
    Some((flavor, t))
}

/// As Product Opener's `/cgi/auth.pl`: 200 with the user id for a known session cookie
/// or user and password (form fields), 403 otherwise.
fn check_credentials(s: &State, r: &Recorded) -> Answer {
    let cookie = r.header("cookie").and_then(|c| {
        c.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == "session")
            .map(|(_, v)| v.to_string())
    });
    if let Some(cookie) = cookie {
        if s.sessions.contains(&cookie) {
            let user = cookie.split('&').nth(1).unwrap_or("").to_string();
            return json_answer(200, &json!({"status": 1, "user_id": user}));
        }
        return json_answer(403, &json!({"status": 0, "error": "invalid session"}));
    }
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(&r.body).unwrap_or_default();
    match (fields.get("user_id"), fields.get("password")) {
        (Some(u), Some(p)) if s.users.get(u) == Some(p) => {
            json_answer(200, &json!({"status": 1, "user_id": u}))
        }
        _ => json_answer(
            403,
            &json!({"status": 0, "error": "invalid user or password"}),
        ),
    }
}

/// As Product Opener's `/cgi/session.pl`: a known user and password (form fields) get a
/// new session, set as the `session` cookie and accepted by `/cgi/auth.pl` from then
/// on; anything else gets the sign-in page again, without a cookie.
fn open_session(s: &mut State, r: &Recorded) -> Answer {
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(&r.body).unwrap_or_default();
    let known = match (fields.get("user_id"), fields.get("password")) {
        (Some(u), Some(p)) if s.users.get(u) == Some(p) => Some(u.clone()),
        _ => None,
    };
    let Some(user) = known else {
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "text/html")
            .body(b"<html>Incorrect user name or password.</html>".to_vec())
            .expect("response");
    };
    let session = format!(
        "user_id&{user}&user_session&{}",
        uuid::Uuid::new_v4().simple()
    );
    s.sessions.push(session.clone());
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/html")
        .header(
            "set-cookie",
            format!("session={session}; domain=.openfoodfacts.localhost; path=/; SameSite=Lax"),
        )
        .body(format!("<html>Signed in as {user}.</html>").into_bytes())
        .expect("response")
}

fn static_file(file: &Served, head: bool) -> Answer {
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header("content-length", file.body.len().to_string())
        // Pages of other origins may time it (and count its bytes), as image hosts allow.
        .header("timing-allow-origin", "*");
    if let Some(t) = file.last_modified {
        builder = builder.header("last-modified", http_date(t));
    }
    if let Some(etag) = &file.etag {
        builder = builder.header("etag", format!("\"{etag}\""));
    }
    let body = if head { Vec::new() } else { file.body.clone() };
    builder.body(body).expect("response")
}

fn answer(s: &State, r: &Recorded) -> Answer {
    let is_read = r.method == "GET" || r.method == "HEAD";
    if let Some(file) = s.files.get(&r.path) {
        if is_read {
            return static_file(file, r.method == "HEAD");
        }
    }
    if is_read && is_ocr_path(&r.path) {
        return match s.ocr.get(&r.path).or(s.any_ocr.as_ref()) {
            Some(doc) => Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(doc.clone())
                .expect("response"),
            None => json_answer(404, &json!({"error": "no such image"})),
        };
    }
    if s.down {
        return json_answer(503, &json!({"error": "stand-in is down"}));
    }
    // A credential check is a read, whatever its method.
    if split_flavor(&r.path).1 == "/cgi/auth.pl" {
        return check_credentials(s, r);
    }
    if is_read {
        if let Some(status) = s.read_status {
            return json_answer(status, &json!({"error": "stand-in read failure"}));
        }
    } else if let Some(status) = s.write_status {
        return json_answer(status, &json!({"error": "stand-in write failure"}));
    } else if let Some((text, status)) = &s.fail_containing {
        let body = String::from_utf8_lossy(&r.body);
        let decoded: String = serde_urlencoded::from_str::<Vec<(String, String)>>(&body)
            .map(|f| f.into_iter().map(|(k, v)| format!("{k}={v}&")).collect())
            .unwrap_or_default();
        if body.contains(text.as_str()) || decoded.contains(text.as_str()) {
            return json_answer(*status, &json!({"error": "stand-in write failure"}));
        }
    }
    let (flavor, path) = split_flavor(&r.path);
    if let Some(code) = path.strip_prefix("/api/v2/product/") {
        return match product_of(s, flavor, code) {
            Some(p) => json_answer(
                200,
                &json!({"code": code, "product": p, "status": 1, "status_verbose": "product found"}),
            ),
            None => json_answer(
                404,
                &json!({"code": code, "status": 0, "status_verbose": "product not found"}),
            ),
        };
    }
    if let Some(code) = path.strip_prefix("/api/v3.4/product/") {
        let answer = match s.product_types.get(code) {
            Some((true, t)) => Some((flavor.to_string(), t.clone())),
            Some((false, t)) => Some((String::new(), t.clone())),
            None => home_of(s, code),
        };
        return match answer {
            Some((home, t)) if home == flavor => json_answer(
                200,
                &json!({"status": "success", "product": {"product_type": t}}),
            ),
            Some((_, t)) => json_answer(
                404,
                &json!({"status": "failure", "errors": [{"field": {"id": "product_type", "value": t},
                        "message": {"id": "product_found_with_a_different_product_type"}}]}),
            ),
            None => json_answer(
                404,
                &json!({"status": "failure", "errors": [{"field": {"id": "code", "value": code},
                        "message": {"id": "product_not_found"}}]}),
            ),
        };
    }
    match (r.method.as_str(), path) {
        ("POST", "/cgi/product_jqm2.pl") => {
            json_answer(200, &json!({"status": 1, "status_verbose": "fields saved"}))
        }
        ("POST", "/cgi/product_image_crop.pl") => {
            json_answer(200, &json!({"status": "status ok", "imagefield": "x"}))
        }
        ("POST", "/cgi/product_image_unselect.pl") => {
            json_answer(200, &json!({"status": "status ok", "status_code": 0}))
        }
        ("POST", "/cgi/product_image_move.pl") => json_answer(200, &json!({"status": "ok"})),
        ("PATCH", "/api/v3/product/test") => {
            // Product Opener's ingredient parser, as a stand-in: the text split on commas,
            // each part an `en:` id of its lower-cased words.
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let lang = body["lc"].as_str().unwrap_or("en").to_string();
            let text = body["product"][format!("ingredients_text_{lang}")]
                .as_str()
                .unwrap_or("")
                .to_string();
            let ingredients: Vec<Value> = text
                .split(',')
                .map(|t| t.trim().trim_end_matches('.'))
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let id = t
                        .to_lowercase()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join("-");
                    json!({"id": format!("en:{id}"), "text": t})
                })
                .collect();
            json_answer(
                200,
                &json!({"status": "success", "product": {"ingredients": ingredients}}),
            )
        }
        ("PATCH", p) if p.starts_with("/api/v3/product/") => {
            let errors = s.patch_errors.clone().unwrap_or(json!([]));
            json_answer(
                200,
                &json!({"status": "success", "errors": errors, "warnings": []}),
            )
        }
        _ => json_answer(404, &json!({"error": "unknown route"})),
    }
}
