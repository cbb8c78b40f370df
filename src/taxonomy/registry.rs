//! The set of loaded taxonomies: each taxonomy is read on first use, and the whole set can be
//! swapped for a freshly loaded one while readers keep the set they started with. Every
//! live [`Taxonomies`] of the process can be refreshed at once after the files changed.

use super::{Taxonomy, TaxonomyError, TaxonomyType};
use once_cell::sync::OnceCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
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

    /// A set reading from `data_dir` with some taxonomies already loaded.
    fn with_loaded(data_dir: &Path, loaded: &BTreeMap<TaxonomyType, Arc<Taxonomy>>) -> Self {
        let set = Self::new(data_dir);
        for (kind, taxonomy) in loaded {
            let _ = set.slot(*kind).set(Arc::clone(taxonomy));
        }
        set
    }

    /// The taxonomy types loaded so far.
    pub fn loaded_kinds(&self) -> Vec<TaxonomyType> {
        TaxonomyType::ALL
            .into_iter()
            .filter(|k| self.is_loaded(*k))
            .collect()
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

type Generation = RwLock<Arc<TaxonomySet>>;

/// Every [`Taxonomies`] alive in the process, so a refresh reaches them all.
fn live() -> &'static Mutex<Vec<Weak<Generation>>> {
    static LIVE: OnceLock<Mutex<Vec<Weak<Generation>>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(Vec::new()))
}

fn current_of(generation: &Generation) -> Arc<TaxonomySet> {
    match generation.read() {
        Ok(guard) => Arc::clone(&guard),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

fn set_current(generation: &Generation, set: Arc<TaxonomySet>) {
    match generation.write() {
        Ok(mut guard) => *guard = set,
        Err(poisoned) => *poisoned.into_inner() = set,
    }
}

/// After the files of `changed` were replaced in `data_dir`: every live [`Taxonomies`]
/// reading from `data_dir` that has one of them loaded gets a new generation with those
/// read again (each file once, shared by all) and its other loaded taxonomies kept.
/// Nothing is swapped unless every needed file loads. Taxonomies not loaded yet are read
/// from the new files on first use anyway. Returns the number of [`Taxonomies`] swapped.
pub fn refresh_loaded(data_dir: &Path, changed: &[TaxonomyType]) -> Result<usize, TaxonomyError> {
    let live: Vec<Arc<Generation>> = match live().lock() {
        Ok(mut list) => {
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        }
        Err(_) => Vec::new(),
    };
    let holders: Vec<(Arc<Generation>, Arc<TaxonomySet>)> = live
        .into_iter()
        .filter_map(|g| {
            let set = current_of(&g);
            let concerned = set.data_dir() == data_dir && changed.iter().any(|k| set.is_loaded(*k));
            concerned.then_some((g, set))
        })
        .collect();
    let mut fresh: BTreeMap<TaxonomyType, Arc<Taxonomy>> = BTreeMap::new();
    for (_, set) in &holders {
        for kind in changed {
            if set.is_loaded(*kind) && !fresh.contains_key(kind) {
                fresh.insert(*kind, Arc::new(Taxonomy::load(data_dir, *kind)?));
            }
        }
    }
    for (generation, old) in &holders {
        let loaded: BTreeMap<TaxonomyType, Arc<Taxonomy>> = old
            .loaded_kinds()
            .into_iter()
            .filter_map(|kind| {
                let taxonomy = if changed.contains(&kind) {
                    fresh.get(&kind).cloned()
                } else {
                    old.slot(kind).get().cloned()
                };
                taxonomy.map(|t| (kind, t))
            })
            .collect();
        set_current(
            generation,
            Arc::new(TaxonomySet::with_loaded(data_dir, &loaded)),
        );
    }
    Ok(holders.len())
}

/// Shared access to the current [`TaxonomySet`]; `Send + Sync`, cheap to query, and
/// replaceable as a whole (for the periodic taxonomy refresh, see [`refresh_loaded`]).
#[derive(Debug)]
pub struct Taxonomies {
    current: Arc<Generation>,
}

impl Taxonomies {
    /// Taxonomies read lazily from `<data_dir>/taxonomies/`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let current = Arc::new(RwLock::new(Arc::new(TaxonomySet::new(data_dir))));
        if let Ok(mut list) = live().lock() {
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&current));
        }
        Self { current }
    }

    /// The current generation. Holding it keeps its taxonomies alive across a refresh.
    pub fn snapshot(&self) -> Arc<TaxonomySet> {
        current_of(&self.current)
    }

    /// The taxonomy of `kind` from the current generation, loading it on first use.
    pub fn get(&self, kind: TaxonomyType) -> Result<Arc<Taxonomy>, TaxonomyError> {
        self.snapshot().get(kind)
    }

    /// Makes `set` the current generation; readers holding the old one keep it.
    pub fn replace(&self, set: TaxonomySet) {
        set_current(&self.current, Arc::new(set));
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
