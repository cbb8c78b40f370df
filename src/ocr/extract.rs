//! The dispatcher: which extractor runs for which prediction type, in which order.

use super::content::OcrContent;
use super::data_files::ResourceError;
use super::document::{OcrDocument, OcrParseError};
use super::resources::OcrResources;
use super::{
    brand, category, expiration_date, image_flag, image_lang, image_orientation, label, location,
    nutrient, packager_code, packaging, product_weight, store, trace,
};
use crate::types::{Prediction, PredictionType};

/// The 15 OCR prediction types, in the order Robotoff registers their extractors.
pub const OCR_PREDICTION_TYPES: [PredictionType; 15] = [
    PredictionType::Category,
    PredictionType::PackagerCode,
    PredictionType::Label,
    PredictionType::ExpirationDate,
    PredictionType::ImageFlag,
    PredictionType::ImageOrientation,
    PredictionType::ProductWeight,
    PredictionType::Trace,
    PredictionType::Nutrient,
    PredictionType::NutrientMention,
    PredictionType::Brand,
    PredictionType::Store,
    PredictionType::Packaging,
    PredictionType::Location,
    PredictionType::ImageLang,
];

/// Types extracted from every new image (no location, no trace), in Robotoff's order.
pub const DEFAULT_OCR_PREDICTION_TYPES: [PredictionType; 13] = [
    PredictionType::Category,
    PredictionType::Label,
    PredictionType::PackagerCode,
    PredictionType::ProductWeight,
    PredictionType::ImageFlag,
    PredictionType::ExpirationDate,
    PredictionType::Brand,
    PredictionType::Store,
    PredictionType::Packaging,
    PredictionType::Nutrient,
    PredictionType::NutrientMention,
    PredictionType::ImageLang,
    PredictionType::ImageOrientation,
];

/// Why extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("unknown prediction type: {0}")]
    UnknownType(PredictionType),
    #[error("parsing OCR document: {0}")]
    Parse(#[from] OcrParseError),
    #[error("loading OCR data: {0}")]
    Resource(#[from] ResourceError),
}

/// Loads the data the extractor of `kind` needs (once per `res`), so that a missing or
/// broken data file is reported instead of silently yielding nothing.
pub fn prepare(kind: PredictionType, res: &OcrResources) -> Result<(), ExtractError> {
    match kind {
        PredictionType::Label => res.labels().map(drop)?,
        PredictionType::PackagerCode => res.fishing_codes().map(drop)?,
        PredictionType::Brand => res.brands().map(drop)?,
        PredictionType::Store => res.stores().map(drop)?,
        PredictionType::ImageFlag => res.image_flags().map(drop)?,
        PredictionType::Trace => res.traces().map(drop)?,
        PredictionType::Location => res.city_processor().map(drop)?,
        k if !OCR_PREDICTION_TYPES.contains(&k) => return Err(ExtractError::UnknownType(k)),
        _ => {}
    }
    Ok(())
}

/// Predictions of one type (Robotoff's `extract_predictions`).
pub fn extract_one(
    content: &OcrContent<'_>,
    kind: PredictionType,
    res: &OcrResources,
) -> Result<Vec<Prediction>, ExtractError> {
    prepare(kind, res)?;
    Ok(match kind {
        PredictionType::Category => category::find_category(content, res),
        PredictionType::PackagerCode => packager_code::find_packager_codes(content, res),
        PredictionType::Label => label::find_labels(content, res),
        PredictionType::ExpirationDate => expiration_date::find_expiration_date(content),
        PredictionType::ImageFlag => image_flag::flag_image(content, res),
        PredictionType::ImageOrientation => image_orientation::find_image_orientation(content),
        PredictionType::ProductWeight => product_weight::find_product_weight(content),
        PredictionType::Trace => trace::find_traces(content, res),
        PredictionType::Nutrient => nutrient::find_nutrient_values(content, res),
        PredictionType::NutrientMention => nutrient::find_nutrient_mentions(content, res),
        PredictionType::Brand => brand::find_brands(content, res),
        PredictionType::Store => find_stores(content, res),
        PredictionType::Packaging => packaging::find_packaging(content, res),
        PredictionType::Location => find_locations(content, res),
        PredictionType::ImageLang => image_lang::get_image_lang(content),
        other => return Err(ExtractError::UnknownType(other)),
    })
}

/// Predictions of every type of `types`, type after type in the given order.
pub fn extract(
    content: &OcrContent<'_>,
    types: &[PredictionType],
    res: &OcrResources,
) -> Result<Vec<Prediction>, ExtractError> {
    for kind in types {
        prepare(*kind, res)?;
    }
    let mut out = Vec::new();
    for kind in types {
        out.extend(extract_one(content, *kind, res)?);
    }
    Ok(out)
}

/// Parses a document given as raw bytes (plain or gzipped JSON) and extracts `types`.
pub fn extract_from_bytes(
    bytes: &[u8],
    types: &[PredictionType],
    res: &OcrResources,
) -> Result<Vec<Prediction>, ExtractError> {
    let doc = OcrDocument::from_bytes(bytes)?;
    extract(&OcrContent::Document(&doc), types, res)
}

fn find_stores(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    match res.stores() {
        Ok(stores) => store::extract_stores(stores, content),
        Err(_) => Vec::new(),
    }
}

fn find_locations(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    match res.city_processor() {
        Ok(cities) => location::AddressExtractor::new(cities).extract_addresses(content),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ocr_types_are_rejected() {
        // tests/unit/prediction/ocr/test_core.py::test_extract_insights_unknown_raises
        let res = OcrResources::new("/nonexistent");
        let err = extract_one(
            &OcrContent::Text("spam"),
            PredictionType::IngredientSpellcheck,
            &res,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("unknown prediction type"), "{err}");
    }
}
