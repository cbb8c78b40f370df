//! `robotoff cluster status`: the members, who holds each shard, and who reads Product
//! Opener's streams.

use crate::app::open_database;
use crate::config::Overrides;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members (from Redis), shard locks and the update listener's lease (from
    /// PostgreSQL). Exits with 1 when Redis cannot be read.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: Option<&std::path::Path>, args: ClusterArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(config, &Overrides::default())?;
    super::init_logging(&settings);
    let ClusterCommand::Status { json } = args.command;
    super::runtime()?.block_on(async move {
        let redis = match settings.redis.url() {
            Some(url) => Some(redis::Client::open(url).context("invalid redis.url")?),
            None => None,
        };
        let (pool, local) = open_database(&settings, false).await?;
        crate::infra::db::migrate(&pool).await?;
        let status = crate::cluster::status::read(&settings, &pool, redis.as_ref(), None)
            .await
            .context("reading the cluster's state from PostgreSQL")?;
        pool.close().await;
        drop(local);
        if json {
            println!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            print!("{status}");
        }
        Ok(if status.members.is_some() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
