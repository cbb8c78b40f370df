//! Tests of the packaging grammar, from Robotoff's `tests/unit/prediction/ocr/test_packaging.py`
//! (conformance cases `packaging-*`) and from readings checked against the reference parser.

use super::*;
use serde_json::{json, Value};

fn conformance(file: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/");
    let text = std::fs::read_to_string(format!("{path}{file}"));
    let Ok(text) = text else {
        panic!("reading {file}")
    };
    match serde_json::from_str::<Vec<Value>>(&text) {
        Ok(cases) => cases,
        Err(e) => panic!("parsing {file}: {e}"),
    }
}

fn elements(text: &str) -> Value {
    match match_packaging(text) {
        Ok(found) => json!(found),
        Err(e) => panic!("match_packaging({text:?}) failed: {e}"),
    }
}

/// `test_match_packaging`: the 10 `match_packaging` cases of `ocr_function_cases.json`.
#[test]
fn match_packaging_conformance_cases() {
    let cases: Vec<Value> = conformance("ocr_function_cases.json")
        .into_iter()
        .filter(|c| c["function"] == "match_packaging")
        .collect();
    assert_eq!(cases.len(), 10);
    for case in cases {
        let Some(input) = case["input"].as_str() else {
            panic!("case without input: {case}")
        };
        assert_eq!(elements(input), case["expected"], "case {}", case["id"]);
    }
}

/// `test_find_packaging`: the 4 `find_packaging` cases of `ocr_cases.json`.
#[test]
fn find_packaging_conformance_cases() {
    let cases: Vec<Value> = conformance("ocr_cases.json")
        .into_iter()
        .filter(|c| c["extractor"] == "packaging")
        .collect();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let Some(text) = case["text"].as_str() else {
            panic!("case without text: {case}")
        };
        let predictions = find_packaging_in_text(text);
        let Some(expected) = case["expected"].as_array() else {
            panic!("case without expected list: {case}")
        };
        assert_eq!(predictions.len(), expected.len(), "case {}", case["id"]);
        for (got, want) in predictions.iter().zip(expected) {
            assert_eq!(got.kind, PredictionType::Packaging);
            assert_eq!(got.automatic_processing, Some(false));
            assert_eq!(got.data, want["data"], "case {}", case["id"]);
        }
    }
}

#[test]
fn prediction_value_is_the_python_dict_of_tags() {
    let predictions = find_packaging_in_text("Boîte carton à recycler, opercule à jeter");
    let values: Vec<Option<&str>> = predictions.iter().map(|p| p.value.as_deref()).collect();
    assert_eq!(
        values,
        [
            Some("{'shape': 'en:box', 'material': 'en:cardboard', 'recycling': 'en:recycle'}"),
            Some("{'shape': 'en:seal', 'material': None, 'recycling': 'en:discard'}"),
        ]
    );
    let first = predictions.first();
    assert_eq!(first.and_then(|p| p.predictor.as_deref()), Some("grammar"));
    assert_eq!(
        first.and_then(|p| p.predictor_version.as_deref()),
        Some("1")
    );
    assert_eq!(first.and_then(|p| p.value_tag.clone()), None);
    assert_eq!(python_repr(Some("it's")), "\"it's\"");
}

#[test]
fn excluded_shapes_need_a_material_or_an_instruction() {
    // "coque" is en:tray: dropped alone, kept with a material.
    assert!(find_packaging_in_text("fruits à coque").is_empty());
    assert_eq!(find_packaging_in_text("coque en métal").len(), 1);
}

/// Readings where several parses compete, checked against the reference (Lark) parser.
#[test]
fn ambiguous_texts_keep_the_reference_reading() {
    let shapes = |text: &str| -> Vec<(String, Option<String>, Option<String>)> {
        match match_packaging(text) {
            Ok(found) => found
                .into_iter()
                .map(|e| {
                    (
                        e.shape.map(|p| p.value).unwrap_or_default(),
                        e.material.map(|p| p.value),
                        e.recycling.map(|p| p.value),
                    )
                })
                .collect(),
            Err(e) => panic!("{text:?}: {e}"),
        }
    };
    let one = |s: &str, m: Option<&str>, r: Option<&str>| {
        vec![(s.to_string(), m.map(str::to_string), r.map(str::to_string))]
    };
    assert_eq!(
        shapes("bouchon de bouteille"),
        one("bouchon de bouteille", None, None)
    );
    assert_eq!(
        shapes("x bouchon de bouteille"),
        one("bouteille", None, None)
    );
    assert_eq!(
        shapes("x bouchon de bouteille en verre"),
        one("bouteille", Some("verre"), None)
    );
    assert_eq!(
        shapes("bouchon de bouteille verre a recycler x"),
        one("bouchon de bouteille", Some("verre"), Some("recycler"))
    );
    assert_eq!(
        shapes("x y sachet individuel plastique a jeter"),
        one("sachet individuel", Some("plastique"), Some("jeter"))
    );
}

#[test]
fn text_without_a_reading_is_an_error() {
    // A vertical tab is neither whitespace of the grammar nor part of a word.
    assert!(matches!(
        match_packaging("a\u{b}b"),
        Err(PackagingError::Grammar(
            PackagingGrammarError::NoParse { .. }
        ))
    ));
    assert!(find_packaging_in_text("a\u{b}b").is_empty());
    assert_eq!(elements("   "), json!([]));
}

/// The built-in vocabulary is the one the reference generated from the packaging taxonomies:
/// the shapes of the shipped taxonomy give exactly its shape terminals, and its materials give
/// the same names (four plastics have been renamed in the taxonomy since, e.g.
/// `en:pet-1-polyethylene-terephthalate`, and the reference keeps the names it generated).
#[test]
fn vocabulary_matches_the_packaging_taxonomies() {
    use crate::taxonomy::{Taxonomy, TaxonomyType};
    let data = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
    let Ok(vocabulary) = Vocabulary::french() else {
        panic!("built-in vocabulary")
    };
    let Ok(shapes) = Taxonomy::load(data, TaxonomyType::PackagingShape) else {
        panic!("shapes taxonomy")
    };
    let generated = vocabulary::taxonomy_terminals(&shapes, "fr", &["en:unknown"]);
    let built_in: Vec<(String, String)> = vocabulary
        .names(TerminalKind::Shape)
        .map(|n| {
            let tag = vocabulary.tag(TerminalKind::Shape, n).unwrap_or_default();
            (n.to_string(), tag.to_string())
        })
        .collect();
    assert_eq!(generated, built_in);

    let Ok(materials) = Taxonomy::load(data, TaxonomyType::PackagingMaterial) else {
        panic!("materials taxonomy")
    };
    let mut generated: Vec<String> =
        vocabulary::taxonomy_terminals(&materials, "fr", &["en:unknown"])
            .into_iter()
            .map(|(name, _)| name)
            .collect();
    let mut built_in: Vec<String> = vocabulary
        .names(TerminalKind::Material)
        .map(str::to_string)
        .collect();
    generated.sort();
    built_in.sort();
    assert_eq!(generated, built_in);
}
