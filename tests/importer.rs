//! Prediction import, insight refresh and product deletion against a real PostgreSQL
//! (spec pipeline §5.1–§5.7, §10.9; Robotoff's `tests/integration/insights/test_importer.py`).

mod common;

use chrono::TimeDelta;
use robotoff::infra::db::{insights as insight_db, predictions as prediction_db, products};
use robotoff::insights::import::{
    delete_product, import_product_predictions, refresh_product, ImportSummary, Importing,
};
use robotoff::insights::ImportResources;
use robotoff::types::{Insight, Prediction, PredictionType, Product, ServerType};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

const BARCODE: &str = "3760094310634";
const IMAGE_1: &str = "/376/009/431/0634/1.jpg";
const IMAGE_2: &str = "/376/009/431/0634/2.jpg";

fn importing() -> Importing {
    static RES: OnceLock<Arc<ImportResources>> = OnceLock::new();
    let resources = RES
        .get_or_init(|| {
            Arc::new(ImportResources::load(common::shared_data_dir()).expect("shared data loads"))
        })
        .clone();
    Importing {
        resources,
        automatic_processing_wait: TimeDelta::minutes(10),
    }
}

async fn pool() -> PgPool {
    PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool")
}

fn product(labels: &[&str]) -> Product {
    let mut p = Product::new(BARCODE, ServerType::Off);
    p.lang = Some("fr".into());
    p.labels_tags = labels.iter().map(|s| s.to_string()).collect();
    p.categories_tags = vec!["en:pork".into()];
    p.brands_tags = vec!["acme".into()];
    p.countries_tags = vec!["en:france".into()];
    p.unique_scans_n = 42;
    p.images = json!({
        "1": {"sizes": {"full": {"w": 1000, "h": 2000}}, "uploaded_t": 1600000000},
        "2": {"sizes": {"full": {"w": 1000, "h": 2000}}, "uploaded_t": 1600000100},
        "front_fr": {"imgid": "1", "rev": "3", "angle": 0}
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    p
}

fn prediction(kind: PredictionType, tag: &str, image: Option<&str>, predictor: &str) -> Prediction {
    let mut p = Prediction::new(kind);
    p.barcode = Some(BARCODE.into());
    p.value_tag = Some(tag.into());
    p.source_image = image.map(str::to_string);
    p.predictor = Some(predictor.into());
    p
}

async fn import(pool: &PgPool, predictions: Vec<Prediction>) -> ImportSummary {
    let mut tx = pool.begin().await.expect("begin");
    let s =
        import_product_predictions(&mut tx, &importing(), BARCODE, ServerType::Off, predictions)
            .await
            .expect("import");
    tx.commit().await.expect("commit");
    s
}

async fn refresh(pool: &PgPool) -> ImportSummary {
    let mut tx = pool.begin().await.expect("begin");
    let s = refresh_product(&mut tx, &importing(), BARCODE, ServerType::Off)
        .await
        .expect("refresh");
    tx.commit().await.expect("commit");
    s
}

async fn insights(pool: &PgPool) -> Vec<Insight> {
    let mut conn = pool.acquire().await.expect("conn");
    let c: &mut PgConnection = &mut conn;
    insight_db::for_product(c, BARCODE, ServerType::Off)
        .await
        .expect("insights")
}

async fn stored_predictions(pool: &PgPool) -> Vec<Prediction> {
    let mut conn = pool.acquire().await.expect("conn");
    prediction_db::for_product(&mut conn, BARCODE, ServerType::Off)
        .await
        .expect("predictions")
}

fn tags(insights: &[Insight]) -> BTreeSet<(String, String)> {
    insights
        .iter()
        .map(|i| (i.kind.to_string(), i.value_tag.clone().unwrap_or_default()))
        .collect()
}

fn label_batch() -> Vec<Prediction> {
    vec![
        // parent of the product's en:eu-organic
        prediction(PredictionType::Label, "en:organic", Some(IMAGE_1), "regex"),
        // already on the product
        prediction(
            PredictionType::Label,
            "en:eu-organic",
            Some(IMAGE_1),
            "flashtext",
        ),
        // new information
        prediction(PredictionType::Label, "en:vegan", Some(IMAGE_1), "regex"),
        // parent of the product's en:pork
        prediction(PredictionType::Category, "en:meats", None, "neural"),
        // the product has a brand
        prediction(
            PredictionType::Brand,
            "carrefour",
            Some(IMAGE_1),
            "curated-list",
        ),
    ]
}

/// Spec §5.4: predictions that contradict or repeat the product are stored but give no
/// insight; the new label does, with the product's fields copied (§5.3 step 8).
#[tokio::test]
async fn only_non_conflicting_insights_are_created() {
    let pool = pool().await;
    products::upsert_many(&pool, &[product(&["en:eu-organic"])])
        .await
        .expect("product");
    let s = import(&pool, label_batch()).await;
    assert_eq!(
        s,
        ImportSummary {
            predictions_created: 5,
            predictions_deleted: 0,
            insights_created: 1,
            insights_updated: 0,
            insights_deleted: 0,
        }
    );
    let all = insights(&pool).await;
    assert_eq!(all.len(), 1);
    let vegan = &all[0];
    assert_eq!(vegan.kind, PredictionType::Label);
    assert_eq!(vegan.value_tag.as_deref(), Some("en:vegan"));
    // en:vegan is whitelisted for the regex predictor: applied automatically after the wait.
    assert!(vegan.automatic_processing);
    let (ts, after) = (
        vegan.timestamp.expect("timestamp"),
        vegan.process_after.expect("process_after"),
    );
    assert_eq!(after - ts, TimeDelta::minutes(10));
    assert_eq!(vegan.countries, vec!["en:france"]);
    assert_eq!(vegan.brands, vec!["acme"]);
    assert_eq!(vegan.unique_scans_n, 42);
    assert_eq!(vegan.with_image, Some(true));
    assert_eq!(vegan.source_image.as_deref(), Some(IMAGE_1));
    assert_eq!(vegan.server_type, ServerType::Off);
    assert_eq!(stored_predictions(&pool).await.len(), 5);
}

/// Spec §5.6: once the product no longer has the label, a refresh from the stored
/// predictions proposes it (the deepest of en:organic / en:eu-organic); the pending
/// automatic en:vegan insight is left as it is.
#[tokio::test]
async fn refresh_after_a_product_update_creates_the_insight() {
    let pool = pool().await;
    products::upsert_many(&pool, &[product(&["en:eu-organic"])])
        .await
        .expect("product");
    import(&pool, label_batch()).await;
    let before = insights(&pool).await;
    products::upsert_many(&pool, &[product(&[])])
        .await
        .expect("product update");
    let s = refresh(&pool).await;
    assert_eq!(
        (s.insights_created, s.insights_updated, s.insights_deleted),
        (1, 0, 0)
    );
    assert_eq!(s.predictions_created, 0);
    let after = insights(&pool).await;
    assert_eq!(
        tags(&after),
        BTreeSet::from([
            ("label".to_string(), "en:eu-organic".to_string()),
            ("label".to_string(), "en:vegan".to_string()),
        ])
    );
    let vegan = after
        .iter()
        .find(|i| i.value_tag.as_deref() == Some("en:vegan"))
        .expect("vegan insight");
    assert_eq!(vegan, &before[0], "the automatic insight is not touched");
}

/// Running the same import twice leaves the same state: no duplicate prediction, no new
/// insight; the non-automatic insight is updated in place (keeping its id, as Robotoff
/// does so that votes keep pointing at it), the automatic one is left alone.
#[tokio::test]
async fn importing_twice_is_idempotent() {
    let pool = pool().await;
    products::upsert_many(&pool, &[product(&[])])
        .await
        .expect("product");
    let mut batch = label_batch();
    batch.push(prediction(
        PredictionType::Label,
        "en:vegan",
        Some(IMAGE_1),
        "regex",
    ));
    let first = import(&pool, batch.clone()).await;
    assert_eq!(
        first.predictions_created, 5,
        "a repeat within the batch is stored once"
    );
    let ids: BTreeSet<_> = insights(&pool).await.iter().map(|i| i.id).collect();
    let predictions = stored_predictions(&pool).await.len();
    let second = import(&pool, batch).await;
    // Category predictions replace every stored category prediction (spec §5.2), so the
    // category one is replaced by its copy; nothing else is stored again.
    assert_eq!(second.predictions_created, 1);
    assert_eq!(second.predictions_deleted, 1);
    assert_eq!(second.insights_created, 0);
    assert_eq!(second.insights_updated, 1);
    assert_eq!(second.insights_deleted, 0);
    let again: BTreeSet<_> = insights(&pool).await.iter().map(|i| i.id).collect();
    assert_eq!(again, ids);
    assert_eq!(stored_predictions(&pool).await.len(), predictions);
}

/// Spec §2.2 / §5.7: a deleted product loses its predictions and non-annotated insights;
/// annotated ones stay.
#[tokio::test]
async fn product_deletion_keeps_annotated_insights() {
    let pool = pool().await;
    products::upsert_many(&pool, &[product(&[])])
        .await
        .expect("product");
    import(&pool, label_batch()).await;
    let all = insights(&pool).await;
    assert!(all.len() >= 2, "{all:?}");
    let annotated = all[0].id;
    sqlx::query("UPDATE product_insight SET annotation = 1 WHERE id = $1")
        .bind(annotated)
        .execute(&pool)
        .await
        .expect("annotate");
    let mut tx = pool.begin().await.expect("begin");
    let s = delete_product(&mut tx, BARCODE, ServerType::Off)
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    assert_eq!(s.predictions_deleted, 5);
    assert_eq!(s.insights_deleted, all.len() - 1);
    let left = insights(&pool).await;
    assert_eq!(
        left.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![annotated]
    );
    assert!(stored_predictions(&pool).await.is_empty());
}

/// Spec §5.1 step 1: predictions of a missing product, or of an image the product does
/// not have, are not stored. §5.7: a refresh of a missing product deletes every insight
/// of the types it has predictions for, annotated ones included.
#[tokio::test]
async fn missing_products_and_unknown_images() {
    let pool = pool().await;
    let s = import(&pool, label_batch()).await;
    assert_eq!(s, ImportSummary::default());
    assert!(stored_predictions(&pool).await.is_empty());

    products::upsert_many(&pool, &[product(&[])])
        .await
        .expect("product");
    let s = import(
        &pool,
        vec![
            prediction(
                PredictionType::Label,
                "en:vegan",
                Some("/376/009/431/0634/9.jpg"),
                "regex",
            ),
            prediction(
                PredictionType::Label,
                "en:vegan",
                Some("/376/009/431/0634/front_fr.jpg"),
                "regex",
            ),
            prediction(PredictionType::Store, "lidl", Some(IMAGE_2), "regex"),
        ],
    )
    .await;
    assert_eq!((s.predictions_created, s.insights_created), (1, 1));
    let all = insights(&pool).await;
    sqlx::query("UPDATE product_insight SET annotation = 1 WHERE id = $1")
        .bind(all[0].id)
        .execute(&pool)
        .await
        .expect("annotate");
    products::delete(&pool, BARCODE, ServerType::Off)
        .await
        .expect("delete product");
    let s = refresh(&pool).await;
    assert_eq!(s.insights_deleted, 1);
    assert!(insights(&pool).await.is_empty());
}

/// Spec §10.9, `test_import_product_predictions`: a new predictor version of a label
/// on image 1 replaces the image-1 label predictions of older versions (2 deleted), not
/// those of image 2, of another flavor, or of another type.
#[tokio::test]
async fn new_predictor_versions_replace_older_ones() {
    let pool = pool().await;
    products::upsert_many(&pool, &[product(&[])])
        .await
        .expect("product");
    let mut conn = pool.acquire().await.expect("conn");
    let mut setup = vec![
        prediction(PredictionType::Label, "en:organic", Some(IMAGE_1), "p"),
        prediction(PredictionType::Label, "en:organic", Some(IMAGE_2), "p"),
        prediction(PredictionType::Label, "en:organic", Some(IMAGE_1), "p"),
        prediction(
            PredictionType::Label,
            "en:fairtrade-international",
            Some(IMAGE_1),
            "p",
        ),
        prediction(PredictionType::Store, "Auchan", Some(IMAGE_1), "p"),
    ];
    setup[2].server_type = ServerType::Obf;
    let stored = prediction_db::insert_many(&mut conn, &setup)
        .await
        .expect("setup");
    drop(conn);
    let mut new = prediction(PredictionType::Label, "en:organic", Some(IMAGE_1), "p");
    new.predictor_version = Some("2".into());
    let s = import(&pool, vec![new]).await;
    assert_eq!((s.predictions_created, s.predictions_deleted), (1, 2));
    let left: BTreeSet<i32> = sqlx::query_scalar("SELECT id FROM prediction")
        .fetch_all(&pool)
        .await
        .expect("ids")
        .into_iter()
        .collect();
    let id = |i: usize| stored[i].id.expect("id");
    assert!(!left.contains(&id(0)) && !left.contains(&id(3)));
    assert!(left.contains(&id(1)) && left.contains(&id(2)) && left.contains(&id(4)));
    assert_eq!(left.len(), 4);
}

/// Spec §10.9, `test_category_predictions_cleanup`: a category prediction replaces the
/// stored category predictions of every image and version.
#[tokio::test]
async fn category_predictions_replace_each_other() {
    let pool = pool().await;
    products::upsert_many(&pool, &[product(&[])])
        .await
        .expect("product");
    let mut old_1 = prediction(PredictionType::Category, "en:snacks", Some(IMAGE_1), "p");
    old_1.predictor_version = Some("old-v1".into());
    let mut old_2 = prediction(PredictionType::Category, "en:biscuits", Some(IMAGE_2), "p");
    old_2.predictor_version = Some("old-v2".into());
    let mut conn = pool.acquire().await.expect("conn");
    prediction_db::insert_many(&mut conn, &[old_1, old_2])
        .await
        .expect("setup");
    drop(conn);
    let mut new = prediction(PredictionType::Category, "en:crackers", Some(IMAGE_1), "p");
    new.predictor_version = Some("new-v1".into());
    let s = import(&pool, vec![new]).await;
    assert_eq!((s.predictions_created, s.predictions_deleted), (1, 2));
    let left = stored_predictions(&pool).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].value_tag.as_deref(), Some("en:crackers"));
}

/// Spec §4.1 / §5.3: an insight about to be applied automatically is never replaced by
/// a re-import, and annotated insights are never touched.
#[tokio::test]
async fn automatic_and_annotated_insights_are_not_touched() {
    let pool = pool().await;
    products::upsert_many(&pool, &[product(&[])])
        .await
        .expect("product");
    import(
        &pool,
        vec![prediction(
            PredictionType::Store,
            "lidl",
            Some(IMAGE_1),
            "regex",
        )],
    )
    .await;
    let first = insights(&pool).await;
    assert_eq!(first.len(), 1);
    assert!(first[0].automatic_processing && first[0].process_after.is_some());
    // The same store seen on a newer image: the pending automatic insight stays as is.
    let s = import(
        &pool,
        vec![prediction(
            PredictionType::Store,
            "lidl",
            Some(IMAGE_2),
            "regex",
        )],
    )
    .await;
    assert_eq!(
        (s.insights_created, s.insights_updated, s.insights_deleted),
        (0, 0, 0)
    );
    assert_eq!(insights(&pool).await, first);
    // Annotated, then refreshed: kept unchanged.
    sqlx::query("UPDATE product_insight SET annotation = 0, automatic_processing = false")
        .execute(&pool)
        .await
        .expect("annotate");
    let annotated = insights(&pool).await;
    let s = refresh(&pool).await;
    assert_eq!((s.insights_updated, s.insights_deleted), (0, 0));
    assert_eq!(
        s.insights_created, 0,
        "the store conflicts with the annotated insight"
    );
    assert_eq!(insights(&pool).await, annotated);
}
