//! Builds the running service: database (configured or private), migrations, the
//! supervision tree for this node's roles, and the HTTP server.

use crate::actors::cluster_link::ClusterLink;
use crate::actors::insight_importer::InsightImporter;
use crate::actors::job_dispatcher::{self, JobDispatcher};
use crate::actors::logo_index::LogoIndex;
use crate::actors::ml_dispatcher::MlDispatcher;
use crate::actors::product_shard::ProductShard;
use crate::actors::scheduler::{self, Scheduler};
use crate::actors::supervisor::{Backoff, ChildSpec, RootSupervisor, SupervisorMsg};
use crate::actors::triton_pool::TritonPool;
use crate::actors::update_listener::UpdateListener;
use crate::actors::{self as a, Names, Services};
use crate::config::{Role, Settings};
use crate::http::{self, AppState};
use crate::infra::db::{self, jobs};
use crate::infra::local_pg::LocalPostgres;
use anyhow::Context;
use ractor::{Actor, ActorRef};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running node. Dropping it without [`App::shutdown`] leaves actors running until
/// the process ends.
pub struct App {
    /// Where the HTTP API listens (when this node has the api role).
    pub addr: Option<SocketAddr>,
    pub pool: PgPool,
    pub services: Services,
    pub supervisor: ActorRef<SupervisorMsg>,
    local_pg: Option<LocalPostgres>,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    /// Background tasks of the node, stopped at shutdown.
    tasks: Vec<JoinHandle<()>>,
}

/// Connects to the configured database, or starts the private one.
/// With the private PostgreSQL, `own_local` makes this process stop it when done even
/// if it was already running (the service adopts a server left by a killed instance;
/// one-off commands leave a running server alone).
pub async fn open_database(
    settings: &Settings,
    own_local: bool,
) -> anyhow::Result<(PgPool, Option<LocalPostgres>)> {
    let d = &settings.database;
    let (options, local) = match d.url() {
        Some(url) => (
            PgConnectOptions::from_str(url).context("invalid database.url")?,
            None,
        ),
        None => {
            let local = LocalPostgres::start(&d.local_dir, own_local)
                .await
                .context(
                    "could not start the local PostgreSQL (set database.url to use another one)",
                )?;
            tracing::info!(dir = %local.dir().display(), "using the local PostgreSQL");
            (local.connect_options(), Some(local))
        }
    };
    let pool = PgPoolOptions::new()
        .max_connections(d.max_connections)
        .acquire_timeout(Duration::from_secs(d.acquire_timeout_secs))
        .connect_with(options.application_name("robotoff"))
        .await
        .context("could not connect to PostgreSQL")?;
    Ok((pool, local))
}

impl App {
    /// Starts everything this node's roles need. The HTTP address may use port 0.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        crate::infra::metrics::install();
        if settings.cluster.enabled && settings.redis.url().is_none() {
            anyhow::bail!("cluster.enabled needs redis.url");
        }
        let (pool, local_pg) = open_database(&settings, true).await?;
        db::migrate(&pool).await?;

        let settings = Arc::new(settings);
        let node_id = settings.node_id();
        let names = Names::new(format!("{node_id}-{:08x}", rand::random::<u32>()));
        let resources = Arc::new(
            crate::pipeline::JobResources::new(
                &settings,
                Arc::new(crate::actors::logo_index::IndexHandle::new(names.clone())),
            )
            .context("could not build the job resources")?,
        );
        let services = Services {
            resources,
            shard_queues: Services::shard_queues(&settings),
            hub: Arc::new(crate::cluster::Hub::new()),
            settings: settings.clone(),
            pool: pool.clone(),
            node_id,
            names: names.clone(),
        };
        let (supervisor, _) =
            Actor::spawn(Some(names.of("root")), RootSupervisor, Backoff::default())
                .await
                .context("could not start the supervisor")?;
        let app_without_server = App {
            addr: None,
            pool: pool.clone(),
            services: services.clone(),
            supervisor: supervisor.clone(),
            local_pg,
            server: None,
            tasks: Vec::new(),
        };
        let mut app = app_without_server;
        for spec in child_specs(&services) {
            let name = spec.name.clone();
            let started = a::call(
                &supervisor,
                |r| SupervisorMsg::Start(spec, r),
                Duration::from_secs(60),
            )
            .await;
            match started {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    app.shutdown().await;
                    anyhow::bail!("{e}");
                }
                Err(e) => {
                    app.shutdown().await;
                    anyhow::bail!("could not start {name}: {e}");
                }
            }
        }

        if settings.has_role(Role::Api) {
            let redis = match settings.redis.url() {
                Some(url) => Some(redis::Client::open(url).context("invalid redis.url")?),
                None => None,
            };
            let resources = http::Resources::load(&settings.data.dir)
                .map_err(|e| anyhow::anyhow!("could not load the API's data files: {e}"))?;
            let image_hosts = crate::infra::image_fetch::ImageHosts::for_settings(&settings)
                .context("invalid product_opener images_url")?;
            let resources = Arc::new(resources);
            let warm = resources.clone();
            tokio::task::spawn_blocking(move || warm.warm_up());
            let state = AppState {
                pool: pool.clone(),
                settings: settings.clone(),
                names,
                redis,
                resources,
                image_hosts,
                heavy: Arc::new(tokio::sync::Semaphore::new(
                    settings.http.heavy_requests.max(1),
                )),
                identities: Arc::new(http::identity::Identities::new(
                    services.resources.po.clone(),
                    Duration::from_secs(settings.http.auth_cache_secs),
                )),
                services: services.clone(),
                cache: Arc::new(http::cache::ListingCache::new(
                    Duration::from_millis(settings.http.listing_cache_ms),
                    settings.http.listing_cache_bytes,
                )),
            };
            app.tasks.push(tokio::spawn(http::cache::follow_notices(
                state.cache.clone(),
                services.hub.subscribe(),
            )));
            let listener = tokio::net::TcpListener::bind(settings.http.addr)
                .await
                .with_context(|| format!("could not listen on {}", settings.http.addr))?;
            app.addr = Some(listener.local_addr()?);
            let _ = services
                .hub
                .http_addr
                .set(listener.local_addr()?.to_string());
            let (tx, rx) = oneshot::channel::<()>();
            let server = warp::serve(http::api(state))
                .incoming(listener)
                .graceful(async move {
                    let _ = rx.await;
                });
            app.server = Some((tx, tokio::spawn(server.run())));
        }
        Ok(app)
    }

    /// Serves until SIGINT or SIGTERM, then shuts down.
    pub async fn run_until_stopped(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }

    /// Stops the HTTP server, the actors (interrupted jobs are queued again), the pool,
    /// and the private PostgreSQL if this node started it. Every step has a deadline, so
    /// a stop takes seconds even when PostgreSQL or a client does not answer.
    pub async fn shutdown(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some((tx, handle)) = self.server.take() {
            let _ = tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(3), handle).await;
        }
        let _ = a::call(
            &self.supervisor,
            SupervisorMsg::ShutDown,
            Duration::from_secs(5),
        )
        .await;
        let cell = self.supervisor.get_cell();
        cell.stop_children_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
            .await;
        let _ = self
            .supervisor
            .stop_and_wait(None, Some(Duration::from_secs(5)))
            .await;
        if self.services.settings.has_role(Role::Workers) {
            let shards: Vec<i32> = (0..self.services.settings.workers.shards as i32).collect();
            let released = tokio::time::timeout(
                Duration::from_secs(2),
                jobs::release_running(&self.pool, &shards, Some(&self.services.node_id)),
            )
            .await;
            if !matches!(released, Ok(Ok(_))) {
                tracing::warn!(
                    "could not queue interrupted jobs again; they are recovered at next start"
                );
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.pool.close()).await;
        if let Some(mut pg) = self.local_pg.take() {
            if let Err(e) = pg.stop() {
                tracing::warn!(error = %e, "could not stop the local PostgreSQL");
            }
        }
    }
}

/// The actors of this node's roles, in start order (shards before the dispatcher that
/// feeds them).
pub fn child_specs(services: &Services) -> Vec<ChildSpec> {
    let s = &services.settings;
    let names = &services.names;
    let mut specs = Vec::new();
    let workers = s.has_role(Role::Workers);
    if workers {
        let report = job_dispatcher::shard_report(names);
        for shard in 0..s.workers.shards {
            let sv = services.clone();
            let report = report.clone();
            specs.push(ChildSpec::new(
                names.shard(shard),
                names.shard(shard),
                move || (ProductShard, (shard, sv.clone(), report.clone())),
            ));
        }
        specs.push(spec(services, a::INSIGHT_IMPORTER, || InsightImporter));
        specs.push(spec(services, a::TRITON_POOL, || TritonPool));
        let sv = services.clone();
        let lane = job_dispatcher::lane_report(names);
        specs.push(ChildSpec::new(
            names.of(a::ML_DISPATCHER),
            names.of(a::ML_DISPATCHER),
            move || (MlDispatcher, (sv.clone(), lane.clone())),
        ));
    }
    if workers || s.has_role(Role::Api) {
        specs.push(spec(services, a::LOGO_INDEX, || LogoIndex));
    }
    if workers {
        specs.push(spec(services, a::JOB_DISPATCHER, || JobDispatcher));
    }
    if s.has_role(Role::Scheduler) {
        let sv = services.clone();
        let tasks = scheduler::default_tasks(services);
        specs.push(ChildSpec::new(
            names.of(a::SCHEDULER),
            names.of(a::SCHEDULER),
            move || (Scheduler, (sv.clone(), tasks.clone())),
        ));
    }
    if s.has_role(Role::Listener) && s.redis.url().is_some() {
        specs.push(spec(services, a::UPDATE_LISTENER, || UpdateListener));
    }
    if s.cluster.enabled {
        specs.push(spec(services, a::CLUSTER_LINK, || ClusterLink));
    }
    specs
}

/// A child started with the shared [`Services`] as its arguments.
fn spec<A, F>(services: &Services, base: &str, make: F) -> ChildSpec
where
    A: Actor<Arguments = Services>,
    F: Fn() -> A + Send + Sync + 'static,
{
    let sv = services.clone();
    let name = services.names.of(base);
    ChildSpec::new(name.clone(), name, move || (make(), sv.clone()))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
