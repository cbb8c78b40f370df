//! What the cluster looks like, read from Redis (members) and PostgreSQL (who holds each
//! shard's lock, the listener's lease, the generations of notices): the body of
//! `GET /api/v1/cluster` and of `robotoff cluster status`.

use super::membership::{self, Keys, Member};
use crate::config::Settings;
use crate::infra::db::cluster::{self as db, Lease, LISTENER_LEASE};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub enabled: bool,
    pub name: String,
    /// The node answering (the API) or `null` (the command line).
    pub node_id: Option<String>,
    /// Live members, or `null` when Redis could not be read.
    pub members: Option<Vec<Member>>,
    /// Why Redis could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_error: Option<String>,
    /// Shards per node, from PostgreSQL's lock table.
    pub shard_owners: BTreeMap<String, Vec<i32>>,
    /// Shards no node holds.
    pub unowned_shards: Vec<i32>,
    /// The update listener's lease, if it was ever taken.
    pub listener: Option<Lease>,
    /// Generation of each kind of notice.
    pub generations: BTreeMap<String, i64>,
}

/// Reads the status; a Redis failure is reported in the status, a PostgreSQL one is an error.
pub async fn read(
    settings: &Settings,
    pool: &PgPool,
    redis: Option<&redis::Client>,
    node_id: Option<String>,
) -> Result<ClusterStatus, sqlx::Error> {
    let holders = db::shard_holders(pool).await?;
    let mut shard_owners: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (shard, node) in &holders {
        shard_owners.entry(node.clone()).or_default().push(*shard);
    }
    let unowned_shards = (0..settings.workers.shards as i32)
        .filter(|s| !holders.iter().any(|(h, _)| h == s))
        .collect();
    let listener = db::leases(pool)
        .await?
        .into_iter()
        .find(|l| l.name == LISTENER_LEASE);
    let generations = db::generations(pool)
        .await?
        .into_iter()
        .map(|(k, g, _)| (k, g))
        .collect();
    let ttl = settings.cluster.heartbeat_ms.max(100) * 3;
    let (members, redis_error) = match redis {
        None => (None, Some("redis.url is not set".to_string())),
        Some(client) => {
            let read = async {
                let mut conn = client.get_multiplexed_async_connection().await?;
                membership::read(&mut conn, &Keys::of(settings), ttl).await
            };
            match tokio::time::timeout(std::time::Duration::from_secs(3), read).await {
                Ok(Ok(m)) => (Some(m), None),
                Ok(Err(e)) => (None, Some(e.to_string())),
                Err(_) => (None, Some("Redis did not answer within 3 s".to_string())),
            }
        }
    };
    Ok(ClusterStatus {
        enabled: settings.cluster.enabled,
        name: settings.cluster.name.clone(),
        node_id,
        members,
        redis_error,
        shard_owners,
        unowned_shards,
        listener,
        generations,
    })
}

impl std::fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "cluster {:?} ({})",
            self.name,
            if self.enabled {
                "enabled"
            } else {
                "disabled in these settings"
            }
        )?;
        match (&self.members, &self.redis_error) {
            (Some(members), _) => {
                writeln!(f, "members: {}", members.len())?;
                for m in members {
                    let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
                    writeln!(
                        f,
                        "  {:<24} roles={:<30} version={} pid={} http={} listener={}",
                        m.node_id,
                        roles.join(","),
                        m.version,
                        m.pid,
                        m.http_addr.as_deref().unwrap_or("-"),
                        if m.listener { "yes" } else { "no" },
                    )?;
                }
            }
            (None, Some(e)) => writeln!(f, "members: unknown (Redis: {e})")?,
            (None, None) => writeln!(f, "members: unknown")?,
        }
        writeln!(f, "shard locks (PostgreSQL):")?;
        for (node, shards) in &self.shard_owners {
            writeln!(f, "  {node:<24} {shards:?}")?;
        }
        if !self.unowned_shards.is_empty() {
            writeln!(f, "  unowned: {:?}", self.unowned_shards)?;
        }
        match &self.listener {
            Some(l) => writeln!(
                f,
                "update listener: {} (epoch {}, {} until {})",
                l.holder,
                l.epoch,
                if l.live { "held" } else { "expired" },
                l.expires_at.to_rfc3339()
            )?,
            None => writeln!(f, "update listener: never leased")?,
        }
        Ok(())
    }
}
