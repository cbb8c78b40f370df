//! `robotoff replay-updates --since TIME`: re-reads Product Opener's streams from a time
//! and enqueues their jobs again, without moving the listener's stored positions.

use crate::app::open_database;
use crate::config::Overrides;
use crate::events::stream::{replay, StreamContext};
use chrono::{DateTime, NaiveDateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Start time (UTC): RFC 3339 (`2026-11-29T10:00:00Z`), `YYYY-MM-DD HH:MM:SS`, or
    /// milliseconds since the epoch.
    #[arg(long)]
    pub since: String,
    /// End time, same formats (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Redis URL (redis.url).
    #[arg(long)]
    pub redis_url: Option<String>,
}

/// Milliseconds since the epoch of a time given on the command line.
pub fn parse_time(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc).timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    anyhow::bail!("cannot read {text:?} as a time (use RFC 3339, `YYYY-MM-DD HH:MM:SS` UTC, or epoch milliseconds)")
}

pub fn run(config: Option<&std::path::Path>, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let mut overrides = Overrides::default();
    if let Some(u) = &args.redis_url {
        overrides.set("redis.url", u.clone());
    }
    let settings = super::load_settings(config, &overrides)?;
    super::init_logging(&settings);
    let since = parse_time(&args.since)?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    if until.is_some_and(|u| u < since) {
        anyhow::bail!("--until is before --since");
    }
    if settings.redis.url().is_none() {
        anyhow::bail!("replay-updates needs redis.url (or --redis-url)");
    }
    super::runtime()?.block_on(async move {
        let (pool, local) = open_database(&settings, false).await?;
        crate::infra::db::migrate(&pool).await?;
        let ctx = StreamContext {
            fence: None,
            settings: Arc::new(settings),
            pool: pool.clone(),
        };
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template(
            "{spinner} {pos} events read {per_sec}",
        )?);
        let (read, enqueued) = replay(&ctx, since, until, |n| bar.set_position(n))
            .await
            .map_err(anyhow::Error::msg)?;
        bar.finish_and_clear();
        println!("{read} events read, {enqueued} jobs enqueued");
        pool.close().await;
        drop(local);
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        assert_eq!(parse_time("1700000000000").ok(), Some(1_700_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14 22:13:20").ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_time("2023-11-14").ok(), Some(1_699_920_000_000));
        assert!(parse_time("yesterday").is_err());
    }
}
