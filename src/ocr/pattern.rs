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
    /// The pattern without its look-arounds, on the `regex` crate: finds where a match
    /// can start (see [`captures_prefiltered`]).
    prefilter: Option<regex::Regex>,
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
        Self {
            prefilter: prefilter(&full),
            regex,
            field,
        }
    }

    /// Every match in the text of `content` for this pattern's field, with that text.
    pub fn captures<'t>(&self, content: &OcrContent<'t>) -> (&'t str, Vec<Caps<'t>>) {
        let text = content.text(self.field);
        (text, self.captures_in(text))
    }

    /// Every match in `text`, left to right (the same as [`captures_all`], faster).
    pub fn captures_in<'t>(&self, text: &'t str) -> Vec<Caps<'t>> {
        match &self.prefilter {
            Some(pre) => captures_prefiltered(&self.regex, pre, text),
            None => captures_all(&self.regex, text),
        }
    }
}

/// The `regex` crate's compilation of a pattern (Python `re` syntax) with every
/// look-around group removed, when that compiles: it matches wherever the full pattern
/// does (dropping zero-width conditions only widens the language) and runs on a DFA.
pub fn prefilter(pattern: &str) -> Option<regex::Regex> {
    let full = pythonize(pattern);
    let relaxed = strip_lookarounds(&full)?;
    if relaxed == full {
        // No look-around: fancy-regex hands the whole pattern to the regex crate already.
        return None;
    }
    regex::RegexBuilder::new(&relaxed)
        .size_limit(32 << 20)
        .build()
        .ok()
}

/// `pattern` without its `(?=..)`, `(?!..)`, `(?<=..)` and `(?<!..)` groups; `None` when
/// one is not closed.
fn strip_lookarounds(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    // Open groups inside the look-around being removed (0: keeping).
    let mut removing = 0usize;
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        // One token: an escape, a class opening (with a literal `]` right after `[` or
        // `[^`), or a single character.
        let mut len = 1;
        match chars[i] {
            '\\' => len = 2,
            '[' if !in_class => {
                in_class = true;
                if chars.get(i + len) == Some(&'^') {
                    len += 1;
                }
                if chars.get(i + len) == Some(&']') {
                    len += 1;
                }
            }
            ']' if in_class => in_class = false,
            '(' if !in_class && (removing > 0 || is_lookaround(&chars[i..])) => removing += 1,
            ')' if !in_class && removing > 0 => {
                removing -= 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        let end = (i + len).min(chars.len());
        if removing == 0 {
            out.extend(&chars[i..end]);
        }
        i = end;
    }
    (removing == 0).then_some(out)
}

fn is_lookaround(at: &[char]) -> bool {
    matches!(
        at,
        ['(', '?', '=' | '!', ..] | ['(', '?', '<', '=' | '!', ..]
    )
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

/// What [`captures_all`] finds, searching with the full pattern only where `prefilter`
/// (the pattern without its look-arounds) finds a match start: a match of the full
/// pattern starts where one of the prefilter does, and the leftmost prefilter match is at
/// or before it, so every start the full pattern could match at is tried, in order, with
/// the same empty-match rules as `captures_iter`.
pub fn captures_prefiltered<'t>(
    regex: &Regex,
    prefilter: &regex::Regex,
    text: &'t str,
) -> Vec<Caps<'t>> {
    let mut out = Vec::new();
    if text.is_empty() {
        return out;
    }
    let next_char = |at: usize| {
        at + text
            .get(at..)
            .and_then(|r| r.chars().next())
            .map_or(1, char::len_utf8)
    };
    let mut pos = 0usize;
    let mut last_match: Option<usize> = None;
    while pos <= text.len() {
        let Some(candidate) = prefilter.find_at(text, pos) else {
            break;
        };
        let start = candidate.start();
        let input = fancy_regex::RegexInput::new(text)
            .from_pos(start)
            .anchored(true);
        let caps = match regex.captures_input(input) {
            Ok(Some(caps)) => caps,
            Ok(None) => {
                pos = next_char(start);
                continue;
            }
            Err(_) => break,
        };
        let (s, e) = span(&caps);
        if s == e {
            pos = next_char(e);
            if last_match == Some(e) {
                continue;
            }
        } else {
            pos = e;
        }
        last_match = Some(e);
        out.push(caps);
    }
    out
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

    #[test]
    fn lookarounds_are_stripped_for_the_prefilter() {
        assert_eq!(
            strip_lookarounds(r"(?<!\w)a(?=b|(c))d(?!x)").as_deref(),
            Some("ad")
        );
        assert_eq!(
            strip_lookarounds(r"(?P<n>a)(?<x>b)\(?=[(?=]").as_deref(),
            Some(r"(?P<n>a)(?<x>b)\(?=[(?=]")
        );
        assert_eq!(strip_lookarounds(r"a(?!b"), None);
        // Back-references are not for the regex crate: no prefilter, the full search.
        assert!(prefilter(r"(a)\1").is_none());
        assert!(prefilter(r"(?<!\w)(g|kg)(?!\w)").is_some());
        assert!(prefilter(r"(g|kg)\b").is_none(), "nothing to strip");
    }

    #[test]
    fn prefiltered_search_finds_what_the_full_search_finds() {
        let patterns = [
            r"(?i)(?<!\w)([0-9]+[,.]?[0-9]*) ?(g|kj|kcal)(?!\w)",
            r"(?i)(?<!\w)(?P<fr_0>mati[èe]res? grasses?)|(?P<en_1>fat)(?!\w)",
            r"(?<![0-9])x*(?![0-9])",
            r"(?i)(?<=é)t(?=é)|(?<!\w)",
            r"(?<!\w)woolworths?(?!\w)",
            r"(?:^|(?<=\s))[A-Z]{2}(?=\s|$)",
        ];
        let texts = [
            "",
            "Énergie 2393 kJ / 571 kcal, 37g matières grasses, fat 5 g 12gx g",
            "xx1x 2 xx 3xxx",
            "été étété ÉTÉ",
            "woolworthsx woolworths! woolworth",
            "FR AB cd EU\nDE",
            "٣g 5 g\u{301} 6 kj",
        ];
        for p in patterns {
            let full = compile(p).unwrap_or_else(|e| panic!("{p}: {e}"));
            let pre = prefilter(p).unwrap_or_else(|| panic!("{p}: no prefilter"));
            for t in texts {
                let spans = |caps: Vec<Caps<'_>>| -> Vec<Vec<Option<(usize, usize)>>> {
                    caps.iter()
                        .map(|c| {
                            (0..c.len())
                                .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                                .collect()
                        })
                        .collect()
                };
                assert_eq!(
                    spans(captures_prefiltered(&full, &pre, t)),
                    spans(captures_all(&full, t)),
                    "{p} on {t:?}"
                );
            }
        }
    }
}
