//! Store names (supermarket chains and their own brands) from the store pattern list.

use super::content::OcrContent;
use super::data_files::{read_lines, ResourceError};
use super::document::OcrField;
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

const PREDICTOR_VERSION: &str = "1";

/// Store names sorted longest first with their patterns: one case-insensitive pattern per
/// store (anchored, with its word-boundary look-ahead) and a prefilter for all of them.
#[derive(Debug)]
pub struct StoreData {
    pub stores: Vec<(String, String)>,
    /// Any store pattern (without look-arounds): finds where a store can start.
    pub prefilter: regex::Regex,
    /// `^(?:pattern)(?!\w)` per store, in store order, compiled the first time the
    /// prefilter stops where that store is tried (most never are).
    anchored: Vec<OnceLock<Option<fancy_regex::Regex>>>,
}

impl StoreData {
    /// The anchored pattern of store `k` (`None` if it does not compile: the prefilter,
    /// which holds every pattern, compiled, so only fancy-regex's own limits can refuse).
    fn anchored(&self, k: usize) -> Option<&fancy_regex::Regex> {
        let (_, pattern) = self.stores.get(k)?;
        self.anchored
            .get(k)?
            .get_or_init(|| super::pattern::compile(&anchored_pattern(pattern)).ok())
            .as_ref()
    }
}

fn anchored_pattern(pattern: &str) -> String {
    format!(r"(?i)^(?:{pattern})(?!\w)")
}

/// Tag of a store name: lowercased, ` & `, spaces and apostrophes turned into dashes.
pub fn store_tag(store: &str) -> String {
    store
        .to_lowercase()
        .replace(" & ", "-")
        .replace([' ', '\''], "-")
}

/// Reads `store` or `store||pattern` lines (a store listed twice keeps its last pattern)
/// and sorts stores longest name first. Robotoff joins the patterns into one
/// `((?<!\w)p1(?!\w))|((?<!\w)p2(?!\w))|...`; searching it position by position is
/// what [`extract_stores`] does, with a prefilter to skip positions where no store
/// pattern can start.
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
    let union = stores
        .iter()
        .map(|(_, p)| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    let prefilter = regex::RegexBuilder::new(&union)
        .case_insensitive(true)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| ResourceError::format(path, format!("store patterns do not compile: {e}")))?;
    let anchored = stores.iter().map(|_| OnceLock::new()).collect();
    Ok(StoreData {
        stores,
        prefilter,
        anchored,
    })
}

/// Robotoff's search: left to right; at each position the first store (in sorted order)
/// whose pattern matches there, not preceded or followed by a word character, wins; the
/// search resumes after the match.
pub fn store_matches(stores: &StoreData, text: &str) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos <= text.len() {
        let Some(candidate) = stores.prefilter.find_at(text, pos) else {
            break;
        };
        let s = candidate.start();
        let preceded_by_word = text
            .get(..s)
            .and_then(|r| r.chars().next_back())
            .is_some_and(super::pattern::is_py_word_char);
        let rest = text.get(s..).unwrap_or("");
        let found = if preceded_by_word {
            None
        } else {
            (0..stores.stores.len()).find_map(|k| match stores.anchored(k)?.find(rest) {
                Ok(Some(m)) => Some((k, s + m.end())),
                _ => None,
            })
        };
        match found {
            Some((k, e)) if e > s => {
                out.push((k, s, e));
                pos = e;
            }
            _ => {
                // No store at `s`: try from the next character.
                pos = s + rest.chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    out
}

/// One prediction per match, for the store whose pattern matched.
pub fn extract_stores(stores: &StoreData, content: &OcrContent<'_>) -> Vec<Prediction> {
    let text = content.text(OcrField::FullTextContiguous);
    let mut out = Vec::new();
    for (k, start, end) in store_matches(stores, text) {
        let Some((store, _)) = stores.stores.get(k) else {
            continue;
        };
        let mut data = Map::new();
        data.insert("text".into(), json!(text.get(start..end).unwrap_or("")));
        super::content::insert_bbox(&mut data, content, text, start, end);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_tags() {
        assert_eq!(store_tag("Marks & Spencer"), "marks-spencer");
        assert_eq!(store_tag("Trader Joe's"), "trader-joe-s");
    }

    #[test]
    fn stores_need_word_boundaries_and_longest_names_win() {
        let dir = std::env::temp_dir().join(format!("robotoff-stores-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("stores.txt");
        let _ = std::fs::write(
            &path,
            "Aldi||milsani\nCarrefour\nCarrefour Market\nwoolworths||woolworths?\n",
        );
        let data = load_stores(&path).ok();
        let _ = std::fs::remove_dir_all(&dir);
        let Some(data) = data else {
            panic!("store list loads");
        };
        let found = |t: &str| -> Vec<String> {
            extract_stores(&data, &OcrContent::Text(t))
                .into_iter()
                .filter_map(|p| p.value)
                .collect()
        };
        assert_eq!(
            found("chez Carrefour Market et MILSANI"),
            vec!["Carrefour Market", "Aldi"]
        );
        assert!(found("xcarrefour carrefourx").is_empty());
        // The optional `s` is given back when a word character follows it.
        assert!(found("woolworthsx").is_empty());
        assert_eq!(found("woolworths!"), vec!["woolworths"]);
    }
}
