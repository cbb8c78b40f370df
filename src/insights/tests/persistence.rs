//! Prediction persistence rules (spec pipeline §5.1 step 1, §5.2, §10.9).

use super::*;
use crate::insights::predictions::{check, is_replaced, new_predictions, replacement, Rejection};

fn stored(
    kind: PredictionType,
    image: Option<&str>,
    version: Option<&str>,
    tag: &str,
) -> Prediction {
    pred(
        kind,
        json!({"source_image": image, "predictor_version": version, "value_tag": tag}),
    )
}

/// Predictions of a missing product, or of an image that is not a raw image of the
/// product, are not stored.
#[test]
fn predictions_are_checked_against_the_product() {
    let p = product(json!({"images": {"1": {}, "front_fr": {"imgid": "1"}}}));
    let on = |image: Option<&str>| pred(PredictionType::Label, json!({"source_image": image}));
    assert_eq!(check(Some(&p), &on(None)), Ok(()));
    assert_eq!(check(Some(&p), &on(Some("/x/1.jpg"))), Ok(()));
    assert!(matches!(
        check(Some(&p), &on(Some("/x/2.jpg"))),
        Err(Rejection::InvalidImage(_))
    ));
    assert!(matches!(
        check(Some(&p), &on(Some("/x/front_fr.jpg"))),
        Err(Rejection::InvalidImage(_))
    ));
    assert_eq!(check(None, &on(None)), Err(Rejection::MissingProduct));
}

/// `test_import_product_predictions`: a new predictor version of label predictions on
/// image 1 replaces the image-1 label predictions of other versions only (not image 2,
/// not the store prediction); `test_category_predictions_cleanup`: a category
/// prediction replaces every stored category prediction.
#[test]
fn replaced_predictions() {
    let image1 = "/123/456/789/1234/1.jpg";
    let image2 = "/123/456/789/1234/2.jpg";
    let batch = [stored(
        PredictionType::Label,
        Some(image1),
        Some("2"),
        "en:organic",
    )];
    let r = replacement(&batch);
    let cases = [
        (
            stored(PredictionType::Label, Some(image1), None, "en:organic"),
            true,
        ),
        (
            stored(PredictionType::Label, Some(image2), None, "en:organic"),
            false,
        ),
        (
            stored(
                PredictionType::Label,
                Some(image1),
                None,
                "en:fairtrade-international",
            ),
            true,
        ),
        (
            stored(PredictionType::Store, Some(image1), None, "Auchan"),
            false,
        ),
        (
            stored(PredictionType::Label, Some(image1), Some("2"), "en:other"),
            false,
        ),
        (
            stored(PredictionType::Label, None, None, "en:organic"),
            false,
        ),
    ];
    for (p, expected) in &cases {
        assert_eq!(
            is_replaced(&r, p),
            *expected,
            "{:?} {:?}",
            p.source_image,
            p.predictor_version
        );
    }
    let batch = [stored(
        PredictionType::Category,
        Some("/path/image1.jpg"),
        Some("new-v1"),
        "en:crackers",
    )];
    let r = replacement(&batch);
    assert!(is_replaced(
        &r,
        &stored(
            PredictionType::Category,
            Some("/path/image1.jpg"),
            Some("old-v1"),
            "en:snacks"
        )
    ));
    assert!(is_replaced(
        &r,
        &stored(
            PredictionType::Category,
            Some("/path/image2.jpg"),
            Some("old-v2"),
            "en:biscuits"
        )
    ));
    assert!(!is_replaced(
        &r,
        &stored(PredictionType::Label, Some("/path/image2.jpg"), None, "x")
    ));
    // A batch without source image replaces nothing.
    let r = replacement(&[stored(PredictionType::Label, None, Some("3"), "en:organic")]);
    assert!(!is_replaced(
        &r,
        &stored(PredictionType::Label, None, None, "en:organic")
    ));
}

/// Spec §5.2 step 2: a prediction equal to a stored one on (type, server type, source
/// image, value tag, value, predictor, automatic processing) is not stored again, nor is
/// a repeat within the batch.
#[test]
fn only_new_predictions_are_inserted() {
    let base = pred(
        PredictionType::Label,
        json!({"value_tag": "en:organic", "source_image": SOURCE_IMAGE, "predictor": "regex", "data": {"a": 1}}),
    );
    let mut other_data = base.clone();
    other_data.data = json!({"a": 2});
    let mut other_predictor = base.clone();
    other_predictor.predictor = Some("flashtext".into());
    let mut automatic = base.clone();
    automatic.automatic_processing = Some(true);
    let new = new_predictions(
        BARCODE,
        ServerType::Off,
        std::slice::from_ref(&base),
        vec![
            other_data,
            other_predictor.clone(),
            automatic.clone(),
            other_predictor.clone(),
        ],
        now(),
    );
    assert_eq!(new.len(), 2);
    assert_eq!(new[0].predictor.as_deref(), Some("flashtext"));
    assert_eq!(new[1].automatic_processing, Some(true));
    assert!(new
        .iter()
        .all(|p| p.timestamp == Some(now()) && p.barcode.as_deref() == Some(BARCODE)));
}
