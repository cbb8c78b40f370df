//! The import of one insight type for one product: candidates from predictions, then
//! Robotoff's selection against existing insights (annotated and about-to-be-applied
//! insights are never touched), then the rows to create, update and delete.

use super::candidate::{cmp_predictions, Candidate, InsightView};
use super::image::image_id;
use super::{ImportContext, Importer, InsightError};
use crate::types::{Insight, Prediction, ServerType};
use uuid::Uuid;

/// What one importer changes for one product.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InsightDiff {
    /// New insights.
    pub create: Vec<Insight>,
    /// Replacements of non-annotated insights with the same value and source image; each
    /// keeps the id of the insight it replaces (so its votes keep pointing at it).
    pub update: Vec<Insight>,
    /// Ids of existing insights that no prediction supports any more.
    pub delete: Vec<Uuid>,
}

impl InsightDiff {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Outcome of [`select_updates`], by position in the given references.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub create: Vec<Candidate>,
    pub update: Vec<(Candidate, usize)>,
    pub delete: Vec<usize>,
}

/// Robotoff's `get_insight_update`. References that are annotated or automatically
/// processable are kept, and any candidate conflicting with one is dropped. Candidates
/// are taken in `sorted` order; one conflicting with an already selected candidate is
/// dropped; a selected candidate replaces the first non-annotated, conflicting reference
/// with the same source image, else it is created. References not kept or replaced are
/// deleted.
pub fn select_updates<R: InsightView>(
    sorted: Vec<Candidate>,
    references: &[R],
    conflicts: impl Fn(&Candidate, &dyn InsightView) -> bool,
) -> Selection {
    let protected: Vec<bool> = references
        .iter()
        .map(|r| r.annotation().is_some() || r.automatic_processing())
        .collect();
    let mut keep = protected.clone();
    let mut paired = vec![false; references.len()];
    let mut selected: Vec<(Candidate, Option<usize>)> = Vec::new();
    for candidate in sorted {
        let blocked = references
            .iter()
            .zip(&protected)
            .any(|(r, p)| *p && conflicts(&candidate, r));
        if blocked
            || selected
                .iter()
                .any(|(other, _)| conflicts(&candidate, other))
        {
            continue;
        }
        let target = references.iter().enumerate().position(|(i, r)| {
            !paired[i]
                && r.annotation().is_none()
                && conflicts(&candidate, r)
                && candidate.source_image.as_deref() == r.source_image()
        });
        if let Some(i) = target {
            paired[i] = true;
            keep[i] = true;
        }
        selected.push((candidate, target));
    }
    let mut create = Vec::new();
    let mut update = Vec::new();
    for (candidate, target) in selected {
        match target {
            Some(i) => update.push((candidate, i)),
            None => create.push(candidate),
        }
    }
    Selection {
        create,
        update,
        delete: (0..references.len()).filter(|i| !keep[*i]).collect(),
    }
}

/// Runs `importer` for the product `barcode` on `server_type`: `predictions` are the
/// product's predictions of the importer's input types, `references` its existing
/// insights of the importer's type. A missing product deletes every reference.
pub fn generate_insights(
    importer: Importer,
    ctx: &ImportContext<'_>,
    barcode: &str,
    server_type: ServerType,
    predictions: &[Prediction],
    references: &[Insight],
) -> Result<InsightDiff, InsightError> {
    let inputs = importer.input_types();
    if let Some(p) = predictions.iter().find(|p| !inputs.contains(&p.kind)) {
        return Err(InsightError::UnexpectedType {
            importer: importer.insight_type(),
            kind: p.kind,
        });
    }
    let mut others: Vec<String> = predictions
        .iter()
        .filter_map(|p| p.barcode.clone())
        .filter(|b| b != barcode)
        .collect();
    if !others.is_empty() {
        others.push(barcode.to_string());
        others.sort();
        others.dedup();
        return Err(InsightError::SeveralProducts(others));
    }
    let Some(product) = ctx.product else {
        return Ok(InsightDiff {
            delete: references.iter().map(|r| r.id).collect(),
            ..InsightDiff::default()
        });
    };
    let mut sorted: Vec<&Prediction> = predictions.iter().collect();
    if importer == Importer::Packaging {
        super::packaging::sort_predictions(&mut sorted);
    } else {
        sorted.sort_by(|a, b| cmp_predictions(a, b));
    }
    let image_ids: Vec<&str> = product.image_ids().collect();
    let mut candidates: Vec<Candidate> = importer
        .candidates(ctx, product, &sorted, barcode, server_type)?
        .into_iter()
        .filter(|c| match c.source_image.as_deref() {
            None => true,
            Some(path) => image_id(path).is_some_and(|id| image_ids.contains(&id)),
        })
        .collect();
    for c in &mut candidates {
        c.normalise(product);
    }
    importer.sort_candidates(&mut candidates);
    let checker = importer.conflict_checker(ctx)?;
    let selection = select_updates(candidates, references, |c, r| checker.conflicts(c, r));
    let mut diff = InsightDiff::default();
    for mut c in selection.create {
        importer.add_optional_fields(ctx, &mut c, product)?;
        diff.create.push(c.into_insight(ctx, product));
    }
    for (mut c, i) in selection.update {
        importer.add_optional_fields(ctx, &mut c, product)?;
        let mut row = c.into_insight(ctx, product);
        if let Some(reference) = references.get(i) {
            row.id = reference.id;
            diff.update.push(row);
        }
    }
    diff.delete = selection
        .delete
        .into_iter()
        .filter_map(|i| references.get(i).map(|r| r.id))
        .collect();
    Ok(diff)
}
