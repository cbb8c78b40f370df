//! The selection of insights to create, update and delete (spec pipeline §5.3, §10.11)
//! and the fields of stored insights.

use super::*;
use crate::insights::candidate::{cmp_predictions, Candidate, InsightView};
use crate::insights::{generate_insights, importers_for, select_updates, Importer, InsightError};
use std::collections::HashSet;

fn cand(
    value_tag: &str,
    source_image: Option<&str>,
    predictor: Option<&str>,
    automatic: bool,
) -> Candidate {
    let mut p = pred(PredictionType::Label, json!({"value_tag": value_tag}));
    p.source_image = source_image.map(str::to_string);
    p.predictor = predictor.map(str::to_string);
    let mut c = Candidate::from_prediction(&p, BARCODE, ServerType::Off);
    c.automatic_processing = Some(automatic);
    c
}

fn same_tag(c: &Candidate, r: &dyn InsightView) -> bool {
    c.value_tag.as_deref() == r.value_tag()
}

fn sorted(mut cs: Vec<Candidate>) -> Vec<Candidate> {
    cs.sort_by(crate::insights::cmp_candidates);
    cs
}

/// `test_sort_predictions`: priority, then most recent image (no raw image last), then
/// predictor.
#[test]
fn predictions_sort_by_priority_image_and_predictor() {
    let spec = [
        (2, Some("/123/fr_front.jpg")),
        (3, None),
        (2, Some("/123/3.jpg")),
        (1, None),
        (4, Some("/123/1.jpg")),
        (1, Some("/123/3.jpg")),
        (8, Some("/123/2.jpg")),
    ];
    let predictions: Vec<Prediction> = spec
        .iter()
        .map(|(priority, image)| {
            pred(
                PredictionType::Category,
                json!({"data": {"priority": priority}, "source_image": image}),
            )
        })
        .collect();
    let mut order: Vec<usize> = (0..predictions.len()).collect();
    order.sort_by(|a, b| cmp_predictions(&predictions[*a], &predictions[*b]));
    assert_eq!(order, vec![5, 3, 2, 0, 1, 4, 6]);
}

/// Spec §10.11, `TestInsightImporter::test_get_insight_update_*` (conflict = same tag).
#[test]
fn selection_cases_from_robotoff() {
    // annotated references: no candidates, refs [tag1 annotated -1, tag2] → delete tag2.
    let refs = vec![
        insight(
            PredictionType::Label,
            json!({"value_tag": "tag1", "annotation": -1}),
        ),
        insight(PredictionType::Label, json!({"value_tag": "tag2"})),
    ];
    let s = select_updates(Vec::new(), &refs, same_tag);
    assert!(s.create.is_empty() && s.update.is_empty());
    assert_eq!(s.delete, vec![1]);

    // no reference: every candidate is created.
    let cs = vec![
        cand("tag1", None, None, false),
        cand("tag2", None, None, false),
    ];
    let s = select_updates(sorted(cs.clone()), &Vec::<Insight>::new(), same_tag);
    assert_eq!(s.create, cs);

    // duplicates: the most recent image with a predictor wins.
    let cs = vec![
        cand("tag1", Some("/1/1.jpg"), None, false),
        cand("tag1", Some("/1/2.jpg"), None, false),
        cand("tag1", Some("/1/2.jpg"), Some("PREDICTOR"), false),
        cand("tag2", Some("/1/1.jpg"), None, false),
    ];
    let s = select_updates(sorted(cs.clone()), &Vec::<Insight>::new(), same_tag);
    assert_eq!(s.create, vec![cs[2].clone(), cs[3].clone()]);
    assert!(s.update.is_empty() && s.delete.is_empty());

    // conflicting reference: tag1 updates its reference, tag2 is created, annotated
    // tag3 stays.
    let refs = vec![
        insight(PredictionType::Label, json!({"value_tag": "tag1"})),
        insight(
            PredictionType::Label,
            json!({"value_tag": "tag3", "annotation": 1}),
        ),
    ];
    let cs = vec![
        cand("tag1", None, None, false),
        cand("tag2", None, None, false),
    ];
    let s = select_updates(sorted(cs.clone()), &refs, same_tag);
    assert_eq!(s.create, vec![cs[1].clone()]);
    assert_eq!(s.update, vec![(cs[0].clone(), 0)]);
    assert!(s.delete.is_empty());

    // an insight about to be applied automatically is never overwritten.
    let refs = vec![insight(
        PredictionType::Label,
        json!({"value_tag": "tag1", "source_image": "/1/1.jpg", "automatic_processing": true}),
    )];
    let s = select_updates(
        vec![cand("tag1", Some("/1/2.jpg"), None, true)],
        &refs,
        same_tag,
    );
    assert!(s.create.is_empty() && s.update.is_empty() && s.delete.is_empty());

    // same tag on another image: create the new one, delete the old one; same image
    // (none) → update.
    let refs = vec![
        insight(
            PredictionType::Label,
            json!({"value_tag": "tag1", "source_image": "/1/1.jpg"}),
        ),
        insight(PredictionType::Label, json!({"value_tag": "tag3"})),
    ];
    let cs = vec![
        cand("tag1", Some("/1/2.jpg"), None, false),
        cand("tag3", None, None, true),
    ];
    let s = select_updates(sorted(cs.clone()), &refs, same_tag);
    assert_eq!(s.create, vec![cs[0].clone()]);
    assert_eq!(s.update, vec![(cs[1].clone(), 1)]);
    assert_eq!(s.delete, vec![0]);

    // an annotated reference is kept even without candidate.
    let refs = vec![insight(
        PredictionType::Label,
        json!({"value_tag": "tag1", "annotation": 0}),
    )];
    let cs = vec![cand("tag2", None, None, false)];
    let s = select_updates(cs.clone(), &refs, same_tag);
    assert_eq!(s.create, cs);
    assert!(s.delete.is_empty() && s.update.is_empty());
}

/// `test_generate_insights_missing_product_*` and spec §5.7: a missing product deletes
/// every insight of the type, annotated ones included.
#[test]
fn missing_product_deletes_every_reference() {
    let refs = vec![
        insight(PredictionType::Category, json!({"value_tag": "en:fishes"})),
        insight(
            PredictionType::Category,
            json!({"value_tag": "en:meats", "annotation": 1}),
        ),
    ];
    let p = pred(PredictionType::Category, json!({"value_tag": "en:meats"}));
    let diff = with_ctx(None, HashMap::new(), |ctx| {
        generate_insights(
            Importer::Category,
            ctx,
            BARCODE,
            ServerType::Off,
            &[p],
            &refs,
        )
    });
    let diff = diff.unwrap_or_default();
    assert!(diff.create.is_empty() && diff.update.is_empty());
    assert_eq!(diff.delete, vec![refs[0].id, refs[1].id]);
}

/// `test_generate_insights_no_predictions_with_existing_insight`.
#[test]
fn no_prediction_deletes_unprotected_references() {
    let refs = vec![insight(
        PredictionType::Category,
        json!({"value_tag": "en:fishes"}),
    )];
    let p = product(json!({}));
    let diff = with_ctx(Some(&p), HashMap::new(), |ctx| {
        generate_insights(
            Importer::Category,
            ctx,
            BARCODE,
            ServerType::Off,
            &[],
            &refs,
        )
    })
    .unwrap_or_default();
    assert_eq!(diff.delete, vec![refs[0].id]);
}

/// `test_generate_insights_creation_and_deletion` / `_automatic_processing`: created
/// insights get an id, the import time, `process_after` = now + 10 min when automatic.
#[test]
fn created_insights_have_their_stored_fields() {
    let p = product(json!({
        "images": {"8": {"sizes": {"full": {"w": 10, "h": 10}}}},
        "countries_tags": ["en:france"], "brands_tags": ["acme"], "unique_scans_n": 7
    }));
    let prediction = pred(
        PredictionType::Store,
        json!({"value_tag": "carrefour", "value": "Carrefour", "data": {"k": "v"},
               "source_image": "/376/009/431/0634/8.jpg"}),
    );
    let refs = vec![insight(
        PredictionType::Store,
        json!({"value_tag": "auchan"}),
    )];
    let diff = with_ctx(Some(&p), HashMap::new(), |ctx| {
        generate_insights(
            Importer::Store,
            ctx,
            BARCODE,
            ServerType::Off,
            &[prediction],
            &refs,
        )
    })
    .unwrap_or_default();
    assert_eq!(diff.delete, vec![refs[0].id]);
    let [created] = diff.create.as_slice() else {
        panic!("one insight created, got {:?}", diff.create);
    };
    assert_eq!(created.kind, PredictionType::Store);
    assert_eq!(created.server_type, ServerType::Off);
    assert_eq!(created.data, json!({"k": "v"}));
    assert!(created.automatic_processing);
    assert_eq!(created.timestamp, Some(now()));
    assert_eq!(created.process_after, Some(now() + TimeDelta::minutes(10)));
    assert_eq!(created.n_votes, 0);
    assert_eq!(created.countries, vec!["en:france"]);
    assert_eq!(created.brands, vec!["acme"]);
    assert_eq!(created.unique_scans_n, 7);
    assert_eq!(created.with_image, Some(true));
    assert!(!created.reserved_barcode);
    assert_ne!(created.id, uuid::Uuid::nil());
}

/// `test_add_fields_check_with_image`: label and category insights have an image when
/// the product has one; other types when they have a source image.
#[test]
fn with_image_rule() {
    let cases = [
        (PredictionType::Category, json!({"1": {}}), None, true),
        (PredictionType::Category, json!({}), None, false),
        (
            PredictionType::IngredientDetection,
            json!({"1": {}}),
            Some(SOURCE_IMAGE),
            true,
        ),
        (
            PredictionType::IngredientDetection,
            json!({"1": {}}),
            None,
            false,
        ),
    ];
    for (kind, images, source, expected) in cases {
        let p = product(json!({"images": images}));
        let mut c = Candidate::from_prediction(&pred(kind, json!({})), BARCODE, ServerType::Off);
        c.source_image = source.map(str::to_string);
        let row = with_ctx(Some(&p), HashMap::new(), |ctx| c.into_insight(ctx, &p));
        assert_eq!(row.with_image, Some(expected), "{kind} {source:?}");
        assert_eq!(row.process_after, None);
    }
    assert!(crate::insights::is_reserved_barcode("0212345678901"));
    assert!(crate::insights::is_reserved_barcode("2123"));
    assert!(!crate::insights::is_reserved_barcode("3123"));
    assert!(!crate::insights::is_reserved_barcode("00212"));
}

/// `test_import_insights_invalid_types`, spec §5.3 validation.
#[test]
fn importer_refuses_other_types_and_products() {
    let p = product(json!({}));
    let result = with_ctx(Some(&p), HashMap::new(), |ctx| {
        generate_insights(
            Importer::Category,
            ctx,
            BARCODE,
            ServerType::Off,
            &[pred(PredictionType::Label, json!({}))],
            &[],
        )
    });
    assert_eq!(
        result,
        Err(InsightError::UnexpectedType {
            importer: PredictionType::Category,
            kind: PredictionType::Label
        })
    );
    let other = pred(PredictionType::Category, json!({"barcode": "999"}));
    let result = with_ctx(Some(&p), HashMap::new(), |ctx| {
        generate_insights(
            Importer::Category,
            ctx,
            BARCODE,
            ServerType::Off,
            &[other],
            &[],
        )
    });
    assert!(matches!(result, Err(InsightError::SeveralProducts(_))));
}

/// Spec §5.1: importers run in Robotoff's order when their required types are present
/// (`test_import_insights_type_mismatch`: image orientation alone runs no category
/// import); nutrition images need mentions and orientation.
#[test]
fn importers_run_in_order_on_their_required_types() {
    let types = |ts: &[PredictionType]| ts.iter().copied().collect::<HashSet<_>>();
    assert_eq!(
        importers_for(&types(&[PredictionType::ImageOrientation])),
        vec![Importer::ImageOrientation]
    );
    assert_eq!(
        importers_for(&types(&[
            PredictionType::NutrientMention,
            PredictionType::ImageOrientation,
            PredictionType::Label,
            PredictionType::PackagerCode
        ])),
        vec![
            Importer::PackagerCode,
            Importer::Label,
            Importer::NutritionImage,
            Importer::ImageOrientation
        ]
    );
    assert!(importers_for(&types(&[
        PredictionType::Nutrient,
        PredictionType::ImageFlag
    ]))
    .is_empty());
    assert_eq!(Importer::ORDER.len(), 14);
    assert_eq!(
        Importer::NutrientExtraction.input_types(),
        &[
            PredictionType::NutrientExtraction,
            PredictionType::ImageOrientation,
            PredictionType::NutrientMention
        ]
    );
}
