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
        let regex = compile(&full).expect("built-in OCR pattern compiles");
        Self { regex, field }
    }

    /// Every match in the text of `content` for this pattern's field, with that text.
    pub fn captures<'t>(&self, content: &OcrContent<'t>) -> (&'t str, Vec<Caps<'t>>) {
        let text = content.text(self.field);
        (text, captures_all(&self.regex, text))
    }
}

/// Backtracking steps allowed per search (about a second of work). Python's `re` has no
/// limit; a finite one guards against runaway patterns on hostile text (the built-in
/// ones backtrack a few steps per position, so a search over the largest real documents
/// stays orders of magnitude below).
pub const BACKTRACK_LIMIT: usize = 1 << 27;

/// Compiles a pattern (Python `re` syntax) with [`BACKTRACK_LIMIT`].
pub fn compile(pattern: &str) -> Result<Regex, fancy_regex::Error> {
    fancy_regex::RegexBuilder::new(&pythonize(pattern))
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
}

/// Python's `\w` (letters, numbers, `_`) inside a character class.
const PY_WORD: &str = r"\p{L}\p{N}_";
/// Python's `\s` (`str.isspace`, which also counts U+001C..U+001F) inside a class.
const PY_SPACE: &str = r"\s\x1C-\x1F";

/// Rewrites `\w` and `\s` to the character sets Python's `re` gives them on `str`
/// patterns (Rust's `\w` also has combining marks, its `\s` lacks U+001C..U+001F).
pub fn pythonize(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('w' | 's')) => {
                    let set = if e == 'w' { PY_WORD } else { PY_SPACE };
                    if in_class {
                        out.push_str(set);
                    } else {
                        out.push('[');
                        out.push_str(set);
                        out.push(']');
                    }
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` right after `[` or `[^` is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether `c` is a word character for Python's `re` (`\w` on `str`).
pub fn is_py_word_char(c: char) -> bool {
    use std::sync::LazyLock;
    static WORD: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{N}_]$").ok());
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let mut buf = [0u8; 4];
    WORD.as_ref()
        .is_some_and(|re| re.is_match(c.encode_utf8(&mut buf)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_classes() {
        assert_eq!(
            pythonize(r"(?<!\w)a\s?b"),
            r"(?<![\p{L}\p{N}_])a[\s\x1C-\x1F]?b"
        );
        assert_eq!(pythonize(r"[\-\s.]x\\w"), r"[\-\s\x1C-\x1F.]x\\w");
        assert_eq!(pythonize(r"[]\w]"), r"[]\p{L}\p{N}_]");
        assert!(is_py_word_char('é'));
        assert!(is_py_word_char('٣'));
        assert!(!is_py_word_char('\u{301}'));
        assert!(!is_py_word_char('-'));
    }
}
