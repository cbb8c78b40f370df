//! A circuit breaker per Triton endpoint: after `threshold` failures in a row calls fail
//! at once for `cooldown`; then one probe call goes through, and its outcome closes the
//! breaker again or keeps it open. A dead Triton costs a job nothing but a fast failure.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct Inner {
    failures: u32,
    opened_at: Option<Instant>,
    probing: bool,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            inner: Mutex::new(Inner {
                failures: 0,
                opened_at: None,
                probing: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go now. In the half-open state only one call (the probe) may.
    pub fn allow(&self, now: Instant) -> bool {
        let mut s = self.lock();
        match s.opened_at {
            None => true,
            Some(at) if now.duration_since(at) < self.cooldown => false,
            Some(_) if s.probing => false,
            Some(_) => {
                s.probing = true;
                true
            }
        }
    }

    pub fn success(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.opened_at = None;
        s.probing = false;
    }

    /// Counts a failure; returns whether this one opened the breaker.
    pub fn failure(&self, now: Instant) -> bool {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        let was_open = s.opened_at.is_some();
        if s.probing || s.failures >= self.threshold {
            s.opened_at = Some(now);
            s.probing = false;
            return !was_open;
        }
        false
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        let s = self.lock();
        match s.opened_at {
            None => BreakerState::Closed,
            Some(at) if now.duration_since(at) < self.cooldown => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_then_probes_once() {
        let b = Breaker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(b.allow(t0));
        assert!(!b.failure(t0));
        assert!(!b.failure(t0));
        assert!(b.failure(t0), "third failure opens");
        assert_eq!(b.state(t0), BreakerState::Open);
        assert!(!b.allow(t0 + Duration::from_secs(1)));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        assert!(b.allow(later), "one probe");
        assert!(!b.allow(later), "only one");
        b.failure(later);
        assert_eq!(b.state(later), BreakerState::Open, "a failed probe reopens");
        let again = later + Duration::from_secs(11);
        assert!(b.allow(again));
        b.success();
        assert_eq!(b.state(again), BreakerState::Closed);
        assert!(b.allow(again) && b.allow(again));
    }
}
