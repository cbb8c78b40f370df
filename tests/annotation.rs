//! The annotation flow through the product shards: votes, trusted annotators, results,
//! and what happens when Product Opener fails (spec api-db §4.1, §3.5, §8 checks 1–7).

mod common;
#[path = "annotation_support/mod.rs"]
mod support;

use common::po::{form, ProductOpenerStandIn};
use robotoff::actors::shards::RouteError;
use robotoff::annotation::{AnnotateError, AnnotationStatus as S, Auth, RequestError};
use serde_json::json;
use support::*;

const CODE: &str = "00000001";

/// The fixture of Robotoff's test_api.py: a category insight `en:seeds`.
async fn seeds(env: &Env) -> uuid::Uuid {
    insight("category", CODE)
        .tag("en:seeds")
        .insert(&env.pool)
        .await
}

/// §8 check 1 (`test_annotate_insight_authenticated`).
#[tokio::test]
async fn authenticated_rejection_is_saved() {
    let env = env().await;
    let id = seeds(&env).await;
    let out = env.expect(by_user(id, 0, basic()), S::Saved).await;
    assert_eq!(out.description, "the annotation was saved");
    let r = row(&env.pool, id).await;
    assert_eq!(
        (
            r.annotation,
            r.annotated_result,
            r.n_votes,
            r.username.as_deref()
        ),
        (Some(0), Some(1), 0, Some("a"))
    );
    assert!(r.completed_at.is_some());
    assert!(votes(&env.pool, id).await.is_empty());
    assert!(env.po.writes().is_empty());
    env.shutdown().await;
}

/// §8 check 2 (`test_annotate_insight_authenticated_ignore`).
#[tokio::test]
async fn authenticated_skip_is_a_vote() {
    let env = env().await;
    let id = seeds(&env).await;
    let out = env.expect(by_user(id, -1, basic()), S::VoteSaved).await;
    assert_eq!(out.description, "the annotation vote was saved");
    assert_eq!(
        votes(&env.pool, id).await,
        vec![(Some("a".into()), -1, "device-of-user".into())]
    );
    let r = row(&env.pool, id).await;
    assert_eq!((r.annotation, r.username, r.n_votes), (None, None, 0));
    env.shutdown().await;
}

/// §8 check 3 (`test_annotate_insight_not_enough_votes`).
#[tokio::test]
async fn single_anonymous_vote() {
    let env = env().await;
    let id = seeds(&env).await;
    env.expect(anonymous(id, 1, "voter1"), S::VoteSaved).await;
    assert_eq!(votes(&env.pool, id).await, vec![(None, 1, "voter1".into())]);
    let r = row(&env.pool, id).await;
    assert_eq!(
        (r.annotation, r.username, r.completed_at, r.n_votes),
        (None, None, None, 1)
    );
    env.shutdown().await;
}

/// §8 check 4 (`test_annotate_insight_majority_annotation`).
#[tokio::test]
async fn three_agreeing_votes_apply() {
    let env = env().await;
    let id = seeds(&env).await;
    for (value, device) in [
        (1, "yes-voter1"),
        (1, "yes-voter2"),
        (0, "no-voter1"),
        (-1, "ignore-voter1"),
    ] {
        add_vote(&env.pool, id, value, device).await;
    }
    let mut req = anonymous(id, 1, "yes-voter3");
    req.update = false;
    env.expect(req, S::Saved).await;
    assert_eq!(votes(&env.pool, id).await.len(), 5);
    let r = row(&env.pool, id).await;
    assert_eq!(
        (r.annotation, r.username, r.n_votes, r.annotated_result),
        (Some(1), None, 4, Some(1))
    );
    assert!(env.po.writes().is_empty(), "update=false sends nothing");
    env.shutdown().await;
}

/// §8 check 5 (`test_annotate_insight_opposite_votes`, `_majority_vote_overridden`).
#[tokio::test]
async fn ties_mark_the_insight_ambiguous() {
    let env = env().await;
    for (existing, n_votes) in [(vec![1, 1, 0], 4), (vec![1, 1, 0, 0], 5)] {
        let id = seeds(&env).await;
        for (i, v) in existing.iter().enumerate() {
            add_vote(&env.pool, id, *v, &format!("voter{i}")).await;
        }
        let mut req = anonymous(id, 0, "last-voter");
        req.update = false;
        env.expect(req, S::Saved).await;
        let r = row(&env.pool, id).await;
        assert_eq!(
            (r.annotation, r.n_votes),
            (Some(-1), n_votes),
            "{existing:?}"
        );
    }
    assert!(env.po.writes().is_empty());
    env.shutdown().await;
}

/// §8 check 6 (`test_annotate_insight_anonymous_then_authenticated`).
#[tokio::test]
async fn anonymous_vote_then_authenticated_validation() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = seeds(&env).await;
    env.expect(anonymous(id, 1, "voter1"), S::VoteSaved).await;
    let out = env.expect(by_user(id, 1, basic()), S::Updated).await;
    assert_eq!(out.description, "the annotation was saved and sent to OFF");
    assert_eq!(votes(&env.pool, id).await.len(), 1);
    let r = row(&env.pool, id).await;
    assert_eq!(
        (
            r.annotation,
            r.username.as_deref(),
            r.n_votes,
            r.annotated_result
        ),
        (Some(1), Some("a"), 1, Some(2))
    );
    let writes = env.po.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].path, "/cgi/product_jqm2.pl");
    assert_eq!(
        writes[0].form_map(),
        form(json!({
            "code": CODE, "add_categories": "en:seeds",
            "comment": format!("[robotoff] Adding category 'en:seeds', ID: {id}"),
            "user_id": "a", "password": "b"
        }))
    );
    env.shutdown().await;
}

/// §8 check 7 (`test_annotate_category_with_user_input`).
#[tokio::test]
async fn user_input_replaces_the_category() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = seeds(&env).await;

    let mut req = by_user(id, 2, basic());
    let err = env.annotate(req.clone()).await.unwrap_err();
    assert!(
        matches!(
            err,
            RouteError::Annotate(AnnotateError::InvalidRequest(RequestError::DataRequired))
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "`data` must be provided when annotation == 2"
    );
    req.data = Some(json!({}));
    req.update = false;
    let err = env.annotate(req.clone()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "`update` must be true when annotation == 2"
    );
    let mut anon = anonymous(id, 2, "d");
    anon.data = Some(json!({"value_tag": "en:beef"}));
    let err = env.annotate(anon).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "`data` cannot be provided when the user is not authenticated"
    );

    req.update = true;
    req.data = Some(json!({"invalid_key": "v"}));
    let out = env.expect(req.clone(), S::ErrorInvalidData).await;
    assert_eq!(
        out.description,
        "2 validation errors for CategoryAnnotateBody\nvalue_tag\n  Field required\ninvalid_key\n  Extra inputs are not permitted"
    );
    assert_eq!(row(&env.pool, id).await.annotation, None);

    req.data = Some(json!({"value_tag": "en:beef"}));
    let out = env.expect(req, S::UserInputUpdated).await;
    assert_eq!(
        out.description,
        "the data provided by the user was saved and sent to OFF"
    );
    let r = row(&env.pool, id).await;
    assert_eq!(r.value_tag.as_deref(), Some("en:beef"));
    assert_eq!(
        r.data,
        json!({"original_value_tag": "en:seeds", "user_input": true})
    );
    assert_eq!((r.annotation, r.annotated_result), (Some(2), Some(12)));
    let writes = env.po.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(
        writes[0]
            .form_map()
            .get("add_categories")
            .map(String::as_str),
        Some("en:beef")
    );
    env.shutdown().await;
}

/// Votes settle on 1 → applied with Robotoff's account, comment marked as voted.
#[tokio::test]
async fn resolved_votes_are_sent_with_robotoff_account() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = insight("label", CODE)
        .tag("en:organic")
        .insert(&env.pool)
        .await;
    env.expect(anonymous(id, 1, "d1"), S::VoteSaved).await;
    env.expect(anonymous(id, 1, "d2"), S::VoteSaved).await;
    env.expect(anonymous(id, 1, "d3"), S::Updated).await;
    let writes = env.po.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(
        writes[0].form_map(),
        form(json!({
            "code": CODE, "add_labels": "en:organic",
            "comment": format!("[robotoff] Adding label tag 'en:organic', ID: {id} (applied after 3 anonymous votes)"),
            "user_id": ROBOTOFF_USER, "password": ROBOTOFF_PASSWORD
        }))
    );
    let r = row(&env.pool, id).await;
    assert_eq!(
        (r.annotation, r.username, r.n_votes, r.annotated_result),
        (Some(1), None, 3, Some(2))
    );
    env.shutdown().await;
}

/// A device (or user) has one vote per insight: voting again replaces its vote.
#[tokio::test]
async fn one_vote_per_device_or_user() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = seeds(&env).await;
    for _ in 0..3 {
        env.expect(anonymous(id, 1, "same-device"), S::VoteSaved)
            .await;
    }
    assert_eq!(
        votes(&env.pool, id).await,
        vec![(None, 1, "same-device".into())]
    );
    assert_eq!(row(&env.pool, id).await.n_votes, 1);
    env.expect(anonymous(id, 0, "same-device"), S::VoteSaved)
        .await;
    assert_eq!(
        votes(&env.pool, id).await,
        vec![(None, 0, "same-device".into())]
    );
    for _ in 0..2 {
        env.expect(by_user(id, -1, basic()), S::VoteSaved).await;
    }
    assert_eq!(votes(&env.pool, id).await.len(), 2);
    // Skips are never counted.
    assert_eq!(row(&env.pool, id).await.n_votes, 1);
    assert_eq!(row(&env.pool, id).await.annotation, None);
    assert!(env.po.writes().is_empty());
    env.shutdown().await;
}

/// Annotating twice: the second answer is "already annotated" and nothing is sent again.
#[tokio::test]
async fn already_annotated_sends_nothing_twice() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = seeds(&env).await;
    env.expect(by_user(id, 1, basic()), S::Updated).await;
    let out = env
        .expect(by_user(id, 1, basic()), S::ErrorAlreadyAnnotated)
        .await;
    assert_eq!(out.description, "the insight has already been annotated");
    env.expect(anonymous(id, 0, "late-voter"), S::ErrorAlreadyAnnotated)
        .await;
    assert!(
        votes(&env.pool, id).await.is_empty(),
        "no vote on an annotated insight"
    );
    assert_eq!(env.po.writes().len(), 1);
    let unknown = env
        .expect(
            by_user(uuid::Uuid::new_v4(), 1, basic()),
            S::ErrorUnknownInsight,
        )
        .await;
    assert_eq!(unknown.description, "unknown insight ID");
    env.shutdown().await;
}

/// PO 5xx: nothing recorded, result 10; the same request succeeds once PO is back.
#[tokio::test]
async fn product_opener_outage_rolls_back_and_retry_succeeds() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = seeds(&env).await;
    let label = insight("label", CODE)
        .tag("en:organic")
        .insert(&env.pool)
        .await;
    env.expect(anonymous(label, 1, "d1"), S::VoteSaved).await;
    env.expect(anonymous(label, 1, "d2"), S::VoteSaved).await;

    env.po.set_write_status(Some(503));
    let out = env
        .expect(by_user(id, 1, basic()), S::ErrorFailedUpdate)
        .await;
    assert_eq!(out.description, "Open Food Facts update failed");
    let r = row(&env.pool, id).await;
    assert_eq!(
        (r.annotation, r.completed_at, r.username, r.annotated_result),
        (None, None, None, None)
    );
    // The deciding vote is not recorded either: the voter can send it again.
    env.expect(anonymous(label, 1, "d3"), S::ErrorFailedUpdate)
        .await;
    assert_eq!(votes(&env.pool, label).await.len(), 2);
    assert_eq!(row(&env.pool, label).await.n_votes, 2);
    assert_eq!(row(&env.pool, label).await.annotation, None);

    env.po.set_write_status(None);
    env.expect(by_user(id, 1, basic()), S::Updated).await;
    env.expect(anonymous(label, 1, "d3"), S::Updated).await;
    assert_eq!(row(&env.pool, id).await.annotation, Some(1));
    let l = row(&env.pool, label).await;
    assert_eq!(
        (l.annotation, l.n_votes, l.annotated_result),
        (Some(1), 3, Some(2))
    );
    // 2 failed attempts + 2 successful ones.
    assert_eq!(env.po.writes().len(), 4);
    env.shutdown().await;
}

/// PO unreachable: same as an outage.
#[tokio::test]
async fn product_opener_unreachable_is_retryable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let closed = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let po = ProductOpenerStandIn::start().await;
    let env = env_with(common::fresh_database().await, po, |s| {
        s.product_opener.off.api_url = closed.clone();
    })
    .await;
    env.store(product(CODE)).await;
    let id = seeds(&env).await;
    env.expect(by_user(id, 1, basic()), S::ErrorFailedUpdate)
        .await;
    let r = row(&env.pool, id).await;
    assert_eq!((r.annotation, r.completed_at), (None, None));
    env.shutdown().await;
}

/// PO 4xx: an error, nothing saved.
#[tokio::test]
async fn product_opener_refusal_is_an_error() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = seeds(&env).await;
    env.po.set_write_status(Some(403));
    let err = env.annotate(by_user(id, 1, basic())).await.unwrap_err();
    assert!(
        matches!(&err, RouteError::Annotate(AnnotateError::ProductOpener { source, .. }) if !source.is_retryable()),
        "{err}"
    );
    let r = row(&env.pool, id).await;
    assert_eq!(
        (r.annotation, r.completed_at, r.annotated_result),
        (None, None, None)
    );
    env.shutdown().await;
}

/// A product neither in the store nor on PO: result 3, annotation kept.
#[tokio::test]
async fn missing_product() {
    let env = env().await;
    let id = seeds(&env).await;
    let out = env
        .expect(by_user(id, 1, basic()), S::ErrorMissingProduct)
        .await;
    assert_eq!(out.description, "the product could not be found on OFF");
    let r = row(&env.pool, id).await;
    assert_eq!((r.annotation, r.annotated_result), (Some(1), Some(3)));
    let reqs = env.po.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/api/v2/product/00000001")
    );
    env.shutdown().await;
}

/// A product missing from the store is fetched from PO, stored, then used.
#[tokio::test]
async fn product_missing_from_the_store_is_fetched() {
    let env = env().await;
    env.po
        .set_product(json!({"code": CODE, "categories_tags": ["en:seeds"]}));
    let id = seeds(&env).await;
    env.expect(by_user(id, 1, basic()), S::ErrorAlreadyAnnotated)
        .await;
    assert!(env.po.writes().is_empty());
    let mut conn = env.pool.acquire().await.expect("conn");
    let stored =
        robotoff::infra::db::products::get(&mut conn, CODE, robotoff::types::ServerType::Off)
            .await
            .expect("get");
    assert_eq!(
        stored.map(|p| p.categories_tags),
        Some(vec!["en:seeds".to_string()])
    );
    drop(conn);
    let r = row(&env.pool, id).await;
    assert_eq!(
        (r.annotation, r.annotated_result),
        (Some(1), None),
        "result 5 is not recorded"
    );
    env.shutdown().await;
}

/// Votes cannot apply nutrient extractions: 13, the insight stays open.
#[tokio::test]
async fn votes_cannot_apply_nutrient_extraction() {
    let env = env().await;
    env.store(product(CODE)).await;
    let id = insight("nutrient_extraction", CODE)
        .data(json!({"nutrients": {"fat_100g": {"value": "3", "unit": "g"}}}))
        .insert(&env.pool)
        .await;
    for d in ["d1", "d2"] {
        env.expect(anonymous(id, 1, d), S::VoteSaved).await;
    }
    let out = env.expect(anonymous(id, 1, "d3"), S::CannotVote).await;
    assert_eq!(
        out.description,
        "The voting mechanism is not compatible with this insight type, please authenticate."
    );
    let r = row(&env.pool, id).await;
    assert_eq!((r.annotation, r.n_votes), (None, 3));
    assert!(env.po.requests().is_empty());
    env.shutdown().await;
}

/// Types with no annotator: an error once applied, nothing saved.
#[tokio::test]
async fn types_without_annotator_are_refused() {
    let env = env().await;
    let id = insight("image_flag", CODE).insert(&env.pool).await;
    let err = env
        .annotate(by_user(id, 1, Auth::basic("a", "b")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("image_flag"), "{err}");
    let r = row(&env.pool, id).await;
    assert_eq!((r.annotation, r.completed_at), (None, None));
    env.shutdown().await;
}
