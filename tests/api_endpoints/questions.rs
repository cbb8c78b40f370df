//! `/questions*` (spec api-db §1.1, §5, conformance §8.8–§8.10).

use crate::support::{self, fixture_insight, insight, product, vote, INSIGHT_ID};
use serde_json::json;

/// test_api.py::test_random_question
#[tokio::test]
async fn random_question_has_robotoffs_exact_shape() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    product(
        &api.pool,
        "00000001",
        json!({"ingredients_fr": {"rev": "51", "sizes": {"100": {"h": 1, "w": 1}, "400": {"h": 4, "w": 4}, "full": {"h": 9, "w": 9}}}}),
    )
    .await;
    let body = api.get_json("/api/v1/questions?order_by=random").await;
    assert_eq!(
        body,
        json!({"count": 1, "questions": [{
            "barcode": "00000001", "type": "add-binary", "value": "Seeds", "value_tag": "en:seeds",
            "question": "Does the product belong to this category?", "insight_id": INSIGHT_ID,
            "insight_type": "category", "server_type": "off",
            "source_image_url": "https://images.openfoodfacts.net/images/products/000/000/000/0001/ingredients_fr.51.400.jpg"
        }], "status": "found"})
    );
    // Same through /questions/random, with a page (ignored by random order).
    let body = api.get_json("/api/v1/questions/random?page=3").await;
    assert_eq!(body["questions"].as_array().map(Vec::len), Some(1));
    api.stop().await;
}

/// test_api.py::test_barcode_question and test_barcode_question_not_found
#[tokio::test]
async fn questions_of_one_product() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    let body = api.get_json("/api/v1/questions/1").await;
    assert_eq!(
        body,
        json!({"questions": [{
            "barcode": "00000001", "type": "add-binary", "value": "Seeds", "value_tag": "en:seeds",
            "question": "Does the product belong to this category?", "insight_id": INSIGHT_ID,
            "insight_type": "category", "server_type": "off"
        }], "status": "found"})
    );
    assert_eq!(
        api.get_json("/api/v1/questions/2").await,
        json!({"questions": [], "status": "no_questions"})
    );
    // Localised question and value.
    let body = api.get_json("/api/v1/questions/00000001?lang=fr").await;
    assert_eq!(
        body["questions"][0]["question"],
        json!("Le produit appartient-il à cette catégorie ?")
    );
    assert_eq!(body["questions"][0]["value"], json!("Graines"));
    // A type that cannot be asked gives nothing; automatic insights are never asked.
    assert_eq!(
        api.get_json("/api/v1/questions/1?insight_types=nutrient")
            .await["status"],
        json!("no_questions")
    );
    api.stop().await;
}

/// Per-product order: n_votes, then category < label < brand < others (spec §1.1).
#[tokio::test]
async fn product_questions_sorted_by_type_priority() {
    let api = support::start().await;
    insight(&api.pool, json!({"barcode": "3000000000001", "type": "product_weight", "value": "1 kg", "value_tag": null})).await;
    insight(
        &api.pool,
        json!({"barcode": "3000000000001", "type": "brand", "value": "Acme", "value_tag": "acme"}),
    )
    .await;
    insight(&api.pool, json!({"barcode": "3000000000001", "type": "label", "value_tag": "en:organic", "n_votes": 2})).await;
    insight(
        &api.pool,
        json!({"barcode": "3000000000001", "type": "category", "value_tag": "en:teas"}),
    )
    .await;
    insight(&api.pool, json!({"barcode": "3000000000001", "type": "category", "value_tag": "en:coffees", "automatic_processing": true})).await;
    let body = api.get_json("/api/v1/questions/3000000000001").await;
    let types: Vec<&str> = body["questions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|q| q["insight_type"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(types, vec!["category", "label", "brand", "product_weight"]);
    let body = api
        .get_json("/api/v1/questions/3000000000001?count=1")
        .await;
    assert_eq!(
        body["questions"][0]["insight_type"],
        json!("label"),
        "most voted first, then type"
    );
    api.stop().await;
}

/// test_api.py::test_random_question_user_has_already_seen
#[tokio::test]
async fn questions_voted_on_are_hidden_from_the_voter() {
    let api = support::start().await;
    fixture_insight(&api.pool).await;
    vote(&api.pool, INSIGHT_ID, "device1", None, -1).await;
    assert_eq!(
        api.get_json("/api/v1/questions?order_by=random&device_id=device1")
            .await,
        json!({"count": 0, "questions": [], "status": "no_questions"})
    );
    assert_eq!(
        api.get_json("/api/v1/questions?device_id=device2").await["count"],
        json!(1)
    );
    // By username when authenticated (Basic a:b), whatever the device.
    vote(&api.pool, INSIGHT_ID, "device9", Some("a"), 1).await;
    let resp = api
        .client
        .get(api.url("/api/v1/questions?device_id=other"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .expect("request");
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(body["count"], json!(0));
    assert_eq!(
        api.get_json("/api/v1/questions/1?device_id=device1").await["status"],
        json!("no_questions")
    );
    api.stop().await;
}

/// test_api.py::test_popular_question_pagination
#[tokio::test]
async fn popular_questions_paginate() {
    let api = support::start().await;
    for i in 0..12 {
        insight(
            &api.pool,
            json!({"barcode": i.to_string(), "unique_scans_n": 100 - i}),
        )
        .await;
    }
    let barcodes = |body: &serde_json::Value| -> Vec<String> {
        body["questions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|q| q["barcode"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let expected = [
        vec!["0", "1", "2", "3", "4"],
        vec!["5", "6", "7", "8", "9"],
        vec!["10", "11"],
    ];
    for (page, want) in expected.iter().enumerate() {
        let body = api
            .get_json(&format!(
                "/api/v1/questions/popular?count=5&page={}",
                page + 1
            ))
            .await;
        assert_eq!(barcodes(&body), *want);
        assert_eq!(body["count"], json!(12));
        assert_eq!(body["status"], json!("found"));
    }
    let body = api.get_json("/api/v1/questions?count=5&page=4").await;
    assert_eq!(
        body,
        json!({"count": 12, "questions": [], "status": "no_questions"})
    );
    api.stop().await;
}

/// test_api.py::test_question_rank_by_confidence
#[tokio::test]
async fn questions_ranked_by_confidence() {
    let api = support::start().await;
    for (barcode, confidence) in [
        ("4", None),
        ("2", Some(0.7)),
        ("1", Some(0.9)),
        ("3", Some(0.4)),
    ] {
        insight(
            &api.pool,
            json!({"barcode": barcode, "confidence": confidence}),
        )
        .await;
    }
    let body = api.get_json("/api/v1/questions?order_by=confidence").await;
    let order: Vec<&str> = body["questions"]
        .as_array()
        .map(|a| a.iter().filter_map(|q| q["barcode"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(order, vec!["1", "2", "3", "4"]);
    api.stop().await;
}

/// Filters of /questions: countries, brands, reserved barcodes, campaigns, with_image,
/// predictor, value_tag; the count is capped at 100.
#[tokio::test]
async fn question_filters_and_capped_count() {
    let api = support::start().await;
    insight(&api.pool, json!({"barcode": "1", "countries": ["en:germany"], "brands": ["acme"], "campaign": ["a", "b"], "with_image": true})).await;
    insight(&api.pool, json!({"barcode": "2", "reserved_barcode": true, "predictor": "regex", "value_tag": "en:teas"})).await;
    let count = |path: &'static str| {
        let api = &api;
        async move { api.get_json(path).await["count"].as_i64().unwrap_or(-1) }
    };
    assert_eq!(count("/api/v1/questions?countries=de").await, 1);
    assert_eq!(count("/api/v1/questions?countries=fr,it").await, 0);
    assert_eq!(count("/api/v1/questions?brands=acme,other").await, 1);
    assert_eq!(
        count("/api/v1/questions").await,
        1,
        "reserved barcodes excluded by default"
    );
    assert_eq!(count("/api/v1/questions?reserved_barcode=true").await, 2);
    assert_eq!(count("/api/v1/questions?campaigns=a,b").await, 1);
    assert_eq!(count("/api/v1/questions?campaigns=a&campaigns=c").await, 0);
    assert_eq!(count("/api/v1/questions?campaign=b").await, 1);
    assert_eq!(count("/api/v1/questions?with_image=1").await, 1);
    assert_eq!(count("/api/v1/questions?with_image=false").await, 0);
    assert_eq!(
        count("/api/v1/questions?reserved_barcode=1&predictor=regex").await,
        1
    );
    assert_eq!(
        count("/api/v1/questions?reserved_barcode=1&value_tag=en:teas").await,
        1
    );
    for i in 0..105 {
        insight(&api.pool, json!({"barcode": format!("9{i}")})).await;
    }
    assert_eq!(count("/api/v1/questions").await, 100);
    api.stop().await;
}

/// test_api.py::test_get_unanswered_questions_api (+ with_image filter ignored)
#[tokio::test]
async fn unanswered_questions_grouped_by_value_tag() {
    let api = support::start().await;
    for (kind, tag, n, annotated) in [
        ("category", "en:apricot", 2, false),
        ("category", "en:apricot", 2, true),
        ("category", "en:soups", 3, false),
        ("label", "en:beer", 2, false),
        ("nutrition_image", "en:salad", 2, false),
        ("nutrition_image", "en:soups", 1, false),
    ] {
        for _ in 0..n {
            let annotation = if annotated { json!(1) } else { json!(null) };
            insight(
                &api.pool,
                json!({"type": kind, "value_tag": tag, "annotation": annotation}),
            )
            .await;
        }
    }
    let body = api
        .get_json("/api/v1/questions/unanswered?count=5&page=1&type=category")
        .await;
    assert_eq!(
        body["questions"],
        json!([["en:soups", 3], ["en:apricot", 2]])
    );
    assert_eq!(
        body["count"],
        json!(5),
        "count is the number of insights, not groups"
    );
    assert_eq!(body["status"], json!("found"));
    let body = api
        .get_json("/api/v1/questions/unanswered?type=nutrition_image&with_image=1")
        .await;
    assert_eq!(body["questions"], json!([["en:salad", 2], ["en:soups", 1]]));
    let body = api
        .get_json("/api/v1/questions/unanswered?type=category&count=1&page=2")
        .await;
    assert_eq!(body["questions"], json!([["en:apricot", 2]]));
    let body = api
        .get_json("/api/v1/questions/unanswered?type=store")
        .await;
    assert_eq!(
        body,
        json!({"count": 0, "questions": [], "status": "no_questions"})
    );
    api.stop().await;
}

/// Beyond Robotoff: open questions per barcode in one call.
#[tokio::test]
async fn question_counts_per_barcode() {
    let api = support::start().await;
    insight(&api.pool, json!({"barcode": "00000001"})).await;
    insight(
        &api.pool,
        json!({"barcode": "00000001", "type": "label", "value_tag": "en:organic"}),
    )
    .await;
    insight(&api.pool, json!({"barcode": "00000001", "annotation": 1})).await;
    insight(
        &api.pool,
        json!({"barcode": "3017620422003", "automatic_processing": true}),
    )
    .await;
    let body = api
        .get_json("/api/v1/questions/counts?barcodes=1,3017620422003,42")
        .await;
    assert_eq!(
        body,
        json!({"counts": {"00000001": 2, "3017620422003": 0, "00000042": 0}, "server_type": "off"})
    );
    let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let (status, body) = api
        .get(&format!(
            "/api/v1/questions/counts?barcodes={}",
            many.join(",")
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        json!("too many barcodes requested (101), max: 100")
    );
    let (status, body) = api.get("/api/v1/questions/counts").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        json!("The \"barcodes\" parameter is required.")
    );
    api.stop().await;
}

/// Random order favours insights that already have votes (spec §0.4) while reading
/// only a window of the table.
#[tokio::test]
async fn random_questions_favour_voted_insights() {
    let api = support::start().await;
    for i in 0..200 {
        insight(&api.pool, json!({"barcode": format!("5{i:04}")})).await;
    }
    let voted = insight(&api.pool, json!({"barcode": "77777777", "n_votes": 9})).await;
    let mut seen = 0;
    for _ in 0..30 {
        let body = api.get_json("/api/v1/questions/random?count=5").await;
        let ids: Vec<&str> = body["questions"]
            .as_array()
            .map(|a| a.iter().filter_map(|q| q["insight_id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ids.len(), 5);
        if ids.contains(&voted.as_str()) {
            seen += 1;
        }
    }
    // Uniform sampling would show it in about 1 call of 40 (5 of 201 insights); with
    // its vote weight (×10) it is in the candidate pool every time and beats the 5th
    // best of 20 unvoted candidates about 92% of the time.
    assert!(
        seen >= 15,
        "voted insight seen in {seen} of 30 random pages"
    );
    api.stop().await;
}

/// Listings are served from memory to callers without votes for `listing_cache_ms`;
/// a caller who has voted gets fresh listings, and annotating makes them fresh at once.
#[tokio::test]
async fn listings_are_cached_for_callers_without_votes() {
    let mut settings = support::settings().await;
    settings.http.listing_cache_ms = 600_000;
    let api = support::start_with(settings).await;
    fixture_insight(&api.pool).await;
    let first = api.get_json("/api/v1/questions/1?device_id=fresh").await;
    assert_eq!(first["questions"].as_array().map(Vec::len), Some(1));
    let random = api
        .get_json("/api/v1/questions?order_by=random&device_id=fresh")
        .await;
    assert_eq!(random["count"], json!(1));
    let other = insight(
        &api.pool,
        json!({"type": "label", "value_tag": "en:organic"}),
    )
    .await;
    // Same listing from memory for a caller without votes (any device).
    assert_eq!(
        api.get_json("/api/v1/questions/1?device_id=another").await,
        first
    );
    assert_eq!(
        api.get_json("/api/v1/questions?order_by=random&device_id=fresh")
            .await["count"],
        json!(1)
    );
    // A caller with a vote reads the database: the new insight is there, the voted one not.
    vote(&api.pool, INSIGHT_ID, "voter", None, 1).await;
    let body = api.get_json("/api/v1/questions/1?device_id=voter").await;
    let ids: Vec<&str> = body["questions"]
        .as_array()
        .map(|a| a.iter().filter_map(|q| q["insight_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![other.as_str()]);
    // Annotating (here refused: no shards on this node) forgets what was known about
    // the caller, whose next listing is read fresh.
    let _ = api
        .post_form(
            "/api/v1/insights/annotate",
            &[
                ("insight_id", INSIGHT_ID),
                ("annotation", "1"),
                ("device_id", "fresh"),
            ],
            None,
        )
        .await;
    vote(&api.pool, INSIGHT_ID, "fresh", None, 1).await;
    let body = api.get_json("/api/v1/questions/1?device_id=fresh").await;
    assert_eq!(body["questions"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["questions"][0]["insight_id"], json!(other));
    api.stop().await;
}
