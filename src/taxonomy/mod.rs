//! Open Food Facts taxonomies: loading, node graph queries and tag-to-id mapping, and the
//! registry that swaps a refreshed taxonomy into every holder. Uses only `text`.

mod graph;
mod load;
mod registry;
mod tag;

pub use graph::{NodeRef, Taxonomy, TaxonomyNode};
pub use registry::{refresh_loaded, Taxonomies, TaxonomySet};
pub use tag::{is_prefixed_value, tagify};
mod kind;
pub use kind::{TaxonomyError, TaxonomyType};

#[cfg(test)]
mod real_data_tests;
