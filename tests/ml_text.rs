//! The text models against a real Triton Inference Server serving the test models of
//! tests/triton/ (the NER model marks the words after "ingredients" up to a full stop;
//! the nutrition model labels the values after nutrient words; the category model scores
//! categories from the product name): the four prediction endpoints, their errors, the
//! insight chain of image import, and Triton away. Spec pipeline §2.8, §2.12, §7.2,
//! §7.5; api-db `/predict/*`.

mod common;
mod ml_support;

use common::count;
use ml_support::*;
use serde_json::{json, Value};
use std::time::Duration;

const BARCODE: &str = "3000000000017";

fn model_dir(name: &str) -> String {
    format!(
        "{}/tests/triton/model_dirs/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn real_doc(name: &str) -> Value {
    let path = format!(
        "{}/../shared/conformance/real_docs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).expect("real OCR document")).expect("JSON")
}

/// A node whose text models read their tokenizers from tests/triton/model_dirs.
async fn scene(triton: &str) -> Scene {
    Scene::start(triton, |s| {
        for name in ["ingredient-ner", "nutrition_extractor"] {
            s.triton.models.insert(
                name.into(),
                robotoff::config::TritonModelSettings {
                    url: None,
                    concurrency: 1,
                    model_dir: Some(model_dir(name)),
                },
            );
        }
        s.triton.retries = 0;
    })
    .await
}

async fn get(scene: &Scene, path: &str) -> (u16, Value) {
    let addr = scene.app.addr.expect("api address");
    let r = reqwest::get(format!("http://{addr}/api/v1{path}"))
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

async fn post(scene: &Scene, path: &str, body: &Value) -> (u16, Value) {
    let addr = scene.app.addr.expect("api address");
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1{path}"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

fn ocr_url(scene: &Scene, id: &str) -> String {
    format!(
        "{}/images/products{}/{id}.json",
        scene.po.url,
        folder(BARCODE)
    )
}

/// Spec pipeline §7.5: entities, their extension over the allergen mention, language
/// and box on a real OCR document; every aggregation strategy; the errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingredient_list_endpoint() {
    let scene = scene(&triton_uri()).await;
    scene.ocr(BARCODE, "2", &real_doc("4903015130266_2.json"));
    let url = ocr_url(&scene, "2");
    let (status, body) = get(&scene, &format!("/predict/ingredient_list?ocr_url={url}")).await;
    assert_eq!(status, 200, "{body}");
    let text = body["text"].as_str().expect("text");
    let entities = body["entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 1, "{body}");
    let e = &entities[0];
    let chars: Vec<char> = text.chars().collect();
    let span = |a: &Value, b: &Value| -> String {
        chars[a.as_u64().expect("start") as usize..b.as_u64().expect("end") as usize]
            .iter()
            .collect()
    };
    assert_eq!(
        span(&e["start"], &e["raw_end"]),
        "Wheat Flour, Sugar, Palm Oil, Egg white, Emulsifier (soy)"
    );
    // The allergen mention after the list belongs to it (spec pipeline §7.5).
    assert_eq!(
        e["text"],
        "Wheat Flour, Sugar, Palm Oil, Egg white, Emulsifier (soy).Contains wheat, soy, egg"
    );
    assert_eq!(
        span(&e["start"], &e["end"]),
        e["text"].as_str().expect("text")
    );
    assert_eq!(e["lang"]["lang"], "en");
    assert!((e["score"].as_f64().expect("score") - 0.99991).abs() < 1e-4);
    let bbox: Vec<i64> = e["bounding_box"]
        .as_array()
        .expect("box")
        .iter()
        .map(|v| v.as_i64().expect("integer"))
        .collect();
    assert!(
        bbox.len() == 4 && bbox[0] < bbox[2] && bbox[1] < bbox[3],
        "{bbox:?}"
    );

    for strategy in ["SIMPLE", "FIRST", "AVERAGE", "MAX"] {
        let (status, b) = get(
            &scene,
            &format!("/predict/ingredient_list?ocr_url={url}&aggregation_strategy={strategy}"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(b["entities"][0]["start"], e["start"], "{strategy}");
    }
    let (status, none) = get(
        &scene,
        &format!("/predict/ingredient_list?ocr_url={url}&aggregation_strategy=NONE"),
    )
    .await;
    assert_eq!(status, 200);
    let tokens = none["entities"].as_array().expect("tokens");
    assert_eq!(tokens[0]["entity"], "B-ING");
    assert!(tokens[1..].iter().all(|t| t["entity"] == "I-ING"));
    assert_eq!(tokens[0]["word"], "wheat");

    for (query, code) in [
        (format!("ocr_url={url}&aggregation_strategy=first"), 400),
        (format!("ocr_url={url}&server_type=obf"), 400),
        (String::new(), 400),
        ("ocr_url=https://example.com/1.json".to_string(), 400),
    ] {
        let (status, b) = get(&scene, &format!("/predict/ingredient_list?{query}")).await;
        assert_eq!(status, code, "{query}: {b}");
        assert!(b.is_object(), "{query}: a JSON error body");
    }
    let missing = ocr_url(&scene, "9");
    let (status, b) = get(
        &scene,
        &format!("/predict/ingredient_list?ocr_url={missing}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(b["error"], "ocr_input_error");
}

/// Spec pipeline §2.8: nutrients of a real "Nutrition Facts" panel; a document without
/// text; download errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nutrition_endpoint() {
    let scene = scene(&triton_uri()).await;
    scene.product(BARCODE, &[("1", jpeg(&picture(360, 475, &[])), 360, 475)]);
    scene.ocr(BARCODE, "1", &real_doc("0011110702081_2.json"));
    let image = format!("{}/images/products{}/1.jpg", scene.po.url, folder(BARCODE));
    let ocr = ocr_url(&scene, "1");
    let (status, body) = get(
        &scene,
        &format!("/predict/nutrition?image_url={image}&ocr_url={ocr}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let n = &body["predictions"][0]["nutrients"];
    assert_eq!(n["sodium_serving"]["value"], "810", "{body}");
    assert_eq!(n["sodium_serving"]["unit"], "mg");
    assert_eq!(n["proteins_serving"]["value"], "1");
    assert_eq!(n["proteins_serving"]["unit"], "g");
    assert_eq!(n["fat_serving"]["value"], "0");
    let entities = &body["predictions"][0]["entities"];
    for key in ["raw", "aggregated", "postprocessed"] {
        assert!(
            entities[key].as_array().is_some_and(|a| !a.is_empty()),
            "{key}"
        );
    }

    scene.ocr(BARCODE, "2", &json!({"responses": [{}]}));
    let blank = ocr_url(&scene, "2");
    let (status, body) = get(
        &scene,
        &format!("/predict/nutrition?image_url={image}&ocr_url={blank}"),
    )
    .await;
    assert_eq!((status, body), (200, json!({"predictions": []})));
    let missing = ocr_url(&scene, "7");
    let (status, body) = get(
        &scene,
        &format!("/predict/nutrition?image_url={image}&ocr_url={missing}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["error"], "download_error");
    let (status, _) = get(&scene, &format!("/predict/nutrition?image_url={image}")).await;
    assert_eq!(status, 400);
}

/// Spec api-db `/predict/lang`: GET and POST, k and threshold, validation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lang_endpoint() {
    let scene = scene(&triton_uri()).await;
    let (status, body) = get(
        &scene,
        "/predict/lang?text=sucre%2C%20beurre%20de%20cacao%2C%20lait%20entier&k=3",
    )
    .await;
    assert_eq!(status, 200);
    let p = body["predictions"].as_array().expect("predictions");
    assert!(!p.is_empty() && p.len() <= 3);
    assert_eq!(p[0]["lang"], "fr");
    let addr = scene.app.addr.expect("api address");
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/predict/lang"))
        .form(&[("text", "wheat flour, sugar, palm oil"), ("k", "1")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["predictions"][0]["lang"], "en");
    for query in [
        "",
        "text=",
        "text=abc&k=0",
        "text=abc&k=x",
        "text=abc&threshold=1.5",
    ] {
        let (status, b) = get(&scene, &format!("/predict/lang?{query}")).await;
        assert_eq!(status, 400, "{query}: {b}");
    }
}

/// Spec pipeline §2.12, api-db `/predict/category`: a product given in the body, an
/// unknown barcode, errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_endpoint() {
    let scene = scene(&triton_uri()).await;
    let (status, body) = post(
        &scene,
        "/predict/category",
        &json!({"product": {"product_name": "Chocolate biscuits", "ocr": ["Ingrédients: sucre, sel"]}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let tags: Vec<&str> = body["neural"]["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .filter_map(|p| p["value_tag"].as_str())
        .collect();
    assert_eq!(tags, ["en:biscuits", "en:chocolates"], "{body}");
    assert_eq!(
        body["neural"]["predictions"][0]["confidence"],
        json!(f64::from(0.9f32))
    );
    let debug = &body["neural"]["debug"];
    assert_eq!(debug["inputs"]["product_name"], "Chocolate biscuits");
    assert_eq!(debug["inputs"]["fat"], -1);
    assert!(debug["inputs"]["ingredients_ocr_tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("en:sugar"))));
    let (status, body) = post(
        &scene,
        "/predict/category",
        &json!({"product": {"product_name": "Chocolate biscuits"}, "threshold": 0.95}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["neural"]["predictions"], json!([]));

    let (status, body) = post(&scene, "/predict/category", &json!({"barcode": "123"})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(&scene, "/predict/category", &json!({"barcode": "\u{0}x"})).await;
    assert_eq!(status, 404, "{body}");
    for bad in [
        json!({}),
        json!({"barcode": ""}),
        json!({"barcode": "1", "foo": 1}),
        json!({"product": {}}),
        json!({"product": {"image_embeddings": [[0.0, 0.0]]}}),
        json!({"barcode": "1", "deepest_only": "yes"}),
        json!([]),
    ] {
        let (status, b) = post(&scene, "/predict/category", &bad).await;
        assert_eq!(status, 400, "{bad}: {b}");
    }
    let (status, _) = post(
        &scene,
        "/predict/category?server_type=obf",
        &json!({"product": {"product_name": "x"}}),
    )
    .await;
    assert_eq!(status, 400);
}

/// Spec pipeline §2.8, §2.12: the OCR-ready import runs the NER (lists parsed by
/// Product Opener), the nutrition extractor and the classifier, and their predictions
/// become insights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_import_chain() {
    let scene = scene(&triton_uri()).await;
    scene.product(BARCODE, &[("1", jpeg(&picture(820, 1420, &[])), 820, 1420)]);
    let mut product = common::po::product_json(
        BARCODE,
        "food",
        json!({
            "1": {"sizes": {"full": {"w": 820, "h": 1420}}, "uploaded_t": 1_700_000_000}
        }),
    );
    product["product_name"] = json!("Butter biscuits");
    product["schema_version"] = json!(1003);
    scene.po.put("off", product);
    scene.ocr(BARCODE, "1", &real_doc("4903015130266_2.json"));
    scene
        .import(
            BARCODE,
            "1",
            &[
                "extract_ingredients",
                "extract_nutrition",
                "predict_category",
            ],
        )
        .await;
    scene.settle(Duration::from_secs(60)).await;
    assert_eq!(scene.dead_jobs().await, []);
    let pool = &scene.pool;
    let ner: Value = sqlx::query_scalar(
        "SELECT data FROM image_prediction WHERE model_name = 'ingredient_detection' AND type = 'ner'",
    )
    .fetch_one(pool)
    .await
    .expect("ner image prediction");
    let e = &ner["entities"][0];
    assert_eq!(e["ingredients_n"], 7, "{ner}");
    assert_eq!(e["known_ingredients_n"], 5);
    assert_eq!(e["lang"]["lang"], "en");
    let b: Vec<f64> = e["bounding_box"]
        .as_array()
        .expect("box")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        b.iter().all(|v| (0.0..=1.0).contains(v)),
        "relative box {b:?}"
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM prediction WHERE type = 'ingredient_detection' AND value_tag = 'en'").await,
        1
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM image_prediction WHERE model_name = 'nutrition_extractor' AND type = 'nutrition_extraction'").await,
        1
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM prediction WHERE type = 'category' AND value_tag = 'en:biscuits' AND predictor = 'neural'").await,
        1
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM product_insight WHERE type = 'category' AND value_tag = 'en:biscuits'").await,
        1
    );
    // Running the steps again calls no model and stores nothing twice.
    scene
        .run_steps(BARCODE, "1", &["extract_ingredients", "extract_nutrition"])
        .await;
    scene.settle(Duration::from_secs(30)).await;
    assert_eq!(
        count(pool, "SELECT count(*) FROM image_prediction WHERE model_name IN ('ingredient_detection', 'nutrition_extractor')").await,
        2
    );
}

/// Triton away: the endpoints answer 503 with a JSON body, jobs wait without dying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_away() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let scene = scene(&format!("127.0.0.1:{port}")).await;
    scene.ocr(BARCODE, "2", &real_doc("4903015130266_2.json"));
    let url = ocr_url(&scene, "2");
    let (status, body) = get(&scene, &format!("/predict/ingredient_list?ocr_url={url}")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.is_object());
    let (status, _) = post(
        &scene,
        "/predict/category",
        &json!({"product": {"product_name": "x"}}),
    )
    .await;
    assert_eq!(status, 503);
    scene.product(BARCODE, &[("1", jpeg(&picture(100, 100, &[])), 100, 100)]);
    scene.ocr(BARCODE, "1", &real_doc("4903015130266_2.json"));
    scene.import(BARCODE, "1", &["extract_ingredients"]).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(scene.dead_jobs().await, []);
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM job WHERE kind = 'run_image_models' AND state = 'queued' AND attempts <= 1").await,
        1
    );
}
