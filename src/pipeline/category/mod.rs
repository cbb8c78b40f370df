//! The neural category classifier (`category-classifier-keras-image-embeddings-3.0`,
//! spec pipeline §2.12, §7.2): its 14 inputs (product name, ingredient tags, ingredient
//! tags found in the OCR of every raw image, nine nutrients, CLIP embeddings of the ten
//! latest raw images), its scores above the threshold as `category` predictions with
//! the scores of their taxonomy neighbours.

use super::context::Context;
use super::models::ModelError;
use crate::infra::db::vision;
use crate::infra::metrics;
use crate::infra::triton::Tensor;
use crate::insights::image::barcode_folder;
use crate::ocr::OcrDocument;
use crate::taxonomy::{Taxonomy, TaxonomyType};
use crate::text::{fold, KeywordProcessor};
use crate::types::{Prediction, PredictionType, Product, ServerType};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// `prediction.predictor_version` and the debug `model_name`.
pub const PREDICTOR_VERSION: &str = "keras-image-embeddings-3.0";
/// Default score threshold.
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// Categories never predicted.
const EXCLUDED: [&str; 1] = ["en:meats-and-their-products"];
/// Images whose embeddings the model sees, and the embedding length.
const MAX_IMAGES: usize = 10;
const EMBEDDING_DIM: usize = 512;
/// The nutrient inputs in request order, and their Product Opener names.
pub const NUTRIENTS: [(&str, &str); 9] = [
    ("fat", "fat"),
    ("saturated_fat", "saturated-fat"),
    ("carbohydrates", "carbohydrates"),
    ("sugars", "sugars"),
    ("fiber", "fiber"),
    ("proteins", "proteins"),
    ("salt", "salt"),
    ("energy_kcal", "energy-kcal"),
    ("fruits_vegetables_nuts", "fruits-vegetables-nuts"),
];

/// The classifier's inputs.
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    pub product_name: Option<String>,
    pub ingredients_tags: Vec<String>,
    pub ingredients_ocr_tags: Vec<String>,
    /// -1: missing, -2: out of range.
    pub nutrients: [f64; 9],
    /// At most 10 embeddings of 512 values.
    pub embeddings: Vec<Vec<f32>>,
}

fn or_blank(v: &[String]) -> Vec<Vec<u8>> {
    if v.is_empty() {
        vec![Vec::new()]
    } else {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }
}

impl CategoryInput {
    /// The 14 tensors in Robotoff's order; empty tag lists are sent as `[""]`, missing
    /// images as one zero embedding counted in the mask.
    pub fn tensors(&self) -> Vec<Tensor> {
        let name = self.product_name.clone().unwrap_or_else(|| "None".into());
        let ing = or_blank(&self.ingredients_tags);
        let ocr = or_blank(&self.ingredients_ocr_tags);
        let mut out = vec![
            Tensor::bytes("product_name", &[1, 1], vec![name.into_bytes()]),
            Tensor::bytes("ingredients_tags", &[1, ing.len() as i64], ing),
        ];
        for ((input, _), v) in NUTRIENTS.iter().zip(self.nutrients) {
            out.push(Tensor::f32(input, &[1, 1], vec![v as f32]));
        }
        out.push(Tensor::bytes(
            "ingredients_ocr_tags",
            &[1, ocr.len() as i64],
            ocr,
        ));
        let mut emb = vec![0f32; MAX_IMAGES * EMBEDDING_DIM];
        for (i, e) in self.embeddings.iter().take(MAX_IMAGES).enumerate() {
            for (j, v) in e.iter().take(EMBEDDING_DIM).enumerate() {
                if let Some(slot) = emb.get_mut(i * EMBEDDING_DIM + j) {
                    *slot = *v;
                }
            }
        }
        let valid = self.embeddings.len().clamp(1, MAX_IMAGES);
        let mask: Vec<f32> = (0..MAX_IMAGES)
            .map(|i| if i < valid { 1.0 } else { 0.0 })
            .collect();
        out.push(Tensor::f32(
            "image_embeddings",
            &[1, MAX_IMAGES as i64, EMBEDDING_DIM as i64],
            emb,
        ));
        out.push(Tensor::f32(
            "image_embeddings_mask",
            &[1, MAX_IMAGES as i64],
            mask,
        ));
        out
    }

    /// The `debug` object of the API.
    pub fn debug(&self, threshold: f64) -> Value {
        let mut inputs = Map::new();
        inputs.insert("product_name".into(), json!(self.product_name));
        inputs.insert(
            "ingredients_tags".into(),
            json!(or_blank(&self.ingredients_tags)
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()),
        );
        inputs.insert(
            "ingredients_ocr_tags".into(),
            json!(or_blank(&self.ingredients_ocr_tags)
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()),
        );
        for ((input, _), v) in NUTRIENTS.iter().zip(self.nutrients) {
            let value = if v == -1.0 || v == -2.0 {
                json!(v as i64)
            } else {
                json!(v)
            };
            inputs.insert((*input).into(), value);
        }
        inputs.insert(
            "num_images".into(),
            json!(self.embeddings.len().min(MAX_IMAGES)),
        );
        json!({"model_name": PREDICTOR_VERSION, "threshold": threshold, "inputs": inputs})
    }
}

/// An ingredient id as the classifier's tags spell it: folded to ASCII (unmapped
/// characters dropped), lower case, spaces, `'`, `.` and ` & ` as `-`, `!`/`?` removed,
/// no `-` at either end.
pub fn ingredient_tag(id: &str) -> String {
    let s = fold(id).to_lowercase();
    let s = s
        .replace(" & ", "-")
        .replace([' ', '\'', '.'], "-")
        .replace(['!', '?'], "");
    s.trim_matches('-').to_string()
}

/// The nutrient inputs from Product Opener's aggregated nutrition set (schema 1003+):
/// -1 when missing, -2 when out of range (energy ≥ 3800 kcal, others ≥ 101 g).
pub fn nutrient_inputs(product: &Product) -> [f64; 9] {
    let mut out = [-1.0; 9];
    if product.schema_version <= 1002 {
        return out;
    }
    let Some(set) = product
        .nutrition
        .as_ref()
        .and_then(|n| n.get("aggregated_set"))
        .and_then(|s| s.get("nutrients"))
    else {
        return out;
    };
    for ((_, key), slot) in NUTRIENTS.iter().zip(out.iter_mut()) {
        let Some(v) = set
            .get(*key)
            .and_then(|n| n.get("value"))
            .and_then(Value::as_f64)
        else {
            continue;
        };
        let limit = if *key == "energy-kcal" { 3800.0 } else { 101.0 };
        *slot = if v < 0.0 || v >= limit { -2.0 } else { v };
    }
    out
}

/// Ingredient names of the taxonomy (all languages) found in OCR texts.
pub struct OcrIngredients {
    processor: KeywordProcessor<u32>,
    ids: Vec<String>,
}

impl OcrIngredients {
    /// Names and synonyms of every ingredient, folded to lower-case ASCII, longer than
    /// one character.
    pub fn new(taxonomy: &Taxonomy) -> OcrIngredients {
        let mut processor = KeywordProcessor::new(false);
        let mut ids = Vec::new();
        let mut by_name: BTreeMap<String, u32> = BTreeMap::new();
        for node in taxonomy.iter() {
            let node = node.node();
            let idx = ids.len() as u32;
            ids.push(node.id.clone());
            let names = node.names.values().chain(node.synonyms.values().flatten());
            for name in names {
                let n = fold(&name.to_lowercase());
                if n.chars().count() <= 1 {
                    continue;
                }
                by_name.entry(n).or_insert(idx);
            }
        }
        for (name, idx) in by_name {
            processor.add_keyword(&name, idx);
        }
        OcrIngredients { processor, ids }
    }

    /// The ingredient ids found in the texts, first occurrence first; texts are joined
    /// with `|` so that no name spans two images.
    pub fn tags(&self, texts: &[String]) -> Vec<String> {
        let joined: Vec<String> = texts
            .iter()
            .map(|t| crate::text::collapse_spaces(&t.replace('\n', " ")))
            .collect();
        let text = fold(&joined.join("|").to_lowercase());
        let mut out: Vec<String> = Vec::new();
        for m in self.processor.extract_keywords(&text) {
            if let Some(id) = self.ids.get(*m.value as usize) {
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
        }
        out
    }
}

/// The OCR ingredient matcher of a taxonomy, built once per loaded taxonomy.
pub fn ocr_ingredients(taxonomy: &Arc<Taxonomy>) -> Arc<OcrIngredients> {
    static CACHE: OnceLock<(usize, Arc<OcrIngredients>)> = OnceLock::new();
    let key = Arc::as_ptr(taxonomy) as usize;
    let (k, v) = CACHE.get_or_init(|| (key, Arc::new(OcrIngredients::new(taxonomy))));
    if *k == key {
        v.clone()
    } else {
        Arc::new(OcrIngredients::new(taxonomy))
    }
}

/// A predicted category with its score and neighbours' scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    pub category: String,
    pub confidence: f64,
    pub neighbors: Value,
}

/// Scores at or above `threshold`, best first (ties by label order), excluded and
/// unknown categories left out; each with its parents', children's and siblings' raw
/// scores (`null` for a category the model does not know).
pub fn postprocess(
    scores: &[f32],
    labels: &[String],
    threshold: f64,
    taxonomy: &Taxonomy,
) -> Vec<Predicted> {
    let index: BTreeMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let score_of = |id: &str| -> Value {
        index
            .get(id)
            .and_then(|i| scores.get(*i))
            .map(|s| json!(f64::from(*s)))
            .unwrap_or(Value::Null)
    };
    let mut order: Vec<usize> = (0..scores.len().min(labels.len())).collect();
    order.sort_by(|a, b| {
        let (sa, sb) = (
            scores.get(*a).copied().unwrap_or(0.0),
            scores.get(*b).copied().unwrap_or(0.0),
        );
        sb.total_cmp(&sa).then(a.cmp(b))
    });
    let mut out = Vec::new();
    for i in order {
        let (Some(cat), Some(score)) = (labels.get(i), scores.get(i)) else {
            continue;
        };
        if EXCLUDED.contains(&cat.as_str()) {
            continue;
        }
        let confidence = f64::from(*score);
        if confidence < threshold {
            break;
        }
        let Some(node) = taxonomy.get(cat) else {
            continue;
        };
        let (mut parents, mut children, mut siblings) = (Map::new(), Map::new(), Map::new());
        for p in node.parents() {
            parents.insert(p.id().to_string(), score_of(p.id()));
            for s in p.children() {
                if s.id() != node.id() && !siblings.contains_key(s.id()) {
                    siblings.insert(s.id().to_string(), score_of(s.id()));
                }
            }
        }
        for c in node.children() {
            children.insert(c.id().to_string(), score_of(c.id()));
        }
        out.push(Predicted {
            category: cat.clone(),
            confidence,
            neighbors: json!({"parents": parents, "children": children, "siblings": siblings}),
        });
    }
    out
}

/// Keeps only categories no other kept category descends from.
pub fn deepest_only(predicted: Vec<Predicted>, taxonomy: &Taxonomy) -> Vec<Predicted> {
    let ids: Vec<String> = predicted.iter().map(|p| p.category.clone()).collect();
    predicted
        .into_iter()
        .filter(|p| {
            !ids.iter()
                .any(|other| other != &p.category && taxonomy.is_parent_of(&p.category, other))
        })
        .collect()
}

/// The `category` predictions of the classifier.
pub fn predictions(predicted: &[Predicted]) -> Vec<Prediction> {
    predicted
        .iter()
        .map(|p| {
            let mut pred = Prediction::new(PredictionType::Category);
            pred.value_tag = Some(p.category.clone());
            pred.automatic_processing = Some(false);
            pred.predictor = Some("neural".into());
            pred.predictor_version = Some(PREDICTOR_VERSION.into());
            pred.confidence = Some(p.confidence);
            pred.data = json!({"neighbor_predictions": p.neighbors});
            pred
        })
        .collect()
}

/// The raw image ids of a product, latest (largest) first.
pub fn raw_image_ids(product: &Product) -> Vec<i64> {
    let mut ids: Vec<i64> = product
        .images
        .keys()
        .filter(|k| crate::types::is_digit_id(k))
        .filter_map(|k| k.parse().ok())
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

/// A full image as CLIP sees it: shortest side to 224 (bicubic), centre crop.
fn clip_square(img: &image::RgbImage) -> image::RgbImage {
    let (w, h) = (img.width().max(1), img.height().max(1));
    let scale = 224.0 / f64::from(w.min(h));
    let nw = ((f64::from(w) * scale).round() as u32).max(224);
    let nh = ((f64::from(h) * scale).round() as u32).max(224);
    let resized = image::imageops::resize(img, nw, nh, image::imageops::FilterType::CatmullRom);
    image::imageops::crop_imm(&resized, (nw - 224) / 2, (nh - 224) / 2, 224, 224).to_image()
}

/// What the classifier said about a product.
#[derive(Debug, Clone, Default)]
pub struct CategoryRun {
    pub predicted: Vec<Predicted>,
    pub debug: Value,
    /// Embeddings computed now, by image row id, to cache.
    pub new_embeddings: Vec<(i32, Vec<f32>)>,
}

/// Assembles the inputs of a stored product (OCR of every raw image, cached or new
/// image embeddings) and runs the classifier.
pub async fn run_for_product(
    ctx: &Context,
    product: &Product,
    threshold: f64,
) -> Result<CategoryRun, ModelError> {
    let st = product.server_type;
    let ids = raw_image_ids(product);
    let taxonomies = crate::insights::import::Importing::from_settings(&ctx.settings)
        .await
        .map_err(|e| ModelError::Input {
            model: "category".into(),
            detail: e.to_string(),
        })?;
    let ing_tax = taxonomies
        .resources
        .taxonomy(TaxonomyType::Ingredient)
        .map_err(|e| ModelError::Input {
            model: "category".into(),
            detail: e.to_string(),
        })?;
    let texts = ocr_texts(ctx, st, &product.code, &ids).await;
    let (embeddings, new_embeddings) = embeddings(ctx, product, &ids).await?;
    let ocr_tags = {
        let tax = ing_tax.clone();
        tokio::task::spawn_blocking(move || ocr_ingredients(&tax).tags(&texts))
            .await
            .unwrap_or_default()
    };
    let input = CategoryInput {
        product_name: product.product_name.clone(),
        ingredients_tags: product
            .ingredient_ids
            .iter()
            .map(|i| ingredient_tag(i))
            .filter(|t| ing_tax.contains(t))
            .collect(),
        ingredients_ocr_tags: ocr_tags,
        nutrients: nutrient_inputs(product),
        embeddings,
    };
    let mut run = run_input(ctx, &input, threshold).await?;
    run.new_embeddings = new_embeddings;
    Ok(run)
}

/// Runs the classifier on assembled inputs.
pub async fn run_input(
    ctx: &Context,
    input: &CategoryInput,
    threshold: f64,
) -> Result<CategoryRun, ModelError> {
    let (scores, labels) = ctx
        .resources
        .models
        .category_scores(input.tensors())
        .await?;
    let taxonomy = crate::insights::import::Importing::from_settings(&ctx.settings)
        .await
        .ok()
        .and_then(|i| i.resources.taxonomy(TaxonomyType::Category).ok());
    let predicted = match taxonomy {
        Some(t) => postprocess(&scores, &labels, threshold, &t),
        None => Vec::new(),
    };
    metrics::ml_step("category", "computed");
    Ok(CategoryRun {
        predicted,
        debug: input.debug(threshold),
        new_embeddings: Vec::new(),
    })
}

/// The contiguous OCR text of each raw image that has a usable OCR.
async fn ocr_texts(ctx: &Context, st: ServerType, barcode: &str, ids: &[i64]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(folder) = barcode_folder(barcode) else {
        return out;
    };
    let base = ctx.settings.product_opener.flavor(st).images_url.clone();
    for id in ids {
        let url = format!(
            "{}/images/products{folder}/{id}.json",
            base.trim_end_matches('/')
        );
        let Ok(bytes) = ctx.resources.image_hosts.get(&url).await else {
            continue;
        };
        let parsed = tokio::task::spawn_blocking(move || OcrDocument::from_bytes(&bytes)).await;
        if let Ok(Ok(doc)) = parsed {
            out.push(doc.full_text.map(|f| f.contiguous_text).unwrap_or_default());
        }
    }
    out
}

/// Embeddings of the ten latest raw images: cached ones, the others computed with CLIP
/// from the `.400` images (returned to be cached when the image has a row).
async fn embeddings(
    ctx: &Context,
    product: &Product,
    ids: &[i64],
) -> Result<(Vec<Vec<f32>>, Vec<(i32, Vec<f32>)>), ModelError> {
    let latest: Vec<i64> = ids.iter().take(MAX_IMAGES).copied().collect();
    if latest.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let db = |e: sqlx::Error| ModelError::Input {
        model: "category".into(),
        detail: format!("reading image embeddings: {e}"),
    };
    let mut conn = ctx.pool.acquire().await.map_err(db)?;
    let rows = vision::image_embeddings(
        &mut conn,
        &product.code,
        product.server_type.name(),
        &latest,
    )
    .await
    .map_err(db)?;
    drop(conn);
    let mut by_id: BTreeMap<i64, Vec<f32>> = BTreeMap::new();
    let mut row_of: BTreeMap<i64, i32> = BTreeMap::new();
    for r in rows {
        row_of.insert(r.image_id, r.row_id);
        if let Some(e) = r.embedding {
            by_id.insert(r.image_id, e);
        }
    }
    let missing: Vec<i64> = latest
        .iter()
        .filter(|i| !by_id.contains_key(i))
        .copied()
        .collect();
    let mut new = Vec::new();
    if let (false, Some(folder)) = (missing.is_empty(), barcode_folder(&product.code)) {
        let base = ctx
            .settings
            .product_opener
            .flavor(product.server_type)
            .images_url
            .clone();
        let max_pixels = ctx.settings.http.max_image_pixels;
        let mut crops = Vec::new();
        let mut keys = Vec::new();
        for id in &missing {
            let url = format!(
                "{}/images/products{folder}/{id}.400.jpg",
                base.trim_end_matches('/')
            );
            let Ok(bytes) = ctx.resources.image_hosts.get(&url).await else {
                continue;
            };
            let prepared = tokio::task::spawn_blocking(move || {
                let img = crate::imaging::decode(&bytes, max_pixels).ok()?.to_rgb8();
                let mut batch = crate::ml::clip::ClipBatch::with_capacity(1);
                batch.push_image(&clip_square(&img)).ok()?;
                Some(bytes::Bytes::from(batch.pixel_values_bytes()))
            })
            .await
            .ok()
            .flatten();
            if let Some(p) = prepared {
                crops.push(p);
                keys.push(*id);
            }
        }
        if !crops.is_empty() {
            let vectors = ctx.resources.models.embed(crops).await?;
            for (id, v) in keys.into_iter().zip(vectors) {
                if let Some(row) = row_of.get(&id) {
                    new.push((*row, v.clone()));
                }
                by_id.insert(id, v);
            }
        }
    }
    let ordered = latest
        .iter()
        .filter_map(|i| by_id.get(i).cloned())
        .collect();
    Ok((ordered, new))
}

#[cfg(test)]
mod tests;
