//! Membership in Redis without `KEYS`: a sorted set of node ids scored by their last
//! heartbeat (Redis's own clock), a hash of what each node says of itself, and a pub/sub
//! channel on which joins, heartbeats and departures are announced. A member is live
//! while its last heartbeat is younger than three heartbeat periods.

use crate::config::{Role, Settings};
use md5::{Digest, Md5};
use redis::aio::ConnectionLike;
use serde::{Deserialize, Serialize};

/// Redis names of a cluster (all under `cluster.name`).
#[derive(Debug, Clone)]
pub struct Keys {
    /// Sorted set: node id → last heartbeat, in milliseconds of Redis's clock.
    pub members: String,
    /// Hash: node id → [`Member`] as JSON.
    pub info: String,
    /// Channel of joins, heartbeats and departures.
    pub heartbeats: String,
    /// Channel of change notices.
    pub notices: String,
}

impl Keys {
    pub fn of(settings: &Settings) -> Keys {
        let p = &settings.cluster.name;
        Keys {
            members: format!("{p}:cluster:members"),
            info: format!("{p}:cluster:info"),
            heartbeats: format!("{p}:cluster:heartbeats"),
            notices: format!("{p}:cluster:notices"),
        }
    }
}

/// What a node says of itself at each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub node_id: String,
    pub roles: Vec<Role>,
    pub version: String,
    pub pid: u32,
    pub started_at: String,
    /// The HTTP API's address, when the node serves it.
    #[serde(default)]
    pub http_addr: Option<String>,
    /// Shards whose lock the node holds.
    #[serde(default)]
    pub owned_shards: Vec<u32>,
    /// Whether the node holds the update listener's lease.
    #[serde(default)]
    pub listener: bool,
    /// The last heartbeat, in milliseconds since the epoch (Redis's clock; filled on read).
    #[serde(default)]
    pub last_seen_ms: i64,
}

impl Member {
    pub fn runs(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A message on the heartbeats channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    pub node: String,
    /// "join", "beat" or "leave".
    pub event: String,
}

/// The end of both scripts: `live` (ids and scores) with each member's info, flat.
macro_rules! with_info {
    () => {
        r#"
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
end
return out
"#
    };
}

/// Records this node's heartbeat, drops members silent for longer than `ttl_ms`, and
/// returns the live members (sorted by id), in one round trip.
const HEARTBEAT_SCRIPT: &str = concat!(
    r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ttl))
for _, m in ipairs(dead) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', KEYS[2], m)
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
"#,
    with_info!()
);

/// Reads the live members without writing (for `robotoff cluster status`).
const READ_SCRIPT: &str = concat!(
    r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf', 'WITHSCORES')
"#,
    with_info!()
);

fn parse_members(flat: Vec<String>) -> Vec<Member> {
    let mut out: Vec<Member> = flat
        .chunks(3)
        .filter_map(|c| {
            let [id, score, info] = c else { return None };
            let seen = score.parse::<f64>().unwrap_or(0.0) as i64;
            let mut m = serde_json::from_str::<Member>(info).unwrap_or_else(|_| Member {
                node_id: id.clone(),
                roles: Vec::new(),
                version: String::new(),
                pid: 0,
                started_at: String::new(),
                http_addr: None,
                owned_shards: Vec::new(),
                listener: false,
                last_seen_ms: 0,
            });
            m.node_id = id.clone();
            m.last_seen_ms = seen;
            Some(m)
        })
        .collect();
    out.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    out
}

/// Records `me`'s heartbeat; returns the live members.
pub async fn heartbeat<C: ConnectionLike>(
    conn: &mut C,
    keys: &Keys,
    me: &Member,
    ttl_ms: u64,
) -> redis::RedisResult<Vec<Member>> {
    let info = serde_json::to_string(me).unwrap_or_default();
    let flat: Vec<String> = redis::Script::new(HEARTBEAT_SCRIPT)
        .key(&keys.members)
        .key(&keys.info)
        .arg(&me.node_id)
        .arg(info)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    Ok(parse_members(flat))
}

/// The live members, read only.
pub async fn read<C: ConnectionLike>(
    conn: &mut C,
    keys: &Keys,
    ttl_ms: u64,
) -> redis::RedisResult<Vec<Member>> {
    let flat: Vec<String> = redis::Script::new(READ_SCRIPT)
        .key(&keys.members)
        .key(&keys.info)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    Ok(parse_members(flat))
}

/// Removes `node` from the members (a clean stop) and announces it.
pub async fn leave<C: ConnectionLike>(
    conn: &mut C,
    keys: &Keys,
    node: &str,
) -> redis::RedisResult<()> {
    let beat = serde_json::to_string(&Beat {
        node: node.to_string(),
        event: "leave".into(),
    })
    .unwrap_or_default();
    redis::pipe()
        .cmd("ZREM")
        .arg(&keys.members)
        .arg(node)
        .ignore()
        .cmd("HDEL")
        .arg(&keys.info)
        .arg(node)
        .ignore()
        .cmd("PUBLISH")
        .arg(&keys.heartbeats)
        .arg(beat)
        .ignore()
        .query_async(conn)
        .await
}

/// The shards `node` owns among the worker members: each shard goes to the worker with
/// the highest hash of (member, shard). A node that is not among them owns none.
pub fn rendezvous(workers: &[String], shards: u32, node: &str) -> Vec<u32> {
    (0..shards)
        .filter(|shard| {
            workers
                .iter()
                .max_by_key(|m| {
                    let d = Md5::digest(format!("{m}/{shard}").as_bytes());
                    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
                })
                .is_some_and(|m| m == node)
        })
        .collect()
}

/// The ids of the members that run workers.
pub fn workers(members: &[Member]) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.runs(Role::Workers))
        .map(|m| m.node_id.clone())
        .collect()
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
        // A node that is not a worker owns nothing.
        assert!(rendezvous(&members, 12, "api-only").is_empty());
    }

    #[test]
    fn members_parse_with_scores_and_unreadable_info() {
        let flat = vec![
            "b".to_string(),
            "1700000000123".to_string(),
            r#"{"node_id":"b","roles":["workers"],"version":"1","pid":7,"started_at":"x"}"#
                .to_string(),
            "a".to_string(),
            "1700000000000".to_string(),
            String::new(),
        ];
        let m = parse_members(flat);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].node_id, "a");
        assert!(m[0].roles.is_empty());
        assert_eq!(m[1].last_seen_ms, 1_700_000_000_123);
        assert_eq!(workers(&m), vec!["b".to_string()]);
    }
}
