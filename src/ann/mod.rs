//! The logo nearest-neighbour index: usearch HNSW over the CLIP logo embeddings, rebuilt
//! from nothing but PostgreSQL and kept in step with it through the logged logo changes.
//!
//! * [`store`]: the vectors, one graph per flavor, and their keys (logo id and flavor);
//! * [`files`]: atomic save and checked open;
//! * [`sync`]: rebuild from `embedding.logo_embedding`, catch up with changes;
//! * [`vote`]: a logo's label from its neighbours' annotations;
//! * [`refresh`]: queueing the neighbours of old logos again;
//! * [`bench`] and [`npy`]: `robotoff ann bench`, an operator's tuning tool;
//! * [`Neighbours`]: how jobs reach the node's index (the `LogoIndex` actor implements
//!   it).
//!
//! Uses `infra::db` and `types`; the `LogoIndex` actor drives it.

pub mod bench;
pub mod files;
pub mod npy;
pub mod refresh;
pub mod store;
pub mod sync;
pub mod vote;

pub use files::{Manifest, OpenError};
pub use store::{IndexParams, LogoVectors, Neighbor, Quantization, EMBEDDING_DIM};
pub use sync::{CatchUp, Opened, SyncError, Synced};

use crate::config::IndexSettings;
use crate::types::ServerType;

/// Why the node's index could not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NeighboursError {
    #[error("the logo index is not ready")]
    NotReady,
    #[error("logo index: {0}")]
    Failed(String),
}

/// The node's logo index, as jobs use it.
#[async_trait::async_trait]
pub trait Neighbours: Send + Sync {
    /// Catches up with every logo change committed so far.
    async fn sync(&self) -> Result<(), NeighboursError>;
    /// The `k` nearest logos of `query`, among `server_type`'s when given, `exclude` left
    /// out, nearest first (distances in Robotoff's scale).
    async fn search(
        &self,
        query: Vec<f32>,
        k: usize,
        server_type: Option<ServerType>,
        exclude: Option<i64>,
    ) -> Result<Vec<Neighbor>, NeighboursError>;
}

/// The index parameters of the settings (validated when the settings are loaded).
pub fn params(settings: &IndexSettings) -> IndexParams {
    IndexParams {
        quantization: Quantization::parse(&settings.quantization).unwrap_or(Quantization::Bf16),
        connectivity: settings.connectivity,
        expansion_add: settings.expansion_add,
        expansion_search: settings.expansion_search,
    }
}

/// Threads of a rebuild: `build_threads`, or every core when 0.
pub fn build_threads(settings: &IndexSettings) -> usize {
    if settings.build_threads > 0 {
        settings.build_threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
