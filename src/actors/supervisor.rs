//! RootSupervisor: starts every actor of the tree and restarts a failed one by name,
//! with capped exponential backoff, counting restarts.

use crate::infra::metrics;
use futures::future::BoxFuture;
use ractor::{
    Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, SupervisionEvent,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to (re)start one child: called with the supervisor's cell to link to.
pub type StartFn =
    Arc<dyn Fn(ActorCell) -> BoxFuture<'static, Result<ActorCell, SpawnErr>> + Send + Sync>;

/// A supervised child: its name (unique in the tree) and how to start it.
#[derive(Clone)]
pub struct ChildSpec {
    pub name: String,
    pub start: StartFn,
}

impl ChildSpec {
    /// A child spawned as `actor` with arguments from `args` each time it (re)starts.
    pub fn new<A, F>(name: impl Into<String>, actor_name: String, make: F) -> Self
    where
        A: Actor,
        F: Fn() -> (A, A::Arguments) + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        let start: StartFn = Arc::new(move |parent: ActorCell| {
            let make = make.clone();
            let actor_name = actor_name.clone();
            Box::pin(async move {
                let (actor, args) = make();
                let (actor_ref, _) =
                    Actor::spawn_linked(Some(actor_name), actor, args, parent).await?;
                Ok(actor_ref.get_cell())
            })
        });
        ChildSpec {
            name: name.into(),
            start,
        }
    }
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .finish()
    }
}

/// Restart delay policy: `base` doubling per consecutive failure, capped at `max`.
/// A child that ran longer than `max` before failing starts again from `base`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    pub fn delay(&self, consecutive_failures: u32) -> Duration {
        let exp = consecutive_failures.saturating_sub(1).min(16);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }
}

pub enum SupervisorMsg {
    /// Start a child and supervise it from now on.
    Start(ChildSpec, RpcReplyPort<Result<(), String>>),
    /// Backoff elapsed: start the named child again.
    Restart(String),
    /// Names of the children currently running.
    Running(RpcReplyPort<Vec<String>>),
    /// Restarts per child since the supervisor started.
    Restarts(RpcReplyPort<HashMap<String, u32>>),
    /// Stop restarting children (the tree is shutting down).
    ShutDown(RpcReplyPort<()>),
}

pub struct RootSupervisor;

pub struct SupervisorState {
    backoff: Backoff,
    specs: HashMap<String, ChildSpec>,
    running: HashMap<ractor::ActorId, (String, Instant)>,
    consecutive: HashMap<String, u32>,
    restarts: HashMap<String, u32>,
    shutting_down: bool,
}

#[ractor::async_trait]
impl Actor for RootSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = Backoff;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        backoff: Backoff,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SupervisorState {
            backoff,
            specs: HashMap::new(),
            running: HashMap::new(),
            consecutive: HashMap::new(),
            restarts: HashMap::new(),
            shutting_down: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Start(spec, reply) => {
                let name = spec.name.clone();
                state.specs.insert(name.clone(), spec);
                let result = start_child(&myself, state, &name).await;
                let _ = reply.send(result);
            }
            SupervisorMsg::Restart(name) => {
                if state.shutting_down || state.running.values().any(|(n, _)| *n == name) {
                    return Ok(());
                }
                if let Err(err) = start_child(&myself, state, &name).await {
                    tracing::error!(actor = %name, error = %err, "restart failed");
                    schedule_restart(&myself, state, name);
                }
            }
            SupervisorMsg::Running(reply) => {
                let mut names: Vec<String> =
                    state.running.values().map(|(n, _)| n.clone()).collect();
                names.sort();
                let _ = reply.send(names);
            }
            SupervisorMsg::Restarts(reply) => {
                let _ = reply.send(state.restarts.clone());
            }
            SupervisorMsg::ShutDown(reply) => {
                state.shutting_down = true;
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some((name, started)) = state.running.remove(&cell.get_id()) else {
                    return Ok(());
                };
                tracing::error!(actor = %name, error = %err, "actor failed");
                if state.shutting_down {
                    return Ok(());
                }
                if started.elapsed() > state.backoff.max {
                    state.consecutive.remove(&name);
                }
                metrics::actor_restart(metric_label(&name));
                *state.restarts.entry(name.clone()).or_default() += 1;
                schedule_restart(&myself, state, name);
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                // A normal stop is not a crash: the child is not restarted.
                if let Some((name, _)) = state.running.remove(&cell.get_id()) {
                    tracing::debug!(actor = %name, reason = ?reason, "actor stopped");
                }
            }
            _ => {}
        }
        Ok(())
    }
}

async fn start_child(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    name: &str,
) -> Result<(), String> {
    let spec = state
        .specs
        .get(name)
        .ok_or_else(|| format!("no child named {name}"))?;
    let cell = (spec.start)(myself.get_cell())
        .await
        .map_err(|e| format!("could not start {name}: {e}"))?;
    state
        .running
        .insert(cell.get_id(), (name.to_string(), Instant::now()));
    metrics::actor_started(metric_label(name));
    Ok(())
}

/// Metric label of a child: its name without the tree's prefix (`product_shard.3`).
pub fn metric_label(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn schedule_restart(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState, name: String) {
    let failures = state.consecutive.entry(name.clone()).or_default();
    *failures += 1;
    let delay = state.backoff.delay(*failures);
    tracing::info!(actor = %name, delay_ms = delay.as_millis() as u64, "restarting after backoff");
    myself.send_after(delay, move || SupervisorMsg::Restart(name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_sixty() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=8).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.delay(1000).as_secs(), 60);
    }
}
