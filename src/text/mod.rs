//! Text utilities shared by extractors: ASCII folding, Open Food Facts tags, accent
//! stripping, code-point offsets, and the flashtext keyword processor.

pub mod flashtext;
mod fold_table;

pub use flashtext::{KeywordError, KeywordMatch, KeywordProcessor};

use fold_table::FOLD_TABLE;
use unicode_normalization::UnicodeNormalization;

fn fold_lookup(c: char) -> Option<&'static str> {
    let cp = u32::from(c);
    FOLD_TABLE
        .binary_search_by_key(&cp, |(k, _)| *k)
        .ok()
        .and_then(|i| FOLD_TABLE.get(i))
        .map(|(_, r)| *r)
}

/// Replaces non-ASCII characters with their ASCII equivalent; characters without one are
/// dropped, and so is U+007F (the folding table has no entry for it).
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 0x7F {
            out.push(c);
        } else if let Some(r) = fold_lookup(c) {
            out.push_str(r);
        }
    }
    out
}

/// Replaces non-ASCII characters with their ASCII equivalent and keeps the others.
pub fn fold_without_deletion(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match fold_lookup(c) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    out
}

/// Replaces non-ASCII characters by a single ASCII character when there is one, so the
/// result has as many code points as the input.
pub fn fold_without_insertion_deletion(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    s.chars()
        .map(|c| match fold_lookup(c) {
            Some(r) if r.chars().count() == 1 => r.chars().next().unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// NFKD-decomposes `s` and drops every non-ASCII code point (accents included).
pub fn strip_accents_ascii(s: &str) -> String {
    s.nfkd().filter(char::is_ascii).collect()
}

/// Open Food Facts tag of a free text: ASCII-folded, lowercased, spaces, apostrophes and
/// dots turned into dashes, `!` and `?` dropped, dashes trimmed at both ends.
pub fn get_tag(text: &str) -> String {
    let folded = fold_without_deletion(text).to_lowercase();
    let replaced = folded
        .replace(" & ", "-")
        .replace([' ', '\'', '.'], "-")
        .replace(['!', '?'], "");
    collapse_spaces(&replaced).trim_matches('-').to_string()
}

/// Turns every run of two or more spaces into one space.
pub fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_space = false;
    for c in text.chars() {
        if c == ' ' {
            if !previous_space {
                out.push(c);
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
    out
}

/// Number of code points in `s` (Python's `len`).
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Byte offset of code point `char_idx` in `s`, clamped to the end of the string.
pub fn byte_offset(s: &str, char_idx: usize) -> usize {
    s.char_indices().nth(char_idx).map_or(s.len(), |(b, _)| b)
}

/// The code points `start..end` of `s` (Python's `s[start:end]` for non-negative bounds).
pub fn char_slice(s: &str, start: usize, end: usize) -> &str {
    if end <= start {
        return "";
    }
    let b0 = byte_offset(s, start);
    let rest = s.get(b0..).unwrap_or("");
    let b1 = byte_offset(rest, end - start);
    rest.get(..b1).unwrap_or("")
}

/// Converts between byte offsets and code-point offsets of one string.
#[derive(Debug, Clone)]
pub struct CharOffsets {
    /// Byte offset of every code point, then the string length; `None` for ASCII text.
    starts: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    pub fn new(s: &str) -> Self {
        let starts = if s.is_ascii() {
            None
        } else {
            let mut v: Vec<usize> = s.char_indices().map(|(b, _)| b).collect();
            v.push(s.len());
            Some(v)
        };
        Self {
            starts,
            len: s.len(),
        }
    }

    /// Code-point offset of byte offset `byte` (a char boundary).
    pub fn byte_to_char(&self, byte: usize) -> usize {
        match &self.starts {
            None => byte.min(self.len),
            Some(v) => v.partition_point(|b| *b < byte),
        }
    }

    /// Byte offset of code point `ci`, clamped to the end of the string.
    pub fn char_to_byte(&self, ci: usize) -> usize {
        match &self.starts {
            None => ci.min(self.len),
            Some(v) => v.get(ci).copied().unwrap_or(self.len),
        }
    }

    /// Number of code points.
    pub fn char_count(&self) -> usize {
        match &self.starts {
            None => self.len,
            Some(v) => v.len().saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_or_drops_unknown_chars() {
        assert_eq!(fold("Crème brûlée"), "Creme brulee");
        assert_eq!(fold("€ œuf"), " oeuf");
        assert_eq!(fold_without_deletion("€ œuf"), "€ oeuf");
        assert_eq!(fold_without_insertion_deletion("œuf é"), "œuf e");
    }

    #[test]
    fn tags_follow_open_food_facts_rules() {
        assert_eq!(get_tag("Reflets de France"), "reflets-de-france");
        assert_eq!(get_tag("M&M's"), "m&m-s");
        assert_eq!(get_tag("Crème & Co!"), "creme-co");
    }

    #[test]
    fn char_offsets_map_bytes_to_code_points() {
        let s = "aé€b";
        let idx = CharOffsets::new(s);
        for (ci, (b, _)) in s.char_indices().enumerate() {
            assert_eq!(idx.byte_to_char(b), ci);
            assert_eq!(idx.char_to_byte(ci), b);
        }
        assert_eq!(idx.byte_to_char(s.len()), 4);
        assert_eq!(idx.char_count(), 4);
        assert_eq!(char_slice(s, 1, 3), "é€");
        assert_eq!(char_slice(s, 3, 10), "b");
    }

    #[test]
    fn accents_are_stripped_after_decomposition() {
        assert_eq!(strip_accents_ascii("l'île-àé"), "l'ile-ae");
    }
}
