//! Bad and unusual OCR input: every case ends in a clear error or in predictions, never a
//! panic (architecture invariant 6: bad input gets a clear error).

use robotoff::ocr::{
    self, OcrContent, OcrDocument, OcrParseError, OcrResources, OCR_PREDICTION_TYPES,
};
use serde_json::{json, Value};
use std::io::Write;

fn resources() -> OcrResources {
    OcrResources::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
}

fn parse_err(bytes: &[u8]) -> String {
    match OcrDocument::from_bytes(bytes) {
        Ok(_) => panic!("expected an error for {:?}", String::from_utf8_lossy(bytes)),
        Err(e) => e.to_string(),
    }
}

fn word(text: &str, x: i64, y: i64, brk: &str, lang: Option<&str>) -> Value {
    let n = text.chars().count();
    let symbols: Vec<Value> = text
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let mut s = json!({"text": c.to_string()});
            if i + 1 == n && !brk.is_empty() {
                s["property"] = json!({"detectedBreak": {"type": brk}});
            }
            s
        })
        .collect();
    let mut w = json!({
        "boundingBox": {"vertices": [
            {"x": x, "y": y}, {"x": x + 10 * n as i64, "y": y},
            {"x": x + 10 * n as i64, "y": y + 20}, {"x": x, "y": y + 20}]},
        "symbols": symbols,
    });
    if let Some(l) = lang {
        w["property"] = json!({"detectedLanguages": [{"languageCode": l}]});
    }
    w
}

/// A one-page document with one block per given paragraph list.
fn document(blocks: Vec<Vec<Vec<Value>>>) -> Vec<u8> {
    let blocks: Vec<Value> = blocks
        .into_iter()
        .map(|paragraphs| {
            json!({"blockType": "TEXT", "paragraphs": paragraphs
                .into_iter()
                .map(|words| json!({"words": words}))
                .collect::<Vec<_>>()})
        })
        .collect();
    serde_json::to_vec(&json!({"responses": [{
        "fullTextAnnotation": {"text": "", "pages": [{"width": 100, "height": 100, "blocks": blocks}]}
    }]}))
    .unwrap_or_default()
}

fn sentence(text: &str, y: i64) -> Vec<Value> {
    let tokens: Vec<&str> = text.split(' ').collect();
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let brk = if i + 1 == tokens.len() {
                "LINE_BREAK"
            } else {
                "SPACE"
            };
            word(t, 10 * i as i64, y, brk, Some("fr"))
        })
        .collect()
}

#[test]
fn truncated_json_is_reported_as_invalid_json() {
    let full = document(vec![vec![sentence("Poids net : 250 g", 0)]]);
    let cut = full.get(..full.len() / 2).unwrap_or_default();
    let err = parse_err(cut);
    assert!(err.contains("invalid OCR JSON"), "{err}");
    assert!(parse_err(b"").contains("invalid OCR JSON"));
    assert!(parse_err(b"{\"responses\": [").contains("invalid OCR JSON"));
}

#[test]
fn wrong_shapes_get_robotoffs_messages() {
    // tests/unit/prediction/ocr/test_dataclass.py::TestOCRResult
    assert!(parse_err(b"[]").contains("Responses field (list) expected"));
    assert!(parse_err(b"42").contains("Responses field (list) expected"));
    assert!(parse_err(br#"{"responses": {"a": 1}}"#).contains("Responses field (list) expected"));
    assert!(parse_err(br#"{"responses": []}"#).contains("Empty OCR response"));
    let err =
        parse_err(br#"{"responses": [{"error": {"code": 3, "message": "Bad image data."}}]}"#);
    assert!(
        err.contains("Error in OCR response") && err.contains("Bad image data"),
        "{err}"
    );
}

#[test]
fn missing_or_mistyped_fields_are_parse_errors() {
    let cases: [&[u8]; 7] = [
        br#"{"responses": [{"fullTextAnnotation": {"text": "x"}}]}"#,
        br#"{"responses": [{"fullTextAnnotation": {"text": "x", "pages": [{"width": 1, "height": 1}]}}]}"#,
        br#"{"responses": [{"fullTextAnnotation": {"text": "x", "pages": "nope"}}]}"#,
        br#"{"responses": [{"textAnnotations": [{"description": "x"}]}]}"#,
        br#"{"responses": [{"logoAnnotations": [{"description": "x", "score": "high"}]}]}"#,
        br#"{"responses": [{"safeSearchAnnotation": {"adult": "VERY_LIKELY"}}]}"#,
        br#"{"responses": [{"faceAnnotations": [{"joyLikelihood": "EXTREMELY"}]}]}"#,
    ];
    for case in cases {
        let err = parse_err(case);
        assert!(err.contains("Error during OCR parsing"), "{err}");
    }
    // An unknown detected break cannot be turned into text.
    let mut w = word("ab", 0, 0, "SPACE", None);
    w["symbols"][1]["property"]["detectedBreak"]["type"] = json!("PAGE_BREAK");
    let err = parse_err(&document(vec![vec![vec![w]]]));
    assert!(err.contains("unknown detected break type"), "{err}");
}

#[test]
fn empty_documents_and_texts_give_no_predictions() {
    let res = resources();
    for bytes in [
        &br#"{"responses": [{}]}"#[..],
        br#"{"responses": [{"fullTextAnnotation": {}}]}"#,
        br#"{"responses": [{"fullTextAnnotation": null}]}"#,
    ] {
        let preds = ocr::extract_from_bytes(bytes, &OCR_PREDICTION_TYPES, &res);
        assert!(matches!(preds.as_deref(), Ok([])), "{preds:?}");
    }
    let preds = ocr::extract(&OcrContent::Text(""), &OCR_PREDICTION_TYPES, &res);
    assert!(matches!(preds.as_deref(), Ok([])), "{preds:?}");
    // A full text annotation without words still gets an orientation (unknown) but no
    // language counts (Robotoff fails on the missing word total there).
    for bytes in [
        &br#"{"responses": [{"fullTextAnnotation": {"text": "", "pages": []}}]}"#[..],
        br#"{"responses": [{"fullTextAnnotation": {"text": "", "pages": [{"width": 1, "height": 1, "blocks": []}]}}]}"#,
    ] {
        let preds = ocr::extract_from_bytes(bytes, &OCR_PREDICTION_TYPES, &res).unwrap_or_default();
        let kinds: Vec<&str> = preds.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, vec!["image_orientation"]);
        assert_eq!(preds[0].data["orientation"], json!("unknown"));
    }
}

#[test]
fn gzip_documents_are_read_and_broken_gzip_is_an_error() {
    let plain = document(vec![vec![sentence("Poids net : 250 g", 0)]]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap_or_default();
    let gz = gz.finish().unwrap_or_default();
    let doc = OcrDocument::from_bytes(&gz);
    assert!(doc.is_ok(), "{:?}", doc.err());
    let cut = gz.get(..gz.len() - 10).unwrap_or_default();
    assert!(matches!(
        OcrDocument::from_bytes(cut),
        Err(OcrParseError::Gzip(_))
    ));
}

#[test]
fn odd_unicode_keeps_offsets_and_boxes_consistent() {
    let lines = [
        "İngredients ǅemal straße",
        "🍕🍕 Poids net : 250 g",
        "مرحبا بالعالم ١٢٣",
        "e\u{301}te\u{301} \u{0}\u{1c} 漢字 ½",
        "PROTEİNS Σίγμα ΟΔΟΣ",
    ];
    let paragraphs: Vec<Vec<Value>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| sentence(l, 30 * i as i64))
        .collect();
    let bytes = document(vec![paragraphs, vec![sentence("certifié AB.", 300)]]);
    let doc = OcrDocument::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let ft = doc
        .full_text
        .as_ref()
        .unwrap_or_else(|| panic!("no full text"));
    for w in &ft.words {
        assert_eq!(
            robotoff::text::char_slice(&ft.text, w.start_idx, w.end_idx),
            w.text
        );
    }
    let preds = ocr::extract(
        &OcrContent::Document(&doc),
        &OCR_PREDICTION_TYPES,
        &resources(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let weight = preds
        .iter()
        .find(|p| p.kind.as_str() == "product_weight")
        .unwrap_or_else(|| panic!("no weight in {preds:?}"));
    assert_eq!(weight.value.as_deref(), Some("250 g"));
    // Second line (y = 30..50); words "Poids" (x 10..60) to "g" (x 50..60), "250" ends at 70.
    assert_eq!(
        weight.data["bounding_box_absolute"],
        json!([30, 10, 50, 70])
    );
    assert!(preds
        .iter()
        .any(|p| p.value_tag.as_deref() == Some("fr:ab-agriculture-biologique")));
}

#[test]
fn a_hundred_thousand_words_are_handled() {
    let mut words = Vec::with_capacity(100_000);
    for i in 0..100_000i64 {
        let text = match i % 7 {
            0 => "sucre",
            1 => "farine",
            2 => "de",
            3 => "blé",
            4 => "İçindekiler",
            5 => "lait",
            _ => "Auchan",
        };
        words.push(word(text, i % 1000, i / 1000 * 20, "SPACE", Some("fr")));
    }
    words.extend(sentence("Poids net : 250 g", 3000));
    let bytes = document(vec![vec![words]]);
    let doc = OcrDocument::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc.full_text.as_ref().map(|f| f.words.len()), Some(100_005));
    let preds = ocr::extract(
        &OcrContent::Document(&doc),
        &OCR_PREDICTION_TYPES,
        &resources(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let weight = preds
        .iter()
        .find(|p| p.kind.as_str() == "product_weight")
        .unwrap_or_else(|| panic!("weight at the very end is found"));
    assert_eq!(
        weight.data["bounding_box_absolute"],
        json!([3000, 0, 3020, 60])
    );
    let stores = preds.iter().filter(|p| p.kind.as_str() == "store").count();
    assert_eq!(stores, 100_000 / 7);
}
