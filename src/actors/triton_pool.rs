//! TritonPool: keeps the node's Triton client (pooled channels per endpoint, breakers)
//! and checks, at start and every `triton.health_interval_secs`, that every configured
//! model is ready; the result feeds `/api/v1/health` and the metrics. Job handlers call
//! the client directly.

use super::Services;
use crate::infra::metrics;
use crate::infra::triton::{self, TritonHealth};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::time::Duration;

pub enum TritonMsg {
    /// Check every model's readiness now.
    Check,
    /// The last check.
    Health(RpcReplyPort<Option<TritonHealth>>),
}

pub struct TritonPool;

pub struct TritonState {
    services: Services,
    models: Vec<String>,
}

#[ractor::async_trait]
impl Actor for TritonPool {
    type Msg = TritonMsg;
    type State = TritonState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        let models: Vec<String> = services.settings.triton.models.keys().cloned().collect();
        let _ = myself.cast(TritonMsg::Check);
        Ok(TritonState { services, models })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TritonMsg::Check => {
                let resources = state.services.resources.clone();
                let models = state.models.clone();
                let every =
                    Duration::from_secs(state.services.settings.triton.health_interval_secs.max(1));
                // Checked off the mailbox: a slow Triton must not block status queries.
                tokio::spawn(async move {
                    let health = triton::check(&resources.models.triton, &models).await;
                    for m in &health.models {
                        metrics::triton_model_ready(&m.model, m.ready);
                    }
                    if !health.all_ready() {
                        tracing::warn!(models = ?health.models.iter().filter(|m| !m.ready).map(|m| &m.model).collect::<Vec<_>>(), "Triton models not ready");
                    }
                    if let Ok(mut slot) = resources.triton_health.write() {
                        *slot = Some(health);
                    }
                });
                myself.send_after(every, || TritonMsg::Check);
            }
            TritonMsg::Health(reply) => {
                let health = state
                    .services
                    .resources
                    .triton_health
                    .read()
                    .ok()
                    .and_then(|h| h.clone());
                let _ = reply.send(health);
            }
        }
        Ok(())
    }
}
