//! Synthetic Cloud Vision documents for benchmarks and fuzzing seeds: blocks of real
//! documents re-laid out on new pages, with product facts (weights, codes, dates, labels,
//! brands, traces, addresses) written in as extra paragraphs.

pub mod variants;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

/// Texts injected into synthetic documents: one fact per extractor family.
const FACTS: &[&str] = &[
    "Poids net : 250 g",
    "500 g net",
    "4 x 125 g",
    "Net wt. 12 oz",
    "Volume net total 75 cl",
    "EMB 29232C",
    "FR 29.116.001 CE",
    "DE BY-123 EG",
    "RSPO-5068502",
    "FSC C123456",
    "A consommer de préférence avant le 12/03/2021",
    "DLUO 01.02.2024",
    "Ingrédients biologiques",
    "Agriculture UE/non UE",
    "certifié AB.",
    "NUTRI-SCORE",
    "AOC Comté",
    "sans conservateur",
    "Peut contenir des traces de fruits à coque et de soja.",
    "Traces éventuelles de lait",
    "67118 Geispolsheim",
    "75001 Paris",
    "Coca-Cola",
    "Carrefour",
    "Auchan production",
    "Valeurs nutritionnelles pour 100 g : Energie 2393 kJ Matières grasses 37 g Glucides 54 g Protéines 5,4 g Sel 0,5 g",
    "Barquette et film plastique à jeter",
    "phenoxyethanol",
];

/// Words of a few languages used to fill paragraphs.
const FILLER: &[&str] = &[
    "sucre",
    "farine",
    "de",
    "blé",
    "huile",
    "tournesol",
    "sel",
    "lait",
    "écrémé",
    "poudre",
    "water",
    "sugar",
    "natural",
    "flavour",
    "acidity",
    "regulator",
    "Zucker",
    "Wasser",
    "Weizenmehl",
    "azúcar",
    "harina",
    "aceite",
    "zucchero",
    "farina",
    "100g",
    "kcal",
    "(E330)",
    "%",
    ":",
    "-",
    "ÉNERGIE",
    "İçindekiler",
    "μg",
    "½",
    "—",
];

/// Why a corpus could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("no seed document has blocks to reuse")]
    NoBlocks,
}

/// Builds synthetic documents from the parts of seed documents.
#[derive(Debug, Clone)]
pub struct CorpusGenerator {
    blocks: Vec<Value>,
    logos: Vec<Value>,
    labels: Vec<Value>,
    safe_search: Vec<Value>,
    faces: Vec<Value>,
    seed: u64,
}

/// Box `(x_min, y_min, x_max, y_max)` of every vertex under `v`.
fn extent(v: &Value, acc: &mut Option<(f64, f64, f64, f64)>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(vs)) = m.get("vertices") {
                for p in vs {
                    let x = p.get("x").and_then(Value::as_f64).unwrap_or(0.0);
                    let y = p.get("y").and_then(Value::as_f64).unwrap_or(0.0);
                    *acc = Some(match *acc {
                        None => (x, y, x, y),
                        Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
                    });
                }
            }
            for (k, child) in m {
                if k != "vertices" {
                    extent(child, acc);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| extent(i, acc)),
        _ => {}
    }
}

/// Moves every vertex under `v` by `(dx, dy)`; with `rotate`, vertex lists are rotated
/// by that many positions (which changes the detected text orientation).
fn transform(v: &mut Value, dx: f64, dy: f64, rotate: usize) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "vertices" {
                    if let Value::Array(vs) = child {
                        for p in vs.iter_mut() {
                            if let Value::Object(pm) = p {
                                let x = pm.get("x").and_then(Value::as_f64).unwrap_or(0.0);
                                let y = pm.get("y").and_then(Value::as_f64).unwrap_or(0.0);
                                pm.insert("x".into(), json!((x + dx).round() as i64));
                                pm.insert("y".into(), json!((y + dy).round() as i64));
                            }
                        }
                        if rotate > 0 && !vs.is_empty() {
                            let r = rotate % vs.len();
                            vs.rotate_left(r);
                        }
                    }
                } else {
                    transform(child, dx, dy, rotate);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| transform(i, dx, dy, rotate)),
        _ => {}
    }
}

fn poly(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"vertices": [
        {"x": x0 as i64, "y": y0 as i64}, {"x": x1 as i64, "y": y0 as i64},
        {"x": x1 as i64, "y": y1 as i64}, {"x": x0 as i64, "y": y1 as i64},
    ]})
}

/// A block of one paragraph holding `text`, starting at `(x, y)`; 10 × 20 px per char.
fn text_block(text: &str, x: f64, y: f64, lang: &str) -> Value {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut words = Vec::with_capacity(tokens.len());
    let mut cx = x;
    let (h, w) = (20.0, 10.0);
    for (ti, token) in tokens.iter().enumerate() {
        let n = token.chars().count();
        let mut symbols = Vec::with_capacity(n);
        for (ci, c) in token.chars().enumerate() {
            let mut s = json!({"text": c.to_string(), "boundingBox": poly(cx, y, cx + w, y + h), "confidence": 0.98});
            if ci + 1 == n {
                let kind = if ti + 1 == tokens.len() {
                    "LINE_BREAK"
                } else {
                    "SPACE"
                };
                s["property"] = json!({"detectedBreak": {"type": kind}});
            }
            symbols.push(s);
            cx += w;
        }
        let x0 = cx - w * n as f64;
        words.push(json!({
            "property": {"detectedLanguages": [{"languageCode": lang}]},
            "boundingBox": poly(x0, y, cx, y + h),
            "symbols": symbols,
            "confidence": 0.97,
        }));
        cx += w;
    }
    json!({
        "blockType": "TEXT",
        "boundingBox": poly(x, y, cx, y + h),
        "paragraphs": [{"boundingBox": poly(x, y, cx, y + h), "words": words}],
    })
}

impl CorpusGenerator {
    /// Collects blocks and annotations from Cloud Vision answers (`{"responses": [..]}`).
    pub fn from_documents(docs: &[Value], seed: u64) -> Result<Self, CorpusError> {
        let mut g = Self {
            blocks: Vec::new(),
            logos: Vec::new(),
            labels: Vec::new(),
            safe_search: Vec::new(),
            faces: Vec::new(),
            seed,
        };
        for doc in docs {
            let Some(r) = doc.pointer("/responses/0") else {
                continue;
            };
            if let Some(pages) = r
                .pointer("/fullTextAnnotation/pages")
                .and_then(Value::as_array)
            {
                for page in pages {
                    if let Some(blocks) = page.get("blocks").and_then(Value::as_array) {
                        g.blocks.extend(blocks.iter().cloned());
                    }
                }
            }
            let take = |key: &str, into: &mut Vec<Value>| {
                if let Some(items) = r.get(key).and_then(Value::as_array) {
                    into.extend(items.iter().cloned());
                }
            };
            take("logoAnnotations", &mut g.logos);
            take("labelAnnotations", &mut g.labels);
            take("faceAnnotations", &mut g.faces);
            if let Some(ss) = r.get("safeSearchAnnotation") {
                g.safe_search.push(ss.clone());
            }
        }
        if g.blocks.is_empty() {
            return Err(CorpusError::NoBlocks);
        }
        g.logos
            .push(json!({"mid": "/m/01", "description": "Coca-Cola", "score": 0.91}));
        g.logos
            .push(json!({"mid": "/m/02", "description": "label rouge", "score": 0.77}));
        Ok(g)
    }

    /// Document number `index` (the same index always gives the same document).
    pub fn document(&self, index: u64) -> Value {
        let mut rng = StdRng::seed_from_u64(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let size_class = rng.random_range(0..100);
        let n_blocks = match size_class {
            0..=69 => rng.random_range(3..30),
            70..=94 => rng.random_range(30..120),
            _ => rng.random_range(120..400),
        };
        let rotate = if rng.random_range(0..10) == 0 {
            rng.random_range(1..4)
        } else {
            0
        };
        let mut blocks = Vec::with_capacity(n_blocks + 4);
        let mut y = 10.0;
        let width = 1200.0;
        for _ in 0..n_blocks {
            let mut block = if rng.random_range(0..100) < 15 {
                let fact = FACTS
                    .get(rng.random_range(0..FACTS.len()))
                    .copied()
                    .unwrap_or("");
                let mut text = String::from(fact);
                for _ in 0..rng.random_range(0..6) {
                    text.push(' ');
                    text.push_str(
                        FILLER
                            .get(rng.random_range(0..FILLER.len()))
                            .copied()
                            .unwrap_or(""),
                    );
                }
                text_block(
                    &text,
                    20.0,
                    0.0,
                    if rng.random_bool(0.5) { "fr" } else { "en" },
                )
            } else {
                self.blocks
                    .get(rng.random_range(0..self.blocks.len()))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let mut ext = None;
            extent(&block, &mut ext);
            let (x0, y0, _, y1) = ext.unwrap_or((0.0, 0.0, 100.0, 20.0));
            let dx = rng.random_range(0.0..200.0) - x0.min(200.0);
            transform(&mut block, dx, y - y0, rotate);
            y += (y1 - y0).max(10.0) + 8.0;
            blocks.push(block);
        }
        let height = y + 10.0;
        let mut response = Map::new();
        let mut text = String::new();
        let pages = json!([{ "width": width as i64, "height": height as i64, "blocks": blocks }]);
        if let Some(bs) = pages.pointer("/0/blocks").and_then(Value::as_array) {
            for b in bs {
                collect_text(b, &mut text);
            }
        }
        response.insert(
            "textAnnotations".into(),
            json!([{ "locale": "fr", "description": text, "boundingPoly": poly(0.0, 0.0, width, height) }]),
        );
        response.insert(
            "fullTextAnnotation".into(),
            json!({ "text": text, "pages": pages }),
        );
        let pick = |rng: &mut StdRng, pool: &[Value], max: usize| -> Vec<Value> {
            if pool.is_empty() {
                return Vec::new();
            }
            (0..rng.random_range(0..=max))
                .filter_map(|_| pool.get(rng.random_range(0..pool.len())).cloned())
                .collect()
        };
        let logos = pick(&mut rng, &self.logos, 2);
        if !logos.is_empty() {
            response.insert("logoAnnotations".into(), Value::Array(logos));
        }
        response.insert(
            "labelAnnotations".into(),
            Value::Array(pick(&mut rng, &self.labels, 6)),
        );
        if !self.safe_search.is_empty() {
            let i = rng.random_range(0..self.safe_search.len());
            if let Some(ss) = self.safe_search.get(i) {
                response.insert("safeSearchAnnotation".into(), ss.clone());
            }
        }
        if rng.random_range(0..20) == 0 {
            response.insert(
                "faceAnnotations".into(),
                Value::Array(pick(&mut rng, &self.faces, 2)),
            );
        }
        json!({ "responses": [Value::Object(response)] })
    }
}

/// Appends the text of every symbol under `v`, with its breaks, as the API's `text` does.
fn collect_text(v: &Value, out: &mut String) {
    if let Some(symbols) = v.get("symbols").and_then(Value::as_array) {
        for s in symbols {
            out.push_str(s.get("text").and_then(Value::as_str).unwrap_or(""));
            match s
                .pointer("/property/detectedBreak/type")
                .and_then(Value::as_str)
            {
                Some("SPACE" | "SURE_SPACE") => out.push(' '),
                Some("EOL_SURE_SPACE" | "LINE_BREAK") => out.push('\n'),
                _ => {}
            }
        }
        return;
    }
    match v {
        Value::Object(m) => m.values().for_each(|c| collect_text(c, out)),
        Value::Array(items) => items.iter().for_each(|c| collect_text(c, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::OcrDocument;

    #[test]
    fn generated_documents_parse_and_are_reproducible() {
        let seed_doc = json!({"responses": [{"fullTextAnnotation": {"text": "", "pages": [{
            "width": 10, "height": 10,
            "blocks": [text_block("Poids net : 250 g", 0.0, 0.0, "fr")]}]}}]});
        let g = CorpusGenerator::from_documents(&[seed_doc], 7);
        let Ok(g) = g else {
            panic!("generator from one block");
        };
        let a = g.document(3);
        assert_eq!(a, g.document(3));
        let bytes = serde_json::to_vec(&a).unwrap_or_default();
        let doc = OcrDocument::from_json_bytes(&bytes);
        assert!(doc.is_ok(), "{:?}", doc.err());
        assert!(CorpusGenerator::from_documents(&[json!({})], 1).is_err());
    }
}
