//! Cluster mode's vocabulary and the node's notice hub.
//!
//! Changes that other nodes must hear of (an answered question, reloaded data files, new
//! or removed logos) are *notices*. A notice raised on this node goes to its own
//! listeners at once and, in cluster mode, to every other node over Redis pub/sub; each
//! kind also has a way back from PostgreSQL, so a lost message delays, never breaks:
//! listing caches and data files have a generation number in `cluster_generation`,
//! read every `cluster.repair_ms`; the logo index follows the logged logo changes.

pub mod membership;
pub mod status;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Insights changed (annotation, vote, import): question and insight listings.
    Listings,
    /// Data files (taxonomies) changed: reload them.
    Data,
    /// Logo embeddings were added or removed: the logo index catches up.
    Logos,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 3] = [NoticeKind::Listings, NoticeKind::Data, NoticeKind::Logos];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Listings => "listings",
            NoticeKind::Data => "data",
            NoticeKind::Logos => "logos",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the kind has a generation in PostgreSQL (the logo index has its own log).
    pub fn has_generation(self) -> bool {
        !matches!(self, NoticeKind::Logos)
    }
}

/// The detail of a listings notice that changed only some voters' listings (a vote that
/// settled nothing); any other detail means every listing changed.
pub fn voters_detail(voters: Vec<String>) -> serde_json::Value {
    serde_json::json!({ "voters": voters })
}

/// The voters of a [`voters_detail`], or `None` when every listing changed.
pub fn voters_of(detail: &serde_json::Value) -> Option<Vec<String>> {
    let list = detail.get("voters")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
    )
}

/// Where a notice comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Raised on this node: to be announced to the others.
    Local,
    /// Heard from another node (or found in PostgreSQL): to be applied here only.
    Remote,
}

/// A change to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub origin: Origin,
    /// What changed, when the kind says more (the taxonomies of a data reload).
    pub detail: serde_json::Value,
}

/// The message of a notice on the notices channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireNotice {
    pub from: String,
    pub kind: NoticeKind,
    /// The kind's generation after this change (0 for kinds without one).
    #[serde(default)]
    pub generation: i64,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// Notices in flight on this node, and what the node knows of its cluster.
pub struct Hub {
    notices: broadcast::Sender<Notice>,
    /// Highest generation applied per kind.
    seen: Mutex<HashMap<NoticeKind, i64>>,
    /// The HTTP address, once the API listens.
    pub http_addr: OnceLock<String>,
    /// The update listener's lease epoch while this node holds it, else 0.
    listener_epoch: AtomicI64,
    /// Whether the last exchange with Redis worked.
    redis_up: AtomicBool,
    members: Mutex<Vec<membership::Member>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("http_addr", &self.http_addr.get())
            .field("listener_epoch", &self.listener_epoch())
            .field("redis_up", &self.redis_up())
            .finish_non_exhaustive()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let (notices, _) = broadcast::channel(4096);
        Hub {
            notices,
            seen: Mutex::new(HashMap::new()),
            http_addr: OnceLock::new(),
            listener_epoch: AtomicI64::new(0),
            redis_up: AtomicBool::new(false),
            members: Mutex::new(Vec::new()),
        }
    }

    /// Raises a notice of a change made on this node.
    pub fn raise(&self, kind: NoticeKind, detail: serde_json::Value) {
        crate::infra::metrics::cluster_notice(kind.as_str(), "raised");
        let _ = self.notices.send(Notice {
            kind,
            origin: Origin::Local,
            detail,
        });
    }

    /// Applies here a change heard of, if its generation is new (0: always).
    pub fn apply_remote(&self, kind: NoticeKind, generation: i64, detail: serde_json::Value) {
        if generation > 0 && !self.advance(kind, generation) {
            return;
        }
        crate::infra::metrics::cluster_notice(kind.as_str(), "applied");
        let _ = self.notices.send(Notice {
            kind,
            origin: Origin::Remote,
            detail,
        });
    }

    /// Records generation `generation` of `kind` as applied; false if it was already.
    pub fn advance(&self, kind: NoticeKind, generation: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        let g = seen.entry(kind).or_insert(0);
        if generation <= *g {
            return false;
        }
        *g = generation;
        true
    }

    /// The highest generation of `kind` applied on this node.
    pub fn seen(&self, kind: NoticeKind) -> i64 {
        self.seen
            .lock()
            .map(|s| s.get(&kind).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Sets the generations already applied (at start: nothing to catch up with).
    pub fn start_from(&self, generations: &[(NoticeKind, i64)]) {
        if let Ok(mut seen) = self.seen.lock() {
            for (k, g) in generations {
                let e = seen.entry(*k).or_insert(0);
                *e = (*e).max(*g);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    pub fn set_listener_epoch(&self, epoch: i64) {
        self.listener_epoch.store(epoch, Ordering::Relaxed);
    }

    pub fn listener_epoch(&self) -> i64 {
        self.listener_epoch.load(Ordering::Relaxed)
    }

    pub fn set_redis_up(&self, up: bool) {
        self.redis_up.store(up, Ordering::Relaxed);
    }

    pub fn redis_up(&self) -> bool {
        self.redis_up.load(Ordering::Relaxed)
    }

    pub fn set_members(&self, members: Vec<membership::Member>) {
        if let Ok(mut m) = self.members.lock() {
            *m = members;
        }
    }

    /// The live members as last read.
    pub fn members(&self) -> Vec<membership::Member> {
        self.members.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_applies_once() {
        let hub = Hub::new();
        let mut rx = hub.subscribe();
        hub.start_from(&[(NoticeKind::Listings, 4)]);
        hub.apply_remote(NoticeKind::Listings, 4, serde_json::Value::Null);
        hub.apply_remote(NoticeKind::Listings, 5, serde_json::Value::Null);
        hub.apply_remote(NoticeKind::Listings, 5, serde_json::Value::Null);
        hub.apply_remote(NoticeKind::Logos, 0, serde_json::Value::Null);
        hub.apply_remote(NoticeKind::Logos, 0, serde_json::Value::Null);
        let mut got = Vec::new();
        while let Ok(n) = rx.try_recv() {
            got.push(n.kind);
        }
        assert_eq!(
            got,
            vec![NoticeKind::Listings, NoticeKind::Logos, NoticeKind::Logos]
        );
    }

    #[test]
    fn notice_kinds_round_trip() {
        for k in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(k.as_str()), Some(k));
        }
        let w = WireNotice {
            from: "a".into(),
            kind: NoticeKind::Data,
            generation: 3,
            detail: serde_json::json!(["categories"]),
        };
        let text = serde_json::to_string(&w).unwrap_or_default();
        let back: Option<WireNotice> = serde_json::from_str(&text).ok();
        assert_eq!(back, Some(w));
    }
}
