//! The webhook adapter (spec pipeline §3.5): off by default; when on, Product Opener's
//! historical webhook calls become the same durable jobs as stream events.

mod common;

use common::{count, fresh_database, http, settings, spawn_app};
use robotoff::config::Role;
use serde_json::Value;

/// Form fields of a request.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// The webhook secret of the test nodes.
const SECRET: &str = "webhook-test-secret";

async fn post(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(format!("{base}{path}"))
        .header("authorization", format!("Bearer {SECRET}"))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_off_by_default() {
    let mut s = settings(&fresh_database().await);
    s.roles = vec![Role::Api];
    let app = spawn_app(s).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let form = [
        ("barcode", "3256220215466"),
        ("action", "updated"),
        ("server_domain", "api.openfoodfacts.org"),
        ("diffs", "{}"),
    ];
    let (status, body) = post(&base, "/api/v1/webhook/product", &form).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    assert_eq!(count(&app.pool, "SELECT count(*) FROM job").await, 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_and_image_webhooks_become_jobs() {
    let mut s = settings(&fresh_database().await);
    s.roles = vec![Role::Api];
    s.http.webhooks = true;
    s.http.webhook_secret = SECRET.into();
    let app = spawn_app(s).await;
    let pool = app.pool.clone();
    let base = format!("http://{}", app.addr.expect("api role"));

    // Two updates of a product collapse into one delayed update job.
    for diffs in [r#"{"fields": {"change": ["quantity"]}}"#, "{}"] {
        let form = [
            ("barcode", "3256220215466"),
            ("action", "updated"),
            ("server_domain", "api.openfoodfacts.org"),
            ("diffs", diffs),
        ];
        let (status, body) = post(&base, "/api/v1/webhook/product", &form).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, serde_json::json!({"status": "scheduled"}));
    }
    let (kind, server_type, delayed): (String, String, bool) = sqlx::query_as(
        "SELECT kind, server_type, run_after > now() + interval '5 seconds' FROM job",
    )
    .fetch_one(&pool)
    .await
    .expect("one job");
    assert_eq!(
        (kind.as_str(), server_type.as_str(), delayed),
        ("update_insights", "off", true)
    );

    // Deletion on the pro platform.
    let form = [
        ("barcode", "3256220215466"),
        ("action", "deleted"),
        ("server_domain", "api.pro.openfoodfacts.org"),
        ("diffs", "{}"),
    ];
    assert_eq!(post(&base, "/api/v1/webhook/product", &form).await.0, 200);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM job WHERE kind = 'delete_product_insights' AND server_type = 'off_pro'"
        )
        .await,
        1
    );

    // An image upload on Open Beauty Facts.
    let form = [
        ("barcode", "3256220215466"),
        (
            "image_url",
            "https://images.openbeautyfacts.org/images/products/325/622/021/5466/3.jpg",
        ),
        (
            "ocr_url",
            "https://images.openbeautyfacts.org/images/products/325/622/021/5466/3.json",
        ),
        ("server_domain", "api.openbeautyfacts.org"),
    ];
    assert_eq!(post(&base, "/api/v1/images/import", &form).await.0, 200);
    let payload: Value = sqlx::query_scalar(
        "SELECT payload FROM job WHERE kind = 'import_image' AND server_type = 'obf'",
    )
    .fetch_one(&pool)
    .await
    .expect("image job");
    assert_eq!(payload["image_id"], "3");

    // Bad requests are refused with the parameter named, and change nothing.
    let jobs = count(&pool, "SELECT count(*) FROM job").await;
    let bad: [(&str, Form, &str); 5] = [
        (
            "/api/v1/webhook/product",
            vec![
                ("barcode", "1"),
                ("action", "updated"),
                ("server_domain", "api.openfoodfacts.org"),
            ],
            "diffs",
        ),
        (
            "/api/v1/webhook/product",
            vec![
                ("barcode", "1"),
                ("action", "renamed"),
                ("server_domain", "api.openfoodfacts.org"),
                ("diffs", "{}"),
            ],
            "invalid action",
        ),
        (
            "/api/v1/webhook/product",
            vec![
                ("barcode", "1"),
                ("action", "updated"),
                ("server_domain", "evil.example.com"),
                ("diffs", "{}"),
            ],
            "server_domain",
        ),
        (
            "/api/v1/webhook/product",
            vec![
                ("barcode", "1"),
                ("action", "updated"),
                ("server_domain", "api.openfoodfacts.org"),
                ("diffs", "{nope"),
            ],
            "diffs",
        ),
        (
            "/api/v1/images/import",
            vec![
                ("barcode", "1"),
                ("image_url", "https://images.openfoodfacts.org/x/front.jpg"),
                ("ocr_url", "x"),
            ],
            "image_url",
        ),
    ];
    for (path, form, named) in bad {
        let (status, body) = post(&base, path, &form).await;
        assert_eq!(status, 400, "{form:?}: {body}");
        let description = body["description"].as_str().unwrap_or_default();
        assert!(description.contains(named), "{form:?}: {body}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM job").await, jobs);
    app.shutdown().await;
}
