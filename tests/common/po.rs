//! A stand-in for Product Opener: a local HTTP server that answers the product API and
//! the write endpoints like Product Opener does, and records every request it receives.

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use warp::http::StatusCode;
use warp::Filter;

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

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    products: HashMap<String, Value>,
    product_types: HashMap<String, (bool, String)>,
    write_status: Option<u16>,
    read_status: Option<u16>,
    patch_errors: Option<Value>,
    fail_containing: Option<(String, u16)>,
}

/// The running stand-in. Dropping it stops the server.
pub struct ProductOpenerStandIn {
    pub url: String,
    state: Arc<Mutex<State>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn map(v: Value) -> BTreeMap<String, String> {
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

/// `{"a": "b"}` → form map, for assertions.
pub fn form(v: Value) -> BTreeMap<String, String> {
    map(v)
}

impl ProductOpenerStandIn {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
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
                    let (status, body) = answer(&s, &recorded);
                    s.requests.push(recorded);
                    warp::reply::with_status(
                        warp::reply::json(&body),
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    )
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
            state,
            _stop: tx,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("stand-in state"))
    }

    /// Serves `product` (a product object, `code` included) from the product APIs.
    pub fn set_product(&self, product: Value) {
        let code = product["code"].as_str().expect("product code").to_string();
        self.with(|s| s.products.insert(code, product));
    }

    /// What the v3.4 product-type lookup answers for `code`: `Ok(type)` a product of
    /// this flavor, `Err(type)` a product of another flavor.
    pub fn set_product_type(&self, code: &str, answer: Result<&str, &str>) {
        let entry = match answer {
            Ok(t) => (true, t.to_string()),
            Err(t) => (false, t.to_string()),
        };
        self.with(|s| s.product_types.insert(code.to_string(), entry));
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

    /// Requests other than GET.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    pub fn clear(&self) {
        self.with(|s| s.requests.clear());
    }
}

fn answer(s: &State, r: &Recorded) -> (u16, Value) {
    let is_read = r.method == "GET";
    if is_read {
        if let Some(status) = s.read_status {
            return (status, json!({"error": "stand-in read failure"}));
        }
    } else if let Some(status) = s.write_status {
        return (status, json!({"error": "stand-in write failure"}));
    } else if let Some((text, status)) = &s.fail_containing {
        let body = String::from_utf8_lossy(&r.body);
        let decoded: String = serde_urlencoded::from_str::<Vec<(String, String)>>(&body)
            .map(|f| f.into_iter().map(|(k, v)| format!("{k}={v}&")).collect())
            .unwrap_or_default();
        if body.contains(text.as_str()) || decoded.contains(text.as_str()) {
            return (*status, json!({"error": "stand-in write failure"}));
        }
    }
    let path = r.path.as_str();
    if let Some(code) = path.strip_prefix("/api/v2/product/") {
        return match s.products.get(code) {
            Some(p) => (
                200,
                json!({"code": code, "product": p, "status": 1, "status_verbose": "product found"}),
            ),
            None => (
                404,
                json!({"code": code, "status": 0, "status_verbose": "product not found"}),
            ),
        };
    }
    if let Some(code) = path.strip_prefix("/api/v3.4/product/") {
        return match s.product_types.get(code) {
            Some((true, t)) => (
                200,
                json!({"status": "success", "product": {"product_type": t}}),
            ),
            Some((false, t)) => (
                404,
                json!({"status": "failure", "errors": [{"field": {"id": "product_type", "value": t},
                        "message": {"id": "product_found_with_a_different_product_type"}}]}),
            ),
            None => (
                404,
                json!({"status": "failure", "errors": [{"field": {"id": "code", "value": code},
                        "message": {"id": "product_not_found"}}]}),
            ),
        };
    }
    match (r.method.as_str(), path) {
        ("POST", "/cgi/product_jqm2.pl") => {
            (200, json!({"status": 1, "status_verbose": "fields saved"}))
        }
        ("POST", "/cgi/product_image_crop.pl") => {
            (200, json!({"status": "status ok", "imagefield": "x"}))
        }
        ("POST", "/cgi/product_image_unselect.pl") => {
            (200, json!({"status": "status ok", "status_code": 0}))
        }
        ("POST", "/cgi/product_image_move.pl") => (200, json!({"status": "ok"})),
        ("PATCH", p) if p.starts_with("/api/v3/product/") => {
            let errors = s.patch_errors.clone().unwrap_or(json!([]));
            (
                200,
                json!({"status": "success", "errors": errors, "warnings": []}),
            )
        }
        _ => (404, json!({"error": "unknown route"})),
    }
}
