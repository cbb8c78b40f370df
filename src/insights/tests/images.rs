//! Image-based importers: UPC images, image orientation, nutrition images (spec
//! pipeline §5.4, §10.12; Robotoff's unit and integration importer tests).

use super::*;
use crate::insights::candidate::Candidate;
use crate::insights::{generate_insights, nutrition_image, visual, Importer};

fn orientation(orientation: &str, rotation: i64, counts: Value) -> Prediction {
    pred(
        PredictionType::ImageOrientation,
        json!({"source_image": SOURCE_IMAGE,
               "data": {"orientation": orientation, "rotation": rotation, "count": counts}}),
    )
}

/// `TestImageOrientationImporter::test_image_orientation_generate_candidates`.
#[test]
fn orientation_candidates() {
    let front = |angle: Value| {
        let mut image = json!({"imgid": "1", "rev": "10"});
        if let (false, Some(o)) = (angle.is_null(), image.as_object_mut()) {
            o.insert("angle".into(), angle);
        }
        json!({"1": {"imgid": "1"}, "front_en": image})
    };
    let cases = [
        ("up", 0, json!({"up": 10, "right": 0}), front(json!("0")), 0),
        (
            "right",
            270,
            json!({"up": 5, "right": 4}),
            front(json!("0")),
            0,
        ),
        (
            "right",
            270,
            json!({"up": 0, "right": 20}),
            front(json!("270")),
            0,
        ),
        (
            "right",
            270,
            json!({"up": 0, "right": 20}),
            front(json!(-90)),
            0,
        ),
        (
            "right",
            270,
            json!({"up": 0, "right": 10}),
            json!({"1": {"imgid": "1"}, "2": {"imgid": "2"}, "front_en": {"imgid": "2", "rev": "10", "angle": "0"}}),
            0,
        ),
        (
            "right",
            270,
            json!({"up": 0, "right": 20}),
            front(Value::Null),
            1,
        ),
        (
            "right",
            270,
            json!({"up": 1, "right": 19}),
            front(json!("0")),
            1,
        ),
        (
            "right",
            270,
            json!({"up": 1, "right": 19, "left": 0}),
            front(json!("0")),
            1,
        ),
        (
            "right",
            270,
            json!({"up": 2, "right": 18, "left": 0}),
            front(json!("0")),
            0,
        ),
        (
            "right",
            270,
            json!({"up": 0, "right": 20}),
            json!({"1": {"imgid": "1"},
                   "front_fr": {"imgid": "1", "rev": "10", "angle": "0"},
                   "nutrition_fr": {"imgid": "1", "rev": "10", "angle": "0"},
                   "ingredients_fr": {"imgid": "1", "rev": "10", "angle": "0"},
                   "packaging_fr": {"imgid": "1", "rev": "10", "angle": "0"}}),
            4,
        ),
    ];
    for (o, rotation, counts, images, expected) in cases {
        let total: f64 = counts
            .as_object()
            .map(|c| c.values().filter_map(Value::as_f64).sum())
            .unwrap_or(0.0);
        let agreeing = counts.get(o).and_then(Value::as_f64).unwrap_or(0.0);
        let p = product(json!({"images": images}));
        let ps = [orientation(o, rotation, counts.clone())];
        let cs =
            visual::image_orientation(&p, &ps.iter().collect::<Vec<_>>(), BARCODE, ServerType::Off);
        assert_eq!(cs.len(), expected, "{o} {counts}");
        for c in &cs {
            assert_eq!(c.automatic_processing, Some(total >= 10.0));
            assert_eq!(c.confidence, Some(agreeing / total));
            assert_eq!(c.data.get("rotation"), Some(&json!(rotation)));
            assert!(c.data.contains_key("image_key") && c.data.contains_key("image_rev"));
            assert_eq!(c.value_tag.as_deref(), Some(o));
        }
    }
}

/// `tests/integration/insights/test_importer.py::TestImageOrientationImporter`
/// (spec §10.12): 7 words → not automatic, confidence 1.0, one candidate per selected
/// image of image 1; 20 words at 95 % → automatic, confidence 0.95.
#[test]
fn orientation_settings() {
    let p = product(json!({"images": {
        "1": {"imgid": "1"}, "2": {"imgid": "2"},
        "nutrition_fr": {"imgid": "1", "rev": "2"},
        "front_it": {"imgid": "1", "rev": "3"},
        "front_en": {"imgid": "2", "rev": "4"}
    }}));
    let ps = [orientation("right", 270, json!({"right": 7}))];
    let cs =
        visual::image_orientation(&p, &ps.iter().collect::<Vec<_>>(), BARCODE, ServerType::Off);
    let mut keys: Vec<(String, Value)> = cs
        .iter()
        .map(|c| {
            assert_eq!(c.automatic_processing, Some(false));
            assert_eq!(c.confidence, Some(1.0));
            (
                c.data
                    .get("image_key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                c.data.get("image_rev").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        keys,
        vec![
            ("front_it".to_string(), json!("3")),
            ("nutrition_fr".to_string(), json!("2"))
        ]
    );
    let p =
        product(json!({"images": {"1": {"imgid": "1"}, "front_it": {"imgid": "1", "rev": "3"}}}));
    let ps = [orientation("right", 270, json!({"up": 1, "right": 19}))];
    let cs =
        visual::image_orientation(&p, &ps.iter().collect::<Vec<_>>(), BARCODE, ServerType::Off);
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0].automatic_processing, Some(true));
    assert_eq!(cs[0].confidence, Some(0.95));
}

/// `TestImageOrientationImporter::test_image_orientation_is_conflicting_insight` and
/// `TestUPCImageImporter::test_is_conflicting_insight`.
#[test]
fn visual_conflicts() {
    let c = |key: &str, image: &str| {
        let mut c = Candidate::from_prediction(
            &pred(
                PredictionType::ImageOrientation,
                json!({"data": {"image_key": key}}),
            ),
            BARCODE,
            ServerType::Off,
        );
        c.source_image = Some(image.to_string());
        c
    };
    let r = |key: &str, image: &str| {
        insight(
            PredictionType::ImageOrientation,
            json!({"data": {"image_key": key}, "source_image": image}),
        )
    };
    assert!(visual::orientation_conflicts(
        &c("front_en", "/1.jpg"),
        &r("front_en", "/1.jpg")
    ));
    assert!(!visual::orientation_conflicts(
        &c("front_en", "/1.jpg"),
        &r("front_en", "/2.jpg")
    ));
    assert!(!visual::orientation_conflicts(
        &c("front_en", "/1.jpg"),
        &r("front_it", "/1.jpg")
    ));
    assert!(visual::upc_conflicts(
        &c("x", "source1"),
        &r("y", "source1")
    ));
    assert!(!visual::upc_conflicts(
        &c("x", "source1"),
        &r("y", "source2")
    ));
}

/// Spec §5.4 UPC images: the raw image must exist and be used by a selected image.
#[test]
fn upc_image_candidates() {
    let ps = [
        pred(
            PredictionType::IsUpcImage,
            json!({"source_image": "/x/1.jpg"}),
        ),
        pred(
            PredictionType::IsUpcImage,
            json!({"source_image": "/x/2.jpg"}),
        ),
        pred(
            PredictionType::IsUpcImage,
            json!({"source_image": "/x/3.jpg"}),
        ),
        pred(
            PredictionType::IsUpcImage,
            json!({"source_image": "/x/front_fr.jpg"}),
        ),
    ];
    let p = product(
        json!({"images": {"1": {}, "2": {}, "front_fr": {"imgid": "1"}, "nutrition_fr": {"imgid": 3}}}),
    );
    let cs = visual::upc_image(&p, &ps.iter().collect::<Vec<_>>(), BARCODE, ServerType::Off);
    let images: Vec<&str> = cs
        .iter()
        .filter_map(|c| c.source_image.as_deref())
        .collect();
    assert_eq!(images, vec!["/x/1.jpg"]);
}

fn mentions(data: Value) -> Prediction {
    pred(
        PredictionType::NutrientMention,
        json!({"id": 2, "source_image": SOURCE_IMAGE, "data": {"mentions": data}}),
    )
}

/// `TestNutritionImageImporter::test_generate_candidates_for_image`.
#[test]
fn nutrition_image_for_one_image() {
    let o = pred(
        PredictionType::ImageOrientation,
        json!({"id": 1, "source_image": SOURCE_IMAGE, "data": {"rotation": 90}}),
    );
    let run = |data: Value, tables: Option<&[Value]>| {
        nutrition_image::for_image(&mentions(data), &o, None, tables, BARCODE, ServerType::Off)
    };
    assert!(run(
        json!({"sugar": [{"raw": "sucre", "languages": ["fr"]}]}),
        None
    )
    .is_empty());
    let base = json!({
        "sugar": [{"raw": "sucre", "languages": ["fr"]}],
        "carbohydrate": [{"raw": "glucides", "languages": ["fr"]}],
        "salt": [{"raw": "sel", "languages": ["fr"]}],
        "protein": [{"raw": "sucre", "languages": ["fr"]}],
        "saturated_fat": [{"raw": "graisses saturées", "languages": ["fr"]}]
    });
    let with_values = |values: Value| {
        let mut d = base.clone();
        if let Some(o) = d.as_object_mut() {
            o.insert("nutrient_value".into(), values);
        }
        d
    };
    assert!(run(base.clone(), None).is_empty());
    assert!(run(with_values(json!([{"raw": "14 g"}, {"raw": "16 g"}])), None).is_empty());
    assert!(run(
        with_values(json!([{"raw": "14 g"}, {"raw": "16 g"}, {"raw": "18 g"}])),
        None
    )
    .is_empty());
    let tables = [json!({"bounding_box": [0.1, 0.1, 0.2, 0.2], "score": 0.9})];
    let cs = run(
        with_values(json!([{"raw": "14 g"}, {"raw": "16 g"}, {"raw": "162 kJ"}])),
        Some(&tables),
    );
    assert_eq!(cs.len(), 1);
    let c = &cs[0];
    assert_eq!(c.value_tag.as_deref(), Some("fr"));
    assert_eq!(c.automatic_processing, Some(true));
    assert_eq!(c.source_image.as_deref(), Some(SOURCE_IMAGE));
    assert_eq!(c.predictor_version.as_deref(), Some("1"));
    assert_eq!(
        c.data.get("from_prediction_ids"),
        Some(&json!({"nutrient_mention": 2}))
    );
    assert_eq!(c.data.get("rotation"), Some(&json!(90)));
    assert_eq!(c.data.get("priority"), Some(&json!(2)));
    assert_eq!(
        c.data.get("nutrients"),
        Some(&json!([
            "carbohydrate",
            "protein",
            "salt",
            "saturated_fat",
            "sugar"
        ]))
    );
    assert_eq!(c.data.get("crop_score"), Some(&json!(0.9)));
    assert_eq!(
        c.data.get("bounding_box"),
        Some(&json!([0.1, 0.1, 0.2, 0.2]))
    );
}

/// `TestNutritionImageImporter::test_generate_candidates` (main language only) and the
/// crop from mention boxes, converted to a relative box by the import (spec §5.3 step 6).
#[test]
fn nutrition_image_for_the_product() {
    let box_of = |y: i64| json!([y, 10, y + 10, 50]);
    let data = json!({
        "sugar": [{"raw": "sucre", "languages": ["fr"], "bounding_box_absolute": box_of(100)}],
        "salt": [{"raw": "sel", "languages": ["fr"], "bounding_box_absolute": box_of(200)}],
        "fat": [{"raw": "graisses", "languages": ["fr"]}],
        "protein": [{"raw": "protéines", "languages": ["fr"]}],
        "nutrient_value": [{"raw": "1 g"}, {"raw": "2 g"}, {"raw": "3 kcal"}]
    });
    let ps = vec![
        mentions(data),
        pred(
            PredictionType::ImageOrientation,
            json!({"id": 5, "source_image": SOURCE_IMAGE, "data": {"rotation": 0}}),
        ),
    ];
    let images = json!({"1": {"sizes": {"full": {"w": 400, "h": 1000}}}});
    for (lang, selected, expected) in [("fr", false, 1), ("en", false, 0), ("fr", true, 0)] {
        let mut images = images.clone();
        if let (true, Some(o)) = (selected, images.as_object_mut()) {
            o.insert("nutrition_fr".into(), json!({"imgid": "1"}));
        }
        let p = product(json!({"lang": lang, "images": images}));
        let diff = with_ctx(Some(&p), HashMap::new(), |ctx| {
            generate_insights(
                Importer::NutritionImage,
                ctx,
                BARCODE,
                ServerType::Off,
                &ps,
                &[],
            )
        })
        .unwrap_or_default();
        assert_eq!(diff.create.len(), expected, "{lang} {selected}");
        if let Some(created) = diff.create.first() {
            let relative = json!([0.09, 0.0, 0.22, 0.15]);
            assert_eq!(created.bounding_box, Some(relative.clone()));
            assert_eq!(created.data.get("bounding_box"), Some(&relative));
            assert_eq!(created.data.get("bounding_box_absolute"), None);
            assert!(created.automatic_processing && created.process_after.is_some());
        }
    }
}
