//! Predictions, images, image predictions, logos and the product audit (spec api-db
//! §1.3, §1.4).

use crate::support::{
    self, fixture_insight, image, image_prediction, insight, keys, logo, prediction, sorted,
};
use serde_json::json;

const IMAGE_KEYS: [&str; 10] = [
    "id",
    "barcode",
    "uploaded_at",
    "image_id",
    "source_image",
    "width",
    "height",
    "deleted",
    "server_type",
    "fingerprint",
];
const LOGO_KEYS: [&str; 16] = [
    "id",
    "index",
    "bounding_box",
    "score",
    "annotation_value",
    "annotation_value_tag",
    "taxonomy_value",
    "annotation_type",
    "username",
    "completed_at",
    "nearest_neighbors",
    "barcode",
    "source_image",
    "text",
    "server_type",
    "image",
];

#[tokio::test]
async fn predictions_listing() {
    let api = support::start().await;
    prediction(&api.pool, "00000001", "label", "en:organic").await;
    prediction(&api.pool, "00000001", "category", "en:teas").await;
    prediction(&api.pool, "00000002", "label", "en:vegan").await;
    let body = api.get_json("/api/v1/predictions?barcode=1").await;
    assert_eq!(body["count"], json!(2));
    assert_eq!(body["status"], json!("found"));
    let p = &body["predictions"][0];
    assert_eq!(
        keys(p),
        sorted(&[
            "id",
            "barcode",
            "type",
            "data",
            "timestamp",
            "value_tag",
            "value",
            "source_image",
            "automatic_processing",
            "predictor",
            "predictor_version",
            "confidence",
            "server_type"
        ])
    );
    assert_eq!(p["timestamp"], json!("2024-01-01T00:00:00.500000"));
    assert_eq!(p["confidence"], json!(0.5));
    assert_eq!(
        api.get_json("/api/v1/predictions?types=label").await["count"],
        json!(2)
    );
    assert_eq!(
        api.get_json("/api/v1/predictions?value_tag=en:vegan").await["count"],
        json!(1)
    );
    assert_eq!(
        api.get_json("/api/v1/predictions?server_type=obf").await,
        json!({"count": 0, "predictions": [], "status": "no_predictions"})
    );
    let body = api.get_json("/api/v1/predictions?count=1&page=3").await;
    assert_eq!(body["count"], json!(3));
    assert_eq!(body["predictions"].as_array().map(Vec::len), Some(1));
    api.stop().await;
}

#[tokio::test]
async fn images_image_predictions_and_logo_collection() {
    let api = support::start().await;
    let with_prediction = image(&api.pool, "00000001", "1").await;
    let _bare = image(&api.pool, "00000001", "2").await;
    let ip = image_prediction(&api.pool, with_prediction).await;
    let ip_without_logo = image_prediction(&api.pool, with_prediction).await;
    let logo_id = logo(&api.pool, ip, 0, "00000001", Some("brand"), Some("Acme")).await;
    // /images: without predictions by default.
    let body = api.get_json("/api/v1/images").await;
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["images"][0]["image_id"], json!("2"));
    assert_eq!(keys(&body["images"][0]), sorted(&IMAGE_KEYS));
    assert_eq!(
        body["images"][0]["uploaded_at"],
        json!("2024-01-01T00:00:00")
    );
    assert_eq!(
        api.get_json("/api/v1/images?with_predictions=true&barcode=00000001")
            .await["count"],
        json!(2)
    );
    assert_eq!(
        api.get_json("/api/v1/images?barcode=2").await["status"],
        json!("no_images")
    );
    // /image_predictions: without logos by default, image nested.
    let body = api.get_json("/api/v1/image_predictions").await;
    assert_eq!(body["count"], json!(1));
    let item = &body["image_predictions"][0];
    assert_eq!(item["id"], json!(ip_without_logo));
    assert_eq!(
        keys(item),
        sorted(&[
            "id",
            "type",
            "model_name",
            "model_version",
            "data",
            "timestamp",
            "image",
            "max_confidence"
        ])
    );
    assert_eq!(keys(&item["image"]), sorted(&IMAGE_KEYS));
    assert_eq!(item["max_confidence"], json!(0.9));
    assert_eq!(
        api.get_json("/api/v1/image_predictions?with_logo=1").await["count"],
        json!(2)
    );
    assert_eq!(
        api.get_json("/api/v1/image_predictions?with_logo=1&min_confidence=0.95")
            .await["count"],
        json!(0)
    );
    assert_eq!(
        api.get_json("/api/v1/image_predictions?with_logo=1&model_name=nutriscore")
            .await["status"],
        json!("no_image_predictions")
    );
    // /annotation/collection: logos with the nested image prediction and image.
    let body = api.get_json("/api/v1/annotation/collection/").await;
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["status"], json!("found"));
    let l = &body["annotation"][0];
    assert_eq!(l["id"], json!(logo_id));
    assert_eq!(l["image_prediction"]["image"]["id"], json!(with_prediction));
    assert_eq!(
        api.get_json("/api/v1/annotation/collection?types=label")
            .await["status"],
        json!("no_annotation")
    );
    api.stop().await;
}

#[tokio::test]
async fn logos_by_id_search_and_detail() {
    let api = support::start().await;
    let img = image(&api.pool, "00000001", "1").await;
    let ip = image_prediction(&api.pool, img).await;
    let a = logo(&api.pool, ip, 0, "00000001", Some("brand"), Some("Acme")).await;
    let b = logo(&api.pool, ip, 1, "00000001", None, None).await;
    let l = logo(
        &api.pool,
        ip,
        2,
        "00000001",
        Some("label"),
        Some("en:organic"),
    )
    .await;
    sqlx::query("UPDATE logo_annotation SET taxonomy_value = 'en:organic' WHERE id = $1")
        .bind(l)
        .execute(&api.pool)
        .await
        .expect("update");
    let body = api
        .get_json(&format!("/api/v1/images/logos?logo_ids={a},{b}"))
        .await;
    assert_eq!(body["count"], json!(2));
    assert_eq!(keys(&body["logos"][0]), sorted(&LOGO_KEYS));
    assert_eq!(body["logos"][0]["score"], json!(0.75));
    let many: Vec<String> = (1..=501).map(|i| i.to_string()).collect();
    let (status, err) = api
        .get(&format!("/api/v1/images/logos?logo_ids={}", many.join(",")))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        err["description"],
        json!("too many logos requested, max: 500")
    );
    let (status, _) = api.get("/api/v1/images/logos").await;
    assert_eq!(status, 400);
    // Search.
    let body = api.get_json("/api/v1/images/logos/search").await;
    assert_eq!(body["count"], json!(3));
    assert_eq!(
        api.get_json("/api/v1/images/logos/search?annotated=0")
            .await["count"],
        json!(1)
    );
    assert_eq!(
        api.get_json("/api/v1/images/logos/search?type=brand&value=ACME")
            .await["count"],
        json!(1)
    );
    assert_eq!(
        api.get_json("/api/v1/images/logos/search?type=label&taxonomy_value=en:organic")
            .await["count"],
        json!(1)
    );
    let body = api
        .get_json("/api/v1/images/logos/search?count=1&random=true")
        .await;
    assert_eq!(
        (
            body["count"].clone(),
            body["logos"].as_array().map(Vec::len)
        ),
        (json!(3), Some(1))
    );
    for (query, text) in [
        (
            "value=x",
            "a type is required if `value` or `taxonomy_value` is provided",
        ),
        (
            "type=brand&value=x&taxonomy_value=y",
            "`value` and `taxonomy_value` are mutually exclusive parameters",
        ),
        (
            "type=label&value=x",
            "you should provide a `taxonomy_value` and not a `value` for label type",
        ),
        (
            "count=2001",
            "The \"count\" parameter is invalid. The value may not exceed 2000",
        ),
    ] {
        let (status, body) = api
            .get(&format!("/api/v1/images/logos/search?{query}"))
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["description"], json!(text), "{query}");
    }
    // Detail: 404 with an empty body.
    let body = api.get_json(&format!("/api/v1/images/logos/{a}")).await;
    assert_eq!(body["annotation_value"], json!("Acme"));
    assert_eq!(body["image"]["id"], json!(img));
    let resp = api
        .client
        .get(api.url("/api/v1/images/logos/999999"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.text().await.unwrap_or_default(), "");
    api.stop().await;
}

#[tokio::test]
async fn logo_writes_check_auth_and_input() {
    let api = support::start().await;
    let img = image(&api.pool, "00000001", "1").await;
    let ip = image_prediction(&api.pool, img).await;
    let a = logo(&api.pool, ip, 0, "00000001", None, None).await;
    let put = |body: serde_json::Value, auth: bool| {
        let mut r = api
            .client
            .put(api.url(&format!("/api/v1/images/logos/{a}")))
            .json(&body);
        if auth {
            r = r.header("authorization", "Basic YTpi");
        }
        r.send()
    };
    let resp = put(json!({"type": "brand", "value": "Acme"}), false)
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 403);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(
        body["description"],
        json!("authentication is required to annotate logos")
    );
    let resp = put(json!({"value": "Acme"}), true).await.expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let resp = put(json!({"type": "label", "value": "organic"}), true)
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(
        body["description"],
        json!("language-prefixed value are required for label type (here: organic)")
    );
    let resp = api
        .client
        .post(api.url("/api/v1/images/logos/annotate"))
        .header("authorization", "Basic YTpi")
        .json(&json!({"annotations": [{"logo_id": 987654, "type": "brand", "value": "x"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(body["description"], json!("logo 987654 not found"));
    let resp = api
        .client
        .post(api.url("/api/v1/images/logos/987654/reset"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
    // Nothing was written.
    let annotated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM logo_annotation WHERE annotation_type IS NOT NULL",
    )
    .fetch_one(&api.pool)
    .await
    .unwrap_or(-1);
    assert_eq!(annotated, 0);
    // No embedded logo to start from: an empty answer (tests/logo_index.rs has the rest).
    let (status, body) = api.get("/api/v1/ann/search").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"results": [], "count": 0, "query_logo_id": null})
    );
    let (status, _) = api.get("/api/v1/ann/search/1?count=501").await;
    assert_eq!(status, 400);
    api.stop().await;
}

/// Beyond Robotoff: everything known about one product.
#[tokio::test]
async fn product_audit() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    insight(
        &api.pool,
        json!({"annotation": 1, "type": "label", "value_tag": "en:organic"}),
    )
    .await;
    insight(&api.pool, json!({"barcode": "00000002"})).await;
    prediction(&api.pool, "00000001", "label", "en:organic").await;
    let img = image(&api.pool, "00000001", "1").await;
    let ip = image_prediction(&api.pool, img).await;
    logo(&api.pool, ip, 0, "00000001", None, None).await;
    let body = api.get_json("/api/v1/products/1/audit").await;
    assert_eq!(
        keys(&body),
        sorted(&[
            "barcode",
            "server_type",
            "predictions",
            "insights",
            "images",
            "image_predictions",
            "logos"
        ])
    );
    assert_eq!(body["barcode"], json!("00000001"));
    let len = |k: &str| body[k].as_array().map(Vec::len);
    assert_eq!(
        (
            len("predictions"),
            len("insights"),
            len("images"),
            len("image_predictions"),
            len("logos")
        ),
        (Some(1), Some(2), Some(1), Some(1), Some(1))
    );
    let empty = api
        .get_json("/api/v1/products/3017620422003/audit?server_type=obf")
        .await;
    assert_eq!(empty["insights"], json!([]));
    api.stop().await;
}

/// GET /predict/lang/product aggregates image_lang predictions.
#[tokio::test]
async fn product_languages_from_image_lang_predictions() {
    let api = support::start().await;
    for (image, data) in [
        (
            "1",
            json!({"count": {"fr": 30, "en": 10, "words": 50}, "percent": {}}),
        ),
        (
            "3",
            json!({"count": {"en": 25, "words": 50}, "percent": {}}),
        ),
    ] {
        sqlx::query(
            "INSERT INTO prediction (barcode, type, data, timestamp, source_image, server_type)
             VALUES ('00000001', 'image_lang', $1, now(), '/000/000/000/0001/' || $2 || '.jpg', 'off')",
        )
        .bind(&data)
        .bind(image)
        .execute(&api.pool)
        .await
        .expect("insert");
    }
    let body = api.get_json("/api/v1/predict/lang/product?barcode=1").await;
    assert_eq!(
        body,
        json!({
            "counts": [{"count": 35, "lang": "en"}, {"count": 30, "lang": "fr"}],
            "percent": [{"percent": 35.0, "lang": "en"}, {"percent": 30.0, "lang": "fr"}],
            "image_ids": [1, 3]
        })
    );
    assert_eq!(
        api.get_json("/api/v1/predict/lang/product?barcode=2").await,
        json!({"counts": [], "percent": [], "image_ids": []})
    );
    let (status, _) = api.get("/api/v1/predict/lang/product").await;
    assert_eq!(status, 400);
    api.stop().await;
}
