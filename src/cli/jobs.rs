//! `robotoff jobs`: list and re-run dead jobs, enqueue a job, benchmark the queue.

use crate::app::{open_database, App};
use crate::config::{Overrides, Role};
use crate::infra::db::jobs;
use crate::jobs::{JobKind, NewJob, Priority};
use crate::types::ServerType;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub command: JobsCommand,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List dead jobs (out of attempts), newest first, as JSON lines.
    Dead {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a dead job again with fresh attempts.
    Retry { id: i64 },
    /// Queue a job.
    Enqueue {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        barcode: Option<String>,
        #[arg(long, default_value = "off")]
        server_type: String,
        #[arg(long, default_value = "high")]
        priority: String,
        /// Delay before the job may run, in seconds.
        #[arg(long, default_value_t = 0.0)]
        delay_secs: f64,
        /// JSON payload.
        #[arg(long, default_value = "{}")]
        payload: String,
    },
    /// Measure the queue: enqueue no-op jobs, run them on this node, report jobs/s.
    Bench {
        /// Number of jobs.
        #[arg(long, default_value_t = 20000)]
        jobs: usize,
        /// Number of distinct products the jobs are spread over.
        #[arg(long, default_value_t = 1000)]
        products: usize,
    },
}

pub fn run(config: Option<&std::path::Path>, args: JobsArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(config, &Overrides::default())?;
    super::init_logging(&settings);
    super::runtime()?.block_on(async move {
        match args.command {
            JobsCommand::Bench { jobs, products } => bench(settings, jobs, products).await,
            command => {
                let (pool, local) = open_database(&settings, false).await?;
                crate::infra::db::migrate(&pool).await?;
                let code = operate(&pool, &settings, command).await;
                pool.close().await;
                drop(local);
                code
            }
        }
    })
}

async fn operate(
    pool: &sqlx::PgPool,
    settings: &crate::config::Settings,
    command: JobsCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        JobsCommand::Dead { limit } => {
            if limit < 1 {
                anyhow::bail!("--limit must be at least 1");
            }
            for job in jobs::list_dead(pool, limit).await? {
                println!("{}", serde_json::to_string(&job)?);
            }
        }
        JobsCommand::Retry { id } => {
            if !jobs::retry_dead(pool, id).await? {
                eprintln!("job {id} is not a dead job");
                return Ok(ExitCode::from(1));
            }
            println!("job {id} queued again");
        }
        JobsCommand::Enqueue {
            kind,
            barcode,
            server_type,
            priority,
            delay_secs,
            payload,
        } => {
            let kind = JobKind::from_str(&kind).map_err(anyhow::Error::msg)?;
            let priority = Priority::from_str(&priority).map_err(anyhow::Error::msg)?;
            let server_type = ServerType::from_str(&server_type)?;
            let payload: serde_json::Value = serde_json::from_str(&payload)
                .map_err(|e| anyhow::anyhow!("--payload is not valid JSON: {e}"))?;
            if !delay_secs.is_finite() || delay_secs < 0.0 {
                anyhow::bail!("--delay-secs must be a non-negative number");
            }
            let mut job = NewJob::new(kind, priority)
                .payload(payload)
                .delay(Duration::from_secs_f64(delay_secs));
            if let Some(b) = barcode {
                job = job.for_product(b, server_type);
            }
            let w = &settings.workers;
            match jobs::enqueue(pool, &job, w.shards, w.max_attempts).await? {
                Some(id) => println!("{id}"),
                None => println!("duplicate of a queued job: nothing enqueued"),
            }
        }
        JobsCommand::Bench { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Enqueues `n` no-op jobs over `products` barcodes, then runs them on this node with
/// only the workers role, reporting enqueue and completion rates.
async fn bench(
    mut settings: crate::config::Settings,
    n: usize,
    products: usize,
) -> anyhow::Result<ExitCode> {
    if n == 0 || products == 0 {
        anyhow::bail!("--jobs and --products must be at least 1");
    }
    settings.roles = vec![Role::Workers];
    let app = App::build(settings).await?;
    let pool = app.pool.clone();
    let w = app.services.settings.workers.clone();
    let before = jobs::done_count(&pool).await?;

    let batch: Vec<NewJob> = (0..n)
        .map(|i| {
            NewJob::new(JobKind::Noop, Priority::Low)
                .for_product(format!("bench{:08}", i % products), ServerType::Off)
        })
        .collect();
    let clock = Instant::now();
    for chunk in batch.chunks(5000) {
        jobs::enqueue_many(&pool, chunk, w.shards, w.max_attempts).await?;
    }
    let enqueue_secs = clock.elapsed().as_secs_f64();

    let bar = ProgressBar::new(n as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} jobs {per_sec} eta {eta}",
    )?);
    let run_clock = Instant::now();
    loop {
        let done = jobs::done_count(&pool).await?;
        let finished = (done - before).max(0) as u64;
        bar.set_position(finished.min(n as u64));
        if finished >= n as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = clock.elapsed().as_secs_f64();
    let run_secs = run_clock.elapsed().as_secs_f64();
    bar.finish_and_clear();
    println!(
        "{n} no-op jobs over {products} products, {} shards: enqueue {:.0} jobs/s ({enqueue_secs:.2} s); \
         claimed and completed {:.0} jobs/s ({run_secs:.2} s after enqueue, {total:.2} s in all)",
        w.shards,
        n as f64 / enqueue_secs,
        n as f64 / total,
    );
    app.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
