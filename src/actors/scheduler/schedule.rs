//! When a periodic task runs: every N seconds give or take a jitter, or every day at a
//! fixed UTC time.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use std::time::Duration;

/// Shortest wait between two runs of an interval task.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every `every`, plus or minus up to `jitter` (drawn again for each run).
    Every { every: Duration, jitter: Duration },
    /// Every day at this time (UTC).
    DailyAt(NaiveTime),
}

impl Schedule {
    pub fn every(every: Duration, jitter: Duration) -> Self {
        Schedule::Every { every, jitter }
    }

    /// Shortest time between two runs of a cluster-wide task: other nodes' timers for
    /// the same scheduled time fire within it (half the shortest period).
    pub fn min_gap(&self) -> Duration {
        match self {
            Schedule::Every { every, jitter } => every.saturating_sub(*jitter) / 2,
            Schedule::DailyAt(_) => Duration::from_secs(12 * 3600),
        }
    }

    /// How long to wait, from `now`, before the next run.
    pub fn next_delay(&self, now: DateTime<Utc>) -> Duration {
        match *self {
            Schedule::Every { every, jitter } => {
                let jitter_ms = i64::try_from(jitter.as_millis()).unwrap_or(i64::MAX);
                let offset = if jitter_ms > 0 {
                    rand::random_range(-jitter_ms..=jitter_ms)
                } else {
                    0
                };
                interval_delay(every, jitter, offset)
            }
            Schedule::DailyAt(at) => (next_daily(now, at) - now).to_std().unwrap_or(MIN_INTERVAL),
        }
    }
}

/// `every` shifted by `offset_ms` (clamped to ±`jitter`), never below one second.
pub fn interval_delay(every: Duration, jitter: Duration, offset_ms: i64) -> Duration {
    let jitter_ms = i64::try_from(jitter.as_millis()).unwrap_or(i64::MAX);
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    let offset = offset_ms.clamp(-jitter_ms, jitter_ms);
    let ms = every_ms
        .saturating_add(offset)
        .max(MIN_INTERVAL.as_millis() as i64);
    Duration::from_millis(ms as u64)
}

/// The first `at` (UTC) strictly later than one second after `now`: a task whose timer
/// fires at its time is next due the following day, never twice the same day.
pub fn next_daily(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let after = now + TimeDelta::seconds(1);
    let today = after.date_naive().and_time(at).and_utc();
    if today > after {
        today
    } else {
        today + TimeDelta::days(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        match Utc.with_ymd_and_hms(y, mo, d, h, mi, s) {
            chrono::LocalResult::Single(t) => t,
            _ => panic!("valid time"),
        }
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        match NaiveTime::from_hms_opt(h, m, 0) {
            Some(t) => t,
            None => panic!("valid time"),
        }
    }

    /// Spec §4: cron jobs run daily at a fixed UTC time (minute 0).
    #[test]
    fn daily_runs_at_the_next_occurrence_in_utc() {
        let cases = [
            // (now, at, expected next run)
            (
                utc(2026, 11, 29, 9, 0, 0),
                hm(15, 0),
                utc(2026, 11, 29, 15, 0, 0),
            ),
            (
                utc(2026, 11, 29, 15, 0, 0),
                hm(15, 0),
                utc(2026, 11, 30, 15, 0, 0),
            ),
            (
                utc(2026, 11, 29, 15, 0, 1),
                hm(15, 0),
                utc(2026, 11, 30, 15, 0, 0),
            ),
            (
                utc(2026, 11, 29, 14, 59, 59),
                hm(15, 0),
                utc(2026, 11, 30, 15, 0, 0),
            ),
            (
                utc(2026, 11, 29, 14, 59, 58),
                hm(15, 0),
                utc(2026, 11, 29, 15, 0, 0),
            ),
            (
                utc(2026, 11, 29, 23, 30, 0),
                hm(0, 0),
                utc(2026, 11, 30, 0, 0, 0),
            ),
            (
                utc(2026, 12, 31, 19, 0, 0),
                hm(19, 0),
                utc(2027, 1, 1, 19, 0, 0),
            ),
        ];
        for (now, at, expected) in cases {
            assert_eq!(next_daily(now, at), expected, "now {now}, at {at}");
        }
        let delay = Schedule::DailyAt(hm(15, 0)).next_delay(utc(2026, 11, 29, 9, 0, 0));
        assert_eq!(delay, Duration::from_secs(6 * 3600));
    }

    /// Spec §4: `process_insights` every 2 min with ±20 s jitter.
    #[test]
    fn interval_with_jitter_stays_in_bounds() {
        let every = Duration::from_secs(120);
        let jitter = Duration::from_secs(20);
        assert_eq!(
            interval_delay(every, jitter, -20_000),
            Duration::from_secs(100)
        );
        assert_eq!(
            interval_delay(every, jitter, 20_000),
            Duration::from_secs(140)
        );
        assert_eq!(
            interval_delay(every, jitter, 90_000),
            Duration::from_secs(140)
        );
        assert_eq!(
            interval_delay(every, jitter, -90_000),
            Duration::from_secs(100)
        );
        assert_eq!(
            interval_delay(Duration::from_secs(2), Duration::from_secs(5), -5_000),
            Duration::from_secs(1)
        );
        let schedule = Schedule::every(every, jitter);
        let now = Utc::now();
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..2000 {
            let d = schedule.next_delay(now);
            assert!(
                d >= Duration::from_secs(100) && d <= Duration::from_secs(140),
                "{d:?}"
            );
            seen_low |= d < Duration::from_secs(110);
            seen_high |= d > Duration::from_secs(130);
        }
        assert!(seen_low && seen_high, "jitter spreads both ways");
        let fixed = Schedule::every(every, Duration::ZERO);
        assert_eq!(fixed.next_delay(now), every);
    }
}
