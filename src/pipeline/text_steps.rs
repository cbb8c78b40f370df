//! The text-model steps of an image (spec pipeline §2.8): `extract_ingredients` (NER on
//! the OCR) and `extract_nutrition` (LayoutLMv3 on the OCR and the image). Computed
//! with the other model steps outside the product's shard, committed in it: the image
//! prediction, then the `ingredient_detection` / `nutrient_extraction` predictions
//! imported in the same transaction (Robotoff queues a job for that).

use super::context::{import_for_product, Context};
use super::ingredients::{self, LangSource};
use super::job::{JobError, Target};
use super::models::text::NER_MODEL_VERSION;
use super::models::ModelError;
use super::nutrition;
use crate::events::{FLAG_EXTRACT_INGREDIENTS, FLAG_EXTRACT_NUTRITION};
use crate::infra::db::vision;
use crate::infra::metrics;
use crate::insights::import::Importing;
use crate::ml::token_classification::AggregationStrategy;
use crate::ocr::OcrDocument;
use crate::taxonomy::TaxonomyType;
use crate::types::{Prediction, ServerType};
use serde_json::{json, Value};
use sqlx::PgConnection;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a step has to do given what is stored.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    /// Not asked for (or not on this flavor).
    Skip,
    /// Run the model.
    Run,
    /// Stored already: its data.
    Stored(Value),
}

/// The text steps of a model-step job.
#[derive(Debug, Clone)]
pub struct TextPlan {
    ingredients: Plan,
    nutrition: Plan,
}

/// What the text steps found, to be committed.
#[derive(Debug, Clone, Default)]
pub struct TextResults {
    /// `ner` data to store (new) or to import predictions from (stored).
    ingredients: Option<(bool, Value)>,
    /// `nutrition_extraction` data to store.
    nutrition: Option<Value>,
}

impl TextPlan {
    /// Reads which steps are asked and what is stored for the image.
    pub async fn read(
        conn: &mut PgConnection,
        image_id: i32,
        steps: &BTreeSet<&str>,
        server_type: ServerType,
    ) -> Result<TextPlan, JobError> {
        let food = server_type.is_food();
        let want_ing = food && steps.contains(FLAG_EXTRACT_INGREDIENTS);
        let want_nut = food && steps.contains(FLAG_EXTRACT_NUTRITION);
        if !want_ing && !want_nut {
            return Ok(TextPlan {
                ingredients: Plan::Skip,
                nutrition: Plan::Skip,
            });
        }
        let names = [
            ingredients::MODEL_NAME.to_string(),
            nutrition::MODEL_NAME.to_string(),
        ];
        let stored = vision::predictions_of_image(conn, image_id, &names).await?;
        let plan = |want: bool, name: &'static str| match (
            want,
            stored.iter().find(|s| s.model_name == name),
        ) {
            (false, _) => Plan::Skip,
            (true, Some(s)) => {
                metrics::ml_step(name, "existed");
                Plan::Stored(s.data.clone())
            }
            (true, None) => Plan::Run,
        };
        Ok(TextPlan {
            ingredients: plan(want_ing, ingredients::MODEL_NAME),
            // A stored nutrition extraction is not imported again (spec pipeline §2.8).
            nutrition: match plan(want_nut, nutrition::MODEL_NAME) {
                Plan::Stored(_) => Plan::Skip,
                p => p,
            },
        })
    }

    /// Whether the image itself is needed (the nutrition extractor reads it).
    pub fn needs_image(&self) -> bool {
        self.nutrition == Plan::Run
    }

    fn needs_ocr(&self) -> bool {
        self.nutrition == Plan::Run || self.ingredients == Plan::Run
    }
}

/// How a model error ends a text step: Triton away waits, a model not configured on
/// this node skips the step, anything else fails the job.
fn step_failure(step: &'static str, e: ModelError) -> Result<(), JobError> {
    match e {
        ModelError::NotConfigured { .. } => {
            tracing::info!(step, error = %e, "text step skipped");
            metrics::ml_step(step, "not_configured");
            Ok(())
        }
        e if e.is_unavailable() => Err(JobError::Unavailable(e.to_string())),
        e => Err(JobError::Failed(e.to_string())),
    }
}

/// Runs the text steps: the OCR fetched once, the models called, ingredient lists
/// parsed by Product Opener. `image`: the image as stored (for the nutrition step).
pub async fn compute(
    ctx: &Context,
    t: &Target<'_>,
    image_id: &str,
    plan: &TextPlan,
    image: Option<Arc<image::RgbImage>>,
) -> Result<TextResults, JobError> {
    let mut results = TextResults::default();
    if let Plan::Stored(data) = &plan.ingredients {
        results.ingredients = Some((false, data.clone()));
    }
    if !plan.needs_ocr() {
        return Ok(results);
    }
    let Some(doc) = super::ocr_fetch::ocr_document(ctx, t.server_type, t.barcode, image_id).await
    else {
        // Robotoff gives up on the image without its OCR.
        return Ok(results);
    };
    let doc = Arc::new(doc);
    if plan.ingredients == Plan::Run {
        match extract_ingredients(ctx, &doc).await {
            Ok(data) => {
                metrics::ml_step(ingredients::MODEL_NAME, "computed");
                results.ingredients = Some((true, data));
            }
            Err(e) => step_failure(ingredients::MODEL_NAME, e)?,
        }
    }
    if let (Plan::Run, Some(image)) = (&plan.nutrition, image) {
        let prepared = {
            let doc = doc.clone();
            tokio::task::spawn_blocking(move || nutrition::prepare(&doc, &image))
                .await
                .map_err(|e| JobError::Failed(format!("preparing the nutrition input: {e}")))?
        };
        let data = match prepared {
            None => Some(json!({"error": "missing_text"})),
            Some(input) => match nutrition::predict(&ctx.resources.models, &input).await {
                Ok(data) => Some(data),
                Err(e) => {
                    step_failure(nutrition::MODEL_NAME, e)?;
                    None
                }
            },
        };
        if data.is_some() {
            metrics::ml_step(nutrition::MODEL_NAME, "computed");
        }
        results.nutrition = data;
    }
    Ok(results)
}

/// The `ner` image prediction's data: the entities, each parsed by Product Opener when
/// its language is a two-letter code, boxes made relative to the image by the caller.
async fn extract_ingredients(ctx: &Context, doc: &OcrDocument) -> Result<Value, ModelError> {
    let grammar = ingredients::trace_grammar(&ctx.resources);
    let output = ingredients::predict(
        &ctx.resources.models,
        &grammar,
        doc,
        AggregationStrategy::First,
        NER_MODEL_VERSION,
        LangSource::of(ctx),
    )
    .await?;
    let taxonomy = Importing::from_settings(&ctx.settings)
        .await
        .ok()
        .and_then(|i| i.resources.taxonomy(TaxonomyType::Ingredient).ok());
    let mut entities = output.entities;
    for entity in &mut entities {
        let Value::Object(map) = entity else { continue };
        let (Some(lang), Some(text)) = (
            ingredients::entity_lang(map),
            map.get("text").and_then(Value::as_str).map(String::from),
        ) else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        match ctx.resources.po.parse_ingredients(&text, &lang).await {
            Ok(parsed) => match &taxonomy {
                Some(tax) => ingredients::add_parse(map, parsed, tax),
                None => tracing::warn!("no ingredient taxonomy: ingredients not counted"),
            },
            Err(e) => {
                tracing::info!(error = %e, lang, "Product Opener could not parse an ingredient list");
            }
        }
    }
    Ok(json!({ "entities": entities }))
}

/// Stores new text-step image predictions and imports their predictions in the job's
/// transaction.
pub async fn commit(
    ctx: &Context,
    t: &Target<'_>,
    image: &vision::ImageRow,
    results: &TextResults,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let mut predictions: Vec<Prediction> = Vec::new();
    if let Some((new, data)) = &results.ingredients {
        let mut data = data.clone();
        let mut import = true;
        if *new {
            for entity in data
                .get_mut("entities")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(b) = entity.get("bounding_box").cloned() {
                    if let Some(rel) = ingredients::relative_box(&b, image.width, image.height) {
                        entity["bounding_box"] = rel;
                    }
                }
            }
            let max_confidence = ingredients::IngredientOutput {
                entities: data["entities"].as_array().cloned().unwrap_or_default(),
                text: String::new(),
            }
            .max_confidence();
            import = max_confidence.is_some();
            if !store(
                conn,
                image.id,
                "ner",
                ingredients::MODEL_NAME,
                ingredients::MODEL_VERSION,
                &data,
                max_confidence,
            )
            .await?
            {
                import = false;
            }
        }
        if import {
            predictions.extend(ingredients::predictions_of(&data));
        }
    }
    if let Some(data) = &results.nutrition {
        let max_confidence = nutrition::max_confidence(data);
        if store(
            conn,
            image.id,
            "nutrition_extraction",
            nutrition::MODEL_NAME,
            nutrition::MODEL_VERSION,
            data,
            max_confidence,
        )
        .await?
        {
            predictions.extend(nutrition::prediction_of(data));
        }
    }
    for p in &mut predictions {
        p.source_image = Some(image.source_image.clone());
    }
    import_for_product(ctx, t, predictions, conn).await
}

/// Stores an image prediction unless one of the model was stored meanwhile; whether it
/// was stored.
async fn store(
    conn: &mut PgConnection,
    image_id: i32,
    kind: &str,
    model_name: &'static str,
    model_version: &str,
    data: &Value,
    max_confidence: Option<f32>,
) -> Result<bool, JobError> {
    let names = [model_name.to_string()];
    if !vision::predictions_of_image(conn, image_id, &names)
        .await?
        .is_empty()
    {
        metrics::ml_step(model_name, "existed");
        return Ok(false);
    }
    vision::insert_prediction(
        conn,
        &vision::NewImagePrediction {
            kind,
            model_name,
            model_version,
            data,
            image_id,
            max_confidence,
        },
    )
    .await?;
    metrics::ml_step(model_name, "stored");
    Ok(true)
}
