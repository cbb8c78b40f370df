//! Data files the importers check predictions against: taxonomies, the label whitelist,
//! the brand blacklist and the brand barcode-prefix set, read once and shared.

use super::InsightError;
use crate::ocr::data_files::{read_lines, read_text};
use crate::taxonomy::{Taxonomies, Taxonomy, TaxonomyType};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything importers read besides the product and the predictions. `Send + Sync`:
/// share one instance per data directory (in an `Arc`).
#[derive(Debug)]
pub struct ImportResources {
    data_dir: PathBuf,
    taxonomies: Arc<Taxonomies>,
    /// Label tags applied automatically when found by the `regex`/`flashtext` predictors.
    label_whitelist: HashSet<String>,
    /// Brand tags never suggested from the `taxonomy`/`curated-list` predictors.
    brand_blacklist: HashSet<String>,
    /// `(brand tag, first 7 digits + "xxxxxx")` pairs seen in the product database.
    brand_prefixes: HashSet<(String, String)>,
}

impl ImportResources {
    /// Reads the word lists from `data_dir` (`ocr/label_whitelist.txt`,
    /// `ocr/brand_taxonomy_blacklist.txt`, `brand_prefix.json.gz`); taxonomies are read
    /// from `data_dir/taxonomies/` on first use.
    pub fn load(data_dir: impl Into<PathBuf>) -> Result<Self, InsightError> {
        let data_dir = data_dir.into();
        let taxonomies = Arc::new(Taxonomies::new(&data_dir));
        Self::load_with_taxonomies(data_dir, taxonomies)
    }

    /// As [`ImportResources::load`], sharing an existing set of taxonomies.
    pub fn load_with_taxonomies(
        data_dir: impl Into<PathBuf>,
        taxonomies: Arc<Taxonomies>,
    ) -> Result<Self, InsightError> {
        let data_dir = data_dir.into();
        let ocr = data_dir.join("ocr");
        let label_whitelist = lines(&ocr.join("label_whitelist.txt"))?;
        let brand_blacklist = lines(&ocr.join("brand_taxonomy_blacklist.txt"))?;
        let brand_prefixes = brand_prefixes(&data_dir.join("brand_prefix.json.gz"))?;
        Ok(Self::from_parts(
            data_dir,
            taxonomies,
            label_whitelist,
            brand_blacklist,
            brand_prefixes,
        ))
    }

    /// Resources built from values already in memory (tests, tools).
    pub fn from_parts(
        data_dir: PathBuf,
        taxonomies: Arc<Taxonomies>,
        label_whitelist: HashSet<String>,
        brand_blacklist: HashSet<String>,
        brand_prefixes: HashSet<(String, String)>,
    ) -> Self {
        Self {
            data_dir,
            taxonomies,
            label_whitelist,
            brand_blacklist,
            brand_prefixes,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn taxonomies(&self) -> &Arc<Taxonomies> {
        &self.taxonomies
    }

    /// The taxonomy of `kind`, loaded on first use.
    pub fn taxonomy(&self, kind: TaxonomyType) -> Result<Arc<Taxonomy>, InsightError> {
        self.taxonomies
            .get(kind)
            .map_err(|e| InsightError::Resource(format!("loading the {kind} taxonomy: {e}")))
    }

    pub fn is_whitelisted_label(&self, tag: &str) -> bool {
        self.label_whitelist.contains(tag)
    }

    pub fn is_blacklisted_brand(&self, tag: &str) -> bool {
        self.brand_blacklist.contains(tag)
    }

    /// Robotoff's barcode-range check: for a 13-digit barcode, the brand must have been
    /// seen with the barcode's 7-digit prefix; other barcodes always pass.
    pub fn in_barcode_range(&self, brand_tag: &str, barcode: &str) -> bool {
        if barcode.chars().count() != 13 {
            return true;
        }
        let prefix: String = barcode.chars().take(7).chain("xxxxxx".chars()).collect();
        self.brand_prefixes
            .contains(&(brand_tag.to_string(), prefix))
    }
}

fn lines(path: &Path) -> Result<HashSet<String>, InsightError> {
    read_lines(path)
        .map(|l| l.into_iter().collect())
        .map_err(|e| InsightError::Resource(e.to_string()))
}

fn brand_prefixes(path: &Path) -> Result<HashSet<(String, String)>, InsightError> {
    let text = read_text(path).map_err(|e| InsightError::Resource(e.to_string()))?;
    let pairs: Vec<(String, String)> = serde_json::from_str(&text).map_err(|e| {
        InsightError::Resource(format!(
            "{}: expected a list of [brand, prefix] pairs: {e}",
            path.display()
        ))
    })?;
    Ok(pairs.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> ImportResources {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
        match ImportResources::load(dir) {
            Ok(r) => r,
            Err(e) => panic!("shared data loads: {e}"),
        }
    }

    /// `tests/unit/insights/test_importer.py::TestBrandInsightInsightImporter::test_is_prediction_valid`:
    /// 3560070880973 is a Carrefour barcode, 3510070880973 is not; `asia` is blacklisted.
    #[test]
    fn brand_lists_from_the_data_directory() {
        let r = shared();
        assert!(r.in_barcode_range("carrefour", "3560070880973"));
        assert!(!r.in_barcode_range("carrefour", "3510070880973"));
        assert!(r.in_barcode_range("carrefour", "12345"));
        assert!(r.is_blacklisted_brand("asia"));
        assert!(!r.is_blacklisted_brand("carrefour"));
        assert!(r.is_whitelisted_label("en:organic"));
        assert!(
            !r.is_whitelisted_label("// This is an allow-list of labels to apply automatically")
        );
    }
}
