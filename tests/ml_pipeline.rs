//! The model steps of image import against a real Triton Inference Server serving the
//! test models of tests/triton/ (dark rectangles on a light background are the objects;
//! CLIP embeds a crop's pixels): boxes back in the original image's coordinates, the
//! Nutri-Score rules, logos with their OCR text and embeddings, fingerprints, bad images.
//! Spec pipeline §2.5, §2.7, §2.11, §6.3, §7.

mod common;
mod ml_support;

use common::{count, xadd};
use ml_support::*;
use serde_json::Value;
use std::time::Duration;

const BARCODE: &str = "3000000000017";
const LOGOS: &str = "run_logo_object_detection";
const TABLES: &str = "run_nutrition_table_object_detection";
const NUTRISCORE: &str = "run_nutriscore_object_detection";
const FINGERPRINT: &str = "add_image_fingerprint";

fn source(id: &str) -> String {
    format!("{}/{id}.jpg", folder(BARCODE))
}

/// Spec pipeline §7.3: letterbox, detection, un-letterboxing. The letterbox scale of each
/// picture decides how close a box can come: within one letterboxed pixel of the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxes_come_back_where_the_rectangles_are() {
    let scene = Scene::start(&triton_uri(), |_| {}).await;
    // (id, width, height, rectangles)
    let cases: Vec<(&str, u32, u32, Vec<Rect>)> = vec![
        (
            "1",
            640,
            480,
            vec![Rect::new(100, 50, 120, 60), Rect::new(400, 300, 37, 91)],
        ),
        ("2", 1280, 960, vec![Rect::new(200, 100, 240, 120)]),
        ("3", 480, 1000, vec![Rect::new(30, 700, 200, 150)]),
        ("4", 3000, 200, vec![Rect::new(1200, 40, 600, 120)]),
        ("5", 1000, 1, vec![]),
        ("6", 1, 1000, vec![]),
    ];
    let images: Vec<(&str, Vec<u8>, u32, u32)> = cases
        .iter()
        .map(|(id, w, h, rects)| (*id, png(&picture(*w, *h, rects)), *w, *h))
        .collect();
    scene.product(BARCODE, &images);
    for (id, ..) in &cases {
        scene.import(BARCODE, id, &[LOGOS]).await;
    }
    scene.settle(Duration::from_secs(90)).await;
    assert_eq!(scene.dead_jobs().await, vec![]);
    for (id, w, h, rects) in &cases {
        let objects = scene.objects(&source(id), "universal_logo_detector").await;
        assert_eq!(objects.len(), rects.len(), "image {id}: {objects:?}");
        // One letterboxed pixel, in original pixels.
        let tolerance = (f64::from((*w).max(*h)) / 640.0).max(1.0);
        for rect in rects {
            let truth = rect.relative(*w, *h);
            let found = objects
                .iter()
                .map(bbox)
                .min_by(|a, b| {
                    let d = |x: &[f64; 4]| (x[0] - truth[0]).abs() + (x[1] - truth[1]).abs();
                    d(a).total_cmp(&d(b))
                })
                .expect("an object");
            assert_box_near(found, truth, *w, *h, tolerance);
        }
        for o in &objects {
            assert_eq!(o["label"], "object");
            assert!((o["score"].as_f64().expect("score") - 0.9).abs() < 1e-6);
        }
    }
}

/// Spec pipeline §2.7: a Nutri-Score `label` prediction (and insight) only when exactly
/// one object scores at least 0.5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nutriscore_rules() {
    let scene = Scene::start(&triton_uri(), |_| {}).await;
    let (w, h) = (640, 640);
    // Grey levels: mean 0.078 → grade b, 0.176 → grade d. A rectangle of fewer than 400
    // letterboxed pixels scores 0.4.
    let cases: Vec<(&str, Vec<Rect>, Option<&str>)> = vec![
        ("1", vec![], None),
        (
            "2",
            vec![Rect::new(300, 300, 60, 30).grey(20)],
            Some("en:nutriscore-grade-b"),
        ),
        (
            "3",
            vec![
                Rect::new(100, 100, 60, 30).grey(20),
                Rect::new(400, 400, 60, 30).grey(45),
            ],
            None,
        ),
        ("4", vec![Rect::new(300, 300, 19, 19).grey(45)], None),
    ];
    let images: Vec<(&str, Vec<u8>, u32, u32)> = cases
        .iter()
        .map(|(id, rects, _)| (*id, png(&picture(w, h, rects)), w, h))
        .collect();
    scene.product(BARCODE, &images);
    for (id, ..) in &cases {
        scene.import(BARCODE, id, &[]).await;
    }
    scene.settle(Duration::from_secs(30)).await;
    for (id, ..) in &cases {
        scene.run_steps(BARCODE, id, &[NUTRISCORE]).await;
    }
    scene.settle(Duration::from_secs(60)).await;
    assert_eq!(scene.dead_jobs().await, vec![]);
    for (id, rects, grade) in &cases {
        let objects = scene.objects(&source(id), "nutriscore").await;
        assert_eq!(objects.len(), rects.len(), "image {id}");
        let predictions: Vec<(String, f32, Value)> = sqlx::query_as(
            "SELECT value_tag, confidence, data FROM prediction
             WHERE type = 'label' AND predictor = 'nutriscore' AND source_image = $1",
        )
        .bind(source(id))
        .fetch_all(&scene.pool)
        .await
        .expect("predictions");
        match grade {
            Some(tag) => {
                assert_eq!(predictions.len(), 1, "image {id}");
                assert_eq!(predictions[0].0, *tag);
                assert!((predictions[0].1 - 0.9).abs() < 1e-6);
                assert_box_near(bbox(&predictions[0].2), rects[0].relative(w, h), w, h, 1.0);
            }
            None => assert!(predictions.is_empty(), "image {id}: {predictions:?}"),
        }
    }
    // The stored detections keep every object, scores below 0.5 included.
    let small = scene.objects(&source("4"), "nutriscore").await;
    assert!((small[0]["score"].as_f64().expect("score") - 0.4).abs() < 1e-6);
    assert_eq!(small[0]["label"], "nutriscore-d");
    let versions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT predictor_version FROM prediction WHERE predictor = 'nutriscore'",
    )
    .fetch_all(&scene.pool)
    .await
    .expect("versions");
    assert_eq!(versions, vec!["yolo-nutriscore-1.0"]);
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM product_insight WHERE type = 'label' AND value_tag = 'en:nutriscore-grade-b'"
        )
        .await,
        1
    );
}

/// Spec pipeline §6.3: a logo per detected object with the OCR words inside its box,
/// one embedding per logo (512 float32), stored once; identical logos embed identically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logos_get_their_text_and_one_embedding_each() {
    let scene = Scene::start(&triton_uri(), |_| {}).await;
    let (w, h) = (800, 600);
    let a = Rect::new(100, 100, 200, 80);
    let b = Rect::new(500, 400, 200, 80);
    let img = picture(w, h, &[a, b]);
    scene.product(BARCODE, &[("1", png(&img), w, h)]);
    scene.ocr(
        BARCODE,
        "1",
        &ocr_document(&[
            ("Inside", [110.0, 110.0, 180.0, 130.0]),
            ("Across", [250.0, 110.0, 350.0, 130.0]),
            ("Elsewhere", [520.0, 300.0, 600.0, 320.0]),
        ]),
    );
    scene.import(BARCODE, "1", &[LOGOS]).await;
    scene.settle(Duration::from_secs(60)).await;
    assert_eq!(scene.dead_jobs().await, vec![]);

    let logos: Vec<(i32, i32, Option<String>, Value, String, String)> = sqlx::query_as(
        "SELECT id, index, text, bounding_box, barcode, server_type FROM logo_annotation ORDER BY index",
    )
    .fetch_all(&scene.pool)
    .await
    .expect("logos");
    assert_eq!(logos.len(), 2);
    let text_of = |r: &Rect| {
        logos
            .iter()
            .find(|l| {
                let found = bbox(&serde_json::json!({"bounding_box": l.3}));
                (found[1] - r.relative(w, h)[1]).abs() < 0.01
            })
            .map(|l| l.2.clone())
            .expect("logo of the rectangle")
    };
    assert_eq!(text_of(&a).as_deref(), Some("Inside "));
    assert_eq!(text_of(&b), None);
    assert!(logos.iter().all(|l| l.4 == BARCODE && l.5 == "off"));

    let embeddings: Vec<(i32, Vec<u8>)> =
        sqlx::query_as("SELECT logo_id, embedding FROM embedding.logo_embedding ORDER BY logo_id")
            .fetch_all(&scene.pool)
            .await
            .expect("embeddings");
    assert_eq!(embeddings.len(), 2);
    let vectors: Vec<Vec<f32>> = embeddings
        .iter()
        .map(|(_, e)| {
            assert_eq!(e.len(), 512 * 4);
            e.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect();
    for v in &vectors {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
    }
    // Same rectangle size and colour on the same background: the same crop pixels.
    assert_eq!(vectors[0], vectors[1]);
    // The logo-index job followed.
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM job WHERE kind = 'process_created_logos' AND state = 'done'"
        )
        .await,
        1
    );

    // Again: nothing new.
    scene.run_steps(BARCODE, "1", &[LOGOS]).await;
    scene.settle(Duration::from_secs(30)).await;
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM logo_annotation").await,
        2
    );
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM embedding.logo_embedding").await,
        2
    );
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM image_prediction").await,
        1
    );
}

/// Different logos embed differently (the test CLIP model is a function of the pixels).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_logos_embed_differently() {
    let scene = Scene::start(&triton_uri(), |_| {}).await;
    let (w, h) = (800, 600);
    // Two logos of the same size, each with a light window at a different place.
    let img = picture_with_holes(
        w,
        h,
        &[Rect::new(100, 100, 200, 80), Rect::new(500, 300, 200, 80)],
        &[Rect::new(120, 120, 40, 40), Rect::new(640, 320, 40, 40)],
    );
    scene.product(BARCODE, &[("1", png(&img), w, h)]);
    scene.import(BARCODE, "1", &[LOGOS]).await;
    scene.settle(Duration::from_secs(60)).await;
    let embeddings: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT embedding FROM embedding.logo_embedding ORDER BY logo_id")
            .fetch_all(&scene.pool)
            .await
            .expect("embeddings");
    assert_eq!(embeddings.len(), 2);
    let v: Vec<Vec<f32>> = embeddings
        .iter()
        .map(|e| {
            e.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect();
    let cos: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum();
    assert!(cos < 0.99, "cosine {cos}");
}

/// Spec pipeline §2.11: the fingerprint is the image's pHash, set once; the nutrition
/// table detection is stored as an image prediction and the product's insights are
/// refreshed after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_steps_store_fingerprint_and_nutrition_tables() {
    let scene = Scene::start(&triton_uri(), |_| {}).await;
    let (w, h) = (640, 800);
    let table = Rect::new(100, 200, 300, 400);
    let img = picture(w, h, &[table]);
    let bytes = jpeg(&img);
    scene.product(BARCODE, &[("1", bytes.clone(), w, h)]);
    scene.import(BARCODE, "1", &[FINGERPRINT, TABLES]).await;
    scene.settle(Duration::from_secs(60)).await;
    assert_eq!(scene.dead_jobs().await, vec![]);
    let fingerprint: Option<i64> = sqlx::query_scalar("SELECT fingerprint FROM image")
        .fetch_one(&scene.pool)
        .await
        .expect("fingerprint");
    let decoded = robotoff::imaging::decode(&bytes, 100_000_000).expect("decode");
    assert_eq!(
        fingerprint,
        Some(robotoff::imaging::phash::fingerprint(&decoded))
    );
    let tables = scene.objects(&source("1"), "nutrition_table").await;
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0]["label"], "nutrition-table");
    assert_box_near(bbox(&tables[0]), table.relative(w, h), w, h, 1.5);
    let (version, kind, max_confidence): (String, String, Option<f32>) = sqlx::query_as(
        "SELECT model_version, type, max_confidence FROM image_prediction WHERE model_name = 'nutrition_table'",
    )
    .fetch_one(&scene.pool)
    .await
    .expect("prediction row");
    assert_eq!(version, "yolo-nutrition-table-1.0");
    assert_eq!(kind, "object_detection");
    assert!((max_confidence.expect("max confidence") - 0.9).abs() < 1e-6);
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM job WHERE kind = 'refresh_insights' AND state = 'done'"
        )
        .await,
        1
    );
}

/// Bad images end their job with a clear reason and leave nothing behind; odd but valid
/// encodings (CMYK JPEG, 16-bit PNG, WebP) go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_images_fail_clearly_and_write_nothing() {
    let scene = Scene::start(&triton_uri(), |_| {}).await;
    let (w, h) = (640, 480);
    let good = picture(w, h, &[Rect::new(100, 100, 120, 60)]);
    let good_png = png(&good);
    let truncated = good_png[..good_png.len() / 3].to_vec();
    let bomb = huge_png_header(20_000, 20_000);
    let sixteen = {
        let img = image::DynamicImage::ImageRgb8(good.clone()).into_rgb16();
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("16-bit PNG");
        out.into_inner()
    };
    let webp = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::webp::WebPEncoder::new_lossless(&mut out)
            .encode(good.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .expect("WebP");
        out.into_inner()
    };
    let cmyk = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cmyk.jpg"
    ))
    .expect("CMYK fixture");
    let images: Vec<(&str, Vec<u8>, u32, u32)> = vec![
        ("1", truncated, w, h),
        ("2", Vec::new(), w, h),
        ("3", b"<html><body>Not found</body></html>".to_vec(), w, h),
        ("4", bomb, 20_000, 20_000),
        ("5", sixteen, w, h),
        ("6", webp, w, h),
        ("7", cmyk, w, h),
    ];
    scene.product(BARCODE, &images);
    for (id, ..) in &images {
        scene.import(BARCODE, id, &[LOGOS, FINGERPRINT]).await;
    }
    scene.settle(Duration::from_secs(90)).await;
    let dead = scene.dead_jobs().await;
    assert_eq!(dead.len(), 4, "{dead:?}");
    for (kind, error) in &dead {
        assert_eq!(kind, "run_image_models");
        assert!(
            error.contains("/1.jpg")
                || error.contains("/2.jpg")
                || error.contains("/3.jpg")
                || error.contains("/4.jpg"),
            "{error}"
        );
    }
    assert!(
        dead.iter().any(|(_, e)| e.contains("20000×20000")),
        "{dead:?}"
    );
    assert!(
        dead.iter().any(|(_, e)| e.contains("not an image")),
        "{dead:?}"
    );
    for id in ["1", "2", "3", "4"] {
        assert!(scene
            .objects(&source(id), "universal_logo_detector")
            .await
            .is_empty());
    }
    let unhashed: Vec<String> = sqlx::query_scalar(
        "SELECT image_id FROM image WHERE fingerprint IS NULL ORDER BY image_id",
    )
    .fetch_all(&scene.pool)
    .await
    .expect("images");
    assert_eq!(unhashed, vec!["1", "2", "3", "4"]);
    assert_eq!(count(&scene.pool, "SELECT count(*) FROM logo_annotation WHERE source_image LIKE '%/1.jpg' OR source_image LIKE '%/2.jpg' OR source_image LIKE '%/3.jpg' OR source_image LIKE '%/4.jpg'").await, 0);
    for id in ["5", "6", "7"] {
        let objects = scene.objects(&source(id), "universal_logo_detector").await;
        assert_eq!(objects.len(), 1, "image {id}");
    }
}

/// A PNG that announces `width`×`height` pixels and holds almost nothing.
fn huge_png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// Spec pipeline §2.5, §2.6 step 3, §2.7, §6.3, §3.4: an upload event, then the OCR-ready
/// event, through the listener: the upload's model steps (fingerprint, nutrition table),
/// then the OCR's (logos with their text and embeddings), the Nutri-Score detection the
/// OCR's logo mention queues, and the insights of both; the API serves what was stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_events_to_predictions_logos_embeddings_and_insights() {
    let redis = common::redis_url();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (updates, ocr_ready) = (format!("product_updates_{tag}"), format!("ocr_ready_{tag}"));
    let scene = Scene::start(&triton_uri(), |s| {
        s.roles = vec![
            robotoff::config::Role::Api,
            robotoff::config::Role::Listener,
            robotoff::config::Role::Workers,
        ];
        s.redis.url = Some(redis.clone().into());
        s.redis.start_from = "beginning".into();
        s.redis.product_updates_stream = updates.clone();
        s.redis.ocr_ready_stream = ocr_ready.clone();
    })
    .await;
    let (w, h) = (800, 600);
    // One dark box, grey 20: a logo, a nutrition table and a Nutri-Score B to the test
    // models; the OCR reads "NUTRI-SCORE" inside it.
    let logo = Rect::new(200, 200, 200, 100).grey(20);
    scene.product(BARCODE, &[("1", jpeg(&picture(w, h, &[logo])), w, h)]);
    scene.ocr(
        BARCODE,
        "1",
        &ocr_document(&[("NUTRI-SCORE", [220.0, 220.0, 380.0, 260.0])]),
    );
    xadd(
        &redis,
        &updates,
        &[
            ("code", BARCODE),
            ("flavor", "off"),
            ("product_type", "food"),
            ("user_id", "someone"),
            ("action", "updated"),
            ("diffs", r#"{"uploaded_images": {"add": ["1"]}}"#),
        ],
    )
    .await;
    let pool = scene.pool.clone();
    common::wait_until(Duration::from_secs(60), "the upload's model steps", || {
        let pool = pool.clone();
        async move {
            (count(
                &pool,
                "SELECT count(*) FROM image WHERE fingerprint IS NOT NULL",
            )
            .await
                == 1
                && count(&pool, "SELECT count(*) FROM image_prediction").await == 1)
                .then_some(())
        }
    })
    .await;
    // No OCR yet: no logos.
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM logo_annotation").await,
        0
    );
    xadd(
        &redis,
        &ocr_ready,
        &[
            ("code", BARCODE),
            ("product_type", "food"),
            ("image_id", "1"),
        ],
    )
    .await;
    common::wait_until(Duration::from_secs(90), "the OCR's model steps", || {
        let pool = pool.clone();
        async move {
            (count(&pool, "SELECT count(*) FROM image_prediction").await == 3
                && count(&pool, "SELECT count(*) FROM embedding.logo_embedding").await == 1
                && count(
                    &pool,
                    "SELECT count(*) FROM product_insight WHERE value_tag = 'en:nutriscore-grade-b'",
                )
                .await
                    == 1)
                .then_some(())
        }
    })
    .await;
    scene.settle(Duration::from_secs(60)).await;
    assert_eq!(scene.dead_jobs().await, vec![]);
    let models: Vec<String> =
        sqlx::query_scalar("SELECT model_name FROM image_prediction ORDER BY model_name")
            .fetch_all(&scene.pool)
            .await
            .expect("models");
    assert_eq!(
        models,
        vec!["nutriscore", "nutrition_table", "universal_logo_detector"]
    );
    let text: Option<String> = sqlx::query_scalar("SELECT text FROM logo_annotation")
        .fetch_one(&scene.pool)
        .await
        .expect("logo");
    assert_eq!(text.as_deref(), Some("NUTRI-SCORE "));
    // Spec pipeline §5.2: the model's label prediction replaces the label predictions of
    // the same image made by another predictor version, here the OCR's `en:nutriscore`
    // (which queued the detection).
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM prediction WHERE type = 'label' AND value_tag = 'en:nutriscore'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM prediction WHERE type = 'label' \
             AND value_tag = 'en:nutriscore-grade-b' AND predictor = 'nutriscore'"
        )
        .await,
        1
    );

    // The API reads the stored rows (spec api-db §1.3, §1.4).
    let addr = scene.app.addr.expect("api address");
    let api = |path: String| async move {
        let r = reqwest::get(format!("http://{addr}/api/v1{path}"))
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "{path}");
        r.json::<Value>().await.expect("JSON")
    };
    let listed = api(format!(
        "/image_predictions?barcode={BARCODE}&with_logo=true"
    ))
    .await;
    assert_eq!(listed["count"], 3);
    let logo_row = listed["image_predictions"]
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["model_name"] == "universal_logo_detector")
        .cloned()
        .expect("logo detection");
    assert_eq!(
        logo_row["model_version"],
        "yolo-universal-logo-detector-1.0"
    );
    assert_eq!(logo_row["type"], "object_detection");
    assert_eq!(logo_row["image"]["source_image"], source("1"));
    assert_eq!(
        logo_row["data"]["objects"].as_array().map(Vec::len),
        Some(1)
    );
    let without_logos = api(format!("/image_predictions?barcode={BARCODE}")).await;
    assert_eq!(without_logos["count"], 2);
    let logo_id: i32 = sqlx::query_scalar("SELECT id FROM logo_annotation")
        .fetch_one(&scene.pool)
        .await
        .expect("logo id");
    let logos = api(format!("/images/logos?logo_ids={logo_id}")).await;
    assert_eq!(logos["count"], 1);
    assert_eq!(logos["logos"][0]["text"], "NUTRI-SCORE ");
    assert_eq!(logos["logos"][0]["image"]["source_image"], source("1"));
    assert_box_near(bbox(&logos["logos"][0]), logo.relative(w, h), w, h, 1.5);
}

/// Spec api-db §1.5 `GET /images/predict`: detections with the caller's threshold and
/// NMS parameters, a JPEG with the boxes, and Robotoff's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_predict_answers_like_robotoff() {
    let scene = Scene::start(&triton_uri(), |s| {
        s.roles = vec![robotoff::config::Role::Api, robotoff::config::Role::Workers];
    })
    .await;
    let (w, h) = (640, 640);
    let a = Rect::new(100, 100, 60, 30).grey(20);
    let b = Rect::new(400, 400, 19, 19).grey(45);
    scene.product(BARCODE, &[("1", png(&picture(w, h, &[a, b])), w, h)]);
    let addr = scene.app.addr.expect("api address");
    let image_url = format!("{}/images/products{}", scene.po.url, source("1"));
    let get = |query: String| async move {
        reqwest::get(format!("http://{addr}/api/v1/images/predict?{query}"))
            .await
            .expect("request")
    };
    let url = |u: &str| u.replace(':', "%3A").replace('/', "%2F");

    let r = get(format!(
        "image_url={}&models=nutriscore,universal_logo_detector",
        url(&image_url)
    ))
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("JSON");
    // Default threshold 0.5: the small Nutri-Score (0.4) is left out.
    let ns = body["predictions"]["nutriscore"]
        .as_array()
        .expect("nutriscore");
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0]["label"], "nutriscore-b");
    assert_box_near(bbox(&ns[0]), a.relative(w, h), w, h, 1.0);
    assert_eq!(
        body["predictions"]["universal_logo_detector"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let r = get(format!(
        "image_url={}&models=nutriscore&threshold=0.3",
        url(&image_url)
    ))
    .await;
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(
        body["predictions"]["nutriscore"].as_array().map(Vec::len),
        Some(2)
    );

    let r = get(format!(
        "image_url={}&models=universal_logo_detector&output_image=1",
        url(&image_url)
    ))
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/jpeg")
    );
    let jpeg = r.bytes().await.expect("body");
    let drawn = image::load_from_memory(&jpeg).expect("a JPEG").to_rgb8();
    assert_eq!((drawn.width(), drawn.height()), (w, h));

    // Errors: a 400 with a JSON body, and nothing stored.
    for (query, code) in [
        (
            format!("image_url={}&models=nope", url(&image_url)),
            "invalid_model",
        ),
        (
            format!(
                "image_url={}&models=nutriscore,nutrition_table&output_image=1",
                url(&image_url)
            ),
            "invalid_request",
        ),
        (
            "image_url=https%3A%2F%2Fexample.com%2F1.jpg&models=nutriscore".to_string(),
            "host_not_allowed",
        ),
        (
            format!(
                "image_url={}&models=nutriscore&threshold=2",
                url(&image_url)
            ),
            "invalid_parameter",
        ),
        (
            format!("image_url={}", url(&image_url)),
            "missing_parameter",
        ),
    ] {
        let r = get(query.clone()).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.expect("JSON error");
        assert_eq!(body["error"], code, "{query}: {body}");
    }
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM image_prediction").await,
        0
    );
}

/// Triton away: `/images/predict` answers 503 with Retry-After, and health says
/// "degraded" (HTTP 200), naming the models.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_away_is_a_503_and_a_degraded_health() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let scene = Scene::start(&format!("127.0.0.1:{port}"), |s| {
        s.roles = vec![robotoff::config::Role::Api, robotoff::config::Role::Workers];
        s.triton.retries = 0;
        s.triton.models.insert(
            "nutriscore".into(),
            robotoff::config::TritonModelSettings {
                url: None,
                concurrency: 1,
                model_dir: None,
            },
        );
        s.triton.health_interval_secs = 1;
    })
    .await;
    let (w, h) = (64, 64);
    scene.product(BARCODE, &[("1", png(&picture(w, h, &[])), w, h)]);
    let addr = scene.app.addr.expect("api address");
    let image_url = format!("{}/images/products{}", scene.po.url, source("1"));
    let r = reqwest::get(format!(
        "http://{addr}/api/v1/images/predict?image_url={}&models=nutriscore",
        image_url.replace(':', "%3A").replace('/', "%2F")
    ))
    .await
    .expect("request");
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["error"], "model_unavailable");
    let health = common::wait_until(
        Duration::from_secs(20),
        "a degraded health",
        || async move {
            let r = reqwest::get(format!("http://{addr}/api/v1/health"))
                .await
                .ok()?;
            let status = r.status();
            let body: Value = r.json().await.ok()?;
            (status == 200 && body["status"] == "degraded").then_some(body)
        },
    )
    .await;
    let triton = health["results"]
        .as_array()
        .and_then(|r| r.iter().find(|c| c["checker"] == "triton").cloned())
        .expect("a triton check");
    assert_eq!(triton["passed"], false);
    assert!(
        triton["output"].to_string().contains("nutriscore"),
        "{triton}"
    );
}
