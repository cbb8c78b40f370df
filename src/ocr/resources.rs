//! Data loaded from the data directory for the extractors (keyword automata, logo maps,
//! store patterns, city list), each built once, on first use, and shared across threads.

use super::data_files::{self, ResourceError};
use super::keywords::{self, KeyName};
use super::location::{City, CityGroup};
use super::store::StoreData;
use crate::text::KeywordProcessor;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A value built on first use; a failure is kept and returned to every caller.
#[derive(Debug)]
pub struct Lazy<T> {
    cell: OnceLock<Result<T, ResourceError>>,
}

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Self {
            cell: OnceLock::new(),
        }
    }
}

impl<T> Lazy<T> {
    pub fn get_or_load(
        &self,
        load: impl FnOnce() -> Result<T, ResourceError>,
    ) -> Result<&T, ResourceError> {
        self.cell.get_or_init(load).as_ref().map_err(Clone::clone)
    }

    /// Whether the value has been built (successfully or not).
    pub fn is_loaded(&self) -> bool {
        self.cell.get().is_some()
    }
}

/// Keyword processor whose clean names are `(key, name)` pairs from `key||name` lines.
pub type KeyNameProcessor = KeywordProcessor<KeyName>;

/// Brand keyword lists and logo map.
#[derive(Debug)]
pub struct BrandData {
    pub curated: KeyNameProcessor,
    pub taxonomy: KeyNameProcessor,
    pub logos: HashMap<String, String>,
}

/// Label keyword list and logo map.
#[derive(Debug)]
pub struct LabelData {
    pub processor: KeyNameProcessor,
    pub logos: HashMap<String, String>,
}

/// Everything the OCR extractors read from the data directory. Cheap to create: nothing
/// is read until an extractor needs it. `Send + Sync`: share one instance (in an `Arc`).
#[derive(Debug)]
pub struct OcrResources {
    data_dir: PathBuf,
    labels: Lazy<LabelData>,
    brands: Lazy<BrandData>,
    stores: Lazy<StoreData>,
    fishing_codes: Lazy<KeyNameProcessor>,
    usda_codes: Lazy<KeyNameProcessor>,
    image_flags: Lazy<KeywordProcessor<(String, String)>>,
    traces: Lazy<KeyNameProcessor>,
    cities: Lazy<Vec<City>>,
    city_processor: Lazy<KeywordProcessor<CityGroup>>,
    /// Further lazily built values, keyed by type (see [`Self::get_or_load`]).
    extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl OcrResources {
    /// Resources read from `data_dir` (laid out like `shared/data`: `ocr/`, `taxonomies/`).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            labels: Lazy::default(),
            brands: Lazy::default(),
            stores: Lazy::default(),
            fishing_codes: Lazy::default(),
            usda_codes: Lazy::default(),
            image_flags: Lazy::default(),
            traces: Lazy::default(),
            cities: Lazy::default(),
            city_processor: Lazy::default(),
            extensions: Mutex::new(HashMap::new()),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Path of a file under `ocr/` in the data directory.
    pub fn ocr_path(&self, name: &str) -> PathBuf {
        self.data_dir.join("ocr").join(name)
    }

    /// A value of type `T` built once by `load` from the data directory and shared; the
    /// place for resources of further extractors (taxonomies, grammars, ...). A
    /// [`crate::taxonomy::Taxonomies`] stored here follows taxonomy refreshes by itself
    /// ([`crate::taxonomy::refresh_loaded`]); other values stay as first built.
    pub fn get_or_load<T: Any + Send + Sync>(
        &self,
        load: impl FnOnce(&Path) -> Result<T, ResourceError>,
    ) -> Result<Arc<T>, ResourceError> {
        let key = TypeId::of::<T>();
        let cached = self
            .extensions
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned());
        if let Some(v) = cached {
            return v.downcast::<T>().map_err(|_| {
                ResourceError::format(&self.data_dir, "resource stored under the wrong type")
            });
        }
        // Built outside the lock: two threads may both build it; the first one is kept.
        let built: Arc<dyn Any + Send + Sync> = Arc::new(load(&self.data_dir)?);
        let stored = match self.extensions.lock() {
            Ok(mut m) => m.entry(key).or_insert(built).clone(),
            Err(_) => built,
        };
        stored.downcast::<T>().map_err(|_| {
            ResourceError::format(&self.data_dir, "resource stored under the wrong type")
        })
    }

    pub fn labels(&self) -> Result<&LabelData, ResourceError> {
        self.labels.get_or_load(|| {
            Ok(LabelData {
                processor: keywords::key_name_processor(
                    &self.ocr_path("label_flashtext.txt"),
                    |_, _| true,
                )?,
                logos: keywords::logo_map(&self.ocr_path("label_logo_annotation.txt"))?,
            })
        })
    }

    pub fn brands(&self) -> Result<&BrandData, ResourceError> {
        self.brands.get_or_load(|| {
            let blacklist =
                keywords::brand_blacklist(&self.ocr_path("brand_taxonomy_blacklist.txt"))?;
            let keep = |key: &str, name: &str| keywords::keep_brand(key, name, Some(&blacklist));
            Ok(BrandData {
                curated: keywords::key_name_processor(&self.ocr_path("brand.txt"), keep)?,
                taxonomy: keywords::key_name_processor(
                    &self.ocr_path("brand_from_taxonomy.gz"),
                    keep,
                )?,
                logos: keywords::logo_map(&self.ocr_path("brand_logo_annotation.txt"))?,
            })
        })
    }

    pub fn stores(&self) -> Result<&StoreData, ResourceError> {
        self.stores
            .get_or_load(|| super::store::load_stores(&self.ocr_path("store_regex.txt")))
    }

    pub fn fishing_codes(&self) -> Result<&KeyNameProcessor, ResourceError> {
        self.fishing_codes.get_or_load(|| {
            let path = self.ocr_path("fishing_flashtext.txt");
            let lines = data_files::read_lines(&path)?;
            let items = lines.iter().map(|c| format!("{}||{}", c.to_uppercase(), c));
            keywords::build_key_name_processor(&path, items, |_, _| true)
        })
    }

    pub fn usda_codes(&self) -> Result<&KeyNameProcessor, ResourceError> {
        self.usda_codes.get_or_load(|| {
            keywords::key_name_processor(&self.ocr_path("USDA_code_flashtext.txt"), |_, _| true)
        })
    }

    pub fn image_flags(&self) -> Result<&KeywordProcessor<(String, String)>, ResourceError> {
        self.image_flags.get_or_load(|| {
            let mut kp = KeywordProcessor::new(false);
            for (key, file) in [
                ("beauty", "image_flag_beauty.txt"),
                ("miscellaneous", "image_flag_miscellaneous.txt"),
            ] {
                for name in data_files::read_lines(&self.ocr_path(file))? {
                    kp.add_keyword(&name, (name.clone(), key.to_string()));
                }
            }
            kp.compile();
            Ok(kp)
        })
    }

    pub fn traces(&self) -> Result<&KeyNameProcessor, ResourceError> {
        self.traces.get_or_load(|| {
            keywords::key_name_processor(&self.ocr_path("trace_allergen.txt"), |_, _| true)
        })
    }

    /// French cities (La Poste list), without duplicates.
    pub fn cities(&self) -> Result<&[City], ResourceError> {
        self.cities
            .get_or_load(|| {
                super::location::load_cities_fr(&self.ocr_path("cities_laposte_hexasmal.json.gz"))
            })
            .map(Vec::as_slice)
    }

    /// Keyword processor over the city names.
    pub fn city_processor(&self) -> Result<&KeywordProcessor<CityGroup>, ResourceError> {
        self.city_processor.get_or_load(|| {
            let cities = self.cities()?;
            Ok(super::location::city_processor(cities.iter().cloned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<OcrResources>();
    }

    #[test]
    fn missing_files_are_reported_with_their_path() {
        let res = OcrResources::new("/nonexistent-data-dir");
        let err = res
            .labels()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("label_flashtext.txt"), "{err}");
        // The failure is kept, not retried.
        assert!(res.labels().is_err());
    }

    #[test]
    fn extension_values_are_built_once() {
        let res = OcrResources::new("/nonexistent-data-dir");
        let a = res.get_or_load(|_| Ok(41u64 + 1)).ok();
        let b = res.get_or_load::<u64>(|_| Ok(0)).ok();
        assert_eq!(a.as_deref(), Some(&42));
        assert_eq!(b.as_deref(), Some(&42));
    }
}
