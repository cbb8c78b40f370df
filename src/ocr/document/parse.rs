//! Reading Cloud Vision JSON (plain or gzipped) into an [`OcrDocument`], rebuilding the
//! texts and word offsets the way the Open Food Facts Python SDK does.

use super::geometry::*;
use super::model::*;
use crate::text::CharOffsets;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::Read;

/// Largest decompressed document accepted (bytes).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;

/// Why an OCR document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OcrParseError {
    #[error("decompressing gzipped OCR document: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("OCR document larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("invalid OCR JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("Responses field (list) expected in OCR JSON")]
    MissingResponses,
    #[error("Empty OCR response")]
    EmptyResponse,
    #[error("Error in OCR response: {0}")]
    ResponseError(String),
    #[error("Error during OCR parsing: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct RawRoot<'a> {
    #[serde(borrow, default)]
    responses: Option<&'a RawValue>,
}

/// Deserialises a present key (even `null`) as `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// One response; `F` is what `fullTextAnnotation` is read as: kept raw (the checked path)
/// or read at once ([`MaybeFullText`], the fast path).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "F: Deserialize<'de>"))]
struct RawResponse<'a, F> {
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text_annotations: Vec<RawTextAnnotation<'a>>,
    #[serde(default)]
    full_text_annotation: Option<F>,
    #[serde(borrow, default)]
    logo_annotations: Vec<RawImageAnnotation<'a>>,
    #[serde(borrow, default)]
    label_annotations: Vec<RawImageAnnotation<'a>>,
    #[serde(default)]
    safe_search_annotation: Option<RawSafeSearch>,
    #[serde(default)]
    face_annotations: Vec<RawFace>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTextAnnotation<'a> {
    #[serde(borrow, default)]
    locale: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Cow<'a, str>,
    bounding_poly: RawPoly,
}

#[derive(Deserialize)]
struct RawImageAnnotation<'a> {
    #[serde(borrow, default)]
    mid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Cow<'a, str>,
    score: f64,
}

#[derive(Deserialize)]
struct RawSafeSearch {
    adult: Likelihood,
    spoof: Likelihood,
    medical: Likelihood,
    violence: Likelihood,
    racy: Likelihood,
}

fn unknown() -> Likelihood {
    Likelihood::Unknown
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFace {
    #[serde(default)]
    detection_confidence: f64,
    #[serde(default = "unknown")]
    joy_likelihood: Likelihood,
    #[serde(default = "unknown")]
    sorrow_likelihood: Likelihood,
    #[serde(default = "unknown")]
    anger_likelihood: Likelihood,
    #[serde(default = "unknown")]
    surprise_likelihood: Likelihood,
    #[serde(default = "unknown")]
    under_exposed_likelihood: Likelihood,
    #[serde(default = "unknown")]
    blurred_likelihood: Likelihood,
    #[serde(default = "unknown")]
    headwear_likelihood: Likelihood,
}

#[derive(Deserialize)]
struct RawPoly {
    vertices: Vec<RawVertex>,
}

#[derive(Deserialize)]
struct RawVertex {
    #[serde(default)]
    x: Option<f64>,
    #[serde(default)]
    y: Option<f64>,
}

impl RawPoly {
    fn into_poly(self) -> BoundingPoly {
        BoundingPoly {
            vertices: self
                .vertices
                .into_iter()
                .map(|v| (v.x.unwrap_or(0.0), v.y.unwrap_or(0.0)))
                .collect(),
        }
    }
}

#[derive(Deserialize)]
struct RawFullText<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow)]
    pages: Vec<RawPage<'a>>,
}

/// `fullTextAnnotation` read in the same pass as the rest; anything but an object with
/// both `text` and `pages` sends the document down the checked path.
#[derive(Deserialize)]
struct MaybeFullText<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pages: Option<Vec<RawPage<'a>>>,
}

/// The first element of a list (the others are skipped); `None` for an empty list.
struct FirstOf<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FirstOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = FirstOf<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<T>()?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(FirstOf(first))
            }
        }
        d.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct FastRoot<'a> {
    #[serde(borrow, default)]
    responses: Option<FirstOf<RawResponse<'a, MaybeFullText<'a>>>>,
}

#[derive(Deserialize)]
struct RawPage<'a> {
    width: f64,
    height: f64,
    #[serde(borrow)]
    blocks: Vec<RawBlock<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlock<'a> {
    #[serde(borrow)]
    block_type: Cow<'a, str>,
    #[serde(borrow)]
    paragraphs: Vec<RawParagraph<'a>>,
    #[serde(default)]
    bounding_box: Option<RawPoly>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParagraph<'a> {
    #[serde(borrow)]
    words: Vec<RawWord<'a>>,
    #[serde(default)]
    bounding_box: Option<RawPoly>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWord<'a> {
    bounding_box: RawPoly,
    #[serde(borrow)]
    symbols: Vec<RawSymbol<'a>>,
    #[serde(borrow, default)]
    property: Option<RawWordProperty<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWordProperty<'a> {
    #[serde(borrow, default)]
    detected_languages: Option<Vec<RawLanguage<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLanguage<'a> {
    #[serde(borrow)]
    language_code: Cow<'a, str>,
    #[serde(default)]
    confidence: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSymbol<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    bounding_box: Option<RawPoly>,
    #[serde(borrow, default)]
    property: Option<RawSymbolProperty<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSymbolProperty<'a> {
    #[serde(borrow, default)]
    detected_break: Option<RawBreak<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBreak<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default)]
    is_prefix: bool,
}

fn break_type(name: &str) -> Result<BreakType, OcrParseError> {
    Ok(match name {
        "UNKNOWN" => BreakType::Unknown,
        "SPACE" => BreakType::Space,
        "SURE_SPACE" => BreakType::SureSpace,
        "EOL_SURE_SPACE" => BreakType::EolSureSpace,
        "HYPHEN" => BreakType::Hyphen,
        "LINE_BREAK" => BreakType::LineBreak,
        other => {
            return Err(OcrParseError::Invalid(format!(
                "unknown detected break type: {other:?}"
            )))
        }
    })
}

/// Falsy JSON values (as Python tests them): the annotation is then treated as absent.
fn is_falsy(raw: &RawValue) -> bool {
    let t = raw.get().trim();
    if matches!(t, "null" | "false" | "0" | "\"\"" | "[]" | "0.0") {
        return true;
    }
    let inner = |open: char, close: char| {
        t.strip_prefix(open)
            .and_then(|r| r.strip_suffix(close))
            .is_some_and(|r| r.trim().is_empty())
    };
    inner('{', '}') || inner('[', ']')
}

impl OcrDocument {
    /// Reads a document from bytes: gzip (detected by its magic number) or plain JSON.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OcrParseError> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            let limit = MAX_DOCUMENT_BYTES as u64 + 1;
            flate2::read::MultiGzDecoder::new(bytes)
                .take(limit)
                .read_to_end(&mut out)
                .map_err(OcrParseError::Gzip)?;
            if out.len() > MAX_DOCUMENT_BYTES {
                return Err(OcrParseError::TooLarge {
                    limit: MAX_DOCUMENT_BYTES,
                });
            }
            Self::from_json_bytes(&out)
        } else {
            if bytes.len() > MAX_DOCUMENT_BYTES {
                return Err(OcrParseError::TooLarge {
                    limit: MAX_DOCUMENT_BYTES,
                });
            }
            Self::from_json_bytes(bytes)
        }
    }

    /// Reads a Cloud Vision answer (`{"responses": [...]}`) and parses `responses[0]`.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, OcrParseError> {
        match Self::read_in_one_pass(bytes) {
            Some(doc) => Ok(doc),
            None => Self::read_checked(bytes),
        }
    }

    /// A well-formed answer read in a single pass over the JSON; `None` for anything else
    /// (an error, an odd `fullTextAnnotation`, a document that does not parse), which
    /// [`Self::read_checked`] then reads and reports exactly.
    fn read_in_one_pass(bytes: &[u8]) -> Option<Self> {
        let root: FastRoot<'_> = serde_json::from_slice(bytes).ok()?;
        let response = root.responses?.0?;
        if response.error.is_some() {
            return None;
        }
        Self::from_raw(response, |ft| match ft {
            None => Ok(None),
            Some(MaybeFullText {
                text: Some(text),
                pages: Some(pages),
            }) => build_full_text(RawFullText { text, pages }).map(Some),
            Some(_) => Err(OcrParseError::Invalid(String::new())),
        })
        .ok()
    }

    /// Reads an answer step by step, so that each kind of error is told apart.
    fn read_checked(bytes: &[u8]) -> Result<Self, OcrParseError> {
        // Syntax errors first, so that truncated JSON is reported as such.
        let root: RawRoot<'_> = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            Err(e) if e.is_data() => return Err(OcrParseError::MissingResponses),
            Err(e) => return Err(OcrParseError::Json(e)),
        };
        let responses = root.responses.ok_or(OcrParseError::MissingResponses)?;
        let list: Vec<&RawValue> =
            serde_json::from_str(responses.get()).map_err(|_| OcrParseError::MissingResponses)?;
        let first = list.first().ok_or(OcrParseError::EmptyResponse)?;
        let response: RawResponse<'_, &RawValue> =
            serde_json::from_str(first.get()).map_err(|e| OcrParseError::Invalid(e.to_string()))?;
        if let Some(err) = response.error {
            return Err(OcrParseError::ResponseError(err.get().to_string()));
        }
        Self::from_raw(response, raw_full_text)
    }

    /// Parses one response object (the content of `responses[0]`).
    pub fn from_response_json(text: &str) -> Result<Self, OcrParseError> {
        let response: RawResponse<'_, &RawValue> =
            serde_json::from_str(text).map_err(|e| OcrParseError::Invalid(e.to_string()))?;
        Self::from_raw(response, raw_full_text)
    }

    fn from_raw<'a, F>(
        raw: RawResponse<'a, F>,
        full_text: impl FnOnce(Option<F>) -> Result<Option<FullTextAnnotation>, OcrParseError>,
    ) -> Result<Self, OcrParseError> {
        let full_text = full_text(raw.full_text_annotation)?;
        Ok(Self {
            text_annotations: raw
                .text_annotations
                .into_iter()
                .map(|t| TextAnnotation {
                    locale: t.locale.map(Cow::into_owned),
                    text: t.description.into_owned(),
                    bounding_poly: t.bounding_poly.into_poly(),
                })
                .collect(),
            full_text,
            logo_annotations: raw.logo_annotations.into_iter().map(annotation).collect(),
            label_annotations: raw.label_annotations.into_iter().map(annotation).collect(),
            safe_search: raw.safe_search_annotation.map(|s| SafeSearchAnnotation {
                adult: s.adult,
                spoof: s.spoof,
                medical: s.medical,
                violence: s.violence,
                racy: s.racy,
            }),
            face_annotations: raw
                .face_annotations
                .into_iter()
                .map(|f| FaceAnnotation {
                    detection_confidence: f.detection_confidence,
                    joy: f.joy_likelihood,
                    sorrow: f.sorrow_likelihood,
                    anger: f.anger_likelihood,
                    surprise: f.surprise_likelihood,
                    under_exposed: f.under_exposed_likelihood,
                    blurred: f.blurred_likelihood,
                    headwear: f.headwear_likelihood,
                })
                .collect(),
        })
    }
}

/// The full text of a `fullTextAnnotation` kept raw: none when the value is falsy.
fn raw_full_text(v: Option<&RawValue>) -> Result<Option<FullTextAnnotation>, OcrParseError> {
    match v {
        Some(v) if !is_falsy(v) => {
            let ft: RawFullText<'_> = serde_json::from_str(v.get())
                .map_err(|e| OcrParseError::Invalid(format!("fullTextAnnotation: {e}")))?;
            Ok(Some(build_full_text(ft)?))
        }
        _ => Ok(None),
    }
}

fn annotation(a: RawImageAnnotation<'_>) -> ImageAnnotation {
    ImageAnnotation {
        // An empty `mid` counts as no id.
        id: a.mid.filter(|m| !m.is_empty()).map(Cow::into_owned),
        description: a.description.into_owned(),
        score: a.score,
    }
}

fn build_word(raw: RawWord<'_>, offset: usize) -> Result<Word, OcrParseError> {
    let mut text = String::new();
    let mut symbols = Vec::with_capacity(raw.symbols.len());
    for s in raw.symbols {
        let detected_break = match s.property.and_then(|p| p.detected_break) {
            Some(b) => Some(DetectedBreak {
                kind: break_type(&b.kind)?,
                is_prefix: b.is_prefix,
            }),
            None => None,
        };
        if let Some(b) = detected_break.filter(|b| b.is_prefix) {
            text.push_str(b.kind.text());
        }
        text.push_str(&s.text);
        if let Some(b) = detected_break.filter(|b| !b.is_prefix) {
            text.push_str(b.kind.text());
        }
        symbols.push(Symbol {
            text: s.text.into_owned(),
            confidence: s.confidence,
            bounding_poly: s.bounding_box.map(RawPoly::into_poly),
            detected_break,
        });
    }
    let len = text.chars().count();
    Ok(Word {
        text,
        start_idx: offset,
        end_idx: offset + len,
        bounding_poly: raw.bounding_box.into_poly(),
        symbols,
        languages: raw
            .property
            .and_then(|p| p.detected_languages)
            .map(|langs| {
                langs
                    .into_iter()
                    .map(|l| DetectedLanguage {
                        language: l.language_code.into_owned(),
                        confidence: l.confidence.unwrap_or(0.0),
                    })
                    .collect()
            }),
    })
}

/// Rebuilds texts and offsets. Offsets count code points. As in the Python SDK, a
/// paragraph's words are placed before the separating space that is inserted in front of
/// the paragraph is counted, and blocks and pages each add one `|`.
fn build_full_text(raw: RawFullText<'_>) -> Result<FullTextAnnotation, OcrParseError> {
    let mut words: Vec<Word> = Vec::new();
    let mut pages = Vec::with_capacity(raw.pages.len());
    let mut offset = 0usize;
    let mut page_start = 0usize;
    for raw_page in raw.pages {
        let mut blocks = Vec::with_capacity(raw_page.blocks.len());
        for raw_block in raw_page.blocks {
            let mut paragraphs = Vec::with_capacity(raw_block.paragraphs.len());
            let mut block_text = String::new();
            let mut add_space = false;
            for raw_paragraph in raw_block.paragraphs {
                let first_word = words.len();
                let mut p_offset = offset;
                let mut p_text = String::new();
                for raw_word in raw_paragraph.words {
                    let w = build_word(raw_word, p_offset)?;
                    p_offset = w.end_idx;
                    p_text.push_str(&w.text);
                    words.push(w);
                }
                let p_len = p_offset - offset;
                offset += p_len;
                if add_space {
                    block_text.push(' ');
                    offset += 1;
                }
                block_text.push_str(&p_text);
                add_space = !p_text.is_empty() && !p_text.ends_with([' ', '\n']);
                paragraphs.push(Paragraph {
                    words: first_word..words.len(),
                    text: p_text,
                    bounding_poly: raw_paragraph.bounding_box.map(RawPoly::into_poly),
                });
            }
            // The `|` that joins this block to the next one.
            offset += 1;
            blocks.push(Block {
                block_type: raw_block.block_type.into_owned(),
                paragraphs,
                text: block_text,
                bounding_poly: raw_block.bounding_box.map(RawPoly::into_poly),
            });
        }
        let page_text = blocks
            .iter()
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("|");
        // Page offsets: the previous page's length plus one `|`, whatever the block count.
        pages.push(Page {
            width: raw_page.width,
            height: raw_page.height,
            blocks,
            text: page_text,
        });
        page_start += pages.last().map_or(0, |p| p.text.chars().count()) + 1;
        offset = page_start;
    }
    let text = pages
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("|");
    let contiguous_text = pages
        .iter()
        .map(|p| p.text.replace(['|', '\n'], " "))
        .collect::<Vec<_>>()
        .join("|");
    let offsets = CharOffsets::new(&text);
    Ok(FullTextAnnotation {
        api_text: raw.text.into_owned(),
        text,
        contiguous_text,
        pages,
        words,
        offsets,
    })
}
