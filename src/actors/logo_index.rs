//! LogoIndex: owns the embedded logo nearest-neighbour index (`ann`). At start it opens
//! the saved index and catches it up with PostgreSQL, or rebuilds it; then it catches up
//! every `index.sync_interval_ms` (and when asked, after a commit that changed logos),
//! saves it when changed at most every `index.save_interval_secs` and when stopping, and
//! answers searches. Every operation on the index runs here, one at a time.

use super::{Names, Services, LOGO_INDEX};
use crate::ann::{self, CatchUp, Neighbor, Neighbours, NeighboursError, Opened, Synced};
use crate::infra::db::logo_index as db;
use crate::infra::metrics;
use crate::types::ServerType;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::time::{Duration, Instant};

pub use crate::ann::EMBEDDING_DIM;

/// How often the drift between PostgreSQL and the index is measured.
const DRIFT_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogoIndexError {
    #[error("the logo index is not ready yet")]
    NotReady,
    #[error("{0}")]
    Index(String),
}

/// What the index holds, for `robotoff ann stats` and the API.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexStats {
    pub ready: bool,
    /// How the index was obtained at start: `loaded`, or `rebuilt: <why>`.
    pub opened: String,
    pub vectors: usize,
    pub memory_bytes: usize,
    pub horizon: i64,
    pub quantization: String,
    pub connectivity: usize,
    pub expansion_search: usize,
}

pub enum LogoIndexMsg {
    /// Catch up with PostgreSQL now; answers what was applied.
    Sync(Option<RpcReplyPort<Result<CatchUp, LogoIndexError>>>),
    /// The periodic catch-up, drift measure and save.
    Tick,
    /// Save now.
    Save(RpcReplyPort<Result<(), LogoIndexError>>),
    /// The `k` nearest logos of `query` (512 values), among `server_type`'s when given,
    /// `exclude` left out; distances in Robotoff's scale.
    Search {
        query: Vec<f32>,
        k: usize,
        server_type: Option<ServerType>,
        exclude: Option<i64>,
        reply: RpcReplyPort<Result<Vec<Neighbor>, LogoIndexError>>,
    },
    /// The stored (normalised) vector of a logo.
    Vector(i64, RpcReplyPort<Option<Vec<f32>>>),
    Stats(RpcReplyPort<IndexStats>),
}

pub struct LogoIndex;

pub struct LogoIndexState {
    services: Services,
    synced: Option<Synced>,
    opened: String,
    /// Changes applied since the last save.
    dirty: bool,
    last_save: Instant,
    last_drift: Option<Instant>,
}

impl LogoIndexState {
    fn stats(&self) -> IndexStats {
        let p = ann::params(&self.services.settings.index);
        match &self.synced {
            Some(s) => IndexStats {
                ready: true,
                opened: self.opened.clone(),
                vectors: s.vectors.len(),
                memory_bytes: s.vectors.memory_usage(),
                horizon: s.horizon,
                quantization: self.services.settings.index.quantization.clone(),
                connectivity: p.connectivity,
                expansion_search: p.expansion_search,
            },
            None => IndexStats {
                ready: false,
                opened: String::new(),
                vectors: 0,
                memory_bytes: 0,
                horizon: 0,
                quantization: self.services.settings.index.quantization.clone(),
                connectivity: p.connectivity,
                expansion_search: p.expansion_search,
            },
        }
    }

    async fn catch_up(&mut self) -> Result<CatchUp, LogoIndexError> {
        let Some(synced) = self.synced.as_mut() else {
            return Err(LogoIndexError::NotReady);
        };
        let report = ann::sync::catch_up(&self.services.pool, synced)
            .await
            .map_err(|e| LogoIndexError::Index(e.to_string()))?;
        if report != CatchUp::default() {
            self.dirty = true;
            metrics::ann_index_size(synced.vectors.len());
        }
        Ok(report)
    }

    async fn save(&mut self) -> Result<(), LogoIndexError> {
        let Some(synced) = self.synced.as_ref() else {
            return Ok(());
        };
        let dir = self.services.settings.index.dir.clone();
        let vectors = synced.vectors.clone();
        let horizon = synced.horizon;
        let applied = synced.applied();
        let clock = Instant::now();
        tokio::task::spawn_blocking(move || ann::files::save(&vectors, &dir, horizon, &applied))
            .await
            .map_err(|e| LogoIndexError::Index(e.to_string()))?
            .map_err(|e| LogoIndexError::Index(e.to_string()))?;
        self.dirty = false;
        self.last_save = Instant::now();
        tracing::info!(
            elapsed_ms = clock.elapsed().as_millis() as u64,
            horizon,
            "logo index saved"
        );
        Ok(())
    }

    async fn measure_drift(&mut self) {
        let Some(synced) = self.synced.as_ref() else {
            return;
        };
        match db::embedded_count(&self.services.pool).await {
            Ok(rows) => metrics::ann_index_drift(rows - synced.vectors.len() as i64),
            Err(e) => tracing::warn!(error = %e, "counting logo embeddings"),
        }
        self.last_drift = Some(Instant::now());
    }
}

#[ractor::async_trait]
impl Actor for LogoIndex {
    type Msg = LogoIndexMsg;
    type State = LogoIndexState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        metrics::ann_index_size(0);
        let interval = Duration::from_millis(services.settings.index.sync_interval_ms.max(50));
        // The first tick opens or rebuilds the index, so the node starts without waiting.
        myself.send_interval(interval, || LogoIndexMsg::Tick);
        let _ = myself.cast(LogoIndexMsg::Tick);
        Ok(LogoIndexState {
            services,
            synced: None,
            opened: String::new(),
            dirty: false,
            last_save: Instant::now(),
            last_drift: None,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if state.dirty {
            if let Err(e) = state.save().await {
                tracing::error!(error = %e, "saving the logo index at stop");
            }
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LogoIndexMsg::Tick => {
                if state.synced.is_none() {
                    let s = &state.services.settings.index;
                    let clock = Instant::now();
                    match ann::sync::open_or_rebuild(
                        &state.services.pool,
                        &s.dir,
                        ann::params(s),
                        ann::build_threads(s),
                    )
                    .await
                    {
                        Ok((synced, opened, report)) => {
                            let rebuilt = matches!(opened, Opened::Rebuilt(_));
                            tracing::info!(
                                vectors = synced.vectors.len(),
                                elapsed_ms = clock.elapsed().as_millis() as u64,
                                ?opened,
                                ?report,
                                "logo index ready"
                            );
                            metrics::ann_index_size(synced.vectors.len());
                            state.opened = match &opened {
                                Opened::Loaded => "loaded".to_string(),
                                Opened::Rebuilt(why) => format!("rebuilt: {why}"),
                            };
                            state.synced = Some(synced);
                            state.dirty = rebuilt || report != CatchUp::default();
                            if rebuilt {
                                if let Err(e) = state.save().await {
                                    tracing::error!(error = %e, "saving the rebuilt logo index");
                                }
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "opening the logo index failed; trying again");
                            return Ok(());
                        }
                    }
                }
                if let Err(e) = state.catch_up().await {
                    tracing::warn!(error = %e, "logo index catch-up failed");
                }
                if state.last_drift.is_none_or(|t| t.elapsed() >= DRIFT_EVERY) {
                    state.measure_drift().await;
                }
                let every = Duration::from_secs(state.services.settings.index.save_interval_secs);
                if state.dirty && state.last_save.elapsed() >= every {
                    if let Err(e) = state.save().await {
                        tracing::error!(error = %e, "saving the logo index");
                    }
                }
            }
            LogoIndexMsg::Sync(reply) => {
                let r = state.catch_up().await;
                if let Some(reply) = reply {
                    let _ = reply.send(r);
                }
            }
            LogoIndexMsg::Save(reply) => {
                let _ = reply.send(state.save().await);
            }
            LogoIndexMsg::Search {
                query,
                k,
                server_type,
                exclude,
                reply,
            } => {
                let clock = Instant::now();
                let result = match &state.synced {
                    None => Err(LogoIndexError::NotReady),
                    Some(s) => s
                        .vectors
                        .search(&query, k, server_type, exclude)
                        .map_err(|e| LogoIndexError::Index(e.to_string())),
                };
                metrics::ann_search(clock.elapsed());
                let _ = reply.send(result);
            }
            LogoIndexMsg::Vector(logo_id, reply) => {
                let _ = reply.send(
                    state
                        .synced
                        .as_ref()
                        .and_then(|s| s.vectors.vector(logo_id)),
                );
            }
            LogoIndexMsg::Stats(reply) => {
                let _ = reply.send(state.stats());
            }
        }
        Ok(())
    }
}

/// How jobs reach the node's logo index (see [`Neighbours`]).
pub struct IndexHandle {
    names: Names,
}

/// How long a job waits for the index to catch up or search.
const JOB_CALL: Duration = Duration::from_secs(60);

impl IndexHandle {
    pub fn new(names: Names) -> Self {
        IndexHandle { names }
    }

    fn actor(&self) -> Result<ActorRef<LogoIndexMsg>, NeighboursError> {
        self.names
            .lookup::<LogoIndexMsg>(&self.names.of(LOGO_INDEX))
            .ok_or(NeighboursError::NotReady)
    }
}

fn job_error(e: LogoIndexError) -> NeighboursError {
    match e {
        LogoIndexError::NotReady => NeighboursError::NotReady,
        LogoIndexError::Index(m) => NeighboursError::Failed(m),
    }
}

#[async_trait::async_trait]
impl Neighbours for IndexHandle {
    async fn sync(&self) -> Result<(), NeighboursError> {
        super::call(&self.actor()?, |r| LogoIndexMsg::Sync(Some(r)), JOB_CALL)
            .await
            .map_err(|_| NeighboursError::NotReady)?
            .map(|_| ())
            .map_err(job_error)
    }

    async fn search(
        &self,
        query: Vec<f32>,
        k: usize,
        server_type: Option<ServerType>,
        exclude: Option<i64>,
    ) -> Result<Vec<Neighbor>, NeighboursError> {
        super::call(
            &self.actor()?,
            |reply| LogoIndexMsg::Search {
                query,
                k,
                server_type,
                exclude,
                reply,
            },
            JOB_CALL,
        )
        .await
        .map_err(|_| NeighboursError::NotReady)?
        .map_err(job_error)
    }
}
