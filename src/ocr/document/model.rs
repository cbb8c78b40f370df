//! The Cloud Vision document: annotations, pages, blocks, words and symbols, and the
//! questions extractors ask of it (text by field, languages, orientation, word spans).

use super::geometry::{BoundingBox, BoundingPoly, Orientation};
use crate::text::CharOffsets;
use std::ops::Range;

/// One parsed OCR response (`responses[0]` of a Cloud Vision answer).
#[derive(Debug, Clone, Default)]
pub struct OcrDocument {
    pub text_annotations: Vec<TextAnnotation>,
    pub full_text: Option<FullTextAnnotation>,
    pub logo_annotations: Vec<ImageAnnotation>,
    pub label_annotations: Vec<ImageAnnotation>,
    pub safe_search: Option<SafeSearchAnnotation>,
    pub face_annotations: Vec<FaceAnnotation>,
}

/// Structured text: pages → blocks → paragraphs → words, and the texts rebuilt from them.
#[derive(Debug, Clone)]
pub struct FullTextAnnotation {
    /// The `text` field as the API returned it (not used for matching).
    pub api_text: String,
    /// Text rebuilt from the symbols: blocks and pages joined with `|`, so that matches
    /// cannot span them.
    pub text: String,
    /// `text` with `|` and line breaks replaced by spaces (pages still joined with `|`),
    /// so that matches can span lines and blocks. Same length as `text`.
    pub contiguous_text: String,
    pub pages: Vec<Page>,
    /// Every word of the document in reading order; paragraphs refer to ranges of it.
    pub words: Vec<Word>,
    /// Byte/code-point conversion for `text` and `contiguous_text`.
    pub offsets: CharOffsets,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub width: f64,
    pub height: f64,
    pub blocks: Vec<Block>,
    /// Blocks' texts joined with `|`.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub block_type: String,
    pub paragraphs: Vec<Paragraph>,
    /// Paragraphs' texts, with a space between two paragraphs when the first does not
    /// already end with a space or a line break.
    pub text: String,
    pub bounding_poly: Option<BoundingPoly>,
}

#[derive(Debug, Clone)]
pub struct Paragraph {
    /// Indices of this paragraph's words in [`FullTextAnnotation::words`].
    pub words: Range<usize>,
    pub text: String,
    pub bounding_poly: Option<BoundingPoly>,
}

#[derive(Debug, Clone)]
pub struct Word {
    /// Symbols' texts with their detected breaks (space, line break) attached.
    pub text: String,
    /// Code-point offsets of the word in the full text, as the Python SDK computes them.
    pub start_idx: usize,
    pub end_idx: usize,
    pub bounding_poly: BoundingPoly,
    pub symbols: Vec<Symbol>,
    /// Detected languages; `None` when the word has no `detectedLanguages` property.
    pub languages: Option<Vec<DetectedLanguage>>,
}

#[derive(Debug, Clone)]
pub struct Symbol {
    pub text: String,
    pub confidence: Option<f64>,
    pub bounding_poly: Option<BoundingPoly>,
    pub detected_break: Option<DetectedBreak>,
}

/// Kind of break detected around a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakType {
    Unknown,
    Space,
    SureSpace,
    EolSureSpace,
    Hyphen,
    LineBreak,
}

impl BreakType {
    /// The text a break stands for: nothing, a space or a line break.
    pub fn text(self) -> &'static str {
        match self {
            Self::Unknown | Self::Hyphen => "",
            Self::Space | Self::SureSpace | Self::EolSureSpace => " ",
            Self::LineBreak => "\n",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedBreak {
    pub kind: BreakType,
    /// The break comes before the symbol rather than after it.
    pub is_prefix: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetectedLanguage {
    pub language: String,
    pub confidence: f64,
}

/// An entry of `textAnnotations` (the first one holds the whole text).
#[derive(Debug, Clone)]
pub struct TextAnnotation {
    pub locale: Option<String>,
    pub text: String,
    pub bounding_poly: BoundingPoly,
}

/// A logo or label annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageAnnotation {
    pub id: Option<String>,
    pub description: String,
    pub score: f64,
}

/// Cloud Vision likelihood scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Likelihood {
    Unknown,
    VeryUnlikely,
    Unlikely,
    Possible,
    Likely,
    VeryLikely,
}

impl Likelihood {
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::VeryUnlikely => "VERY_UNLIKELY",
            Self::Unlikely => "UNLIKELY",
            Self::Possible => "POSSIBLE",
            Self::Likely => "LIKELY",
            Self::VeryLikely => "VERY_LIKELY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SafeSearchAnnotation {
    pub adult: Likelihood,
    pub spoof: Likelihood,
    pub medical: Likelihood,
    pub violence: Likelihood,
    pub racy: Likelihood,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceAnnotation {
    pub detection_confidence: f64,
    pub joy: Likelihood,
    pub sorrow: Likelihood,
    pub anger: Likelihood,
    pub surprise: Likelihood,
    pub under_exposed: Likelihood,
    pub blurred: Likelihood,
    pub headwear: Likelihood,
}

/// Which text a pattern is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcrField {
    /// Blocks separated by `|`: no match across blocks.
    FullText,
    /// Lines and blocks joined by spaces: matches may span them.
    FullTextContiguous,
}

/// Word orientation counts and the most common orientation.
#[derive(Debug, Clone, PartialEq)]
pub struct OrientationResult {
    pub orientation: Orientation,
    /// Count per orientation, in order of first appearance.
    pub count: Vec<(Orientation, usize)>,
}

impl OcrDocument {
    /// Text of `field`; empty without a full text annotation.
    pub fn text(&self, field: OcrField) -> &str {
        match (&self.full_text, field) {
            (None, _) => "",
            (Some(ft), OcrField::FullText) => &ft.text,
            (Some(ft), OcrField::FullTextContiguous) => &ft.contiguous_text,
        }
    }

    /// The text of the first text annotation (the whole text as the API wrote it).
    pub fn text_annotations_text(&self) -> &str {
        self.text_annotations
            .first()
            .map_or("", |t| t.text.as_str())
    }

    /// Word counts per detected language (`"null"` for words without languages) and the
    /// total as `"words"`, summed paragraph by paragraph in order of first appearance.
    pub fn languages(&self) -> Option<Vec<(String, i64)>> {
        let ft = self.full_text.as_ref()?;
        let mut counts: Vec<(String, i64)> = Vec::new();
        let add = |key: &str, n: i64, counts: &mut Vec<(String, i64)>| match counts
            .iter_mut()
            .find(|(k, _)| k == key)
        {
            Some((_, v)) => *v += n,
            None => counts.push((key.to_string(), n)),
        };
        for page in &ft.pages {
            for block in &page.blocks {
                for paragraph in &block.paragraphs {
                    // A paragraph's own counts (keys in first-seen order, "words" last),
                    // merged into the running total.
                    let mut local: Vec<(String, i64)> = Vec::new();
                    let words = ft.words.get(paragraph.words.clone()).unwrap_or(&[]);
                    for word in words {
                        match &word.languages {
                            Some(langs) => {
                                for l in langs {
                                    add(&l.language, 1, &mut local);
                                }
                            }
                            None => add("null", 1, &mut local),
                        }
                    }
                    match local.iter_mut().find(|(k, _)| k == "words") {
                        Some((_, v)) => *v = words.len() as i64,
                        None => local.push(("words".to_string(), words.len() as i64)),
                    }
                    for (k, v) in local {
                        add(&k, v, &mut counts);
                    }
                }
            }
        }
        Some(counts)
    }

    /// Orientation of every word, counted; `None` without a full text annotation.
    pub fn orientation(&self) -> Option<OrientationResult> {
        let ft = self.full_text.as_ref()?;
        let mut count: Vec<(Orientation, usize)> = Vec::new();
        for word in &ft.words {
            let o = word.bounding_poly.detect_orientation();
            match count.iter_mut().find(|(k, _)| *k == o) {
                Some((_, n)) => *n += 1,
                None => count.push((o, 1)),
            }
        }
        // Most common; the first seen wins ties.
        let mut best: Option<(Orientation, usize)> = None;
        for (o, n) in &count {
            if best.is_none_or(|(_, bn)| *n > bn) {
                best = Some((*o, *n));
            }
        }
        Some(OrientationResult {
            orientation: best.map_or(Orientation::Unknown, |(o, _)| o),
            count,
        })
    }

    /// The text of the words lying wholly inside `area` (`[y_min, x_min, y_max, x_max]` in
    /// image pixels), concatenated in reading order (each word keeps its break); `None`
    /// without a full text annotation or without such words. Spec pipeline §6.3 (the OCR
    /// text of a logo). Words without vertices are never inside.
    pub fn text_in_area(&self, area: [f64; 4]) -> Option<String> {
        let [y_min, x_min, y_max, x_max] = area;
        let full = self.full_text.as_ref()?;
        let mut text = String::new();
        let mut found = false;
        for word in &full.words {
            let v = &word.bounding_poly.vertices;
            if v.is_empty() {
                continue;
            }
            let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
                v.iter().map(pick).fold(init, f)
            };
            let wx_min = fold(f64::min, f64::INFINITY, |p| p.0);
            let wy_min = fold(f64::min, f64::INFINITY, |p| p.1);
            let wx_max = fold(f64::max, f64::NEG_INFINITY, |p| p.0);
            let wy_max = fold(f64::max, f64::NEG_INFINITY, |p| p.1);
            if wx_min >= x_min && wx_max <= x_max && wy_min >= y_min && wy_max <= y_max {
                text.push_str(&word.text);
                found = true;
            }
        }
        found.then_some(text)
    }

    /// Words overlapping the code-point span `start..end` of the full text, scanning in
    /// reading order and stopping at the first word that reaches `end`. `None` without a
    /// full text annotation.
    pub fn words_in_span(&self, start: usize, end: usize) -> Option<Vec<&Word>> {
        let ft = self.full_text.as_ref()?;
        // Word offsets never decrease, so words ending before `start` can be skipped.
        let first = ft.words.partition_point(|w| w.end_idx < start);
        let mut selected = Vec::new();
        for w in ft.words.get(first..).unwrap_or(&[]) {
            if w.end_idx > start && w.start_idx < end {
                selected.push(w);
            }
            if w.end_idx >= end {
                break;
            }
        }
        Some(selected)
    }

    /// Box around the words of the code-point span `start..end` of the full text.
    pub fn match_bounding_box(&self, start: usize, end: usize) -> Option<BoundingBox> {
        let words = self.words_in_span(start, end)?;
        BoundingBox::union(words.iter().map(|w| &w.bounding_poly))
    }
}
