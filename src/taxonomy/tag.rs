//! Tag normalisation of taxonomy names and synonyms (`"Épi d'or"` → `"epi-d-or"`), as the
//! Open Food Facts SDK builds its taxonomy mappings: every punctuation sign becomes a hyphen
//! (unlike `crate::text::get_tag`, which drops `!` and `?`).

use crate::text::fold_without_insertion_deletion;

/// Characters replaced by a hyphen when building a tag.
const HYPHENATED: &[char] = &[
    ' ', '\'', '`', '"', '.', '!', '?', '[', ']', '(', ')', '{', '}', '#', '$', '%', '&', '\\',
    '*', '+', ',', '/', ';', '<', '>', '=', '@', '^', '_', '|', '~',
];

/// Returns the tag of `text`: lowercased, accents folded (length-preserving), punctuation
/// turned into hyphens, runs of hyphens collapsed and outer hyphens removed. A two-letter
/// language prefix (`fr:`) is kept as is.
pub fn tagify(text: &str) -> String {
    let lower = text.to_lowercase();
    let (prefix, body) = split_lang_prefix(&lower);
    let folded = fold_without_insertion_deletion(body);
    let mut mapped = String::with_capacity(folded.len());
    for c in folded.chars() {
        if c == 'œ' {
            mapped.push_str("oe");
        } else if HYPHENATED.contains(&c) {
            mapped.push('-');
        } else {
            mapped.push(c);
        }
    }
    let mut tag = String::with_capacity(mapped.len());
    for c in mapped.trim_matches('-').chars() {
        if c == '-' && tag.ends_with('-') {
            continue;
        }
        tag.push(c);
    }
    match prefix {
        Some(lang) => format!("{lang}:{tag}"),
        None => tag,
    }
}

/// Splits `xx:rest` into `(Some("xx"), "rest")` when the third character is a colon.
fn split_lang_prefix(text: &str) -> (Option<&str>, &str) {
    let mut indices = text.char_indices();
    let third = indices.nth(2);
    match third {
        Some((idx, ':')) => (text.get(..idx), text.get(idx + 1..).unwrap_or("")),
        _ => (None, text),
    }
}

/// True when `value` starts with a two-letter language prefix (`en:`) followed by something.
pub fn is_prefixed_value(value: &str) -> bool {
    let chars: Vec<char> = value.chars().take(4).collect();
    chars.len() > 3 && chars.get(2) == Some(&':')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of `tests/unit/utils/text/test_text.py::test_get_tag` (conformance
    /// `text-001`..`010`) give the same tags with this normalisation.
    #[test]
    fn tags_match_open_food_facts_normalisation() {
        let cases = [
            ("Reflets de France", "reflets-de-france"),
            ("écrasé", "ecrase"),
            ("œufs de plein air", "oeufs-de-plein-air"),
            ("dr.oetker", "dr-oetker"),
            ("mat & lou", "mat-lou"),
            ("monop'daily", "monop-daily"),
            ("épi d'or", "epi-d-or"),
            ("Health Star Rating 0.5", "health-star-rating-0-5"),
            ("C'est qui le Patron ?!", "c-est-qui-le-patron"),
            ("люкс", "люкс"),
        ];
        for (text, expected) in cases {
            assert_eq!(tagify(text), expected, "tagify({text:?})");
        }
    }

    #[test]
    fn language_prefix_is_kept() {
        assert_eq!(tagify("FR:Bio Européen"), "fr:bio-europeen");
        assert_eq!(tagify("en:"), "en:");
        assert!(is_prefixed_value("en:organic"));
        assert!(!is_prefixed_value("en:"));
        assert!(!is_prefixed_value("organic"));
    }
}
