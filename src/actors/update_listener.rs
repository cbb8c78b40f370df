//! UpdateListener: reads Product Opener's Redis streams (product updates, OCR ready) and
//! turns their events into durable jobs, storing each stream's position in the same
//! transaction as the jobs. Runs only when `redis.url` is set. In cluster mode one node
//! at a time reads: the holder of the listener's lease in PostgreSQL, renewed every
//! heartbeat and taken over by a waiting node when it lapses; every write of the reader
//! checks the lease's epoch in its own transaction.

use super::Services;
use crate::events::stream::{read_forever, Counters, ListenerFence, StreamContext};
use crate::infra::db::cluster::{self as lease, LISTENER_LEASE};
use crate::infra::metrics;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the listener is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStatus {
    pub streams: Vec<String>,
    pub connected: bool,
    /// Stream positions are known (stored or initialised): new entries will be read.
    pub ready: bool,
    /// Whether this node reads (always outside cluster mode; the lease holder in it).
    pub reading: bool,
    pub events_read: u64,
    pub jobs_enqueued: u64,
}

pub enum ListenerMsg {
    Status(RpcReplyPort<ListenerStatus>),
}

pub struct UpdateListener;

pub struct ListenerState {
    services: Services,
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
        let ctx = StreamContext {
            settings: services.settings.clone(),
            pool: services.pool.clone(),
            fence: None,
        };
        let reader = if services.settings.cluster.enabled {
            tokio::spawn(lead(
                services.clone(),
                ctx,
                client,
                streams.clone(),
                counters.clone(),
            ))
        } else {
            tokio::spawn(read_forever(ctx, client, streams.clone(), counters.clone()))
        };
        Ok(ListenerState {
            services,
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
        let hub = &state.services.hub;
        let epoch = hub.listener_epoch();
        if epoch > 0 {
            hub.set_listener_epoch(0);
            metrics::cluster_listener_held(false);
            // Handed over at once rather than when the lease lapses.
            let node = &state.services.node_id;
            let released = lease::release_lease(&state.services.pool, LISTENER_LEASE, node, epoch);
            let _ = tokio::time::timeout(Duration::from_secs(2), released).await;
        }
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
                    reading: !state.services.settings.cluster.enabled
                        || state.services.hub.listener_epoch() > 0,
                    events_read: c.events_read.load(Ordering::Relaxed),
                    jobs_enqueued: c.jobs_enqueued.load(Ordering::Relaxed),
                });
            }
        }
        Ok(())
    }
}

/// A task aborted when its handle is dropped (the reader of a lease holder).
struct Reader {
    epoch: i64,
    task: JoinHandle<()>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Cluster mode: takes the listener's lease when it is free and reads while holding it;
/// renews it every heartbeat; stops reading as soon as it is lost.
async fn lead(
    services: Services,
    ctx: StreamContext,
    client: redis::Client,
    streams: Vec<String>,
    counters: Arc<Counters>,
) {
    let c = &services.settings.cluster;
    let period = Duration::from_millis(c.heartbeat_ms.max(100));
    let ttl = Duration::from_millis(c.lease_ms.max(c.heartbeat_ms * 2).max(200));
    let node = services.node_id.clone();
    let hub = services.hub.clone();
    let mut reader: Option<Reader> = None;
    loop {
        if reader.as_ref().is_some_and(|r| r.task.is_finished()) {
            reader = None;
        }
        match lease::acquire_lease(&services.pool, LISTENER_LEASE, &node, ttl).await {
            Ok(Some(epoch)) => {
                if reader.as_ref().is_none_or(|r| r.epoch != epoch) {
                    tracing::info!(epoch, "this node reads Product Opener's streams now");
                    let ctx = StreamContext {
                        fence: Some(ListenerFence {
                            holder: node.clone(),
                            epoch,
                        }),
                        ..ctx.clone()
                    };
                    // The previous reader (an older epoch) stops before the new one starts.
                    drop(reader.take());
                    let task = tokio::spawn(read_forever(
                        ctx,
                        client.clone(),
                        streams.clone(),
                        counters.clone(),
                    ));
                    reader = Some(Reader { epoch, task });
                }
                hub.set_listener_epoch(epoch);
                metrics::cluster_listener_held(true);
            }
            Ok(None) => {
                if reader.take().is_some() {
                    tracing::warn!("the update listener's lease passed to another node");
                }
                counters.connected.store(false, Ordering::Relaxed);
                hub.set_listener_epoch(0);
                metrics::cluster_listener_held(false);
            }
            // The reader goes on: its writes check the lease themselves.
            Err(e) => tracing::warn!(error = %e, "could not renew the update listener's lease"),
        }
        tokio::time::sleep(period).await;
    }
}
