//! Categories from protected designations of origin (AOC / AOP / DOP mentions), checked
//! against the categories taxonomy.

use super::content::OcrContent;
use super::data_files::ResourceError;
use super::document::OcrField;
use super::pattern::{group, span, OcrRegex};
use super::resources::OcrResources;
use crate::taxonomy::{Taxonomies, Taxonomy, TaxonomyType};
use crate::types::{Prediction, PredictionType};
use once_cell::sync::Lazy;
use serde_json::{Map, Value};

/// Version of the category predictor.
pub const PREDICTOR_VERSION: &str = "1";

/// Designation patterns per language prefix of the category id; the `category` group holds
/// the designation name.
const AOC_PATTERNS: &[(&str, &str)] = &[
    (
        "fr:",
        r"(appellation)\s*(?P<category>.+)\s*(contr[ôo]l[ée]e|prot[ée]g[ée]e)",
    ),
    (
        "fr:",
        r"(?P<category>.+)\s*(appellation d'origine contr[ôo]l[ée]e|appellation d'origine prot[ée]g[ée]e)",
    ),
    (
        "es:",
        r"(?P<category>.+)(\s*denominacion de origen protegida)",
    ),
    (
        "es:",
        r"(denominacion de origen protegida\s*)(?P<category>.+)",
    ),
    ("en:", r"(?P<category>.+)\s*(aop|dop|pdo)"),
    ("en:", r"(aop|dop|pdo)\s*(?P<category>.+)"),
];

static AOC_REGEXES: Lazy<Vec<(&'static str, OcrRegex)>> = Lazy::new(|| {
    AOC_PATTERNS
        .iter()
        .map(|&(lang, pattern)| {
            (
                lang,
                OcrRegex::new(pattern, true, OcrField::FullTextContiguous),
            )
        })
        .collect()
});

/// Tag of a designation as Product Opener's tag normalisation does it: a few accents
/// folded, symbols and punctuation turned into hyphens, lowercased, hyphens collapsed and
/// trimmed.
pub fn normalize_tag(value: &str) -> String {
    const SYMBOLS: &str = "¢£¤¥§©ª®°²³µ¶¹º¼½¾×‰€™";
    const PUNCTUATION: &str =
        "!\"#$%&'()*+,/:;<=>?@[\\]^_`{|}~¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿×ˆ˜–—‘’‚“”„†‡•…‰‹›€™\t";
    let mut out = String::with_capacity(value.len());
    let mut skip_to = 0;
    for (i, c) in value.char_indices() {
        if i < skip_to {
            continue;
        }
        // `&name;` HTML entities become a hyphen.
        if c == '&' {
            if let Some(len) = value.get(i..).and_then(html_entity_len) {
                out.push('-');
                skip_to = i + len;
                continue;
            }
        }
        match c {
            c if SYMBOLS.contains(c) => out.push('-'),
            'é' | 'è' => out.push('e'),
            'à' => out.push('a'),
            'ù' => out.push('u'),
            c if c.is_whitespace() || PUNCTUATION.contains(c) => out.push('-'),
            c => out.push(c),
        }
    }
    let lower = out.to_lowercase();
    let mut collapsed = String::with_capacity(lower.len());
    for c in lower.chars() {
        if c == '-' && collapsed.ends_with('-') {
            continue;
        }
        collapsed.push(c);
    }
    collapsed.trim_matches('-').to_string()
}

/// Byte length of an `&word;` entity at the start of `text` (word characters only).
fn html_entity_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix('&')?;
    let mut len = 0;
    for c in body.chars() {
        if c == ';' {
            return (len > 0).then_some(len + 2);
        }
        if !(c.is_alphanumeric() || c == '_') {
            return None;
        }
        len += c.len_utf8();
    }
    None
}

fn categories(res: &OcrResources) -> Result<std::sync::Arc<Taxonomy>, ResourceError> {
    let taxonomies = res.get_or_load(|dir| Ok(Taxonomies::new(dir)))?;
    taxonomies
        .get(TaxonomyType::Category)
        .map_err(|e| ResourceError::format(res.data_dir(), e.to_string()))
}

/// Category predictions of the content: one per designation whose tag is a category id.
pub fn find_category(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    let taxonomy = match categories(res) {
        Ok(t) => t,
        Err(err) => {
            tracing::warn!(error = %err, "categories taxonomy unavailable");
            return Vec::new();
        }
    };
    find_category_with(content, &taxonomy)
}

/// [`find_category`] with an explicit categories taxonomy.
pub fn find_category_with(content: &OcrContent<'_>, taxonomy: &Taxonomy) -> Vec<Prediction> {
    let mut predictions = Vec::new();
    for (lang, regex) in AOC_REGEXES.iter() {
        let (text, matches) = regex.captures(content);
        for caps in matches {
            let candidate = format!("{lang}{}", normalize_tag(group_named(&caps)));
            let Some(node) = taxonomy.get(&candidate) else {
                continue;
            };
            let (start, end) = span(&caps);
            let mut data = Map::new();
            data.insert("text".into(), Value::String(group(&caps, 0).to_string()));
            super::content::insert_bbox(&mut data, content, text, start, end);
            let mut prediction = Prediction::new(PredictionType::Category);
            prediction.value_tag = Some(node.id().to_string());
            prediction.predictor = Some("regex".to_string());
            prediction.data = Value::Object(data);
            prediction.automatic_processing = Some(false);
            prediction.predictor_version = Some(PREDICTOR_VERSION.to_string());
            predictions.push(prediction);
        }
    }
    predictions
}

fn group_named<'t>(caps: &super::pattern::Caps<'t>) -> &'t str {
    caps.name("category").map_or("", |m| m.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources() -> OcrResources {
        OcrResources::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
    }

    fn value_tags(text: &str) -> Vec<String> {
        let mut tags: Vec<String> = find_category(&OcrContent::Text(text), &resources())
            .into_iter()
            .filter_map(|p| p.value_tag)
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// `tests/unit/prediction/ocr/test_category.py::test_find_category_from_AOC`
    /// (conformance `category-001`..`004` and `007`).
    #[test]
    fn designations_map_to_category_ids() {
        let cases = [
            (
                "Appellation Clairette de Die Controlée",
                "fr:clairette-de-die",
            ),
            (
                "Appellation Clairette de Die Protégée",
                "fr:clairette-de-die",
            ),
            (
                "Appellation    Clairette \tde Die\n Protégée",
                "fr:clairette-de-die",
            ),
            ("Chinon appellation d'origine protégée", "fr:chinon"),
            ("Mixed puffed cereals    AOP", "en:mixed-puffed-cereals"),
        ];
        for (text, tag) in cases {
            assert_eq!(value_tags(text), [tag], "{text:?}");
        }
    }

    /// `category-005` and `category-006` need ids that the shipped categories taxonomy lacks
    /// (`es:pimenton-de-la-vera`, `en:mozzarella-di-bufala-campana`): no prediction, as with
    /// the reference on the same data.
    #[test]
    fn designations_unknown_to_the_taxonomy_give_nothing() {
        assert!(value_tags("Denominacion de Origen ProtegidA PIMENTON de la VERA").is_empty());
        assert!(value_tags("DOP Mozzarella    di bufala campana").is_empty());
        assert!(value_tags("Ingrédients: sucre").is_empty());
    }

    #[test]
    fn prediction_fields_follow_the_reference() {
        let predictions = find_category(
            &OcrContent::Text("Chinon appellation d'origine protégée"),
            &resources(),
        );
        let Some(p) = predictions.first() else {
            panic!("no prediction")
        };
        assert_eq!(p.predictor.as_deref(), Some("regex"));
        assert_eq!(p.automatic_processing, Some(false));
        assert_eq!(p.predictor_version.as_deref(), Some("1"));
        assert_eq!(
            p.data,
            serde_json::json!({"text": "Chinon appellation d'origine protégée"})
        );
    }

    #[test]
    fn tags_are_normalised_like_product_opener() {
        assert_eq!(normalize_tag("Clairette de Die "), "clairette-de-die");
        assert_eq!(normalize_tag("Côtes du Rhône"), "côtes-du-rhône");
        assert_eq!(normalize_tag("CRÉMANT"), "crémant");
        assert_eq!(normalize_tag("vin&amp;fromage 100%"), "vin-fromage-100");
        assert_eq!(normalize_tag("a -- b®"), "a-b");
        assert_eq!(normalize_tag("x & y"), "x-y");
    }
}
