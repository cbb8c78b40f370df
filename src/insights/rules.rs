//! Per-importer dispatch: candidate generation, candidate order, conflict rule and
//! optional fields of each insight type.

use super::candidate::{cmp_candidates, Candidate, InsightView};
use super::packaging::PackagingTaxonomies;
use super::{
    category, ingredients, label, nutrient_extraction, nutrition_image, packaging, simple, visual,
    ImportContext, Importer, InsightError,
};
use crate::taxonomy::{Taxonomy, TaxonomyType};
use crate::types::{Prediction, Product, ServerType};
use std::sync::Arc;

/// The conflict rule of one importer, with the taxonomy it needs.
pub struct ConflictChecker {
    importer: Importer,
    taxonomy: Option<Arc<Taxonomy>>,
}

impl ConflictChecker {
    /// True when `candidate` and `reference` propose the same thing, so only one of them
    /// may exist (for labels and categories: same tag, or the candidate is a parent).
    pub fn conflicts(&self, candidate: &Candidate, reference: &dyn InsightView) -> bool {
        match self.importer {
            Importer::PackagerCode | Importer::ProductWeight | Importer::ExpirationDate => {
                candidate.value.as_deref() == reference.value()
            }
            Importer::Label | Importer::Category => {
                candidate.value_tag.as_deref() == reference.value_tag()
                    || match (
                        &self.taxonomy,
                        candidate.value_tag.as_deref(),
                        reference.value_tag(),
                    ) {
                        (Some(t), Some(c), Some(r)) => label::is_parent_of_any(t, c, [r]),
                        _ => false,
                    }
            }
            Importer::Brand
            | Importer::Store
            | Importer::NutritionImage
            | Importer::IngredientSpellcheck
            | Importer::IngredientDetection => {
                candidate.value_tag.as_deref() == reference.value_tag()
            }
            Importer::Packaging => packaging::conflicts(candidate, reference),
            Importer::UpcImage => visual::upc_conflicts(candidate, reference),
            Importer::NutrientExtraction => nutrient_extraction::conflicts(candidate, reference),
            Importer::ImageOrientation => visual::orientation_conflicts(candidate, reference),
        }
    }
}

impl Importer {
    /// Candidates from the product's `predictions` (already in importer order).
    pub(super) fn candidates(
        self,
        ctx: &ImportContext<'_>,
        product: &Product,
        predictions: &[&Prediction],
        barcode: &str,
        server_type: ServerType,
    ) -> Result<Vec<Candidate>, InsightError> {
        let res = ctx.resources;
        Ok(match self {
            Self::PackagerCode => simple::packager_code(product, predictions, barcode, server_type),
            Self::Label => {
                let taxonomy = res.taxonomy(TaxonomyType::Label)?;
                label::candidates(res, &taxonomy, product, predictions, barcode, server_type)
            }
            Self::Category => {
                let taxonomy = res.taxonomy(TaxonomyType::Category)?;
                category::candidates(&taxonomy, product, predictions, barcode, server_type)
            }
            Self::ProductWeight => {
                simple::product_weight(product, predictions, barcode, server_type)
            }
            Self::ExpirationDate => {
                simple::expiration_date(product, predictions, barcode, server_type)
            }
            Self::Brand => simple::brand(res, product, predictions, barcode, server_type),
            Self::Store => simple::store(predictions, barcode, server_type),
            Self::Packaging => {
                let shape = res.taxonomy(TaxonomyType::PackagingShape)?;
                let material = res.taxonomy(TaxonomyType::PackagingMaterial)?;
                let recycling = res.taxonomy(TaxonomyType::PackagingRecycling)?;
                let taxonomies = PackagingTaxonomies {
                    shape: &shape,
                    material: &material,
                    recycling: &recycling,
                };
                packaging::candidates(&taxonomies, product, predictions, barcode, server_type)
            }
            Self::UpcImage => visual::upc_image(product, predictions, barcode, server_type),
            Self::NutritionImage => nutrition_image::candidates(
                product,
                predictions,
                ctx.nutrition_tables,
                barcode,
                server_type,
            ),
            Self::IngredientSpellcheck => {
                ingredients::spellcheck(product, predictions, barcode, server_type)
            }
            Self::NutrientExtraction => {
                nutrient_extraction::candidates(product, predictions, barcode, server_type)
            }
            Self::ImageOrientation => {
                visual::image_orientation(product, predictions, barcode, server_type)
            }
            Self::IngredientDetection => {
                ingredients::detection(product, predictions, barcode, server_type)
            }
        })
    }

    /// Puts the most important candidates first (packaging: most informative element).
    pub(super) fn sort_candidates(self, candidates: &mut [Candidate]) {
        match self {
            Self::Packaging => packaging::sort_candidates(candidates),
            _ => candidates.sort_by(cmp_candidates),
        }
    }

    pub(super) fn conflict_checker(
        self,
        ctx: &ImportContext<'_>,
    ) -> Result<ConflictChecker, InsightError> {
        let taxonomy = match self {
            Self::Label => Some(ctx.resources.taxonomy(TaxonomyType::Label)?),
            Self::Category => Some(ctx.resources.taxonomy(TaxonomyType::Category)?),
            _ => None,
        };
        Ok(ConflictChecker {
            importer: self,
            taxonomy,
        })
    }

    /// Fields set on created and updated insights only: campaigns.
    pub(super) fn add_optional_fields(
        self,
        ctx: &ImportContext<'_>,
        candidate: &mut Candidate,
        product: &Product,
    ) -> Result<(), InsightError> {
        match self {
            Self::Category => {
                let taxonomy = ctx.resources.taxonomy(TaxonomyType::Category)?;
                candidate.campaign =
                    category::campaigns(&taxonomy, product, candidate.value_tag.as_deref());
            }
            Self::NutrientExtraction => {
                if let Some(campaigns) = nutrient_extraction::campaigns(product) {
                    candidate.campaign = campaigns;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
