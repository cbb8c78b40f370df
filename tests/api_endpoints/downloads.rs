//! Endpoints that download from Product Opener: only the configured image hosts are
//! ever contacted (spec api-db §1.4 `/images/crop`, §1.5 `/predict/ocr_prediction`).

use crate::support;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use warp::Filter;

/// A stand-in image host serving one PNG and one OCR JSON; counts requests.
async fn image_host() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let img = image::RgbImage::from_pixel(40, 20, image::Rgb([10, 200, 10]));
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode png");
    let png = png.into_inner();
    let ocr = ocr_document("Poids net 250 g");
    let routes = warp::any()
        .map(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .untuple_one()
        .and(
            warp::path!("images" / "products" / "000" / "000" / "000" / "0001" / "1.jpg")
                .map(move || warp::reply::with_header(png.clone(), "content-type", "image/png"))
                .or(
                    warp::path!("images" / "products" / "000" / "000" / "000" / "0001" / "1.json")
                        .map(move || warp::reply::json(&ocr)),
                )
                .or(
                    warp::path!("images" / "products" / "000" / "000" / "000" / "0001" / "2.json")
                        .map(|| "not json at all"),
                ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    (addr, hits)
}

/// A Cloud Vision answer whose single line is `text` (one word per space-separated part).
fn ocr_document(text: &str) -> serde_json::Value {
    let poly = |x: usize| json!({"vertices": [{"x": x, "y": 0}, {"x": x + 9, "y": 0}, {"x": x + 9, "y": 10}, {"x": x, "y": 10}]});
    let parts: Vec<&str> = text.split(' ').collect();
    let words: Vec<serde_json::Value> = parts
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let n = w.chars().count();
            let symbols: Vec<serde_json::Value> = w
                .chars()
                .enumerate()
                .map(|(j, c)| {
                    let mut s =
                        json!({"text": c.to_string(), "boundingBox": poly(i * 100 + j * 10)});
                    if j + 1 == n {
                        let kind = if i + 1 == parts.len() {
                            "LINE_BREAK"
                        } else {
                            "SPACE"
                        };
                        s["property"] = json!({"detectedBreak": {"type": kind}});
                    }
                    s
                })
                .collect();
            json!({"boundingBox": poly(i * 100), "symbols": symbols})
        })
        .collect();
    json!({"responses": [{
        "textAnnotations": [{"description": format!("{text}\n"), "boundingPoly": poly(0)}],
        "fullTextAnnotation": {"text": format!("{text}\n"), "pages": [{"width": 1000, "height": 100,
            "blocks": [{"blockType": "TEXT", "paragraphs": [{"words": words}]}]}]}
    }]})
}

#[tokio::test]
async fn crops_and_ocr_predictions_from_the_image_host_only() {
    let (host, hits) = image_host().await;
    let mut settings = support::settings().await;
    settings.product_opener.off.images_url = format!("http://{host}");
    let api = support::start_with(settings).await;
    let base = format!("http://{host}/images/products/000/000/000/0001");

    let resp = api
        .client
        .get(api.url("/api/v1/images/crop"))
        .query(&[
            ("image_url", format!("{base}/1.jpg")),
            ("y_min", "0".into()),
            ("x_min", "0".into()),
            ("y_max", "0.5".into()),
            ("x_max", "0.25".into()),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/jpeg")
    );
    let jpeg = resp.bytes().await.unwrap_or_default();
    let decoded = image::load_from_memory(&jpeg).expect("a JPEG");
    assert_eq!((decoded.width(), decoded.height()), (10, 10));

    let body = api
        .get_json(&format!(
            "/api/v1/predict/ocr_prediction?ocr_url={base}/1.json&prediction_types=product_weight"
        ))
        .await;
    let preds = body["predictions"].as_array().cloned().unwrap_or_default();
    assert_eq!(preds.len(), 1, "{body}");
    assert_eq!(preds[0]["type"], json!("product_weight"));
    assert_eq!(preds[0]["value"], json!("250 g"));
    assert_eq!(preds[0]["barcode"], json!("0000000000001"));
    assert_eq!(preds[0]["source_image"], json!("/000/000/000/0001/1.jpg"));
    let body = api
        .get_json(&format!(
            "/api/v1/predict/ocr_prediction?ocr_url={base}/2.json"
        ))
        .await;
    assert_eq!(body["error"], json!("invalid_ocr"));
    let body = api
        .get_json(&format!(
            "/api/v1/predict/ocr_prediction?ocr_url={base}/9.json"
        ))
        .await;
    assert_eq!(body["error"], json!("download_error"));
    let before = hits.load(Ordering::SeqCst);

    // Other hosts (another port of the same machine included) are never fetched.
    for url in [
        "http://127.0.0.1:1/images/products/000/000/000/0001/1.jpg".to_string(),
        format!("https://{host}/images/products/000/000/000/0001/1.jpg"),
        "http://169.254.169.254/latest/meta-data/1.jpg".to_string(),
    ] {
        let (status, body) = api
            .get(&format!(
                "/api/v1/images/crop?image_url={url}&y_min=0&x_min=0&y_max=1&x_max=1"
            ))
            .await;
        assert_eq!(status, 400, "{url}");
        assert_eq!(body["title"], json!("Domain not allowed!"), "{url}");
        let (status, _) = api
            .get(&format!(
                "/api/v1/predict/ocr_prediction?ocr_url={}",
                url.replace(".jpg", ".json")
            ))
            .await;
        assert_eq!(status, 400, "{url}");
    }
    let (status, body) = api
        .get("/api/v1/predict/ocr_prediction?ocr_url=http://x/y.json")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["title"], json!("invalid OCR URL: http://x/y.json"));
    assert_eq!(hits.load(Ordering::SeqCst), before);
    api.stop().await;
}
