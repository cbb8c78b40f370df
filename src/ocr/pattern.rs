//! Regular expressions of the extractors (Python `re` syntax with look-arounds, run by
//! `fancy-regex`) and the text field each one is searched in.

use super::content::OcrContent;
use super::document::OcrField;
use fancy_regex::Regex;

/// Capture groups of one match in a text.
pub type Caps<'t> = fancy_regex::Captures<'t, str>;

/// A pattern and the OCR text it is searched in.
#[derive(Debug)]
pub struct OcrRegex {
    pub regex: Regex,
    pub field: OcrField,
}

impl OcrRegex {
    /// Compiles a pattern written in the source code.
    ///
    /// # Panics
    /// If the pattern does not compile; every pattern is compiled by the unit tests.
    pub fn new(pattern: &str, case_insensitive: bool, field: OcrField) -> Self {
        let full = if case_insensitive {
            format!("(?i){pattern}")
        } else {
            pattern.to_string()
        };
        #[allow(clippy::expect_used)]
        let regex = Regex::new(&full).expect("built-in OCR pattern compiles");
        Self { regex, field }
    }

    /// Every match in the text of `content` for this pattern's field, with that text.
    pub fn captures<'t>(&self, content: &OcrContent<'t>) -> (&'t str, Vec<Caps<'t>>) {
        let text = content.text(self.field);
        (text, captures_all(&self.regex, text))
    }
}

/// All non-overlapping matches of `regex` in `text`, left to right. A match that hits the
/// backtracking limit ends the search (the text is pathological for this pattern).
pub fn captures_all<'t>(regex: &Regex, text: &'t str) -> Vec<Caps<'t>> {
    if text.is_empty() {
        return Vec::new();
    }
    regex.captures_iter(text).map_while(Result::ok).collect()
}

/// Text of capture group `i` (empty when the group did not take part in the match).
pub fn group<'t>(caps: &Caps<'t>, i: usize) -> &'t str {
    caps.get(i).map_or("", |m| m.as_str())
}

/// Byte span of the whole match.
pub fn span(caps: &Caps<'_>) -> (usize, usize) {
    caps.get(0).map_or((0, 0), |m| (m.start(), m.end()))
}
