//! The scheduler's task table: what runs when, on one node or once per cluster. Each
//! task calls one function of a domain module (or the product shards, for automatic
//! annotations).

use crate::actors::Services;
use crate::infra::db::jobs;
use crate::infra::metrics;
use crate::maintenance::{taxonomy_refresh, tmp_cleanup};
use crate::product_store::{cleanup, dump};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

use super::schedule::Schedule;

/// A task's body: given the node's services, a summary or an error.
pub type TaskFn = Arc<dyn Fn(Services) -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// A periodic task and when it runs.
#[derive(Clone)]
pub struct Task {
    pub name: &'static str,
    pub schedule: Schedule,
    /// Whether one node at a time runs it in a cluster (work on the shared database).
    /// Tasks about the node itself (its files, its memory) run on every node.
    pub cluster_wide: bool,
    pub run: TaskFn,
}

/// Name of the temporary directory cleanup task.
pub const TMP_CLEANUP_TASK: &str = "clean_tmp_files";
/// Name of the taxonomy refresh task.
pub const TAXONOMY_REFRESH_TASK: &str = "download_taxonomies";
/// Name of the product dump download and import task.
pub const DATASET_REFRESH_TASK: &str = "update_dataset";
/// Name of the dump-based prediction and insight cleanup task.
pub const DUMP_CLEANUP_TASK: &str = "refresh_insights_from_dump";

/// The tasks of a node. The taxonomy refresh is left out when its interval is 0, the
/// dataset tasks when no dataset URL is set.
pub fn default_tasks(services: &Services) -> Vec<Task> {
    let retention = Duration::from_secs(services.settings.workers.done_retention_hours * 3600);
    let a = &services.settings.annotation;
    let sched = &services.settings.scheduler;
    let auto_apply = Task {
        name: AUTO_APPLY_TASK,
        schedule: Schedule::every(
            Duration::from_secs(a.auto_apply_interval_secs),
            Duration::from_secs(a.auto_apply_jitter_secs),
        ),
        cluster_wide: true,
        run: Arc::new(|s: Services| Box::pin(async move { auto_apply(&s).await })),
    };
    let tmp_max_age_hours = sched.tmp_max_age_hours;
    let mut tasks = vec![
        auto_apply,
        Task {
            name: TMP_CLEANUP_TASK,
            schedule: Schedule::DailyAt(sched.tmp_cleanup_at.0),
            cluster_wide: false,
            run: Arc::new(move |_: Services| {
                Box::pin(async move { tmp_cleanup::clean_tmp_files(tmp_max_age_hours).await })
            }),
        },
        Task {
            name: "purge_done_jobs",
            schedule: Schedule::every(Duration::from_secs(3600), Duration::from_secs(60)),
            cluster_wide: true,
            run: Arc::new(move |s: Services| {
                Box::pin(async move {
                    jobs::purge_done(&s.pool, retention)
                        .await
                        .map(|n| format!("{n} finished job(s) removed"))
                        .map_err(|e| e.to_string())
                })
            }),
        },
    ];
    let index = &services.settings.index;
    if index.refresh_interval_hours > 0 {
        tasks.push(Task {
            name: LOGO_REFRESH_TASK,
            schedule: Schedule::every(
                Duration::from_secs(index.refresh_interval_hours * 3600),
                Duration::from_secs(600),
            ),
            cluster_wide: true,
            run: Arc::new(|s: Services| Box::pin(async move { refresh_logos(&s).await })),
        });
        tasks.push(Task {
            name: "prune_logo_index_changes",
            schedule: Schedule::every(Duration::from_secs(24 * 3600), Duration::from_secs(600)),
            cluster_wide: true,
            run: Arc::new(|s: Services| {
                Box::pin(async move {
                    let days = s.settings.index.change_retention_days;
                    let mut conn = s.pool.acquire().await.map_err(|e| e.to_string())?;
                    crate::infra::db::logo_index::prune_changes(&mut conn, days)
                        .await
                        .map(|n| {
                            format!("{n} logged logo change(s) older than {days} days removed")
                        })
                        .map_err(|e| e.to_string())
                })
            }),
        });
    }
    if sched.taxonomy_refresh_interval_secs > 0 {
        tasks.push(Task {
            name: TAXONOMY_REFRESH_TASK,
            schedule: Schedule::every(
                Duration::from_secs(sched.taxonomy_refresh_interval_secs),
                Duration::ZERO,
            ),
            cluster_wide: false,
            run: Arc::new(|s: Services| {
                Box::pin(async move {
                    let outcome = taxonomy_refresh::download_taxonomies(&s.settings).await?;
                    if !outcome.refreshed.is_empty() {
                        let names: Vec<&str> = outcome.refreshed.iter().map(|k| k.name()).collect();
                        s.hub
                            .raise(crate::cluster::NoticeKind::Data, serde_json::json!(names));
                    }
                    Ok(outcome.to_string())
                })
            }),
        });
    }
    if sched.dataset_url().is_some() {
        tasks.push(Task {
            name: DATASET_REFRESH_TASK,
            schedule: Schedule::DailyAt(sched.dataset_refresh_at.0),
            cluster_wide: true,
            run: Arc::new(|s: Services| {
                Box::pin(async move { dump::update_dataset(&s.settings, &s.pool).await })
            }),
        });
        tasks.push(Task {
            name: DUMP_CLEANUP_TASK,
            schedule: Schedule::DailyAt(sched.dump_cleanup_at.0),
            cluster_wide: true,
            run: Arc::new(|s: Services| {
                Box::pin(
                    async move { cleanup::refresh_insights_from_dump(&s.settings, &s.pool).await },
                )
            }),
        });
    }
    tasks
}

/// Name of the logo neighbour refresh task.
pub const LOGO_REFRESH_TASK: &str = "refresh_logo_nearest_neighbors";

/// Queues the neighbours of old unannotated logos again (see `ann::refresh`).
pub async fn refresh_logos(services: &Services) -> Result<String, String> {
    let i = &services.settings.index;
    let w = &services.settings.workers;
    crate::ann::refresh::refresh_nearest_neighbors(
        &services.pool,
        i.refresh_after_days,
        i.refresh_batch,
        w.shards,
        w.max_attempts,
        |_| {},
    )
    .await
    .map(|r| {
        format!(
            "{} image prediction(s) with logos older than {} days, {} job(s) queued",
            r.image_predictions, i.refresh_after_days, r.queued
        )
    })
    .map_err(|e| e.to_string())
}

/// Name of the automatic insight processing task.
pub const AUTO_APPLY_TASK: &str = "auto_apply_insights";

/// Applies every due insight (annotation 1 with Robotoff's account, spec api-db §3.7)
/// through its product's shard, several shards at a time. Failures are logged, counted
/// and left for the next run.
pub async fn auto_apply(services: &Services) -> Result<String, String> {
    use futures::StreamExt;
    let a = &services.settings.annotation;
    let due = crate::infra::db::annotations::due_for_processing(&services.pool, a.auto_apply_batch)
        .await
        .map_err(|e| format!("listing insights due for processing: {e}"))?;
    let total = due.len();
    let timeout = Duration::from_secs(a.timeout_secs);
    let concurrency = services.settings.workers.shards.max(1) as usize;
    let outcomes: Vec<Result<&'static str, ()>> = futures::stream::iter(due)
        .map(|insight| async move {
            let request = crate::annotation::AnnotateRequest::automatic(insight.id);
            match crate::actors::shards::annotate(services, request, timeout).await {
                Ok(outcome) => {
                    let name = outcome.status.name();
                    metrics::auto_apply(name);
                    Ok(name)
                }
                Err(error) => {
                    tracing::error!(insight = %insight.id, barcode = %insight.barcode, %error, "automatic annotation failed");
                    metrics::auto_apply("error");
                    Err(())
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    let retry = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(name) if *name == "error_failed_update"))
        .count();
    Ok(format!(
        "{total} due insight(s): {} applied, {retry} left for Product Opener to come back, {failed} failed",
        total - failed - retry
    ))
}
