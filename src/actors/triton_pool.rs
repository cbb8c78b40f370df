//! TritonPool: a small pool of gRPC channels to the Triton inference server, handed out
//! round-robin; channels connect lazily and reconnect by themselves.

use super::Services;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

pub enum TritonMsg {
    /// A channel to use for one or more calls.
    Channel(RpcReplyPort<Channel>),
    /// The configured endpoint.
    Endpoint(RpcReplyPort<String>),
}

pub struct TritonPool;

pub struct TritonState {
    url: String,
    channels: Vec<Channel>,
    next: usize,
}

#[ractor::async_trait]
impl Actor for TritonPool {
    type Msg = TritonMsg;
    type State = TritonState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        let t = &services.settings.triton;
        let endpoint = Endpoint::from_shared(t.url.clone())
            .map_err(|e| format!("invalid triton.url {:?}: {e}", t.url))?
            .connect_timeout(Duration::from_secs(t.timeout_secs))
            .timeout(Duration::from_secs(t.timeout_secs))
            .tcp_nodelay(true);
        let channels = (0..t.pool_size.max(1))
            .map(|_| endpoint.connect_lazy())
            .collect();
        Ok(TritonState {
            url: t.url.clone(),
            channels,
            next: 0,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TritonMsg::Channel(reply) => {
                let i = state.next % state.channels.len();
                state.next = state.next.wrapping_add(1);
                if let Some(channel) = state.channels.get(i) {
                    let _ = reply.send(channel.clone());
                }
            }
            TritonMsg::Endpoint(reply) => {
                let _ = reply.send(state.url.clone());
            }
        }
        Ok(())
    }
}
