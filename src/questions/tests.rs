//! Cases from Robotoff's `tests/unit/insights/test_question.py` (spec api-db §5), run
//! against the shipped translations, taxonomies and label logos.

use super::*;
use serde_json::json;
use std::path::Path;

const IMAGES: &str = "https://images.openfoodfacts.net";

fn data_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
}

struct Fixture {
    translations: Translations,
    taxonomies: Taxonomies,
    logos: HashMap<String, String>,
}

fn fixture() -> Fixture {
    let logos = std::fs::read_to_string(data_dir().join("label_logos.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Fixture {
        translations: Translations::load(&data_dir().join("i18n")).unwrap_or_default(),
        taxonomies: Taxonomies::new(data_dir()),
        logos,
    }
}

fn ctx(f: &Fixture) -> QuestionContext<'_> {
    QuestionContext {
        translations: &f.translations,
        taxonomies: &f.taxonomies,
        label_logos: &f.logos,
        images_url: IMAGES,
    }
}

fn view<'a>(
    kind: &'a str,
    value: Option<&'a str>,
    value_tag: Option<&'a str>,
    source_image: Option<&'a str>,
    data: &'a serde_json::Value,
) -> InsightView<'a> {
    InsightView {
        id: "94371643-c2bc-4291-a585-af2cb1a5270a".into(),
        barcode: "1111111111",
        server_type: "off",
        kind,
        value,
        value_tag,
        source_image,
        predictor: None,
        data,
    }
}

fn as_json(q: Option<Question>) -> serde_json::Value {
    serde_json::to_value(q).unwrap_or_default()
}

#[test]
fn display_images() {
    // test_get_display_image
    for (input, output) in [
        ("/366/194/903/0038/1.jpg", "/366/194/903/0038/1.400.jpg"),
        ("/366/194/903/0038/20.jpg", "/366/194/903/0038/20.400.jpg"),
        (
            "/366/194/903/0038/20.400.jpg",
            "/366/194/903/0038/20.400.jpg",
        ),
        (
            "/366/194/903/0038/20test.jpg",
            "/366/194/903/0038/20test.jpg",
        ),
    ] {
        assert_eq!(display_image(input), output);
    }
}

#[test]
fn barcode_folders() {
    assert_eq!(
        split_barcode("00000001").as_deref(),
        Some("000/000/000/0001")
    );
    assert_eq!(
        split_barcode("3017620422003").as_deref(),
        Some("301/762/042/2003")
    );
    assert_eq!(
        split_barcode("org-lea-nature/3307130803004").as_deref(),
        Some("org-lea-nature/330/713/080/3004")
    );
    assert_eq!(split_barcode("12a"), None);
}

#[test]
fn category_questions_in_three_languages() {
    // test_category_question_formatter
    let f = fixture();
    let images = json!({"front_fr": {"rev": "10", "sizes": {"400": {}}}});
    let data = json!({});
    for (lang, value, tag, text) in [
        (
            "fr",
            "Pains",
            "en:breads",
            "Le produit appartient-il à cette catégorie ?",
        ),
        (
            "en",
            "Butters",
            "en:butters",
            "Does the product belong to this category?",
        ),
        (
            "es",
            "Mantequillas",
            "en:butters",
            "¿Pertenece el producto a esta categoría?",
        ),
    ] {
        let insight = view("category", None, Some(tag), None, &data);
        let q = format(&ctx(&f), &insight, lang, images.as_object());
        assert_eq!(
            as_json(q),
            json!({
                "barcode": "1111111111", "type": "add-binary", "value": value, "value_tag": tag,
                "question": text, "insight_id": "94371643-c2bc-4291-a585-af2cb1a5270a",
                "insight_type": "category", "server_type": "off",
                "source_image_url": "https://images.openfoodfacts.net/images/products/000/111/111/1111/front_fr.10.400.jpg"
            })
        );
    }
}

#[test]
fn label_questions_with_logos() {
    // test_label_question_formatter
    let f = fixture();
    let data = json!({});
    for (lang, value, tag, text, logo) in [
        (
            "fr",
            "Bio européen",
            "en:eu-organic",
            "Le produit a-t-il ce label ?",
            Some("https://static.openfoodfacts.org/images/lang/en/labels/eu-organic.135x90.svg"),
        ),
        (
            "en",
            "Nutriscore Grade A",
            "en:nutriscore-grade-a",
            "Does the product have this label?",
            Some("https://static.openfoodfacts.org/images/attributes/dist/nutriscore-a.svg"),
        ),
        (
            "en",
            "Made in France",
            "en:made-in-france",
            "Does the product have this label?",
            None,
        ),
    ] {
        let insight = view(
            "label",
            None,
            Some(tag),
            Some("/000/111/111/1111/1.jpg"),
            &data,
        );
        let mut expected = json!({
            "barcode": "1111111111", "type": "add-binary", "value": value, "value_tag": tag,
            "question": text, "insight_id": "94371643-c2bc-4291-a585-af2cb1a5270a",
            "insight_type": "label", "server_type": "off",
            "source_image_url": "https://images.openfoodfacts.net/images/products/000/111/111/1111/1.400.jpg"
        });
        if let (Some(logo), Some(obj)) = (logo, expected.as_object_mut()) {
            obj.insert("ref_image_url".into(), json!(logo));
        }
        assert_eq!(as_json(format(&ctx(&f), &insight, lang, None)), expected);
    }
}

#[test]
fn image_orientation_question() {
    // TestImageOrientationQuestionFormatter::test_format_question
    let f = fixture();
    let data = json!({"image_key": "front_fr", "image_rev": "10"});
    let insight = view(
        "image_orientation",
        None,
        Some("right"),
        Some("/000/111/111/1111/1.jpg"),
        &data,
    );
    assert_eq!(
        as_json(format(&ctx(&f), &insight, "en", None)),
        json!({
            "barcode": "1111111111", "type": "add-binary", "value": "right",
            "question": "Is this image rotated with the following orientation?",
            "insight_id": "94371643-c2bc-4291-a585-af2cb1a5270a",
            "insight_type": "image_orientation", "server_type": "off",
            "source_image_url": "https://images.openfoodfacts.net/images/products/000/111/111/1111/front_fr.10.400.jpg"
        })
    );
}

#[test]
fn generic_image_prefers_selected_then_newest_raw() {
    // TestGetSourceImageUrl
    let images =
        json!({"1": {"sizes": {"400": {}}}, "front_fr": {"rev": "8", "sizes": {"400": {}}}});
    let obj = images.as_object().cloned().unwrap_or_default();
    assert_eq!(
        generic_image_url(
            IMAGES,
            "1111111111",
            &obj,
            &["front", "ingredients", "nutrition"]
        )
        .as_deref(),
        Some(
            "https://images.openfoodfacts.net/images/products/000/111/111/1111/front_fr.8.400.jpg"
        )
    );
    let images = json!({"1": {"sizes": {"400": {}}}, "2": {"sizes": {"400": {}}}});
    let obj = images.as_object().cloned().unwrap_or_default();
    assert_eq!(
        generic_image_url(IMAGES, "1111111111", &obj, &["front"]).as_deref(),
        Some("https://images.openfoodfacts.net/images/products/000/111/111/1111/2.400.jpg")
    );
    assert_eq!(
        generic_image_url(IMAGES, "1111111111", &serde_json::Map::new(), &["front"]),
        None
    );
}

#[test]
fn packaging_brand_weight_and_other_types() {
    let f = fixture();
    let data = json!({"element": {"shape": {"value_tag": "en:bottle"}, "material": {"value_tag": "en:glass"}}});
    let q = format(
        &ctx(&f),
        &view("packaging", None, None, None, &data),
        "en",
        None,
    );
    assert_eq!(
        q.as_ref().and_then(|q| q.value.clone()).as_deref(),
        Some("Bottle, Glass")
    );
    let empty = json!({});
    let q = format(
        &ctx(&f),
        &view(
            "product_weight",
            Some("250 g"),
            None,
            Some("/000/111/111/1111/3.jpg"),
            &empty,
        ),
        "fr",
        None,
    );
    let q = as_json(q);
    assert_eq!(q["value"], json!("250 g"));
    assert_eq!(
        q["question"],
        json!("Ce poids correspond-il au poids affiché sur le produit ?")
    );
    assert!(q.get("value_tag").is_none());
    let mut brand = view(
        "brand",
        Some("Nutella"),
        Some("nutella"),
        Some("/000/111/111/1111/3.jpg"),
        &empty,
    );
    brand.predictor = Some("curated-list");
    let images = json!({"front_en": {"rev": 4, "sizes": {"400": {}}}});
    let q = as_json(format(&ctx(&f), &brand, "en", images.as_object()));
    assert_eq!(
        q["source_image_url"],
        json!(
            "https://images.openfoodfacts.net/images/products/000/111/111/1111/front_en.4.400.jpg"
        )
    );
    let q = as_json(format(&ctx(&f), &brand, "en", None));
    assert_eq!(
        q["source_image_url"],
        json!("https://images.openfoodfacts.net/images/products/000/111/111/1111/3.400.jpg")
    );
    assert!(format(
        &ctx(&f),
        &view("nutrient", None, None, None, &empty),
        "en",
        None
    )
    .is_none());
}

#[test]
fn question_type_selection() {
    assert_eq!(question_types(None).len(), 5);
    let asked = vec![
        "label".to_string(),
        "nutrient".to_string(),
        "is_upc_image".to_string(),
    ];
    assert_eq!(
        question_types(Some(&asked)),
        vec!["label".to_string(), "is_upc_image".to_string()]
    );
    assert!(question_types(Some(&["trace".to_string()])).is_empty());
}
