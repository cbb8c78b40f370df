//! Short-lived memory of listings for callers who have not voted: question and insight
//! listings are the same for all of them, so one database read serves every such
//! request for `http.listing_cache_ms`. Random question listings keep a pool of
//! formatted candidates and draw from it per request with Robotoff's vote weight.
//! Whether a caller has voted is remembered for the same time, and forgotten as soon
//! as that caller annotates through this node.

use bytes::Bytes;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

/// A formatted question of a random pool with its draw weight (`n_votes + 1`).
#[derive(Debug)]
pub struct QuestionCandidate {
    pub weight: f64,
    pub question: serde_json::Value,
}

/// A random-question pool: the capped count and formatted candidates.
#[derive(Debug)]
pub struct QuestionPool {
    pub count: i64,
    pub candidates: Vec<QuestionCandidate>,
    /// Size of the candidates' JSON, about (what the pool weighs in the cache).
    pub bytes: usize,
}

impl QuestionPool {
    pub fn new(count: i64, candidates: Vec<QuestionCandidate>) -> Self {
        let bytes = candidates.iter().map(|c| json_size(&c.question) + 16).sum();
        QuestionPool {
            count,
            candidates,
            bytes,
        }
    }
}

/// Bytes of a JSON value's text, about, without writing it.
fn json_size(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Null | serde_json::Value::Bool(_) => 5,
        serde_json::Value::Number(_) => 12,
        serde_json::Value::String(s) => s.len() + 2,
        serde_json::Value::Array(a) => 2 + a.iter().map(|x| json_size(x) + 1).sum::<usize>(),
        serde_json::Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, x)| k.len() + 4 + json_size(x))
                .sum::<usize>()
        }
    }
}

impl QuestionPool {
    /// `n` candidates ranked by `U · (n_votes + 1)`, as Robotoff's random order ranks.
    pub fn draw(&self, n: usize) -> Vec<&serde_json::Value> {
        let mut rng = rand::rng();
        let mut scored: Vec<(f64, &QuestionCandidate)> = self
            .candidates
            .iter()
            .map(|c| (rng.random::<f64>() * c.weight, c))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
            .into_iter()
            .take(n)
            .map(|(_, c)| &c.question)
            .collect()
    }
}

#[derive(Clone)]
enum Entry {
    Body(Bytes),
    Pool(Arc<QuestionPool>),
}

impl Entry {
    /// Bytes the entry holds, about.
    fn weight(&self) -> usize {
        match self {
            Entry::Body(b) => b.len(),
            Entry::Pool(p) => p.bytes,
        }
    }
}

/// The cache; `ttl` zero disables it. Listings are bounded in bytes, voters in number;
/// expired entries are dropped as the cache goes (moka).
pub struct ListingCache {
    ttl: Duration,
    listings: moka::sync::Cache<String, Entry>,
    voters: moka::sync::Cache<String, bool>,
}

/// Keeps `cache` in step with the insights changed on this node or another: a vote that
/// settled nothing makes it forget its voters, any other change every listing.
pub async fn follow_notices(
    cache: Arc<ListingCache>,
    mut notices: tokio::sync::broadcast::Receiver<crate::cluster::Notice>,
) {
    use crate::cluster::{voters_of, NoticeKind};
    use crate::infra::metrics::listing_cache_cleared;
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match notices.recv().await {
            Ok(n) if n.kind == NoticeKind::Listings => match voters_of(&n.detail) {
                Some(voters) => {
                    cache.forget_voters(&voters);
                    listing_cache_cleared("voters");
                }
                None => {
                    cache.clear();
                    listing_cache_cleared("all");
                }
            },
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => {
                cache.clear();
                listing_cache_cleared("all");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Voters remembered at most.
const MAX_VOTERS: u64 = 200_000;

impl ListingCache {
    /// A cache keeping listings `ttl` long, at most `max_bytes` of them.
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let ttl_or_tiny = ttl.max(Duration::from_millis(1));
        ListingCache {
            ttl,
            listings: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &String, v: &Entry| {
                    u32::try_from(k.len() + v.weight()).unwrap_or(u32::MAX)
                })
                .time_to_live(ttl_or_tiny)
                .build(),
            voters: moka::sync::Cache::builder()
                .max_capacity(MAX_VOTERS)
                .time_to_live(ttl_or_tiny)
                .build(),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Whether the voter is known (within the TTL) to have voted.
    pub fn voted(&self, voter: &str) -> Option<bool> {
        if !self.enabled() {
            return None;
        }
        self.voters.get(voter)
    }

    pub fn set_voted(&self, voter: String, voted: bool) {
        if self.enabled() {
            self.voters.insert(voter, voted);
        }
    }

    /// Forgets every listing and voter (insights changed somewhere in the cluster).
    pub fn clear(&self) {
        self.listings.invalidate_all();
        self.voters.invalidate_all();
    }

    /// Forgets what is known about these voters (they just annotated).
    pub fn forget_voters(&self, voters: &[String]) {
        for v in voters {
            self.voters.invalidate(v);
        }
    }

    pub fn body(&self, key: &str) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        match self.listings.get(key) {
            Some(Entry::Body(b)) => Some(b),
            _ => None,
        }
    }

    pub fn set_body(&self, key: String, body: Bytes) {
        if self.enabled() {
            self.listings.insert(key, Entry::Body(body));
        }
    }

    pub fn pool(&self, key: &str) -> Option<Arc<QuestionPool>> {
        if !self.enabled() {
            return None;
        }
        match self.listings.get(key) {
            Some(Entry::Pool(p)) => Some(p),
            _ => None,
        }
    }

    pub fn set_pool(&self, key: String, pool: Arc<QuestionPool>) {
        if self.enabled() {
            self.listings.insert(key, Entry::Pool(pool));
        }
    }

    /// Bytes held by the listings, about (after pending evictions are done).
    pub fn weighted_size(&self) -> u64 {
        self.listings.run_pending_tasks();
        self.listings.weighted_size()
    }
}

/// The cache key of a request: route and every parameter but the caller's identity,
/// in a stable order.
pub fn key(route: &str, params: &super::params::Params) -> String {
    let mut pairs = params.pairs_except(&["device_id"]);
    pairs.sort();
    let mut k = String::from(route);
    for (name, values) in pairs {
        k.push('\u{1}');
        k.push_str(&name);
        for v in values {
            k.push('\u{2}');
            k.push_str(&v);
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_expire_and_voters_are_forgotten() {
        let c = ListingCache::new(Duration::from_millis(50), 1 << 20);
        c.set_body("a".into(), Bytes::from_static(b"x"));
        c.set_voted("device:1".into(), false);
        assert_eq!(c.body("a"), Some(Bytes::from_static(b"x")));
        assert_eq!(c.voted("device:1"), Some(false));
        c.forget_voters(&["device:1".to_string()]);
        assert_eq!(c.voted("device:1"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.body("a"), None);
        let off = ListingCache::new(Duration::ZERO, 1 << 20);
        off.set_body("a".into(), Bytes::from_static(b"x"));
        assert_eq!(off.body("a"), None);
    }

    #[test]
    fn draws_favour_weighted_candidates() {
        let mut candidates: Vec<QuestionCandidate> = (0..20)
            .map(|i| QuestionCandidate {
                weight: 1.0,
                question: json!(i),
            })
            .collect();
        candidates.push(QuestionCandidate {
            weight: 50.0,
            question: json!("voted"),
        });
        let pool = QuestionPool::new(21, candidates);
        let hits = (0..200)
            .filter(|_| pool.draw(3).contains(&&json!("voted")))
            .count();
        // Top 3 of 21: the weighted one is there unless 50·U falls below the 3rd best of
        // 20 uniforms (≈ 0.86), i.e. about 98% of draws; uniform would be 14%.
        assert!(hits > 150, "{hits}");
        assert_eq!(pool.draw(5).len(), 5);
    }

    #[test]
    fn listings_are_bounded_in_bytes() {
        let c = ListingCache::new(Duration::from_secs(60), 100_000);
        for i in 0..1000 {
            c.set_body(format!("k{i}"), Bytes::from(vec![b'x'; 1000]));
        }
        assert!(c.weighted_size() <= 100_000, "{}", c.weighted_size());
    }

    #[test]
    fn keys_ignore_the_device_and_parameter_order() {
        let a = super::super::params::Params::parse("a=1&b=2&device_id=x");
        let b = super::super::params::Params::parse("b=2&a=1");
        assert_eq!(key("/q", &a), key("/q", &b));
        assert_ne!(key("/q", &a), key("/r", &b));
    }
}
