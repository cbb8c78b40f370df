//! The product store: Product Opener fields that importers and annotators read.

use crate::types::{Product, ServerType};
use sqlx::{PgConnection, PgExecutor};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Fields kept in the `extra` JSON column.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Extra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    emb_codes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nutrition: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nutrition_data_per: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nutrition_data_prepared: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serving_size: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    ingredients_texts: BTreeMap<String, String>,
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

/// Inserts or replaces products (one statement for the whole batch). Returns rows written.
pub async fn upsert_many<'e>(
    db: impl PgExecutor<'e>,
    products: &[Product],
) -> Result<u64, sqlx::Error> {
    if products.is_empty() {
        return Ok(0);
    }
    let docs: Vec<serde_json::Value> = products.iter().map(to_doc).collect();
    let result = sqlx::query!(
        r#"INSERT INTO product (code, server_type, product_type, lang, product_name, quantity, expiration_date,
                                brands, brands_tags, countries_tags, categories_tags, labels_tags, stores_tags,
                                emb_codes_tags, languages_codes, unique_scans_n, schema_version, images,
                                packagings, nutriments, extra, updated_at)
           SELECT d->>'code', d->>'server_type', d->>'product_type', d->>'lang', d->>'product_name',
                  d->>'quantity', d->>'expiration_date', d->>'brands',
                  ARRAY(SELECT jsonb_array_elements_text(d->'brands_tags')),
                  ARRAY(SELECT jsonb_array_elements_text(d->'countries_tags')),
                  ARRAY(SELECT jsonb_array_elements_text(d->'categories_tags')),
                  ARRAY(SELECT jsonb_array_elements_text(d->'labels_tags')),
                  ARRAY(SELECT jsonb_array_elements_text(d->'stores_tags')),
                  ARRAY(SELECT jsonb_array_elements_text(d->'emb_codes_tags')),
                  ARRAY(SELECT jsonb_array_elements_text(d->'languages_codes')),
                  (d->>'unique_scans_n')::int, (d->>'schema_version')::int,
                  d->'images', d->'packagings', d->'nutriments', d->'extra', now()
           FROM unnest($1::jsonb[]) AS t(d)
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
        &docs,
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

fn to_doc(p: &Product) -> serde_json::Value {
    let extra = Extra {
        emb_codes: p.emb_codes.clone(),
        nutrition: p.nutrition.clone(),
        nutrition_data_per: p.nutrition_data_per.clone(),
        nutrition_data_prepared: p.nutrition_data_prepared.clone(),
        serving_size: p.serving_size.clone(),
        ingredients_texts: p.ingredients_texts.clone(),
    };
    serde_json::json!({
        "code": p.code,
        "server_type": p.server_type.name(),
        "product_type": p.product_type,
        "lang": p.lang,
        "product_name": p.product_name,
        "quantity": p.quantity,
        "expiration_date": p.expiration_date,
        "brands": p.brands,
        "brands_tags": p.brands_tags,
        "countries_tags": p.countries_tags,
        "categories_tags": p.categories_tags,
        "labels_tags": p.labels_tags,
        "stores_tags": p.stores_tags,
        "emb_codes_tags": p.emb_codes_tags,
        "languages_codes": p.languages_codes,
        "unique_scans_n": p.unique_scans_n,
        "schema_version": p.schema_version,
        "images": p.images,
        "packagings": p.packagings,
        "nutriments": p.nutriments,
        "extra": serde_json::to_value(&extra).unwrap_or_else(|_| serde_json::json!({})),
    })
}
