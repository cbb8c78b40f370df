//! A static file server on 127.0.0.1 (as Product Opener's static host): files with
//! optional `Last-Modified` and `ETag`, HEAD and GET, every request recorded.

use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use warp::http::{Response, StatusCode};
use warp::Filter;

#[derive(Clone)]
pub struct Served {
    pub body: Vec<u8>,
    pub last_modified: Option<SystemTime>,
    pub etag: Option<String>,
}

#[derive(Default)]
struct ServerState {
    files: HashMap<String, Served>,
    /// (method, path) of every request.
    requests: Vec<(String, String)>,
}

pub struct StaticServer {
    pub url: String,
    state: Arc<Mutex<ServerState>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

impl StaticServer {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(ServerState::default()));
        let st = state.clone();
        let route = warp::any().and(warp::method()).and(warp::path::full()).map(
            move |method: warp::http::Method, path: warp::path::FullPath| {
                let mut s = st.lock().expect("server state");
                s.requests
                    .push((method.to_string(), path.as_str().to_string()));
                let Some(file) = s.files.get(path.as_str()).cloned() else {
                    return Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(Vec::new())
                        .expect("response");
                };
                let mut builder = Response::builder()
                    .status(StatusCode::OK)
                    .header("content-length", file.body.len().to_string());
                if let Some(t) = file.last_modified {
                    builder = builder.header("last-modified", http_date(t));
                }
                if let Some(etag) = &file.etag {
                    builder = builder.header("etag", format!("\"{etag}\""));
                }
                let body = if method == warp::http::Method::HEAD {
                    Vec::new()
                } else {
                    file.body
                };
                builder.body(body).expect("response")
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = warp::serve(route).incoming(listener).graceful(async move {
            let _ = rx.await;
        });
        tokio::spawn(server.run());
        StaticServer {
            url: format!("http://{addr}"),
            state,
            _stop: tx,
        }
    }

    pub fn serve(&self, path: &str, served: Served) {
        self.state
            .lock()
            .expect("server state")
            .files
            .insert(path.to_string(), served);
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.state
            .lock()
            .expect("server state")
            .requests
            .iter()
            .filter(|(m, p)| m == method && p == path)
            .count()
    }

    pub fn count_method(&self, method: &str) -> usize {
        self.state
            .lock()
            .expect("server state")
            .requests
            .iter()
            .filter(|(m, _)| m == method)
            .count()
    }
}
