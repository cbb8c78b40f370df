//! `/insights*`, `/users/statistics` and the annotate endpoint's validation (spec
//! api-db §1.2, conformance §8.7, §8.10).

use crate::support::{
    self, fixture_insight, insight, keys, sorted, vote, INSIGHT_ID, INSIGHT_KEYS,
};
use serde_json::json;

#[tokio::test]
async fn insight_detail_has_every_column() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    let body = api
        .get_json(&format!("/api/v1/insights/detail/{INSIGHT_ID}"))
        .await;
    assert_eq!(keys(&body), sorted(&INSIGHT_KEYS));
    assert_eq!(body["id"], json!(INSIGHT_ID));
    assert_eq!(body["barcode"], json!("00000001"));
    assert_eq!(body["countries"], json!(["en:france"]));
    assert_eq!(body["timestamp"], json!("2024-01-02T03:04:05"));
    assert_eq!(body["n_votes"], json!(0));
    assert_eq!(body["annotation"], json!(null));
    assert_eq!(body["reserved_barcode"], json!(false));
    // Unknown id → 404; a segment that is not a UUID does not match the route.
    let (status, body) = api
        .get("/api/v1/insights/detail/3e7a4bfb-e3a1-4a3b-9f2d-0d7c1b0d4c7e")
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["title"], json!("404 Not Found"));
    let (status, _) = api.get("/api/v1/insights/detail/not-a-uuid").await;
    assert_eq!(status, 404);
    api.stop().await;
}

#[tokio::test]
async fn insights_of_a_product() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    insight(&api.pool, json!({"annotation": 1})).await;
    insight(&api.pool, json!({"server_type": "obf"})).await;
    let body = api.get_json("/api/v1/insights/1").await;
    assert_eq!(keys(&body), sorted(&["insights", "status"]));
    assert_eq!(body["status"], json!("found"));
    assert_eq!(
        body["insights"].as_array().map(Vec::len),
        Some(1),
        "open insights of off only"
    );
    assert_eq!(body["insights"][0]["id"], json!(INSIGHT_ID));
    assert_eq!(
        api.get_json("/api/v1/insights/1?server_type=obf").await["insights"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        api.get_json("/api/v1/insights/2").await,
        json!({"status": "no_insights"})
    );
    api.stop().await;
}

/// test_api.py::test_get_insights_filter_by_lc and the other /insights filters.
#[tokio::test]
async fn insight_listing_filters() {
    let api = support::start().await;
    insight(
        &api.pool,
        json!({"barcode": "1", "lc": ["fr"], "type": "ingredient_spellcheck"}),
    )
    .await;
    insight(
        &api.pool,
        json!({"barcode": "2", "lc": ["fr", "en"], "type": "ingredient_spellcheck"}),
    )
    .await;
    insight(
        &api.pool,
        json!({"barcode": "3", "lc": ["de"], "type": "ingredient_spellcheck", "annotation": 0}),
    )
    .await;
    let barcodes = |body: &serde_json::Value| -> Vec<String> {
        let mut b: Vec<String> = body["insights"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["barcode"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        b.sort();
        b
    };
    let body = api.get_json("/api/v1/insights?lc=fr").await;
    assert_eq!(body["count"], json!(2));
    assert_eq!(barcodes(&body), vec!["1", "2"]);
    assert_eq!(
        barcodes(&api.get_json("/api/v1/insights?lc=en").await),
        vec!["2"]
    );
    assert_eq!(
        barcodes(&api.get_json("/api/v1/insights?lc=de").await),
        vec!["3"]
    );
    let body = api.get_json("/api/v1/insights?lc=it").await;
    assert_eq!(
        body,
        json!({"count": 0, "insights": [], "status": "no_insights"})
    );
    // Raw barcodes were stored unpadded: the filter normalises, so it finds none.
    assert_eq!(
        api.get_json("/api/v1/insights?barcode=1").await["count"],
        json!(0)
    );
    assert_eq!(
        api.get_json("/api/v1/insights?annotated=1").await["count"],
        json!(1)
    );
    assert_eq!(
        api.get_json("/api/v1/insights?annotated=0").await["count"],
        json!(2)
    );
    assert_eq!(
        api.get_json("/api/v1/insights?annotation=0").await["count"],
        json!(1)
    );
    assert_eq!(
        api.get_json("/api/v1/insights?insight_types=label").await["count"],
        json!(0)
    );
    assert_eq!(
        api.get_json("/api/v1/insights?order_by=popularity&count=1")
            .await["insights"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let (status, body) = api.get("/api/v1/insights?order_by=confidence").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        json!("invalid `order_by` value: confidence")
    );
    // The caller's own votes are hidden even in plain listings.
    let id = insight(&api.pool, json!({"barcode": "4"})).await;
    vote(&api.pool, &id, "dev", None, 1).await;
    assert_eq!(
        api.get_json("/api/v1/insights?device_id=dev").await["count"],
        json!(3)
    );
    assert_eq!(
        api.get_json("/api/v1/insights?device_id=other").await["count"],
        json!(4)
    );
    api.stop().await;
}

#[tokio::test]
async fn random_insights_and_user_statistics() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    insight(
        &api.pool,
        json!({"type": "label", "value_tag": "en:organic", "annotation": 1, "username": "alice"}),
    )
    .await;
    insight(
        &api.pool,
        json!({"type": "label", "value_tag": "en:vegan", "annotation": 0, "username": "alice"}),
    )
    .await;
    let body = api.get_json("/api/v1/insights/random").await;
    assert_eq!(keys(&body), sorted(&["count", "insights", "status"]));
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["insights"][0]["id"], json!(INSIGHT_ID));
    assert_eq!(
        api.get_json("/api/v1/insights/random?type=label").await["status"],
        json!("no_insights")
    );
    assert_eq!(
        api.get_json("/api/v1/users/statistics/alice").await,
        json!({"count": {"annotations": 2}})
    );
    assert_eq!(
        api.get_json("/api/v1/users/statistics/bob").await,
        json!({"count": {"annotations": 0}})
    );
    api.stop().await;
}

#[tokio::test]
async fn insight_dump_as_csv() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    // Without insight types nothing matches: 204.
    let resp = api
        .client
        .get(api.url("/api/v1/insights/dump"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 204);
    let resp = api
        .client
        .get(api.url("/api/v1/insights/dump?insight_types=category"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv")
    );
    let text = resp.text().await.unwrap_or_default();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(INSIGHT_KEYS.join(",").as_str()));
    let row = lines.next().unwrap_or_default();
    assert!(
        row.starts_with(&format!(
            "{INSIGHT_ID},00000001,category,{{}},2024-01-02T03:04:05,,,,0,,['en:france'],[],"
        )),
        "{row}"
    );
    assert_eq!(lines.next(), None);
    let (status, body) = api
        .get("/api/v1/insights/dump?insight_types=category&count=10001")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        json!("The \"count\" parameter is invalid. The value may not exceed 10000")
    );
    api.stop().await;
}

/// test_api.py::test_annotate_category_with_user_input — the 400s, in Robotoff's order.
#[tokio::test]
async fn annotate_validation_order_and_messages() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    let path = "/api/v1/insights/annotate";
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("insight_id", INSIGHT_ID), ("annotation", "2")],
            "`data` must be provided when annotation == 2",
        ),
        (
            vec![
                ("insight_id", INSIGHT_ID),
                ("annotation", "2"),
                ("data", "{}"),
                ("update", "False"),
            ],
            "`update` must be true when annotation == 2",
        ),
        (
            vec![
                ("insight_id", INSIGHT_ID),
                ("annotation", "1"),
                ("data", "{}"),
            ],
            "`annotation` must be 2 when `data` is provided",
        ),
        (
            vec![
                ("insight_id", INSIGHT_ID),
                ("annotation", "2"),
                ("data", "{\"value_tag\": \"en:beef\"}"),
            ],
            "`data` cannot be provided when the user is not authenticated",
        ),
        (
            vec![("insight_id", INSIGHT_ID), ("annotation", "3")],
            "The \"annotation\" parameter is invalid. The value may not exceed 2",
        ),
        (
            vec![("insight_id", "nope"), ("annotation", "1")],
            "The \"insight_id\" parameter is invalid. The value must be a UUID string.",
        ),
        (
            vec![("annotation", "1")],
            "The \"insight_id\" parameter is required.",
        ),
        (
            vec![
                ("insight_id", INSIGHT_ID),
                ("annotation", "1"),
                ("data", "{oops"),
            ],
            "The \"data\" parameter is invalid. It could not be parsed as JSON.",
        ),
    ];
    for (form, text) in cases {
        let (status, body) = api.post_form(path, &form, None).await;
        assert_eq!(status, 400, "{form:?}");
        assert_eq!(body["description"], json!(text), "{form:?}");
        assert!(body["title"].is_string());
    }
    // Smoothie's "null" username is anonymous: annotation 2 refused.
    let (status, body) = api
        .post_form(
            path,
            &[
                ("insight_id", INSIGHT_ID),
                ("annotation", "2"),
                ("data", "{}"),
            ],
            Some("Basic bnVsbDp4"),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        json!("`data` cannot be provided when the user is not authenticated")
    );
    // A malformed Authorization header is a 401.
    let (status, body) = api
        .post_form(
            path,
            &[("insight_id", INSIGHT_ID), ("annotation", "1")],
            Some("Bearer abc"),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body["title"],
        json!("Invalid authentication, Basic auth expected.")
    );
    // Query parameters work as well as form fields; nothing was written by any call.
    let _ = api
        .client
        .post(api.url(&format!("{path}?insight_id={INSIGHT_ID}&annotation=2")))
        .send()
        .await;
    let votes: i64 = sqlx::query_scalar("SELECT count(*) FROM annotation_vote")
        .fetch_one(&api.pool)
        .await
        .unwrap_or(-1);
    assert_eq!(votes, 0);
    let annotated: i64 =
        sqlx::query_scalar("SELECT count(*) FROM product_insight WHERE annotation IS NOT NULL")
            .fetch_one(&api.pool)
            .await
            .unwrap_or(-1);
    assert_eq!(annotated, 0);
    api.stop().await;
}
