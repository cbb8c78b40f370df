//! What Product Opener receives for every insight type's annotator: exact form fields,
//! JSON bodies, comments and credentials (spec api-db §4.2–§4.5, pipeline §8.3).

mod common;
#[path = "annotation_support/mod.rs"]
mod support;

use common::po::form;
use robotoff::annotation::{AnnotateRequest, AnnotationStatus as S, Auth};
use serde_json::{json, Value};
use support::*;

const CODE: &str = "3760094310634";
const IMAGE_2: &str = "/376/009/431/0634/2.jpg";

fn robotoff_creds(mut fields: Value) -> Value {
    fields["user_id"] = json!(ROBOTOFF_USER);
    fields["password"] = json!(ROBOTOFF_PASSWORD);
    fields
}

fn user_creds(mut fields: Value) -> Value {
    fields["user_id"] = json!("a");
    fields["password"] = json!("b");
    fields
}

#[tokio::test]
async fn field_updates() {
    let env = env().await;
    let mut p = product(CODE);
    p.emb_codes = Some("EMB 12345".into());
    env.store(p).await;

    // (insight, request builder, expected form without credentials, credentials of the caller)
    let packager = insight("packager_code", CODE)
        .value("FR 40.261.001 CE")
        .insert(&env.pool)
        .await;
    let label = insight("label", CODE)
        .tag("en:organic")
        .insert(&env.pool)
        .await;
    let expiration = insight("expiration_date", CODE)
        .value("01/02/2026")
        .insert(&env.pool)
        .await;
    let brand = insight("brand", CODE)
        .value("Lu")
        .tag("lu")
        .insert(&env.pool)
        .await;
    let store = insight("store", CODE)
        .value("Carrefour")
        .tag("carrefour")
        .insert(&env.pool)
        .await;

    env.expect(AnnotateRequest::automatic(packager), S::Updated)
        .await;
    env.expect(by_user(label, 1, basic()), S::Updated).await;
    env.expect(AnnotateRequest::automatic(expiration), S::Updated)
        .await;
    env.expect(AnnotateRequest::automatic(brand), S::Updated)
        .await;
    env.expect(AnnotateRequest::automatic(store), S::Updated)
        .await;

    let expected = [
        robotoff_creds(json!({
            "code": CODE, "emb_codes": "EMB 12345,FR 40.261.001 CE",
            "comment": format!("[robotoff] Adding packager codes 'EMB 12345,FR 40.261.001 CE', ID: {packager} (automated edit)")
        })),
        user_creds(json!({
            "code": CODE, "add_labels": "en:organic",
            "comment": format!("[robotoff] Adding label tag 'en:organic', ID: {label}")
        })),
        robotoff_creds(json!({
            "code": CODE, "expiration_date": "01/02/2026",
            "comment": format!("[robotoff] Adding expiration date '01/02/2026', ID: {expiration} (automated edit)")
        })),
        robotoff_creds(json!({
            "code": CODE, "add_brands": "Lu",
            "comment": format!("[robotoff] Adding brand 'Lu', ID: {brand} (automated edit)")
        })),
        robotoff_creds(json!({
            "code": CODE, "add_stores": "Carrefour",
            "comment": format!("[robotoff] Adding store 'Carrefour', ID: {store} (automated edit)")
        })),
    ];
    let writes = env.po.writes();
    assert_eq!(writes.len(), expected.len());
    for (w, e) in writes.iter().zip(expected) {
        assert_eq!(
            (w.method.as_str(), w.path.as_str()),
            ("POST", "/cgi/product_jqm2.pl")
        );
        assert_eq!(w.form_map(), form(e));
        assert_eq!(w.header("cookie"), None);
    }
    for id in [packager, label, expiration, brand, store] {
        let r = row(&env.pool, id).await;
        assert_eq!((r.annotation, r.annotated_result), (Some(1), Some(2)));
    }
    env.shutdown().await;
}

#[tokio::test]
async fn quantity_with_a_session_cookie() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = insight("product_weight", CODE)
        .value("500 g")
        .insert(&env.pool)
        .await;
    let auth = Auth::session("user_id&alice&user_session&XYZ");
    env.expect(by_user(id, 1, auth), S::Updated).await;
    let w = &env.po.writes()[0];
    assert_eq!(
        w.form_map(),
        form(
            json!({"code": CODE, "quantity": "500 g", "comment": format!("[robotoff] Updating quantity to '500 g', ID: {id}")})
        )
    );
    assert_eq!(
        w.header("cookie"),
        Some("session=user_id&alice&user_session&XYZ")
    );
    assert_eq!(row(&env.pool, id).await.username.as_deref(), Some("alice"));
    env.shutdown().await;
}

#[tokio::test]
async fn packaging_is_a_v3_patch() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = insight("packaging", CODE)
        .data(json!({"element": {"shape": {"value_tag": "en:bottle"}, "material": {"value_tag": "en:glass"}, "recycling": {"value_tag": null}}}))
        .insert(&env.pool)
        .await;
    env.expect(by_user(id, 1, basic()), S::Updated).await;
    let w = &env.po.writes()[0];
    assert_eq!(
        (w.method.as_str(), w.path.as_str()),
        ("PATCH", "/api/v3/product/3760094310634")
    );
    assert_eq!(
        w.json(),
        json!({
            "product": {"packagings_add": [{"shape": {"id": "en:bottle"}, "material": {"id": "en:glass"}}]},
            "fields": "none",
            "comment": format!("[robotoff] Updating/adding packaging elements 'en:bottle', ID: {id}"),
            "user_id": "a", "password": "b"
        })
    );
    env.shutdown().await;
}

#[tokio::test]
async fn image_selections() {
    let env = env().await;
    let mut p = product(CODE);
    p.images = json!({
        "1": {"sizes": {"full": {"w": 800, "h": 1000}}},
        "2": {"sizes": {"full": {"w": 1000, "h": 800}}},
        "ingredients_it": {"imgid": "1", "x1": "100", "y1": "200", "x2": "600", "y2": "800", "rev": "7"},
        "front_fr": {"imgid": "2", "rev": "3"},
        "packaging_fr": {"imgid": "2", "rev": "4"}
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    env.store(p).await;
    let nutrition = insight("nutrition_image", CODE)
        .tag("fr")
        .image(IMAGE_2)
        .data(json!({"rotation": 90, "bounding_box": [0.1, 0.1, 0.5, 0.5]}))
        .insert(&env.pool)
        .await;
    let orientation = insight("image_orientation", CODE)
        .tag("right")
        .image("/376/009/431/0634/1.jpg")
        .data(json!({"orientation": "right", "rotation": 270, "count": {"right": 19}, "image_key": "ingredients_it", "image_rev": "7"}))
        .insert(&env.pool)
        .await;
    let upc = insight("is_upc_image", CODE)
        .image(IMAGE_2)
        .insert(&env.pool)
        .await;

    env.expect(AnnotateRequest::automatic(nutrition), S::Updated)
        .await;
    env.expect(AnnotateRequest::automatic(orientation), S::Updated)
        .await;
    env.expect(by_user(upc, 1, basic()), S::Updated).await;

    let writes = env.po.writes();
    let paths: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "/cgi/product_image_crop.pl",
            "/cgi/product_image_crop.pl",
            "/cgi/product_image_unselect.pl",
            "/cgi/product_image_unselect.pl"
        ]
    );
    assert_eq!(
        writes[0].form_map(),
        form(robotoff_creds(json!({
            "code": CODE, "imgid": "2", "id": "nutrition_fr", "angle": "90", "coordinates_image_size": "full",
            "comment": "[robotoff] Selecting image 2 as nutrition_fr (automated edit)",
            "x1": "400.0", "y1": "100.0", "x2": "720.0", "y2": "500.0"
        })))
    );
    // The kept crop (y1, x1, y2, x2) = (200, 100, 800, 600) rotated by 270 in 800×1000.
    assert_eq!(
        writes[1].form_map(),
        form(robotoff_creds(json!({
            "code": CODE, "imgid": "1", "id": "ingredients_it", "angle": "270", "coordinates_image_size": "full",
            "comment": format!("[robotoff] Selecting image 1 as ingredients_it, ID: {orientation} (automated edit)"),
            "x1": "200.0", "y1": "200.0", "x2": "800.0", "y2": "700.0"
        })))
    );
    assert_eq!(
        writes[2].form_map(),
        form(user_creds(json!({"code": CODE, "id": "front_fr"})))
    );
    assert_eq!(
        writes[3].form_map(),
        form(user_creds(json!({"code": CODE, "id": "packaging_fr"})))
    );
    env.shutdown().await;
}

#[tokio::test]
async fn ingredient_texts() {
    let env = env().await;
    let mut p = product(CODE);
    p.images = json!({"2": {"sizes": {"full": {"w": 1000, "h": 800}}}})
        .as_object()
        .cloned()
        .unwrap_or_default();
    env.store(p).await;
    let spellcheck = insight("ingredient_spellcheck", CODE)
        .tag("fr")
        .data(json!({"original": "farine de blé, sucr", "correction": "farine de blé, sucre"}))
        .insert(&env.pool)
        .await;
    let detection = insight("ingredient_detection", CODE)
        .tag("en")
        .image(IMAGE_2)
        .data(json!({"text": "Water, salt", "bounding_box": [0.1, 0.1, 0.5, 0.5], "rotation": 180}))
        .insert(&env.pool)
        .await;

    let mut req = by_user(spellcheck, 2, basic());
    req.data = Some(json!({"annotation": "farine de blé, sucre, sel"}));
    env.expect(req, S::Updated).await;
    let mut req = by_user(detection, 2, basic());
    req.data = Some(
        json!({"annotation": "Bread, corn, salt", "rotation": 270, "bounding_box": [0.2, 0.2, 0.6, 0.6]}),
    );
    env.expect(req, S::Updated).await;

    let writes = env.po.writes();
    assert_eq!(writes.len(), 3);
    assert_eq!(
        writes[0].form_map(),
        form(user_creds(json!({
            "code": CODE, "ingredients_text_fr": "farine de blé, sucre, sel",
            "comment": format!("[robotoff] Ingredient spellcheck correction, ID: {spellcheck}")
        })))
    );
    assert_eq!(
        writes[1].form_map(),
        form(user_creds(json!({
            "code": CODE, "ingredients_text_en": "Bread, corn, salt",
            "comment": format!("[robotoff] Update ingredients, ID: {detection}")
        })))
    );
    assert_eq!(
        writes[2].form_map(),
        form(user_creds(json!({
            "code": CODE, "imgid": "2", "id": "ingredients_en", "angle": "270", "coordinates_image_size": "full",
            "comment": format!("[robotoff] Selecting image 2 as ingredients_en, ID: {detection}"),
            "x1": "160.0", "y1": "400.0", "x2": "480.0", "y2": "800.0"
        })))
    );
    let r = row(&env.pool, spellcheck).await;
    assert_eq!(r.data["annotation"], json!("farine de blé, sucre, sel"));
    assert_eq!((r.annotation, r.annotated_result), (Some(2), Some(2)));
    assert_eq!(
        row(&env.pool, detection).await.data["annotation"],
        json!("Bread, corn, salt")
    );
    env.shutdown().await;
}

/// Nutrition facts, then the image selected with the stored rotation and the single
/// nutrition-table detection (spec api-db §8 check 10).
#[tokio::test]
async fn nutrient_extraction_with_image_facts() {
    let env = env().await;
    let source = "/872/032/603/7888/2.jpg";
    let code = "8720326037888";
    let mut p = product(code);
    p.lang = Some("fr".into());
    p.images = json!({"2": {"sizes": {"full": {"w": 1000, "h": 2000}}}})
        .as_object()
        .cloned()
        .unwrap_or_default();
    env.store(p).await;
    sqlx::query(
        "INSERT INTO prediction (barcode, type, data, source_image, server_type) VALUES ($1, 'image_orientation', '{\"rotation\": 90}', $2, 'off')",
    )
    .bind(code)
    .bind(source)
    .execute(&env.pool)
    .await
    .expect("prediction");
    let image_id: i32 = sqlx::query_scalar(
        "INSERT INTO image (barcode, image_id, source_image, width, height, deleted, server_type) VALUES ($1, '2', $2, 1000, 2000, false, 'off') RETURNING id",
    )
    .bind(code)
    .bind(source)
    .fetch_one(&env.pool)
    .await
    .expect("image");
    sqlx::query(
        "INSERT INTO image_prediction (type, model_name, model_version, data, image_id) VALUES ('object_detection', 'nutrition_table', 'v1', $1, $2)",
    )
    .bind(json!({"objects": [
        {"label": "nutrition-table", "score": 0.550762104988098,
         "bounding_box": [0.06199073791503906, 0.20298996567726135, 0.4177824556827545, 0.9909706115722656]},
        {"label": "nutrition-table", "score": 0.2, "bounding_box": [0.0, 0.0, 0.1, 0.1]}
    ]}))
    .bind(image_id)
    .execute(&env.pool)
    .await
    .expect("image prediction");
    let id = insight("nutrient_extraction", code)
        .image(source)
        .data(json!({"nutrients": {
            "energy-kcal_100g": {"value": "250", "unit": null, "score": 0.98},
            "fat_100g": {"value": "12", "unit": "g", "score": 0.9},
            "salt_serving": {"value": "0.1", "unit": "g", "score": 0.8}
        }}))
        .insert(&env.pool)
        .await;
    env.expect(by_user(id, 1, basic()), S::Updated).await;
    let writes = env.po.writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(
        writes[0].form_map(),
        form(user_creds(json!({
            "code": code, "comment": format!("[robotoff] Update nutrient values, ID: {id}"),
            "nutrition_data_per": "100g",
            "nutriment_energy-kcal": "250", "nutriment_energy-kcal_unit": "kcal",
            "nutriment_fat": "12", "nutriment_fat_unit": "g"
        })))
    );
    assert_eq!(writes[1].path, "/cgi/product_image_crop.pl");
    assert_eq!(
        writes[1].form_map(),
        form(user_creds(json!({
            "code": code, "imgid": "2", "id": "nutrition_fr", "angle": "90", "coordinates_image_size": "full",
            "comment": format!("[robotoff] Selecting image 2 as nutrition_fr, ID: {id}"),
            "y1": "202.98996567726135", "x1": "1164.435088634491", "y2": "990.9706115722656", "x2": "1876.0185241699219"
        })))
    );
    let r = row(&env.pool, id).await;
    assert_eq!(r.data["was_updated"], json!(false));
    assert_eq!(
        r.data["annotation"],
        json!({"nutrients": {"energy-kcal": {"value": "250", "unit": "kcal"}, "fat": {"value": "12", "unit": "g"}},
               "serving_size": null, "nutrition_data_per": "100g"})
    );
    env.shutdown().await;
}
