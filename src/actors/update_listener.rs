//! UpdateListener: reads Product Opener's Redis streams (product updates, OCR ready)
//! and turns their events into durable jobs. Runs only when `redis.url` is set.

use super::Services;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use redis::aio::ConnectionManager;

/// What the listener is connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStatus {
    pub streams: Vec<String>,
    pub connected: bool,
}

pub enum ListenerMsg {
    Status(RpcReplyPort<ListenerStatus>),
}

pub struct UpdateListener;

pub struct ListenerState {
    redis: ConnectionManager,
    streams: Vec<String>,
}

#[ractor::async_trait]
impl Actor for UpdateListener {
    type Msg = ListenerMsg;
    type State = ListenerState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        let r = &services.settings.redis;
        let url = r.url().ok_or("the update listener needs redis.url")?;
        let client = redis::Client::open(url)?;
        let redis = client.get_connection_manager().await?;
        Ok(ListenerState {
            redis,
            streams: vec![r.product_updates_stream.clone(), r.ocr_ready_stream.clone()],
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ListenerMsg::Status(reply) => {
                let connected = redis::cmd("PING")
                    .query_async::<String>(&mut state.redis)
                    .await
                    .is_ok();
                let _ = reply.send(ListenerStatus {
                    streams: state.streams.clone(),
                    connected,
                });
            }
        }
        Ok(())
    }
}
