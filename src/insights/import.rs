//! Stores a product's predictions and brings its insights up to date (import, refresh,
//! product and image deletion), each in the caller's transaction and under the
//! product's import lock: plain async functions over a connection, run by the product
//! shard that owns the product (or by a test, without any actor).

use super::predictions::{is_replaced, new_predictions, replacement};
use super::{
    generate_insights, importers_for, predictions as rules, ImportContext, ImportResources,
    Importer, InsightDiff, InsightError, NUTRITION_TABLE_MIN_SCORE,
};
use crate::config::Settings;
use crate::infra::db::{insights as insight_db, predictions as prediction_db, products};
use crate::types::{Insight, Prediction, PredictionType, Product, ServerType};
use chrono::{NaiveDateTime, SubsecRound, TimeDelta, Utc};
use sqlx::PgConnection;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Counts returned by an import or refresh, as Robotoff reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub predictions_created: usize,
    pub predictions_deleted: usize,
    pub insights_created: usize,
    pub insights_updated: usize,
    pub insights_deleted: usize,
}

impl ImportSummary {
    /// Whether any insight was created, updated or deleted.
    pub fn changed_insights(&self) -> bool {
        self.insights_created + self.insights_updated + self.insights_deleted > 0
    }
}

impl std::ops::AddAssign for ImportSummary {
    fn add_assign(&mut self, other: Self) {
        self.predictions_created += other.predictions_created;
        self.predictions_deleted += other.predictions_deleted;
        self.insights_created += other.insights_created;
        self.insights_updated += other.insights_updated;
        self.insights_deleted += other.insights_deleted;
    }
}

/// Counts returned by the deletion paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionSummary {
    pub predictions_deleted: usize,
    pub insights_deleted: usize,
    /// Images that had a row (now marked deleted).
    pub images_marked_deleted: usize,
    pub logos_deleted: usize,
    pub image_predictions_deleted: usize,
    /// Logos of the deleted images, to remove from the nearest-neighbour index.
    pub logo_ids: Vec<i32>,
}

impl DeletionSummary {
    /// Whether any insight was deleted.
    pub fn changed_insights(&self) -> bool {
        self.insights_deleted > 0
    }
}

/// What happens to the logos of a deleted image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoPolicy {
    /// Every logo and detection of the image is removed (image deletion event).
    DeleteAll,
    /// Logos annotated by a user stay (their embeddings go); the image's detections are
    /// removed only if no logo remains. Predictions and insights are removed only for
    /// images known to the service.
    KeepAnnotated,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("database error while {doing} for product {barcode} ({server_type}): {message}")]
    Db {
        doing: &'static str,
        barcode: String,
        server_type: ServerType,
        message: String,
    },
    #[error("importing insights for product {barcode} ({server_type}): {source}")]
    Insight {
        barcode: String,
        server_type: ServerType,
        #[source]
        source: InsightError,
    },
    #[error("importer data files could not be loaded from {dir}: {message}")]
    Resources { dir: PathBuf, message: String },
}

/// What import operations need besides a connection.
#[derive(Debug, Clone)]
pub struct Importing {
    pub resources: Arc<ImportResources>,
    pub automatic_processing_wait: TimeDelta,
}

impl Importing {
    /// The importer settings and the process-wide resources of the data directory
    /// (loaded on first use, off the async threads).
    pub async fn from_settings(settings: &Settings) -> Result<Self, ImportError> {
        Ok(Importing {
            resources: shared_resources(&settings.data.dir).await?,
            automatic_processing_wait: TimeDelta::minutes(i64::from(
                settings.insights.automatic_processing_wait_mins,
            )),
        })
    }
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<ImportResources>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Arc<ImportResources>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The importer resources of `data_dir`, loaded once per process and shared.
pub async fn shared_resources(data_dir: &Path) -> Result<Arc<ImportResources>, ImportError> {
    let cached = registry()
        .lock()
        .ok()
        .and_then(|m| m.get(data_dir).cloned());
    if let Some(r) = cached {
        return Ok(r);
    }
    let dir = data_dir.to_path_buf();
    let loading = dir.clone();
    let loaded = tokio::task::spawn_blocking(move || ImportResources::load(loading))
        .await
        .map_err(|e| ImportError::Resources {
            dir: dir.clone(),
            message: e.to_string(),
        })?
        .map_err(|e| ImportError::Resources {
            dir: dir.clone(),
            message: e.to_string(),
        })?;
    let loaded = Arc::new(loaded);
    Ok(match registry().lock() {
        Ok(mut m) => m.entry(dir).or_insert(loaded).clone(),
        Err(_) => loaded,
    })
}

/// Import time: now (UTC), to the microsecond as stored.
fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn db_err<'a>(
    doing: &'static str,
    barcode: &'a str,
    server_type: ServerType,
) -> impl Fn(sqlx::Error) -> ImportError + 'a {
    move |e| ImportError::Db {
        doing,
        barcode: barcode.to_string(),
        server_type,
        message: e.to_string(),
    }
}

/// Robotoff's `import_insights` for one product: drops predictions of a missing product
/// or of images that are not raw images of the product, stores the others (replacing
/// older predictor versions and, for categories, every stored category; skipping those
/// already stored), then runs every importer whose required types are among the given
/// predictions. Runs in `conn`'s transaction, under the product's import lock.
pub async fn import_product_predictions(
    conn: &mut PgConnection,
    importing: &Importing,
    barcode: &str,
    server_type: ServerType,
    predictions: Vec<Prediction>,
) -> Result<ImportSummary, ImportError> {
    let err = |doing| db_err(doing, barcode, server_type);
    insight_db::lock_product(conn, barcode, server_type)
        .await
        .map_err(err("taking the import lock"))?;
    let product = products::get(conn, barcode, server_type)
        .await
        .map_err(err("reading the product"))?;
    let mut kept = Vec::with_capacity(predictions.len());
    for p in predictions {
        match rules::check(product.as_ref(), &p) {
            Ok(()) => kept.push(p),
            Err(why) => tracing::debug!(barcode, kind = %p.kind, ?why, "prediction not stored"),
        }
    }
    if kept.is_empty() {
        return Ok(ImportSummary::default());
    }
    let now = now();
    let stored = prediction_db::for_product(conn, barcode, server_type)
        .await
        .map_err(err("reading predictions"))?;
    let replaced = replacement(&kept);
    let (old, remaining): (Vec<Prediction>, Vec<Prediction>) =
        stored.into_iter().partition(|p| is_replaced(&replaced, p));
    let old_ids: Vec<i32> = old.iter().filter_map(|p| p.id).collect();
    let deleted = prediction_db::delete_by_ids(conn, &old_ids)
        .await
        .map_err(err("deleting replaced predictions"))?;
    let trigger: HashSet<PredictionType> = kept.iter().map(|p| p.kind).collect();
    let new = new_predictions(barcode, server_type, &remaining, kept, now);
    let inserted = prediction_db::insert_many(conn, &new)
        .await
        .map_err(err("storing predictions"))?;
    let mut summary = ImportSummary {
        predictions_created: inserted.len(),
        predictions_deleted: usize::try_from(deleted).unwrap_or(usize::MAX),
        ..ImportSummary::default()
    };
    let mut all = remaining;
    all.extend(inserted);
    let run = importers_for(&trigger);
    summary += run_importers(
        conn,
        importing,
        product.as_ref(),
        barcode,
        server_type,
        &all,
        &run,
        now,
    )
    .await?;
    Ok(summary)
}

/// Robotoff's `refresh_insights`: recomputes the product's insights from its stored
/// predictions (every importer whose required types are stored; other insight types are
/// left alone). A product missing from the store loses every insight of those types.
pub async fn refresh_product(
    conn: &mut PgConnection,
    importing: &Importing,
    barcode: &str,
    server_type: ServerType,
) -> Result<ImportSummary, ImportError> {
    let err = |doing| db_err(doing, barcode, server_type);
    insight_db::lock_product(conn, barcode, server_type)
        .await
        .map_err(err("taking the import lock"))?;
    let product = products::get(conn, barcode, server_type)
        .await
        .map_err(err("reading the product"))?;
    let all = prediction_db::for_product(conn, barcode, server_type)
        .await
        .map_err(err("reading predictions"))?;
    let types: HashSet<PredictionType> = all.iter().map(|p| p.kind).collect();
    let run = importers_for(&types);
    run_importers(
        conn,
        importing,
        product.as_ref(),
        barcode,
        server_type,
        &all,
        &run,
        now(),
    )
    .await
}

/// Runs `importers` over the product's predictions and applies their diffs.
#[allow(clippy::too_many_arguments)]
async fn run_importers(
    conn: &mut PgConnection,
    importing: &Importing,
    product: Option<&Product>,
    barcode: &str,
    server_type: ServerType,
    predictions: &[Prediction],
    importers: &[Importer],
    now: NaiveDateTime,
) -> Result<ImportSummary, ImportError> {
    if importers.is_empty() {
        return Ok(ImportSummary::default());
    }
    let err = |doing| db_err(doing, barcode, server_type);
    let existing = insight_db::for_product(conn, barcode, server_type)
        .await
        .map_err(err("reading insights"))?;
    let mut by_type: BTreeMap<PredictionType, Vec<Insight>> = BTreeMap::new();
    for i in existing {
        by_type.entry(i.kind).or_default().push(i);
    }
    let nutrition_tables = if product.is_some() && importers.contains(&Importer::NutritionImage) {
        insight_db::nutrition_tables(conn, barcode, server_type, NUTRITION_TABLE_MIN_SCORE)
            .await
            .map_err(err("reading nutrition-table detections"))?
    } else {
        HashMap::new()
    };
    let ctx = ImportContext {
        resources: &importing.resources,
        product,
        nutrition_tables: &nutrition_tables,
        now,
        automatic_processing_wait: importing.automatic_processing_wait,
    };
    let mut total = InsightDiff::default();
    for importer in importers {
        let inputs = importer.input_types();
        let selected: Vec<Prediction> = predictions
            .iter()
            .filter(|p| inputs.contains(&p.kind))
            .cloned()
            .collect();
        let references = by_type
            .get(&importer.insight_type())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let diff = generate_insights(*importer, &ctx, barcode, server_type, &selected, references)
            .map_err(|source| ImportError::Insight {
                barcode: barcode.to_string(),
                server_type,
                source,
            })?;
        total.create.extend(diff.create);
        total.update.extend(diff.update);
        total.delete.extend(diff.delete);
    }
    insight_db::delete_by_ids(conn, &total.delete)
        .await
        .map_err(err("deleting insights"))?;
    insight_db::insert_many(conn, &total.create)
        .await
        .map_err(err("creating insights"))?;
    insight_db::update_many(conn, &total.update)
        .await
        .map_err(err("updating insights"))?;
    Ok(ImportSummary {
        insights_created: total.create.len(),
        insights_updated: total.update.len(),
        insights_deleted: total.delete.len(),
        ..ImportSummary::default()
    })
}

/// A product was deleted: every prediction and every non-annotated insight goes
/// (annotated insights stay as history; images and logos are not touched).
pub async fn delete_product(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
) -> Result<DeletionSummary, ImportError> {
    let err = |doing| db_err(doing, barcode, server_type);
    insight_db::lock_product(conn, barcode, server_type)
        .await
        .map_err(err("taking the import lock"))?;
    let predictions = prediction_db::delete_for_product(conn, barcode, server_type)
        .await
        .map_err(err("deleting predictions"))?;
    let insights = insight_db::delete_unannotated_for_product(conn, barcode, server_type)
        .await
        .map_err(err("deleting insights"))?;
    Ok(DeletionSummary {
        predictions_deleted: usize::try_from(predictions).unwrap_or(usize::MAX),
        insights_deleted: usize::try_from(insights).unwrap_or(usize::MAX),
        ..DeletionSummary::default()
    })
}

/// Images of a product were deleted: each image row is marked deleted and its logos and
/// detections removed as `logos` says, then the predictions and non-annotated insights
/// made from those images are deleted.
pub async fn delete_images(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
    image_ids: &[String],
    logos: LogoPolicy,
) -> Result<DeletionSummary, ImportError> {
    let err = |doing| db_err(doing, barcode, server_type);
    insight_db::lock_product(conn, barcode, server_type)
        .await
        .map_err(err("taking the import lock"))?;
    let mut summary = DeletionSummary::default();
    let mut source_images = Vec::new();
    for image_id in image_ids {
        let records = insight_db::delete_image_records(
            conn,
            barcode,
            server_type,
            image_id,
            logos == LogoPolicy::KeepAnnotated,
        )
        .await
        .map_err(err("deleting image records"))?;
        if records.found {
            summary.images_marked_deleted += 1;
        }
        summary.logos_deleted += usize::try_from(records.logos_deleted).unwrap_or(usize::MAX);
        summary.image_predictions_deleted +=
            usize::try_from(records.image_predictions_deleted).unwrap_or(usize::MAX);
        summary.logo_ids.extend(records.logo_ids);
        if records.found || logos == LogoPolicy::DeleteAll {
            match crate::insights::image::image_path(barcode, image_id) {
                Some(path) => source_images.push(path),
                None => tracing::warn!(barcode, image_id, "no image path for this barcode"),
            }
        }
    }
    let predictions =
        prediction_db::delete_for_source_images(conn, barcode, server_type, &source_images)
            .await
            .map_err(err("deleting predictions of deleted images"))?;
    let insights = insight_db::delete_unannotated_for_source_images(
        conn,
        barcode,
        server_type,
        &source_images,
    )
    .await
    .map_err(err("deleting insights of deleted images"))?;
    summary.predictions_deleted = usize::try_from(predictions).unwrap_or(usize::MAX);
    summary.insights_deleted = usize::try_from(insights).unwrap_or(usize::MAX);
    tracing::info!(
        barcode,
        %server_type,
        images = ?image_ids,
        logos = summary.logos_deleted,
        image_predictions = summary.image_predictions_deleted,
        predictions = summary.predictions_deleted,
        insights = summary.insights_deleted,
        "images deleted"
    );
    Ok(summary)
}
