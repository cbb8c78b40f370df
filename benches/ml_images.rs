//! The model steps of image import on photo-sized JPEGs: 1200×1600, 2448×3264 and
//! 3024×4032 pictures (smooth colour fields with sensor-like noise, about 1.5 to 3 bits
//! per pixel at quality 90, as phone photos of packaging are), each with three dark logos.
//!
//! Part 1 (always): client CPU per image by stage, on one thread: decode (JPEG →
//! upright RGB), fingerprint (pHash), letterbox (640), encode (tensor bytes), the
//! detector output's decoding and NMS (three detectors, 8400 columns each), logo crops
//! with CLIP preprocessing.
//!
//! Part 2 (with `ROBOTOFF_BENCH_DATABASE_URL` and `ROBOTOFF_BENCH_TRITON_URI`, which
//! `scripts/bench-ml` sets): images per second through the whole model step — fetch from
//! the local image host, decode, letterbox, the three detectors and CLIP on the Triton
//! test models, commit — and the process's CPU seconds per image.
//!
//! Sizes: `ROBOTOFF_BENCH_IMAGES` (photos, default 24), `ROBOTOFF_BENCH_PIPELINE_IMAGES`
//! (images through the service, default 120). `ROBOTOFF_BENCH_IMAGES_DIR`: also write
//! the photos there (for a comparison with other implementations).

#[path = "../tests/common/po.rs"]
mod po;

use anyhow::Context;
use image::{Rgb, RgbImage};
use po::{ProductOpenerStandIn, Served};
use rand::{Rng, SeedableRng};
use robotoff::app::App;
use robotoff::config::{Overrides, Settings};
use robotoff::ml::clip::ClipBatch;
use robotoff::ml::letterbox::letterbox;
use robotoff::ml::models::ObjectDetectionModel;
use robotoff::ml::yolo::{decode, PostprocessOptions};
use robotoff::types::ServerType;
use serde_json::json;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A photo-like picture: a smooth colour field, noise, and three dark logos with a light
/// window each. Returns the picture and the logos' relative boxes.
fn photo(width: u32, height: u32, seed: u64) -> (RgbImage, Vec<[f64; 4]>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut waves = [[0f32; 4]; 3];
    for w in &mut waves {
        *w = [
            rng.random_range(0.5..4.0),
            rng.random_range(0.5..4.0),
            rng.random_range(0.0..std::f32::consts::TAU),
            rng.random_range(20.0..50.0),
        ];
    }
    let base: [f32; 3] = [
        rng.random_range(140.0..200.0),
        rng.random_range(140.0..200.0),
        rng.random_range(140.0..200.0),
    ];
    let (fw, fh) = (width as f32, height as f32);
    let mut img = RgbImage::new(width, height);
    let mut noise = rand::rngs::StdRng::seed_from_u64(seed ^ 0x9e37);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (u, v) = (x as f32 / fw, y as f32 / fh);
        let mut out = [0u8; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let w = waves[c];
            let field = base[c]
                + w[3]
                    * (u * w[0] * std::f32::consts::TAU + v * w[1] * std::f32::consts::TAU + w[2])
                        .sin();
            let n: f32 = noise.random_range(-9.0..9.0);
            *o = (field + n).clamp(90.0, 250.0) as u8;
        }
        *px = Rgb(out);
    }
    let mut boxes = Vec::new();
    for i in 0..3u32 {
        let lw = width / 8 + rng.random_range(0..width / 16);
        let lh = height / 14 + rng.random_range(0..height / 28);
        let x0 = (width / 12) + i * (width / 3);
        let y0 = rng.random_range(height / 10..height - lh - height / 10);
        let grey = rng.random_range(10..50u8);
        for y in y0..y0 + lh {
            for x in x0..x0 + lw {
                let window =
                    x > x0 + lw / 5 && x < x0 + lw / 3 && y > y0 + lh / 4 && y < y0 + lh / 2;
                let g = if window { 230 } else { grey };
                img.put_pixel(x, y, Rgb([g, g, g.saturating_add(5)]));
            }
        }
        boxes.push([
            f64::from(y0) / f64::from(height),
            f64::from(x0) / f64::from(width),
            f64::from(y0 + lh) / f64::from(height),
            f64::from(x0 + lw) / f64::from(width),
        ]);
    }
    (img, boxes)
}

fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(img)
        .expect("encode JPEG");
    out
}

/// A detector's `output0` as a real YOLO model answers: 8400 columns, a few of them
/// (around each logo) scoring high, the rest low.
fn yolo_output(model: ObjectDetectionModel, boxes: &[[f64; 4]], seed: u64) -> Vec<f32> {
    let n = model.output_columns();
    let rows = model.output_rows();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = vec![0f32; rows * n];
    for i in 0..n {
        for r in 0..4 {
            out[r * n + i] = rng.random_range(0.0..640.0);
        }
        for r in 4..rows {
            out[r * n + i] = rng.random_range(0.0..0.05);
        }
    }
    for (k, b) in boxes.iter().enumerate() {
        for j in 0..20 {
            let i = (k * 97 + j * 13) % n;
            let jitter: f32 = rng.random_range(-3.0..3.0);
            out[i] = ((b[1] + b[3]) * 320.0) as f32 + jitter;
            out[n + i] = ((b[0] + b[2]) * 320.0) as f32 + jitter;
            out[2 * n + i] = ((b[3] - b[1]) * 640.0) as f32;
            out[3 * n + i] = ((b[2] - b[0]) * 640.0) as f32;
            out[4 * n + i] = rng.random_range(0.3..0.95);
        }
    }
    out
}

#[derive(Default)]
struct Stages {
    decode: Vec<f64>,
    fingerprint: Vec<f64>,
    letterbox: Vec<f64>,
    encode: Vec<f64>,
    postprocess: Vec<f64>,
    crops: Vec<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(name: &str, v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mean = s.iter().sum::<f64>() / s.len().max(1) as f64;
    let median = s.get(s.len() / 2).copied().unwrap_or(f64::NAN);
    println!("  {name:<12} mean {mean:8.2} ms   median {median:8.2} ms");
    mean
}

/// An encoded photo, its logos' relative boxes, its width and height.
type Photo = (Vec<u8>, Vec<[f64; 4]>, u32, u32);

/// Part 1: the client's CPU per image, stage by stage, on one thread.
fn stages(photos: &[Photo]) -> anyhow::Result<()> {
    let mut st = Stages::default();
    let detectors = [
        ObjectDetectionModel::UniversalLogoDetector,
        ObjectDetectionModel::NutritionTable,
        ObjectDetectionModel::Nutriscore,
    ];
    for (i, (bytes, boxes, _, _)) in photos.iter().enumerate() {
        let t = Instant::now();
        let decoded = robotoff::imaging::decode_oriented(bytes, 100_000_000)?;
        let raw = decoded.image.clone();
        let rgb = decoded.upright_rgb();
        st.decode.push(ms(t.elapsed()));

        let t = Instant::now();
        let _ = robotoff::imaging::phash::fingerprint(&raw);
        st.fingerprint.push(ms(t.elapsed()));
        drop(raw);

        let t = Instant::now();
        let l = letterbox(&rgb, 640)?;
        st.letterbox.push(ms(t.elapsed()));
        let geometry = l.geometry;
        let t = Instant::now();
        let tensor = l.into_tensor_bytes();
        st.encode.push(ms(t.elapsed()));
        assert_eq!(tensor.len(), 3 * 640 * 640 * 4);

        let mut total = Duration::ZERO;
        for (k, m) in detectors.iter().enumerate() {
            let output = yolo_output(*m, boxes, (i * 3 + k) as u64);
            let t = Instant::now();
            let objects = decode(
                &output,
                m.labels(),
                &geometry,
                &PostprocessOptions::new(0.1),
            )?;
            total += t.elapsed();
            assert!(!objects.is_empty());
        }
        st.postprocess.push(ms(total));

        let t = Instant::now();
        let mut batch = ClipBatch::with_capacity(boxes.len());
        for b in boxes {
            batch.push_logo(&rgb, *b)?;
        }
        let _ = batch.pixel_values_bytes();
        st.crops.push(ms(t.elapsed()));
    }
    println!(
        "client CPU per image by stage ({} photos, one thread):",
        photos.len()
    );
    let total = report("decode", &st.decode)
        + report("fingerprint", &st.fingerprint)
        + report("letterbox", &st.letterbox)
        + report("encode", &st.encode)
        + report("postprocess", &st.postprocess)
        + report("crops+CLIP", &st.crops);
    println!("  {:<12} mean {total:8.2} ms", "total");
    println!(
        "  without decode: {:.2} ms",
        total - st.decode.iter().sum::<f64>() / st.decode.len().max(1) as f64
    );
    Ok(())
}

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Part 2: images through the service's model steps.
async fn pipeline(db: &str, triton: &str, photos: &[Photo], n: usize) -> anyhow::Result<()> {
    let po = ProductOpenerStandIn::start().await;
    let mut o = Overrides::default();
    o.set("database.url", db.to_string());
    o.set("roles", "workers,api");
    o.set("http.addr", "127.0.0.1:0");
    o.set("log.level", "warn");
    o.set("triton.url", triton.to_string());
    o.set(
        "data.dir",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"),
    );
    let mut settings = Settings::load(None, &o)?;
    po.point(&mut settings);
    settings.product_opener.refresh_products = false;
    let app = App::build(settings.clone()).await?;
    let pool = app.pool.clone();
    let per_product = 10;
    let mut barcodes = Vec::new();
    for p in 0..n.div_ceil(per_product) {
        let barcode = format!("{:013}", 3_200_000_000_000u64 + p as u64 * 17);
        let mut images = serde_json::Map::new();
        for k in 0..per_product {
            let (bytes, _, w, h) = &photos[(p * per_product + k) % photos.len()];
            let id = (k + 1).to_string();
            images.insert(
                id.clone(),
                json!({"sizes": {"full": {"w": w, "h": h}}, "uploaded_t": 1_700_000_000}),
            );
            let folder = robotoff::insights::image::barcode_folder(&barcode).context("folder")?;
            po.serve_file(
                &format!("/images/products{folder}/{id}.jpg"),
                Served {
                    body: bytes.clone(),
                    last_modified: None,
                    etag: None,
                },
            );
        }
        let mut product = robotoff::types::Product::new(barcode.clone(), ServerType::Off);
        product.lang = Some("fr".into());
        product.countries_tags = vec!["en:france".into()];
        product.images = images;
        robotoff::infra::db::products::upsert_many(&pool, &[product]).await?;
        barcodes.push(barcode);
    }
    let w = &settings.workers;
    let enqueue_all = |steps: Vec<&'static str>, import: bool| {
        let pool = pool.clone();
        let barcodes = barcodes.clone();
        let (shards, attempts) = (w.shards, w.max_attempts);
        async move {
            let mut k = 0;
            for b in &barcodes {
                for i in 1..=per_product {
                    if k == n {
                        break;
                    }
                    k += 1;
                    let id = i.to_string();
                    let job = if import {
                        robotoff::jobs::NewJob::new(
                            robotoff::jobs::JobKind::ImportImage,
                            robotoff::jobs::Priority::High,
                        )
                        .for_product(b, ServerType::Off)
                        .payload(json!({"image_id": id, "include_flags": []}))
                    } else {
                        robotoff::pipeline::model_step::job(b, ServerType::Off, &id, &steps)
                    };
                    robotoff::infra::db::jobs::enqueue(&pool, &job, shards, attempts).await?;
                }
            }
            anyhow::Ok(())
        }
    };
    enqueue_all(Vec::new(), true).await?;
    wait_idle(&pool).await?;
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    enqueue_all(
        vec![
            "run_logo_object_detection",
            "run_nutrition_table_object_detection",
            "run_nutriscore_object_detection",
            "add_image_fingerprint",
        ],
        false,
    )
    .await?;
    wait_idle(&pool).await?;
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await }
    };
    let predictions = count("SELECT count(*) FROM image_prediction").await?;
    let embeddings = count("SELECT count(*) FROM embedding.logo_embedding").await?;
    let dead = count("SELECT count(*) FROM job WHERE state = 'dead'").await?;
    println!(
        "pipeline: {n} images in {wall:.1} s = {:.2} images/s; {predictions} image predictions, {embeddings} logo embeddings, {dead} dead jobs",
        n as f64 / wall
    );
    println!(
        "  client process CPU: {:.1} ms per image ({cpu:.1} s; includes the image host stand-in and the job queue)",
        cpu * 1000.0 / n as f64
    );
    if let Some(addr) = app.addr {
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await?
            .text()
            .await?;
        println!(
            "  wall time per image in each stage (from /metrics; jobs overlap, so this exceeds CPU time):"
        );
        for stage in [
            "fetch",
            "decode",
            "fingerprint",
            "letterbox",
            "encode",
            "postprocess",
            "ocr",
            "clip_preprocess",
        ] {
            let sum = metric(&text, "robotoff_ml_stage_duration_seconds_sum", stage);
            println!(
                "    {stage:<16} {:8.2} ms",
                (sum * 1000.0 / n as f64).max(0.0)
            );
        }
    }
    app.shutdown().await;
    Ok(())
}

fn metric(text: &str, name: &str, stage: &str) -> f64 {
    let label = format!("stage=\"{stage}\"");
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn wait_idle(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    loop {
        let busy: i64 =
            sqlx::query_scalar("SELECT count(*) FROM job WHERE state IN ('queued', 'running')")
                .fetch_one(pool)
                .await?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let count = env_usize("ROBOTOFF_BENCH_IMAGES", 24);
    let sizes = [(1200u32, 1600u32), (2448, 3264), (3024, 4032)];
    let t = Instant::now();
    let photos: Vec<Photo> = (0..count)
        .map(|i| {
            let (w, h) = sizes[i % sizes.len()];
            let (img, boxes) = photo(w, h, i as u64);
            (jpeg(&img), boxes, w, h)
        })
        .collect();
    let bytes: usize = photos.iter().map(|p| p.0.len()).sum();
    let pixels: u64 = photos.iter().map(|p| u64::from(p.2) * u64::from(p.3)).sum();
    println!(
        "{count} photos ({:.1} MB of JPEG, {:.2} bits per pixel) made in {:.1} s",
        bytes as f64 / 1e6,
        bytes as f64 * 8.0 / pixels as f64,
        t.elapsed().as_secs_f64()
    );
    if let Ok(dir) = std::env::var("ROBOTOFF_BENCH_IMAGES_DIR") {
        std::fs::create_dir_all(&dir)?;
        for (i, (b, boxes, ..)) in photos.iter().enumerate() {
            std::fs::write(format!("{dir}/{i}.jpg"), b)?;
            std::fs::write(format!("{dir}/{i}.json"), serde_json::to_vec(boxes)?)?;
        }
    }
    stages(&photos)?;
    if let (Ok(db), Ok(triton)) = (
        std::env::var("ROBOTOFF_BENCH_DATABASE_URL"),
        std::env::var("ROBOTOFF_BENCH_TRITON_URI"),
    ) {
        let n = env_usize("ROBOTOFF_BENCH_PIPELINE_IMAGES", 120);
        pipeline(&db, &triton, &photos, n).await?;
    }
    Ok(())
}
