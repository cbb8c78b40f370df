//! The product store round-trips every field importers read.

mod common;

use robotoff::infra::db::products;
use robotoff::types::{Product, ServerType};
use serde_json::json;
use sqlx::PgPool;

#[tokio::test]
async fn products_round_trip_and_upsert_replaces() {
    let pool = PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool");
    let mut p = Product::new("3456300016208", ServerType::Off);
    p.lang = Some("fr".into());
    p.product_name = Some("Biscuits".into());
    p.quantity = Some("250 g".into());
    p.labels_tags = vec!["en:organic".into(), "fr:ab-agriculture-biologique".into()];
    p.countries_tags = vec!["en:france".into()];
    p.unique_scans_n = 12;
    p.schema_version = 1003;
    p.images = json!({"1": {"sizes": {"full": {"w": 10, "h": 20}}}})
        .as_object()
        .cloned()
        .unwrap_or_default();
    p.packagings = vec![json!({"shape": "en:box"})];
    p.nutriments = json!({"energy-kcal_100g": 400})
        .as_object()
        .cloned()
        .unwrap_or_default();
    p.nutrition_data_per = Some("100g".into());
    p.serving_size = Some("30 g".into());
    p.ingredients_texts
        .insert("ingredients_text_fr".into(), "farine, sucre".into());
    let mut obf = Product::new("3456300016208", ServerType::Obf);
    obf.product_name = Some("Crème".into());
    assert_eq!(
        products::upsert_many(&pool, &[p.clone(), obf.clone()])
            .await
            .expect("upsert"),
        2
    );

    let mut conn = pool.acquire().await.expect("conn");
    assert_eq!(
        products::get(&mut conn, &p.code, ServerType::Off)
            .await
            .expect("get"),
        Some(p.clone())
    );
    assert_eq!(
        products::get(&mut conn, &p.code, ServerType::Obf)
            .await
            .expect("get"),
        Some(obf)
    );
    assert_eq!(
        products::get(&mut conn, "0000", ServerType::Off)
            .await
            .expect("get"),
        None
    );

    p.quantity = None;
    p.labels_tags.clear();
    products::upsert_many(&pool, std::slice::from_ref(&p))
        .await
        .expect("upsert");
    assert_eq!(
        products::get(&mut conn, &p.code, ServerType::Off)
            .await
            .expect("get"),
        Some(p.clone())
    );
    assert!(products::delete(&pool, &p.code, ServerType::Off)
        .await
        .expect("delete"));
    assert!(!products::delete(&pool, &p.code, ServerType::Off)
        .await
        .expect("delete"));
    assert_eq!(
        products::get(&mut conn, &p.code, ServerType::Off)
            .await
            .expect("get"),
        None
    );
}
