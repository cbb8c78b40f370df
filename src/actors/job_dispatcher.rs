//! JobDispatcher: owns this node's shards (advisory locks), claims their due jobs from
//! the durable queue, and hands each to its product shard, never more than the shard's
//! window ahead.

use super::ml_dispatcher::{LaneEvent, LaneReport, MlMsg};
use super::product_shard::{ShardEvent, ShardMsg, ShardReport};
use super::{Names, Services, JOB_DISPATCHER, ML_DISPATCHER};
use crate::infra::db::fence::ShardFence;
use crate::infra::db::jobs;
use crate::infra::metrics;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sqlx::postgres::PgListener;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Channel on which inserts into the job table are announced.
pub const JOBS_CHANNEL: &str = "robotoff_jobs";

pub enum DispatcherMsg {
    /// Work may be due: claim for every shard with room.
    Wake,
    /// A shard finished a job and has room for one more.
    JobDone {
        shard: u32,
    },
    /// A shard (re)started with an empty mailbox.
    ShardStarted {
        shard: u32,
    },
    /// The model lane finished a job of `shard` and has room for one more.
    ModelStepDone {
        shard: u32,
    },
    /// The model lane (re)started with nothing in progress: jobs handed to a previous
    /// instance must be claimed again.
    ModelLaneStarted,
    /// Cluster mode: the shards this node should own from now on.
    SetOwnedShards(Vec<u32>),
    /// Cluster mode, cut off from the other nodes: take no new shard, keep those held
    /// (shards being given up still go when their jobs finish).
    KeepHeld,
    /// Periodic upkeep: ownership, polling, metrics.
    Tick,
    Status(RpcReplyPort<DispatcherStatus>),
}

impl From<ShardEvent> for DispatcherMsg {
    fn from(event: ShardEvent) -> Self {
        match event {
            ShardEvent::Started { shard } => DispatcherMsg::ShardStarted { shard },
            ShardEvent::JobDone { shard } => DispatcherMsg::JobDone { shard },
        }
    }
}

/// Where the shards of `names`' tree report: the job dispatcher of that tree, looked up
/// at each event (it may be between restarts, or not run at all).
pub fn shard_report(names: &Names) -> ShardReport {
    let names = names.clone();
    let dispatcher = names.of(JOB_DISPATCHER);
    Arc::new(move |event| {
        if let Some(d) = names.lookup::<DispatcherMsg>(&dispatcher) {
            let _ = d.cast(DispatcherMsg::from(event));
        }
    })
}

impl From<LaneEvent> for DispatcherMsg {
    fn from(event: LaneEvent) -> Self {
        match event {
            LaneEvent::Started => DispatcherMsg::ModelLaneStarted,
            LaneEvent::StepDone { shard } => DispatcherMsg::ModelStepDone { shard },
        }
    }
}

/// Where the model lane of `names`' tree reports: the job dispatcher of that tree,
/// looked up at each event.
pub fn lane_report(names: &Names) -> LaneReport {
    let names = names.clone();
    let dispatcher = names.of(JOB_DISPATCHER);
    Arc::new(move |event| {
        if let Some(d) = names.lookup::<DispatcherMsg>(&dispatcher) {
            let _ = d.cast(DispatcherMsg::from(event));
        }
    })
}

/// A snapshot of the dispatcher, for health and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatcherStatus {
    pub owned: Vec<u32>,
    pub in_flight: Vec<u32>,
    /// Model-step jobs in the model lane, per shard.
    pub model_in_flight: Vec<u32>,
    pub claimed_total: u64,
}

pub struct JobDispatcher;

pub struct DispatcherState {
    services: Services,
    fence: Option<ShardFence>,
    /// Shards this node should own.
    wanted: BTreeSet<i32>,
    /// Shards being given up: no new claims; the lock goes when their jobs finish.
    draining: BTreeSet<i32>,
    in_flight: Vec<u32>,
    /// Model-step jobs handed to the model lane, per shard.
    model_in_flight: Vec<u32>,
    wake_pending: Arc<AtomicBool>,
    listener: Option<JoinHandle<()>>,
    timer: Option<JoinHandle<()>>,
    last_claim: Instant,
    ticks: u64,
    claimed_total: u64,
}

#[ractor::async_trait]
impl Actor for JobDispatcher {
    type Msg = DispatcherMsg;
    type State = DispatcherState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        let shards = services.settings.workers.shards;
        let moved = jobs::remap_shards(&services.pool, shards).await?;
        if moved > 0 {
            tracing::info!(
                moved,
                shards,
                "jobs moved to their shard under the current shard count"
            );
        }
        let wanted: BTreeSet<i32> = if services.settings.cluster.enabled {
            BTreeSet::new()
        } else {
            (0..shards as i32).collect()
        };
        let wake_pending = Arc::new(AtomicBool::new(false));
        let listener = spawn_listener(services.pool.clone(), myself.clone(), wake_pending.clone());
        let mut state = DispatcherState {
            in_flight: vec![0; shards as usize],
            model_in_flight: vec![0; shards as usize],
            services,
            fence: None,
            wanted,
            draining: BTreeSet::new(),
            wake_pending,
            listener: Some(listener),
            timer: None,
            last_claim: Instant::now(),
            ticks: 0,
            claimed_total: 0,
        };
        state.maintain_ownership().await?;
        myself.send_interval(Duration::from_secs(1), || DispatcherMsg::Tick);
        let _ = myself.cast(DispatcherMsg::Wake);
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(l) = state.listener.take() {
            l.abort();
        }
        if let Some(t) = state.timer.take() {
            t.abort();
        }
        if let Some(fence) = state.fence.take() {
            fence.close().await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DispatcherMsg::Wake => {
                state.wake_pending.store(false, Ordering::SeqCst);
                state.claim_round(&myself).await;
            }
            DispatcherMsg::JobDone { shard } => {
                if let Some(n) = state.in_flight.get_mut(shard as usize) {
                    *n = n.saturating_sub(1);
                }
                if state.draining.contains(&(shard as i32)) {
                    state.finish_draining().await;
                }
                wake(&myself, &state.wake_pending);
            }
            DispatcherMsg::ModelStepDone { shard } => {
                if let Some(n) = state.model_in_flight.get_mut(shard as usize) {
                    *n = n.saturating_sub(1);
                }
                if state.draining.contains(&(shard as i32)) {
                    state.finish_draining().await;
                }
                wake(&myself, &state.wake_pending);
            }
            DispatcherMsg::ModelLaneStarted => {
                state.model_in_flight.iter_mut().for_each(|n| *n = 0);
                let node = state.services.node_id.clone();
                match jobs::release_model_steps(&state.services.pool, &node).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(
                            jobs = n,
                            "model steps of a restarted model lane queued again"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "could not release the model lane's jobs")
                    }
                }
                state.finish_draining().await;
                wake(&myself, &state.wake_pending);
            }
            DispatcherMsg::ShardStarted { shard } => {
                if let Some(n) = state.in_flight.get_mut(shard as usize) {
                    *n = 0;
                }
                let owned = state
                    .fence
                    .as_ref()
                    .is_some_and(|f| f.held().contains(&(shard as i32)));
                if owned {
                    let node = state.services.node_id.clone();
                    match jobs::release_running(&state.services.pool, &[shard as i32], Some(&node))
                        .await
                    {
                        Ok(n) if n > 0 => tracing::info!(
                            shard,
                            jobs = n,
                            "jobs of a restarted shard queued again"
                        ),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(shard, error = %e, "could not release a restarted shard's jobs")
                        }
                    }
                }
                wake(&myself, &state.wake_pending);
            }
            DispatcherMsg::SetOwnedShards(shards) => {
                let new: BTreeSet<i32> = shards.into_iter().map(|s| s as i32).collect();
                let held: BTreeSet<i32> = state
                    .fence
                    .as_ref()
                    .map(|f| f.held().clone())
                    .unwrap_or_default();
                state.draining = held.difference(&new).copied().collect();
                state.wanted = new;
                state.finish_draining().await;
                if let Err(e) = state.maintain_ownership().await {
                    tracing::error!(error = %e, "could not take shard ownership");
                }
                wake(&myself, &state.wake_pending);
            }
            DispatcherMsg::KeepHeld => {
                let held: BTreeSet<i32> = state
                    .fence
                    .as_ref()
                    .map(|f| f.held().clone())
                    .unwrap_or_default();
                state.wanted = held.difference(&state.draining).copied().collect();
            }
            DispatcherMsg::Tick => state.tick(&myself).await,
            DispatcherMsg::Status(reply) => {
                let owned = state
                    .fence
                    .as_ref()
                    .map(|f| f.held().iter().map(|s| *s as u32).collect())
                    .unwrap_or_default();
                let _ = reply.send(DispatcherStatus {
                    owned,
                    in_flight: state.in_flight.clone(),
                    model_in_flight: state.model_in_flight.clone(),
                    claimed_total: state.claimed_total,
                });
            }
        }
        Ok(())
    }
}

fn wake(myself: &ActorRef<DispatcherMsg>, pending: &AtomicBool) {
    if !pending.swap(true, Ordering::SeqCst) {
        let _ = myself.cast(DispatcherMsg::Wake);
    }
}

/// Listens for job inserts; reconnects with a pause when the connection drops.
fn spawn_listener(
    pool: sqlx::PgPool,
    myself: ActorRef<DispatcherMsg>,
    pending: Arc<AtomicBool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(JOBS_CHANNEL).await {
                        tracing::warn!(error = %e, "could not listen for job notifications");
                    } else {
                        // Anything enqueued while not listening is picked up now.
                        wake(&myself, &pending);
                        while listener.recv().await.is_ok() {
                            wake(&myself, &pending);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not connect for job notifications"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

impl DispatcherState {
    fn window(&self) -> u32 {
        self.services.settings.workers.prefetch + 1
    }

    /// Claims for every owned shard with room, hands the jobs out, and plans the next wake-up.
    async fn claim_round(&mut self, myself: &ActorRef<DispatcherMsg>) {
        self.last_claim = Instant::now();
        let Some(fence) = self.fence.as_ref() else {
            return;
        };
        let window = self.window();
        let wanted: Vec<(i32, i64)> = fence
            .held()
            .iter()
            .filter(|s| !self.draining.contains(s))
            .filter_map(|s| {
                let busy = self.in_flight.get(*s as usize).copied().unwrap_or(window);
                (busy < window).then(|| (*s, i64::from(window - busy)))
            })
            .collect();
        if wanted.is_empty() {
            // Every shard is busy (its completions wake us); the model lane may have room.
            if self.claim_model_steps().await {
                wake(myself, &self.wake_pending);
            }
            return;
        }
        let owned: Vec<i32> = fence.held().iter().copied().collect();
        let claimed = match jobs::claim(&self.services.pool, &wanted, &self.services.node_id).await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(error = %e, "could not claim jobs");
                return;
            }
        };
        let mut filled = false;
        for (shard, asked) in &wanted {
            let got = claimed.iter().filter(|j| j.shard == *shard).count() as i64;
            filled |= got == *asked;
        }
        self.claimed_total += claimed.len() as u64;
        for job in claimed {
            let shard = job.shard as u32;
            if let Some(n) = self.in_flight.get_mut(shard as usize) {
                *n += 1;
            }
            let name = self.services.names.shard(shard);
            match self.services.names.lookup::<ShardMsg>(&name) {
                Some(actor) => {
                    if actor.cast(ShardMsg::Run(job)).is_err() {
                        tracing::warn!(shard, "shard stopped before taking its job; it is claimed again when the shard restarts");
                    }
                }
                None => tracing::warn!(
                    shard,
                    "shard not running; its job is claimed again when it restarts"
                ),
            }
        }
        filled |= self.claim_model_steps().await;
        if filled {
            wake(myself, &self.wake_pending);
            return;
        }
        self.plan_wake_up(myself, &owned).await;
    }

    /// Claims model-step jobs for the model lane, up to its room; returns whether it
    /// got all it asked for (more may be due).
    async fn claim_model_steps(&mut self) -> bool {
        let Some(fence) = self.fence.as_ref() else {
            return false;
        };
        let lane_name = self.services.names.of(ML_DISPATCHER);
        let Some(lane) = self.services.names.lookup::<MlMsg>(&lane_name) else {
            return false;
        };
        let busy: u32 = self.model_in_flight.iter().sum();
        let room = self.services.settings.ml.max_jobs.saturating_sub(busy);
        if room == 0 {
            return false;
        }
        let shards: Vec<i32> = fence
            .held()
            .iter()
            .copied()
            .filter(|s| !self.draining.contains(s))
            .collect();
        let claimed = match jobs::claim_model_steps(
            &self.services.pool,
            &shards,
            i64::from(room),
            &self.services.node_id,
        )
        .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(error = %e, "could not claim model steps");
                return false;
            }
        };
        let full = claimed.len() as u32 == room;
        self.claimed_total += claimed.len() as u64;
        for job in claimed {
            if let Some(n) = self.model_in_flight.get_mut(job.shard as usize) {
                *n += 1;
            }
            if lane.cast(MlMsg::Run(job)).is_err() {
                tracing::warn!("the model lane stopped before taking its job; it is claimed again when the lane restarts");
            }
        }
        full
    }

    /// Sets a timer for the earliest delayed job, so it runs on time without polling.
    async fn plan_wake_up(&mut self, myself: &ActorRef<DispatcherMsg>, owned: &[i32]) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        match jobs::next_due_in(&self.services.pool, owned).await {
            Ok(Some(delay)) if !delay.is_zero() => {
                let poll = Duration::from_millis(self.services.settings.workers.poll_interval_ms);
                if delay < poll * 60 {
                    let me = myself.clone();
                    let pending = self.wake_pending.clone();
                    self.timer = Some(tokio::spawn(async move {
                        tokio::time::sleep(delay + Duration::from_millis(5)).await;
                        wake(&me, &pending);
                    }));
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not plan the next wake-up"),
        }
    }

    async fn tick(&mut self, myself: &ActorRef<DispatcherMsg>) {
        self.ticks += 1;
        let alive = match self.fence.as_mut() {
            Some(fence) => fence.ping().await.is_ok(),
            None => false,
        };
        if !alive && self.fence.take().is_some() {
            tracing::error!("lost the shard ownership connection; claiming stops until it is back");
            metrics::shards_owned(0);
        }
        if let Err(e) = self.maintain_ownership().await {
            tracing::warn!(error = %e, "shard ownership not (re)acquired yet");
        }
        let poll = Duration::from_millis(self.services.settings.workers.poll_interval_ms);
        if self.last_claim.elapsed() >= poll {
            wake(myself, &self.wake_pending);
        }
        if self.ticks % 5 == 1 {
            self.export_queue_metrics().await;
        }
    }

    /// Opens the fence if needed and takes every wanted shard not yet held. Jobs left
    /// running on a newly taken shard belonged to a dead owner: they are queued again.
    async fn maintain_ownership(&mut self) -> Result<(), sqlx::Error> {
        if self.fence.is_none() {
            self.fence = Some(
                ShardFence::open(
                    &self.services.pool.connect_options(),
                    &self.services.node_id,
                )
                .await?,
            );
        }
        let Some(fence) = self.fence.as_mut() else {
            return Ok(());
        };
        let wanted: Vec<i32> = self
            .wanted
            .iter()
            .copied()
            .filter(|s| !self.draining.contains(s))
            .collect();
        let taken = fence.acquire(&wanted).await?;
        if !taken.is_empty() {
            let released = jobs::release_running(&self.services.pool, &taken, None).await?;
            if released > 0 {
                tracing::info!(jobs = released, shards = ?taken, "interrupted jobs queued again");
            }
            for s in &taken {
                if let Some(n) = self.in_flight.get_mut(*s as usize) {
                    *n = 0;
                }
            }
        }
        metrics::shards_owned(fence.held().len());
        Ok(())
    }

    /// Releases the locks of draining shards whose jobs have all finished.
    async fn finish_draining(&mut self) {
        let idle: Vec<i32> = self
            .draining
            .iter()
            .copied()
            .filter(|s| {
                let i = *s as usize;
                self.in_flight.get(i).copied().unwrap_or(0) == 0
                    && self.model_in_flight.get(i).copied().unwrap_or(0) == 0
            })
            .collect();
        if idle.is_empty() {
            return;
        }
        if let Some(fence) = self.fence.as_mut() {
            if let Err(e) = fence.release(&idle).await {
                tracing::error!(error = %e, "could not release shards");
                return;
            }
            metrics::shards_owned(fence.held().len());
        }
        for s in idle {
            self.draining.remove(&s);
        }
    }

    async fn export_queue_metrics(&self) {
        if let Ok(depth) = jobs::queue_depth(&self.services.pool).await {
            for (priority, n) in depth {
                metrics::queue_depth(priority.as_str(), n);
            }
        }
        if let Ok(dead) = jobs::dead_count(&self.services.pool).await {
            metrics::dead_jobs(dead);
        }
    }
}
