//! Image deletion, nutrition-table detections and the product-shard path of the
//! importer, against a real PostgreSQL (spec pipeline §2.4, §2.9, §10.7).

mod common;

use robotoff::actors::product_shard::ShardMsg;
use robotoff::actors::shards;
use robotoff::infra::db::{insights as insight_db, products};
use robotoff::insights::import::{delete_images, DeletionSummary, LogoPolicy};
use robotoff::insights::NUTRITION_TABLE_MIN_SCORE;
use robotoff::types::{Prediction, PredictionType, Product, ServerType};
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeSet;

const BARCODE: &str = "1234567890123";
const OTHER: &str = "9999999999999";

async fn pool() -> PgPool {
    PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool")
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

async fn ids(pool: &PgPool, sql: &str) -> BTreeSet<i64> {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .expect("ids")
        .into_iter()
        .collect()
}

/// The records of spec §10.7: images 1000 (image 1), 1001 (image 2), 1002 (other
/// barcode), 1003 (same barcode on obf); one detection per image; four logos on image 1
/// (3000 annotated), one on each other image; predictions and insights.
async fn setup_image_records(pool: &PgPool) {
    exec(
        pool,
        &format!(
            r#"
INSERT INTO image (id, barcode, image_id, source_image, width, height, deleted, server_type) VALUES
 (1000, '{BARCODE}', '1', '/123/456/789/0123/1.jpg', 10, 10, false, 'off'),
 (1001, '{BARCODE}', '2', '/123/456/789/0123/2.jpg', 10, 10, false, 'off'),
 (1002, '{OTHER}', '1', '/999/999/999/9999/1.jpg', 10, 10, false, 'off'),
 (1003, '{BARCODE}', '1', '/123/456/789/0123/1.jpg', 10, 10, false, 'obf');
INSERT INTO image_prediction (id, type, model_name, model_version, data, image_id) VALUES
 (2000, 'object_detection', 'universal_logo_detector', 'v1', '{{}}', 1000),
 (2001, 'object_detection', 'universal_logo_detector', 'v1', '{{}}', 1001),
 (2002, 'object_detection', 'universal_logo_detector', 'v1', '{{}}', 1002),
 (2003, 'object_detection', 'universal_logo_detector', 'v1', '{{}}', 1003);
INSERT INTO logo_annotation (id, image_prediction_id, index, bounding_box, score, completed_at) VALUES
 (3000, 2000, 0, '[0,0,1,1]', 0.9, now()),
 (3001, 2000, 1, '[0,0,1,1]', 0.9, NULL),
 (3002, 2000, 2, '[0,0,1,1]', 0.9, NULL),
 (3003, 2000, 3, '[0,0,1,1]', 0.9, NULL),
 (3004, 2001, 0, '[0,0,1,1]', 0.9, NULL),
 (3005, 2002, 0, '[0,0,1,1]', 0.9, NULL),
 (3006, 2003, 0, '[0,0,1,1]', 0.9, NULL);
INSERT INTO embedding.logo_embedding (logo_id, embedding) VALUES (3000, '\x00'), (3001, '\x00'), (3004, '\x00');
INSERT INTO prediction (id, barcode, type, data, "timestamp", source_image, server_type) VALUES
 (4000, '{BARCODE}', 'label', '{{}}', now(), '/123/456/789/0123/1.jpg', 'off'),
 (4001, '{BARCODE}', 'store', '{{}}', now(), '/123/456/789/0123/1.jpg', 'off'),
 (4002, '{BARCODE}', 'label', '{{}}', now(), '/123/456/789/0123/2.jpg', 'off'),
 (4003, '{OTHER}', 'label', '{{}}', now(), '/999/999/999/9999/1.jpg', 'off'),
 (4004, '{BARCODE}', 'label', '{{}}', now(), '/123/456/789/0123/1.jpg', 'obf');
INSERT INTO product_insight (id, barcode, type, data, source_image, server_type, annotation, n_votes,
                             automatic_processing, unique_scans_n, reserved_barcode) VALUES
 ('00000000-0000-0000-0000-000000000001', '{BARCODE}', 'label', '{{}}', '/123/456/789/0123/1.jpg', 'off', NULL, 0, false, 0, false),
 ('00000000-0000-0000-0000-000000000002', '{BARCODE}', 'label', '{{}}', '/123/456/789/0123/1.jpg', 'off', 1, 0, false, 0, false),
 ('00000000-0000-0000-0000-000000000003', '{OTHER}', 'label', '{{}}', '/999/999/999/9999/1.jpg', 'off', NULL, 0, false, 0, false);
"#
        ),
    )
    .await;
}

async fn insight_suffixes(pool: &PgPool) -> BTreeSet<i64> {
    ids(
        pool,
        "SELECT right(id::text, 1)::bigint FROM product_insight",
    )
    .await
}

/// Spec §2.4 / §10.7 (`test_deleted_image_job_deleted_records_in_db`): every logo and
/// detection of the image goes, the image row stays marked deleted, and the image's
/// predictions and non-annotated insights are deleted; other images, barcodes and
/// flavors are untouched.
#[tokio::test]
async fn deleted_image_event_removes_its_records() {
    let pool = pool().await;
    setup_image_records(&pool).await;
    let mut tx = pool.begin().await.expect("begin");
    let s = delete_images(
        &mut tx,
        BARCODE,
        ServerType::Off,
        &["1".into()],
        LogoPolicy::DeleteAll,
    )
    .await
    .expect("delete image");
    tx.commit().await.expect("commit");
    assert_eq!(
        s,
        DeletionSummary {
            predictions_deleted: 2,
            insights_deleted: 1,
            images_marked_deleted: 1,
            logos_deleted: 4,
            image_predictions_deleted: 1,
            logo_ids: vec![3000, 3001, 3002, 3003],
        }
    );
    assert_eq!(ids(&pool, "SELECT id::bigint FROM image").await.len(), 4);
    assert_eq!(
        ids(&pool, "SELECT id::bigint FROM image WHERE deleted").await,
        BTreeSet::from([1000])
    );
    assert_eq!(
        ids(&pool, "SELECT id::bigint FROM image_prediction").await,
        BTreeSet::from([2001, 2002, 2003])
    );
    assert_eq!(
        ids(&pool, "SELECT id::bigint FROM logo_annotation").await,
        BTreeSet::from([3004, 3005, 3006])
    );
    assert_eq!(
        ids(
            &pool,
            "SELECT logo_id::bigint FROM embedding.logo_embedding"
        )
        .await,
        BTreeSet::from([3004])
    );
    assert_eq!(
        ids(&pool, "SELECT id::bigint FROM prediction").await,
        BTreeSet::from([4002, 4003, 4004])
    );
    assert_eq!(insight_suffixes(&pool).await, BTreeSet::from([2, 3]));
}

/// Spec §2.9 (`delete_images`): annotated logos stay (without embedding), so the
/// detection stays too; predictions and non-annotated insights of the image go; an image
/// the service does not know deletes nothing.
#[tokio::test]
async fn deleted_images_keep_annotated_logos() {
    let pool = pool().await;
    setup_image_records(&pool).await;
    let mut tx = pool.begin().await.expect("begin");
    let s = delete_images(
        &mut tx,
        BARCODE,
        ServerType::Off,
        &["1".into(), "7".into()],
        LogoPolicy::KeepAnnotated,
    )
    .await
    .expect("delete images");
    tx.commit().await.expect("commit");
    assert_eq!(
        (
            s.images_marked_deleted,
            s.logos_deleted,
            s.image_predictions_deleted
        ),
        (1, 3, 0)
    );
    assert_eq!((s.predictions_deleted, s.insights_deleted), (2, 1));
    assert_eq!(
        ids(&pool, "SELECT id::bigint FROM logo_annotation").await,
        BTreeSet::from([3000, 3004, 3005, 3006])
    );
    assert_eq!(
        ids(
            &pool,
            "SELECT logo_id::bigint FROM embedding.logo_embedding"
        )
        .await,
        BTreeSet::from([3004])
    );
    assert_eq!(
        ids(&pool, "SELECT id::bigint FROM image_prediction").await,
        BTreeSet::from([2000, 2001, 2002, 2003])
    );
    assert_eq!(
        ids(&pool, "SELECT id::bigint FROM image WHERE deleted").await,
        BTreeSet::from([1000])
    );
    assert_eq!(insight_suffixes(&pool).await, BTreeSet::from([2, 3]));
}

/// Robotoff's `test_get_nutrition_table_predictions`: only `nutrition-table` objects
/// above the score, of the product's images on its flavor.
#[tokio::test]
async fn nutrition_table_detections_of_a_product() {
    let pool = pool().await;
    exec(
        &pool,
        &format!(
            r#"
INSERT INTO image (id, barcode, image_id, source_image, width, height, deleted, server_type) VALUES
 (1, '{BARCODE}', '1', '/123/456/789/0123/1.jpg', 10, 10, false, 'off'),
 (2, '{OTHER}', '1', '/999/999/999/9999/1.jpg', 10, 10, false, 'off'),
 (3, '{BARCODE}', '2', '/123/456/789/0123/2.jpg', 10, 10, false, 'obf');
INSERT INTO image_prediction (id, type, model_name, model_version, data, image_id, max_confidence) VALUES
 (1, 'object_detection', 'nutrition_table', 'yolo-nutrition-table-1.0', '{{"objects": [
   {{"label": "nutrition-table", "score": 0.8, "bounding_box": [0.1, 0.1, 0.4, 0.4]}},
   {{"label": "nutrition-table-small", "score": 0.8, "bounding_box": [0.1, 0.1, 0.4, 0.4]}},
   {{"label": "nutrition-table", "score": 0.1, "bounding_box": [0.0, 0.0, 0.3, 0.3]}}]}}', 1, 0.8),
 (2, 'object_detection', 'nutrition_table', 'yolo-nutrition-table-1.0', '{{"objects": [
   {{"label": "nutrition-table", "score": 0.8, "bounding_box": [0.1, 0.1, 0.4, 0.4]}}]}}', 2, 0.8),
 (3, 'object_detection', 'nutrition_table', 'yolo-nutrition-table-1.0', '{{"objects": [
   {{"label": "nutrition-table", "score": 0.8, "bounding_box": [0.1, 0.1, 0.4, 0.4]}}]}}', 3, 0.8);
"#
        ),
    )
    .await;
    let mut conn = pool.acquire().await.expect("conn");
    let high = insight_db::nutrition_tables(&mut conn, BARCODE, ServerType::Off, 0.5)
        .await
        .expect("query");
    let first =
        json!({"label": "nutrition-table", "score": 0.8, "bounding_box": [0.1, 0.1, 0.4, 0.4]});
    assert_eq!(high.len(), 1);
    assert_eq!(
        high.get("/123/456/789/0123/1.jpg"),
        Some(&vec![first.clone()])
    );
    let low = insight_db::nutrition_tables(&mut conn, BARCODE, ServerType::Off, 0.05)
        .await
        .expect("query");
    let second =
        json!({"label": "nutrition-table", "score": 0.1, "bounding_box": [0.0, 0.0, 0.3, 0.3]});
    assert_eq!(
        low.get("/123/456/789/0123/1.jpg"),
        Some(&vec![first, second])
    );
    // The importer's threshold keeps the 0.8 detection (stored as a 4-byte float).
    let used = insight_db::nutrition_tables(
        &mut conn,
        BARCODE,
        ServerType::Off,
        NUTRITION_TABLE_MIN_SCORE,
    )
    .await
    .expect("query");
    assert_eq!(used.get("/123/456/789/0123/1.jpg").map(Vec::len), Some(1));
}

/// The service path: predictions are imported through the product's shard, then the
/// shard refreshes and deletes on request.
#[tokio::test]
async fn shards_import_refresh_and_delete() {
    let url = common::fresh_database().await;
    let app = common::spawn_app(common::settings(&url)).await;
    let mut product = Product::new(BARCODE, ServerType::Off);
    product.images = json!({"1": {"sizes": {"full": {"w": 100, "h": 100}}}})
        .as_object()
        .cloned()
        .unwrap_or_default();
    products::upsert_many(&app.pool, &[product])
        .await
        .expect("product");
    let mut store = Prediction::new(PredictionType::Store);
    store.barcode = Some(BARCODE.into());
    store.value_tag = Some("lidl".into());
    store.value = Some("Lidl".into());
    store.source_image = Some("/123/456/789/0123/1.jpg".into());
    let mut elsewhere = store.clone();
    elsewhere.barcode = Some(OTHER.into());
    let s = shards::import_via_shards(&app.services, ServerType::Off, vec![store, elsewhere])
        .await
        .expect("import");
    assert_eq!((s.predictions_created, s.insights_created), (1, 1));
    let refreshed = shards::ask_shard(&app.services, BARCODE, |reply| ShardMsg::RefreshInsights {
        barcode: BARCODE.into(),
        server_type: ServerType::Off,
        reply,
    })
    .await
    .expect("shard answers")
    .expect("refresh");
    assert_eq!(
        (refreshed.insights_created, refreshed.insights_deleted),
        (0, 0)
    );
    let deleted = shards::ask_shard(&app.services, BARCODE, |reply| ShardMsg::DeleteImages {
        barcode: BARCODE.into(),
        server_type: ServerType::Off,
        image_ids: vec!["1".into()],
        logos: LogoPolicy::DeleteAll,
        reply,
    })
    .await
    .expect("shard answers")
    .expect("delete images");
    assert_eq!(
        (deleted.predictions_deleted, deleted.insights_deleted),
        (1, 1)
    );
    assert_eq!(
        common::count(&app.pool, "SELECT count(*) FROM product_insight").await,
        0
    );
    let gone = shards::ask_shard(&app.services, BARCODE, |reply| ShardMsg::DeleteProduct {
        barcode: BARCODE.into(),
        server_type: ServerType::Off,
        reply,
    })
    .await
    .expect("shard answers")
    .expect("delete product");
    assert_eq!((gone.predictions_deleted, gone.insights_deleted), (0, 0));
    app.shutdown().await;
}
