//! Short-lived memory of listings for callers who have not voted: question and insight
//! listings are the same for all of them, so one database read serves every such
//! request for `http.listing_cache_ms`. Random question listings keep a pool of
//! formatted candidates and draw from it per request with Robotoff's vote weight.
//! Whether a caller has voted is remembered for the same time, and forgotten as soon
//! as that caller annotates through this node.

use bytes::Bytes;
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries kept before expired ones are dropped (and all, if still too many).
const MAX_ENTRIES: usize = 50_000;

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

enum Entry {
    Body(Bytes),
    Pool(Arc<QuestionPool>),
}

struct Slot<T> {
    at: Instant,
    value: T,
}

/// The cache; `ttl` zero disables it.
pub struct ListingCache {
    ttl: Duration,
    listings: Mutex<HashMap<String, Slot<Entry>>>,
    voters: Mutex<HashMap<String, Slot<bool>>>,
}

fn prune<T>(map: &mut HashMap<String, Slot<T>>, ttl: Duration) {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, s| s.at.elapsed() < ttl);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
}

impl ListingCache {
    pub fn new(ttl: Duration) -> Self {
        ListingCache {
            ttl,
            listings: Mutex::new(HashMap::new()),
            voters: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn fresh<T: Clone>(&self, map: &Mutex<HashMap<String, Slot<T>>>, key: &str) -> Option<T> {
        let guard = map.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .get(key)
            .filter(|s| s.at.elapsed() < self.ttl)
            .map(|s| s.value.clone())
    }

    fn put<T>(&self, map: &Mutex<HashMap<String, Slot<T>>>, key: String, value: T) {
        if !self.enabled() {
            return;
        }
        let mut guard = map.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut guard, self.ttl);
        guard.insert(
            key,
            Slot {
                at: Instant::now(),
                value,
            },
        );
    }

    /// Whether the voter is known (within the TTL) to have voted.
    pub fn voted(&self, voter: &str) -> Option<bool> {
        if !self.enabled() {
            return None;
        }
        self.fresh(&self.voters, voter)
    }

    pub fn set_voted(&self, voter: String, voted: bool) {
        self.put(&self.voters, voter, voted);
    }

    /// Forgets what is known about these voters (they just annotated).
    pub fn forget_voters(&self, voters: &[String]) {
        let mut guard = self.voters.lock().unwrap_or_else(|p| p.into_inner());
        for v in voters {
            guard.remove(v);
        }
    }

    pub fn body(&self, key: &str) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let guard = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        match guard.get(key).filter(|s| s.at.elapsed() < self.ttl) {
            Some(Slot {
                value: Entry::Body(b),
                ..
            }) => Some(b.clone()),
            _ => None,
        }
    }

    pub fn set_body(&self, key: String, body: Bytes) {
        self.put(&self.listings, key, Entry::Body(body));
    }

    pub fn pool(&self, key: &str) -> Option<Arc<QuestionPool>> {
        if !self.enabled() {
            return None;
        }
        let guard = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        match guard.get(key).filter(|s| s.at.elapsed() < self.ttl) {
            Some(Slot {
                value: Entry::Pool(p),
                ..
            }) => Some(p.clone()),
            _ => None,
        }
    }

    pub fn set_pool(&self, key: String, pool: Arc<QuestionPool>) {
        self.put(&self.listings, key, Entry::Pool(pool));
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
        let c = ListingCache::new(Duration::from_millis(50));
        c.set_body("a".into(), Bytes::from_static(b"x"));
        c.set_voted("device:1".into(), false);
        assert_eq!(c.body("a"), Some(Bytes::from_static(b"x")));
        assert_eq!(c.voted("device:1"), Some(false));
        c.forget_voters(&["device:1".to_string()]);
        assert_eq!(c.voted("device:1"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.body("a"), None);
        let off = ListingCache::new(Duration::ZERO);
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
        let pool = QuestionPool {
            count: 21,
            candidates,
        };
        let hits = (0..200)
            .filter(|_| pool.draw(3).contains(&&json!("voted")))
            .count();
        // Top 3 of 21: the weighted one is there unless 50·U falls below the 3rd best of
        // 20 uniforms (≈ 0.86), i.e. about 98% of draws; uniform would be 14%.
        assert!(hits > 150, "{hits}");
        assert_eq!(pool.draw(5).len(), 5);
    }

    #[test]
    fn keys_ignore_the_device_and_parameter_order() {
        let a = super::super::params::Params::parse("a=1&b=2&device_id=x");
        let b = super::super::params::Params::parse("b=2&a=1");
        assert_eq!(key("/q", &a), key("/q", &b));
        assert_ne!(key("/q", &a), key("/r", &b));
    }
}
