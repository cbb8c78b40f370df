//! Post-processing of the nutrition extractor (Nutri-Sight, LayoutLMv3) token
//! classification output.
//!
//! The pipeline is:
//!
//! 1. [`aggregate_entities`]: merge runs of consecutive per-word predictions that
//!    share the same (non-`O`) entity type into one aggregated entity.
//! 2. [`postprocess_single`]: turn an aggregated entity into a nutrient name
//!    (`"energy-kcal_100g"`, `"serving_size"`, ...), a cleaned text, a value, a unit
//!    and a validity flag. Numeric values and units are parsed by
//!    [`match_nutrient_value`].
//! 3. [`postprocess`]: apply step 2 to every aggregated entity, then invalidate every
//!    nutrient name that was predicted more than once (`invalid_reason =
//!    "multiple_entities"`).
//! 4. [`nutrients_json`]: keep the valid entities, keyed by nutrient name, in the
//!    JSON shape stored in the prediction's `nutrients` field.
//!
//! Text handling follows the reference behaviour precisely: whitespace means the
//! Unicode whitespace set used by the reference (which, unlike Rust's
//! [`char::is_whitespace`], also contains U+001C–U+001F), digits are ASCII only, and
//! lengths and prefixes are counted in characters, not bytes.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// One per-word prediction, before aggregation.
///
/// `entity` is the predicted label without its `B-`/`I-` prefix (e.g. `"FAT_100G"`),
/// or `"O"` for words that are not part of any entity. `word` is the raw OCR word,
/// including its trailing break character (`" "` or `"\n"`). `index` is the word
/// index; `char_start`/`char_end` are the word's character offsets in the full text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawEntity {
    pub word: String,
    pub entity: String,
    #[serde(serialize_with = "serialize_score")]
    pub score: f32,
    pub index: usize,
    pub char_start: usize,
    pub char_end: usize,
}

/// A run of consecutive words that share the same entity type.
///
/// `entity` keeps the upper-case label (e.g. `"SALT_SERVING"`). `score` is the score
/// of the first word of the run. `start`/`end` are word indices (`end` exclusive);
/// `char_end` is the last word's `char_end`, so it includes that word's trailing
/// break character.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregatedEntity {
    pub entity: String,
    pub words: Vec<String>,
    #[serde(serialize_with = "serialize_score")]
    pub score: f32,
    pub start: usize,
    pub end: usize,
    pub char_start: usize,
    pub char_end: usize,
}

/// An aggregated entity after value/unit extraction and validation.
///
/// `entity` is the output nutrient name (e.g. `"saturated-fat_100g"` or
/// `"serving_size"`). `invalid_reason` is only set (to `"multiple_entities"`) when
/// the same nutrient name was predicted more than once; it is omitted from the JSON
/// when absent. Entities that are invalid because of their value or unit have
/// `valid == false` and no `invalid_reason`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostprocessedEntity {
    pub entity: String,
    pub text: String,
    pub value: Option<String>,
    pub unit: Option<String>,
    #[serde(serialize_with = "serialize_score")]
    pub score: f32,
    pub start: usize,
    pub end: usize,
    pub char_start: usize,
    pub char_end: usize,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
}

/// Scores are single-precision model outputs; they are written to JSON as the
/// widened `f64` value (shortest round-trip representation), e.g.
/// `0.9993377327919006`.
fn serialize_score<S: Serializer>(score: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(f64::from(*score))
}

/// Reason attached to every entity whose nutrient name was predicted more than once.
pub const MULTIPLE_ENTITIES_REASON: &str = "multiple_entities";

/// Number (optionally prefixed by `<`), or the letter `O` that OCR often returns for
/// zero, optionally followed by one space and a unit. Case-insensitive. The unit
/// alternatives are tried in this order at a given position: `g`, `mg`, `µg`, `mcg`,
/// `kj`, `kcal`. Built lazily; if it could not be built, it is treated as never
/// matching.
static NUTRIENT_VALUE_REGEX: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(< ?)?((?:[0-9]+[,.]?[0-9]*)|O) ?(g|mg|µg|mcg|kj|kcal)?").ok()
});

/// Nutrient label prefixes (lower-case, underscore form) whose values are expressed
/// in grams, so a trailing `8`/`9` may be an OCR misreading of the unit `g`.
const GRAM_NUTRIENT_PREFIXES: [&str; 9] = [
    "proteins",
    "sugars",
    "carbohydrates",
    "fat",
    "fiber",
    "salt",
    "saturated_fat",
    "added_sugars",
    "trans_fat",
];

/// Whitespace as understood by the reference text handling: Rust's Unicode
/// `White_Space` set plus the information separators U+001C–U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Remove surrounding whitespace, then surrounding `(`, `)` and `/` characters.
/// Whitespace uncovered by the second step is kept (`"/ 5"` becomes `" 5"`).
fn clean_word(word: &str) -> &str {
    word.trim_matches(is_py_space)
        .trim_matches(|c| c == '(' || c == ')' || c == '/')
}

/// Merge runs of consecutive raw entries that have the same entity type.
///
/// `B-`/`I-` prefixes have already been removed, so a `B-` tag does not start a
/// new entity on its own: only a change of entity type or an `O` entry ends the
/// current run. `O` entries are dropped. Each aggregated entity keeps the score of
/// its first word, the word index range `start..end` and the character range from
/// the first word's `char_start` to the last word's `char_end`.
pub fn aggregate_entities(raw: &[RawEntity]) -> Vec<AggregatedEntity> {
    let mut out = Vec::new();
    let mut current: Option<AggregatedEntity> = None;
    for pre in raw {
        if pre.entity == "O" {
            if let Some(cur) = current.take() {
                out.push(cur);
            }
            continue;
        }
        match current.as_mut() {
            Some(cur) if cur.entity == pre.entity => {
                cur.words.push(pre.word.clone());
                cur.end = pre.index + 1;
                cur.char_end = pre.char_end;
            }
            _ => {
                if let Some(cur) = current.take() {
                    out.push(cur);
                }
                current = Some(AggregatedEntity {
                    entity: pre.entity.clone(),
                    words: vec![pre.word.clone()],
                    score: pre.score,
                    start: pre.index,
                    end: pre.index + 1,
                    char_start: pre.char_start,
                    char_end: pre.char_end,
                });
            }
        }
    }
    if let Some(cur) = current {
        out.push(cur);
    }
    out
}

/// Extract a nutrient value and unit from an entity's text.
///
/// `entity_label` is the lower-case label in underscore form (e.g.
/// `"saturated_fat_100g"`). Returns `(value, unit, is_valid)`.
///
/// The first (leftmost) occurrence of a number, or of the letter `O`/`o`, is used,
/// even inside a word (`"Sodium"` gives `"0"`). If nothing matches, the result is
/// `(None, None, false)`. Otherwise:
/// - commas become dots; a leading `<` is kept as `"< "` (`"<0,5"` → `"< 0.5"`);
/// - the letter `O`/`o` on its own becomes `"0"`;
/// - without an explicit unit, energy labels get the unit from the label (`kcal` or
///   `kj`); for gram-based nutrients a trailing `8`/`9` is read as a misrecognised
///   `g` and removed (`"219"` → `"21"`, `"0.19"` → `"0.1"`, `"08"` → `"0"`), unless
///   the value is at most two characters without a dot (besides `"08"`/`"09"`) or
///   ends with `.8`/`.9`;
/// - an explicit unit is lower-cased and `mcg` becomes `µg` (U+00B5); the result is
///   invalid when an energy label has a non-matching unit, or when `kcal`/`kj`
///   appears on a label of a different kind.
pub fn match_nutrient_value(
    text: &str,
    entity_label: &str,
) -> (Option<String>, Option<String>, bool) {
    let caps = match NUTRIENT_VALUE_REGEX
        .as_ref()
        .and_then(|re| re.captures(text))
    {
        Some(caps) => caps,
        None => return (None, None, false),
    };
    let mut is_valid = true;
    let number = caps.get(2).map_or("", |m| m.as_str());
    let mut value = number.replace(',', ".");
    if let Some(prefix) = caps.get(1) {
        value = format!("{} {}", prefix.as_str().trim_matches(is_py_space), value);
    }
    if value == "O" || value == "o" {
        value = "0".to_string();
    }

    let unit = match caps.get(3) {
        None => {
            let mut unit = None;
            if entity_label.starts_with("energy_") {
                unit = entity_label.split('_').nth(1).map(str::to_lowercase);
            }
            if GRAM_NUTRIENT_PREFIXES
                .iter()
                .any(|prefix| entity_label.starts_with(prefix))
                && unit_g_misread_as_digit(&value)
            {
                unit = Some("g".to_string());
                value.pop();
            }
            unit
        }
        Some(m) => {
            let mut unit = m.as_str().to_lowercase();
            if unit == "mcg" {
                unit = "µg".to_string();
            }
            if (entity_label.starts_with("energy_kcal") && unit != "kcal")
                || (entity_label.starts_with("energy_kj") && unit != "kj")
            {
                is_valid = false;
            }
            if (unit == "kcal" && !entity_label.starts_with("energy_kcal"))
                || (unit == "kj" && !entity_label.starts_with("energy_kj"))
            {
                is_valid = false;
            }
            Some(unit)
        }
    };
    (Some(value), unit, is_valid)
}

/// Whether a unit-less value looks like a number followed by the unit `g` that OCR
/// read as `8` or `9`.
fn unit_g_misread_as_digit(value: &str) -> bool {
    let has_dot = value.contains('.');
    value == "08"
        || value == "09"
        || (value.chars().count() > 2 && !has_dot && (value.ends_with('8') || value.ends_with('9')))
        || (value.ends_with('8') && has_dot && !value.ends_with(".8"))
        || (value.ends_with('9') && has_dot && !value.ends_with(".9"))
}

/// Detect a serving size whose unit `g` was read as `9`, and return the number that
/// precedes it.
///
/// The text must start (at its very beginning) with: one or more ASCII digits, an
/// optional `,` or `.`, zero or more ASCII digits, optional whitespace, then `9`.
/// The candidates are explored in the order of a backtracking matcher with greedy
/// quantifiers (most digits first, separator taken before not taken, most
/// whitespace first), and the first success wins. This means a `9` that belongs to
/// the number itself can be taken as the unit: `"42.5 9"` gives `"42.5"`, but
/// `"190 g"` gives `"1"`, `"29 g"` gives `"2"` and `"19"` gives `"1"`.
fn serving_size_missing_g(text: &str) -> Option<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let char_at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let byte_offset = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let run_len = |from: usize, pred: &dyn Fn(char) -> bool| {
        chars
            .get(from..)
            .map_or(0, |rest| rest.iter().take_while(|&&(_, c)| pred(c)).count())
    };
    let is_digit = |c: char| c.is_ascii_digit();

    let leading_digits = run_len(0, &is_digit);
    for i in (1..=leading_digits).rev() {
        let separator_here = matches!(char_at(i), Some(',' | '.'));
        let separator_choices: &[bool] = if separator_here {
            &[true, false]
        } else {
            &[false]
        };
        for &take_separator in separator_choices {
            let after_separator = i + usize::from(take_separator);
            let fraction_digits = run_len(after_separator, &is_digit);
            for j in (0..=fraction_digits).rev() {
                let number_end = after_separator + j;
                let spaces = run_len(number_end, &is_py_space);
                for k in (0..=spaces).rev() {
                    if char_at(number_end + k) == Some('9') {
                        return text.get(..byte_offset(number_end));
                    }
                }
            }
        }
    }
    None
}

/// Convert the lower-case underscore label into the output nutrient name: the
/// nutrient part uses dashes and is joined to its basis (`100g` or `serving`) by an
/// underscore (`"saturated_fat_100g"` → `"saturated-fat_100g"`).
/// `"serving_size"` is kept as is.
fn output_entity_name(label: &str) -> String {
    if label == "serving_size" {
        return label.to_string();
    }
    match label.rsplit_once('_') {
        Some((base, per)) => format!("{}_{}", base.replace('_', "-"), per),
        None => label.to_string(),
    }
}

/// Remove a leading `kj/` (any case) from a word longer than three characters
/// (`"kJ/126"` → `"126"`); the word `"kj/"` itself is left unchanged.
fn strip_kj_prefix(word: &mut String) {
    let prefix: String = word.chars().take(3).collect();
    if word.chars().count() > 3 && prefix.to_lowercase() == "kj/" {
        *word = word.chars().skip(3).collect();
    }
}

/// Post-process one aggregated entity.
///
/// Each word is stripped of surrounding whitespace and then of surrounding `(`, `)`
/// and `/`. For energy labels, a first word starting with `kj/` (any case) and
/// longer than three characters loses that prefix (`"kJ/126"` → `"126"`). The words
/// are joined with single spaces to form `text`.
///
/// - `serving_size`: the value is the text itself (free text, no unit), except when
///   it starts with a number followed by a `9` standing for `g` (see the serving
///   size rule), in which case the value is that number followed by `" g"`; always
///   valid.
/// - text exactly `"trace"` or `"traces"` (case-sensitive): value `"traces"`, no
///   unit, valid.
/// - otherwise: value, unit and validity come from [`match_nutrient_value`].
pub fn postprocess_single(entity: &AggregatedEntity) -> PostprocessedEntity {
    let mut words: Vec<String> = entity
        .words
        .iter()
        .map(|w| clean_word(w).to_string())
        .collect();
    let label = entity.entity.to_lowercase();
    let full_name = output_entity_name(&label);

    if let Some(first) = words.first_mut().filter(|_| label.starts_with("energy_")) {
        strip_kj_prefix(first);
    }
    let text = words.join(" ");

    let (value, unit, valid) = if label == "serving_size" {
        let value = match serving_size_missing_g(&text) {
            Some(number) => format!("{number} g"),
            None => text.clone(),
        };
        (Some(value), None, true)
    } else if text == "trace" || text == "traces" {
        (Some("traces".to_string()), None, true)
    } else {
        match_nutrient_value(&text, &label)
    };

    PostprocessedEntity {
        entity: full_name,
        text,
        value,
        unit,
        score: entity.score,
        start: entity.start,
        end: entity.end,
        char_start: entity.char_start,
        char_end: entity.char_end,
        valid,
        invalid_reason: None,
    }
}

/// Post-process all aggregated entities, preserving their order.
///
/// When the same output nutrient name occurs more than once, every entity with that
/// name is marked invalid with `invalid_reason = "multiple_entities"`, even if it
/// was already invalid. The per-100 g and per-serving variants of a nutrient have
/// different names and do not conflict.
pub fn postprocess(aggregated: &[AggregatedEntity]) -> Vec<PostprocessedEntity> {
    let mut post: Vec<PostprocessedEntity> = aggregated.iter().map(postprocess_single).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in &post {
        *counts.entry(p.entity.clone()).or_insert(0) += 1;
    }
    for p in &mut post {
        if counts.get(&p.entity).copied().unwrap_or(0) > 1 {
            p.valid = false;
            p.invalid_reason = Some(MULTIPLE_ENTITIES_REASON.to_string());
        }
    }
    post
}

/// Build the `nutrients` JSON object: one entry per valid post-processed entity,
/// keyed by its nutrient name, in input order. Each entry has the keys `entity`,
/// `text`, `value`, `unit`, `score`, `start`, `end`, `char_start`, `char_end`, in
/// that order (`valid` and `invalid_reason` are left out). Names are unique among
/// valid entities after [`postprocess`]; if a name were repeated, the later entry
/// would replace the earlier one at the earlier position.
pub fn nutrients_json(post: &[PostprocessedEntity]) -> Map<String, Value> {
    let mut nutrients = Map::new();
    for p in post.iter().filter(|p| p.valid) {
        let mut obj = Map::new();
        obj.insert("entity".to_string(), Value::from(p.entity.clone()));
        obj.insert("text".to_string(), Value::from(p.text.clone()));
        obj.insert("value".to_string(), Value::from(p.value.clone()));
        obj.insert("unit".to_string(), Value::from(p.unit.clone()));
        obj.insert("score".to_string(), Value::from(f64::from(p.score)));
        obj.insert("start".to_string(), Value::from(p.start));
        obj.insert("end".to_string(), Value::from(p.end));
        obj.insert("char_start".to_string(), Value::from(p.char_start));
        obj.insert("char_end".to_string(), Value::from(p.char_end));
        nutrients.insert(p.entity.clone(), Value::Object(obj));
    }
    nutrients
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn agg(
        entity: &str,
        words: &[&str],
        score: f32,
        start: usize,
        end: usize,
        char_start: usize,
        char_end: usize,
    ) -> AggregatedEntity {
        AggregatedEntity {
            entity: entity.to_string(),
            words: words.iter().map(|w| w.to_string()).collect(),
            score,
            start,
            end,
            char_start,
            char_end,
        }
    }

    fn raw(
        entity: &str,
        word: &str,
        score: f32,
        index: usize,
        char_start: usize,
        char_end: usize,
    ) -> RawEntity {
        RawEntity {
            word: word.to_string(),
            entity: entity.to_string(),
            score,
            index,
            char_start,
            char_end,
        }
    }

    type NutrientCase = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        bool,
    );

    fn check_match_cases(cases: &[NutrientCase]) {
        for &(text, label, value, unit, valid) in cases {
            let expected = (value.map(String::from), unit.map(String::from), valid);
            assert_eq!(
                match_nutrient_value(text, label),
                expected,
                "match_nutrient_value({text:?}, {label:?})"
            );
        }
    }

    // Section 7.1: test_match_nutrient_value.
    #[test]
    fn match_nutrient_value_reference_cases() {
        check_match_cases(&[
            (
                "525 kcal",
                "energy_kcal_100g",
                Some("525"),
                Some("kcal"),
                true,
            ),
            ("525 kj", "energy_kj_100g", Some("525"), Some("kj"), true),
            ("25 g", "proteins_serving", Some("25"), Some("g"), true),
            ("<0.5 g", "salt_serving", Some("< 0.5"), Some("g"), true),
            ("< 0.5 g", "salt_serving", Some("< 0.5"), Some("g"), true),
            ("ababa", "proteins_serving", None, None, false),
            ("25.49", "proteins_serving", Some("25.4"), Some("g"), true),
            ("25.9", "proteins_serving", Some("25.9"), None, true),
            ("25.9", "iron_100g", Some("25.9"), None, true),
            ("O g", "salt_100g", Some("0"), Some("g"), true),
            ("o mg", "sodium_100g", Some("0"), Some("mg"), true),
            ("O", "salt_100g", Some("0"), None, true),
            ("0.19", "saturated_fat_100g", Some("0.1"), Some("g"), true),
            ("0,18", "saturated_fat_100g", Some("0.1"), Some("g"), true),
            ("08", "saturated_fat_100g", Some("0"), Some("g"), true),
            ("09", "salt_100g", Some("0"), Some("g"), true),
            ("091", "proteins_100g", Some("091"), None, true),
            ("219", "proteins_100g", Some("21"), Some("g"), true),
            ("318", "carbohydrates_100g", Some("31"), Some("g"), true),
            ("105", "proteins_100g", Some("105"), None, true),
            (
                "525 kcal",
                "energy_kj_100g",
                Some("525"),
                Some("kcal"),
                false,
            ),
            ("525 g", "energy_kcal_100g", Some("525"), Some("g"), false),
            ("525 kJ", "energy_kcal_100g", Some("525"), Some("kj"), false),
            ("525 g", "energy_kj_100g", Some("525"), Some("g"), false),
            (
                "66.3 kcal",
                "sodium_100g",
                Some("66.3"),
                Some("kcal"),
                false,
            ),
            (
                "100 kcal",
                "proteins_100g",
                Some("100"),
                Some("kcal"),
                false,
            ),
            (
                "200 kj",
                "carbohydrates_100g",
                Some("200"),
                Some("kj"),
                false,
            ),
            ("50 kcal", "salt_100g", Some("50"), Some("kcal"), false),
            ("75 kJ", "fat_100g", Some("75"), Some("kj"), false),
        ]);
    }

    // Section 7.2: extra match_nutrient_value cases.
    #[test]
    fn match_nutrient_value_extra_cases() {
        check_match_cases(&[
            ("Sodium", "sodium_100g", Some("0"), None, true),
            ("Traces", "salt_100g", None, None, false),
            ("<0,1 g", "salt_100g", Some("< 0.1"), Some("g"), true),
            (
                "< 0.19",
                "saturated_fat_100g",
                Some("< 0.1"),
                Some("g"),
                true,
            ),
            ("< 1g", "fiber_100g", Some("< 1"), Some("g"), true),
            ("29", "proteins_100g", Some("29"), None, true),
            ("9", "fat_100g", Some("9"), None, true),
            ("1.8", "fat_100g", Some("1.8"), None, true),
            ("0.8", "salt_100g", Some("0.8"), None, true),
            ("108", "fiber_100g", Some("10"), Some("g"), true),
            ("189", "sugars_serving", Some("18"), Some("g"), true),
            ("0.08", "salt_100g", Some("0.0"), Some("g"), true),
            ("08", "proteins_100g", Some("0"), Some("g"), true),
            ("0.19", "sodium_100g", Some("0.19"), None, true),
            ("15.", "fat_100g", Some("15."), None, true),
            ("5mg", "sodium_100g", Some("5"), Some("mg"), true),
            ("5 µg", "vitamin_d_100g", Some("5"), Some("µg"), true),
            (
                "5 \u{3bc}g",
                "vitamin_d_100g",
                Some("5"),
                Some("\u{3bc}g"),
                true,
            ),
            ("1 200 kJ", "energy_kj_100g", Some("1"), Some("kj"), true),
            ("126", "energy_kcal_100g", Some("126"), Some("kcal"), true),
            ("126", "energy_kj_serving", Some("126"), Some("kj"), true),
            ("12,5 %", "fat_100g", Some("12.5"), None, true),
            ("2.0 gr", "sugars_100g", Some("2.0"), Some("g"), true),
            ("5 Kcal", "energy_kcal_100g", Some("5"), Some("kcal"), true),
            ("abc 5g", "fat_100g", Some("5"), Some("g"), true),
            ("O,5 g", "fat_100g", Some("0"), None, true),
        ]);
    }

    #[test]
    fn micro_sign_is_u00b5() {
        let (_, unit, _) = match_nutrient_value("1.2 mcg", "vitamin_d_100g");
        assert_eq!(unit.as_deref(), Some("\u{b5}g"));
        // The Greek capital mu is lower-cased to the Greek small mu.
        let (_, unit, _) = match_nutrient_value("5 \u{39c}g", "vitamin_d_100g");
        assert_eq!(unit.as_deref(), Some("\u{3bc}g"));
        // "Omcg" is the letter O followed by the unit mcg.
        assert_eq!(
            match_nutrient_value("Omcg", "vitamin_d_serving"),
            (s("0"), s("µg"), true)
        );
    }

    fn post_view(
        p: &PostprocessedEntity,
    ) -> (String, String, Option<String>, Option<String>, bool) {
        (
            p.entity.clone(),
            p.text.clone(),
            p.value.clone(),
            p.unit.clone(),
            p.valid,
        )
    }

    // Section 7.1: test_postprocess_aggregated_entities.
    #[test]
    fn postprocess_reference_cases() {
        type Expected = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            bool,
            Option<&'static str>,
        );
        let cases: Vec<(Vec<AggregatedEntity>, Vec<Expected>)> = vec![
            (
                vec![agg("ENERGY_KCAL_100G", &["525", "kcal"], 0.99, 0, 2, 0, 7)],
                vec![(
                    "energy-kcal_100g",
                    "525 kcal",
                    Some("525"),
                    Some("kcal"),
                    true,
                    None,
                )],
            ),
            (
                vec![
                    agg("ENERGY_KCAL_100G", &["525", "kcal"], 0.99, 0, 2, 0, 7),
                    agg("ENERGY_KCAL_100G", &["126", "kcal"], 0.95, 3, 5, 8, 15),
                ],
                vec![
                    (
                        "energy-kcal_100g",
                        "525 kcal",
                        Some("525"),
                        Some("kcal"),
                        false,
                        Some("multiple_entities"),
                    ),
                    (
                        "energy-kcal_100g",
                        "126 kcal",
                        Some("126"),
                        Some("kcal"),
                        false,
                        Some("multiple_entities"),
                    ),
                ],
            ),
            (
                vec![agg("SATURATED_FAT_SERVING", &["fat"], 0.85, 0, 1, 0, 3)],
                vec![("saturated-fat_serving", "fat", None, None, false, None)],
            ),
            (
                vec![agg("SALT_SERVING", &["trace"], 0.90, 0, 1, 0, 5)],
                vec![("salt_serving", "trace", Some("traces"), None, true, None)],
            ),
            (
                vec![agg("SERVING_SIZE", &["25", "g"], 0.95, 0, 2, 0, 4)],
                vec![("serving_size", "25 g", Some("25 g"), None, true, None)],
            ),
            (
                vec![agg("SALT_100G", &["1.2", "mcg"], 0.95, 0, 2, 0, 7)],
                vec![("salt_100g", "1.2 mcg", Some("1.2"), Some("µg"), true, None)],
            ),
            (
                vec![
                    agg("ENERGY_KJ_100G", &["525"], 0.99, 0, 1, 0, 3),
                    agg("ENERGY_KCAL_100G", &["kj/126", "kcal"], 0.99, 1, 3, 4, 15),
                ],
                vec![
                    ("energy-kj_100g", "525", Some("525"), Some("kj"), true, None),
                    (
                        "energy-kcal_100g",
                        "126 kcal",
                        Some("126"),
                        Some("kcal"),
                        true,
                        None,
                    ),
                ],
            ),
        ];
        for (input, expected) in cases {
            let out = postprocess(&input);
            assert_eq!(out.len(), expected.len(), "{input:?}");
            for ((p, e), a) in out.iter().zip(&expected).zip(&input) {
                let (entity, text, value, unit, valid, reason) = *e;
                assert_eq!(
                    post_view(p),
                    (
                        entity.to_string(),
                        text.to_string(),
                        value.map(String::from),
                        unit.map(String::from),
                        valid
                    ),
                    "{a:?}"
                );
                assert_eq!(p.invalid_reason.as_deref(), reason, "{a:?}");
                assert_eq!(
                    (p.score, p.start, p.end, p.char_start, p.char_end),
                    (a.score, a.start, a.end, a.char_start, a.char_end)
                );
            }
        }
    }

    // Section 7.1: test_postprocess_aggregated_entities_single.
    #[test]
    fn postprocess_single_reference_cases() {
        let cases = [
            (
                agg(
                    "SATURATED_FAT_100G",
                    &["0,19\n"],
                    0.998_535_9,
                    89,
                    90,
                    454,
                    459,
                ),
                PostprocessedEntity {
                    entity: "saturated-fat_100g".to_string(),
                    text: "0,19".to_string(),
                    value: s("0.1"),
                    unit: s("g"),
                    score: 0.998_535_9,
                    start: 89,
                    end: 90,
                    char_start: 454,
                    char_end: 459,
                    valid: true,
                    invalid_reason: None,
                },
            ),
            (
                agg("SERVING_SIZE", &["42.5 9"], 0.998_535_9, 90, 92, 454, 460),
                PostprocessedEntity {
                    entity: "serving_size".to_string(),
                    text: "42.5 9".to_string(),
                    value: s("42.5 g"),
                    unit: None,
                    score: 0.998_535_9,
                    start: 90,
                    end: 92,
                    char_start: 454,
                    char_end: 460,
                    valid: true,
                    invalid_reason: None,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(postprocess_single(&input), expected, "{input:?}");
        }
    }

    // Section 7.2: extra postprocess_single cases (score 0.5, start 0,
    // end = number of words, chars 0–9).
    #[test]
    fn postprocess_single_extra_cases() {
        type Case = (
            &'static str,
            &'static [&'static str],
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            bool,
        );
        let cases: &[Case] = &[
            (
                "FAT_100G",
                &["(12 g)"],
                "fat_100g",
                "12 g",
                Some("12"),
                Some("g"),
                true,
            ),
            (
                "ENERGY_KCAL_100G",
                &["kJ/126", "kcal"],
                "energy-kcal_100g",
                "126 kcal",
                Some("126"),
                Some("kcal"),
                true,
            ),
            (
                "ENERGY_KJ_100G",
                &["kj/126"],
                "energy-kj_100g",
                "126",
                Some("126"),
                Some("kj"),
                true,
            ),
            (
                "ENERGY_KJ_100G",
                &["kj/"],
                "energy-kj_100g",
                "kj",
                None,
                None,
                false,
            ),
            (
                "SALT_100G",
                &["traces"],
                "salt_100g",
                "traces",
                Some("traces"),
                None,
                true,
            ),
            (
                "SALT_100G",
                &["Traces"],
                "salt_100g",
                "Traces",
                None,
                None,
                false,
            ),
            (
                "SUGARS_100G",
                &["/ 5", "g"],
                "sugars_100g",
                " 5 g",
                Some("5"),
                Some("g"),
                true,
            ),
            (
                "SERVING_SIZE",
                &["250", "9"],
                "serving_size",
                "250 9",
                Some("250 g"),
                None,
                true,
            ),
            (
                "VITAMIN_D_SERVING",
                &["1.5\n"],
                "vitamin-d_serving",
                "1.5",
                Some("1.5"),
                None,
                true,
            ),
        ];
        for &(label, words, entity, text, value, unit, valid) in cases {
            let input = agg(label, words, 0.5, 0, words.len(), 0, 9);
            let out = postprocess_single(&input);
            assert_eq!(
                post_view(&out),
                (
                    entity.to_string(),
                    text.to_string(),
                    value.map(String::from),
                    unit.map(String::from),
                    valid
                ),
                "{input:?}"
            );
            assert_eq!(out.invalid_reason, None);
            assert_eq!(
                (out.score, out.start, out.end, out.char_start, out.char_end),
                (0.5, 0, words.len(), 0, 9)
            );
        }
    }

    // Section 7.3: SERVING_SIZE_MISSING_G rewrites, through postprocess_single.
    #[test]
    fn serving_size_missing_g_cases() {
        let cases = [
            ("42.5 9", "42.5 g"),
            ("2,5 9", "2,5 g"),
            ("250 9", "250 g"),
            ("190 g", "1 g"),
            ("29 g", "2 g"),
            ("19", "1 g"),
            ("250g", "250g"),
            ("30 g (1 cup)", "30 g (1 cup)"),
            ("1 portion (30 9)", "1 portion (30 9)"),
            ("15mL", "15mL"),
        ];
        for (text, expected) in cases {
            // Pass the text as a single word so that the word cleaning does not
            // alter it (none of these texts starts or ends with a stripped char
            // except "(30 9)", whose parenthesis is inside the word).
            let out = postprocess_single(&agg("SERVING_SIZE", &[text], 0.5, 0, 1, 0, 9));
            let expected_text = text.trim_end_matches(')');
            assert_eq!(out.text, expected_text, "{text:?}");
            let expected_value = if text.ends_with(')') {
                expected.trim_end_matches(')')
            } else {
                expected
            };
            assert_eq!(out.value.as_deref(), Some(expected_value), "{text:?}");
            assert_eq!((out.unit, out.valid), (None, true), "{text:?}");
            // The detector itself, on the exact text.
            let direct = serving_size_missing_g(text).map(|n| format!("{n} g"));
            assert_eq!(direct.as_deref().unwrap_or(text), expected, "{text:?}");
        }
    }

    #[test]
    fn serving_size_missing_g_edge_cases() {
        // Unicode whitespace (including U+001C and U+0085) between number and '9'.
        assert_eq!(serving_size_missing_g("12\u{1c}9"), Some("12"));
        assert_eq!(serving_size_missing_g("12\u{85}\u{a0}9"), Some("12"));
        // The separator is backtracked when needed: "1.9" -> number "1." then '9'.
        assert_eq!(serving_size_missing_g("1.9"), Some("1."));
        assert_eq!(serving_size_missing_g("1,"), None);
        // Anchored at the start; non-ASCII digits are not digits.
        assert_eq!(serving_size_missing_g(" 25 9"), None);
        assert_eq!(serving_size_missing_g("\u{661}9"), None);
        assert_eq!(serving_size_missing_g(""), None);
    }

    #[test]
    fn word_cleaning_uses_reference_whitespace() {
        assert_eq!(clean_word("\u{1f}(12)\u{85}"), "12");
        assert_eq!(clean_word("/ 5"), " 5");
        assert_eq!(clean_word(" ( 5 ) "), " 5 ");
        assert_eq!(clean_word("\u{200b}5"), "\u{200b}5");
    }

    // Section 7.1: test_aggregate_entities.
    #[test]
    fn aggregate_entities_reference_cases() {
        let cases = vec![
            (
                vec![
                    raw("ENERGY_KCAL_100G", "525", 0.99, 0, 0, 3),
                    raw("ENERGY_KCAL_100G", "KJ", 0.99, 1, 4, 6),
                    raw("O", "matières", 0.99, 2, 7, 15),
                ],
                vec![agg("ENERGY_KCAL_100G", &["525", "KJ"], 0.99, 0, 2, 0, 6)],
            ),
            (
                vec![
                    raw("SALT_SERVING", "0.1", 0.99, 0, 0, 3),
                    raw("SALT_SERVING", "g", 0.99, 1, 4, 5),
                    raw("PROTEINS_SERVING", "101", 0.93, 2, 6, 9),
                    raw("O", "portion", 0.99, 3, 10, 17),
                    raw("CARBOHYDRATES_SERVING", "126", 0.91, 4, 18, 21),
                    raw("CARBOHYDRATES_SERVING", "g", 0.95, 5, 22, 23),
                ],
                vec![
                    agg("SALT_SERVING", &["0.1", "g"], 0.99, 0, 2, 0, 5),
                    agg("PROTEINS_SERVING", &["101"], 0.93, 2, 3, 6, 9),
                    agg("CARBOHYDRATES_SERVING", &["126", "g"], 0.91, 4, 6, 18, 23),
                ],
            ),
            (vec![], vec![]),
            (vec![raw("O", "x", 0.5, 0, 0, 1)], vec![]),
        ];
        for (input, expected) in cases {
            assert_eq!(aggregate_entities(&input), expected, "{input:?}");
        }
    }

    #[test]
    fn multiple_entities_invalidates_already_invalid_ones() {
        let out = postprocess(&[
            agg("FAT_100G", &["abc"], 0.5, 0, 1, 0, 3),
            agg("FAT_SERVING", &["3 g"], 0.5, 1, 2, 4, 7),
            agg("FAT_100G", &["2 g"], 0.5, 2, 3, 8, 11),
        ]);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|p| p.entity != "fat_100g"
            || (!p.valid && p.invalid_reason.as_deref() == Some("multiple_entities"))));
        assert_eq!(
            out.get(1).map(|p| (p.valid, p.invalid_reason.clone())),
            Some((true, None))
        );
    }

    #[test]
    fn postprocessed_json_shape() {
        let valid = postprocess_single(&agg(
            "ENERGY_KCAL_100G",
            &["525", "kcal"],
            0.999_337_73,
            0,
            2,
            0,
            9,
        ));
        let json_text = serde_json::to_string(&valid).expect("serialize");
        assert_eq!(
            json_text,
            r#"{"entity":"energy-kcal_100g","text":"525 kcal","value":"525","unit":"kcal","score":0.9993377327919006,"start":0,"end":2,"char_start":0,"char_end":9,"valid":true}"#
        );

        let invalid = postprocess_single(&agg("SATURATED_FAT_SERVING", &["fat"], 0.5, 0, 1, 0, 3));
        let v = serde_json::to_value(&invalid).expect("serialize");
        assert_eq!(
            v,
            json!({"entity": "saturated-fat_serving", "text": "fat", "value": null, "unit": null,
                   "score": 0.5, "start": 0, "end": 1, "char_start": 0, "char_end": 3, "valid": false})
        );
        assert!(v.get("invalid_reason").is_none());

        let dup = postprocess(&[
            agg("SALT_100G", &["1", "g"], 0.5, 0, 2, 0, 3),
            agg("SALT_100G", &["2", "g"], 0.5, 2, 4, 4, 7),
        ]);
        let v = serde_json::to_value(&dup).expect("serialize");
        let keys: Vec<&str> = v
            .get(0)
            .and_then(Value::as_object)
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "entity",
                "text",
                "value",
                "unit",
                "score",
                "start",
                "end",
                "char_start",
                "char_end",
                "valid",
                "invalid_reason"
            ]
        );
        assert_eq!(
            v.pointer("/1/invalid_reason"),
            Some(&json!("multiple_entities"))
        );
    }

    #[test]
    fn raw_and_aggregated_json_shape() {
        let r = raw("FAT_100G", "12 ", 0.99, 3, 10, 13);
        assert_eq!(
            serde_json::to_string(&r).expect("serialize"),
            r#"{"word":"12 ","entity":"FAT_100G","score":0.9900000095367432,"index":3,"char_start":10,"char_end":13}"#
        );
        let a = aggregate_entities(&[r]);
        assert_eq!(
            serde_json::to_string(&a).expect("serialize"),
            r#"[{"entity":"FAT_100G","words":["12 "],"score":0.9900000095367432,"start":3,"end":4,"char_start":10,"char_end":13}]"#
        );
    }

    #[test]
    fn nutrients_json_shape() {
        let post = postprocess(&[
            agg("SERVING_SIZE", &["15mL"], 0.75, 0, 1, 0, 5),
            agg("VITAMIN_D_SERVING", &["Omcg"], 0.5, 1, 2, 5, 10),
            agg("ENERGY_KCAL_SERVING", &["15"], 0.999_337_73, 2, 3, 10, 13),
            agg("VITAMIN_D_SERVING", &["Omg"], 0.5, 3, 4, 13, 17),
            agg("SATURATED_FAT_100G", &["fat"], 0.5, 4, 5, 17, 21),
        ]);
        let nutrients = nutrients_json(&post);
        let text = serde_json::to_string(&nutrients).expect("serialize");
        assert_eq!(
            text,
            concat!(
                r#"{"serving_size":{"entity":"serving_size","text":"15mL","value":"15mL","unit":null,"#,
                r#""score":0.75,"start":0,"end":1,"char_start":0,"char_end":5},"#,
                r#""energy-kcal_serving":{"entity":"energy-kcal_serving","text":"15","value":"15","unit":"kcal","#,
                r#""score":0.9993377327919006,"start":2,"end":3,"char_start":10,"char_end":13}}"#
            )
        );
        // Same content as serialising the entity itself, minus "valid".
        let mut from_struct =
            serde_json::to_value(post.get(2).expect("entity")).expect("serialize");
        if let Some(obj) = from_struct.as_object_mut() {
            obj.remove("valid");
        }
        assert_eq!(nutrients.get("energy-kcal_serving"), Some(&from_struct));
        assert!(nutrients_json(&[]).is_empty());
    }
}
