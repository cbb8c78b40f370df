//! ASCII folding, accent stripping and Open Food Facts tags, as the Python SDK writes
//! them.

use super::fold_table::FOLD_TABLE;
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
    fn fold_table_is_sorted_for_binary_search() {
        assert!(FOLD_TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(FOLD_TABLE.iter().all(|(cp, r)| *cp > 0x7F && r.is_ascii()));
    }

    #[test]
    fn tags_follow_open_food_facts_rules() {
        assert_eq!(get_tag("Reflets de France"), "reflets-de-france");
        assert_eq!(get_tag("M&M's"), "m&m-s");
        assert_eq!(get_tag("Crème & Co!"), "creme-co");
    }

    #[test]
    fn accents_are_stripped_after_decomposition() {
        assert_eq!(strip_accents_ascii("l'île-àé"), "l'ile-ae");
    }
}
