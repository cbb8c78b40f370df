//! Product Opener product JSON (a dump line or an API answer) → [`Product`]: reads only
//! the fields Robotoff uses, skips the rest without building it, tolerates the odd
//! types found in real data (numbers for text, `null` for lists).

use super::to_legacy_images;
use crate::types::{Product, ServerType, DEFAULT_SCHEMA_VERSION};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Why a product document was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductJsonError {
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("not a product object: {0}")]
    NotAnObject(String),
    #[error("missing code")]
    MissingCode,
    #[error("unknown product_type {0:?}")]
    UnknownProductType(String),
}

impl ProductJsonError {
    /// Short reason for import summaries.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid JSON",
            Self::NotAnObject(_) => "not a product object",
            Self::MissingCode => "missing code",
            Self::UnknownProductType(_) => "unknown product_type",
        }
    }
}

/// Reads one product document. `server_type`: the flavor to file it under; `None`
/// takes it from `product_type` (`food` → off, `beauty` → obf, `petfood` → opff,
/// `product` → opf; absent → off).
pub fn parse_product(
    json: &[u8],
    server_type: Option<ServerType>,
) -> Result<Product, ProductJsonError> {
    let raw: RawProduct = serde_json::from_slice(json).map_err(classify)?;
    raw.into_product(server_type)
}

/// As [`parse_product`], from an already parsed value (API answers).
pub fn parse_product_value(
    json: Value,
    server_type: Option<ServerType>,
) -> Result<Product, ProductJsonError> {
    let raw: RawProduct = serde_json::from_value(json).map_err(classify)?;
    raw.into_product(server_type)
}

fn classify(e: serde_json::Error) -> ProductJsonError {
    match e.classify() {
        serde_json::error::Category::Data => ProductJsonError::NotAnObject(e.to_string()),
        _ => ProductJsonError::InvalidJson(e.to_string()),
    }
}

#[derive(Default)]
struct RawProduct {
    code: Option<String>,
    product_type: Option<String>,
    lang: Option<String>,
    product_name: Option<String>,
    quantity: Option<String>,
    expiration_date: Option<String>,
    brands: Option<String>,
    emb_codes: Option<String>,
    brands_tags: Vec<String>,
    countries_tags: Vec<String>,
    categories_tags: Vec<String>,
    labels_tags: Vec<String>,
    stores_tags: Vec<String>,
    emb_codes_tags: Vec<String>,
    languages_codes: Vec<String>,
    unique_scans_n: Option<i64>,
    schema_version: Option<i64>,
    images: Map<String, Value>,
    packagings: Vec<Value>,
    nutriments: Map<String, Value>,
    nutrition: Option<Value>,
    nutrition_data_per: Option<String>,
    nutrition_data_prepared: Option<String>,
    serving_size: Option<String>,
    ingredients_texts: BTreeMap<String, String>,
    ingredient_ids: Vec<String>,
}

impl RawProduct {
    fn into_product(self, forced: Option<ServerType>) -> Result<Product, ProductJsonError> {
        let code = self
            .code
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .ok_or(ProductJsonError::MissingCode)?;
        let server_type = match (forced, self.product_type.as_deref()) {
            (Some(st), _) => st,
            (None, None) => ServerType::Off,
            (None, Some(pt)) => ServerType::from_product_type(pt)
                .ok_or_else(|| ProductJsonError::UnknownProductType(pt.to_string()))?,
        };
        let mut p = Product::new(code, server_type);
        p.product_type = self.product_type;
        p.lang = self.lang;
        p.product_name = self.product_name;
        p.quantity = self.quantity;
        p.expiration_date = self.expiration_date;
        p.brands = self.brands;
        p.emb_codes = self.emb_codes;
        p.brands_tags = self.brands_tags;
        p.countries_tags = self.countries_tags;
        p.categories_tags = self.categories_tags;
        p.labels_tags = self.labels_tags;
        p.stores_tags = self.stores_tags;
        p.emb_codes_tags = self.emb_codes_tags;
        p.languages_codes = self.languages_codes;
        p.unique_scans_n = self
            .unique_scans_n
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0);
        p.schema_version = self
            .schema_version
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(DEFAULT_SCHEMA_VERSION);
        p.images = to_legacy_images(self.images);
        p.packagings = self.packagings;
        p.nutriments = self.nutriments;
        p.nutrition = self.nutrition;
        p.nutrition_data_per = self.nutrition_data_per;
        p.nutrition_data_prepared = self.nutrition_data_prepared;
        p.serving_size = self.serving_size;
        p.ingredients_texts = self.ingredients_texts;
        p.ingredient_ids = self.ingredient_ids;
        Ok(p)
    }
}

/// The fields read; everything else is skipped.
enum Key {
    Code,
    ProductType,
    Lang,
    ProductName,
    Quantity,
    ExpirationDate,
    Brands,
    EmbCodes,
    BrandsTags,
    CountriesTags,
    CategoriesTags,
    LabelsTags,
    StoresTags,
    EmbCodesTags,
    LanguagesCodes,
    UniqueScansN,
    SchemaVersion,
    Images,
    Packagings,
    Nutriments,
    Nutrition,
    NutritionDataPer,
    NutritionDataPrepared,
    ServingSize,
    Ingredients,
    IngredientsText(String),
    Other,
}

impl Key {
    fn of(name: &str) -> Key {
        match name {
            "code" => Key::Code,
            "product_type" => Key::ProductType,
            "lang" => Key::Lang,
            "product_name" => Key::ProductName,
            "quantity" => Key::Quantity,
            "expiration_date" => Key::ExpirationDate,
            "brands" => Key::Brands,
            "emb_codes" => Key::EmbCodes,
            "brands_tags" => Key::BrandsTags,
            "countries_tags" => Key::CountriesTags,
            "categories_tags" => Key::CategoriesTags,
            "labels_tags" => Key::LabelsTags,
            "stores_tags" => Key::StoresTags,
            "emb_codes_tags" => Key::EmbCodesTags,
            "languages_codes" => Key::LanguagesCodes,
            "unique_scans_n" => Key::UniqueScansN,
            "schema_version" => Key::SchemaVersion,
            "images" => Key::Images,
            "packagings" => Key::Packagings,
            "nutriments" => Key::Nutriments,
            "nutrition" => Key::Nutrition,
            "nutrition_data_per" => Key::NutritionDataPer,
            "nutrition_data_prepared" => Key::NutritionDataPrepared,
            "serving_size" => Key::ServingSize,
            "ingredients" => Key::Ingredients,
            other if is_ingredients_text_key(other) => Key::IngredientsText(other.to_string()),
            _ => Key::Other,
        }
    }
}

/// `ingredients_text` or `ingredients_text_<lang>` (2 or 3 lowercase letters); not the
/// `_with_allergens`, `_debug`, … variants.
fn is_ingredients_text_key(name: &str) -> bool {
    match name.strip_prefix("ingredients_text") {
        Some("") => true,
        Some(rest) => rest.strip_prefix('_').is_some_and(|lang| {
            (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase())
        }),
        None => false,
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::of(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawProduct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ProductVisitor;
        impl<'de> Visitor<'de> for ProductVisitor {
            type Value = RawProduct;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a product object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawProduct, A::Error> {
                let mut p = RawProduct::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Code => p.code = map.next_value::<Text>()?.0,
                        Key::ProductType => p.product_type = map.next_value::<Text>()?.0,
                        Key::Lang => p.lang = map.next_value::<Text>()?.0,
                        Key::ProductName => p.product_name = map.next_value::<Text>()?.0,
                        Key::Quantity => p.quantity = map.next_value::<Text>()?.0,
                        Key::ExpirationDate => p.expiration_date = map.next_value::<Text>()?.0,
                        Key::Brands => p.brands = map.next_value::<Text>()?.0,
                        Key::EmbCodes => p.emb_codes = map.next_value::<Text>()?.0,
                        Key::BrandsTags => p.brands_tags = map.next_value::<Tags>()?.0,
                        Key::CountriesTags => p.countries_tags = map.next_value::<Tags>()?.0,
                        Key::CategoriesTags => p.categories_tags = map.next_value::<Tags>()?.0,
                        Key::LabelsTags => p.labels_tags = map.next_value::<Tags>()?.0,
                        Key::StoresTags => p.stores_tags = map.next_value::<Tags>()?.0,
                        Key::EmbCodesTags => p.emb_codes_tags = map.next_value::<Tags>()?.0,
                        Key::LanguagesCodes => p.languages_codes = map.next_value::<Tags>()?.0,
                        Key::UniqueScansN => p.unique_scans_n = map.next_value::<Int>()?.0,
                        Key::SchemaVersion => p.schema_version = map.next_value::<Int>()?.0,
                        Key::Images => {
                            p.images = match map.next_value::<Value>()? {
                                Value::Object(m) => m,
                                _ => Map::new(),
                            }
                        }
                        Key::Ingredients => {
                            p.ingredient_ids = match map.next_value::<Value>()? {
                                Value::Array(a) => a
                                    .iter()
                                    .filter_map(|i| Some(i.get("id")?.as_str()?.to_string()))
                                    .collect(),
                                _ => Vec::new(),
                            };
                        }
                        Key::Packagings => {
                            p.packagings = match map.next_value::<Value>()? {
                                Value::Array(a) => a,
                                _ => Vec::new(),
                            }
                        }
                        Key::Nutriments => {
                            p.nutriments = match map.next_value::<Value>()? {
                                Value::Object(m) => m,
                                _ => Map::new(),
                            }
                        }
                        Key::Nutrition => {
                            p.nutrition = Some(map.next_value::<Value>()?).filter(|v| !v.is_null())
                        }
                        Key::NutritionDataPer => p.nutrition_data_per = map.next_value::<Text>()?.0,
                        Key::NutritionDataPrepared => {
                            p.nutrition_data_prepared = map.next_value::<Text>()?.0
                        }
                        Key::ServingSize => p.serving_size = map.next_value::<Text>()?.0,
                        Key::IngredientsText(name) => {
                            if let Some(text) = map.next_value::<Text>()?.0 {
                                p.ingredients_texts.insert(name, text);
                            }
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(p)
            }
        }
        d.deserialize_map(ProductVisitor)
    }
}

/// Text, or a number written as text; `null`, booleans, lists and objects are `None`.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor).map(Text)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A list of tags (numbers kept as text; nulls, lists and objects dropped), or the
/// keys of an object (`languages_codes` is `{"fr": 6}`); anything else is empty.
struct Tags(Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tags")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut tags = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(Text(t)) = seq.next_element::<Text>()? {
                    tags.extend(t);
                }
                Ok(tags)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(keys)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
        }
        d.deserialize_any(TagsVisitor).map(Tags)
    }
}

/// An integer, a float (truncated) or a numeric string; anything else is `None`.
struct Int(Option<i64>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl<'de> Visitor<'de> for IntVisitor {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).ok())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(v.is_finite().then_some(v.trunc() as i64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(v.trim().parse().ok())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                TextVisitor.visit_seq(seq).map(|_| None)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                TextVisitor.visit_map(map).map(|_| None)
            }
        }
        d.deserialize_any(IntVisitor).map(Int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_fields_robotoff_uses() {
        let line = json!({
            "code": "3456300016208", "product_type": "food", "lang": "fr",
            "product_name": "Biscuits", "quantity": 250, "brands": "Lu", "emb_codes": "FR 40.261.001 CE",
            "brands_tags": ["lu", null, 3], "countries_tags": null, "categories_tags": ["en:biscuits"],
            "languages_codes": {"fr": 6, "en": 2}, "unique_scans_n": "12", "schema_version": 1003.0,
            "images": {"uploaded": {"1": {"sizes": {"full": {"w": 10, "h": 20, "url": "u"}}, "uploaded_t": 1, "uploader": "a"}}},
            "packagings": [{"shape": "en:box"}], "nutriments": {"fat_100g": 3},
            "nutrition_data_per": "100g", "serving_size": "30 g",
            "ingredients_text": "farine", "ingredients_text_fr": "farine", "ingredients_text_with_allergens_fr": "x",
            "ingredients_text_debug": "x", "ecoscore_data": {"big": [1, 2, 3]}, "ingredients": [{"id": "en:flour"}]
        });
        let text = serde_json::to_vec(&line).expect("json");
        let p = parse_product(&text, None).expect("product");
        assert_eq!(p.code, "3456300016208");
        assert_eq!(p.server_type, ServerType::Off);
        assert_eq!(p.quantity.as_deref(), Some("250"));
        assert_eq!(p.emb_codes.as_deref(), Some("FR 40.261.001 CE"));
        assert_eq!(p.brands_tags, vec!["lu".to_string(), "3".to_string()]);
        assert!(p.countries_tags.is_empty());
        // In the order of the document (serde_json keeps object order in this crate).
        assert_eq!(p.languages_codes, vec!["fr".to_string(), "en".to_string()]);
        assert_eq!(p.unique_scans_n, 12);
        assert_eq!(p.schema_version, 1003);
        assert_eq!(p.image_size("1"), Some((10, 20)));
        assert_eq!(p.packagings.len(), 1);
        assert_eq!(p.serving_size.as_deref(), Some("30 g"));
        assert_eq!(
            p.ingredients_texts.keys().cloned().collect::<Vec<_>>(),
            vec![
                "ingredients_text".to_string(),
                "ingredients_text_fr".to_string()
            ]
        );
        let from_value = parse_product_value(line, None).expect("product");
        assert_eq!(from_value, p);
    }

    #[test]
    fn server_type_and_errors() {
        let cases: [(&str, Option<ServerType>, Result<ServerType, &str>); 9] = [
            (
                r#"{"code": "1", "product_type": "beauty"}"#,
                None,
                Ok(ServerType::Obf),
            ),
            (
                r#"{"code": "1", "product_type": "petfood"}"#,
                None,
                Ok(ServerType::Opff),
            ),
            (
                r#"{"code": "1", "product_type": "product"}"#,
                None,
                Ok(ServerType::Opf),
            ),
            (r#"{"code": 123}"#, None, Ok(ServerType::Off)),
            (
                r#"{"code": "1", "product_type": "beauty"}"#,
                Some(ServerType::Off),
                Ok(ServerType::Off),
            ),
            (
                r#"{"code": "1", "product_type": "cars"}"#,
                None,
                Err("unknown product_type"),
            ),
            (r#"{"product_name": "x"}"#, None, Err("missing code")),
            (r#"{"code": "1", "#, None, Err("invalid JSON")),
            (r#"[1, 2]"#, None, Err("not a product object")),
        ];
        for (text, forced, expected) in cases {
            let got = parse_product(text.as_bytes(), forced)
                .map(|p| p.server_type)
                .map_err(|e| e.reason());
            assert_eq!(got, expected, "{text}");
        }
    }
}
