//! Labels: regular expressions (organic, EU organic codes, "no additives", ...), the label
//! keyword list and Cloud Vision logo annotations.

use super::content::OcrContent;
use super::document::OcrField;
use super::pattern::Caps;
use super::pattern::{group, span, OcrRegex};
use super::resources::{KeyNameProcessor, OcrResources};
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::LazyLock;

const PREDICTOR_VERSION: &str = "1";

/// How a regex match becomes a label tag.
#[derive(Debug, Clone, Copy)]
enum Tagging {
    /// The label of the pattern list.
    Fixed,
    /// `en:{country}-{bio code}-{id}` (EU organic certification codes).
    EuOrganicCode,
    /// `en:es-eco-{number}-{region}`.
    SpanishOrganicCode,
}

struct LabelRegex {
    label: &'static str,
    regex: OcrRegex,
    tagging: Tagging,
}

const EN_ORGANIC: [&str; 5] = [
    r"ingr[ée]dients?\sbiologiques?",
    r"ingr[ée]dients?\sbio[\s.,)]",
    r"agriculture ue/non ue biologique",
    r"agriculture bio(?:logique)?[\s.,)]",
    r"production bio(?:logique)?[\s.,)]",
];

/// Pattern of Spanish organic certification codes (`ES-ECO-001-AN`).
pub const ES_ECO_PATTERN: &str = r"(?<![a-zA-Z])ES[\-\s.]ECO[\-\s.](\d{3})[\-\s.]([A-Z]{2,3})";

static LABEL_REGEXES: LazyLock<Vec<LabelRegex>> = LazyLock::new(|| {
    use OcrField::{FullText as Full, FullTextContiguous as Cont};
    let fixed = |label, pattern: &str, ci, field| LabelRegex {
        label,
        regex: OcrRegex::new(pattern, ci, field),
        tagging: Tagging::Fixed,
    };
    let organic = EN_ORGANIC
        .iter()
        .map(|x| format!("(?:{x})"))
        .collect::<Vec<_>>()
        .join("|");
    vec![
        fixed("en:organic", &organic, true, Cont),
        LabelRegex {
            label: "xx-bio-xx",
            regex: OcrRegex::new(
                r"(?<![a-zA-Z])([A-Z]{2})[\-\s.](BIO|ÖKO|OKO|EKO|ØKO|ORG|Bio)[\-\s.](\d{2,3})",
                false,
                Full,
            ),
            tagging: Tagging::EuOrganicCode,
        },
        LabelRegex {
            label: "xx-bio-xx",
            regex: OcrRegex::new(ES_ECO_PATTERN, false, Full),
            tagging: Tagging::SpanishOrganicCode,
        },
        fixed(
            "fr:ab-agriculture-biologique",
            r"certifi[ée] ab[\s.,)]",
            true,
            Cont,
        ),
        fixed(
            "fr:label-rouge",
            r"(?<!\w)homologation(?: n°?)? ?la ?\d{2}\/\d{2}(?!\w)",
            true,
            Cont,
        ),
        fixed("fr:aoc", r"(?<!\w)(?:AOC)(?!\w)", false, Cont),
        fixed("en:nutriscore", r"NUTRI-SCORE", false, Full),
        fixed(
            "en:eu-non-eu-agriculture",
            r"agriculture ue\s?/\s?non\s?(?:-\s?)?ue|eu\s?/\s?non\s?(?:-\s?)?eu agriculture",
            true,
            Cont,
        ),
        fixed(
            "en:eu-agriculture",
            r"agriculture ue(?!\s?/)|(?<!-)\s?eu agriculture",
            true,
            Cont,
        ),
        fixed(
            "en:non-eu-agriculture",
            r"agriculture non\s?(?:-\s?)?ue|non\s?(?:-\s?)?eu agriculture",
            true,
            Cont,
        ),
        fixed(
            "en:no-preservatives",
            r"senza conservanti(?! arti)|без консервантов|conserveermiddelvrij|(?<!\w)(?:sans|ni) conservateur(?!s? arti)|fără conservanți|no preservative|sin conservante(?!s? arti)|ohne konservierungsstoffe",
            true,
            Cont,
        ),
        fixed(
            "en:no-flavors",
            r"без ароматизаторов|senza aromi|zonder toegevoegde smaakstoffen|(?<!\w)(?:sans|ni) ar[ôo]mes? ajout[ée]s|sin aromas?|ohne zusatz von aromen|no flavors?",
            true,
            Cont,
        ),
        fixed(
            "en:no-artificial-flavors",
            r"без искусственных ароматизаторов|ohne künstliche aromen|sin aromas? artificiales?|vrij van kunstmatige smaakstoffen|(?<!\w)(?:sans|ni) ar[ôo]mes? artificiels?|no artificial flavors?",
            true,
            Cont,
        ),
        fixed(
            "en:no-colorings",
            r"no colorings?|no colourants?|ohne farbstoffzusatz|(?<!\w)(?:sans|ni) colorants?|zonder kleurstoffen|sin colorantes?|без красителей|senza coloranti",
            true,
            Cont,
        ),
        fixed(
            "en:no-additives",
            r"zonder toevoegingen|sin aditivos(?! arti)|(?<!\w)(?:sans|ni) additif(?!s? arti)|ohne zusätze|no additives?",
            true,
            Cont,
        ),
    ]
});

/// `en:{country}-{code}-{id}`; German codes need a three-digit id.
fn eu_organic_tag(caps: &Caps<'_>) -> Option<String> {
    let country = group(caps, 1).to_lowercase();
    let code = group(caps, 2).replace(['ö', 'ø'], "o").to_lowercase();
    let id = group(caps, 3).to_lowercase();
    if country == "de" && id.chars().count() != 3 {
        return None;
    }
    Some(format!("en:{country}-{code}-{id}"))
}

/// `en:es-eco-{number}-{region}`, lowercased.
pub fn spanish_organic_tag(caps: &Caps<'_>) -> String {
    format!("en:es-eco-{}-{}", group(caps, 1), group(caps, 2)).to_lowercase()
}

/// The compiled Spanish organic code pattern (for callers that test it alone).
pub fn spanish_organic_regex() -> &'static fancy_regex::Regex {
    &ES_ECO.regex
}

static ES_ECO: LazyLock<OcrRegex> =
    LazyLock::new(|| OcrRegex::new(ES_ECO_PATTERN, false, OcrField::FullText));

fn label_prediction(tag: String, predictor: &str, data: Map<String, Value>) -> Prediction {
    let mut p = Prediction::new(PredictionType::Label);
    p.value_tag = Some(tag);
    p.predictor = Some(predictor.into());
    p.predictor_version = Some(PREDICTOR_VERSION.into());
    p.data = Value::Object(data);
    p
}

/// Labels found by the regular expressions.
pub fn find_labels_regex(content: &OcrContent<'_>) -> Vec<Prediction> {
    let mut out = Vec::new();
    for r in LABEL_REGEXES.iter() {
        let text = content.text(r.regex.field);
        for caps in r.regex.captures_in(text) {
            let tag = match r.tagging {
                Tagging::Fixed => r.label.to_string(),
                Tagging::EuOrganicCode => match eu_organic_tag(&caps) {
                    Some(t) => t,
                    None => continue,
                },
                Tagging::SpanishOrganicCode => spanish_organic_tag(&caps),
            };
            let mut data = Map::new();
            data.insert("text".into(), json!(group(&caps, 0)));
            let (start, end) = span(&caps);
            super::content::insert_bbox(&mut data, content, text, start, end);
            out.push(label_prediction(tag, "regex", data));
        }
    }
    out
}

/// Labels from the keyword list (predictor `flashtext`, automatic processing unset).
pub fn extract_label_flashtext(
    processor: &KeyNameProcessor,
    content: &OcrContent<'_>,
) -> Vec<Prediction> {
    let text = content.default_text();
    processor
        .extract_keywords(text)
        .into_iter()
        .map(|m| {
            let mut data = Map::new();
            data.insert(
                "text".into(),
                json!(text.get(m.byte_start..m.byte_end).unwrap_or("")),
            );
            super::content::insert_bbox(&mut data, content, text, m.byte_start, m.byte_end);
            label_prediction(m.value.0.clone(), "flashtext", data)
        })
        .collect()
}

/// Labels from Cloud Vision logo annotations (score as confidence, never automatic).
pub fn extract_label_logos(
    logos: &HashMap<String, String>,
    content: &OcrContent<'_>,
) -> Vec<Prediction> {
    let Some(doc) = content.document() else {
        return Vec::new();
    };
    doc.logo_annotations
        .iter()
        .filter_map(|logo| {
            let tag = logos.get(&logo.description)?;
            let mut p = label_prediction(tag.clone(), "google-cloud-vision", Map::new());
            p.automatic_processing = Some(false);
            p.confidence = Some(logo.score);
            Some(p)
        })
        .collect()
}

/// Regex labels, then keyword-list labels, then logo labels.
pub fn find_labels(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    let mut out = find_labels_regex(content);
    if let Ok(data) = res.labels() {
        out.extend(extract_label_flashtext(&data.processor, content));
        out.extend(extract_label_logos(&data.logos, content));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(text: &str) -> Vec<String> {
        find_labels_regex(&OcrContent::Text(text))
            .into_iter()
            .filter_map(|p| p.value_tag)
            .collect()
    }

    #[test]
    fn regex_labels() {
        // tests/unit/prediction/ocr/test_label.py::test_find_labels
        assert_eq!(tags("certifié ab."), vec!["fr:ab-agriculture-biologique"]);
        assert_eq!(tags("Homologation n°LA19/05"), vec!["fr:label-rouge"]);
        // Only a lowercase ö becomes o, before lowercasing (as Robotoff does).
        assert_eq!(tags("DE-ÖKO-001"), vec!["en:de-öko-001"]);
        assert_eq!(tags("DE-EKO-001"), vec!["en:de-eko-001"]);
        assert!(tags("DE-ÖKO-01").is_empty());
        assert_eq!(tags("ES-ECO-001-AN"), vec!["en:es-eco-001-an"]);
    }
}
