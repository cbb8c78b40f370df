//! `POST /insights/annotate` end to end through the product shard, with Product Opener
//! stood in for (spec api-db §4, conformance §8.1–§8.7: Robotoff's test_api.py).

use crate::common::po::ProductOpenerStandIn;
use crate::support::{self, fixture_insight, insight, vote, Api, INSIGHT_ID};
use robotoff::config::Role;
use robotoff::types::ServerType;
use serde_json::{json, Value};

const PATH: &str = "/api/v1/insights/annotate";
const AUTH: &str = "Basic YTpi";

async fn start(po: &ProductOpenerStandIn) -> Api {
    let mut s = support::settings().await;
    s.roles = vec![Role::Api, Role::Workers];
    for st in ServerType::ALL {
        let f = match st {
            ServerType::Off => &mut s.product_opener.off,
            ServerType::Obf => &mut s.product_opener.obf,
            ServerType::Opff => &mut s.product_opener.opff,
            ServerType::Opf => &mut s.product_opener.opf,
            ServerType::OffPro => &mut s.product_opener.off_pro,
        };
        f.api_url = po.url.clone();
    }
    s.product_opener.user = "robotoff".into();
    s.product_opener.password = "robotoff-secret".into();
    support::start_with(s).await
}

#[derive(Debug, PartialEq)]
struct Row {
    username: Option<String>,
    annotation: Option<i32>,
    n_votes: i32,
    annotated_result: Option<i32>,
    completed: bool,
}

async fn row(api: &Api, id: &str) -> Row {
    let (username, annotation, n_votes, annotated_result, completed): (
        Option<String>,
        Option<i32>,
        i32,
        Option<i32>,
        bool,
    ) = sqlx::query_as(
        "SELECT username, annotation, n_votes, annotated_result, completed_at IS NOT NULL
             FROM product_insight WHERE id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&api.pool)
    .await
    .expect("insight row");
    Row {
        username,
        annotation,
        n_votes,
        annotated_result,
        completed,
    }
}

async fn votes(api: &Api) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM annotation_vote")
        .fetch_one(&api.pool)
        .await
        .unwrap_or(-1)
}

fn outcome(code: i32, status: &str, description: &str) -> Value {
    json!({"status_code": code, "status": status, "description": description})
}

/// test_annotate_insight_authenticated, _authenticated_ignore, _not_enough_votes,
/// and an unknown insight (200 with status 6, not 404).
#[tokio::test]
async fn trusted_annotations_votes_and_unknown_insights() {
    let po = ProductOpenerStandIn::start().await;
    let api = start(&po).await;
    fixture_insight(&api.pool).await;
    let (status, body) = api
        .post_form(
            PATH,
            &[("insight_id", INSIGHT_ID), ("annotation", "0")],
            Some(AUTH),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, outcome(1, "saved", "the annotation was saved"));
    assert_eq!(votes(&api).await, 0);
    assert_eq!(
        row(&api, INSIGHT_ID).await,
        Row {
            username: Some("a".into()),
            annotation: Some(0),
            n_votes: 0,
            annotated_result: Some(1),
            completed: true
        }
    );

    let id = insight(&api.pool, json!({"barcode": "00000002"})).await;
    let (_, body) = api
        .post_form(
            PATH,
            &[("insight_id", &id), ("annotation", "-1")],
            Some(AUTH),
        )
        .await;
    assert_eq!(
        body,
        outcome(9, "vote_saved", "the annotation vote was saved")
    );
    assert_eq!(votes(&api).await, 1);
    assert_eq!(
        row(&api, &id).await,
        Row {
            username: None,
            annotation: None,
            n_votes: 0,
            annotated_result: None,
            completed: false
        }
    );

    let id = insight(&api.pool, json!({"barcode": "00000003"})).await;
    let (_, body) = api
        .post_form(
            PATH,
            &[
                ("insight_id", &id),
                ("annotation", "1"),
                ("device_id", "voter1"),
            ],
            None,
        )
        .await;
    assert_eq!(
        body,
        outcome(9, "vote_saved", "the annotation vote was saved")
    );
    let (value, username, device): (i32, Option<String>, String) = sqlx::query_as(
        "SELECT value, username, device_id FROM annotation_vote WHERE insight_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&api.pool)
    .await
    .expect("vote");
    assert_eq!((value, username, device.as_str()), (1, None, "voter1"));
    assert_eq!(row(&api, &id).await.n_votes, 1);

    let (status, body) = api
        .post_form(
            PATH,
            &[
                ("insight_id", "3e7a4bfb-e3a1-4a3b-9f2d-0d7c1b0d4c7e"),
                ("annotation", "1"),
            ],
            Some(AUTH),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        outcome(6, "error_unknown_insight", "unknown insight ID")
    );
    api.stop().await;
}

/// test_annotate_insight_majority_annotation: votes 1, 1, 0, −1 then a third "yes".
#[tokio::test]
async fn three_agreeing_votes_apply_the_annotation() {
    let po = ProductOpenerStandIn::start().await;
    let api = start(&po).await;
    fixture_insight(&api.pool).await;
    vote(&api.pool, INSIGHT_ID, "yes-voter1", None, 1).await;
    vote(&api.pool, INSIGHT_ID, "yes-voter2", None, 1).await;
    vote(&api.pool, INSIGHT_ID, "no-voter1", None, 0).await;
    vote(&api.pool, INSIGHT_ID, "ignore-voter1", None, -1).await;
    let (_, body) = api
        .post_form(
            PATH,
            &[
                ("insight_id", INSIGHT_ID),
                ("annotation", "1"),
                ("device_id", "yes-voter3"),
                ("update", "False"),
            ],
            None,
        )
        .await;
    assert_eq!(body, outcome(1, "saved", "the annotation was saved"));
    assert_eq!(votes(&api).await, 5);
    let r = row(&api, INSIGHT_ID).await;
    assert_eq!((r.annotation, r.username, r.n_votes), (Some(1), None, 4));
    assert!(po.writes().is_empty(), "update=False sends nothing");
    api.stop().await;
}

/// test_annotate_insight_anonymous_then_authenticated and
/// test_annotate_category_with_user_input (accepted case).
#[tokio::test]
async fn authenticated_validation_and_user_input_reach_product_opener() {
    let po = ProductOpenerStandIn::start().await;
    po.set_product(json!({"code": "00000001", "product_type": "food", "categories_tags": []}));
    let api = start(&po).await;
    fixture_insight(&api.pool).await;
    let (_, body) = api
        .post_form(
            PATH,
            &[
                ("insight_id", INSIGHT_ID),
                ("annotation", "1"),
                ("device_id", "voter1"),
            ],
            None,
        )
        .await;
    assert_eq!(
        body,
        outcome(9, "vote_saved", "the annotation vote was saved")
    );
    let (_, body) = api
        .post_form(
            PATH,
            &[
                ("insight_id", INSIGHT_ID),
                ("annotation", "1"),
                ("device_id", "voter1"),
            ],
            Some(AUTH),
        )
        .await;
    assert_eq!(
        body,
        outcome(2, "updated", "the annotation was saved and sent to OFF")
    );
    assert_eq!(votes(&api).await, 1);
    let r = row(&api, INSIGHT_ID).await;
    assert_eq!(
        (r.username.as_deref(), r.annotation, r.n_votes),
        (Some("a"), Some(1), 1)
    );
    let writes = po.writes();
    assert_eq!(writes.len(), 1);
    let form = writes[0].form_map();
    assert_eq!(
        form.get("add_categories").map(String::as_str),
        Some("en:seeds")
    );
    assert_eq!(form.get("user_id").map(String::as_str), Some("a"));
    assert_eq!(form.get("password").map(String::as_str), Some("b"));

    let id = insight(
        &api.pool,
        json!({"barcode": "00000001", "value_tag": "en:seeds"}),
    )
    .await;
    let (_, body) = api
        .post_form(
            PATH,
            &[
                ("insight_id", &id),
                ("annotation", "2"),
                ("data", "{\"value_tag\": \"en:beef\"}"),
            ],
            Some(AUTH),
        )
        .await;
    assert_eq!(
        body,
        outcome(
            12,
            "user_input_updated",
            "the data provided by the user was saved and sent to OFF"
        )
    );
    let (value_tag, data): (Option<String>, Value) =
        sqlx::query_as("SELECT value_tag, data FROM product_insight WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&api.pool)
            .await
            .expect("insight");
    assert_eq!(value_tag.as_deref(), Some("en:beef"));
    assert_eq!(
        data,
        json!({"original_value_tag": "en:seeds", "user_input": true})
    );
    api.stop().await;
}
