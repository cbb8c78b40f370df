//! Nutrient values ("Protein 1g") and nutrient mentions of nutrition tables, with the
//! languages each mention is written in.

use super::content::OcrContent;
use super::document::OcrField;
use super::pattern::{group, span, Caps, OcrRegex};
use super::resources::OcrResources;
use crate::text::CharOffsets;
use crate::types::{Prediction, PredictionType};
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};

/// Version of the nutrient predictors.
pub const PREDICTOR_VERSION: &str = "1";

/// A mention pattern and the languages it is written in.
type Mention = (&'static str, &'static [&'static str]);

/// Mention patterns per nutrient, in search order.
const NUTRIENT_MENTIONS: &[(&str, &[Mention])] = &[
    (
        "energy",
        &[
            ("énergie", &["fr"]),
            ("energie", &["fr", "de", "nl"]),
            ("valeurs? [ée]nerg[ée]tiques?", &["fr"]),
            ("energy", &["en"]),
            ("calories", &["fr", "en"]),
            ("energia", &["es", "it", "pt", "hu"]),
            ("valor energ[ée]tico", &["es"]),
            ("energi", &["da"]),
        ],
    ),
    (
        "saturated_fat",
        &[
            ("mati[èe]res? grasses? satur[ée]s?", &["fr"]),
            ("acides? gras satur[ée]s?", &["fr"]),
            ("dont satur[ée]s?", &["fr"]),
            ("acidi grassi saturi", &["it"]),
            ("saturated fat", &["en"]),
            ("of which saturates", &["en"]),
            ("verzadigde vetzuren", &["nl"]),
            ("waarvan verzadigde", &["nl"]),
            ("gesättigte fettsäuren", &["de"]),
            ("[aá]cidos grasos saturados", &["es"]),
            ("dos quais saturados", &["pt"]),
            ("mættede fedtsyrer", &["da"]),
            ("amelyb[őö]l? telített zs[íi]rsavak", &["hu"]),
        ],
    ),
    (
        "trans_fat",
        &[
            ("mati[èe]res? grasses? trans", &["fr"]),
            ("trans fat", &["en"]),
        ],
    ),
    (
        "fat",
        &[
            ("mati[èe]res? grasses?", &["fr"]),
            ("graisses?", &["fr"]),
            ("lipides?", &["fr"]),
            ("total fat", &["en"]),
            ("vetten", &["nl"]),
            ("fett", &["de"]),
            ("grasas", &["es"]),
            ("grassi", &["it"]),
            ("l[íi]pidos", &["es", "pt"]),
            ("fedt", &["da"]),
            ("zs[íi]r", &["hu"]),
        ],
    ),
    (
        "sugar",
        &[
            ("sucres?", &["fr"]),
            ("sugars?", &["en"]),
            ("zuccheri", &["it"]),
            ("suikers?", &["nl"]),
            ("zucker", &["de"]),
            ("az[úu]cares", &["es"]),
            ("sukkerarter", &["da"]),
            ("amelyb[őö]l? cukrok", &["hu"]),
        ],
    ),
    (
        "carbohydrate",
        &[
            ("total carbohydrate", &["en"]),
            ("glucids?", &["fr"]),
            ("glucides?", &["en"]),
            ("carboidrati", &["it"]),
            ("koolhydraten", &["nl"]),
            ("koolhydraat", &["nl"]),
            ("kohlenhydrate", &["de"]),
            ("hidratos de carbono", &["es", "pt"]),
            ("kulhydrat", &["da"]),
            ("szénhidrát", &["hu"]),
        ],
    ),
    (
        "protein",
        &[
            ("prot[ée]ines?", &["fr"]),
            ("protein", &["en", "da"]),
            ("eiwitten", &["nl"]),
            ("eiweiß", &["de"]),
            ("prote[íi]nas", &["es", "pt"]),
            ("fehérje", &["hu"]),
        ],
    ),
    (
        "salt",
        &[
            ("sel", &["fr"]),
            ("salt", &["en", "da"]),
            ("zout", &["nl"]),
            ("salz", &["de"]),
            ("sale", &["it"]),
            ("sal", &["es", "pt"]),
            ("só", &["hu"]),
        ],
    ),
    (
        "fiber",
        &[
            ("fibres?", &["en", "fr", "it"]),
            ("(?:dietary )?fibers?", &["en"]),
            ("fibres? alimentaires?", &["fr"]),
            ("(?:voedings)?vezels?", &["nl"]),
            ("ballaststoffe", &["de"]),
            ("fibra(?: alimentaria)?", &["es"]),
            ("kostfibre", &["da"]),
            ("rost", &["hu"]),
        ],
    ),
    (
        "nutrition_values",
        &[
            ("informations? nutritionnelles?(?: moyennes?)?", &["fr"]),
            ("valeurs? nutritionnelles?(?: moyennes?)?", &["fr"]),
            ("analyse moyenne pour", &["fr"]),
            ("valeurs? nutritives?", &["fr"]),
            ("valeurs? moyennes?", &["fr"]),
            ("nutrition facts?", &["en"]),
            ("average nutritional values?", &["en"]),
            ("valori nutrizionali medi", &["it"]),
            ("gemiddelde waarden per", &["nl"]),
            ("nutritionele informatie", &["nl"]),
            ("(er)?næringsindhold", &["da"]),
            ("átlagos tápérték(?:tartalom)?", &["hu"]),
            ("tápérték adatok", &["hu"]),
        ],
    ),
];

/// Units accepted after a value, per nutrient with value predictions (in search order).
const NUTRIENT_UNITS: &[(&str, &[&str])] = &[
    ("energy", &["kj", "kcal"]),
    ("saturated_fat", &["g"]),
    ("trans_fat", &["g"]),
    ("fat", &["g"]),
    ("sugar", &["g"]),
    ("carbohydrate", &["g"]),
    ("protein", &["g"]),
    ("salt", &["g", "mg"]),
    ("fiber", &["g"]),
];

/// Name of the mention group of a bare value with an energy or weight unit.
const NUTRIENT_VALUE: &str = "nutrient_value";

fn mentions_of(nutrient: &str) -> &'static [Mention] {
    NUTRIENT_MENTIONS
        .iter()
        .find(|(name, _)| *name == nutrient)
        .map_or(&[], |(_, mentions)| mentions)
}

/// `name value unit`, e.g. `sel : 0,5 g`: groups 1 (name), 2 (value) and 3 (unit).
fn value_pattern(mentions: &[Mention], units: &[&str]) -> String {
    let names: Vec<&str> = mentions.iter().map(|(name, _)| *name).collect();
    format!(
        r"(?<!\w)({}) ?(?:[:-] ?)?([0-9]+[,.]?[0-9]*) ?({})(?!\w)",
        names.join("|"),
        units.join("|")
    )
}

/// Any mention of the nutrient; each alternative is a named group `<langs>_<index>`
/// (`fr_de_nl_1`) so that the matching one gives the languages.
fn mention_pattern(mentions: &[Mention]) -> String {
    let alternatives: Vec<String> = mentions
        .iter()
        .enumerate()
        .map(|(i, (name, langs))| format!("(?P<{}_{i}>{name})", langs.join("_")))
        .collect();
    format!(r"(?<!\w){}(?!\w)", alternatives.join("|"))
}

static VALUE_REGEXES: Lazy<Vec<(&'static str, OcrRegex)>> = Lazy::new(|| {
    NUTRIENT_UNITS
        .iter()
        .map(|&(nutrient, units)| {
            let pattern = value_pattern(mentions_of(nutrient), units);
            (
                nutrient,
                OcrRegex::new(&pattern, true, OcrField::FullTextContiguous),
            )
        })
        .collect()
});

/// Mention patterns with the group names of each alternative (`None` for bare values).
static MENTION_REGEXES: Lazy<Vec<(&'static str, OcrRegex, Vec<String>)>> = Lazy::new(|| {
    let mut regexes: Vec<(&'static str, OcrRegex, Vec<String>)> = NUTRIENT_MENTIONS
        .iter()
        .map(|&(nutrient, mentions)| {
            let names = mentions
                .iter()
                .enumerate()
                .map(|(i, (_, langs))| format!("{}_{i}", langs.join("_")))
                .collect();
            let regex = OcrRegex::new(
                &mention_pattern(mentions),
                true,
                OcrField::FullTextContiguous,
            );
            (nutrient, regex, names)
        })
        .collect();
    regexes.push((
        NUTRIENT_VALUE,
        OcrRegex::new(
            r"(?<!\w)([0-9]+[,.]?[0-9]*) ?(g|kj|kcal)(?!\w)",
            true,
            OcrField::FullTextContiguous,
        ),
        Vec::new(),
    ));
    regexes
});

/// Nutrient value predictions of the content: one prediction whose
/// `data.nutrients[nutrient]` lists `{raw, nutrient, value, unit}` per match.
pub fn find_nutrient_values(content: &OcrContent<'_>, _res: &OcrResources) -> Vec<Prediction> {
    let mut nutrients = Map::new();
    for (nutrient, regex) in VALUE_REGEXES.iter() {
        let (_, matches) = regex.captures(content);
        for caps in matches {
            let entry = json!({
                "raw": group(&caps, 0),
                "nutrient": nutrient,
                "value": group(&caps, 2).replace(',', "."),
                "unit": group(&caps, 3),
            });
            push(&mut nutrients, nutrient, entry);
        }
    }
    if nutrients.is_empty() {
        return Vec::new();
    }
    let mut prediction = Prediction::new(PredictionType::Nutrient);
    prediction.data = json!({ "nutrients": nutrients });
    prediction.predictor = Some("regex".to_string());
    prediction.predictor_version = Some(PREDICTOR_VERSION.to_string());
    vec![prediction]
}

/// Nutrient mention predictions of the content: one prediction whose
/// `data.mentions[nutrient]` lists `{raw, span, languages, bounding_box_absolute}` per match
/// (`span` in code points; no `languages` for `nutrient_value`).
pub fn find_nutrient_mentions(content: &OcrContent<'_>, _res: &OcrResources) -> Vec<Prediction> {
    let mut mentions = Map::new();
    let mut offsets: Option<(&str, CharOffsets)> = None;
    for (nutrient, regex, group_names) in MENTION_REGEXES.iter() {
        let (text, matches) = regex.captures(content);
        for caps in matches {
            let (start, end) = span(&caps);
            let chars = match &offsets {
                Some((t, o)) if std::ptr::eq(*t, text) => o,
                _ => &offsets.insert((text, CharOffsets::new(text))).1,
            };
            let mut entry = Map::new();
            entry.insert("raw".into(), Value::String(group(&caps, 0).to_string()));
            entry.insert(
                "span".into(),
                json!([chars.byte_to_char(start), chars.byte_to_char(end)]),
            );
            if *nutrient != NUTRIENT_VALUE {
                entry.insert("languages".into(), json!(languages(&caps, group_names)));
            }
            super::content::insert_bbox(&mut entry, content, text, start, end);
            push(&mut mentions, nutrient, Value::Object(entry));
        }
    }
    if mentions.is_empty() {
        return Vec::new();
    }
    let mut prediction = Prediction::new(PredictionType::NutrientMention);
    prediction.data = json!({ "mentions": mentions });
    prediction.predictor_version = Some(PREDICTOR_VERSION.to_string());
    vec![prediction]
}

/// Languages of the first alternative that took part in the match (`fr_de_nl_1` →
/// `[fr, de, nl]`).
fn languages(caps: &Caps<'_>, group_names: &[String]) -> Vec<String> {
    group_names
        .iter()
        .find(|name| caps.name(name).is_some())
        .map(|name| {
            let langs = name.rsplit_once('_').map_or(name.as_str(), |(l, _)| l);
            langs.split('_').map(str::to_string).collect()
        })
        .unwrap_or_default()
}

fn push(map: &mut Map<String, Value>, key: &str, entry: Value) {
    let list = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = list {
        items.push(entry);
    }
}

#[cfg(test)]
mod tests;
