//! Packaging predictions: French packaging phrases ("bouteille en verre à recycler") parsed
//! into shape, material and recycling elements with their taxonomy ids.

mod grammar;
mod vocabulary;

pub use grammar::PackagingGrammarError;
pub use vocabulary::{taxonomy_terminals, TerminalKind, Vocabulary, VocabularyError};

use super::content::OcrContent;
use super::resources::OcrResources;
use crate::text::{collapse_spaces, fold};
use crate::types::{Prediction, PredictionType};
use grammar::{Grammar, Span};
use once_cell::sync::Lazy;
use serde::Serialize;

/// Version of the packaging predictor.
pub const PREDICTOR_VERSION: &str = "1";

/// Shapes that are too often false positives to be predicted without a material or a
/// recycling instruction (`None`, a shape without id, is excluded too).
const SHAPE_ONLY_EXCLUDED: &[&str] = &[
    "en:tray",
    "en:packaging",
    "en:backing",
    "en:packet",
    "en:string",
    "en:bowl",
    "en:sheet",
    "en:net",
    "en:pouch-flask",
    "en:spoon",
    "en:tablespoon",
    "en:mold",
    "en:cutlery",
    "en:overpack",
    "en:plate",
    "en:basket",
    "en:wedge",
];

/// Errors of packaging matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackagingError {
    #[error(transparent)]
    Vocabulary(#[from] VocabularyError),
    #[error(transparent)]
    Grammar(#[from] PackagingGrammarError),
    #[error("matched {kind} text {value:?} has no id in the packaging vocabulary")]
    UnknownValue { kind: &'static str, value: String },
}

/// One property of a packaging element: the matched (normalised) text and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackagingProperty {
    pub value: String,
    pub value_tag: String,
}

/// A packaging element found in text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackagingElement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<PackagingProperty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material: Option<PackagingProperty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recycling: Option<PackagingProperty>,
}

/// The French packaging parser: vocabulary and compiled grammar.
#[derive(Debug)]
pub struct PackagingParser {
    vocabulary: Vocabulary,
    grammar: Grammar,
}

impl PackagingParser {
    /// Parser with the built-in French vocabulary.
    pub fn french() -> Result<Self, PackagingError> {
        Self::with_vocabulary(Vocabulary::french()?)
    }

    pub fn with_vocabulary(vocabulary: Vocabulary) -> Result<Self, PackagingError> {
        let grammar = Grammar::new(&vocabulary)?;
        Ok(Self {
            vocabulary,
            grammar,
        })
    }

    /// Finds packaging elements in `text`. The text is lowercased, folded to ASCII and runs
    /// of spaces are collapsed before parsing; returned values are normalised text.
    pub fn match_packaging(&self, text: &str) -> Result<Vec<PackagingElement>, PackagingError> {
        let normalised = normalise(text);
        if normalised.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.grammar.parse(&normalised)?;
        found
            .into_iter()
            .map(|m| {
                Ok(PackagingElement {
                    shape: Some(self.property(&normalised, TerminalKind::Shape, m.shape)?),
                    material: m
                        .material
                        .map(|s| self.property(&normalised, TerminalKind::Material, s))
                        .transpose()?,
                    recycling: m
                        .recycling
                        .map(|s| self.property(&normalised, TerminalKind::Recycling, s))
                        .transpose()?,
                })
            })
            .collect()
    }

    fn property(
        &self,
        text: &str,
        kind: TerminalKind,
        (start, end): Span,
    ) -> Result<PackagingProperty, PackagingError> {
        let value = text.get(start..end).unwrap_or_default().to_string();
        match self.vocabulary.tag(kind, &value) {
            Some(tag) => Ok(PackagingProperty {
                value_tag: tag.to_string(),
                value,
            }),
            None => Err(PackagingError::UnknownValue {
                kind: kind.name(),
                value,
            }),
        }
    }

    /// Packaging predictions for `text`: one per element that has a shape, except shapes
    /// in the false-positive list found without material nor recycling instruction.
    pub fn predictions(&self, text: &str) -> Result<Vec<Prediction>, PackagingError> {
        let elements = self.match_packaging(text)?;
        Ok(elements
            .into_iter()
            .filter_map(element_prediction)
            .collect())
    }
}

fn element_prediction(element: PackagingElement) -> Option<Prediction> {
    let shape_tag = element.shape.as_ref()?.value_tag.as_str();
    if SHAPE_ONLY_EXCLUDED.contains(&shape_tag)
        && element.material.is_none()
        && element.recycling.is_none()
    {
        return None;
    }
    let value = format!(
        "{{'shape': {}, 'material': {}, 'recycling': {}}}",
        python_repr(tag_of(&element.shape)),
        python_repr(tag_of(&element.material)),
        python_repr(tag_of(&element.recycling)),
    );
    let mut prediction = Prediction::new(PredictionType::Packaging);
    prediction.value = Some(value);
    prediction.data = serde_json::json!({ "lang": "fr", "element": element });
    prediction.automatic_processing = Some(false);
    prediction.predictor = Some("grammar".to_string());
    prediction.predictor_version = Some(PREDICTOR_VERSION.to_string());
    Some(prediction)
}

fn tag_of(property: &Option<PackagingProperty>) -> Option<&str> {
    property.as_ref().map(|p| p.value_tag.as_str())
}

/// Python's `repr` of an optional string (`'en:box'` or `None`), used in the value key.
fn python_repr(value: Option<&str>) -> String {
    let Some(s) = value else {
        return "None".to_string();
    };
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Lowercases, folds to ASCII and collapses runs of spaces.
fn normalise(text: &str) -> String {
    collapse_spaces(&fold(&text.to_lowercase()))
}

static FRENCH_PARSER: Lazy<Result<PackagingParser, PackagingError>> =
    Lazy::new(PackagingParser::french);

/// The shared French packaging parser.
pub fn french_parser() -> Result<&'static PackagingParser, PackagingError> {
    FRENCH_PARSER.as_ref().map_err(Clone::clone)
}

/// Finds packaging elements in `text` with the French grammar.
pub fn match_packaging(text: &str) -> Result<Vec<PackagingElement>, PackagingError> {
    french_parser()?.match_packaging(text)
}

/// Packaging predictions for a plain text (errors are logged and give no prediction).
pub fn find_packaging_in_text(text: &str) -> Vec<Prediction> {
    match french_parser().and_then(|p| p.predictions(text)) {
        Ok(predictions) => predictions,
        Err(err) => {
            tracing::warn!(error = %err, "packaging grammar failed on text");
            Vec::new()
        }
    }
}

/// Packaging predictions of the content, from its contiguous full text (or its first text
/// annotation when the document has no full text).
pub fn find_packaging(content: &OcrContent<'_>, _res: &OcrResources) -> Vec<Prediction> {
    find_packaging_in_text(content.default_text())
}

#[cfg(test)]
mod tests;
