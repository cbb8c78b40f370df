//! Automatic application of due insights (spec api-db §3.7, pipeline §4.1 and §10.10:
//! Robotoff's `tests/integration/insights/test_process_insights.py`).

mod common;
#[path = "annotation_support/mod.rs"]
mod support;

use common::po::form;
use robotoff::actors::scheduler::{self, SchedulerMsg, AUTO_APPLY_TASK};
use robotoff::actors::SCHEDULER;
use serde_json::json;
use std::time::Duration;
use support::*;

fn salmons_form(
    code: &str,
    id: uuid::Uuid,
    tag: &str,
) -> std::collections::BTreeMap<String, String> {
    form(json!({
        "code": code, "add_categories": tag,
        "comment": format!("[robotoff] Adding category '{tag}', ID: {id} (automated edit)"),
        "user_id": ROBOTOFF_USER, "password": ROBOTOFF_PASSWORD
    }))
}

/// `test_process_insight_category`: the due insight is applied with Robotoff's
/// account; an already annotated one and one not yet due are untouched.
#[tokio::test]
async fn due_category_insight_is_applied() {
    let env = env().await;
    env.store(product("1111")).await;
    let done = insight("category", "1111")
        .tag("en:Salmons")
        .due(12)
        .annotated(1)
        .insert(&env.pool)
        .await;
    let before = row(&env.pool, done).await;
    let due = insight("category", "1111")
        .tag("en:Salmons")
        .due(12)
        .insert(&env.pool)
        .await;
    let later = insight("category", "1111")
        .tag("en:Tuna")
        .due(-5)
        .insert(&env.pool)
        .await;

    let summary = scheduler::auto_apply(&env.app.services).await.expect("run");
    assert!(
        summary.starts_with("1 due insight(s): 1 applied"),
        "{summary}"
    );

    assert_eq!(row(&env.pool, done).await, before);
    let r = row(&env.pool, due).await;
    assert_eq!(
        (r.annotation, r.annotated_result, r.username),
        (Some(1), Some(2), None)
    );
    assert!(r.completed_at.is_some());
    assert_eq!(row(&env.pool, later).await.annotation, None);
    let writes = env.po.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(
        writes[0].form_map(),
        salmons_form("1111", due, "en:Salmons")
    );

    // Nothing is due any more: a second run sends nothing.
    scheduler::auto_apply(&env.app.services).await.expect("run");
    assert_eq!(env.po.writes().len(), 1);
    env.shutdown().await;
}

/// `test_process_insight_category_existing` and `_non_existing_product`: annotated,
/// nothing sent.
#[tokio::test]
async fn existing_value_or_missing_product_sends_nothing() {
    let env = env().await;
    let mut p = product("2222");
    p.categories_tags = vec!["en:Salmons".into()];
    env.store(p).await;
    let existing = insight("category", "2222")
        .tag("en:Salmons")
        .due(12)
        .insert(&env.pool)
        .await;
    let missing = insight("category", "3333")
        .tag("en:Salmons")
        .due(12)
        .insert(&env.pool)
        .await;
    scheduler::auto_apply(&env.app.services).await.expect("run");
    let e = row(&env.pool, existing).await;
    assert_eq!((e.annotation, e.annotated_result), (Some(1), None));
    assert!(e.completed_at.is_some());
    let m = row(&env.pool, missing).await;
    assert_eq!((m.annotation, m.annotated_result), (Some(1), Some(3)));
    assert!(env.po.writes().is_empty());
    env.shutdown().await;
}

/// `test_process_insight_update_product_raises`: the failing insight stays open, the
/// other one is applied; exactly two writes; the failed one is applied at a later run.
#[tokio::test]
async fn failing_insight_is_left_for_the_next_run() {
    let env = env().await;
    env.store(product("4444")).await;
    env.store(product("5555")).await;
    let salmons = insight("category", "4444")
        .tag("en:Salmons")
        .due(12)
        .insert(&env.pool)
        .await;
    let tuna = insight("category", "5555")
        .tag("en:Tuna")
        .due(11)
        .insert(&env.pool)
        .await;
    env.po.fail_writes_containing("en:Salmons", 500);

    let summary = scheduler::auto_apply(&env.app.services).await.expect("run");
    assert!(summary.contains("1 applied, 1 left"), "{summary}");
    let s = row(&env.pool, salmons).await;
    assert_eq!((s.annotation, s.completed_at), (None, None));
    assert_eq!(row(&env.pool, tuna).await.annotation, Some(1));
    let writes = env.po.writes();
    assert_eq!(writes.len(), 2);
    let mut got: Vec<_> = writes.iter().map(|w| w.form_map()).collect();
    got.sort();
    let mut expected = vec![
        salmons_form("4444", salmons, "en:Salmons"),
        salmons_form("5555", tuna, "en:Tuna"),
    ];
    expected.sort();
    assert_eq!(got, expected);

    env.po.fail_writes_containing("nothing matches this", 500);
    scheduler::auto_apply(&env.app.services).await.expect("run");
    assert_eq!(row(&env.pool, salmons).await.annotation, Some(1));
    assert_eq!(env.po.writes().len(), 3);
    env.shutdown().await;
}

/// The task is registered in the node's scheduler.
#[tokio::test]
async fn scheduler_runs_the_task() {
    let env = env().await;
    env.store(product("6666")).await;
    let due = insight("label", "6666")
        .tag("en:organic")
        .due(15)
        .insert(&env.pool)
        .await;
    let names = &env.app.services.names;
    let actor = names
        .lookup::<SchedulerMsg>(&names.of(SCHEDULER))
        .expect("scheduler running");
    let started = robotoff::actors::call(
        &actor,
        |r| SchedulerMsg::RunNow(AUTO_APPLY_TASK.to_string(), r),
        Duration::from_secs(5),
    )
    .await
    .expect("scheduler answers");
    assert!(started);
    // The annotation commits first, then its edit goes to Product Opener: wait for both.
    let pool = env.pool.clone();
    let po = &env.po;
    common::wait_until(
        Duration::from_secs(20),
        "the due insight to be applied",
        || {
            let pool = pool.clone();
            async move {
                (row(&pool, due).await.annotation == Some(1) && !po.writes().is_empty())
                    .then_some(())
            }
        },
    )
    .await;
    assert_eq!(env.po.writes().len(), 1);
    env.shutdown().await;
}
