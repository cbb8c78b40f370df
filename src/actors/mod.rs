//! The supervision tree: one module per actor (its messages, its state, its `handle`),
//! the shared context they start from, and [`shards`], the way into the product shards.
//! Actors call down into the domain modules (`pipeline`, `insights`, `annotation`,
//! `events`, `product_store`, `maintenance`, ...) and `infra`; nothing below imports them.

pub mod cluster_link;
pub mod insight_importer;
pub mod job_dispatcher;
pub mod logo_index;
pub mod ml_dispatcher;
pub mod product_shard;
pub mod scheduler;
pub mod shards;
pub mod supervisor;
pub mod triton_pool;
pub mod update_listener;

use crate::config::Settings;
use ractor::{ActorRef, Message, MessagingErr, RpcReplyPort};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

/// What every actor is started with: settings, the database pool, this node's name,
/// the names under which the tree's actors are registered, shared job resources.
#[derive(Debug, Clone)]
pub struct Services {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    pub node_id: String,
    pub names: Names,
    /// Data and clients the job handlers share (OCR data loads on first use).
    pub resources: Arc<crate::pipeline::JobResources>,
    /// Annotations each shard may have waiting (`annotation.queue_per_shard`).
    pub shard_queues: Arc<Vec<Arc<tokio::sync::Semaphore>>>,
    /// Change notices of this node and what it knows of its cluster.
    pub hub: Arc<crate::cluster::Hub>,
}

impl Services {
    /// Waiting room of each product shard's annotations.
    pub fn shard_queues(settings: &Settings) -> Arc<Vec<Arc<tokio::sync::Semaphore>>> {
        let per_shard = settings.annotation.queue_per_shard.max(1);
        Arc::new(
            (0..settings.workers.shards)
                .map(|_| Arc::new(tokio::sync::Semaphore::new(per_shard)))
                .collect(),
        )
    }

    /// What job handlers run with.
    pub fn job_context(&self) -> crate::pipeline::Context {
        crate::pipeline::Context {
            settings: self.settings.clone(),
            pool: self.pool.clone(),
            resources: self.resources.clone(),
        }
    }
}

/// Actor names of one tree. Names are process-wide in ractor's registry, so each tree
/// gets its own prefix (several services can run in one process, as in tests).
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

pub const PRODUCT_SHARD: &str = "product_shard";
pub const JOB_DISPATCHER: &str = "job_dispatcher";
pub const ML_DISPATCHER: &str = "ml_dispatcher";
pub const TRITON_POOL: &str = "triton_pool";
pub const INSIGHT_IMPORTER: &str = "insight_importer";
pub const LOGO_INDEX: &str = "logo_index";
pub const SCHEDULER: &str = "scheduler";
pub const UPDATE_LISTENER: &str = "update_listener";
pub const CLUSTER_LINK: &str = "cluster_link";

impl Names {
    pub fn new(prefix: impl Into<String>) -> Self {
        Names {
            prefix: prefix.into(),
        }
    }

    /// Registered name of the actor called `base` (for shards: `product_shard.3`).
    pub fn of(&self, base: &str) -> String {
        format!("{}/{base}", self.prefix)
    }

    pub fn shard(&self, shard: u32) -> String {
        format!("{}/{PRODUCT_SHARD}.{shard}", self.prefix)
    }

    /// The running actor registered as `name`, if any (it may be between restarts).
    pub fn lookup<M: Message>(&self, name: &str) -> Option<ActorRef<M>> {
        ActorRef::where_is(name)
    }
}

/// Why a call to an actor did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("{0} is not running")]
    NotRunning(String),
    #[error("{0} did not answer in time")]
    Timeout(String),
    #[error("{0} dropped the request")]
    Dropped(String),
}

/// `call` with a timeout, mapping every failure to a [`CallError`] naming the actor.
pub async fn call<M, R, F>(actor: &ActorRef<M>, build: F, timeout: Duration) -> Result<R, CallError>
where
    M: Message,
    R: Send + 'static,
    F: FnOnce(RpcReplyPort<R>) -> M,
{
    let name = actor
        .get_name()
        .unwrap_or_else(|| actor.get_id().to_string());
    match actor.call(build, Some(timeout)).await {
        Ok(ractor::rpc::CallResult::Success(r)) => Ok(r),
        Ok(ractor::rpc::CallResult::Timeout) => Err(CallError::Timeout(name)),
        Ok(ractor::rpc::CallResult::SenderError) => Err(CallError::Dropped(name)),
        Err(MessagingErr::SendErr(_))
        | Err(MessagingErr::ChannelClosed)
        | Err(MessagingErr::InvalidActorType) => Err(CallError::NotRunning(name)),
    }
}
