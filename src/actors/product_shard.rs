//! ProductShard: one actor per barcode shard; every write for a product runs here, in order.

use super::job_dispatcher::DispatcherMsg;
use super::{job_runner, Services, JOB_DISPATCHER};
use crate::infra::db::jobs::ClaimedJob;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub enum ShardMsg {
    /// Run a claimed job, then tell the dispatcher the shard has room again.
    Run(ClaimedJob),
    /// Which shard this is (liveness check).
    Ping(RpcReplyPort<u32>),
}

pub struct ProductShard;

pub struct ShardState {
    shard: u32,
    services: Services,
    dispatcher: String,
}

#[ractor::async_trait]
impl Actor for ProductShard {
    type Msg = ShardMsg;
    type State = ShardState;
    type Arguments = (u32, Services);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (shard, services): (u32, Services),
    ) -> Result<Self::State, ActorProcessingErr> {
        let dispatcher = services.names.of(JOB_DISPATCHER);
        // A (re)started shard has an empty mailbox: jobs handed to a previous instance
        // must be claimed again.
        if let Some(d) = services.names.lookup::<DispatcherMsg>(&dispatcher) {
            let _ = d.cast(DispatcherMsg::ShardStarted { shard });
        }
        Ok(ShardState {
            shard,
            services,
            dispatcher,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ShardMsg::Run(job) => {
                let outcome = job_runner::run(&state.services, &job).await;
                tracing::debug!(
                    shard = state.shard,
                    job = job.id,
                    outcome = outcome.label(),
                    "job finished"
                );
                if let Some(d) = state
                    .services
                    .names
                    .lookup::<DispatcherMsg>(&state.dispatcher)
                {
                    let _ = d.cast(DispatcherMsg::JobDone { shard: state.shard });
                }
            }
            ShardMsg::Ping(reply) => {
                let _ = reply.send(state.shard);
            }
        }
        Ok(())
    }
}
