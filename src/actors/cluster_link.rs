//! ClusterLink (cluster mode): membership by Redis heartbeats, and the shards this node
//! owns, spread over live members by rendezvous hashing; ownership itself is fenced by
//! the dispatcher's advisory locks.

use super::job_dispatcher::DispatcherMsg;
use super::{Services, JOB_DISPATCHER};
use crate::infra::metrics;
use md5::{Digest, Md5};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::time::Duration;

const MEMBER_PREFIX: &str = "robotoff:cluster:member:";

pub enum ClusterMsg {
    Heartbeat,
    Members(RpcReplyPort<Vec<String>>),
}

pub struct ClusterLink;

pub struct ClusterState {
    services: Services,
    redis: ConnectionManager,
    members: Vec<String>,
    owned: Vec<u32>,
}

/// The shards `node` owns among `members`: each shard goes to the member with the
/// highest hash of (member, shard).
pub fn rendezvous(members: &[String], shards: u32, node: &str) -> Vec<u32> {
    (0..shards)
        .filter(|shard| {
            members
                .iter()
                .max_by_key(|m| {
                    let d = Md5::digest(format!("{m}/{shard}").as_bytes());
                    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
                })
                .is_some_and(|m| m == node)
        })
        .collect()
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
        let redis = redis::Client::open(url)?.get_connection_manager().await?;
        let period = Duration::from_millis(services.settings.cluster.heartbeat_ms.max(100));
        myself.send_interval(period, || ClusterMsg::Heartbeat);
        let _ = myself.cast(ClusterMsg::Heartbeat);
        Ok(ClusterState {
            services,
            redis,
            members: Vec::new(),
            owned: Vec::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ClusterMsg::Heartbeat => {
                if let Err(e) = state.heartbeat().await {
                    tracing::warn!(error = %e, "cluster heartbeat failed");
                }
            }
            ClusterMsg::Members(reply) => {
                let _ = reply.send(state.members.clone());
            }
        }
        Ok(())
    }
}

impl ClusterState {
    async fn heartbeat(&mut self) -> Result<(), redis::RedisError> {
        let node = self.services.node_id.clone();
        let ttl_ms = self.services.settings.cluster.heartbeat_ms.max(100) * 3;
        let _: () = redis::cmd("SET")
            .arg(format!("{MEMBER_PREFIX}{node}"))
            .arg(1)
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut self.redis)
            .await?;
        let keys: Vec<String> = self.redis.keys(format!("{MEMBER_PREFIX}*")).await?;
        let mut members: Vec<String> = keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(MEMBER_PREFIX).map(String::from))
            .collect();
        members.sort();
        metrics::cluster_members(members.len());
        let owned = rendezvous(&members, self.services.settings.workers.shards, &node);
        if owned != self.owned || members != self.members {
            tracing::info!(members = ?members, owned = ?owned, "cluster membership changed");
            self.owned = owned.clone();
            self.members = members;
        }
        // Sent at every heartbeat, so a restarted dispatcher learns its shards at once.
        let name = self.services.names.of(JOB_DISPATCHER);
        if let Some(d) = self.services.names.lookup::<DispatcherMsg>(&name) {
            let _ = d.cast(DispatcherMsg::SetOwnedShards(owned));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendezvous_gives_every_shard_one_owner() {
        let members: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut all: Vec<u32> = members
            .iter()
            .flat_map(|m| rendezvous(&members, 12, m))
            .collect();
        all.sort();
        assert_eq!(all, (0..12).collect::<Vec<_>>());
        // Removing a member only moves that member's shards.
        let before_a = rendezvous(&members, 12, "a");
        let after_a = rendezvous(&members[..2], 12, "a");
        assert!(before_a.iter().all(|s| after_a.contains(s)));
    }
}
