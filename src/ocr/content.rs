//! What extractors read: a plain text or a parsed OCR document (Robotoff's
//! `Union[OCRResult, str]`), with the text and bounding-box lookups they share.

use super::document::{BoundingBox, OcrDocument, OcrField};
use crate::text::CharOffsets;
use serde_json::{Map, Value};

/// Input of every extractor.
#[derive(Debug, Clone, Copy)]
pub enum OcrContent<'a> {
    /// A plain text (for example a product name): no boxes, no image annotations.
    Text(&'a str),
    /// A parsed Cloud Vision document.
    Document(&'a OcrDocument),
}

impl<'a> OcrContent<'a> {
    /// The document, when the content is one.
    pub fn document(&self) -> Option<&'a OcrDocument> {
        match self {
            Self::Text(_) => None,
            Self::Document(d) => Some(d),
        }
    }

    /// Text a pattern of `field` is searched in (the text itself for plain text).
    pub fn text(&self, field: OcrField) -> &'a str {
        match self {
            Self::Text(t) => t,
            Self::Document(d) => d.text(field),
        }
    }

    /// Text keyword lists are searched in: the contiguous full text, or the first text
    /// annotation when the document has no full text.
    pub fn default_text(&self) -> &'a str {
        match self {
            Self::Text(t) => t,
            Self::Document(d) => {
                let t = d.text(OcrField::FullTextContiguous);
                if t.is_empty() {
                    d.text_annotations_text()
                } else {
                    t
                }
            }
        }
    }

    /// Box around the words under bytes `start..end` of `searched` (a text returned by
    /// [`Self::text`] or [`Self::default_text`]); `None` for plain text or without words.
    pub fn bounding_box(&self, searched: &str, start: usize, end: usize) -> Option<BoundingBox> {
        let doc = self.document()?;
        let ft = doc.full_text.as_ref()?;
        let same = |s: &str| s.as_ptr() == searched.as_ptr() && s.len() == searched.len();
        let (cs, ce) = if same(&ft.text) || same(&ft.contiguous_text) {
            (ft.offsets.byte_to_char(start), ft.offsets.byte_to_char(end))
        } else {
            let o = CharOffsets::new(searched);
            (o.byte_to_char(start), o.byte_to_char(end))
        };
        doc.match_bounding_box(cs, ce)
    }

    /// Like [`Self::bounding_box`] with code-point offsets.
    pub fn bounding_box_chars(&self, start: usize, end: usize) -> Option<BoundingBox> {
        self.document()?.match_bounding_box(start, end)
    }
}

/// Adds `data.bounding_box_absolute` for the bytes `start..end` of `text` when the
/// content has words there.
pub(crate) fn insert_bbox(
    data: &mut Map<String, Value>,
    content: &OcrContent<'_>,
    text: &str,
    start: usize,
    end: usize,
) {
    if let Some(bb) = content.bounding_box(text, start, end) {
        data.insert("bounding_box_absolute".into(), bb.to_json());
    }
}
