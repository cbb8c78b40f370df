//! Product weight / volume extraction ("Poids net : 150 g", "2 x 50 cl", "500 g net").

use super::content::OcrContent;
use super::document::OcrField;
use super::pattern::Caps;
use super::pattern::{group, span, OcrRegex};
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

const PREDICTOR_VERSION: &str = "1";

/// How a weight was found; the matcher name is written in `data.matcher_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightMatcher {
    WithMention,
    WithEndingMention,
    MultiPackaging,
    NoMention,
}

impl WeightMatcher {
    pub const ALL: [WeightMatcher; 4] = [
        Self::WithMention,
        Self::WithEndingMention,
        Self::MultiPackaging,
        Self::NoMention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::WithMention => "with_mention",
            Self::WithEndingMention => "with_ending_mention",
            Self::MultiPackaging => "multi_packaging",
            Self::NoMention => "no_mention",
        }
    }

    pub fn priority(self) -> i64 {
        match self {
            Self::WithMention | Self::WithEndingMention => 1,
            Self::MultiPackaging => 2,
            Self::NoMention => 3,
        }
    }

    pub fn regex(self) -> &'static OcrRegex {
        match self {
            Self::WithMention => &WITH_MENTION,
            Self::WithEndingMention => &WITH_ENDING_MENTION,
            Self::MultiPackaging => &MULTI_PACKAGING,
            Self::NoMention => &NO_MENTION,
        }
    }
}

const UNITS: &str = r"(fl oz|dle?|cle?|mge?|mle?|lbs|oz|ge?|kge?|le?)";
const NUMBER: &str = r"([0-9]+[,.]?[0-9]*)";

static WITH_MENTION: LazyLock<OcrRegex> = LazyLock::new(|| {
    OcrRegex::new(
        &format!(
            r"(?<![a-z])(poids|poids net [aà] l'emballage|poids net|poids net égoutté|masse nette|volume net total|net weight|net wt\.?|peso neto|peso liquido|netto[ -]?gewicht)\s?:?\s?{NUMBER}\s?{UNITS}(?![a-z])"
        ),
        true,
        OcrField::FullTextContiguous,
    )
});

static WITH_ENDING_MENTION: LazyLock<OcrRegex> = LazyLock::new(|| {
    OcrRegex::new(
        &format!(r"(?<![a-z]){NUMBER}\s?{UNITS}\s(net)(?![a-z])"),
        true,
        OcrField::FullTextContiguous,
    )
});

static MULTI_PACKAGING: LazyLock<OcrRegex> = LazyLock::new(|| {
    OcrRegex::new(
        &format!(r"(?<![a-z])(\d+)\s?x\s?{NUMBER}\s?{UNITS}(?![a-z])"),
        true,
        OcrField::FullTextContiguous,
    )
});

static NO_MENTION: LazyLock<OcrRegex> = LazyLock::new(|| {
    OcrRegex::new(
        r"(?<![a-z])([0-9]+[,.]?[0-9]*)\s?(dle|cle|mge|mle|ge|kge)(?![a-z])",
        true,
        OcrField::FullTextContiguous,
    )
});

/// Parses a decimal number the way Python's `float()` accepts the matched values
/// (digits with at most one `.`, possibly leading or trailing).
fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t == "." {
        return None;
    }
    t.parse::<f64>().ok()
}

/// A weight value is valid when it is a positive whole number, and does not start with
/// `0` unless it has a decimal separator.
pub fn is_valid_weight(value: &str) -> bool {
    let v = value.replace(',', ".");
    if v.starts_with('0') && !v.contains('.') {
        return false;
    }
    let Some(f) = parse_float(&v) else {
        return false;
    };
    if f <= 0.0 {
        return false;
    }
    f.trunc() == f
}

/// A weight is extreme (and dropped) with more than 20 items, or outside 10 g–10 kg
/// (10 ml–10 l). Units other than `g` and `ml` are an error.
pub fn is_extreme_weight(
    normalized_value: f64,
    unit: &str,
    count: Option<i64>,
) -> Result<bool, String> {
    if count.is_some_and(|c| c > 20) {
        return Ok(true);
    }
    match unit {
        "g" | "ml" => Ok(normalized_value >= 10000.0 || normalized_value <= 10.0),
        other => Err(format!("invalid unit: {other}, 'g', or 'ml' expected")),
    }
}

/// Values above 1000 whose integer part does not end with 0 are suspicious.
pub fn is_suspicious_weight(normalized_value: f64, _unit: &str) -> bool {
    if normalized_value > 1000.0 {
        let int = normalized_value.trunc();
        return int % 10.0 != 0.0;
    }
    false
}

/// A normalised quantity: grams or millilitres, whole values as integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalized {
    pub value: f64,
    pub unit: &'static str,
}

impl Normalized {
    /// JSON value: an integer when the value is (close to) whole, like Robotoff.
    pub fn json_value(&self) -> Value {
        let floor = self.value.floor();
        if is_close(floor, self.value) && floor.abs() < 9.0e15 {
            json!(floor as i64)
        } else {
            json!(self.value)
        }
    }
}

fn is_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Converts a value and unit to grams or millilitres (`fl oz` counts as 30 ml), with the
/// same floating-point results as Robotoff.
pub fn normalize_weight(value: &str, unit: &str) -> Option<Normalized> {
    let v = parse_float(&value.replace(',', "."))?;
    let (factor, unit) = match unit {
        "g" => (1.0, "g"),
        "kg" => (1000.0, "g"),
        "mg" => (0.001, "g"),
        // Pint's conversion factors, rounding included (Robotoff converts with Pint).
        "lbs" => (453.592_370_000_000_1, "g"),
        "oz" => (28.349_523_125_000_005, "g"),
        "ml" => (1.0, "ml"),
        "l" => (1000.0, "ml"),
        "dl" => (100.0, "ml"),
        "cl" => (10.0, "ml"),
        "fl oz" => (30.0, "ml"),
        _ => return None,
    };
    let value = if factor == 1.0 { v } else { v * factor };
    let floor = value.floor();
    let value = if is_close(floor, value) { floor } else { value };
    Some(Normalized { value, unit })
}

fn strip_unit_e(unit: &str) -> String {
    let lower = unit.to_lowercase();
    if matches!(
        lower.as_str(),
        "dle" | "cle" | "mge" | "mle" | "ge" | "kge" | "le"
    ) {
        lower.trim_end_matches('e').to_string()
    } else {
        lower
    }
}

/// Data of one weight match; `None` when the value is invalid or extreme.
fn process_match(caps: &Caps<'_>, matcher: WeightMatcher) -> Option<(String, Map<String, Value>)> {
    let raw = group(caps, 0);
    let (prompt, value, unit, count) = match matcher {
        WeightMatcher::WithMention => (Some(group(caps, 1)), group(caps, 2), group(caps, 3), None),
        WeightMatcher::WithEndingMention => {
            (Some(group(caps, 3)), group(caps, 1), group(caps, 2), None)
        }
        WeightMatcher::NoMention => (None, group(caps, 1), group(caps, 2), None),
        WeightMatcher::MultiPackaging => {
            (None, group(caps, 2), group(caps, 3), Some(group(caps, 1)))
        }
    };
    let unit = strip_unit_e(unit);
    if !is_valid_weight(value) {
        return None;
    }
    let mut data = Map::new();
    let text;
    let automatic;
    if let Some(count) = count {
        let normalized = normalize_weight(value, &unit)?;
        let count_n: i64 = count.parse().unwrap_or(i64::MAX);
        if is_extreme_weight(normalized.value, normalized.unit, Some(count_n)).unwrap_or(true) {
            return None;
        }
        text = format!("{count} x {value} {unit}");
        automatic = !is_suspicious_weight(normalized.value, normalized.unit);
        data.insert("raw".into(), json!(raw));
        data.insert("value".into(), json!(value));
        data.insert("unit".into(), json!(unit));
        data.insert("count".into(), json!(count));
        data.insert("normalized_value".into(), normalized.json_value());
        data.insert("normalized_unit".into(), json!(normalized.unit));
        data.insert("automatic_processing".into(), json!(automatic));
    } else {
        let value = value.trim_matches('.');
        let normalized = normalize_weight(value, &unit)?;
        if is_extreme_weight(normalized.value, normalized.unit, None).unwrap_or(true) {
            return None;
        }
        text = format!("{value} {unit}");
        let default_automatic = matcher != WeightMatcher::NoMention;
        automatic = default_automatic && !is_suspicious_weight(normalized.value, normalized.unit);
        data.insert("raw".into(), json!(raw));
        data.insert("value".into(), json!(value));
        data.insert("unit".into(), json!(unit));
        data.insert("normalized_value".into(), normalized.json_value());
        data.insert("normalized_unit".into(), json!(normalized.unit));
        data.insert("automatic_processing".into(), json!(automatic));
        if let Some(p) = prompt {
            data.insert("prompt".into(), json!(p));
        }
    }
    data.insert("matcher_type".into(), json!(matcher.name()));
    data.insert("priority".into(), json!(matcher.priority()));
    Some((text, data))
}

/// Weight predictions of every matcher, in matcher order then text order.
pub fn find_product_weight(content: &OcrContent<'_>) -> Vec<Prediction> {
    let mut out = Vec::new();
    for matcher in WeightMatcher::ALL {
        let ocr_regex = matcher.regex();
        let text = content.text(ocr_regex.field);
        for caps in ocr_regex.captures_in(text) {
            let Some((value, mut data)) = process_match(&caps, matcher) else {
                continue;
            };
            let (start, end) = span(&caps);
            super::content::insert_bbox(&mut data, content, text, start, end);
            let automatic = data.get("automatic_processing").and_then(Value::as_bool);
            let mut p = Prediction::new(PredictionType::ProductWeight);
            p.value = Some(value);
            p.automatic_processing = automatic;
            p.data = Value::Object(data);
            p.predictor = Some("regex".into());
            p.predictor_version = Some(PREDICTOR_VERSION.into());
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        for m in WeightMatcher::ALL {
            assert!(m.regex().regex.as_str().len() > 10);
        }
    }

    #[test]
    fn validity_rules() {
        // tests/unit/prediction/ocr/test_product_weight.py::test_is_valid_weight
        assert!(is_valid_weight("25"));
        assert!(is_valid_weight("25.0"));
        assert!(!is_valid_weight("025"));
        assert!(!is_valid_weight("0"));
        assert!(!is_valid_weight("25.5"));
        assert!(!is_valid_weight("a"));
    }

    #[test]
    fn suspicious_when_above_1000_not_ending_with_zero() {
        assert!(is_suspicious_weight(1001.0, "g"));
        assert!(!is_suspicious_weight(1000.0, "g"));
        assert!(!is_suspicious_weight(1010.0, "g"));
    }

    #[test]
    fn weights_normalise_to_grams_and_millilitres() {
        assert_eq!(
            normalize_weight("1,5", "kg").map(|n| n.json_value()),
            Some(json!(1500))
        );
        assert_eq!(
            normalize_weight("33", "cl").map(|n| n.json_value()),
            Some(json!(330))
        );
        assert_eq!(
            normalize_weight("2", "fl oz").map(|n| n.json_value()),
            Some(json!(60))
        );
        assert_eq!(normalize_weight("1", "xx"), None);
    }
}
