//! UpdateListener: reads Product Opener's Redis streams (product updates, OCR ready) and
//! turns their events into durable jobs, storing each stream's position in the same
//! transaction as the jobs. Runs only when `redis.url` is set.

use super::Services;
use crate::events::stream::{read_forever, Counters, StreamContext};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// What the listener is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStatus {
    pub streams: Vec<String>,
    pub connected: bool,
    /// Stream positions are known (stored or initialised): new entries will be read.
    pub ready: bool,
    pub events_read: u64,
    pub jobs_enqueued: u64,
}

pub enum ListenerMsg {
    Status(RpcReplyPort<ListenerStatus>),
}

pub struct UpdateListener;

pub struct ListenerState {
    streams: Vec<String>,
    counters: Arc<Counters>,
    reader: JoinHandle<()>,
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
        let streams = vec![r.product_updates_stream.clone(), r.ocr_ready_stream.clone()];
        let counters = Arc::new(Counters::default());
        let reader = tokio::spawn(read_forever(
            StreamContext {
                settings: services.settings.clone(),
                pool: services.pool.clone(),
            },
            client,
            streams.clone(),
            counters.clone(),
        ));
        Ok(ListenerState {
            streams,
            counters,
            reader,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.reader.abort();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ListenerMsg::Status(reply) => {
                let c = &state.counters;
                let _ = reply.send(ListenerStatus {
                    streams: state.streams.clone(),
                    connected: c.connected.load(Ordering::Relaxed),
                    ready: c.ready.load(Ordering::Relaxed),
                    events_read: c.events_read.load(Ordering::Relaxed),
                    jobs_enqueued: c.jobs_enqueued.load(Ordering::Relaxed),
                });
            }
        }
        Ok(())
    }
}
