//! Questions: an open insight formatted as a yes/no question for annotation tools,
//! with the localized question text, the localized value and image URLs (spec api-db §5).
//! Pure; uses `i18n`, `taxonomy`, `types`.

mod images;

pub use images::{display_image, generic_image_url, image_url, split_barcode};

use crate::i18n::Translations;
use crate::taxonomy::{Taxonomies, TaxonomyType};
use serde::Serialize;
use std::collections::HashMap;

/// Insight types that can be asked as questions.
pub const FORMATTABLE_TYPES: [&str; 8] = [
    "category",
    "label",
    "product_weight",
    "brand",
    "nutrition_image",
    "packaging",
    "is_upc_image",
    "image_orientation",
];

/// Types asked when the caller names none.
pub const DEFAULT_TYPES: [&str; 5] = ["category", "label", "product_weight", "brand", "packaging"];

/// The types a question listing uses: the defaults when none are given, else the given
/// ones that can be formatted (possibly none).
pub fn question_types(requested: Option<&[String]>) -> Vec<String> {
    match requested {
        None => DEFAULT_TYPES.iter().map(|s| s.to_string()).collect(),
        Some(list) => FORMATTABLE_TYPES
            .iter()
            .filter(|t| list.iter().any(|r| r == *t))
            .map(|s| s.to_string())
            .collect(),
    }
}

/// Display priority of a product's questions: category, label, brand, the rest.
pub fn type_priority(kind: &str) -> u8 {
    match kind {
        "category" => 0,
        "label" => 1,
        "brand" => 2,
        _ => 3,
    }
}

/// What formatting reads from an insight.
#[derive(Debug, Clone)]
pub struct InsightView<'a> {
    pub id: String,
    pub barcode: &'a str,
    pub server_type: &'a str,
    pub kind: &'a str,
    pub value: Option<&'a str>,
    pub value_tag: Option<&'a str>,
    pub source_image: Option<&'a str>,
    pub predictor: Option<&'a str>,
    pub data: &'a serde_json::Value,
}

/// A question, serialised with Robotoff's keys; the optional ones only when set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    pub barcode: String,
    pub server_type: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: Option<String>,
    pub question: String,
    pub insight_id: String,
    pub insight_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_image_url: Option<String>,
}

/// Everything formatting needs besides the insight.
pub struct QuestionContext<'a> {
    pub translations: &'a Translations,
    pub taxonomies: &'a Taxonomies,
    /// Label tag → logo URL.
    pub label_logos: &'a HashMap<String, String>,
    /// Image host base of the insight's flavor (`https://images.openfoodfacts.org`).
    pub images_url: &'a str,
}

impl QuestionContext<'_> {
    fn localized(&self, kind: TaxonomyType, tag: &str, lang: &str) -> String {
        match self.taxonomies.get(kind) {
            Ok(t) => t.localized_name(tag, lang).to_string(),
            Err(_) => tag.to_string(),
        }
    }

    fn source_display_url(&self, insight: &InsightView<'_>) -> Option<String> {
        insight.source_image.filter(|s| !s.is_empty()).map(|s| {
            format!(
                "{}/images/products{}",
                self.images_url.trim_end_matches('/'),
                display_image(s)
            )
        })
    }
}

/// The English question text of a type.
pub fn question_text(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "category" => "Does the product belong to this category?",
        "label" => "Does the product have this label?",
        "product_weight" => "Does this weight match the weight displayed on the product?",
        "brand" => "Does the product belong to this brand?",
        "nutrition_image" => "Is this image a nutrition image for this language?",
        "packaging" => "Does the product have this packaging element?",
        "is_upc_image" => "Is there a product barcode on this image?",
        "image_orientation" => "Is this image rotated with the following orientation?",
        _ => return None,
    })
}

/// Formats `insight` in `lang`; `product_images` is the product's `images` field when
/// the product is known. `None` for a type that is not a question.
pub fn format(
    ctx: &QuestionContext<'_>,
    insight: &InsightView<'_>,
    lang: &str,
    product_images: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<Question> {
    let english = question_text(insight.kind)?;
    let mut q = Question {
        barcode: insight.barcode.to_string(),
        server_type: insight.server_type.to_string(),
        kind: "add-binary",
        value: None,
        question: ctx.translations.gettext(lang, english).to_string(),
        insight_id: insight.id.clone(),
        insight_type: insight.kind.to_string(),
        value_tag: None,
        ref_image_url: None,
        source_image_url: None,
    };
    let tag = insight.value_tag.unwrap_or("");
    let generic = |fields: &[&str]| {
        product_images
            .and_then(|images| generic_image_url(ctx.images_url, insight.barcode, images, fields))
    };
    match insight.kind {
        "category" => {
            q.value = Some(ctx.localized(TaxonomyType::Category, tag, lang));
            q.value_tag = insight.value_tag.map(str::to_string);
            q.source_image_url = generic(&["front", "ingredients", "nutrition"]);
        }
        "label" => {
            q.value = Some(ctx.localized(TaxonomyType::Label, tag, lang));
            q.value_tag = insight.value_tag.map(str::to_string);
            q.ref_image_url = ctx.label_logos.get(tag).cloned();
            q.source_image_url = ctx.source_display_url(insight);
        }
        "product_weight" => {
            q.value = insight.value.map(str::to_string);
            q.source_image_url = ctx.source_display_url(insight);
        }
        "brand" => {
            q.value = insight.value.map(str::to_string);
            q.value_tag = insight.value_tag.map(str::to_string);
            if matches!(
                insight.predictor,
                Some("curated-list" | "taxonomy" | "whitelisted-brands")
            ) {
                q.source_image_url = generic(&["front"]);
            }
            if q.source_image_url.is_none() {
                q.source_image_url = ctx.source_display_url(insight);
            }
        }
        "packaging" => {
            let element = insight.data.get("element");
            let mut names = Vec::new();
            for (prop, kind) in [
                ("shape", TaxonomyType::PackagingShape),
                ("material", TaxonomyType::PackagingMaterial),
                ("recycling", TaxonomyType::PackagingRecycling),
            ] {
                let value = element
                    .and_then(|e| e.get(prop))
                    .and_then(|p| p.get("value_tag"))
                    .and_then(|v| v.as_str())
                    .filter(|v| !v.is_empty());
                if let Some(v) = value {
                    names.push(ctx.localized(kind, v, lang));
                }
            }
            q.value = Some(names.join(", "));
            q.source_image_url = ctx.source_display_url(insight);
        }
        "nutrition_image" | "is_upc_image" => {
            q.value = insight.value_tag.map(str::to_string);
            q.source_image_url = ctx.source_display_url(insight);
        }
        "image_orientation" => {
            q.value = insight.value_tag.map(str::to_string);
            let key = insight.data.get("image_key").map(json_text);
            let rev = insight.data.get("image_rev").map(json_text);
            if let (Some(key), Some(rev)) = (key, rev) {
                q.source_image_url =
                    image_url(ctx.images_url, insight.barcode, &format!("{key}.{rev}.400"));
            }
        }
        _ => return None,
    }
    // Empty values are left out, as Robotoff leaves out falsy ones.
    q.value_tag = q.value_tag.filter(|v| !v.is_empty());
    q.ref_image_url = q.ref_image_url.filter(|v| !v.is_empty());
    q.source_image_url = q.source_image_url.filter(|v| !v.is_empty());
    Some(q)
}

/// A JSON scalar as Python's `str()` writes it inside an f-string.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
