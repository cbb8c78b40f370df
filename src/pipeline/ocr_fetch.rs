//! An image's OCR document for the model steps: fetched from the image host and parsed
//! off the async threads; a missing or broken document is only logged.

use super::context::Context;
use crate::infra::metrics;
use crate::insights::image::barcode_folder;
use crate::ocr::OcrDocument;
use crate::types::ServerType;
use std::time::Instant;

/// The image's OCR document, if it can be had (spec pipeline §6.3: a missing or broken
/// OCR only means logos without text).
pub(super) async fn ocr_document(
    ctx: &Context,
    server_type: ServerType,
    barcode: &str,
    image_id: &str,
) -> Option<OcrDocument> {
    let folder = barcode_folder(barcode)?;
    let base = ctx
        .settings
        .product_opener
        .flavor(server_type)
        .images_url
        .trim_end_matches('/');
    let url = format!("{base}/images/products{folder}/{image_id}.json");
    let clock = Instant::now();
    let bytes = match ctx.resources.image_hosts.get(&url).await {
        Ok(b) => b,
        Err(e) => {
            tracing::info!(ocr = %url, error = %e, "no OCR for the logos' text");
            return None;
        }
    };
    let parsed = tokio::task::spawn_blocking(move || OcrDocument::from_bytes(&bytes))
        .await
        .ok()?;
    metrics::ml_stage("ocr", clock.elapsed());
    match parsed {
        Ok(doc) => Some(doc),
        Err(e) => {
            tracing::info!(ocr = %url, error = %e, "unusable OCR for the logos' text");
            None
        }
    }
}
