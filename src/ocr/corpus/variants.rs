//! Real-shaped benchmark documents: real Cloud Vision answers as they are, and variants
//! of them that keep their shape (block and word layout, per-word `textAnnotations`,
//! image annotations): words shuffled across the page, words replaced by taxonomy names
//! of other languages and scripts, and pages merged up to the size of the largest.

use super::{collect_text, extent, poly, transform, CorpusError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// How a document was derived from its real page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The page as it came from Cloud Vision.
    Original,
    /// The page's words in a random order (each word's box kept).
    Shuffled,
    /// About a third of the words replaced by taxonomy names of any language.
    Translated,
    /// Blocks of other pages appended below until it holds as many words as the largest.
    Merged,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Original,
        Variant::Shuffled,
        Variant::Translated,
        Variant::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::Shuffled => "shuffled",
            Variant::Translated => "translated",
            Variant::Merged => "merged",
        }
    }
}

/// Builds real-shaped documents from real pages.
#[derive(Debug, Clone)]
pub struct RealShaped {
    pages: Vec<Value>,
    vocabulary: Vec<String>,
    largest: usize,
    seed: u64,
}

/// The single words of every name of a taxonomy (`{id: {"name": {lang: text}}}`), sorted.
pub fn taxonomy_words(taxonomy: &Value) -> Vec<String> {
    let mut words = BTreeSet::new();
    if let Some(nodes) = taxonomy.as_object() {
        for node in nodes.values() {
            if let Some(names) = node.get("name").and_then(Value::as_object) {
                for name in names.values().filter_map(Value::as_str) {
                    words.extend(
                        name.split_whitespace()
                            .filter(|w| w.chars().count() > 1)
                            .map(str::to_string),
                    );
                }
            }
        }
    }
    words.into_iter().collect()
}

/// The first response of a Cloud Vision answer, if it has a page of text.
fn response(doc: &Value) -> Option<&Value> {
    let r = doc.pointer("/responses/0")?;
    r.pointer("/fullTextAnnotation/pages/0/blocks")?;
    Some(r)
}

/// Calls `f` on every word object of a response, in reading order.
fn for_each_word(response: &mut Value, f: &mut impl FnMut(&mut Value)) {
    let Some(pages) = response
        .pointer_mut("/fullTextAnnotation/pages")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for page in pages {
        let Some(blocks) = page.get_mut("blocks").and_then(Value::as_array_mut) else {
            continue;
        };
        for block in blocks {
            let Some(paragraphs) = block.get_mut("paragraphs").and_then(Value::as_array_mut) else {
                continue;
            };
            for paragraph in paragraphs {
                if let Some(words) = paragraph.get_mut("words").and_then(Value::as_array_mut) {
                    words.iter_mut().for_each(&mut *f);
                }
            }
        }
    }
}

fn word_text(word: &Value) -> String {
    word.get("symbols")
        .and_then(Value::as_array)
        .map(|symbols| {
            symbols
                .iter()
                .filter_map(|s| s.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// Rewrites a word's symbols to spell `text`, spread over the word's box; the word's
/// break (space, line break) stays on its last symbol.
fn set_word_text(word: &mut Value, text: &str) {
    let mut ext = None;
    extent(word.get("boundingBox").unwrap_or(&Value::Null), &mut ext);
    let (x0, y0, x1, y1) = ext.unwrap_or((0.0, 0.0, 10.0, 20.0));
    let symbols = word.get("symbols").and_then(Value::as_array);
    let template = symbols
        .and_then(|s| s.first())
        .cloned()
        .unwrap_or(json!({}));
    let last_break = symbols
        .and_then(|s| s.last())
        .and_then(|s| s.pointer("/property/detectedBreak"))
        .cloned();
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    let w = (x1 - x0) / n as f64;
    let symbols: Vec<Value> = chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut s = template.clone();
            s["text"] = json!(c.to_string());
            let sx = x0 + w * i as f64;
            s["boundingBox"] = poly(sx, y0, sx + w, y1);
            if let Some(p) = s.get_mut("property").and_then(Value::as_object_mut) {
                p.remove("detectedBreak");
            }
            if i + 1 == chars.len() {
                if let Some(b) = &last_break {
                    s["property"]["detectedBreak"] = b.clone();
                }
            }
            s
        })
        .collect();
    word["symbols"] = Value::Array(symbols);
}

fn word_count(response: &mut Value) -> usize {
    let mut n = 0;
    for_each_word(response, &mut |_| n += 1);
    n
}

/// Words of one block.
fn block_word_count(block: &Value) -> usize {
    block
        .get("paragraphs")
        .and_then(Value::as_array)
        .map_or(0, |ps| {
            ps.iter()
                .filter_map(|p| p.get("words").and_then(Value::as_array))
                .map(Vec::len)
                .sum()
        })
}

/// Rebuilds `fullTextAnnotation.text` and `textAnnotations` (the whole text, then one
/// entry per word) from the page's words, as Cloud Vision lays them out.
fn rebuild_texts(response: &mut Value) {
    let mut text = String::new();
    if let Some(pages) = response.pointer("/fullTextAnnotation/pages") {
        collect_text(pages, &mut text);
    }
    let locale = response
        .pointer("/textAnnotations/0/locale")
        .cloned()
        .unwrap_or(json!("fr"));
    let (width, height) = response
        .pointer("/fullTextAnnotation/pages/0")
        .map(|p| {
            (
                p.get("width").and_then(Value::as_f64).unwrap_or(1000.0),
                p.get("height").and_then(Value::as_f64).unwrap_or(1000.0),
            )
        })
        .unwrap_or((1000.0, 1000.0));
    let mut annotations = vec![json!({
        "locale": locale,
        "description": text,
        "boundingPoly": poly(0.0, 0.0, width, height),
    })];
    for_each_word(response, &mut |w| {
        annotations.push(json!({
            "description": word_text(w),
            "boundingPoly": w.get("boundingBox").cloned().unwrap_or(Value::Null),
        }));
    });
    response["textAnnotations"] = Value::Array(annotations);
    response["fullTextAnnotation"]["text"] = json!(text);
}

impl RealShaped {
    /// From Cloud Vision answers (those without a page of text are left out) and the
    /// words that translated variants draw from.
    pub fn new(docs: &[Value], vocabulary: Vec<String>, seed: u64) -> Result<Self, CorpusError> {
        let pages: Vec<Value> = docs
            .iter()
            .filter(|d| response(d).is_some())
            .cloned()
            .collect();
        let largest = pages
            .iter()
            .filter_map(|d| d.pointer("/responses/0").cloned())
            .map(|mut r| word_count(&mut r))
            .max()
            .ok_or(CorpusError::NoBlocks)?;
        Ok(Self {
            pages,
            vocabulary,
            largest,
            seed,
        })
    }

    /// Document number `index`: real pages and their three variants in turn (the same
    /// index always gives the same document).
    pub fn document(&self, index: u64) -> (Variant, Value) {
        let mut rng = StdRng::seed_from_u64(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let n = self.pages.len() as u64;
        let page = (index % n) as usize;
        let variant = Variant::ALL[((index / n) % 4) as usize];
        let mut doc = self.pages[page].clone();
        let Some(r) = doc.pointer_mut("/responses/0") else {
            return (variant, doc);
        };
        match variant {
            Variant::Original => return (variant, doc),
            Variant::Shuffled => {
                let mut texts = Vec::new();
                for_each_word(r, &mut |w| texts.push(word_text(w)));
                texts.shuffle(&mut rng);
                let mut it = texts.into_iter();
                for_each_word(r, &mut |w| {
                    if let Some(t) = it.next() {
                        set_word_text(w, &t);
                    }
                });
            }
            Variant::Translated => {
                if !self.vocabulary.is_empty() {
                    for_each_word(r, &mut |w| {
                        if rng.random_range(0..3) == 0 {
                            let i = rng.random_range(0..self.vocabulary.len());
                            set_word_text(w, &self.vocabulary[i]);
                        }
                    });
                }
            }
            Variant::Merged => self.merge_into(r, &mut rng),
        }
        rebuild_texts(r);
        (variant, doc)
    }

    /// Appends blocks of the other pages below the page's own until it holds as many
    /// words as the largest page.
    fn merge_into(&self, r: &mut Value, rng: &mut StdRng) {
        let mut words = word_count(r);
        let mut height = r
            .pointer("/fullTextAnnotation/pages/0/height")
            .and_then(Value::as_f64)
            .unwrap_or(1000.0);
        let mut added = Vec::new();
        let mut guard = 0;
        while words < self.largest && guard < 10_000 {
            guard += 1;
            let other = &self.pages[rng.random_range(0..self.pages.len())];
            let Some(blocks) = other
                .pointer("/responses/0/fullTextAnnotation/pages/0/blocks")
                .and_then(Value::as_array)
            else {
                continue;
            };
            if blocks.is_empty() {
                continue;
            }
            let mut block = blocks[rng.random_range(0..blocks.len())].clone();
            let mut ext = None;
            extent(&block, &mut ext);
            let (_, by0, _, by1) = ext.unwrap_or((0.0, 0.0, 100.0, 20.0));
            transform(&mut block, 0.0, height - by0 + 8.0, 0);
            height += (by1 - by0).max(10.0) + 8.0;
            words += block_word_count(&block);
            added.push(block);
        }
        if let Some(page) = r.pointer_mut("/fullTextAnnotation/pages/0") {
            page["height"] = json!(height.round() as i64);
            if let Some(blocks) = page.get_mut("blocks").and_then(Value::as_array_mut) {
                blocks.extend(added);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::text_block;
    use super::*;
    use crate::ocr::OcrDocument;

    fn page(text: &str) -> Value {
        let block = text_block(text, 0.0, 0.0, "fr");
        let mut r = json!({"fullTextAnnotation": {"text": "", "pages": [{
            "width": 500, "height": 100, "blocks": [block]}]},
            "textAnnotations": [{"locale": "fr", "description": ""}]});
        rebuild_texts(&mut r);
        json!({"responses": [r]})
    }

    fn words_of(doc: &Value) -> Vec<String> {
        let mut r = doc.pointer("/responses/0").cloned().unwrap_or_default();
        let mut out = Vec::new();
        for_each_word(&mut r, &mut |w| out.push(word_text(w)));
        out
    }

    #[test]
    fn variants_keep_the_shape_and_parse() {
        let docs = [
            page("Poids net 250 g"),
            page("sucre farine de blé huile sel lait"),
        ];
        let vocab = vec!["砂糖".to_string(), "Zucker".to_string()];
        let g = RealShaped::new(&docs, vocab, 3).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Vec::new();
        for i in 0..8 {
            let (variant, doc) = g.document(i);
            assert_eq!(doc, g.document(i).1, "reproducible");
            seen.push(variant);
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            let parsed = OcrDocument::from_json_bytes(&bytes);
            assert!(parsed.is_ok(), "{variant:?}: {:?}", parsed.err());
            let words = words_of(&doc);
            let text = doc
                .pointer("/responses/0/fullTextAnnotation/text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            assert_eq!(text.split_whitespace().collect::<Vec<_>>(), words);
            let per_word = doc
                .pointer("/responses/0/textAnnotations")
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            assert_eq!(per_word, words.len() + 1, "{variant:?}");
            match variant {
                Variant::Original => assert_eq!(doc, docs[(i % 2) as usize]),
                Variant::Shuffled => {
                    let mut a = words.clone();
                    let mut b = words_of(&docs[(i % 2) as usize]);
                    a.sort();
                    b.sort();
                    assert_eq!(a, b);
                }
                Variant::Merged => assert!(words.len() >= 7, "{words:?}"),
                Variant::Translated => {}
            }
        }
        assert!(Variant::ALL.iter().all(|v| seen.contains(v)));
    }

    #[test]
    fn taxonomy_words_are_single_words_of_every_language() {
        let t = json!({"en:sugar": {"name": {"en": "cane sugar", "ja": "砂糖"}},
                       "en:x": {"name": {"fr": "a"}}});
        assert_eq!(taxonomy_words(&t), vec!["cane", "sugar", "砂糖"]);
    }
}
