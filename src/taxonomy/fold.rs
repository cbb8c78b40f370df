//! ASCII folding of text (accent stripping) as Open Food Facts tools do it, with the three
//! variants they use: with deletion, without deletion, and length-preserving.

#[path = "fold_table.rs"]
mod table;

use table::FOLD_TABLE;

fn replacement(c: char) -> Option<&'static str> {
    let cp = c as u32;
    FOLD_TABLE
        .binary_search_by_key(&cp, |&(code, _)| code)
        .ok()
        .and_then(|i| FOLD_TABLE.get(i))
        .map(|&(_, rep)| rep)
}

/// Folds `text` to ASCII: mapped characters are replaced, printable ASCII is kept and every
/// other character is removed. A string that is already ASCII is returned unchanged.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (c as u32) < 0x7F {
            out.push(c);
        } else if let Some(rep) = replacement(c) {
            out.push_str(rep);
        }
    }
    out
}

/// Folds `text` to ASCII where a replacement exists and keeps every other character.
pub fn fold_without_deletion(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match replacement(c) {
            Some(rep) => out.push_str(rep),
            None => out.push(c),
        }
    }
    out
}

/// Folds only the characters whose replacement is a single character, so that the result has
/// exactly as many characters as `text`.
pub fn fold_keep_length(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match replacement(c) {
            Some(rep) if rep.len() == 1 => out.push_str(rep),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_replaces_accents_and_drops_unmapped_characters() {
        assert_eq!(
            fold("Bouteille en verre à recycler"),
            "Bouteille en verre a recycler"
        );
        assert_eq!(fold("œuf"), "oeuf");
        assert_eq!(fold("étui люкс"), "etui ");
        assert_eq!(fold("plain\u{7f}"), "plain\u{7f}");
        assert_eq!(fold("é\u{7f}"), "e");
    }

    #[test]
    fn variants_keep_unmapped_characters() {
        assert_eq!(fold_without_deletion("œuf люкс"), "oeuf люкс");
        assert_eq!(fold_keep_length("œuf écrasé"), "œuf ecrase");
        assert_eq!(fold_keep_length("ß").chars().count(), 1);
    }
}
