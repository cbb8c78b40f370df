//! What handlers share: the pool for reads, the node's services for writes, settings,
//! and the data files question formatting reads.

use crate::actors::{Names, Services};
use crate::config::Settings;
use crate::i18n::Translations;
use crate::infra::image_fetch::ImageHosts;
use crate::ocr::OcrResources;
use crate::taxonomy::Taxonomies;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;

/// Data the read endpoints format with, loaded once.
pub struct Resources {
    pub translations: Translations,
    pub taxonomies: Taxonomies,
    /// Label tag → logo URL (`label_logos.json`).
    pub label_logos: HashMap<String, String>,
    pub ocr: Arc<OcrResources>,
}

impl Resources {
    /// Reads translations and the label logo map from the data directory; taxonomies
    /// and OCR data are read on first use.
    pub fn load(data_dir: &std::path::Path) -> Result<Resources, String> {
        let translations = Translations::load(&data_dir.join("i18n")).map_err(|e| e.to_string())?;
        let logos_path = data_dir.join("label_logos.json");
        let label_logos = match std::fs::read_to_string(&logos_path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("invalid {}: {e}", logos_path.display()))?,
            Err(_) => HashMap::new(),
        };
        Ok(Resources {
            translations,
            taxonomies: Taxonomies::new(data_dir),
            label_logos,
            ocr: Arc::new(OcrResources::new(data_dir)),
        })
    }
}

impl Resources {
    /// Loads the taxonomies questions are formatted with (so the first requests do not
    /// wait for them). Failures are logged; formatting then falls back to tags.
    pub fn warm_up(&self) {
        use crate::taxonomy::TaxonomyType as T;
        for kind in [
            T::Category,
            T::Label,
            T::PackagingShape,
            T::PackagingMaterial,
            T::PackagingRecycling,
        ] {
            if let Err(e) = self.taxonomies.get(kind) {
                tracing::warn!(taxonomy = kind.name(), error = %e, "could not load a taxonomy");
            }
        }
    }
}

/// What handlers need: the pool for reads, actor names for writes, settings.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub names: Names,
    pub redis: Option<redis::Client>,
    pub resources: Arc<Resources>,
    /// Downloads from the configured image hosts only.
    pub image_hosts: ImageHosts,
    /// Listings served from memory to callers who have not voted.
    pub cache: Arc<super::cache::ListingCache>,
    /// Turns of the heavy requests (OCR and image predictions) running at once.
    pub heavy: Arc<tokio::sync::Semaphore>,
    /// Credentials Product Opener accepted, remembered for a while.
    pub identities: Arc<super::identity::Identities>,
    /// The node's services, for calls to product shards.
    pub services: Services,
}
