//! Nutrient extraction and ingredient importers (spec pipeline §5.4; Robotoff's
//! `TestNutrientExtractionImporter`, `TestIngredientDetectionImporter`,
//! `TestIngredientSpellcheckImporter`).

use super::*;
use crate::insights::candidate::Candidate;
use crate::insights::{ingredients, nutrient_extraction as ne};

fn energy_prediction() -> Prediction {
    pred(
        PredictionType::NutrientExtraction,
        json!({
            "source_image": SOURCE_IMAGE, "predictor": "nutrition_extractor",
            "predictor_version": "nutrition_extractor-1.0", "automatic_processing": false,
            "data": {"nutrients": {"energy-kj_100g": {"entity": "energy-kj_100g", "value": "100",
                     "unit": "kj", "text": "100 kj", "start": 0, "end": 1, "char_start": 0, "char_end": 6}}}
        }),
    )
}

fn input_set(per: &str, preparation: &str) -> Value {
    json!({
        "nutrients": {
            "energy-kj": {"unit": "kJ", "value": 100, "value_string": "100"},
            "fat": {"unit": "g", "value": 10, "value_string": "10"}
        },
        "per": per, "per_quantity": 100, "per_unit": "g", "preparation": preparation,
        "source": "packaging"
    })
}

/// `test_generate_candidates_no_nutrient` / `_no_new_nutrient` /
/// `_nutrition_data_prepared` / `_new_nutrient`.
#[test]
fn nutrient_extraction_candidates() {
    let ps = [
        energy_prediction(),
        pred(
            PredictionType::NutrientMention,
            json!({"source_image": SOURCE_IMAGE, "data": {"mentions": {
                "fat": [{"languages": ["it"]}],
                "salt": [{"languages": ["fr"]}, {"languages": ["it"]}],
                "fiber": [{"languages": ["de"]}],
                "protein": [{"languages": ["en", "de"]}]
            }}}),
        ),
        pred(
            PredictionType::ImageOrientation,
            json!({"source_image": SOURCE_IMAGE, "data": {"rotation": 90, "orientation": "right"}}),
        ),
    ];
    let refs: Vec<&Prediction> = ps.iter().collect();
    let legacy = product(json!({"nutriments": {}, "schema_version": 1002}));
    assert!(ne::candidates(&legacy, &refs, BARCODE, ServerType::Off).is_empty());
    let v3 = product(json!({"nutrition": {}, "schema_version": 1003}));
    let cs = ne::candidates(&v3, &refs, BARCODE, ServerType::Off);
    assert_eq!(cs.len(), 1);
    let c = &cs[0];
    let mut expected = ps[0].data.as_object().cloned().unwrap_or_default();
    expected.insert("rotation".into(), json!(90));
    assert_eq!(c.data, expected);
    assert_eq!(c.value_tag, None);
    assert_eq!(c.predictor.as_deref(), Some("nutrition_extractor"));
    assert_eq!(c.automatic_processing, Some(false));
    let mut lc = c.lc.clone().unwrap_or_default();
    lc.sort();
    assert_eq!(lc, vec!["de", "it"]);

    let only = [energy_prediction()];
    let only: Vec<&Prediction> = only.iter().collect();
    let same = product(
        json!({"schema_version": 1003, "nutrition": {"input_sets": [input_set("100g", "as_sold")]}}),
    );
    assert!(ne::candidates(&same, &only, BARCODE, ServerType::Off).is_empty());
    let prepared = product(
        json!({"schema_version": 1003, "nutrition": {"input_sets": [input_set("100g", "prepared")]}}),
    );
    assert!(ne::candidates(&prepared, &only, BARCODE, ServerType::Off).is_empty());
    let mut more = energy_prediction();
    if let Some(n) = more
        .data
        .get_mut("nutrients")
        .and_then(Value::as_object_mut)
    {
        n.insert(
            "saturated-fat_100g".into(),
            json!({"value": "5", "unit": "g"}),
        );
    }
    let more = [more];
    assert_eq!(
        ne::candidates(
            &same,
            &more.iter().collect::<Vec<_>>(),
            BARCODE,
            ServerType::Off
        )
        .len(),
        1
    );
}

/// `test_keep_prediction`.
#[test]
fn nutrient_extraction_keep() {
    let set = |per: &str| {
        let mut s = input_set(per, "as_sold");
        if let (Some(o), "100ml") = (s.as_object_mut(), per) {
            o.insert("per_unit".into(), json!("ml"));
        }
        s
    };
    let cases = [
        (
            set("100g"),
            json!({"energy-kj_100g": {"value": "100", "unit": "kj"}, "sugars_100g": {"value": "1.5", "unit": "g"}}),
            true,
        ),
        (
            set("100ml"),
            json!({"energy-kj_100g": {"value": "100", "unit": "kj"}, "sugars_100g": {"value": "1.5", "unit": "g"}}),
            true,
        ),
        (
            set("100g"),
            json!({"fat_100g": {"value": "9.5", "unit": "g"}}),
            true,
        ),
        (
            set("100g"),
            json!({"energy-kj_100g": {"value": "100", "unit": "kj"}, "energy-kj_serving": {"value": "50", "unit": "kj"}}),
            true,
        ),
        (
            set("serving"),
            json!({"energy-kj_100g": {"value": "100", "unit": "kj"}, "energy-kj_serving": {"value": "100", "unit": "kj"}, "fat_serving": {"value": "10", "unit": "g"}}),
            true,
        ),
        (
            set("serving"),
            json!({"energy-kj_serving": {"value": "100", "unit": "kj"}, "serving_size": {"value": "50 g", "unit": null}}),
            true,
        ),
        (
            set("100g"),
            json!({"energy-kj_100g": {"value": "100", "unit": "kj"}, "fat_100g": {"value": "10.0", "unit": "g"}}),
            false,
        ),
        (
            set("100ml"),
            json!({"fat_100g": {"value": "10", "unit": "g"}}),
            false,
        ),
        (
            set("serving"),
            json!({"energy-kj_serving": {"value": "100", "unit": "kj"}}),
            false,
        ),
    ];
    for (set, nutrients, expected) in cases {
        let p = product(json!({"schema_version": 1003, "nutrition": {"input_sets": [set]}}));
        let n = nutrients.as_object().cloned().unwrap_or_default();
        assert_eq!(ne::keep(&p, &n), expected, "{nutrients}");
    }
}

/// `test__is_equal_nutrient_values` (Robotoff raises on kJ/kcal mismatches; here they
/// differ).
#[test]
fn nutrient_value_comparison() {
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<Value>,
        Option<&'static str>,
        bool,
    );
    let cases: [Case; 26] = [
        ("100", Some("g"), Some(json!("100")), Some("g"), true),
        ("100.0", Some("g"), Some(json!("100")), Some("g"), true),
        ("100", Some("g"), Some(json!("101")), Some("g"), false),
        ("100", Some("g"), Some(json!("100")), Some("mg"), false),
        ("100", Some("g"), Some(json!("101")), Some("mg"), false),
        ("1000", Some("mg"), Some(json!("1")), Some("g"), true),
        ("1", Some("g"), Some(json!("1000")), Some("mg"), true),
        ("0.1", Some("g"), Some(json!("100")), Some("mg"), true),
        ("100", Some("mg"), Some(json!("0.1")), Some("g"), true),
        ("100", Some("μg"), Some(json!("0.1")), Some("mg"), true),
        ("100", Some("μg"), Some(json!("0.1001")), Some("mg"), false),
        ("1000", Some("kj"), Some(json!("1000")), Some("kj"), true),
        (
            "1000",
            Some("kcal"),
            Some(json!("1000")),
            Some("kcal"),
            true,
        ),
        ("102", None, Some(json!("100")), Some("g"), true),
        ("traces", None, Some(json!("traces")), None, true),
        ("traces", None, Some(json!("10")), Some("g"), false),
        ("<0.5", Some("g"), Some(json!("0.5")), Some("g"), true),
        ("<0.6", Some("g"), Some(json!("0.5")), Some("g"), false),
        ("100", Some("g"), None, Some("g"), false),
        ("100", Some("g"), Some(json!("")), Some("g"), false),
        ("100", Some("g"), Some(json!("100")), Some(""), false),
        ("100", Some("g"), Some(json!("100")), None, false),
        ("100", Some("kj"), Some(json!("110")), Some("kcal"), false),
        ("100", Some("kcal"), Some(json!("100")), Some("kj"), false),
        ("10", Some("g"), Some(json!(10)), Some("g"), true),
        ("0", Some("g"), Some(json!(0)), Some("g"), true),
    ];
    for (pv, pu, cv, cu, expected) in cases {
        assert_eq!(
            ne::same_value(pv, pu, cv.as_ref(), cu),
            expected,
            "{pv} {pu:?} {cv:?} {cu:?}"
        );
    }
}

/// `TestNutrientExtractionImporter::test_is_conflicting_insight`, `test_add_optional_fields`,
/// `test_compute_lc_from_nutrient_mention`.
#[test]
fn nutrient_extraction_conflicts_campaigns_languages() {
    let c = |image: &str| {
        let mut c = Candidate::from_prediction(&energy_prediction(), BARCODE, ServerType::Off);
        c.source_image = Some(format!("/000/000/000/0000/{image}.jpg"));
        c
    };
    let r = |image: &str, annotation: Value| {
        insight(
            PredictionType::NutrientExtraction,
            json!({"source_image": format!("/000/000/000/0000/{image}.jpg"), "annotation": annotation}),
        )
    };
    assert!(ne::conflicts(&c("1"), &r("1", Value::Null)));
    assert!(ne::conflicts(&c("2"), &r("1", Value::Null)));
    assert!(!ne::conflicts(&c("2"), &r("1", json!(2))));
    assert!(ne::conflicts(&c("invalid"), &r("1", json!(2))));
    assert!(!ne::conflicts(&c("10"), &r("9", json!(1))));
    assert!(ne::conflicts(&c("9"), &r("10", json!(1))));

    let missing = product(json!({"schema_version": 1003, "nutrition": {}}));
    assert_eq!(
        ne::campaigns(&missing),
        Some(vec!["missing-nutrition".to_string()])
    );
    let incomplete = product(
        json!({"schema_version": 1003, "nutrition": {"input_sets": [input_set("100g", "as_sold")]}}),
    );
    assert_eq!(
        ne::campaigns(&incomplete),
        Some(vec!["incomplete-nutrition".to_string()])
    );
    assert_eq!(ne::campaigns(&product(json!({}))), None);

    let lc = |mentions: Value| {
        ne::languages(&pred(
            PredictionType::NutrientMention,
            json!({"data": {"mentions": mentions}}),
        ))
    };
    assert_eq!(
        lc(json!({"sugar": [{"raw": "sucre", "languages": ["fr"]}]})),
        Some(vec!["fr".into()])
    );
    assert_eq!(
        lc(
            json!({"sugar": [{"languages": ["fr"]}, {"languages": ["en"]}], "salt": [{"languages": ["fr"]}]})
        ),
        Some(vec!["fr".into()])
    );
    assert_eq!(lc(json!({})), None);
}

fn detection() -> Prediction {
    pred(
        PredictionType::IngredientDetection,
        json!({"value_tag": "en", "source_image": SOURCE_IMAGE, "data": {
            "text": "water, flour, salt", "lang": {"lang": "en", "confidence": 0.85},
            "score": 0.95, "start": 10, "end": 28, "ingredients_n": 3, "known_ingredients_n": 3,
            "unknown_ingredients_n": 0, "fraction_known_ingredients": 1.0,
            "ingredients": [{"text": "water", "id": "en:water", "in_taxonomy": true}]
        }}),
    )
}

/// `TestIngredientDetectionImporter::test_keep_prediction`, `test_get_candidate_priority`,
/// `test_generate_candidates`.
#[test]
fn ingredient_detection_candidates() {
    let run = |p: &Product, ps: &[Prediction]| {
        ingredients::detection(p, &ps.iter().collect::<Vec<_>>(), BARCODE, ServerType::Off)
    };
    assert_eq!(run(&product(json!({})), &[detection()]).len(), 1);
    let has_text = product(json!({"ingredients_texts": {"ingredients_text_en": "water, sugar"}}));
    assert!(run(&has_text, &[detection()]).is_empty());
    let mut low = detection();
    if let Some(d) = low.data.as_object_mut() {
        d.insert("fraction_known_ingredients".into(), json!(0.5));
    }
    assert!(run(&product(json!({})), &[low]).is_empty());

    let priority = |images: Value| {
        let p = product(json!({"images": images}));
        run(&p, &[detection()])
            .first()
            .and_then(|c| c.data.get("priority").cloned())
    };
    assert_eq!(
        priority(json!({"1": {}, "ingredients_en": {"imgid": "1", "rev": "10"}})),
        Some(json!(2))
    );
    assert_eq!(
        priority(json!({"1": {}, "ingredients_fr": {"imgid": "1", "rev": "10"}})),
        Some(json!(1))
    );

    let orientation = pred(
        PredictionType::ImageOrientation,
        json!({"source_image": SOURCE_IMAGE, "data": {"orientation": "down", "rotation": 180,
               "count": {"down": 10, "right": 0}}}),
    );
    let p = product(json!({"images": {"1": {}, "ingredients_en": {"imgid": "1", "rev": "10"}}}));
    let cs = run(&p, &[detection(), orientation]);
    assert_eq!(cs.len(), 1);
    let mut expected = detection().data.as_object().cloned().unwrap_or_default();
    expected.insert("priority".into(), json!(2));
    expected.insert("rotation".into(), json!(180));
    assert_eq!(cs[0].data, expected);
    assert_eq!(cs[0].lc, Some(vec!["en".to_string()]));
    assert_eq!(cs[0].kind, PredictionType::IngredientDetection);
}

/// `TestIngredientSpellcheckImporter::test_keep_prediction`.
#[test]
fn ingredient_spellcheck_candidates() {
    let spell = |original: &str, correction: &str| {
        pred(
            PredictionType::IngredientSpellcheck,
            json!({"value_tag": "en", "source_image": SOURCE_IMAGE,
                   "data": {"original": original, "correction": correction, "lang": "en"}}),
        )
    };
    let cases = [
        (
            json!({"ingredients_text_en": "other text", "ingredients_text": "other text"}),
            "en",
            spell("watr, sugr", "water, sugar"),
            false,
        ),
        (
            json!({"ingredients_text_fr": "eua, sucre", "ingredients_text": "watr, sugr"}),
            "en",
            spell("eua, sucre", "eau, sucre"),
            false,
        ),
        (
            json!({"ingredients_text_en": "watr, sugr", "ingredients_text": "watr, sugr"}),
            "en",
            spell("watr, sugr", "water, sugar"),
            true,
        ),
        (
            json!({"ingredients_text_en": "watr, sugr"}),
            "en",
            spell("watr, sugr", "watr, sugr"),
            false,
        ),
        (
            json!({"ingredients_text_en": "watr, sugr"}),
            "fr",
            spell("watr, sugr", "water, sugar"),
            false,
        ),
    ];
    for (texts, lang, prediction, kept) in cases {
        let p = product(json!({"lang": lang, "ingredients_texts": texts}));
        let cs = ingredients::spellcheck(&p, &[&prediction], BARCODE, ServerType::Off);
        assert_eq!(cs.len() == 1, kept, "{texts}");
        if let Some(c) = cs.first() {
            assert_eq!(c.lc, Some(vec!["en".to_string()]));
        }
    }
}
