//! A product as the importers and annotators see it: the Product Opener fields they
//! read, from the product store.

use super::ServerType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Schema version assumed when Product Opener does not say (as Robotoff does).
pub const DEFAULT_SCHEMA_VERSION: i32 = 999;

/// The fields of a Product Opener product that Robotoff reads. `images` is in the
/// legacy flat schema: digit keys for uploaded images (`sizes.full.{w,h}`,
/// `uploaded_t`), other keys for selected images (`front_fr`: `imgid`, `rev`, `angle`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub code: String,
    pub server_type: ServerType,
    #[serde(default)]
    pub product_type: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub product_name: Option<String>,
    #[serde(default)]
    pub quantity: Option<String>,
    #[serde(default)]
    pub expiration_date: Option<String>,
    #[serde(default)]
    pub brands: Option<String>,
    #[serde(default)]
    pub brands_tags: Vec<String>,
    /// Packager codes as entered (`FR 40.261.001 CE,EMB 12345`); annotators extend it.
    #[serde(default)]
    pub emb_codes: Option<String>,
    #[serde(default)]
    pub countries_tags: Vec<String>,
    #[serde(default)]
    pub categories_tags: Vec<String>,
    #[serde(default)]
    pub labels_tags: Vec<String>,
    #[serde(default)]
    pub stores_tags: Vec<String>,
    #[serde(default)]
    pub emb_codes_tags: Vec<String>,
    #[serde(default)]
    pub languages_codes: Vec<String>,
    #[serde(default)]
    pub unique_scans_n: i32,
    #[serde(default = "default_schema_version")]
    pub schema_version: i32,
    #[serde(default)]
    pub images: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub packagings: Vec<serde_json::Value>,
    #[serde(default)]
    pub nutriments: serde_json::Map<String, serde_json::Value>,
    /// Product Opener's v3 nutrition input sets, when present.
    #[serde(default)]
    pub nutrition: Option<serde_json::Value>,
    #[serde(default)]
    pub nutrition_data_per: Option<String>,
    #[serde(default)]
    pub nutrition_data_prepared: Option<String>,
    #[serde(default)]
    pub serving_size: Option<String>,
    /// `ingredients_text` and every `ingredients_text_<lang>`, by field name.
    #[serde(default)]
    pub ingredients_texts: BTreeMap<String, String>,
    /// The `id` of each top-level ingredient Product Opener parsed (`ingredients`).
    #[serde(default)]
    pub ingredient_ids: Vec<String>,
}

fn default_schema_version() -> i32 {
    DEFAULT_SCHEMA_VERSION
}

impl Product {
    /// An empty product (every field unset).
    pub fn new(code: impl Into<String>, server_type: ServerType) -> Self {
        Product {
            code: code.into(),
            server_type,
            product_type: None,
            lang: None,
            product_name: None,
            quantity: None,
            expiration_date: None,
            brands: None,
            brands_tags: Vec::new(),
            emb_codes: None,
            countries_tags: Vec::new(),
            categories_tags: Vec::new(),
            labels_tags: Vec::new(),
            stores_tags: Vec::new(),
            emb_codes_tags: Vec::new(),
            languages_codes: Vec::new(),
            unique_scans_n: 0,
            schema_version: DEFAULT_SCHEMA_VERSION,
            images: serde_json::Map::new(),
            packagings: Vec::new(),
            nutriments: serde_json::Map::new(),
            nutrition: None,
            nutrition_data_per: None,
            nutrition_data_prepared: None,
            serving_size: None,
            ingredients_texts: BTreeMap::new(),
            ingredient_ids: Vec::new(),
        }
    }

    /// Ids of uploaded (raw) images: the all-digit keys of `images`.
    pub fn image_ids(&self) -> impl Iterator<Item = &str> {
        self.images
            .keys()
            .map(String::as_str)
            .filter(|k| is_digit_id(k))
    }

    /// Full-size (width, height) of an uploaded image, when known.
    pub fn image_size(&self, image_id: &str) -> Option<(u32, u32)> {
        let full = self.images.get(image_id)?.get("sizes")?.get("full")?;
        let w = full.get("w")?.as_u64()?;
        let h = full.get("h")?.as_u64()?;
        Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
    }

    /// Selected images (`front_fr`, `nutrition_en`, ...): key and entry.
    pub fn selected_images(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.images
            .iter()
            .filter(|(k, _)| !is_digit_id(k))
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// Whether `id` is a raw image id (non-empty, ASCII digits only).
pub fn is_digit_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_split_into_uploaded_and_selected() {
        let mut p = Product::new("123", ServerType::Off);
        let images = json!({
            "1": {"sizes": {"full": {"w": 1000, "h": 2000}}, "uploaded_t": 1600000000},
            "2": {"sizes": {}},
            "front_fr": {"imgid": "1", "rev": "4", "angle": 0}
        });
        p.images = images.as_object().cloned().unwrap_or_default();
        let mut ids: Vec<&str> = p.image_ids().collect();
        ids.sort();
        assert_eq!(ids, vec!["1", "2"]);
        assert_eq!(p.image_size("1"), Some((1000, 2000)));
        assert_eq!(p.image_size("2"), None);
        assert_eq!(p.image_size("9"), None);
        assert_eq!(
            p.selected_images().map(|(k, _)| k).collect::<Vec<_>>(),
            vec!["front_fr"]
        );
        assert!(!is_digit_id("") && !is_digit_id("1a") && is_digit_id("12"));
    }
}
