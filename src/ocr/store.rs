//! Store names (supermarket chains and their own brands) from the store pattern list.

use super::content::OcrContent;
use super::document::OcrField;
use super::keywords::read_lines;
use super::pattern::{captures_all, span};
use super::resources::{OcrResources, ResourceError, StoreData};
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

const PREDICTOR_VERSION: &str = "1";

/// Tag of a store name: lowercased, ` & `, spaces and apostrophes turned into dashes.
pub fn store_tag(store: &str) -> String {
    store
        .to_lowercase()
        .replace(" & ", "-")
        .replace([' ', '\''], "-")
}

/// Reads `store` or `store||pattern` lines (a store listed twice keeps its last pattern),
/// sorts stores longest name first, and builds one pattern with a group per store.
pub fn load_stores(path: &Path) -> Result<StoreData, ResourceError> {
    let mut order: Vec<String> = Vec::new();
    let mut patterns: HashMap<String, String> = HashMap::new();
    for line in read_lines(path)? {
        let (store, pattern) = match line.split_once("||") {
            Some((store, pattern)) if !pattern.contains("||") => {
                (store.to_string(), pattern.to_string())
            }
            Some(_) => {
                return Err(ResourceError::format(
                    path,
                    format!("invalid line: {line:?}"),
                ))
            }
            None => (
                line.clone(),
                fancy_regex::escape(&line.to_lowercase()).into_owned(),
            ),
        };
        if !patterns.contains_key(&store) {
            order.push(store.clone());
        }
        patterns.insert(store, pattern);
    }
    let mut stores: Vec<(String, String)> = order
        .into_iter()
        .filter_map(|s| patterns.remove(&s).map(|p| (s, p)))
        .collect();
    stores.sort_by(|a, b| {
        b.0.chars()
            .count()
            .cmp(&a.0.chars().count())
            .then_with(|| a.0.cmp(&b.0))
    });
    let joined = stores
        .iter()
        .map(|(_, p)| format!(r"((?<!\w){p}(?!\w))"))
        .collect::<Vec<_>>()
        .join("|");
    let regex = fancy_regex::Regex::new(&format!("(?i){joined}"))
        .map_err(|e| ResourceError::format(path, format!("store pattern does not compile: {e}")))?;
    Ok(StoreData { stores, regex })
}

/// One prediction per match, for the store whose group matched.
pub fn extract_stores(stores: &StoreData, content: &OcrContent<'_>) -> Vec<Prediction> {
    let text = content.text(OcrField::FullTextContiguous);
    let mut out = Vec::new();
    for caps in captures_all(&stores.regex, text) {
        let found = (1..caps.len()).find_map(|i| caps.get(i).map(|m| (i - 1, m.as_str())));
        let Some((idx, matched)) = found else {
            continue;
        };
        let Some((store, _)) = stores.stores.get(idx) else {
            continue;
        };
        let mut data = Map::new();
        data.insert("text".into(), json!(matched));
        let (start, end) = span(&caps);
        super::insert_bbox(&mut data, content, text, start, end);
        let mut p = Prediction::new(PredictionType::Store);
        p.value = Some(store.clone());
        p.value_tag = Some(store_tag(store));
        p.data = Value::Object(data);
        p.predictor = Some("regex".into());
        p.predictor_version = Some(PREDICTOR_VERSION.into());
        out.push(p);
    }
    out
}

pub fn find_stores(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    match res.stores() {
        Ok(stores) => extract_stores(stores, content),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_tags() {
        assert_eq!(store_tag("Marks & Spencer"), "marks-spencer");
        assert_eq!(store_tag("Trader Joe's"), "trader-joe-s");
    }
}
