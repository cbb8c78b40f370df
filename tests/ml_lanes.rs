//! The model lane against Triton servers of the tests' own: a model runs once per image
//! and model, a killed Triton costs retries and nothing else, a stuck one does not hold
//! up the product shards, and a flood of low-priority jobs does not hold up the models.

mod common;
mod ml_support;

use common::{count, wait_until};
use ml_support::*;
use robotoff::jobs::{JobKind, NewJob, Priority};
use robotoff::types::ServerType;
use serde_json::json;
use std::time::Duration;

const LOGOS: &str = "run_logo_object_detection";
const TABLES: &str = "run_nutrition_table_object_detection";
const FINGERPRINT: &str = "add_image_fingerprint";

async fn metric(scene: &Scene, name: &str) -> f64 {
    let addr = scene.app.addr.expect("api address");
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Spec pipeline §2.7: the same job twice (and the image imported twice) gives the same
/// rows, and each model is called once per image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_model_runs_once_per_image() {
    let triton = OwnTriton::start();
    let scene = Scene::start(&triton.grpc, |_| {}).await;
    let barcode = "3000000000024";
    let (w, h) = (800, 600);
    let img = picture(
        w,
        h,
        &[
            Rect::new(100, 100, 200, 80),
            Rect::new(500, 300, 100, 100).grey(30),
        ],
    );
    scene.product(barcode, &[("1", png(&img), w, h), ("2", png(&img), w, h)]);
    for id in ["1", "2"] {
        scene
            .import(barcode, id, &[LOGOS, TABLES, FINGERPRINT])
            .await;
    }
    scene.settle(Duration::from_secs(60)).await;
    let rows = |sql: &'static str| {
        let pool = scene.pool.clone();
        async move { count(&pool, sql).await }
    };
    let before = (
        rows("SELECT count(*) FROM image_prediction").await,
        rows("SELECT count(*) FROM logo_annotation").await,
        rows("SELECT count(*) FROM embedding.logo_embedding").await,
    );
    assert_eq!(before, (4, 4, 4));
    // Again, twice, through both paths.
    for id in ["1", "2"] {
        scene
            .import(barcode, id, &[LOGOS, TABLES, FINGERPRINT])
            .await;
        scene.run_steps(barcode, id, &[LOGOS, TABLES]).await;
    }
    scene.settle(Duration::from_secs(60)).await;
    let after = (
        rows("SELECT count(*) FROM image_prediction").await,
        rows("SELECT count(*) FROM logo_annotation").await,
        rows("SELECT count(*) FROM embedding.logo_embedding").await,
    );
    assert_eq!(after, before);
    assert_eq!(scene.dead_jobs().await, vec![]);
    assert_eq!(triton.inferences("universal_logo_detector_yolo").await, 2);
    assert_eq!(triton.inferences("nutrition_table").await, 2);
    // Four crops, one CLIP row each (batched: at most 4 calls).
    let clip_calls = triton.inferences("clip").await;
    assert!((1..=4).contains(&clip_calls), "{clip_calls} CLIP calls");
}

/// Architecture invariant 5: Triton killed in the middle of 200 images and restarted:
/// every image ends with its detections, logos and embeddings, none twice; the retry
/// and circuit-breaker metrics show what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_mid_run_then_restarted_loses_nothing() {
    let mut triton = OwnTriton::start();
    let scene = Scene::start(&triton.grpc, |s| {
        s.triton.timeout_ms = 3000;
        s.triton.retries = 2;
        s.triton.breaker_failures = 3;
        s.triton.breaker_cooldown_ms = 300;
        s.workers.max_attempts = 3;
    })
    .await;
    let (w, h) = (320, 240);
    let img = png(&picture(w, h, &[Rect::new(40, 40, 100, 50)]));
    let products: Vec<String> = (0..20).map(|i| format!("30000000{i:05}")).collect();
    for barcode in &products {
        let images: Vec<(String, Vec<u8>, u32, u32)> = (1..=10)
            .map(|i| (i.to_string(), img.clone(), w, h))
            .collect();
        let borrowed: Vec<(&str, Vec<u8>, u32, u32)> = images
            .iter()
            .map(|(id, b, w, h)| (id.as_str(), b.clone(), *w, *h))
            .collect();
        scene.product(barcode, &borrowed);
    }
    for barcode in &products {
        for i in 1..=10 {
            scene
                .import(barcode, &i.to_string(), &[LOGOS, TABLES])
                .await;
        }
    }
    let pool = scene.pool.clone();
    wait_until(
        Duration::from_secs(120),
        "a quarter of the images done",
        || {
            let pool = pool.clone();
            async move {
                (count(&pool, "SELECT count(*) FROM embedding.logo_embedding").await >= 50)
                    .then_some(())
            }
        },
    )
    .await;
    triton.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stuck = count(&scene.pool, "SELECT count(*) FROM embedding.logo_embedding").await;
    assert!(stuck < 200, "every image was done before Triton went away");
    triton.restart();
    scene.settle(Duration::from_secs(300)).await;
    assert_eq!(scene.dead_jobs().await, vec![]);
    assert_eq!(count(&scene.pool, "SELECT count(*) FROM image").await, 200);
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM image_prediction WHERE model_name = 'universal_logo_detector'"
        )
        .await,
        200
    );
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM image_prediction WHERE model_name = 'nutrition_table'"
        )
        .await,
        200
    );
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM (SELECT image_id, model_name FROM image_prediction
             GROUP BY 1, 2 HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM logo_annotation").await,
        200
    );
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM embedding.logo_embedding").await,
        200
    );
    assert!(metric(&scene, "robotoff_triton_retries_total").await >= 1.0);
    assert!(metric(&scene, "robotoff_triton_breaker_opened_total").await >= 1.0);
}

/// Architecture invariant 4: model steps waiting on a stuck Triton do not delay a
/// product's high-priority job; the model lane has its own budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_triton_does_not_hold_up_the_shards() {
    let triton = OwnTriton::start();
    let scene = Scene::start(&triton.grpc, |s| {
        s.ml.max_jobs = 2;
        s.triton.timeout_ms = 20_000;
        s.triton.retries = 0;
    })
    .await;
    let barcode = "3000000000031";
    let (w, h) = (320, 240);
    let img = png(&picture(w, h, &[Rect::new(40, 40, 100, 50)]));
    let images: Vec<(String, Vec<u8>, u32, u32)> = (1..=6)
        .map(|i| (i.to_string(), img.clone(), w, h))
        .collect();
    let borrowed: Vec<(&str, Vec<u8>, u32, u32)> = images
        .iter()
        .map(|(id, b, w, h)| (id.as_str(), b.clone(), *w, *h))
        .collect();
    scene.product(barcode, &borrowed);
    for i in 1..=6 {
        scene.import(barcode, &i.to_string(), &[]).await;
    }
    scene.settle(Duration::from_secs(30)).await;
    triton.pause();
    for i in 1..=6 {
        scene.run_steps(barcode, &i.to_string(), &[TABLES]).await;
    }
    let pool = scene.pool.clone();
    wait_until(Duration::from_secs(20), "the model lane to be full", || {
        let pool = pool.clone();
        async move {
            (count(
                &pool,
                "SELECT count(*) FROM job WHERE kind = 'run_image_models' AND state = 'running'",
            )
            .await
                == 2)
                .then_some(())
        }
    })
    .await;
    let probe = NewJob::new(JobKind::Probe, Priority::High)
        .for_product(barcode, ServerType::Off)
        .payload(json!({}));
    let id = scene.enqueue(&probe).await;
    wait_until(
        Duration::from_secs(10),
        "the probe job of the same product",
        || {
            let pool = pool.clone();
            async move {
                let state: String = sqlx::query_scalar("SELECT state FROM job WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                (state == "done").then_some(())
            }
        },
    )
    .await;
    // The model steps were still waiting on Triton.
    assert_eq!(
        count(
            &scene.pool,
            "SELECT count(*) FROM job WHERE kind = 'run_image_models' AND state IN ('queued', 'running')"
        )
        .await,
        6
    );
    triton.resume();
    scene.settle(Duration::from_secs(60)).await;
    assert_eq!(scene.dead_jobs().await, vec![]);
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM image_prediction").await,
        6
    );
}

/// Architecture invariant 4: a flood of low-priority jobs does not hold up the model
/// steps queued after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_jobs_do_not_starve_the_model_lane() {
    let scene = Scene::start(&triton_uri(), |s| s.workers.shards = 2).await;
    let barcode = "3000000000048";
    let (w, h) = (320, 240);
    let img = png(&picture(w, h, &[Rect::new(40, 40, 100, 50)]));
    scene.product(barcode, &[("1", img, w, h)]);
    scene.import(barcode, "1", &[]).await;
    scene.settle(Duration::from_secs(30)).await;
    for i in 0..400 {
        let low = NewJob::new(JobKind::Probe, Priority::Low)
            .for_product(format!("4{i:012}"), ServerType::Off)
            .payload(json!({"sleep_ms": 50}));
        scene.enqueue(&low).await;
    }
    let step = scene.run_steps(barcode, "1", &[TABLES]).await;
    let pool = scene.pool.clone();
    wait_until(Duration::from_secs(30), "the model step", || {
        let pool = pool.clone();
        async move {
            let state: String = sqlx::query_scalar("SELECT state FROM job WHERE id = $1")
                .bind(step)
                .fetch_one(&pool)
                .await
                .ok()?;
            (state == "done").then_some(())
        }
    })
    .await;
    let low_left = count(
        &scene.pool,
        "SELECT count(*) FROM job WHERE kind = 'probe' AND state IN ('queued', 'running')",
    )
    .await;
    assert!(low_left > 100, "only {low_left} low jobs were left");
    assert_eq!(
        count(&scene.pool, "SELECT count(*) FROM image_prediction").await,
        1
    );
}
