//! Requests that used to succeed and must not: invented credentials, writes without the
//! user or the operator they need, unbounded counts and bodies, cross-site writes,
//! duplicate anonymous votes — each answered with the right status and nothing changed
//! in the database. Also: memory stays flat under many listing requests with large
//! bodies, and a flood of annotations gets answers or 503s, never a hang. Real
//! PostgreSQL, the service on a loopback port, the Product Opener stand-in (which knows
//! one user, `a`/`b`, and one session).

mod common;

use common::po::{ProductOpenerStandIn, Served, KNOWN_SESSION};
use common::{count, fresh_database, http, spawn_app};
use robotoff::app::App;
use robotoff::config::{Role, Settings};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// HTTP Basic `a:b`, the stand-in's known user.
const KNOWN: &str = "Basic YTpi";
/// HTTP Basic `intruder:guess`.
const INVENTED: &str = "Basic aW50cnVkZXI6Z3Vlc3M=";
const OPERATOR_TOKEN: &str = "operator-secret-token";
const WEBHOOK_SECRET: &str = "webhook-secret";

struct Node {
    app: App,
    pool: PgPool,
    po: ProductOpenerStandIn,
    base: String,
}

impl Node {
    async fn start(adjust: impl FnOnce(&mut Settings)) -> Node {
        let po = ProductOpenerStandIn::start().await;
        let mut s = common::settings(&fresh_database().await);
        s.roles = vec![Role::Api, Role::Workers];
        po.point(&mut s);
        s.product_opener.user = "robotoff".into();
        s.product_opener.password = "robotoff-secret".into();
        s.http.listing_cache_ms = 0;
        s.http.operator_token = OPERATOR_TOKEN.into();
        adjust(&mut s);
        let app = spawn_app(s).await;
        let pool = app.pool.clone();
        let base = format!("http://{}", app.addr.expect("api role"));
        Node {
            app,
            pool,
            po,
            base,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn annotate(&self, form: &[(&str, &str)], auth: Option<&str>) -> (u16, Value) {
        let mut r = http()
            .post(self.url("/api/v1/insights/annotate"))
            .form(form);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn insight(&self, barcode: &str) -> String {
        common::insert_category_insight(&self.pool, barcode)
            .await
            .to_string()
    }

    /// (annotation, username, n_votes, votes) of an insight.
    async fn state(&self, id: &str) -> (Option<i32>, Option<String>, i32, i64) {
        let id = uuid::Uuid::parse_str(id).expect("uuid");
        let (annotation, username, n_votes): (Option<i32>, Option<String>, i32) = sqlx::query_as(
            "SELECT annotation, username, n_votes FROM product_insight WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .expect("insight row");
        let votes: i64 =
            sqlx::query_scalar("SELECT count(*) FROM annotation_vote WHERE insight_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .expect("votes");
        (annotation, username, n_votes, votes)
    }

    async fn stop(self) {
        self.app.shutdown().await;
    }
}

fn product(code: &str) -> Value {
    json!({"code": code, "product_type": "food", "lang": "fr", "countries_tags": ["en:france"],
           "categories_tags": [], "images": {}})
}

/// Point 1: invented credentials close nothing (not even with `update=false`, which
/// never reaches Product Opener's write API); the known user's do, under the name
/// Product Opener gives, and a success is remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_credentials_product_opener_accepts_count() {
    let node = Node::start(|_| {}).await;
    node.po.set_product(product("00000001"));
    let id = node.insight("00000001").await;
    for auth in [INVENTED, "Basic YTp3cm9uZw=="] {
        for update in ["1", "0"] {
            let (status, body) = node
                .annotate(
                    &[("insight_id", &id), ("annotation", "0"), ("update", update)],
                    Some(auth),
                )
                .await;
            assert_eq!(status, 401, "{auth} update={update}: {body}");
            assert_eq!(body["error"], "invalid_credentials");
        }
    }
    // An invented session cookie is refused too.
    let resp = http()
        .post(node.url("/api/v1/insights/annotate"))
        .header("cookie", "session=user_id&mallory&user_session&forged")
        .form(&[("insight_id", id.as_str()), ("annotation", "0")])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(node.state(&id).await, (None, None, 0, 0), "nothing changed");
    assert!(node.po.writes().is_empty());

    let checks_before = node.po.auth_checks();
    let (status, body) = node
        .annotate(
            &[("insight_id", &id), ("annotation", "0"), ("update", "0")],
            Some(KNOWN),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(node.state(&id).await.0, Some(0));
    assert_eq!(node.state(&id).await.1.as_deref(), Some("a"));
    // The known session cookie works the same, under its user's name.
    let other = node.insight("00000001").await;
    let resp = http()
        .post(node.url("/api/v1/insights/annotate"))
        .header("cookie", format!("session={KNOWN_SESSION}"))
        .form(&[
            ("insight_id", other.as_str()),
            ("annotation", "0"),
            ("update", "0"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(node.state(&other).await.1.as_deref(), Some("alice"));
    // The success of `a` is remembered: a second annotation asks Product Opener nothing.
    let third = node.insight("00000001").await;
    let (status, _) = node
        .annotate(
            &[("insight_id", &third), ("annotation", "0"), ("update", "0")],
            Some(KNOWN),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        node.po.auth_checks(),
        checks_before + 2,
        "a once, alice once"
    );
    node.stop().await;
}

/// Point 1 with Product Opener down: the credentials cannot be checked, so nothing is
/// done (503), never accepted on trust.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_not_trusted_while_product_opener_is_down() {
    let node = Node::start(|_| {}).await;
    let id = node.insight("00000001").await;
    node.po.set_down(true);
    let (status, body) = node
        .annotate(&[("insight_id", &id), ("annotation", "1")], Some(KNOWN))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "credentials_unchecked");
    assert_eq!(node.state(&id).await, (None, None, 0, 0));
    node.stop().await;
}

async fn logo(pool: &PgPool) -> i32 {
    let image: i32 = sqlx::query_scalar(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type)
         VALUES ('00000001', now(), '1', '/000/000/000/0001/1.jpg', 100, 100, false, 'off') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("image");
    let ip: i32 = sqlx::query_scalar(
        "INSERT INTO image_prediction (type, model_name, model_version, data, timestamp, image_id)
         VALUES ('object_detection', 'universal_logo_detector', '1', '{}', now(), $1) RETURNING id",
    )
    .bind(image)
    .fetch_one(pool)
    .await
    .expect("image prediction");
    sqlx::query_scalar(
        "INSERT INTO logo_annotation (image_prediction_id, index, bounding_box, score, barcode,
             source_image, server_type, annotation_type, annotation_value, annotation_value_tag, username)
         VALUES ($1, 0, '[0.1, 0.1, 0.5, 0.5]', 0.8, '00000001', '/000/000/000/0001/1.jpg', 'off',
                 'brand', 'Acme', 'acme', 'someone')
         RETURNING id",
    )
    .bind(ip)
    .fetch_one(pool)
    .await
    .expect("logo")
}

/// Point 2: the logo writes need a user Product Opener accepts; the bulk rename also
/// checks the target like a single annotation does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logo_writes_need_a_verified_user() {
    let node = Node::start(|_| {}).await;
    let id = logo(&node.pool).await;
    let client = http();
    let annotated = "SELECT count(*) FROM logo_annotation WHERE annotation_value = 'Acme' AND username = 'someone'";
    let put = client
        .put(node.url(&format!("/api/v1/images/logos/{id}")))
        .header("authorization", INVENTED)
        .json(&json!({"type": "brand", "value": "Evil"}))
        .send()
        .await
        .expect("request");
    assert_eq!(put.status().as_u16(), 401);
    let bulk = client
        .post(node.url("/api/v1/images/logos/annotate"))
        .header("authorization", INVENTED)
        .json(&json!({"annotations": [{"logo_id": id, "type": "brand", "value": "Evil"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(bulk.status().as_u16(), 401);
    for auth in [None, Some(INVENTED)] {
        let mut reset = client.post(node.url(&format!("/api/v1/images/logos/{id}/reset")));
        let mut rename = client.post(node.url("/api/v1/images/logos/update")).form(&[
            ("source_type", "brand"),
            ("source_value", "Acme"),
            ("target_type", "brand"),
            ("target_value", "Evil"),
        ]);
        if let Some(a) = auth {
            reset = reset.header("authorization", a);
            rename = rename.header("authorization", a);
        }
        assert_eq!(reset.send().await.expect("reset").status().as_u16(), 401);
        assert_eq!(rename.send().await.expect("rename").status().as_u16(), 401);
    }
    // A label target without a language prefix: refused even for a verified user.
    let rename = client
        .post(node.url("/api/v1/images/logos/update"))
        .header("authorization", KNOWN)
        .form(&[
            ("source_type", "brand"),
            ("source_value", "Acme"),
            ("target_type", "label"),
            ("target_value", "organic"),
        ])
        .send()
        .await
        .expect("rename");
    assert_eq!(rename.status().as_u16(), 400);
    assert_eq!(count(&node.pool, annotated).await, 1, "nothing changed");
    node.stop().await;
}

/// Points 2 and 3: the dataset refresh and the image prediction import need the
/// operator token; the import is validated and written in one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_need_the_operator_token() {
    let node = Node::start(|_| {}).await;
    let client = http();
    let bearer = |t: &str| format!("Bearer {t}");
    for auth in [None, Some(bearer("wrong")), Some(KNOWN.to_string())] {
        let mut r = client.post(node.url("/api/v1/products/dataset"));
        if let Some(a) = &auth {
            r = r.header("authorization", a);
        }
        let status = r.send().await.expect("request").status().as_u16();
        assert!(matches!(status, 400 | 401), "{auth:?}: {status}");
    }
    let image: i32 = sqlx::query_scalar(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type)
         VALUES ('00000002', now(), '3', '/000/000/000/0002/3.jpg', 100, 100, false, 'off') RETURNING id",
    )
    .fetch_one(&node.pool)
    .await
    .expect("image");
    let good = json!({"predictions": [{
        "barcode": "00000002", "image_id": "3", "model_name": "nutriscore",
        "model_version": "yolo-nutriscore-1.0",
        "data": {"objects": [{"label": "nutriscore-a", "score": 0.8, "bounding_box": [0.1, 0.1, 0.2, 0.2]}]}}]});
    let import = |body: Value, auth: Option<String>| {
        let mut r = client
            .post(node.url("/api/v1/image_predictions/import"))
            .json(&body);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let stored = "SELECT count(*) FROM image_prediction";
    for auth in [None, Some(bearer("wrong"))] {
        let status = import(good.clone(), auth).await.expect("import").status();
        assert!(matches!(status.as_u16(), 400 | 401), "{status}");
    }
    assert_eq!(count(&node.pool, stored).await, 0);
    // Invalid bodies and unknown images store nothing, whole batch included.
    let mut bad = good.clone();
    bad["predictions"][0]["data"] = json!("not an object");
    let resp = import(bad, Some(bearer(OPERATOR_TOKEN)))
        .await
        .expect("import");
    assert_eq!(resp.status().as_u16(), 400);
    let mut unknown = good.clone();
    unknown["predictions"].as_array_mut().expect("list").push(
        json!({"barcode": "00000002", "image_id": "99", "model_name": "nutriscore",
                     "model_version": "1", "data": {}}),
    );
    let resp = import(unknown, Some(bearer(OPERATOR_TOKEN)))
        .await
        .expect("import");
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(count(&node.pool, stored).await, 0, "one transaction");
    // The good import, twice: one row per (image, model).
    for _ in 0..2 {
        let resp = import(good.clone(), Some(bearer(OPERATOR_TOKEN)))
            .await
            .expect("import");
        assert_eq!(resp.status().as_u16(), 200);
    }
    let row: (String, i32, Option<f32>) = sqlx::query_as(
        "SELECT type, image_id, max_confidence FROM image_prediction WHERE model_name = 'nutriscore'",
    )
    .fetch_one(&node.pool)
    .await
    .expect("one row");
    assert_eq!(row, ("object_detection".into(), image, Some(0.8)));
    assert_eq!(count(&node.pool, stored).await, 1);
    node.stop().await;
}

/// Point 2: with the webhooks on, a call needs the shared secret (bearer or HMAC).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_need_the_shared_secret() {
    use hmac::Mac;
    let node = Node::start(|s| {
        s.http.webhooks = true;
        s.http.webhook_secret = WEBHOOK_SECRET.into();
    })
    .await;
    // The stand-in is every flavor's Product Opener: its host is the server domain.
    let body = "barcode=3017620422003&action=deleted&server_domain=127.0.0.1&diffs=%7B%7D";
    let send = |headers: Vec<(&'static str, String)>| {
        let mut r = http()
            .post(node.url("/api/v1/webhook/product"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let jobs = "SELECT count(*) FROM job WHERE kind = 'delete_product_insights'";
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong".to_string())],
        vec![("x-robotoff-signature", "sha256=00".to_string())],
    ] {
        let resp = send(headers.clone()).await.expect("request");
        assert_eq!(resp.status().as_u16(), 401, "{headers:?}");
    }
    assert_eq!(count(&node.pool, jobs).await, 0);
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let resp = send(vec![(
        "x-robotoff-signature",
        format!("sha256={signature}"),
    )])
    .await
    .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = send(vec![("authorization", format!("Bearer {WEBHOOK_SECRET}"))])
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(count(&node.pool, jobs).await >= 1);
    node.stop().await;
}

/// Point 4: a client inventing device ids still counts once per insight; an overlong
/// device id is refused; anonymous votes apply nothing when the setting says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_votes_count_once_per_client_address() {
    let node = Node::start(|s| s.annotation.anonymous_votes_apply = false).await;
    let id = node.insight("00000001").await;
    for device in ["d1", "d2", "d3", "d4"] {
        let (status, body) = node
            .annotate(
                &[
                    ("insight_id", &id),
                    ("annotation", "1"),
                    ("device_id", device),
                ],
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (annotation, _, n_votes, votes) = node.state(&id).await;
    assert_eq!(
        (annotation, n_votes, votes),
        (None, 1, 1),
        "one address, one vote"
    );
    let long = "x".repeat(129);
    let (status, body) = node
        .annotate(
            &[
                ("insight_id", &id),
                ("annotation", "0"),
                ("device_id", &long),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(node.state(&id).await.3, 1);
    node.stop().await;
}

/// Point 5: CORS only for allowed origins; a write carrying the session cookie from
/// another site is refused before anything is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_follows_the_allow_list_and_cross_site_cookie_writes_are_refused() {
    let node = Node::start(|_| {}).await;
    let client = http();
    let get = |origin: &'static str| {
        client
            .get(node.url("/api/v1/status"))
            .header("origin", origin)
            .send()
    };
    let evil = get("https://evil.example").await.expect("request");
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let hunger = get("https://hunger.openfoodfacts.org")
        .await
        .expect("request");
    assert_eq!(
        hunger
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://hunger.openfoodfacts.org")
    );
    assert_eq!(
        hunger
            .headers()
            .get("access-control-allow-credentials")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let id = node.insight("00000001").await;
    let forged = client
        .post(node.url("/api/v1/insights/annotate"))
        .header("origin", "https://evil.example")
        .header("cookie", format!("session={KNOWN_SESSION}"))
        .form(&[
            ("insight_id", id.as_str()),
            ("annotation", "0"),
            ("update", "0"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(node.state(&id).await, (None, None, 0, 0));
    // Hunger Games' own answers (credentials included) still work.
    let hunger = client
        .post(node.url("/api/v1/insights/annotate"))
        .header("origin", "https://hunger.openfoodfacts.org")
        .header("cookie", format!("session={KNOWN_SESSION}"))
        .form(&[
            ("insight_id", id.as_str()),
            ("annotation", "0"),
            ("update", "0"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(hunger.status().as_u16(), 200);
    node.stop().await;
}

/// Points 6 and 10: counts have a ceiling; a GET's body is not a form; an unknown HTTP
/// method is labelled `other` in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_bodies_and_metric_labels_are_bounded() {
    let node = Node::start(|s| s.http.max_count = 50).await;
    let client = http();
    for path in [
        "/api/v1/questions?count=51",
        "/api/v1/insights?count=51",
        "/api/v1/insights/random?count=51",
        "/api/v1/predictions?count=51",
    ] {
        let resp = client.get(node.url(path)).send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    let ok = client
        .get(node.url("/api/v1/questions?count=50"))
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status().as_u16(), 200);
    let with_body = client
        .get(node.url("/api/v1/questions?count=1"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("count=100000")
        .send()
        .await
        .expect("request");
    assert_eq!(with_body.status().as_u16(), 200, "a GET's body is ignored");
    let odd = client
        .request(
            reqwest::Method::from_bytes(b"BREW").expect("method"),
            node.url("/api/v1/status"),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(odd.status().as_u16(), 405);
    let metrics = client
        .get(node.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    assert!(!metrics.contains("method=\"BREW\""));
    assert!(metrics.contains("method=\"other\""));
    node.stop().await;
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Point 7: 1,000 listing requests with random parameters and 1 MB bodies leave the
/// memory of the process (service and test in one) flat: the cache is bounded in bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_under_random_listings_with_large_bodies() {
    let node = Node::start(|s| {
        s.http.listing_cache_ms = 60_000;
        s.http.listing_cache_bytes = 2 * 1024 * 1024;
    })
    .await;
    for i in 0..20 {
        node.insight(&format!("0000{i:04}")).await;
    }
    let client = http();
    let body = vec![b'a'; 1024 * 1024];
    let send = |i: usize| {
        let path = match i % 4 {
            0 => format!("/api/v1/questions?count={}&value_tag=en:v{i}", 1 + i % 50),
            1 => format!("/api/v1/insights?page={}&brands=b{i}", 1 + i % 7),
            2 => format!("/api/v1/questions/random?count=5&lang=l{i}"),
            _ => format!(
                "/api/v1/questions/0000{:04}?insight_types=category&x={i}",
                i % 20
            ),
        };
        client
            .get(node.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
    };
    // Warm-up, then the measured run.
    for i in 0..100 {
        let status = send(i).await.expect("request").status().as_u16();
        assert_eq!(status, 200, "request {i}");
    }
    let before = rss_kib();
    let mut peak = before;
    for chunk in (100..1100).collect::<Vec<_>>().chunks(8) {
        let answers = futures::future::join_all(chunk.iter().map(|i| send(*i))).await;
        for a in answers {
            assert_eq!(a.expect("request").status().as_u16(), 200);
        }
        peak = peak.max(rss_kib());
    }
    let after = rss_kib();
    eprintln!("RSS over 1,000 listings with 1 MB bodies: {before} KiB before, {after} KiB after, peak {peak} KiB");
    assert!(
        after < before + 100 * 1024,
        "RSS grew from {before} KiB to {after} KiB (peak {peak} KiB) over 1,000 requests"
    );
    assert!(node.app.services.settings.http.listing_cache_bytes > 0);
    node.stop().await;
}

/// Point 8: 2,000 concurrent annotations each get an answer (done, or 503 with
/// Retry-After when the shard's queue is full), none hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_annotations_gets_answers_or_503_never_a_hang() {
    let node = Node::start(|s| {
        s.annotation.queue_per_shard = 4;
        s.workers.shards = 2;
    })
    .await;
    flood_of_annotations(node).await;
}

/// Point 8 with three database connections for 2,000 requests: an annotation that finds
/// no connection free in time is a 503 with Retry-After too, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_a_starved_database_pool_gets_503s_not_500s() {
    let node = Node::start(|s| {
        s.annotation.queue_per_shard = 4;
        s.workers.shards = 2;
        s.database.max_connections = 3;
    })
    .await;
    flood_of_annotations(node).await;
}

async fn flood_of_annotations(node: Node) {
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(node.insight(&format!("1000{i:04}")).await);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let clock = Instant::now();
    let requests = (0..2000).map(|i| {
        let client = client.clone();
        let url = node.url("/api/v1/insights/annotate");
        let id = ids[i % ids.len()].clone();
        async move {
            let resp = client
                .post(url)
                .form(&[
                    ("insight_id", id.as_str()),
                    ("annotation", "1"),
                    ("device_id", &format!("device-{i}")),
                ])
                .send()
                .await;
            match resp {
                Ok(r) => {
                    let retry = r.headers().contains_key("retry-after");
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    (status, retry, body)
                }
                Err(e) => (0, false, e.to_string()),
            }
        }
    });
    let answers = futures::future::join_all(requests).await;
    let ok = answers.iter().filter(|(s, ..)| *s == 200).count();
    let busy = answers.iter().filter(|(s, r, _)| *s == 503 && *r).count();
    assert_eq!(
        ok + busy,
        2000,
        "every request answered 200 or 503 with Retry-After: {:?}",
        answers
            .iter()
            .filter(|(s, r, _)| !(*s == 200 || (*s == 503 && *r)))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(ok > 0, "some annotations went through");
    eprintln!(
        "2,000 annotations: {ok} done, {busy} refused (503) in {:.1} s",
        clock.elapsed().as_secs_f64()
    );
    node.stop().await;
}

/// Point 9: images over the pixel limit are refused before being decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_images_are_refused_before_decoding() {
    let node = Node::start(|s| s.http.max_image_pixels = 1_000_000).await;
    let img = image::RgbImage::from_pixel(2000, 1000, image::Rgb([200, 200, 200]));
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("png");
    node.po.serve_file(
        "/images/products/big.png",
        Served {
            body: png.into_inner(),
            last_modified: None,
            etag: None,
        },
    );
    let url = format!(
        "{}?image_url={}/images/products/big.png&y_min=0&x_min=0&y_max=0.5&x_max=0.5",
        node.url("/api/v1/images/crop"),
        node.po.url
    );
    let resp = http().get(url).send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(
        body["description"]
            .as_str()
            .is_some_and(|d| d.contains("over the limit")),
        "{body}"
    );
    node.stop().await;
}

/// Point 13: the temporary-file cleanup removes only the service's own directories.
#[tokio::test]
async fn tmp_cleanup_leaves_other_programs_directories_alone() {
    let foreign = std::env::temp_dir().join(format!("tmp-not-robotoff-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&foreign).expect("foreign dir");
    let old = std::time::SystemTime::now() - Duration::from_secs(10 * 24 * 3600);
    common::set_mtime(&foreign, old);
    let own = robotoff::maintenance::tmp_cleanup::scratch_dir().expect("scratch dir");
    common::set_mtime(&own, old);
    let outcome = robotoff::maintenance::tmp_cleanup::clean_tmp_files(48)
        .await
        .expect("cleanup");
    assert!(foreign.is_dir(), "{outcome}");
    assert!(!own.exists(), "{outcome}");
    let _ = std::fs::remove_dir(&foreign);
}

/// Point 15: answering an insight of a product Product Opener has but the store does
/// not yet hold keeps the insight (it used to be deleted by the refresh that follows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_annotation_never_deletes_what_it_annotated() {
    let node = Node::start(|_| {}).await;
    node.po.set_product(product("00000009"));
    let id = node.insight("00000009").await;
    let (status, body) = node
        .annotate(
            &[("insight_id", &id), ("annotation", "0"), ("update", "0")],
            Some(KNOWN),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        node.state(&id).await.0,
        Some(0),
        "the insight is still there"
    );
    assert_eq!(
        count(
            &node.pool,
            "SELECT count(*) FROM product WHERE code = '00000009'"
        )
        .await,
        1,
        "and its product was stored"
    );
    node.stop().await;
}

/// Point 12: secrets print redacted.
#[test]
fn secrets_are_redacted_in_debug_output() {
    let mut s = common::settings("postgres://robotoff:db-password@127.0.0.1:5432/robotoff");
    s.product_opener.password = "po-password".into();
    s.http.operator_token = "operator-token".into();
    let printed = format!("{s:?}");
    for secret in ["db-password", "po-password", "operator-token"] {
        assert!(!printed.contains(secret), "{secret} printed");
    }
    let creds = robotoff::infra::product_opener::Credentials::Password {
        user_id: "a".into(),
        password: "hunter2".into(),
    };
    assert!(!format!("{creds:?}").contains("hunter2"));
}
