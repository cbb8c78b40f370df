//! The model steps of an image (spec pipeline §2.7, §2.11, §6.3, §7): object detection
//! (logos, nutrition tables, Nutri-Score), CLIP embeddings of the logos and the image's
//! perceptual hash. A step job is computed outside the product's shard (reads, one fetch
//! and one decode of the image, the model calls), then committed in the shard with the
//! job's completion: the image predictions, logos, embeddings and fingerprint, the
//! Nutri-Score label prediction, and the jobs that follow.
//!
//! A model runs at most once per image: a model whose `image_prediction` exists is not
//! called again, and the commit checks again before writing (spec pipeline §2.7).

use super::context::Context;
use super::job::{Effects, JobError, Target};
use super::models::ModelError;
use super::text_steps::{self, TextPlan, TextResults};
use crate::events::{
    FLAG_ADD_IMAGE_FINGERPRINT, FLAG_EXTRACT_INGREDIENTS, FLAG_EXTRACT_NUTRITION,
    FLAG_RUN_LOGO_OBJECT_DETECTION, FLAG_RUN_NUTRISCORE_OBJECT_DETECTION,
    FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION,
};
use crate::infra::db::{jobs, vision};
use crate::infra::metrics;
use crate::insights::image::image_path;
use crate::jobs::{JobKind, NewJob, Priority};
use crate::ml::models::ObjectDetectionModel;
use crate::ml::yolo::DetectedObject;
use crate::types::{Prediction, PredictionType, ServerType};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// The steps a model job may ask for.
pub const MODEL_STEPS: [&str; 6] = [
    FLAG_RUN_LOGO_OBJECT_DETECTION,
    FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION,
    FLAG_RUN_NUTRISCORE_OBJECT_DETECTION,
    FLAG_ADD_IMAGE_FINGERPRINT,
    FLAG_EXTRACT_INGREDIENTS,
    FLAG_EXTRACT_NUTRITION,
];

/// Nutri-Score detections must score at least this to count (spec pipeline §2.7).
const NUTRISCORE_MIN_SCORE: f32 = 0.5;

/// The job running `steps` (model-step flags) on image `image_id` of a product.
pub fn job(barcode: &str, server_type: ServerType, image_id: &str, steps: &[&str]) -> NewJob {
    let mut steps: Vec<&str> = steps.to_vec();
    steps.sort_unstable();
    steps.dedup();
    NewJob::new(JobKind::RunImageModels, Priority::Ml)
        .for_product(barcode, server_type)
        .payload(json!({"image_id": image_id, "steps": steps}))
        .dedupe(format!(
            "image_models:{}:{barcode}:{image_id}:{}",
            server_type.name(),
            steps.join(",")
        ))
}

#[derive(Debug, Deserialize)]
struct Payload {
    image_id: String,
    steps: Vec<String>,
}

fn payload(job: &jobs::ClaimedJob) -> Result<Payload, JobError> {
    let p: Payload =
        serde_json::from_value(job.payload.clone()).map_err(|e| JobError::InvalidPayload {
            kind: "run_image_models",
            detail: e.to_string(),
        })?;
    if let Some(unknown) = p.steps.iter().find(|s| !MODEL_STEPS.contains(&s.as_str())) {
        return Err(JobError::InvalidPayload {
            kind: "run_image_models",
            detail: format!("unknown step {unknown:?}"),
        });
    }
    Ok(p)
}

/// What the models said about an image, to be committed in the product's shard.
#[derive(Debug, Clone, Default)]
pub struct StepResults {
    /// The image row; `None`: nothing to do (no such image, deleted, not a raw image).
    image: Option<vision::ImageRow>,
    fingerprint: Option<i64>,
    detections: Vec<(ObjectDetectionModel, Vec<DetectedObject>)>,
    logos: Option<LogoResults>,
    text: TextResults,
    category: Option<super::category_job::CategoryResults>,
}

/// The logos of the image's logo detection and their embeddings.
#[derive(Debug, Clone)]
struct LogoResults {
    /// The stored logo detection; `None`: the one in `detections`.
    prediction: Option<i32>,
    /// Logos to create: object index, box, score, OCR text.
    new_logos: Vec<(i32, [f32; 4], f32, Option<String>)>,
    /// Embeddings of new logos (by index) and of stored ones (by id).
    embeddings: Vec<(LogoKey, Vec<f32>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogoKey {
    New(i32),
    Stored(i32),
}

/// How a model error fails the job: Triton away → wait without using up an attempt.
fn model_failure(e: ModelError) -> JobError {
    if e.is_unavailable() {
        JobError::Unavailable(e.to_string())
    } else {
        JobError::Failed(e.to_string())
    }
}

/// The detector of a step, if the step is a detection and runs on this flavor.
fn detector(step: &str, server_type: ServerType) -> Option<ObjectDetectionModel> {
    match step {
        FLAG_RUN_LOGO_OBJECT_DETECTION => Some(ObjectDetectionModel::UniversalLogoDetector),
        FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION if server_type.is_food() => {
            Some(ObjectDetectionModel::NutritionTable)
        }
        FLAG_RUN_NUTRISCORE_OBJECT_DETECTION if server_type.is_food() => {
            Some(ObjectDetectionModel::Nutriscore)
        }
        _ => None,
    }
}

/// What the logo step has to do, given what is stored.
enum LogoPlan {
    /// No logo step.
    None,
    /// Detect, then create logos from the new detection.
    FromNewDetection,
    /// The detection is stored without logos: create them from its objects.
    FromStored(i32, Vec<DetectedObject>),
    /// Logos are stored: embed those without an embedding.
    EmbedMissing(i32, Vec<vision::StoredLogo>),
}

/// Computes a model-step job: reads, fetches, decodes and calls the models; writes
/// nothing.
pub async fn compute(ctx: &Context, job: &jobs::ClaimedJob) -> Result<StepResults, JobError> {
    if job.kind == JobKind::PredictCategory.as_str() {
        return Ok(StepResults {
            category: Some(super::category_job::compute(ctx, job).await?),
            ..StepResults::default()
        });
    }
    let t = Target::of(job)?;
    let p = payload(job)?;
    let Some(source_image) = image_path(t.barcode, &p.image_id) else {
        return Ok(StepResults::default());
    };
    let st = t.server_type;
    let mut conn = ctx.pool.acquire().await?;
    let Some(image) = vision::image(&mut conn, &source_image, st.name()).await? else {
        tracing::info!(barcode = t.barcode, image = %source_image, "no image row: model steps skipped");
        return Ok(StepResults::default());
    };
    if image.deleted {
        return Ok(StepResults::default());
    }
    let steps: BTreeSet<&str> = p.steps.iter().map(String::as_str).collect();
    let detectors: Vec<ObjectDetectionModel> =
        steps.iter().filter_map(|s| detector(s, st)).collect();
    let names: Vec<String> = detectors.iter().map(|m| m.name().to_string()).collect();
    let stored = vision::predictions_of_image(&mut conn, image.id, &names).await?;
    let stored_of = |m: ObjectDetectionModel| stored.iter().find(|s| s.model_name == m.name());
    let to_run: Vec<ObjectDetectionModel> = detectors
        .iter()
        .copied()
        .filter(|m| {
            let exists = stored_of(*m).is_some();
            if exists {
                metrics::ml_step(m.name(), "existed");
            }
            !exists
        })
        .collect();
    let logo_plan = if !detectors.contains(&ObjectDetectionModel::UniversalLogoDetector) {
        LogoPlan::None
    } else if let Some(p) = stored_of(ObjectDetectionModel::UniversalLogoDetector) {
        let logos = vision::logos_of_prediction(&mut conn, p.id).await?;
        if logos.is_empty() {
            LogoPlan::FromStored(p.id, stored_objects(&p.data))
        } else {
            let missing: Vec<vision::StoredLogo> =
                logos.into_iter().filter(|l| !l.embedded).collect();
            LogoPlan::EmbedMissing(p.id, missing)
        }
    } else {
        LogoPlan::FromNewDetection
    };
    let text_plan = TextPlan::read(&mut conn, image.id, &steps, st).await?;
    drop(conn);
    let need_fingerprint =
        steps.contains(FLAG_ADD_IMAGE_FINGERPRINT) && image.fingerprint.is_none();
    let logo_work = match &logo_plan {
        LogoPlan::None => false,
        LogoPlan::FromNewDetection => true,
        LogoPlan::FromStored(_, objects) => !objects.is_empty(),
        LogoPlan::EmbedMissing(_, missing) => !missing.is_empty(),
    };
    let mut results = StepResults {
        image: Some(image.clone()),
        ..StepResults::default()
    };
    if to_run.is_empty() && !need_fingerprint && !logo_work && !text_plan.needs_image() {
        results.text = text_steps::compute(ctx, &t, &p.image_id, &text_plan, None).await?;
        return Ok(results);
    }
    let need_stored_rgb = text_plan.needs_image();

    // One fetch and one decode for every step.
    let Some(bytes) = fetch(ctx, st, &source_image).await? else {
        // The image is gone from the image server: nothing to run it on.
        results.image = None;
        return Ok(results);
    };
    let max_pixels = ctx.settings.http.max_image_pixels;
    let letterbox_size = to_run.first().map(|m| m.image_size());
    let decoded = tokio::task::spawn_blocking(move || {
        let clock = Instant::now();
        let decoded =
            crate::imaging::decode_oriented(&bytes, max_pixels).map_err(|e| e.to_string())?;
        drop(bytes);
        // Robotoff hashes the image as Pillow opens it: as stored, not turned upright.
        let fingerprint = need_fingerprint.then(|| {
            let clock = Instant::now();
            let hash = crate::imaging::phash::fingerprint(&decoded.image);
            metrics::ml_stage("fingerprint", clock.elapsed());
            hash
        });
        // The nutrition extractor sees the image as stored, like the fingerprint.
        let stored_rgb = need_stored_rgb.then(|| Arc::new(decoded.image.to_rgb8()));
        let rgb = decoded.upright_rgb();
        metrics::ml_stage("decode", clock.elapsed());
        let letterboxed = match letterbox_size {
            Some(size) => {
                let clock = Instant::now();
                match crate::ml::letterbox::letterbox(&rgb, size) {
                    Ok(l) => {
                        metrics::ml_stage("letterbox", clock.elapsed());
                        let clock = Instant::now();
                        let geometry = l.geometry;
                        let tensor = Bytes::from(l.into_tensor_bytes());
                        metrics::ml_stage("encode", clock.elapsed());
                        Some((tensor, geometry))
                    }
                    Err(e) => {
                        // A sliver of an image (1×1000): nothing a detector could see.
                        tracing::info!(error = %e, "image not fit for the detectors");
                        None
                    }
                }
            }
            None => None,
        };
        Ok::<_, String>((Arc::new(rgb), fingerprint, letterboxed, stored_rgb))
    })
    .await
    .map_err(|e| JobError::Failed(format!("decoding stopped: {e}")))?;
    let (rgb, fingerprint, letterboxed, stored_rgb) =
        decoded.map_err(|e| JobError::Unusable(format!("image {source_image}: {e}")))?;
    results.fingerprint = fingerprint;

    let models = &ctx.resources.models;
    let threshold = ctx.settings.ml.detection_threshold;
    let options = models.pipeline_options(threshold);
    if let Some((tensor, geometry)) = &letterboxed {
        let calls = to_run
            .iter()
            .map(|m| models.detect(*m, tensor.clone(), geometry, &options));
        let answers = futures::future::try_join_all(calls)
            .await
            .map_err(model_failure)?;
        for (m, objects) in to_run.iter().zip(answers) {
            results.detections.push((*m, objects));
        }
    } else {
        for m in &to_run {
            metrics::ml_step(m.name(), "skipped");
        }
    }
    drop(letterboxed);

    results.logos = match logo_plan {
        LogoPlan::None => None,
        LogoPlan::FromNewDetection | LogoPlan::FromStored(..) => {
            let (prediction, objects) = match logo_plan {
                LogoPlan::FromStored(id, objects) => (Some(id), objects),
                _ => (
                    None,
                    results
                        .detections
                        .iter()
                        .find(|(m, _)| *m == ObjectDetectionModel::UniversalLogoDetector)
                        .map(|(_, o)| o.clone())
                        .unwrap_or_default(),
                ),
            };
            Some(new_logos(ctx, st, t.barcode, &p.image_id, &rgb, prediction, &objects).await?)
        }
        LogoPlan::EmbedMissing(id, missing) => {
            let boxes: Vec<(LogoKey, [f32; 4])> = missing
                .iter()
                .filter_map(|l| Some((LogoKey::Stored(l.id), box_of(&l.bounding_box)?)))
                .collect();
            let embeddings = embed(ctx, &rgb, boxes).await?;
            Some(LogoResults {
                prediction: Some(id),
                new_logos: Vec::new(),
                embeddings,
            })
        }
    };
    results.text = text_steps::compute(ctx, &t, &p.image_id, &text_plan, stored_rgb).await?;
    Ok(results)
}

/// The image's bytes; `None` when the image server does not have it.
async fn fetch(
    ctx: &Context,
    server_type: ServerType,
    source_image: &str,
) -> Result<Option<Vec<u8>>, JobError> {
    let base = ctx
        .settings
        .product_opener
        .flavor(server_type)
        .images_url
        .trim_end_matches('/');
    let url = format!("{base}/images/products{source_image}");
    let clock = Instant::now();
    let answer = ctx.resources.image_hosts.get(&url).await;
    metrics::ml_stage("fetch", clock.elapsed());
    match answer {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_retryable() => Err(JobError::Failed(format!("fetching the image: {e}"))),
        Err(e) if e.is_not_found() => {
            tracing::info!(image = %url, "image not found on the image server: model steps skipped");
            Ok(None)
        }
        Err(e) => Err(JobError::Unusable(format!("fetching the image {url}: {e}"))),
    }
}

/// The objects of a stored detection (`data.objects`).
fn stored_objects(data: &Value) -> Vec<DetectedObject> {
    data.get("objects")
        .and_then(Value::as_array)
        .map(|objects| {
            objects
                .iter()
                .filter_map(|o| {
                    Some(DetectedObject {
                        bounding_box: box_of(o.get("bounding_box")?)?,
                        score: o.get("score")?.as_f64()? as f32,
                        label: o.get("label")?.as_str()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A `[y_min, x_min, y_max, x_max]` JSON box.
fn box_of(v: &Value) -> Option<[f32; 4]> {
    let a = v.as_array()?;
    if a.len() != 4 {
        return None;
    }
    let mut out = [0f32; 4];
    for (o, x) in out.iter_mut().zip(a) {
        *o = x.as_f64()? as f32;
    }
    Some(out)
}

/// The logos of a detection (boxes of positive area, spec pipeline §6.3) with the OCR
/// text inside each, and their embeddings.
async fn new_logos(
    ctx: &Context,
    server_type: ServerType,
    barcode: &str,
    image_id: &str,
    rgb: &Arc<image::RgbImage>,
    prediction: Option<i32>,
    objects: &[DetectedObject],
) -> Result<LogoResults, JobError> {
    let kept: Vec<(i32, &DetectedObject)> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            let [y_min, x_min, y_max, x_max] = o.bounding_box;
            y_max - y_min > 0.0 && x_max - x_min > 0.0
        })
        .map(|(i, o)| (i32::try_from(i).unwrap_or(i32::MAX), o))
        .collect();
    if kept.is_empty() {
        return Ok(LogoResults {
            prediction,
            new_logos: Vec::new(),
            embeddings: Vec::new(),
        });
    }
    let ocr = super::ocr_fetch::ocr_document(ctx, server_type, barcode, image_id).await;
    let (w, h) = (f64::from(rgb.width()), f64::from(rgb.height()));
    let new_logos: Vec<(i32, [f32; 4], f32, Option<String>)> = kept
        .iter()
        .map(|(i, o)| {
            let [y_min, x_min, y_max, x_max] = o.bounding_box.map(f64::from);
            let text = ocr
                .as_ref()
                .and_then(|doc| doc.text_in_area([y_min * h, x_min * w, y_max * h, x_max * w]));
            (*i, o.bounding_box, o.score, text)
        })
        .collect();
    let boxes: Vec<(LogoKey, [f32; 4])> = kept
        .iter()
        .map(|(i, o)| (LogoKey::New(*i), o.bounding_box))
        .collect();
    let embeddings = embed(ctx, rgb, boxes).await?;
    Ok(LogoResults {
        prediction,
        new_logos,
        embeddings,
    })
}

/// Crops `boxes` out of the image, prepares them for CLIP and embeds them (spec
/// pipeline §6.3, §7.4). A box with no pixels gets no embedding.
async fn embed(
    ctx: &Context,
    rgb: &Arc<image::RgbImage>,
    boxes: Vec<(LogoKey, [f32; 4])>,
) -> Result<Vec<(LogoKey, Vec<f32>)>, JobError> {
    if boxes.is_empty() {
        return Ok(Vec::new());
    }
    let image = rgb.clone();
    let prepared: Vec<(LogoKey, Bytes)> = tokio::task::spawn_blocking(move || {
        let clock = Instant::now();
        let out = boxes
            .into_iter()
            .filter_map(|(key, b)| {
                let mut batch = crate::ml::clip::ClipBatch::with_capacity(1);
                match batch.push_logo(&image, b.map(f64::from)) {
                    Ok(()) => Some((key, Bytes::from(batch.pixel_values_bytes()))),
                    Err(e) => {
                        tracing::info!(error = %e, "logo crop skipped");
                        None
                    }
                }
            })
            .collect();
        metrics::ml_stage("clip_preprocess", clock.elapsed());
        out
    })
    .await
    .map_err(|e| JobError::Failed(format!("cropping stopped: {e}")))?;
    let (keys, crops): (Vec<LogoKey>, Vec<Bytes>) = prepared.into_iter().unzip();
    let vectors = ctx
        .resources
        .models
        .embed(crops)
        .await
        .map_err(model_failure)?;
    if vectors.len() != keys.len() {
        return Err(JobError::Failed(format!(
            "CLIP gave {} embeddings for {} logos",
            vectors.len(),
            keys.len()
        )));
    }
    Ok(keys.into_iter().zip(vectors).collect())
}

/// Writes what [`compute`] found, in the job's transaction in the product's shard:
/// image predictions not stored meanwhile, logos, embeddings, fingerprint; imports the
/// Nutri-Score label; queues the logo-index job and, for a nutrition table, the
/// product's insight refresh.
pub async fn commit(
    ctx: &Context,
    job: &jobs::ClaimedJob,
    results: &StepResults,
    conn: &mut PgConnection,
) -> Result<Effects, JobError> {
    let t = Target::of(job)?;
    let st = t.server_type;
    if let Some(category) = &results.category {
        super::category_job::commit(ctx, &t, category, conn).await?;
        return Ok(Effects::default());
    }
    let Some(computed) = &results.image else {
        return Ok(Effects::default());
    };
    let Some(image) = vision::image(conn, &computed.source_image, st.name()).await? else {
        return Ok(Effects::default());
    };
    if image.deleted || image.id != computed.id {
        return Ok(Effects::default());
    }
    let w = &ctx.settings.workers;
    if let Some(fingerprint) = results.fingerprint {
        if vision::set_fingerprint(conn, image.id, fingerprint).await? {
            metrics::ml_step("fingerprint", "stored");
        }
    }
    let mut logo_prediction: Option<i32> = results.logos.as_ref().and_then(|l| l.prediction);
    for (model, objects) in &results.detections {
        let names = [model.name().to_string()];
        if let Some(existing) = vision::predictions_of_image(conn, image.id, &names)
            .await?
            .first()
        {
            // Stored meanwhile by another run: that one counts.
            metrics::ml_step(model.name(), "existed");
            if *model == ObjectDetectionModel::UniversalLogoDetector {
                logo_prediction = Some(existing.id);
            }
            continue;
        }
        let data = json!({ "objects": objects.iter().map(object_json).collect::<Vec<_>>() });
        let max_confidence = objects.iter().map(|o| o.score).reduce(f32::max);
        let id = vision::insert_prediction(
            conn,
            &vision::NewImagePrediction {
                kind: "object_detection",
                model_name: model.name(),
                model_version: model.version(),
                data: &data,
                image_id: image.id,
                max_confidence,
            },
        )
        .await?;
        metrics::ml_step(model.name(), "stored");
        match model {
            ObjectDetectionModel::UniversalLogoDetector => logo_prediction = Some(id),
            ObjectDetectionModel::Nutriscore => {
                import_nutriscore(ctx, &t, &image, objects, conn).await?;
            }
            ObjectDetectionModel::NutritionTable if st.is_food() => {
                // The nutrition-image importer reads the detected tables.
                let refresh = NewJob::new(JobKind::RefreshInsights, Priority::High)
                    .for_product(t.barcode, st)
                    .dedupe(format!("refresh_insights:{}:{}", st.name(), t.barcode));
                jobs::enqueue(&mut *conn, &refresh, w.shards, w.max_attempts).await?;
            }
            _ => {}
        }
    }
    text_steps::commit(ctx, &t, &image, &results.text, conn).await?;
    if let (Some(logos), Some(prediction)) = (&results.logos, logo_prediction) {
        let new: Vec<vision::NewLogo<'_>> = logos
            .new_logos
            .iter()
            .map(|(index, b, score, text)| vision::NewLogo {
                index: *index,
                bounding_box: json!(b),
                score: *score,
                barcode: &image.barcode,
                source_image: &image.source_image,
                text: text.clone(),
                server_type: st.name(),
            })
            .collect();
        let ids = vision::insert_logos(conn, prediction, &new).await?;
        let id_of = |key: LogoKey| match key {
            LogoKey::Stored(id) => Some(id),
            LogoKey::New(index) => logos
                .new_logos
                .iter()
                .position(|(i, ..)| *i == index)
                .and_then(|pos| ids.get(pos).copied()),
        };
        let embeddings: Vec<(i32, Vec<u8>)> = logos
            .embeddings
            .iter()
            .filter_map(|(key, v)| Some((id_of(*key)?, le_bytes(v))))
            .collect();
        let stored = vision::insert_embeddings(conn, &embeddings).await?;
        if stored > 0 {
            metrics::ml_step("clip", "stored");
            let next = NewJob::new(JobKind::ProcessCreatedLogos, Priority::High)
                .for_product(t.barcode, st)
                .payload(json!({ "image_prediction_id": prediction }));
            jobs::enqueue(&mut *conn, &next, w.shards, w.max_attempts).await?;
        }
    }
    Ok(Effects::default())
}

/// An object as Robotoff stores it (`bounding_box`, `score`, `label`).
pub fn object_json(o: &DetectedObject) -> Value {
    json!({"bounding_box": o.bounding_box, "score": o.score, "label": o.label})
}

/// float32 values as little-endian bytes (how Robotoff stores embeddings).
fn le_bytes(v: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Spec pipeline §2.7: exactly one Nutri-Score scoring at least 0.5 gives a `label`
/// prediction of its grade, imported for the product; none or several give nothing.
async fn import_nutriscore(
    ctx: &Context,
    t: &Target<'_>,
    image: &vision::ImageRow,
    objects: &[DetectedObject],
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let sure: Vec<&DetectedObject> = objects
        .iter()
        .filter(|o| o.score >= NUTRISCORE_MIN_SCORE)
        .collect();
    let [object] = sure.as_slice() else {
        return Ok(());
    };
    let Some(tag) = crate::ml::models::nutriscore_label_tag(&object.label) else {
        return Ok(());
    };
    let model = ObjectDetectionModel::Nutriscore;
    let mut p = Prediction::new(PredictionType::Label);
    p.value_tag = Some(tag.to_string());
    p.automatic_processing = Some(false);
    p.predictor = Some("nutriscore".to_string());
    p.predictor_version = Some(model.version().to_string());
    p.confidence = Some(f64::from(object.score));
    p.data = json!({ "bounding_box": object.bounding_box });
    p.source_image = Some(image.source_image.clone());
    super::context::import_for_product(ctx, t, vec![p], conn).await
}
