//! The OCR text of a detected logo: the words lying wholly inside its box, in reading
//! order, with their breaks (spec pipeline §6.3; Robotoff's
//! `test_get_text_from_bounding_box` cases, on the same real documents).

use robotoff::ocr::OcrDocument;
use std::path::PathBuf;

fn document(name: &str) -> OcrDocument {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/real_docs")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    OcrDocument::from_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A relative `[y_min, x_min, y_max, x_max]` box on a `width`×`height` image, in pixels.
fn absolute(b: [f64; 4], width: f64, height: f64) -> [f64; 4] {
    [b[0] * height, b[1] * width, b[2] * height, b[3] * width]
}

#[test]
fn logo_text_is_the_words_inside_its_box() {
    let doc = document("5400910301160_1.json");
    let area = absolute(
        [
            0.2808293402194977,
            0.37121888995170593,
            0.35544055700302124,
            0.49409016966819763,
        ],
        882.0,
        1200.0,
    );
    assert_eq!(doc.text_in_area(area).as_deref(), Some("NUTRIDIA "));

    let doc = document("9421023629015_5.json");
    let area = absolute(
        [0.342327416, 0.469950765, 0.512927711, 0.659323752],
        901.0,
        1200.0,
    );
    assert_eq!(
        doc.text_in_area(area).as_deref(),
        Some("manuka health\nNEW ZEALAND\n")
    );
}

#[test]
fn a_box_with_no_whole_word_has_no_text() {
    let doc = document("9421023629015_5.json");
    assert_eq!(doc.text_in_area([0.0, 0.0, 1.0, 1.0]), None);
    assert_eq!(doc.text_in_area([10.0, 10.0, 5.0, 5.0]), None);
    assert_eq!(
        OcrDocument::default().text_in_area([0.0, 0.0, 1e9, 1e9]),
        None
    );
}
