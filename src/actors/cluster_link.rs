//! ClusterLink (cluster mode): membership by heartbeats in Redis, the shards this node
//! should own (rendezvous over the live worker nodes; ownership itself is fenced by the
//! dispatcher's advisory locks), and change notices between nodes over Redis pub/sub,
//! with their repair from PostgreSQL.

use super::job_dispatcher::{DispatcherMsg, DispatcherStatus};
use super::logo_index::LogoIndexMsg;
use super::{Services, JOB_DISPATCHER, LOGO_INDEX};
use crate::cluster::membership::{self, Beat, Keys, Member};
use crate::cluster::{Hub, Notice, NoticeKind, Origin, WireNotice};
use crate::config::Role;
use crate::infra::db::cluster as db;
use crate::infra::metrics;
use futures::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use redis::aio::ConnectionManager;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::task::JoinHandle;

pub enum ClusterMsg {
    Heartbeat,
    /// Reads the notice generations from PostgreSQL and applies any missed.
    Repair,
    /// Another node joined, beat or left.
    Heard(Beat),
}

pub struct ClusterLink;

pub struct ClusterState {
    services: Services,
    keys: Keys,
    client: redis::Client,
    /// Opened on first use: a node starts while Redis is away, and waits for it.
    redis: Option<ConnectionManager>,
    members: Vec<Member>,
    owned: Vec<u32>,
    joined: bool,
    started_at: String,
    tasks: Vec<JoinHandle<()>>,
    /// Generations read from PostgreSQL at the last repair and not yet heard of: applied
    /// at the next repair if Redis has not delivered them by then.
    pending: HashMap<NoticeKind, i64>,
}

#[ractor::async_trait]
impl Actor for ClusterLink {
    type Msg = ClusterMsg;
    type State = ClusterState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        let url = services
            .settings
            .redis
            .url()
            .ok_or("cluster mode needs redis.url")?;
        let client = redis::Client::open(url)?;
        let keys = Keys::of(&services.settings);
        // Notices already announced before this node started are not applied again.
        match db::generations(&services.pool).await {
            Ok(g) => services.hub.start_from(
                &g.iter()
                    .filter_map(|(k, n, _)| NoticeKind::parse(k).map(|k| (k, *n)))
                    .collect::<Vec<_>>(),
            ),
            Err(e) => tracing::warn!(error = %e, "could not read the notice generations"),
        }
        let c = &services.settings.cluster;
        let period = Duration::from_millis(c.heartbeat_ms.max(100));
        myself.send_interval(period, || ClusterMsg::Heartbeat);
        myself.send_interval(Duration::from_millis(c.repair_ms.max(100)), || {
            ClusterMsg::Repair
        });
        let _ = myself.cast(ClusterMsg::Heartbeat);
        let tasks = vec![
            tokio::spawn(subscribe_forever(
                client.clone(),
                keys.clone(),
                services.node_id.clone(),
                services.hub.clone(),
                myself.clone(),
            )),
            tokio::spawn(relay_notices(
                services.clone(),
                client.clone(),
                keys.clone(),
            )),
        ];
        Ok(ClusterState {
            services,
            keys,
            client,
            redis: None,
            members: Vec::new(),
            owned: Vec::new(),
            joined: false,
            started_at: chrono::Utc::now().to_rfc3339(),
            tasks,
            pending: HashMap::new(),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        for t in state.tasks.drain(..) {
            t.abort();
        }
        let node = state.services.node_id.clone();
        let keys = state.keys.clone();
        let left = async {
            let conn = connection(&state.client, &mut state.redis).await?;
            membership::leave(conn, &keys, &node).await
        };
        if !matches!(
            tokio::time::timeout(Duration::from_secs(2), left).await,
            Ok(Ok(()))
        ) {
            tracing::warn!(
                "could not announce this node's departure; the others notice its silence"
            );
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
            ClusterMsg::Heartbeat => state.heartbeat().await,
            ClusterMsg::Repair => state.repair().await,
            ClusterMsg::Heard(beat) => {
                let known = state.members.iter().any(|m| m.node_id == beat.node);
                if beat.event != "beat" || !known {
                    let _ = myself.cast(ClusterMsg::Heartbeat);
                }
            }
        }
        Ok(())
    }
}

impl ClusterState {
    fn me(&self, owned_shards: Vec<u32>) -> Member {
        let s = &self.services.settings;
        Member {
            node_id: self.services.node_id.clone(),
            roles: s.roles.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            started_at: self.started_at.clone(),
            http_addr: self.services.hub.http_addr.get().cloned(),
            owned_shards,
            listener: self.services.hub.listener_epoch() > 0,
            last_seen_ms: 0,
        }
    }

    fn dispatcher(&self) -> Option<ActorRef<DispatcherMsg>> {
        let name = self.services.names.of(JOB_DISPATCHER);
        self.services.names.lookup::<DispatcherMsg>(&name)
    }

    async fn heartbeat(&mut self) {
        let held = match self.dispatcher() {
            Some(d) => super::call(&d, DispatcherMsg::Status, Duration::from_millis(500))
                .await
                .map(|s: DispatcherStatus| s.owned)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let c = &self.services.settings.cluster;
        let period = Duration::from_millis(c.heartbeat_ms.max(100));
        let me = self.me(held);
        let (client, keys) = (&self.client, &self.keys);
        let joined = self.joined;
        let redis = &mut self.redis;
        let beat = async {
            let conn = connection(client, redis).await?;
            let members =
                membership::heartbeat(conn, keys, &me, period.as_millis() as u64 * 3).await?;
            let event = if joined { "beat" } else { "join" };
            let text = serde_json::to_string(&Beat {
                node: me.node_id.clone(),
                event: event.into(),
            })
            .unwrap_or_default();
            redis::cmd("PUBLISH")
                .arg(&keys.heartbeats)
                .arg(text)
                .query_async::<i64>(conn)
                .await?;
            Ok::<_, redis::RedisError>(members)
        };
        let members = match tokio::time::timeout(period.max(Duration::from_secs(1)), beat).await {
            Ok(Ok(m)) => m,
            failed => {
                let error = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer".to_string(),
                };
                if self.services.hub.redis_up() || !self.joined {
                    tracing::error!(%error, "cluster heartbeat failed: keeping only the shards this node holds");
                }
                self.services.hub.set_redis_up(false);
                metrics::cluster_redis_up(false);
                // Cut off from the others: no shard is taken or given up until they
                // can be seen again; the locks already held keep every shard fenced.
                if let Some(d) = self.dispatcher() {
                    let _ = d.cast(DispatcherMsg::KeepHeld);
                }
                return;
            }
        };
        if !self.services.hub.redis_up() && self.joined {
            tracing::info!("cluster heartbeat works again");
        }
        self.joined = true;
        self.services.hub.set_redis_up(true);
        metrics::cluster_redis_up(true);
        metrics::cluster_members(members.len());
        let node = self.services.node_id.clone();
        let owned = if self.services.settings.has_role(Role::Workers) {
            membership::rendezvous(
                &membership::workers(&members),
                self.services.settings.workers.shards,
                &node,
            )
        } else {
            Vec::new()
        };
        let ids = |m: &[Member]| m.iter().map(|m| m.node_id.clone()).collect::<Vec<_>>();
        if owned != self.owned || ids(&members) != ids(&self.members) {
            tracing::info!(members = ?ids(&members), owned = ?owned, "cluster membership changed");
            metrics::cluster_membership_changed();
            self.owned = owned.clone();
        }
        self.members = members.clone();
        self.services.hub.set_members(members);
        // Sent at every heartbeat, so a restarted dispatcher learns its shards at once.
        if let Some(d) = self.dispatcher() {
            let _ = d.cast(DispatcherMsg::SetOwnedShards(owned));
        }
    }

    /// Catches up with changes announced in PostgreSQL that Redis did not deliver: a
    /// generation still unheard of one repair period after it was read is applied (as
    /// "everything changed": more than the last change may have been missed).
    async fn repair(&mut self) {
        let generations = match db::generations(&self.services.pool).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the notice generations");
                return;
            }
        };
        let hub = &self.services.hub;
        for (kind, generation, _) in generations {
            let Some(kind) = NoticeKind::parse(&kind) else {
                continue;
            };
            let overdue = self.pending.get(&kind).is_some_and(|p| hub.seen(kind) < *p);
            if overdue && hub.advance(kind, generation) {
                metrics::cluster_notice(kind.as_str(), "repaired");
                tracing::info!(
                    kind = kind.as_str(),
                    generation,
                    "notice missed on Redis, caught up from PostgreSQL"
                );
                hub.apply_remote(kind, 0, serde_json::Value::Null);
            }
            if hub.seen(kind) < generation {
                self.pending.insert(kind, generation);
            } else {
                self.pending.remove(&kind);
            }
        }
    }
}

/// The connection to Redis, opened (with short deadlines) if it is not yet.
async fn connection<'c>(
    client: &redis::Client,
    slot: &'c mut Option<ConnectionManager>,
) -> redis::RedisResult<&'c mut ConnectionManager> {
    if slot.is_none() {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        *slot = Some(client.get_connection_manager_with_config(config).await?);
    }
    match slot {
        Some(conn) => Ok(conn),
        None => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "no Redis connection",
        ))),
    }
}

/// Listens to the heartbeats and notices channels until aborted, reconnecting after a
/// pause when Redis goes away (notices missed meanwhile are repaired from PostgreSQL).
async fn subscribe_forever(
    client: redis::Client,
    keys: Keys,
    me: String,
    hub: Arc<Hub>,
    link: ActorRef<ClusterMsg>,
) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                let subscribed = async {
                    pubsub.subscribe(&keys.heartbeats).await?;
                    pubsub.subscribe(&keys.notices).await
                };
                match subscribed.await {
                    Ok(()) => {
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            let Ok(text) = msg.get_payload::<String>() else {
                                continue;
                            };
                            if msg.get_channel_name() == keys.heartbeats {
                                if let Ok(beat) = serde_json::from_str::<Beat>(&text) {
                                    if beat.node != me {
                                        let _ = link.cast(ClusterMsg::Heard(beat));
                                    }
                                }
                            } else if let Ok(n) = serde_json::from_str::<WireNotice>(&text) {
                                if n.from != me {
                                    metrics::cluster_notice(n.kind.as_str(), "received");
                                    hub.apply_remote(n.kind, n.generation, n.detail);
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not subscribe to the cluster channels")
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cluster channels unreachable"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Announces this node's notices to the others (a burst becomes one message per kind,
/// with its generation moved on in PostgreSQL), and applies theirs here: a data reload,
/// a logo index catch-up (listing caches listen to the hub themselves).
async fn relay_notices(services: Services, client: redis::Client, keys: Keys) {
    let mut redis: Option<ConnectionManager> = None;
    let hub = services.hub.clone();
    let mut rx = hub.subscribe();
    loop {
        let first = match rx.recv().await {
            Ok(n) => n,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let mut batch = vec![first];
        loop {
            match rx.try_recv() {
                Ok(n) => batch.push(n),
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        let mut local: BTreeMap<&'static str, (NoticeKind, serde_json::Value)> = BTreeMap::new();
        for notice in batch {
            match notice.origin {
                Origin::Local => match local.get_mut(notice.kind.as_str()) {
                    Some(entry) => merge_detail(&mut entry.1, notice.detail),
                    None => {
                        local.insert(notice.kind.as_str(), (notice.kind, notice.detail));
                    }
                },
                Origin::Remote => apply_here(&services, &notice),
            }
        }
        for (_, (kind, detail)) in local {
            // A vote that settled nothing changes its voter's listings only: its notice
            // is not recorded (if lost, the listing cache's short life bounds it).
            let voters_only = crate::cluster::voters_of(&detail).is_some();
            let generation = if kind.has_generation() && !voters_only {
                match db::bump_generation(&services.pool, kind.as_str(), &detail, &services.node_id)
                    .await
                {
                    Ok(g) => {
                        hub.advance(kind, g);
                        g
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, kind = kind.as_str(), "could not record a notice in PostgreSQL");
                        0
                    }
                }
            } else {
                0
            };
            let wire = WireNotice {
                from: services.node_id.clone(),
                kind,
                generation,
                detail,
            };
            let text = serde_json::to_string(&wire).unwrap_or_default();
            let published = match connection(&client, &mut redis).await {
                Ok(conn) => {
                    redis::cmd("PUBLISH")
                        .arg(&keys.notices)
                        .arg(text)
                        .query_async::<i64>(conn)
                        .await
                }
                Err(e) => Err(e),
            };
            match published {
                Ok(_) => metrics::cluster_notice(kind.as_str(), "published"),
                Err(e) => {
                    tracing::debug!(error = %e, kind = kind.as_str(), "notice not published; the others catch up from PostgreSQL")
                }
            }
        }
    }
}

/// Details of a burst, merged: lists (of taxonomies, of voters) are joined without
/// repeats; anything else means "everything changed".
fn merge_detail(into: &mut serde_json::Value, more: serde_json::Value) {
    use crate::cluster::{voters_detail, voters_of};
    fn union<T: PartialEq>(list: &mut Vec<T>, items: Vec<T>) {
        for item in items {
            if !list.contains(&item) {
                list.push(item);
            }
        }
    }
    if let (Some(mut voters), Some(more)) = (voters_of(into), voters_of(&more)) {
        union(&mut voters, more);
        *into = voters_detail(voters);
        return;
    }
    match (into.as_array_mut(), more) {
        (Some(list), serde_json::Value::Array(items)) => union(list, items),
        _ => *into = serde_json::Value::Null,
    }
}

/// Applies a change another node made.
fn apply_here(services: &Services, notice: &Notice) {
    match notice.kind {
        NoticeKind::Listings => {}
        NoticeKind::Logos => {
            let name = services.names.of(LOGO_INDEX);
            if let Some(index) = services.names.lookup::<LogoIndexMsg>(&name) {
                let _ = index.cast(LogoIndexMsg::Sync(None));
            }
        }
        NoticeKind::Data => {
            let settings = services.settings.clone();
            let detail = notice.detail.clone();
            tokio::spawn(async move {
                let outcome =
                    crate::maintenance::taxonomy_refresh::reload_announced(&settings, &detail)
                        .await;
                match outcome {
                    Ok(summary) => {
                        tracing::info!(%summary, "data reloaded as another node announced")
                    }
                    Err(e) => tracing::warn!(error = %e, "could not reload the announced data"),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::merge_detail;
    use serde_json::json;

    #[test]
    fn bursts_merge_their_details() {
        let mut d = json!({"voters": ["device:a"]});
        merge_detail(&mut d, json!({"voters": ["device:b", "device:a"]}));
        assert_eq!(d, json!({"voters": ["device:a", "device:b"]}));
        // A change to every listing wins over voters.
        merge_detail(&mut d, serde_json::Value::Null);
        assert_eq!(d, serde_json::Value::Null);
        merge_detail(&mut d, json!({"voters": ["device:c"]}));
        assert_eq!(d, serde_json::Value::Null);
        let mut t = json!(["category"]);
        merge_detail(&mut t, json!(["label", "category"]));
        assert_eq!(t, json!(["category", "label"]));
    }
}
