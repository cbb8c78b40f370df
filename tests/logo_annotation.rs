//! Logo annotation writes (spec api-db §1.4) and the insights they make (§4.7): a
//! brand or label logo annotated by a user becomes a prediction and an insight applied
//! at once with that user's credentials; a reset removes what it made. The insights of a
//! batch of annotations are made by a durable job queued with them.

mod common;
#[path = "annotation_support/mod.rs"]
mod support;

use common::{count, wait_for_count};
use robotoff::types::{Product, ServerType};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

const CODE: &str = "3760094310634";
/// Basic a:b.
const AUTH: &str = "Basic YTpi";

async fn logo(pool: &PgPool, index: i32) -> i32 {
    let image: i32 = sqlx::query_scalar(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type)
         VALUES ($1, now(), $2, '/376/009/431/0634/' || $2 || '.jpg', 1000, 1000, false, 'off')
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(CODE)
    .bind(format!("{}", index + 1))
    .fetch_one(pool)
    .await
    .expect("image");
    let ip: i32 = sqlx::query_scalar(
        "INSERT INTO image_prediction (type, model_name, model_version, data, timestamp, image_id, max_confidence)
         VALUES ('object_detection', 'universal_logo_detector', 'v1', '{\"objects\": []}', now(), $1, 0.9)
         RETURNING id",
    )
    .bind(image)
    .fetch_one(pool)
    .await
    .expect("image prediction");
    sqlx::query_scalar(
        "INSERT INTO logo_annotation (image_prediction_id, index, bounding_box, score, barcode, source_image, server_type)
         VALUES ($1, 0, '[0.1, 0.1, 0.5, 0.5]', 0.8, $2, '/376/009/431/0634/' || $3 || '.jpg', 'off')
         RETURNING id",
    )
    .bind(ip)
    .bind(CODE)
    .bind(format!("{}", index + 1))
    .fetch_one(pool)
    .await
    .expect("logo")
}

/// The product of the logos, sold in France, with two images.
fn french_product() -> Product {
    let mut p = Product::new(CODE, ServerType::Off);
    p.lang = Some("fr".into());
    p.countries_tags = vec!["en:france".into()];
    p.images = json!({
        "1": {"sizes": {"full": {"w": 1000, "h": 1000}}},
        "2": {"sizes": {"full": {"w": 1000, "h": 1000}}}
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    p
}

async fn logo_row(
    pool: &PgPool,
    id: i32,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    sqlx::query_as(
        "SELECT annotation_type, annotation_value, annotation_value_tag, taxonomy_value, username
         FROM logo_annotation WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("logo row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotated_logos_make_applied_insights_and_reset_removes_them() {
    let env = env().await;
    env.store(french_product()).await;
    let brand_logo = logo(&env.pool, 0).await;
    let label_logo = logo(&env.pool, 1).await;
    let base = format!("http://{}", env.app.addr.expect("api role"));
    let client = common::http();

    // PUT: the brand logo, by user "a".
    let resp = client
        .put(format!("{base}/api/v1/images/logos/{brand_logo}"))
        .header("authorization", AUTH)
        .json(&json!({"type": "brand", "value": "Acme"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        logo_row(&env.pool, brand_logo).await,
        (
            Some("brand".into()),
            Some("Acme".into()),
            Some("acme".into()),
            // The brand taxonomy's name for the tag.
            Some("Acme".into()),
            Some("a".into())
        )
    );
    let (predictor, logo_id): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT predictor, data->>'logo_id' FROM prediction WHERE barcode = $1 AND type = 'brand'",
    )
    .bind(CODE)
    .fetch_one(&env.pool)
    .await
    .expect("brand prediction");
    assert_eq!(predictor.as_deref(), Some("universal-logo-detector"));
    assert_eq!(logo_id, Some(brand_logo.to_string()));
    let (annotation, username): (Option<i32>, Option<String>) = sqlx::query_as(
        "SELECT annotation, username FROM product_insight WHERE barcode = $1 AND type = 'brand'",
    )
    .bind(CODE)
    .fetch_one(&env.pool)
    .await
    .expect("brand insight");
    assert_eq!((annotation, username.as_deref()), (Some(1), Some("a")));
    let writes = env.po.writes();
    assert_eq!(writes.len(), 1, "one edit sent");
    let form = writes[0].form_map();
    assert_eq!(form.get("add_brands").map(String::as_str), Some("Acme"));
    assert_eq!(
        form.get("user_id").map(String::as_str),
        Some("a"),
        "the user's credentials"
    );

    // The same annotation again changes nothing and sends nothing.
    let resp = client
        .put(format!("{base}/api/v1/images/logos/{brand_logo}"))
        .header("authorization", AUTH)
        .json(&json!({"type": "brand", "value": "Acme"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(env.po.writes().len(), 1);

    // Bulk annotation: the label logo (the brand logo, already annotated, is skipped).
    let resp = client
        .post(format!("{base}/api/v1/images/logos/annotate"))
        .header("authorization", AUTH)
        .json(&json!({"annotations": [
            {"logo_id": label_logo, "type": "label", "value": "en:organic"},
            {"logo_id": brand_logo, "type": "brand", "value": "Other"}
        ]}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"annotated": 1}));
    assert_eq!(
        logo_row(&env.pool, label_logo).await,
        (
            Some("label".into()),
            Some("en:organic".into()),
            Some("en:organic".into()),
            Some("en:organic".into()),
            Some("a".into())
        )
    );
    assert_eq!(
        logo_row(&env.pool, brand_logo).await.1.as_deref(),
        Some("Acme")
    );
    let pool = env.pool.clone();
    wait_for_count(
        &pool,
        "SELECT count(*) FROM product_insight WHERE type = 'label' AND annotation = 1",
        1,
        "label insight applied",
    )
    .await;
    // Applied by the durable job queued with the annotation: the user's decision, sent
    // with the service's account (a user's credentials are never stored in the queue).
    // The job completes in its own transaction, just after the insight is applied.
    wait_for_count(
        &pool,
        "SELECT count(*) FROM job WHERE kind = 'logo_annotation_insights' AND state = 'done'",
        1,
        "the insights job done",
    )
    .await;
    let (label_user,): (Option<String>,) = sqlx::query_as(
        "SELECT username FROM product_insight WHERE barcode = $1 AND type = 'label'",
    )
    .bind(CODE)
    .fetch_one(&env.pool)
    .await
    .expect("label insight");
    assert_eq!(label_user.as_deref(), Some("a"));
    let writes = env.po.writes();
    assert_eq!(writes.len(), 2, "one more edit sent");
    assert_eq!(
        writes[1].form_map().get("user_id").map(String::as_str),
        Some(ROBOTOFF_USER)
    );

    // Reset needs a user Product Opener knows: without one, or with invented
    // credentials, nothing changes.
    for auth in [None, Some("Basic aW52ZW50ZWQ6dXNlcg==")] {
        let mut r = client.post(format!("{base}/api/v1/images/logos/{label_logo}/reset"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let resp = r.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
        assert!(logo_row(&env.pool, label_logo).await.0.is_some());
    }
    // Reset of the label logo: the logo is cleared; the applied insight stays, the
    // prediction goes.
    let resp = client
        .post(format!("{base}/api/v1/images/logos/{label_logo}/reset"))
        .header("authorization", AUTH)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        logo_row(&env.pool, label_logo).await,
        (None, None, None, None, None)
    );
    assert_eq!(
        count(
            &env.pool,
            "SELECT count(*) FROM prediction WHERE type = 'label'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &env.pool,
            "SELECT count(*) FROM product_insight WHERE type = 'label'"
        )
        .await,
        1
    );

    // Bulk rename, by a verified user only, with the checks of a single annotation.
    let rename = [
        ("source_type", "brand"),
        ("source_value", "ACME"),
        ("target_type", "brand"),
        ("target_value", "Acme Foods"),
    ];
    let resp = client
        .post(format!("{base}/api/v1/images/logos/update"))
        .form(&rename)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = client
        .post(format!("{base}/api/v1/images/logos/update"))
        .header("authorization", AUTH)
        .form(&[
            ("source_type", "brand"),
            ("source_value", "ACME"),
            ("target_type", "nonsense"),
            ("target_value", "Acme Foods"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        logo_row(&env.pool, brand_logo).await.1.as_deref(),
        Some("Acme"),
        "a refused rename changes nothing"
    );
    let resp = client
        .post(format!("{base}/api/v1/images/logos/update"))
        .header("authorization", AUTH)
        .form(&rename)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"updated": 1}));
    assert_eq!(
        logo_row(&env.pool, brand_logo).await,
        (
            Some("brand".into()),
            Some("Acme Foods".into()),
            Some("acme-foods".into()),
            None,
            Some("a".into())
        )
    );
    env.shutdown().await;
}

/// Spec api-db §1.4 (`POST /images/logos/annotate`) and §4.7: the insights of annotated
/// logos follow through a job queued in the annotations' transaction, which waits while
/// Product Opener is away and applies them once it is back, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logo_insights_survive_a_product_opener_outage() {
    let po = common::po::ProductOpenerStandIn::start().await;
    let db = common::fresh_database().await;
    let env = env_with(db, po, |s| s.ml.unavailable_retry_secs = 1).await;
    env.store(french_product()).await;
    let brand_logo = logo(&env.pool, 0).await;
    let base = format!("http://{}", env.app.addr.expect("api role"));
    env.po.set_write_status(Some(503));
    let resp = common::http()
        .post(format!("{base}/api/v1/images/logos/annotate"))
        .header("authorization", AUTH)
        .json(&json!({"annotations": [{"logo_id": brand_logo, "type": "brand", "value": "Acme"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"annotated": 1})
    );
    // The job tries, finds Product Opener away, and waits; the insight stays open.
    let pool = env.pool.clone();
    wait_for_count(
        &pool,
        "SELECT count(*) FROM job WHERE kind = 'logo_annotation_insights'
                   AND state <> 'done' AND last_error IS NOT NULL",
        1,
        "a deferred attempt",
    )
    .await;
    assert_eq!(
        count(
            &env.pool,
            "SELECT count(*) FROM product_insight WHERE type = 'brand' AND annotation IS NULL"
        )
        .await,
        1
    );
    env.po.set_write_status(None);
    wait_for_count(
        &pool,
        "SELECT count(*) FROM product_insight WHERE type = 'brand' AND annotation = 1
                   AND username = 'a'",
        1,
        "brand insight applied",
    )
    .await;
    let applied: Vec<_> = env
        .po
        .writes()
        .into_iter()
        .filter(|w| w.form_map().get("add_brands").map(String::as_str) == Some("Acme"))
        .collect();
    assert!(!applied.is_empty());
    env.shutdown().await;
}
