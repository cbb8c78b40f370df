//! Annotators of text extractions: ingredient spellcheck and detection, nutrients; types
//! without an annotator.

use super::*;
use crate::types::{CropBox, SelectImage};
use serde_json::json;

#[test]
fn ingredient_spellcheck() {
    let mut i = insight(PredictionType::IngredientSpellcheck);
    i.value_tag = Some("fr".into());
    i.data = json!({"original": "List of ingredient", "correction": "List fo ingredients"});
    let plan = run(&i, None, None).expect("plan");
    let comment = auto("Ingredient spellcheck correction");
    assert_eq!(
        plan.edits,
        vec![fields(&[
            ("code", CODE),
            ("comment", &comment),
            ("ingredients_text_fr", "List fo ingredients")
        ])]
    );
    assert_eq!(plan.change, None);
    let data = json!({"annotation": "List of ingredients"});
    let plan = run(&i, None, Some(&data)).expect("plan");
    assert_eq!(
        plan.edits,
        vec![fields(&[
            ("code", CODE),
            ("comment", &comment),
            ("ingredients_text_fr", "List of ingredients")
        ])]
    );
    assert_eq!(
        plan.change.map(|c| c.data),
        Some(
            json!({"original": "List of ingredient", "correction": "List fo ingredients", "annotation": "List of ingredients"})
        )
    );
}

/// Spec api-db §8 check 10 (`test_select_nutrition_image_with_rotation_and_nutrition_table_detection`)
/// and the `test_select_nutrition_image*` cases.
#[test]
fn nutrient_extraction() {
    let mut i = insight(PredictionType::NutrientExtraction);
    i.source_image = Some("/872/032/603/7888/2.jpg".into());
    i.data = json!({"nutrients": {"energy-kcal_100g": {"value": "250", "unit": null, "score": 0.9}, "fat_100g": {"value": "12", "unit": "g"}}});
    let mut p = product(json!({"2": {"sizes": {"full": {"w": 1000, "h": 2000}}}}));
    p.lang = Some("fr".into());
    let facts = ImageFacts {
        rotation: Some(90),
        nutrition_tables: Some(vec![
            json!({"label": "nutrition-table", "score": 0.550762104988098,
            "bounding_box": [0.06199073791503906, 0.20298996567726135, 0.4177824556827545, 0.9909706115722656]}),
        ]),
    };
    let target = Target {
        insight: &i,
        product: Some(&p),
        data: None,
        is_vote: false,
        automatic: false,
        facts: &facts,
    };
    let plan = plan(&target).expect("plan");
    let id_comment = |action: &str| format!("[robotoff] {action}, ID: {ID}");
    assert_eq!(
        plan.edits,
        vec![
            fields(&[
                ("code", CODE),
                ("comment", &id_comment("Update nutrient values")),
                ("nutrition_data_per", "100g"),
                ("nutriment_energy-kcal", "250"),
                ("nutriment_energy-kcal_unit", "kcal"),
                ("nutriment_fat", "12"),
                ("nutriment_fat_unit", "g"),
            ]),
            ProductEdit::SelectImage(SelectImage {
                image_id: "2".into(),
                image_key: "nutrition_fr".into(),
                angle: Some(90),
                crop: Some(CropBox::new(
                    202.98996567726135,
                    1164.435088634491,
                    990.9706115722656,
                    1876.0185241699219
                )),
                comment: id_comment("Selecting image 2 as nutrition_fr"),
            }),
        ]
    );
    let change = plan.change.expect("data change");
    assert_eq!(change.data.get("was_updated"), Some(&json!(false)));
    assert_eq!(
        change.data.pointer("/annotation/nutrients/energy-kcal"),
        Some(&json!({"value": "250", "unit": "kcal"}))
    );

    // Already selected with this image, no facts: only the nutrients are sent.
    let mut selected = p.clone();
    selected
        .images
        .insert("nutrition_fr".into(), json!({"imgid": "2"}));
    let none = ImageFacts::default();
    let plan2 = super::plan(&Target {
        product: Some(&selected),
        facts: &none,
        ..target
    })
    .expect("plan");
    assert_eq!(plan2.edits.len(), 1);
    // Another image selected: re-selected, no rotation, no crop.
    selected
        .images
        .insert("nutrition_fr".into(), json!({"imgid": "1"}));
    let plan3 = super::plan(&Target {
        product: Some(&selected),
        facts: &none,
        ..target
    })
    .expect("plan");
    assert!(
        matches!(&plan3.edits[..], [_, ProductEdit::SelectImage(s)] if s.angle.is_none() && s.crop.is_none())
    );
    // Votes cannot apply it; no product: 3 but the data change is kept.
    let vote = super::plan(&Target {
        is_vote: true,
        ..target
    })
    .expect("plan");
    assert_eq!(edits(&vote), (AnnotationStatus::CannotVote, vec![]));
    let missing = super::plan(&Target {
        product: None,
        ..target
    })
    .expect("plan");
    assert_eq!(missing.status, AnnotationStatus::ErrorMissingProduct);
    assert!(missing.change.is_some());
    // User data replaces the prediction.
    let data = json!({"nutrients": {"salt_serving": {"value": "0.5", "unit": "g"}, "serving_size": {"value": "30 g"}}});
    let user = super::plan(&Target {
        data: Some(&data),
        ..target
    })
    .expect("plan");
    assert_eq!(
        user.edits.first(),
        Some(&fields(&[
            ("code", CODE),
            ("comment", &id_comment("Update nutrient values")),
            ("nutrition_data_per", "serving"),
            ("serving_size", "30 g"),
            ("nutriment_salt", "0.5"),
            ("nutriment_salt_unit", "g"),
        ]))
    );
    assert_eq!(
        user.change.and_then(|c| c.data.get("was_updated").cloned()),
        Some(json!(true))
    );
}

/// `TestIngredientDetectionAnnotator` of Robotoff's unit tests.
#[test]
fn ingredient_detection() {
    let mut i = insight(PredictionType::IngredientDetection);
    i.value_tag = Some("en".into());
    i.source_image = Some("/376/009/431/0634/1.jpg".into());
    i.data = json!({"text": "Water, salt", "bounding_box": [0.1, 0.1, 0.5, 0.5], "rotation": 0});
    let p = product(json!({"1": {"sizes": {"full": {"w": 1000, "h": 800}}}}));
    let select = |angle: Option<i64>, crop: Option<CropBox>| {
        ProductEdit::SelectImage(SelectImage {
            image_id: "1".into(),
            image_key: "ingredients_en".into(),
            angle,
            crop,
            comment: auto("Selecting image 1 as ingredients_en"),
        })
    };
    let update = |text: &str| {
        fields(&[
            ("code", CODE),
            ("comment", &auto("Update ingredients")),
            ("ingredients_text_en", text),
        ])
    };
    let cases: Vec<(Value, Option<Value>, Vec<ProductEdit>)> = vec![
        (
            json!({"1": {"sizes": {"full": {"w": 1000, "h": 800}}}}),
            None,
            vec![
                update("Water, salt"),
                select(Some(0), Some(CropBox::new(80.0, 100.0, 400.0, 500.0))),
            ],
        ),
        (
            json!({"1": {"sizes": {"full": {"w": 1000, "h": 800}}}, "ingredients_en": {"imgid": "1"}}),
            Some(json!({"annotation": "new ingredient list"})),
            vec![update("new ingredient list")],
        ),
        (
            json!({"1": {"sizes": {"full": {"w": 1000, "h": 800}}}}),
            Some(
                json!({"annotation": "new ingredient list", "rotation": 270, "bounding_box": [0.2, 0.2, 0.6, 0.6]}),
            ),
            vec![
                update("new ingredient list"),
                select(Some(270), Some(CropBox::new(400.0, 160.0, 800.0, 480.0))),
            ],
        ),
        (json!({}), None, vec![update("Water, salt")]),
    ];
    for (images, data, expected) in cases {
        let plan = run(&i, Some(&product(images)), data.as_ref()).expect("plan");
        assert_eq!(plan.edits, expected, "{data:?}");
    }
    i.data = json!({"text": "Water, salt", "bounding_box": [0.1, 0.1, 0.5, 0.5], "rotation": 90});
    let plan = run(&i, Some(&p), None).expect("plan");
    assert_eq!(
        plan.edits.get(1),
        Some(&select(
            Some(90),
            Some(CropBox::new(100.0, 400.0, 500.0, 720.0))
        ))
    );
    assert_eq!(
        run(&i, None, None).map(|p| p.status),
        Ok(AnnotationStatus::ErrorMissingProduct)
    );
}

#[test]
fn types_without_annotator() {
    for kind in [
        PredictionType::ImageFlag,
        PredictionType::Nutrient,
        PredictionType::Location,
    ] {
        assert_eq!(needs(kind, false), None);
        assert_eq!(
            run(&insight(kind), None, None),
            Err(PlanError::NoAnnotator(kind))
        );
    }
}
