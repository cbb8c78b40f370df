//! Scheduler: periodic tasks as timers → runs, each task never overlapping itself (on
//! this node, and across nodes through an advisory lock), every run counted in metrics.

mod schedule;
mod tasks;

pub use schedule::{interval_delay, next_daily, Schedule};
pub use tasks::{
    auto_apply, default_tasks, Task, TaskFn, AUTO_APPLY_TASK, DATASET_REFRESH_TASK,
    DUMP_CLEANUP_TASK, TAXONOMY_REFRESH_TASK, TMP_CLEANUP_TASK,
};

use super::Services;
use crate::infra::db::{cluster, fence};
use crate::infra::metrics;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

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
                state.start(&myself, name, false);
            }
            SchedulerMsg::RunNow(name, reply) => {
                let key = state.tasks.keys().copied().find(|k| *k == name);
                let started = key.is_some_and(|k| state.start(&myself, k, true));
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
    /// Starts `name` unless it is already running; returns whether it started. A
    /// `forced` run (asked for) does not wait for the task's next scheduled time.
    fn start(&mut self, myself: &ActorRef<SchedulerMsg>, name: &'static str, forced: bool) -> bool {
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
            let result = run_exclusive(&services, &task, forced).await;
            let _ = me.cast(SchedulerMsg::Finished(task.name, result));
        });
        true
    }
}

/// Runs `task`; a cluster-wide task runs while holding its advisory lock, and is skipped
/// if another node holds it or already ran it for this scheduled time (the other nodes'
/// timers fire too); its outcome is recorded in `scheduler_task`.
async fn run_exclusive(services: &Services, task: &Task, forced: bool) -> Result<String, String> {
    if !task.cluster_wide {
        return (task.run)(services.clone()).await;
    }
    let mut conn = services.pool.acquire().await.map_err(|e| e.to_string())?;
    let key = task_key(task.name);
    let locked = fence::try_lock_task(&mut conn, key)
        .await
        .map_err(|e| e.to_string())?;
    if !locked {
        return Ok("skipped: running on another node".to_string());
    }
    let node = &services.node_id;
    let claimed =
        cluster::claim_task_run(&mut *conn, task.name, node, task.schedule.min_gap(), forced).await;
    let result = match claimed {
        Ok(true) => {
            let result = (task.run)(services.clone()).await;
            if let Err(e) = cluster::finish_task_run(&mut *conn, task.name, node, &result).await {
                tracing::warn!(task = task.name, error = %e, "could not record the task's outcome");
            }
            result
        }
        Ok(false) => Ok("skipped: another node ran it for this time".to_string()),
        Err(e) => Err(format!("claiming the run: {e}")),
    };
    let _ = fence::unlock_task(&mut conn, key).await;
    result
}

fn task_key(name: &str) -> i32 {
    crate::shard::shard_key(name)
}
