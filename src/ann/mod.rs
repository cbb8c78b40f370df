//! The logo nearest-neighbour index: usearch HNSW over the CLIP logo embeddings, rebuilt
//! from nothing but PostgreSQL and kept in step with it through the logged logo changes.
//!
//! * [`store`]: the vectors, their keys (logo id and flavor), atomic save and checked open;
//! * [`sync`]: rebuild from `embedding.logo_embedding`, catch up with changes.
//!
//! Uses `infra::db` and `types`; the `LogoIndex` actor drives it.

pub mod store;
pub mod sync;

pub use store::{IndexParams, LogoVectors, Neighbor, Quantization, EMBEDDING_DIM};
pub use sync::{CatchUp, Opened, SyncError, Synced};

use crate::config::IndexSettings;

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
