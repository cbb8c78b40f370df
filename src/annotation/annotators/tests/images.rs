//! Annotators that select, unselect or rotate images.

use super::*;
use crate::types::{CropBox, SelectImage};
use serde_json::json;

#[test]
fn nutrition_image_selection() {
    let mut i = insight(PredictionType::NutritionImage);
    i.value_tag = Some("fr".into());
    i.source_image = Some("/376/009/431/0634/2.jpg".into());
    i.data = json!({"rotation": 90, "bounding_box": [0.1, 0.1, 0.5, 0.5]});
    let images = json!({"2": {"sizes": {"full": {"w": 1000, "h": 800}}}});
    let plan = run(&i, Some(&product(images.clone())), None).expect("plan");
    assert_eq!(
        plan.edits,
        vec![ProductEdit::SelectImage(SelectImage {
            image_id: "2".into(),
            image_key: "nutrition_fr".into(),
            angle: Some(90),
            crop: Some(CropBox::new(100.0, 400.0, 500.0, 720.0)),
            comment: "[robotoff] Selecting image 2 as nutrition_fr (automated edit)".into(),
        })]
    );
    let selected =
        json!({"2": {"sizes": {"full": {"w": 1000, "h": 800}}}, "nutrition_fr": {"imgid": "1"}});
    assert_eq!(
        run(&i, Some(&product(selected)), None).map(|p| p.status),
        Ok(AnnotationStatus::ErrorAlreadyAnnotated)
    );
    assert_eq!(
        run(&i, Some(&product(json!({"3": {"sizes": {}}}))), None).map(|p| p.status),
        Ok(AnnotationStatus::ErrorInvalidImage)
    );
    i.data = json!({"rotation": 45});
    assert!(run(&i, Some(&product(images)), None).is_err());
}

#[test]
fn upc_image_unselects_every_selection_of_the_image() {
    let mut i = insight(PredictionType::IsUpcImage);
    i.source_image = Some("/376/009/431/0634/2.jpg".into());
    let images = json!({
        "1": {}, "2": {"sizes": {}},
        "front_fr": {"imgid": "2"}, "nutrition_fr": {"imgid": "1"}, "ingredients_en": {"imgid": 2}
    });
    let plan = run(&i, Some(&product(images)), None).expect("plan");
    assert_eq!(plan.status, AnnotationStatus::Updated);
    assert_eq!(
        plan.edits,
        vec![
            ProductEdit::UnselectImage {
                image_key: "front_fr".into()
            },
            ProductEdit::UnselectImage {
                image_key: "ingredients_en".into()
            },
        ]
    );
    assert_eq!(
        run(&i, Some(&product(json!({"1": {}}))), None).map(|p| edits(&p)),
        Ok((AnnotationStatus::ErrorFailedUpdate, vec![]))
    );
}

/// `TestImageOrientationAnnotator` of Robotoff's integration tests.
#[test]
fn image_orientation() {
    let mut i = insight(PredictionType::ImageOrientation);
    i.source_image = Some("/376/009/431/0634/1.jpg".into());
    i.data = json!({"orientation": "right", "rotation": 270, "count": {"up": 1, "right": 19},
                    "image_key": "ingredients_it", "image_rev": "7"});
    let cropped = json!({
        "1": {"imgid": "1", "sizes": {"full": {"h": 1000, "w": 800}}},
        "ingredients_it": {"imgid": "1", "x1": "100", "y1": "200", "x2": "600", "y2": "800", "rev": "7"}
    });
    let plan = run(&i, Some(&product(cropped)), None).expect("plan");
    let comment =
        format!("[robotoff] Selecting image 1 as ingredients_it, ID: {ID} (automated edit)");
    assert_eq!(
        plan.edits,
        vec![ProductEdit::SelectImage(SelectImage {
            image_id: "1".into(),
            image_key: "ingredients_it".into(),
            angle: Some(270),
            // (y1, x1, y2, x2) = (200, 100, 800, 600) rotated by 270 in an 800×1000 image.
            crop: Some(CropBox::new(200.0, 200.0, 700.0, 800.0)),
            comment,
        })]
    );
    for uncropped in [json!("-1"), json!(-1), Value::Null] {
        let images = json!({
            "1": {"sizes": {"full": {"h": 1000, "w": 800}}},
            "ingredients_it": {"imgid": "1", "x1": uncropped, "y1": uncropped, "x2": uncropped, "y2": uncropped}
        });
        let plan = run(&i, Some(&product(images)), None).expect("plan");
        assert!(matches!(&plan.edits[..], [ProductEdit::SelectImage(s)] if s.crop.is_none()));
    }
    let not_selected = json!({"1": {"imgid": "1", "sizes": {"full": {"h": 1000, "w": 800}}}});
    assert_eq!(
        run(&i, Some(&product(not_selected)), None).map(|p| p.status),
        Ok(AnnotationStatus::ErrorUpdatedProduct)
    );
    assert_eq!(
        run(
            &i,
            Some(&product(json!({"1": {"sizes": {}}, "ingredients_it": {}}))),
            None
        )
        .map(|p| p.status),
        Ok(AnnotationStatus::ErrorUpdatedProduct)
    );
    i.data = json!({"rotation": 0, "image_key": "ingredients_it"});
    assert!(run(&i, Some(&product(json!({}))), None).is_err());
}
