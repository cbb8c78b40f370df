//! Scheduler: periodic tasks as timers → runs, each task never overlapping itself (on
//! this node, and across nodes through an advisory lock), every run counted in metrics.

pub mod dataset;
pub mod dump_cleanup;
mod schedule;
pub mod taxonomy_refresh;
pub mod tmp_cleanup;

pub use schedule::{interval_delay, next_daily, Schedule};

use super::Services;
use crate::infra::db::jobs;
use crate::infra::metrics;
use futures::future::BoxFuture;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Advisory lock namespace of scheduler tasks.
const TASK_LOCK_SPACE: i32 = 0x5363_6865; // "Sche"

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
                Box::pin(async move { tmp_cleanup::run(tmp_max_age_hours).await })
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
    if sched.taxonomy_refresh_interval_secs > 0 {
        tasks.push(Task {
            name: TAXONOMY_REFRESH_TASK,
            schedule: Schedule::every(
                Duration::from_secs(sched.taxonomy_refresh_interval_secs),
                Duration::ZERO,
            ),
            cluster_wide: false,
            run: Arc::new(|s: Services| Box::pin(async move { taxonomy_refresh::run(&s).await })),
        });
    }
    if sched.dataset_url().is_some() {
        tasks.push(Task {
            name: DATASET_REFRESH_TASK,
            schedule: Schedule::DailyAt(sched.dataset_refresh_at.0),
            cluster_wide: true,
            run: Arc::new(|s: Services| Box::pin(async move { dataset::run(&s).await })),
        });
        tasks.push(Task {
            name: DUMP_CLEANUP_TASK,
            schedule: Schedule::DailyAt(sched.dump_cleanup_at.0),
            cluster_wide: true,
            run: Arc::new(|s: Services| Box::pin(async move { dump_cleanup::run(&s).await })),
        });
    }
    tasks
}

/// HTTP client of the download tasks: no overall deadline (a dump takes long to
/// download), but bounded connection and read stalls.
/// Client of the static downloads, sending `product_opener.request_auth` (the staging
/// servers want it) with every request when it is set.
fn http_client(settings: &crate::config::Settings) -> Result<reqwest::Client, String> {
    use base64::Engine;
    let mut headers = reqwest::header::HeaderMap::new();
    let auth = settings.product_opener.request_auth.trim();
    if !auth.is_empty() {
        let credentials = if auth.contains(':') {
            auth.to_string()
        } else {
            format!("{auth}:")
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|e| format!("product_opener.request_auth: {e}"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .user_agent("Robotoff")
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
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
            match super::product_shard::annotate(services, request, timeout).await {
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

pub enum SchedulerMsg {
    /// A task's timer fired.
    Due(&'static str),
    /// A run ended with a summary or an error.
    Finished(&'static str, Result<String, String>),
    /// Run a task now (if it is not running); replies whether it was started.
    RunNow(String, RpcReplyPort<bool>),
    /// Completed runs per task.
    Runs(RpcReplyPort<HashMap<&'static str, u64>>),
}

pub struct Scheduler;

pub struct SchedulerState {
    services: Services,
    tasks: HashMap<&'static str, Task>,
    running: HashSet<&'static str>,
    runs: HashMap<&'static str, u64>,
}

fn next_delay(task: &Task) -> Duration {
    task.schedule.next_delay(chrono::Utc::now())
}

#[ractor::async_trait]
impl Actor for Scheduler {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    type Arguments = (Services, Vec<Task>);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (services, tasks): (Services, Vec<Task>),
    ) -> Result<Self::State, ActorProcessingErr> {
        for task in &tasks {
            let name = task.name;
            myself.send_after(next_delay(task), move || SchedulerMsg::Due(name));
        }
        Ok(SchedulerState {
            services,
            tasks: tasks.into_iter().map(|t| (t.name, t)).collect(),
            running: HashSet::new(),
            runs: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SchedulerMsg::Due(name) => {
                if let Some(task) = state.tasks.get(name) {
                    myself.send_after(next_delay(task), move || SchedulerMsg::Due(name));
                }
                state.start(&myself, name);
            }
            SchedulerMsg::RunNow(name, reply) => {
                let key = state.tasks.keys().copied().find(|k| *k == name);
                let started = key.is_some_and(|k| state.start(&myself, k));
                let _ = reply.send(started);
            }
            SchedulerMsg::Finished(name, result) => {
                state.running.remove(name);
                *state.runs.entry(name).or_default() += 1;
                match result {
                    Ok(summary) => {
                        tracing::info!(task = name, %summary, "scheduled task done");
                        metrics::scheduler_run(name, "ok");
                    }
                    Err(error) => {
                        tracing::error!(task = name, %error, "scheduled task failed");
                        metrics::scheduler_run(name, "error");
                    }
                }
            }
            SchedulerMsg::Runs(reply) => {
                let _ = reply.send(state.runs.clone());
            }
        }
        Ok(())
    }
}

impl SchedulerState {
    /// Starts `name` unless it is already running; returns whether it started.
    fn start(&mut self, myself: &ActorRef<SchedulerMsg>, name: &'static str) -> bool {
        let Some(task) = self.tasks.get(name).cloned() else {
            return false;
        };
        if !self.running.insert(name) {
            metrics::scheduler_run(name, "skipped_overlap");
            return false;
        }
        let services = self.services.clone();
        let me = myself.clone();
        tokio::spawn(async move {
            let result = run_exclusive(&services, &task).await;
            let _ = me.cast(SchedulerMsg::Finished(task.name, result));
        });
        true
    }
}

/// Runs `task`; a cluster-wide task runs while holding its advisory lock, and is skipped
/// if another node holds it.
async fn run_exclusive(services: &Services, task: &Task) -> Result<String, String> {
    if !task.cluster_wide {
        return (task.run)(services.clone()).await;
    }
    let mut conn = services.pool.acquire().await.map_err(|e| e.to_string())?;
    let key = task_key(task.name);
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(TASK_LOCK_SPACE)
        .bind(key)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    if !locked {
        return Ok("skipped: running on another node".to_string());
    }
    let result = (task.run)(services.clone()).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(TASK_LOCK_SPACE)
        .bind(key)
        .execute(&mut *conn)
        .await;
    result
}

fn task_key(name: &str) -> i32 {
    crate::shard::shard_key(name)
}

#[cfg(test)]
mod tests {
    use super::http_client;
    use crate::config::{Overrides, Settings};
    use std::sync::{Arc, Mutex};
    use warp::Filter;

    async fn authorization_sent(request_auth: &str) -> Option<String> {
        let seen: Arc<Mutex<Option<String>>> = Arc::default();
        let record = seen.clone();
        let route = warp::header::optional::<String>("authorization").map(move |h| {
            if let Ok(mut s) = record.lock() {
                *s = h;
            }
            "ok"
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(warp::serve(route).incoming(listener).run());
        let mut o = Overrides::default();
        o.set("product_opener.request_auth", request_auth);
        let settings = Settings::load_with_env(None, &o, Vec::new()).expect("settings");
        let client = http_client(&settings).expect("client");
        client
            .get(format!("http://{addr}/data/taxonomies/labels.full.json"))
            .send()
            .await
            .expect("request");
        seen.lock().ok().and_then(|s| s.clone())
    }

    #[tokio::test]
    async fn static_downloads_send_the_staging_credentials_when_set() {
        assert_eq!(
            authorization_sent("off:off").await.as_deref(),
            Some("Basic b2ZmOm9mZg==")
        );
        assert_eq!(authorization_sent("").await, None);
    }
}
