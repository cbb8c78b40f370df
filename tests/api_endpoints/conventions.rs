//! Conventions shared by every endpoint (spec api-db §0): parameter errors, server
//! types, countries, routing, CORS, error bodies, body limits, system endpoints.

use crate::support::{self, fixture_insight};
use serde_json::json;

#[tokio::test]
async fn parameter_errors_name_the_parameter() {
    let api = support::start().await;
    for (path, title, description) in [
        ("/api/v1/questions?count=0", "Invalid parameter", "The \"count\" parameter is invalid. The value must be at least 1"),
        ("/api/v1/questions?page=x", "Invalid parameter", "The \"page\" parameter is invalid. The value must be an integer."),
        ("/api/v1/questions/1?count=abc", "Invalid parameter", "The \"count\" parameter is invalid. The value must be an integer."),
        ("/api/v1/insights?annotated=maybe", "Invalid parameter", "The \"annotated\" parameter is invalid. The value of the parameter must be \"true\" or \"false\"."),
        ("/api/v1/questions?order_by=best", "400 Bad Request", "invalid 'best' value for `order_by` parameter"),
        ("/api/v1/questions?countries=fr,zz", "400 Bad Request", "invalid `countries` value: ['fr', 'zz']"),
        ("/api/v1/insights?server_type=off-pro", "invalid `server_type`: off-pro", "invalid `server_type`: off-pro"),
        ("/api/v1/images/crop?image_url=x", "Missing parameter", "The \"y_min\" parameter is required."),
        ("/api/v1/questions/random?brands=a%00b", "Invalid parameter", "The \"brands\" parameter is invalid. It contains a NUL character."),
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["title"], json!(title), "{path}");
        assert_eq!(body["description"], json!(description), "{path}");
        assert!(body["error"].is_string(), "{path}");
    }
    api.stop().await;
}

#[tokio::test]
async fn routing_conventions() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    // Trailing slash, literal segments over {barcode}, server types by name.
    assert_eq!(
        api.get_json("/api/v1/status/").await,
        json!({"status": "running"})
    );
    assert_eq!(
        api.get_json("/api/v1/questions/random/").await["count"],
        json!(1)
    );
    assert_eq!(
        api.get_json("/api/v1/insights/random").await["status"],
        json!("found")
    );
    assert_eq!(
        api.get_json("/api/v1/questions/popular?server_type=off_pro")
            .await["status"],
        json!("no_questions")
    );
    // CSV and repeated values both make lists.
    assert_eq!(
        api.get_json("/api/v1/questions?insight_types=label,category")
            .await["count"],
        json!(1)
    );
    assert_eq!(
        api.get_json("/api/v1/questions?insight_types=label&insight_types=category")
            .await["count"],
        json!(1)
    );
    // Unknown route and wrong method.
    let (status, body) = api.get("/api/v1/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["title"], json!("404 Not Found"));
    let resp = api
        .client
        .get(api.url("/api/v1/insights/annotate"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST, OPTIONS")
    );
    // robots.txt
    let resp = api
        .client
        .get(api.url("/robots.txt"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.text().await.unwrap_or_default(),
        "User-agent: *\nDisallow: /\n"
    );
    api.stop().await;
}

#[tokio::test]
async fn cors_reflects_the_origin() {
    let api = support::start().await;
    let resp = api
        .client
        .get(api.url("/api/v1/status"))
        .header("origin", "https://hunger.openfoodfacts.org")
        .send()
        .await
        .expect("request");
    let h = resp.headers();
    assert_eq!(
        h.get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://hunger.openfoodfacts.org")
    );
    assert_eq!(
        h.get("access-control-allow-credentials")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let resp = api
        .client
        .request(
            reqwest::Method::OPTIONS,
            api.url("/api/v1/insights/annotate"),
        )
        .header("origin", "https://hunger.openfoodfacts.org")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers();
    assert_eq!(
        h.get("access-control-allow-methods")
            .and_then(|v| v.to_str().ok()),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        h.get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok()),
        Some("authorization,content-type")
    );
    assert_eq!(
        h.get("access-control-max-age")
            .and_then(|v| v.to_str().ok()),
        Some("86400")
    );
    assert_eq!(
        h.get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://hunger.openfoodfacts.org")
    );
    // No Origin: no CORS headers.
    let resp = api
        .client
        .get(api.url("/api/v1/status"))
        .send()
        .await
        .expect("request");
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    api.stop().await;
}

#[tokio::test]
async fn authorization_header_must_be_basic() {
    let api = support::start().await;
    let resp = api
        .client
        .get(api.url("/api/v1/questions"))
        .header("authorization", "Bearer token")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(
        body["title"],
        json!("Invalid authentication, Basic auth expected.")
    );
    api.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let mut settings = support::settings().await;
    settings.http.body_limit = 1000;
    let api = support::start_with(settings).await;
    let resp = api
        .client
        .post(api.url("/api/v1/insights/annotate"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 5000])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 413);
    // Chunked (no length): capped while reading.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = api.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut request = format!(
        "POST /api/v1/insights/annotate HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    for _ in 0..10 {
        request.push_str(&format!("1f4\r\n{}\r\n", "a".repeat(500)));
    }
    request.push_str("0\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    api.stop().await;
}

#[tokio::test]
async fn batch_import_needs_the_token() {
    let mut settings = support::settings().await;
    settings.http.batch_job_key = "s3cret".into();
    let api = support::start_with(settings).await;
    let path = "/api/v1/batch/import?job_type=ingredients_spellcheck&batch_dir=x";
    let send = |auth: Option<&'static str>, path: &'static str| {
        let mut r = api.client.post(api.url(path));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let resp = send(Some("Bearer wrong"), path).await.expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(body["title"], json!("Invalid token."));
    let resp = send(Some("Basic YTpi"), path).await.expect("request");
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(
        body["title"],
        json!("Invalid authentication scheme: 'Bearer Token' expected.")
    );
    let resp = send(None, path).await.expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let resp = send(
        Some("Bearer s3cret"),
        "/api/v1/batch/import?job_type=other&batch_dir=x",
    )
    .await
    .expect("request");
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(
        body["description"],
        json!("invalid job_type: other. Valid job_types are: ['ingredients-spellcheck']")
    );
    api.stop().await;
}

#[tokio::test]
async fn openapi_document_is_served() {
    let api = support::start().await;
    let doc = api.get_json("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"], json!("3.0.3"));
    assert!(doc["paths"]["/api/v1/questions/{barcode}"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/insights/annotate"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/products/{barcode}/audit"]["get"].is_object());
    api.stop().await;
}
