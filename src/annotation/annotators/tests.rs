//! Table-driven checks of every annotator against Robotoff's unit and integration tests
//! (`tests/unit/insights/test_annotate.py`, `tests/integration/insights/test_annotate.py`).

use super::*;
use crate::types::CropBox;
use crate::types::SelectImage;
use crate::types::ServerType;
use serde_json::json;

const ID: &str = "94371643-c2bc-4291-a585-af2cb1a5270a";
const CODE: &str = "3760094310634";

fn insight(kind: PredictionType) -> Insight {
    Insight {
        id: Uuid::parse_str(ID).unwrap_or_default(),
        barcode: CODE.into(),
        kind,
        data: json!({}),
        timestamp: None,
        completed_at: None,
        annotation: None,
        annotated_result: None,
        n_votes: 0,
        username: None,
        countries: vec![],
        brands: vec![],
        process_after: None,
        value_tag: None,
        value: None,
        source_image: None,
        automatic_processing: false,
        server_type: ServerType::Off,
        unique_scans_n: 0,
        reserved_barcode: false,
        predictor: None,
        predictor_version: None,
        campaign: vec![],
        confidence: None,
        bounding_box: None,
        lc: None,
        with_image: None,
    }
}

fn product(images: Value) -> Product {
    let mut p = Product::new(CODE, ServerType::Off);
    p.images = images.as_object().cloned().unwrap_or_default();
    p
}

fn fields(pairs: &[(&str, &str)]) -> ProductEdit {
    ProductEdit::UpdateFields(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn auto(action: &str) -> String {
    format!("[robotoff] {action}, ID: {ID} (automated edit)")
}

fn run(
    insight: &Insight,
    product: Option<&Product>,
    data: Option<&Value>,
) -> Result<Plan, PlanError> {
    let facts = ImageFacts::default();
    plan(&Target {
        insight,
        product,
        data,
        is_vote: false,
        automatic: true,
        facts: &facts,
    })
}

fn edits(plan: &Plan) -> (AnnotationStatus, Vec<ProductEdit>) {
    (plan.status, plan.edits.clone())
}

#[test]
fn field_annotators() {
    use AnnotationStatus as S;
    use PredictionType as T;
    let mut labelled = product(json!({}));
    labelled.labels_tags = vec!["en:organic".into()];
    labelled.categories_tags = vec!["en:Salmons".into()];
    labelled.quantity = Some("250 g".into());
    labelled.expiration_date = Some("12/2025".into());
    labelled.stores_tags = vec!["lidl".into()];
    labelled.emb_codes = Some("FR 40.261.001 CE,EMB 12345".into());
    let empty = product(json!({}));
    let mut with_code = product(json!({}));
    with_code.emb_codes = Some("EMB 12345".into());

    let mk = |kind, value: Option<&str>, tag: Option<&str>| {
        let mut i = insight(kind);
        i.value = value.map(str::to_string);
        i.value_tag = tag.map(str::to_string);
        i
    };
    let cases: Vec<(Insight, &Product, AnnotationStatus, Vec<ProductEdit>)> = vec![
        (
            mk(T::Label, None, Some("en:organic")),
            &labelled,
            S::ErrorAlreadyAnnotated,
            vec![],
        ),
        (
            mk(T::Label, None, Some("en:fair-trade")),
            &labelled,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                ("comment", &auto("Adding label tag 'en:fair-trade'")),
                ("add_labels", "en:fair-trade"),
            ])],
        ),
        (
            mk(T::Category, None, Some("en:Salmons")),
            &labelled,
            S::ErrorAlreadyAnnotated,
            vec![],
        ),
        (
            mk(T::Category, None, Some("en:Salmons")),
            &empty,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                ("comment", &auto("Adding category 'en:Salmons'")),
                ("add_categories", "en:Salmons"),
            ])],
        ),
        (
            mk(T::ProductWeight, Some("500 g"), None),
            &labelled,
            S::ErrorAlreadyAnnotated,
            vec![],
        ),
        (
            mk(T::ProductWeight, Some("500 g"), None),
            &empty,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                ("comment", &auto("Updating quantity to '500 g'")),
                ("quantity", "500 g"),
            ])],
        ),
        (
            mk(T::ExpirationDate, Some("01/02/2026"), None),
            &labelled,
            S::ErrorAlreadyAnnotated,
            vec![],
        ),
        (
            mk(T::ExpirationDate, Some("01/02/2026"), None),
            &empty,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                ("comment", &auto("Adding expiration date '01/02/2026'")),
                ("expiration_date", "01/02/2026"),
            ])],
        ),
        (
            mk(T::Brand, Some("Lu"), Some("lu")),
            &labelled,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                ("comment", &auto("Adding brand 'Lu'")),
                ("add_brands", "Lu"),
            ])],
        ),
        (
            mk(T::Store, Some("Lidl"), Some("lidl")),
            &labelled,
            S::ErrorAlreadyAnnotated,
            vec![],
        ),
        (
            mk(T::Store, Some("Carrefour"), Some("carrefour")),
            &labelled,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                ("comment", &auto("Adding store 'Carrefour'")),
                ("add_stores", "Carrefour"),
            ])],
        ),
        (
            mk(T::PackagerCode, Some("fr 40-261-001 ce"), None),
            &labelled,
            S::ErrorAlreadyAnnotated,
            vec![],
        ),
        (
            mk(T::PackagerCode, Some("FR 12.345.678 CE"), None),
            &with_code,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                (
                    "comment",
                    &auto("Adding packager codes 'EMB 12345,FR 12.345.678 CE'"),
                ),
                ("emb_codes", "EMB 12345,FR 12.345.678 CE"),
            ])],
        ),
        (
            mk(T::PackagerCode, Some("EMB 1"), None),
            &empty,
            S::Updated,
            vec![fields(&[
                ("code", CODE),
                ("comment", &auto("Adding packager codes 'EMB 1'")),
                ("emb_codes", "EMB 1"),
            ])],
        ),
    ];
    for (insight, product, status, expected) in cases {
        let plan = run(&insight, Some(product), None).expect("plan");
        assert_eq!(
            edits(&plan),
            (status, expected),
            "{:?} {:?}",
            insight.kind,
            insight.value_tag
        );
        assert_eq!(plan.change, None);
        // No product: result 3, nothing sent.
        if insight.kind != T::Packaging {
            let plan = run(&insight, None, None).expect("plan");
            assert_eq!(
                edits(&plan),
                (S::ErrorMissingProduct, vec![]),
                "{:?}",
                insight.kind
            );
        }
    }
}

#[test]
fn emb_code_normalisation() {
    let cases = [
        ("fr 40.261.001 ce", "fr40261001ec"),
        ("FR-40-261-001-CE", "fr40261001ec"),
        (" EMB 12345 ", "emb12345"),
        ("ÉMB 1", "emb1"),
    ];
    for (code, normalised) in cases {
        assert_eq!(tags::normalize_emb_code(code), normalised);
    }
}

/// Spec api-db §8 check 7 (`test_annotate_category_with_user_input`) and Robotoff's
/// `test_process_annotation_with_user_input_data`.
#[test]
fn category_with_user_input() {
    let mut i = insight(PredictionType::Category);
    i.value_tag = Some("en:seeds".into());
    i.value = Some("Seeds".into());
    let data = json!({"value_tag": "en:beef"});
    let plan = run(&i, Some(&product(json!({}))), Some(&data)).expect("plan");
    assert_eq!(plan.status, AnnotationStatus::UserInputUpdated);
    assert_eq!(
        plan.change,
        Some(InsightChange {
            data: json!({"original_value_tag": "en:seeds", "user_input": true}),
            value_tag: Some("en:beef".into()),
            value: None,
        })
    );
    assert_eq!(
        plan.edits,
        vec![fields(&[
            ("code", CODE),
            ("comment", &auto("Adding category 'en:beef'")),
            ("add_categories", "en:beef")
        ])]
    );
}

#[test]
fn packaging_uses_v3_patch() {
    let mut i = insight(PredictionType::Packaging);
    i.data = json!({"element": {"shape": {"value_tag": "en:bottle"}, "material": {"value_tag": "en:glass"}, "recycling": {"value_tag": null}}});
    let plan = run(&i, Some(&product(json!({}))), None).expect("plan");
    assert_eq!(
        plan.edits,
        vec![ProductEdit::PatchProduct(json!({
            "product": {"packagings_add": [{"shape": {"id": "en:bottle"}, "material": {"id": "en:glass"}}]},
            "fields": "none",
            "comment": auto("Updating/adding packaging elements 'en:bottle'"),
        }))]
    );
    i.data = json!({"element": {"material": {"value_tag": "en:glass"}}});
    assert!(run(&i, Some(&product(json!({}))), None).is_err());
}

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
