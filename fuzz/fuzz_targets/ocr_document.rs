//! Fuzz target: any bytes as an OCR document (plain or gzipped JSON), then every OCR
//! extractor on the parsed document and on the bytes read as plain text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use robotoff::ocr::{self, OcrContent, OcrDocument, OcrResources, OCR_PREDICTION_TYPES};
use std::sync::OnceLock;

fn resources() -> &'static OcrResources {
    static RES: OnceLock<OcrResources> = OnceLock::new();
    RES.get_or_init(|| {
        let dir = std::env::var("ROBOTOFF__DATA__DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data").to_string());
        OcrResources::new(dir)
    })
}

fuzz_target!(|data: &[u8]| {
    let res = resources();
    if let Ok(doc) = OcrDocument::from_bytes(data) {
        if let Some(ft) = &doc.full_text {
            // Offsets never decrease and never pass the end of the text.
            let len = ft.text.chars().count();
            let mut last = 0;
            for w in &ft.words {
                assert!(w.start_idx <= w.end_idx && w.end_idx <= len && last <= w.start_idx);
                last = w.end_idx;
            }
        }
        let _ = ocr::extract(&OcrContent::Document(&doc), &OCR_PREDICTION_TYPES, res);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ocr::extract(&OcrContent::Text(text), &OCR_PREDICTION_TYPES, res);
    }
});
