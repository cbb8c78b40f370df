//! The product store: Product Opener fields that importers and annotators read.

use crate::types::{Product, ServerType};
use sqlx::{PgConnection, PgExecutor};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Fields kept in the `extra` JSON column.
#[derive(Debug, Default, serde::Deserialize)]
struct Extra {
    #[serde(default)]
    emb_codes: Option<String>,
    #[serde(default)]
    nutrition: Option<serde_json::Value>,
    #[serde(default)]
    nutrition_data_per: Option<String>,
    #[serde(default)]
    nutrition_data_prepared: Option<String>,
    #[serde(default)]
    serving_size: Option<String>,
    #[serde(default)]
    ingredients_texts: BTreeMap<String, String>,
    #[serde(default)]
    ingredient_ids: Vec<String>,
}

struct Row {
    code: String,
    server_type: String,
    product_type: Option<String>,
    lang: Option<String>,
    product_name: Option<String>,
    quantity: Option<String>,
    expiration_date: Option<String>,
    brands: Option<String>,
    brands_tags: Vec<String>,
    countries_tags: Vec<String>,
    categories_tags: Vec<String>,
    labels_tags: Vec<String>,
    stores_tags: Vec<String>,
    emb_codes_tags: Vec<String>,
    languages_codes: Vec<String>,
    unique_scans_n: i32,
    schema_version: Option<i32>,
    images: serde_json::Value,
    packagings: serde_json::Value,
    nutriments: serde_json::Value,
    extra: serde_json::Value,
}

impl Row {
    fn into_product(self) -> Option<Product> {
        let server_type = ServerType::from_str(&self.server_type).ok()?;
        let extra: Extra = serde_json::from_value(self.extra).unwrap_or_default();
        let mut p = Product::new(self.code, server_type);
        p.product_type = self.product_type;
        p.lang = self.lang;
        p.product_name = self.product_name;
        p.quantity = self.quantity;
        p.expiration_date = self.expiration_date;
        p.brands = self.brands;
        p.brands_tags = self.brands_tags;
        p.countries_tags = self.countries_tags;
        p.categories_tags = self.categories_tags;
        p.labels_tags = self.labels_tags;
        p.stores_tags = self.stores_tags;
        p.emb_codes_tags = self.emb_codes_tags;
        p.languages_codes = self.languages_codes;
        p.unique_scans_n = self.unique_scans_n;
        p.schema_version = self
            .schema_version
            .unwrap_or(crate::types::DEFAULT_SCHEMA_VERSION);
        p.images = match self.images {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        p.packagings = match self.packagings {
            serde_json::Value::Array(a) => a,
            _ => Vec::new(),
        };
        p.nutriments = match self.nutriments {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        p.emb_codes = extra.emb_codes;
        p.nutrition = extra.nutrition;
        p.nutrition_data_per = extra.nutrition_data_per;
        p.nutrition_data_prepared = extra.nutrition_data_prepared;
        p.serving_size = extra.serving_size;
        p.ingredients_texts = extra.ingredients_texts;
        p.ingredient_ids = extra.ingredient_ids;
        Some(p)
    }
}

/// The stored product, or `None` (Robotoff's "missing product").
pub async fn get(
    conn: &mut PgConnection,
    code: &str,
    server_type: ServerType,
) -> Result<Option<Product>, sqlx::Error> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT code, server_type, product_type, lang, product_name, quantity, expiration_date, brands,
                  brands_tags, countries_tags, categories_tags, labels_tags, stores_tags, emb_codes_tags,
                  languages_codes, unique_scans_n, schema_version, images, packagings, nutriments, extra
           FROM product WHERE code = $1 AND server_type = $2"#,
        code,
        server_type.name(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(Row::into_product))
}

/// Separator of the tags of one product sent as one text (tags never contain it).
const TAG_SEPARATOR: char = '\u{1f}';

/// Products encoded for [`upsert_encoded`]: one batch as columns (the shape `unnest`
/// reads fastest), JSON already serialised. Encoding holds no reference to the
/// products, so large imports can encode on worker threads and free the products early.
#[derive(Debug, Default)]
pub struct EncodedProducts {
    code: Vec<String>,
    server_type: Vec<String>,
    product_type: Vec<Option<String>>,
    lang: Vec<Option<String>>,
    product_name: Vec<Option<String>>,
    quantity: Vec<Option<String>>,
    expiration_date: Vec<Option<String>>,
    brands: Vec<Option<String>>,
    tags: [Vec<String>; 7],
    unique_scans_n: Vec<i32>,
    schema_version: Vec<i32>,
    images: Vec<String>,
    packagings: Vec<String>,
    nutriments: Vec<String>,
    extra: Vec<String>,
}

fn joined(tags: &[String]) -> String {
    let mut out = String::with_capacity(tags.iter().map(|t| t.len() + 1).sum());
    for (i, t) in tags.iter().enumerate() {
        if i > 0 {
            out.push(TAG_SEPARATOR);
        }
        out.extend(t.chars().filter(|c| *c != TAG_SEPARATOR));
    }
    out
}

fn json_text<T: serde::Serialize>(value: &T, empty: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| empty.to_string())
}

impl EncodedProducts {
    /// Encodes a batch, which must not hold the same product twice.
    pub fn new(products: &[Product]) -> Self {
        let mut c = EncodedProducts::default();
        for p in products {
            c.code.push(p.code.clone());
            c.server_type.push(p.server_type.name().to_string());
            c.product_type.push(p.product_type.clone());
            c.lang.push(p.lang.clone());
            c.product_name.push(p.product_name.clone());
            c.quantity.push(p.quantity.clone());
            c.expiration_date.push(p.expiration_date.clone());
            c.brands.push(p.brands.clone());
            let tags = [
                &p.brands_tags,
                &p.countries_tags,
                &p.categories_tags,
                &p.labels_tags,
                &p.stores_tags,
                &p.emb_codes_tags,
                &p.languages_codes,
            ];
            for (column, values) in c.tags.iter_mut().zip(tags) {
                column.push(joined(values));
            }
            c.unique_scans_n.push(p.unique_scans_n);
            c.schema_version.push(p.schema_version);
            c.images.push(json_text(&p.images, "{}"));
            c.packagings.push(json_text(&p.packagings, "[]"));
            c.nutriments.push(json_text(&p.nutriments, "{}"));
            c.extra.push(json_text(&ExtraRef::of(p), "{}"));
        }
        c
    }

    pub fn len(&self) -> usize {
        self.code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }
}

/// Inserts or replaces products (one statement for the whole batch, which must not
/// hold the same product twice). Returns rows written.
pub async fn upsert_many<'e>(
    db: impl PgExecutor<'e>,
    products: &[Product],
) -> Result<u64, sqlx::Error> {
    upsert_encoded(db, &EncodedProducts::new(products)).await
}

/// Inserts or replaces an encoded batch. Returns rows written.
pub async fn upsert_encoded<'e>(
    db: impl PgExecutor<'e>,
    c: &EncodedProducts,
) -> Result<u64, sqlx::Error> {
    if c.is_empty() {
        return Ok(0);
    }
    let [brands_tags, countries_tags, categories_tags, labels_tags, stores_tags, emb_codes_tags, languages_codes] =
        &c.tags;
    let result = sqlx::query!(
        r#"INSERT INTO product (code, server_type, product_type, lang, product_name, quantity, expiration_date,
                                brands, brands_tags, countries_tags, categories_tags, labels_tags, stores_tags,
                                emb_codes_tags, languages_codes, unique_scans_n, schema_version, images,
                                packagings, nutriments, extra, updated_at)
           SELECT t.code, t.server_type, t.product_type, t.lang, t.product_name, t.quantity, t.expiration_date,
                  t.brands,
                  string_to_array(t.brands_tags, E'\x1f'), string_to_array(t.countries_tags, E'\x1f'),
                  string_to_array(t.categories_tags, E'\x1f'), string_to_array(t.labels_tags, E'\x1f'),
                  string_to_array(t.stores_tags, E'\x1f'), string_to_array(t.emb_codes_tags, E'\x1f'),
                  string_to_array(t.languages_codes, E'\x1f'),
                  t.unique_scans_n, t.schema_version,
                  t.images::jsonb, t.packagings::jsonb, t.nutriments::jsonb, t.extra::jsonb, now()
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                       $15::text[], $16::int4[], $17::int4[], $18::text[], $19::text[], $20::text[], $21::text[])
                AS t(code, server_type, product_type, lang, product_name, quantity, expiration_date, brands,
                     brands_tags, countries_tags, categories_tags, labels_tags, stores_tags, emb_codes_tags,
                     languages_codes, unique_scans_n, schema_version, images, packagings, nutriments, extra)
           ON CONFLICT (code, server_type) DO UPDATE SET
               product_type = EXCLUDED.product_type, lang = EXCLUDED.lang,
               product_name = EXCLUDED.product_name, quantity = EXCLUDED.quantity,
               expiration_date = EXCLUDED.expiration_date, brands = EXCLUDED.brands,
               brands_tags = EXCLUDED.brands_tags, countries_tags = EXCLUDED.countries_tags,
               categories_tags = EXCLUDED.categories_tags, labels_tags = EXCLUDED.labels_tags,
               stores_tags = EXCLUDED.stores_tags, emb_codes_tags = EXCLUDED.emb_codes_tags,
               languages_codes = EXCLUDED.languages_codes, unique_scans_n = EXCLUDED.unique_scans_n,
               schema_version = EXCLUDED.schema_version, images = EXCLUDED.images,
               packagings = EXCLUDED.packagings, nutriments = EXCLUDED.nutriments,
               extra = EXCLUDED.extra, updated_at = now()"#,
        &c.code,
        &c.server_type,
        &c.product_type as &[Option<String>],
        &c.lang as &[Option<String>],
        &c.product_name as &[Option<String>],
        &c.quantity as &[Option<String>],
        &c.expiration_date as &[Option<String>],
        &c.brands as &[Option<String>],
        brands_tags,
        countries_tags,
        categories_tags,
        labels_tags,
        stores_tags,
        emb_codes_tags,
        languages_codes,
        &c.unique_scans_n,
        &c.schema_version,
        &c.images,
        &c.packagings,
        &c.nutriments,
        &c.extra,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

/// Removes a product from the store. Returns whether it was there.
pub async fn delete<'e>(
    db: impl PgExecutor<'e>,
    code: &str,
    server_type: ServerType,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM product WHERE code = $1 AND server_type = $2",
        code,
        server_type.name()
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// [`Extra`] borrowed from a product, for writing.
#[derive(serde::Serialize)]
struct ExtraRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    emb_codes: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nutrition: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nutrition_data_per: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nutrition_data_prepared: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serving_size: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    ingredients_texts: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    ingredient_ids: &'a [String],
}

impl<'a> ExtraRef<'a> {
    fn of(p: &'a Product) -> Self {
        ExtraRef {
            emb_codes: p.emb_codes.as_deref(),
            nutrition: p.nutrition.as_ref(),
            nutrition_data_per: p.nutrition_data_per.as_deref(),
            nutrition_data_prepared: p.nutrition_data_prepared.as_deref(),
            serving_size: p.serving_size.as_deref(),
            ingredients_texts: &p.ingredients_texts,
            ingredient_ids: &p.ingredient_ids,
        }
    }
}
