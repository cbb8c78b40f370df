//! LogoIndex: the embedded nearest-neighbour index of logo embeddings (usearch HNSW,
//! cosine, f32); adds, removes and searches never leave the process.

use super::Services;
use crate::infra::metrics;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::time::Instant;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Dimension of the CLIP logo embeddings.
pub const EMBEDDING_DIM: usize = 512;

/// One search result: a logo id and its cosine distance to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbor {
    pub logo_id: i64,
    pub distance: f32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogoIndexError {
    #[error("embedding has {0} dimensions, expected {EMBEDDING_DIM}")]
    Dimension(usize),
    #[error("logo id {0} cannot be indexed (negative)")]
    BadId(i64),
    #[error("index error: {0}")]
    Index(String),
}

pub enum LogoIndexMsg {
    Add(
        Vec<(i64, Vec<f32>)>,
        RpcReplyPort<Result<usize, LogoIndexError>>,
    ),
    Remove(Vec<i64>, RpcReplyPort<Result<usize, LogoIndexError>>),
    Search {
        query: Vec<f32>,
        k: usize,
        reply: RpcReplyPort<Result<Vec<Neighbor>, LogoIndexError>>,
    },
    Len(RpcReplyPort<usize>),
}

pub struct LogoIndex;

pub struct LogoIndexState {
    index: Index,
}

fn new_index() -> Result<Index, LogoIndexError> {
    let options = IndexOptions {
        dimensions: EMBEDDING_DIM,
        metric: MetricKind::Cos,
        quantization: ScalarKind::F32,
        connectivity: 16,
        expansion_add: 128,
        expansion_search: 64,
        multi: false,
    };
    let index = Index::new(&options).map_err(|e| LogoIndexError::Index(e.to_string()))?;
    index
        .reserve(1024)
        .map_err(|e| LogoIndexError::Index(e.to_string()))?;
    Ok(index)
}

#[ractor::async_trait]
impl Actor for LogoIndex {
    type Msg = LogoIndexMsg;
    type State = LogoIndexState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        let index = new_index()?;
        metrics::ann_index_size(0);
        Ok(LogoIndexState { index })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LogoIndexMsg::Add(items, reply) => {
                let _ = reply.send(state.add(&items));
                metrics::ann_index_size(state.index.size());
            }
            LogoIndexMsg::Remove(ids, reply) => {
                let mut removed = 0;
                let mut result = Ok(0);
                for id in ids {
                    match u64::try_from(id) {
                        Ok(key) => match state.index.remove(key) {
                            Ok(n) => removed += n,
                            Err(e) => result = Err(LogoIndexError::Index(e.to_string())),
                        },
                        Err(_) => result = Err(LogoIndexError::BadId(id)),
                    }
                }
                let _ = reply.send(result.map(|_: usize| removed));
                metrics::ann_index_size(state.index.size());
            }
            LogoIndexMsg::Search { query, k, reply } => {
                let clock = Instant::now();
                let result = if query.len() != EMBEDDING_DIM {
                    Err(LogoIndexError::Dimension(query.len()))
                } else {
                    state
                        .index
                        .search(&query, k)
                        .map(|m| {
                            m.keys
                                .iter()
                                .zip(m.distances.iter())
                                .filter_map(|(key, d)| {
                                    i64::try_from(*key).ok().map(|logo_id| Neighbor {
                                        logo_id,
                                        distance: *d,
                                    })
                                })
                                .collect()
                        })
                        .map_err(|e| LogoIndexError::Index(e.to_string()))
                };
                metrics::ann_search(clock.elapsed());
                let _ = reply.send(result);
            }
            LogoIndexMsg::Len(reply) => {
                let _ = reply.send(state.index.size());
            }
        }
        Ok(())
    }
}

impl LogoIndexState {
    fn add(&mut self, items: &[(i64, Vec<f32>)]) -> Result<usize, LogoIndexError> {
        for (id, v) in items {
            if v.len() != EMBEDDING_DIM {
                return Err(LogoIndexError::Dimension(v.len()));
            }
            if *id < 0 {
                return Err(LogoIndexError::BadId(*id));
            }
        }
        let needed = self.index.size() + items.len();
        if needed > self.index.capacity() {
            self.index
                .reserve(needed.next_power_of_two())
                .map_err(|e| LogoIndexError::Index(e.to_string()))?;
        }
        let mut added = 0;
        for (id, v) in items {
            let key = *id as u64;
            if self.index.contains(key) {
                self.index
                    .remove(key)
                    .map_err(|e| LogoIndexError::Index(e.to_string()))?;
            }
            self.index
                .add(key, v)
                .map_err(|e| LogoIndexError::Index(e.to_string()))?;
            added += 1;
        }
        Ok(added)
    }
}
