//! Packager codes: EU health marks (FR, DE), French EMB codes, FSC, RSPO, French gluten
//! codes, fishing vessel codes (keyword list) and US (USDA) establishment numbers.

use super::content::OcrContent;
use super::document::OcrField;
use super::pattern::Caps;
use super::pattern::{group, span, OcrRegex};
use super::resources::{KeyNameProcessor, OcrResources};
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

const PREDICTOR_VERSION: &str = "1";

/// How a matched code is turned into a value.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// The matched text itself.
    Raw,
    FrEmb,
    Fsc,
    EuFr,
    EuDe,
}

struct CodeRegex {
    name: &'static str,
    regex: OcrRegex,
    format: Format,
}

static PACKAGER_CODES: LazyLock<Vec<CodeRegex>> = LazyLock::new(|| {
    vec![
        CodeRegex {
            name: "fr_emb",
            regex: OcrRegex::new(
                r"emb ?(\d ?\d ?\d ?\d ?\d) ?([a-z])?(?![a-z0-9])",
                true,
                OcrField::FullText,
            ),
            format: Format::FrEmb,
        },
        CodeRegex {
            name: "fsc",
            regex: OcrRegex::new(r"fsc.? ?(c\d{6})", true, OcrField::FullText),
            format: Format::Fsc,
        },
        CodeRegex {
            name: "eu_fr",
            regex: OcrRegex::new(
                r"fr (\d{2,3}|2[ab])[\-\s.](\d{3})[\-\s.](\d{3}) (ce|ec)(?![a-z0-9])",
                true,
                OcrField::FullTextContiguous,
            ),
            format: Format::EuFr,
        },
        CodeRegex {
            name: "eu_de",
            regex: OcrRegex::new(
                r"de (bb|be|bw|by|hb|he|hh|mv|ni|nw|rp|sh|sl|sn|st|th)[\-\s.](\d{1,5})[\-\s.] ?(eg|ec)(?![a-z0-9])",
                true,
                OcrField::FullTextContiguous,
            ),
            format: Format::EuDe,
        },
        CodeRegex {
            name: "rspo",
            regex: OcrRegex::new(
                r"(?<!\w)RSPO-\d{7}(?!\d)",
                false,
                OcrField::FullTextContiguous,
            ),
            format: Format::Raw,
        },
        CodeRegex {
            name: "fr_gluten",
            regex: OcrRegex::new(r"FR-\d{3}-\d{3}", false, OcrField::FullTextContiguous),
            format: Format::Raw,
        },
    ]
});

fn format_code(format: Format, caps: &Caps<'_>) -> String {
    match format {
        Format::Raw => group(caps, 0).to_string(),
        Format::FrEmb => {
            let city = group(caps, 1).replace(' ', "");
            format!("EMB {}{}", city, group(caps, 2)).to_uppercase()
        }
        Format::Fsc => format!("FSC-{}", group(caps, 1)).to_uppercase(),
        Format::EuFr => format!(
            "FR {}.{}.{} EC",
            group(caps, 1),
            group(caps, 2),
            group(caps, 3)
        )
        .to_uppercase(),
        Format::EuDe => format!("DE {}-{} EC", group(caps, 1), group(caps, 2)).to_uppercase(),
    }
}

fn packager_prediction(
    value: String,
    data: Map<String, Value>,
    predictor: Option<&str>,
) -> Prediction {
    let mut p = Prediction::new(PredictionType::PackagerCode);
    p.value = Some(value);
    p.data = Value::Object(data);
    p.automatic_processing = Some(true);
    p.predictor = predictor.map(str::to_string);
    p.predictor_version = Some(PREDICTOR_VERSION.into());
    p
}

/// Codes found by the regular expressions (no predictor name, as in Robotoff).
pub fn find_packager_codes_regex(content: &OcrContent<'_>) -> Vec<Prediction> {
    let mut out = Vec::new();
    for code in PACKAGER_CODES.iter() {
        let text = content.text(code.regex.field);
        for caps in code.regex.captures_in(text) {
            let value = format_code(code.format, &caps);
            let mut data = Map::new();
            data.insert("raw".into(), json!(group(&caps, 0)));
            data.insert("type".into(), json!(code.name));
            let (start, end) = span(&caps);
            super::content::insert_bbox(&mut data, content, text, start, end);
            out.push(packager_prediction(value, data, None));
        }
    }
    out
}

/// Fishing vessel codes from the keyword list (predictor `flashtext`).
pub fn extract_fishing_codes(
    processor: &KeyNameProcessor,
    content: &OcrContent<'_>,
) -> Vec<Prediction> {
    let text = content.default_text();
    processor
        .extract_keywords(text)
        .into_iter()
        .map(|m| {
            let mut data = Map::new();
            data.insert("type".into(), json!("fishing"));
            data.insert(
                "raw".into(),
                json!(text.get(m.byte_start..m.byte_end).unwrap_or("")),
            );
            super::content::insert_bbox(&mut data, content, text, m.byte_start, m.byte_end);
            packager_prediction(m.value.0.clone(), data, Some("flashtext"))
        })
        .collect()
}

static USDA_REGEXES: LazyLock<Vec<OcrRegex>> = LazyLock::new(|| {
    vec![
        OcrRegex::new(
            r"EST\.*\s*\d{1,5}[A-Z]{0,3}\.*",
            false,
            OcrField::FullTextContiguous,
        ),
        OcrRegex::new(r"[A-Z]\d{1,5}[A-Z]?", false, OcrField::FullTextContiguous),
    ]
});

/// USDA establishment code of a matched text, as written in the USDA list (`EST. 522`):
/// spaces and dots are removed before the lookup.
pub fn usda_code_of(processor: &KeyNameProcessor, matched: &str) -> Option<String> {
    let compact: String = matched
        .to_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect();
    processor
        .extract_keywords(&compact)
        .into_iter()
        .next()
        .map(|m| m.value.0.clone())
}

/// USDA codes. Robotoff 1.85 ships these patterns disabled (they over-match), so they are
/// not part of [`find_packager_codes`]; this runs them on demand.
pub fn find_usda_codes(processor: &KeyNameProcessor, content: &OcrContent<'_>) -> Vec<Prediction> {
    let mut out = Vec::new();
    for r in USDA_REGEXES.iter() {
        let text = content.text(r.field);
        for caps in r.captures_in(text) {
            let Some(value) = usda_code_of(processor, group(&caps, 0)) else {
                continue;
            };
            let mut data = Map::new();
            data.insert("raw".into(), json!(group(&caps, 0)));
            data.insert("type".into(), json!("USDA"));
            let (start, end) = span(&caps);
            super::content::insert_bbox(&mut data, content, text, start, end);
            out.push(packager_prediction(value, data, None));
        }
    }
    out
}

/// Regex codes, then fishing codes.
pub fn find_packager_codes(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    let mut out = find_packager_codes_regex(content);
    if let Ok(processor) = res.fishing_codes() {
        out.extend(extract_fishing_codes(processor, content));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        find_packager_codes_regex(&OcrContent::Text(text))
            .into_iter()
            .filter_map(|p| p.value)
            .collect()
    }

    #[test]
    fn regex_codes_are_normalised() {
        // tests/unit/prediction/ocr/test_packager_code.py::test_find_packager_codes
        assert_eq!(
            values("Sustainable palm oil RSPO-5068502 "),
            vec!["RSPO-5068502"]
        );
        assert_eq!(values("emb 44 159 c"), vec!["EMB 44159C"]);
        assert_eq!(values("FR 29.116.001 CE"), vec!["FR 29.116.001 EC"]);
        assert_eq!(values("de by-123 eg"), vec!["DE BY-123 EC"]);
        assert_eq!(values("FSC C123456"), vec!["FSC-C123456"]);
    }

    #[test]
    fn usda_lookup_compacts_the_match() {
        let kp = super::super::keywords::build_key_name_processor(
            std::path::Path::new("usda"),
            ["EST. 522||EST522"],
            |_, _| true,
        )
        .ok();
        let found = kp.as_ref().and_then(|kp| usda_code_of(kp, "EST. 522"));
        assert_eq!(found.as_deref(), Some("EST. 522"));
    }
}
