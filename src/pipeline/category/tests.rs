//! The classifier's inputs and outputs (spec pipeline §2.12, §7.2).

use super::*;

fn taxonomy() -> Taxonomy {
    let json = br#"{
        "en:fishes": {"name": {"en": "Fishes"}},
        "en:salmons": {"name": {"en": "Salmons"}, "parents": ["en:fishes"]},
        "en:smoked-fishes": {"name": {"en": "Smoked fishes"}, "parents": ["en:fishes"]},
        "en:smoked-salmons": {"name": {"en": "Smoked salmons"}, "parents": ["en:salmons", "en:smoked-fishes"]},
        "en:trouts": {"name": {"en": "Trouts"}, "parents": ["en:fishes"]},
        "en:meats-and-their-products": {"name": {"en": "Meats"}}
    }"#;
    match Taxonomy::from_json_slice(json) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

fn labels(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Spec pipeline §2.12: threshold, exclusion, unknown categories, neighbours' raw scores.
#[test]
fn scores_become_predictions_with_neighbours() {
    let l = labels(&[
        "en:fishes",
        "en:smoked-salmons",
        "en:salmons",
        "en:meats-and-their-products",
        "en:unknown-cat",
    ]);
    let p = postprocess(&[0.8, 0.9, 0.6, 0.95, 0.7], &l, 0.5, &taxonomy());
    let cats: Vec<&str> = p.iter().map(|p| p.category.as_str()).collect();
    assert_eq!(cats, ["en:smoked-salmons", "en:fishes", "en:salmons"]);
    assert_eq!(p[0].confidence, f64::from(0.9f32));
    let nb = &p[0].neighbors;
    assert_eq!(nb["parents"]["en:salmons"], json!(f64::from(0.6f32)));
    assert_eq!(nb["parents"]["en:smoked-fishes"], Value::Null);
    assert!(nb["siblings"].as_object().is_some_and(|s| s.is_empty()));
    let deepest = deepest_only(p, &taxonomy());
    let cats: Vec<&str> = deepest.iter().map(|p| p.category.as_str()).collect();
    assert_eq!(cats, ["en:smoked-salmons"]);
    let preds = predictions(&deepest);
    assert_eq!(preds[0].predictor.as_deref(), Some("neural"));
    assert_eq!(
        preds[0].predictor_version.as_deref(),
        Some(PREDICTOR_VERSION)
    );
}

#[test]
fn tensors_in_order_with_blank_lists_and_one_masked_image() {
    let input = CategoryInput {
        product_name: Some("Biscuits".into()),
        nutrients: [-1.0; 9],
        ..CategoryInput::default()
    };
    let t = input.tensors();
    let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "product_name",
            "ingredients_tags",
            "fat",
            "saturated_fat",
            "carbohydrates",
            "sugars",
            "fiber",
            "proteins",
            "salt",
            "energy_kcal",
            "fruits_vegetables_nuts",
            "ingredients_ocr_tags",
            "image_embeddings",
            "image_embeddings_mask"
        ]
    );
    assert_eq!(t[1].shape, [1, 1]);
    assert_eq!(t[13].len(), 10);
    let debug = input.debug(0.5);
    assert_eq!(debug["inputs"]["fat"], json!(-1));
    assert_eq!(debug["inputs"]["ingredients_tags"], json!([""]));
    assert_eq!(debug["inputs"]["num_images"], json!(0));
}

#[test]
fn tags_and_nutrients() {
    assert_eq!(ingredient_tag("en:Wheat Flour"), "en:wheat-flour");
    assert_eq!(ingredient_tag("Crème d'Or & co!"), "creme-d-or-co");
    assert_eq!(ingredient_tag("--x--"), "x");
    let mut p = Product::new("1", ServerType::Off);
    p.schema_version = 1003;
    p.nutrition = Some(json!({"aggregated_set": {"nutrients": {
        "fat": {"value": 12.5}, "energy-kcal": {"value": 4000.0}, "salt": {"value": -1.0}
    }}}));
    let n = nutrient_inputs(&p);
    assert_eq!(n[0], 12.5);
    assert_eq!(n[7], -2.0);
    assert_eq!(n[6], -2.0);
    assert_eq!(n[1], -1.0);
    p.schema_version = 1002;
    assert_eq!(nutrient_inputs(&p), [-1.0; 9]);
}

#[test]
fn ingredients_found_in_ocr_texts() {
    let json = br#"{
        "en:sugar": {"name": {"en": "sugar", "fr": "sucre"}},
        "en:sunflower-oil": {"name": {"en": "sunflower oil", "fr": "huile de tournesol"}},
        "en:salt": {"name": {"en": "salt", "fr": "sel"}}
    }"#;
    let tax = Taxonomy::from_json_slice(json).ok();
    let found = tax
        .map(|t| {
            OcrIngredients::new(&t).tags(&[
                "HUILE  DE\nTOURNESOL, sucre".to_string(),
                "sel|sucre".to_string(),
            ])
        })
        .unwrap_or_default();
    assert_eq!(found, ["en:sunflower-oil", "en:sugar", "en:salt"]);
}
