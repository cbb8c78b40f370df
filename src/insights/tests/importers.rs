//! Candidate rules of the text-based importers (spec pipeline §5.4, §10.12; Robotoff's
//! `tests/unit/insights/test_importer.py`).

use super::*;
use crate::insights::candidate::Candidate;
use crate::insights::packaging::{is_uninformative, Element, PackagingTaxonomies};
use crate::insights::{category, label, packaging, simple};
use crate::taxonomy::TaxonomyType;

fn refs(ps: &[Prediction]) -> Vec<&Prediction> {
    ps.iter().collect()
}

fn tags(cs: &[Candidate]) -> Vec<(String, Option<bool>)> {
    let mut out: Vec<_> = cs
        .iter()
        .map(|c| {
            (
                c.value_tag.clone().unwrap_or_default(),
                c.automatic_processing,
            )
        })
        .collect();
    out.sort();
    out
}

fn label_pred(tag: &str, predictor: Option<&str>, automatic: Option<bool>) -> Prediction {
    pred(
        PredictionType::Label,
        json!({"value_tag": tag, "predictor": predictor, "automatic_processing": automatic}),
    )
}

/// `TestPackagerCodeInsightImporter::test_is_prediction_valid` / `test_generate_*`.
#[test]
fn packager_codes_already_on_the_product_are_dropped() {
    assert_eq!(
        simple::normalize_emb_code("FR 40.261.001 CE"),
        "fr40261001ec"
    );
    let cases = [
        (vec!["FR 40.261.001 CE"], "fr 40261001 ce", false),
        (vec!["FR 40.261.001 CE"], "fr 50262601 ce", true),
        (vec!["FR 50.200.000 CE"], "fr 40.261.001 ce", true),
        (vec!["ASC-C-00950"], "ASC-C-00026", true),
    ];
    for (existing, code, kept) in cases {
        let p = product(json!({"emb_codes_tags": existing}));
        let ps = [pred(PredictionType::PackagerCode, json!({"value": code}))];
        let cs = simple::packager_code(&p, &refs(&ps), BARCODE, ServerType::Off);
        assert_eq!(cs.len() == 1, kept, "{code}");
        if kept {
            assert_eq!(cs[0].value.as_deref(), Some(code));
            assert_eq!(cs[0].kind, PredictionType::PackagerCode);
        }
    }
}

/// `TestLabelInsightImporter::test_is_parent_label` and `test_generate_candidates`
/// (spec §10.12 label rules).
#[test]
fn label_candidates() {
    let res = resources();
    let taxonomy = match res.taxonomy(TaxonomyType::Label) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    for (tag, others, expected) in [
        ("en:organic", "en:eu-organic", true),
        ("en:eu-organic", "en:organic", false),
        ("en:organic", "en:fsc", false),
        ("en:fsc", "en:organic", false),
    ] {
        assert_eq!(
            label::is_parent_of_any(&taxonomy, tag, [others]),
            expected,
            "{tag}"
        );
    }
    let none: Option<bool> = None;
    type Case = (Vec<Prediction>, Value, Vec<(&'static str, Option<bool>)>);
    let cases: Vec<Case> = vec![
        (
            vec![label_pred("en:organic", None, None)],
            json!({"labels_tags": ["en:organic"]}),
            vec![],
        ),
        (
            vec![label_pred("en:non-existing-tag", None, None)],
            json!({}),
            vec![],
        ),
        (
            vec![label_pred("en:organic", Some("regex"), None)],
            json!({}),
            vec![("en:organic", Some(true))],
        ),
        // en:organic is a parent of en:eu-organic (Robotoff's case uses en:ecoveg, not
        // in the trimmed taxonomy of the shared data).
        (
            vec![
                label_pred("en:organic", Some("regex"), None),
                label_pred("en:eu-organic", Some("flashtext"), None),
            ],
            json!({}),
            vec![("en:eu-organic", Some(false))],
        ),
        // en:vegan is a parent of en:european-vegetarian-union-vegan; the product has
        // en:vegan; an unknown tag and an independent label are added.
        (
            vec![
                label_pred("en:vegan", Some("flashtext"), None),
                label_pred(
                    "en:european-vegetarian-union-vegan",
                    Some("flashtext"),
                    None,
                ),
                label_pred("en:non-existing-tag", Some("flashtext"), None),
                label_pred("en:max-havelaar", Some("flashtext"), None),
                label_pred("en:organic", Some("flashtext"), None),
            ],
            json!({"labels_tags": ["en:vegan"]}),
            vec![
                ("en:european-vegetarian-union-vegan", Some(false)),
                ("en:max-havelaar", Some(true)),
                ("en:organic", Some(true)),
            ],
        ),
        // fr:sans-gluten is normalised to the canonical id.
        (
            vec![label_pred("fr:sans-gluten", None, Some(true))],
            json!({}),
            vec![("en:gluten-free", Some(true))],
        ),
        // The canonical tag is checked against the product too.
        (
            vec![label_pred("fr:sans-gluten", None, Some(true))],
            json!({"labels_tags": ["en:gluten-free"]}),
            vec![],
        ),
        (
            vec![label_pred("en:eu-agriculture", None, None)],
            json!({}),
            vec![],
        ),
        (
            vec![label_pred("en:fsc", Some("logo"), None)],
            json!({}),
            vec![("en:fsc", none)],
        ),
    ];
    for (predictions, fields, expected) in cases {
        let p = product(fields.clone());
        let cs = label::candidates(
            &res,
            &taxonomy,
            &p,
            &refs(&predictions),
            BARCODE,
            ServerType::Off,
        );
        let expected: Vec<(String, Option<bool>)> = expected
            .into_iter()
            .map(|(t, a)| (t.to_string(), a))
            .collect();
        assert_eq!(tags(&cs), expected, "product {fields}");
    }
}

/// `TestCategoryImporter::test_is_parent_category`, `test_generate_candidates`,
/// `test_add_campaign`, and `test_select_deepest_taxonomized_candidates`.
#[test]
fn category_candidates_and_campaigns() {
    let res = resources();
    let taxonomy = match res.taxonomy(TaxonomyType::Category) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    for (tag, other, expected) in [
        ("en:salmons", "en:smoked-salmons", true),
        ("en:smoked-salmons", "en:salmons", false),
        ("en:snacks", "en:dairies", false),
        ("en:dairies", "en:snacks", false),
    ] {
        assert_eq!(label::is_parent_of_any(&taxonomy, tag, [other]), expected);
    }
    let cat = |tag: &str| pred(PredictionType::Category, json!({"value_tag": tag}));
    let cases: Vec<(Vec<&str>, Value, Vec<&str>)> = vec![
        (
            vec!["en:meats"],
            json!({"categories_tags": ["en:meats"]}),
            vec![],
        ),
        (
            vec!["en:almonds"],
            json!({"categories_tags": []}),
            vec!["en:almonds"],
        ),
        (vec!["en:non-existing-tag"], json!({}), vec![]),
        (vec!["en:meats"], json!({}), vec!["en:meats"]),
        (vec!["en:meats", "en:pork"], json!({}), vec!["en:pork"]),
        (
            vec!["en:miso-soup", "en:meats", "en:soups", "en:apricots"],
            json!({"categories_tags": ["en:apricots"]}),
            vec!["en:miso-soup", "en:meats"],
        ),
        (
            vec!["en:plant-based-foods", "en:plant-based-foods-and-beverages"],
            json!({}),
            vec!["en:plant-based-foods"],
        ),
    ];
    for (predicted, fields, expected) in cases {
        let ps: Vec<Prediction> = predicted.iter().map(|t| cat(t)).collect();
        let p = product(fields);
        let cs = category::candidates(&taxonomy, &p, &refs(&ps), BARCODE, ServerType::Off);
        let got: Vec<&str> = cs.iter().filter_map(|c| c.value_tag.as_deref()).collect();
        assert_eq!(got, expected, "{predicted:?}");
    }
    // The shared taxonomy has no Agribalyse codes: a small taxonomy stands in for it.
    let agribalyse = crate::taxonomy::Taxonomy::from_json_slice(
        br#"{"en:fries": {"name": {"en": "Fries"}, "parents": [],
             "agribalyse_food_code": {"en": "4003"}}}"#,
    );
    let agribalyse = match agribalyse {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let p = product(json!({"categories_tags": []}));
    assert_eq!(
        category::campaigns(&agribalyse, &p, Some("en:fries")),
        vec!["agribalyse-category", "missing-category"]
    );
    let p = product(json!({"categories_tags": ["en:breads"]}));
    assert!(category::campaigns(&taxonomy, &p, Some("en:breads")).is_empty());
}

fn weight(value: &str, matcher: &str, source: Option<&str>) -> Prediction {
    let mut data = json!({"matcher_type": matcher, "text": value});
    if let (Some(s), Some(d)) = (source, data.as_object_mut()) {
        d.insert("source".into(), json!(s));
    }
    pred(
        PredictionType::ProductWeight,
        json!({"value": value, "data": data, "predictor": "ocr"}),
    )
}

/// `TestProductWeightImporter::test_generate_candidates_*`.
#[test]
fn product_weight_candidates() {
    let with_quantity = product(json!({"quantity": "30 g"}));
    let ps = [weight("30 g", "with_mention", None)];
    assert!(
        simple::product_weight(&with_quantity, &refs(&ps), BARCODE, ServerType::Off).is_empty()
    );
    let p = product(json!({}));
    let cases: Vec<(Vec<Prediction>, &str, Option<bool>)> = vec![
        (vec![weight("30 g", "with_mention", None)], "30 g", None),
        (
            vec![
                weight("30 g net", "no_mention", None),
                weight("150 g", "no_mention", None),
            ],
            "30 g net",
            Some(false),
        ),
        (
            vec![
                weight("30 g net", "with_ending_mention", None),
                weight("150 g", "no_mention", None),
            ],
            "30 g net",
            None,
        ),
        (
            vec![weight(
                "30 g net",
                "with_ending_mention",
                Some("product_name"),
            )],
            "30 g net",
            Some(false),
        ),
    ];
    for (ps, value, automatic) in cases {
        let cs = simple::product_weight(&p, &refs(&ps), BARCODE, ServerType::Off);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].value.as_deref(), Some(value));
        assert_eq!(cs[0].automatic_processing, automatic, "{value}");
        assert_eq!(cs[0].predictor.as_deref(), Some("ocr"));
    }
}

/// Spec §5.4: the latest date, not automatic when predictions disagree, none when the
/// product has a date.
#[test]
fn expiration_date_candidates() {
    let date = |v: &str| {
        pred(
            PredictionType::ExpirationDate,
            json!({"value": v, "automatic_processing": true}),
        )
    };
    let p = product(json!({}));
    let ps = [date("2024-01-02"), date("2025-03-01"), date("2023-12-31")];
    let cs = simple::expiration_date(&p, &refs(&ps), BARCODE, ServerType::Off);
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0].value.as_deref(), Some("2025-03-01"));
    assert_eq!(cs[0].automatic_processing, Some(false));
    let ps = [date("2024-01-02"), date("2024-01-02")];
    let cs = simple::expiration_date(&p, &refs(&ps), BARCODE, ServerType::Off);
    assert_eq!(cs[0].automatic_processing, Some(true));
    let dated = product(json!({"expiration_date": "2024-06-01"}));
    assert!(simple::expiration_date(&dated, &refs(&ps), BARCODE, ServerType::Off).is_empty());
}

/// `TestBrandInsightInsightImporter::test_is_prediction_valid`; spec §5.4 brand rules.
#[test]
fn brand_rules() {
    let res = resources();
    let cases = [
        ("3560070880973", "curated-list", "carrefour", true),
        ("3510070880973", "curated-list", "carrefour", false),
        ("3510070880973", "google-cloud-vision", "carrefour", true),
        ("3510070880973", "google-cloud-vision", "asia", true),
        ("3510070880973", "taxonomy", "asia", false),
    ];
    for (barcode, predictor, tag, valid) in cases {
        assert_eq!(
            simple::is_brand_prediction_valid(&res, Some(predictor), Some(tag), barcode),
            valid,
            "{barcode} {predictor} {tag}"
        );
    }
    let brand = |source: Option<&str>, automatic: Option<bool>| {
        pred(
            PredictionType::Brand,
            json!({"value_tag": "acme", "predictor": "universal-logo-detector",
                   "automatic_processing": automatic, "data": {"source": source}}),
        )
    };
    let p = product(json!({}));
    let ps = [
        brand(Some("product_name"), None),
        brand(None, None),
        brand(None, Some(true)),
    ];
    let cs = simple::brand(&res, &p, &refs(&ps), BARCODE, ServerType::Off);
    let automatic: Vec<Option<bool>> = cs.iter().map(|c| c.automatic_processing).collect();
    assert_eq!(automatic, vec![Some(true), Some(false), Some(true)]);
    let branded = product(json!({"brands_tags": ["acme"]}));
    assert!(simple::brand(&res, &branded, &refs(&ps), BARCODE, ServerType::Off).is_empty());
    let ps = [pred(PredictionType::Store, json!({"value_tag": "lidl"}))];
    let cs = simple::store(&refs(&ps), BARCODE, ServerType::Off);
    assert_eq!(cs[0].automatic_processing, Some(true));
}

/// `TestPackagingImporter::test_discard_packaging_element` (with the reversed cases)
/// and `test_sort_predictions`.
#[test]
fn packaging_rules() {
    let res = resources();
    let load = |t| match res.taxonomy(t) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let (shape, material, recycling) = (
        load(TaxonomyType::PackagingShape),
        load(TaxonomyType::PackagingMaterial),
        load(TaxonomyType::PackagingRecycling),
    );
    let taxonomies = PackagingTaxonomies {
        shape: &shape,
        material: &material,
        recycling: &recycling,
    };
    let el = |s: Option<&'static str>, m: Option<&'static str>, r: Option<&'static str>| Element {
        shape: s,
        material: m,
        recycling: r,
    };
    let ldpe = Some("en:ldpe-low-density-polyethylene");
    let cases = [
        (
            el(Some("en:tablespoon"), None, None),
            el(Some("en:tube"), None, None),
            false,
            false,
        ),
        (
            el(Some("en:tube"), None, None),
            el(Some("en:tube"), None, None),
            true,
            false,
        ),
        (
            el(Some("en:tube"), None, Some("en:reuse")),
            el(Some("en:tube"), None, None),
            false,
            true,
        ),
        (
            el(Some("en:tube"), Some("en:plastic"), Some("en:reuse")),
            el(Some("en:tube"), None, Some("en:reuse")),
            false,
            true,
        ),
        (
            el(Some("en:tube"), Some("en:plastic"), None),
            el(Some("en:tube"), ldpe, None),
            true,
            true,
        ),
        (
            el(Some("en:tube"), ldpe, None),
            el(Some("en:tube"), Some("en:plastic"), None),
            false,
            true,
        ),
        (
            el(Some("en:pizza-box"), Some("en:plastic"), None),
            el(Some("en:box"), ldpe, None),
            false,
            false,
        ),
        (
            el(Some("en:box"), ldpe, None),
            el(Some("en:pizza-box"), Some("en:plastic"), None),
            false,
            false,
        ),
        (
            el(Some("en:box"), None, None),
            el(Some("en:pizza-box"), None, None),
            true,
            true,
        ),
    ];
    for (cand, refr, expected, reverse) in cases {
        assert_eq!(
            is_uninformative(&cand, &refr, &taxonomies),
            expected,
            "{cand:?} vs {refr:?}"
        );
        if reverse {
            assert_eq!(
                is_uninformative(&refr, &cand, &taxonomies),
                !expected,
                "reversed"
            );
        }
    }
    let element = |keys: &[&str]| {
        let e: serde_json::Map<String, Value> =
            keys.iter().map(|k| (k.to_string(), json!(null))).collect();
        pred(PredictionType::Packaging, json!({"data": {"element": e}}))
    };
    let ps = [
        element(&["shape", "recycling"]),
        element(&["shape"]),
        element(&["shape", "recycling", "material"]),
    ];
    let mut sorted = refs(&ps);
    packaging::sort_predictions(&mut sorted);
    assert!(std::ptr::eq(sorted[0], &ps[2]) && std::ptr::eq(sorted[1], &ps[0]));

    // Shape-only excluded shapes, elements without a shape, elements the product has.
    let predicted = |e: Value| pred(PredictionType::Packaging, json!({"data": {"element": e}}));
    let bottle = json!({"shape": {"value": "bouteille", "value_tag": "en:bottle"}});
    let ps = [
        predicted(json!({"shape": {"value": "barquette", "value_tag": "en:tray"}})),
        predicted(json!({"material": {"value": "verre", "value_tag": "en:glass"}})),
        predicted(
            json!({"shape": {"value": "barquette", "value_tag": "en:tray"},
                         "material": {"value": "plastique", "value_tag": "en:plastic"}}),
        ),
        predicted(bottle),
    ];
    let p = product(json!({"packagings": [{"shape": "en:bottle", "material": "en:plastic"}]}));
    let cs = packaging::candidates(&taxonomies, &p, &refs(&ps), BARCODE, ServerType::Off);
    assert_eq!(cs.len(), 1);
    assert_eq!(
        cs[0].data,
        ps[2].data.as_object().cloned().unwrap_or_default()
    );
}
