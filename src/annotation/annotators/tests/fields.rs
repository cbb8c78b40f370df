//! Annotators that write product fields: tags, quantities, codes, categories, packaging.

use super::*;

use serde_json::json;

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
