//! Support of the model tests: pictures with dark rectangles at known places (what the
//! test models of tests/triton/ detect), a node whose Product Opener is the local
//! stand-in and whose Triton is the real test server, and Triton servers of a test's
//! own that it may kill and restart.
#![allow(dead_code)]

use crate::common::po::{product_json, ProductOpenerStandIn, Served};
use crate::common::{count, fresh_database, settings, spawn_app, wait_until};
use image::{Rgb, RgbImage};
use robotoff::app::App;
use robotoff::config::Settings;
use robotoff::infra::db::jobs;
use robotoff::jobs::{JobKind, NewJob, Priority};
use robotoff::types::ServerType;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// Background of the pictures: light (the test detectors look for pixels darker than
/// 0.25 on average).
pub const LIGHT: u8 = 235;

/// A filled rectangle of a picture, in pixels (`x`, `y` its top-left corner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub grey: u8,
}

impl Rect {
    pub fn new(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect {
            x,
            y,
            w,
            h,
            grey: 0,
        }
    }

    pub fn grey(mut self, grey: u8) -> Rect {
        self.grey = grey;
        self
    }

    /// `[y_min, x_min, y_max, x_max]` relative to a `width`×`height` picture.
    pub fn relative(&self, width: u32, height: u32) -> [f64; 4] {
        let (w, h) = (f64::from(width), f64::from(height));
        [
            f64::from(self.y) / h,
            f64::from(self.x) / w,
            f64::from(self.y + self.h) / h,
            f64::from(self.x + self.w) / w,
        ]
    }
}

/// A light `width`×`height` picture with `rects` drawn on it.
pub fn picture(width: u32, height: u32, rects: &[Rect]) -> RgbImage {
    let mut img = RgbImage::from_pixel(width, height, Rgb([LIGHT, LIGHT, LIGHT]));
    for r in rects {
        for y in r.y..(r.y + r.h).min(height) {
            for x in r.x..(r.x + r.w).min(width) {
                img.put_pixel(x, y, Rgb([r.grey, r.grey, r.grey]));
            }
        }
    }
    img
}

/// [`picture`], then `holes` drawn in the background colour (inside a rectangle, a hole
/// that does not cut it in two keeps it one object with a different look).
pub fn picture_with_holes(width: u32, height: u32, rects: &[Rect], holes: &[Rect]) -> RgbImage {
    let mut img = picture(width, height, rects);
    for r in holes {
        for y in r.y..(r.y + r.h).min(height) {
            for x in r.x..(r.x + r.w).min(width) {
                img.put_pixel(x, y, Rgb([LIGHT, LIGHT, LIGHT]));
            }
        }
    }
    img
}

pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(img)
        .expect("encode JPEG");
    out.into_inner()
}

/// The Triton test server `scripts/test` started.
pub fn triton_uri() -> String {
    std::env::var("ROBOTOFF_TEST_TRITON_URI")
        .expect("ROBOTOFF_TEST_TRITON_URI is not set: run the tests with scripts/test")
}

/// `/089/000/000/1202` for `0890000001202`.
pub fn folder(barcode: &str) -> String {
    robotoff::insights::image::barcode_folder(barcode).expect("barcode folder")
}

/// A node (workers) whose products and images come from `po` and whose models are on
/// `triton`.
pub struct Scene {
    pub po: Arc<ProductOpenerStandIn>,
    pub app: App,
    pub pool: PgPool,
}

impl Scene {
    pub async fn start(triton: &str, tune: impl FnOnce(&mut Settings)) -> Scene {
        let po = Arc::new(ProductOpenerStandIn::start().await);
        let mut s = settings(&fresh_database().await);
        s.product_opener.refresh_products = true;
        po.point(&mut s);
        s.triton.url = triton.to_string();
        s.triton.models.clear();
        s.triton.retry_base_ms = 20;
        s.triton.breaker_cooldown_ms = 500;
        s.ml.clip_linger_ms = 5;
        s.ml.unavailable_retry_secs = 1;
        tune(&mut s);
        let app = spawn_app(s).await;
        let pool = app.pool.clone();
        Scene { po, app, pool }
    }

    /// Product `barcode` (food) has images `ids`, each served as `bytes` with its size.
    pub fn product(&self, barcode: &str, images: &[(&str, Vec<u8>, u32, u32)]) {
        let mut entries = serde_json::Map::new();
        for (id, bytes, w, h) in images {
            entries.insert(
                id.to_string(),
                json!({"sizes": {"full": {"w": w, "h": h}}, "uploaded_t": 1_700_000_000}),
            );
            self.po.serve_file(
                &format!("/images/products{}/{id}.jpg", folder(barcode)),
                Served {
                    body: bytes.clone(),
                    last_modified: None,
                    etag: None,
                },
            );
        }
        self.po
            .put("off", product_json(barcode, "food", Value::Object(entries)));
    }

    /// Serves `document` as the OCR of image `id` of `barcode`.
    pub fn ocr(&self, barcode: &str, id: &str, document: &Value) {
        self.po.serve_ocr(
            &format!("/images/products{}/{id}.json", folder(barcode)),
            document.to_string().into_bytes(),
        );
    }

    /// Queues the import of image `id` with the `flags` (Robotoff's image-import flags).
    pub async fn import(&self, barcode: &str, id: &str, flags: &[&str]) -> i64 {
        let job = NewJob::new(JobKind::ImportImage, Priority::High)
            .for_product(barcode, ServerType::Off)
            .payload(json!({"image_id": id, "include_flags": flags}));
        self.enqueue(&job).await
    }

    /// Queues the model steps `steps` of image `id` (its row must exist).
    pub async fn run_steps(&self, barcode: &str, id: &str, steps: &[&str]) -> i64 {
        let job = robotoff::pipeline::model_step::job(barcode, ServerType::Off, id, steps);
        self.enqueue(&job).await
    }

    pub async fn enqueue(&self, job: &NewJob) -> i64 {
        let w = &self.app.services.settings.workers;
        jobs::enqueue(&self.pool, job, w.shards, w.max_attempts)
            .await
            .expect("enqueue")
            .expect("a new job")
    }

    /// Waits until no job is queued or running.
    pub async fn settle(&self, limit: Duration) {
        let pool = self.pool.clone();
        wait_until(limit, "every job to finish", || {
            let pool = pool.clone();
            async move {
                (count(
                    &pool,
                    "SELECT count(*) FROM job WHERE state IN ('queued', 'running')",
                )
                .await
                    == 0)
                    .then_some(())
            }
        })
        .await;
    }

    /// The objects stored for image `source_image` by `model`.
    pub async fn objects(&self, source_image: &str, model: &str) -> Vec<Value> {
        let data: Vec<Value> = sqlx::query_scalar(
            "SELECT p.data FROM image_prediction p JOIN image i ON i.id = p.image_id
             WHERE i.source_image = $1 AND p.model_name = $2",
        )
        .bind(source_image)
        .bind(model)
        .fetch_all(&self.pool)
        .await
        .expect("image predictions");
        assert!(
            data.len() <= 1,
            "{model} ran {} times on {source_image}",
            data.len()
        );
        data.first()
            .and_then(|d| d["objects"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Jobs that ended dead, with their error.
    pub async fn dead_jobs(&self) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT kind, coalesce(last_error, '') FROM job WHERE state = 'dead' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .expect("dead jobs")
    }
}

/// The relative box of a stored object.
pub fn bbox(object: &Value) -> [f64; 4] {
    let b = object["bounding_box"].as_array().expect("bounding_box");
    assert_eq!(b.len(), 4);
    [0, 1, 2, 3].map(|i| b[i].as_f64().expect("coordinate"))
}

/// Asserts that `found` (relative) is `truth` within `tolerance` pixels of a
/// `width`×`height` picture, side by side.
pub fn assert_box_near(found: [f64; 4], truth: [f64; 4], width: u32, height: u32, tolerance: f64) {
    let scale = [height, width, height, width].map(f64::from);
    for i in 0..4 {
        let off = (found[i] - truth[i]).abs() * scale[i];
        assert!(
            off <= tolerance,
            "side {i} is {off:.3} px off (found {found:?}, truth {truth:?}, {width}x{height})"
        );
    }
}

/// A Triton server of the test's own (the test models), which it may kill and restart
/// on the same ports.
pub struct OwnTriton {
    pub grpc: String,
    pub http: String,
    grpc_port: u16,
    http_port: u16,
    pid: Option<String>,
    log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn triton_script(body: &str) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; source scripts/triton.sh; {body}"
        ))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run bash")
}

impl OwnTriton {
    pub fn start() -> OwnTriton {
        let (grpc_port, http_port) = loop {
            let (a, b) = (free_port(), free_port());
            if a != b {
                break (a, b);
            }
        };
        let log = std::env::temp_dir().join(format!(
            "robotoff-test-triton-{}-{grpc_port}.log",
            std::process::id()
        ));
        let mut t = OwnTriton {
            grpc: format!("127.0.0.1:{grpc_port}"),
            http: format!("127.0.0.1:{http_port}"),
            grpc_port,
            http_port,
            pid: None,
            log,
        };
        t.restart();
        t
    }

    /// Starts the server (again) on its ports; waits until it is ready.
    pub fn restart(&mut self) {
        let out = triton_script(&format!(
            "start_triton tests/triton/models {} {} {} >&2 && echo \"$TRITON_PID\"",
            self.grpc_port,
            self.http_port,
            self.log.display()
        ));
        assert!(
            out.status.success(),
            "Triton did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.pid = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }

    /// Kills the server and its model processes at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            let _ = triton_script(&format!("stop_triton {pid}"));
        }
    }

    /// Stops the server's processes (SIGSTOP): connections stay open, calls hang.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = &self.pid {
            let status = Command::new("kill")
                .args([signal, "--", &format!("-{pid}")])
                .status()
                .expect("kill");
            assert!(status.success(), "kill {signal} -{pid}");
        }
    }

    /// Successful inferences of `model` since the server started.
    pub async fn inferences(&self, model: &str) -> u64 {
        let url = format!("http://{}/v2/models/{model}/stats", self.http);
        let stats: Value = reqwest::get(&url)
            .await
            .expect("stats request")
            .json()
            .await
            .expect("stats JSON");
        stats["model_stats"][0]["inference_stats"]["success"]["count"]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for OwnTriton {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = triton_script(&format!("stop_triton {pid}"));
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A Cloud Vision document with one word `text` whose polygon is `[x0, y0, x1, y1]`
/// (pixels) per word.
pub fn ocr_document(words: &[(&str, [f64; 4])]) -> Value {
    let full_text: String = words.iter().map(|(t, _)| format!("{t} ")).collect();
    let word_json: Vec<Value> = words
        .iter()
        .map(|(text, [x0, y0, x1, y1])| {
            let n = text.chars().count();
            let symbols: Vec<Value> = text
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    let mut s = json!({"text": c.to_string()});
                    if i + 1 == n {
                        s["property"] = json!({"detectedBreak": {"type": "SPACE"}});
                    }
                    s
                })
                .collect();
            json!({
                "boundingBox": {"vertices": [
                    {"x": x0, "y": y0}, {"x": x1, "y": y0}, {"x": x1, "y": y1}, {"x": x0, "y": y1}
                ]},
                "symbols": symbols,
            })
        })
        .collect();
    json!({"responses": [{
        "textAnnotations": [{
            "description": full_text,
            "boundingPoly": {"vertices": [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}, {"x": 0, "y": 10}]}
        }],
        "fullTextAnnotation": {
            "text": full_text,
            "pages": [{"width": 1000, "height": 1000, "blocks": [{
                "blockType": "TEXT",
                "boundingBox": {"vertices": [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}, {"x": 0, "y": 10}]},
                "paragraphs": [{
                    "boundingBox": {"vertices": [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}, {"x": 0, "y": 10}]},
                    "words": word_json
                }]
            }]}]
        }
    }]})
}
