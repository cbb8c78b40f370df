//! The set of loaded taxonomies: each taxonomy is read on first use, and the whole set can be
//! swapped for a freshly loaded one while readers keep the set they started with.

use super::{Taxonomy, TaxonomyError, TaxonomyType};
use once_cell::sync::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// One generation of taxonomies read from one data directory; each is loaded at most once.
#[derive(Debug)]
pub struct TaxonomySet {
    data_dir: PathBuf,
    slots: [OnceCell<Arc<Taxonomy>>; 7],
}

impl TaxonomySet {
    /// A set reading from `<data_dir>/taxonomies/`; nothing is loaded yet.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            slots: Default::default(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The taxonomy of `kind`, loading it on first use. A failed load is not cached, so a
    /// later call tries again.
    pub fn get(&self, kind: TaxonomyType) -> Result<Arc<Taxonomy>, TaxonomyError> {
        let slot = self.slot(kind);
        slot.get_or_try_init(|| Taxonomy::load(&self.data_dir, kind).map(Arc::new))
            .cloned()
    }

    /// True when `kind` is already loaded.
    pub fn is_loaded(&self, kind: TaxonomyType) -> bool {
        self.slot(kind).get().is_some()
    }

    /// Loads every taxonomy now and returns how long each took.
    pub fn load_all(&self) -> Result<Vec<(TaxonomyType, Duration)>, TaxonomyError> {
        let mut timings = Vec::with_capacity(TaxonomyType::ALL.len());
        for kind in TaxonomyType::ALL {
            let start = Instant::now();
            self.get(kind)?;
            timings.push((kind, start.elapsed()));
        }
        Ok(timings)
    }

    fn slot(&self, kind: TaxonomyType) -> &OnceCell<Arc<Taxonomy>> {
        // `index()` is below 7 for every variant.
        &self.slots[kind.index()]
    }
}

/// Shared access to the current [`TaxonomySet`]; `Send + Sync`, cheap to query, and
/// replaceable as a whole (for the periodic taxonomy refresh).
#[derive(Debug)]
pub struct Taxonomies {
    current: RwLock<Arc<TaxonomySet>>,
}

impl Taxonomies {
    /// Taxonomies read lazily from `<data_dir>/taxonomies/`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            current: RwLock::new(Arc::new(TaxonomySet::new(data_dir))),
        }
    }

    /// The current generation. Holding it keeps its taxonomies alive across a refresh.
    pub fn snapshot(&self) -> Arc<TaxonomySet> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The taxonomy of `kind` from the current generation, loading it on first use.
    pub fn get(&self, kind: TaxonomyType) -> Result<Arc<Taxonomy>, TaxonomyError> {
        self.snapshot().get(kind)
    }

    /// Makes `set` the current generation; readers holding the old one keep it.
    pub fn replace(&self, set: TaxonomySet) {
        let new = Arc::new(set);
        match self.current.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Loads every taxonomy from `data_dir` into a new generation and swaps it in only when
    /// all of them loaded; on error the current generation stays.
    pub fn reload(&self, data_dir: impl Into<PathBuf>) -> Result<(), TaxonomyError> {
        let set = TaxonomySet::new(data_dir);
        set.load_all()?;
        self.replace(set);
        Ok(())
    }

    /// Robotoff's `match_taxonomized_value`: the canonical value of `value_tag` for the
    /// brand, label and category taxonomies (`None` for other types or no match). For
    /// brands the value is the brand's display name keyed by its unprefixed tag.
    pub fn match_taxonomized_value(
        &self,
        value_tag: &str,
        kind: TaxonomyType,
    ) -> Result<Option<String>, TaxonomyError> {
        if !matches!(
            kind,
            TaxonomyType::Brand | TaxonomyType::Label | TaxonomyType::Category
        ) {
            return Ok(None);
        }
        let taxonomy = self.get(kind)?;
        if taxonomy.contains(value_tag) {
            return Ok(Some(value_tag.to_string()));
        }
        if kind == TaxonomyType::Brand {
            return Ok(taxonomy.brand_mapping().get(value_tag).cloned());
        }
        Ok(taxonomy.id_for_tag(value_tag).map(str::to_string))
    }
}
