//! `robotoff serve`: runs the node until SIGINT or SIGTERM.

use crate::app::App;
use crate::config::Overrides;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTP listen address (http.addr).
    #[arg(long)]
    pub http_addr: Option<SocketAddr>,
    /// PostgreSQL URL (database.url); empty runs a private PostgreSQL. A URL with a
    /// password is better given by `--database-url-file` or ROBOTOFF__DATABASE__URL
    /// (command lines are visible to every user of the machine).
    #[arg(long)]
    pub database_url: Option<String>,
    /// File holding the PostgreSQL URL (database.url), e.g. a mounted secret.
    #[arg(long, conflicts_with = "database_url")]
    pub database_url_file: Option<PathBuf>,
    /// Redis URL (redis.url).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Data directory (data.dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Number of product shards (workers.shards).
    #[arg(long)]
    pub shards: Option<u32>,
    /// Comma-separated roles (roles): api, workers, scheduler, listener.
    #[arg(long)]
    pub roles: Option<String>,
}

impl ServeArgs {
    pub fn overrides(&self) -> anyhow::Result<Overrides> {
        let mut o = Overrides::default();
        if let Some(path) = &self.database_url_file {
            let url = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read the database URL from {}: {e}", path.display())
            })?;
            o.set("database.url", url.trim().to_string());
        }
        if let Some(a) = self.http_addr {
            o.set("http.addr", a.to_string());
        }
        if let Some(u) = &self.database_url {
            o.set("database.url", u.clone());
        }
        if let Some(u) = &self.redis_url {
            o.set("redis.url", u.clone());
        }
        if let Some(d) = &self.data_dir {
            o.set("data.dir", d.display().to_string());
        }
        if let Some(n) = self.shards {
            o.set("workers.shards", i64::from(n));
        }
        if let Some(r) = &self.roles {
            o.set("roles", r.clone());
        }
        Ok(o)
    }
}

pub fn run(config: Option<&std::path::Path>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(config, &args.overrides()?)?;
    super::init_logging(&settings);
    let rt = super::runtime()?;
    rt.block_on(async {
        let app = App::build(settings).await?;
        if let Some(addr) = app.addr {
            tracing::info!(%addr, "serving the API");
            eprintln!("robotoff: serving on http://{addr}");
        }
        app.run_until_stopped().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
