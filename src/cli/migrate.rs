//! `robotoff migrate`: applies the database migrations.

use crate::config::Overrides;
use crate::infra::db;
use std::process::ExitCode;

pub fn run(config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(config, &Overrides::default())?;
    super::init_logging(&settings);
    super::runtime()?.block_on(async {
        let (pool, local) = crate::app::open_database(&settings, false).await?;
        db::migrate(&pool).await?;
        let applied = db::MIGRATOR.iter().count();
        pool.close().await;
        drop(local);
        println!("migrations applied ({applied} known)");
        Ok(ExitCode::SUCCESS)
    })
}
