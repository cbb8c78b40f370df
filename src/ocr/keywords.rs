//! Reading the OCR keyword files of the data directory (one item per line, `//` comments,
//! optionally gzipped) and building keyword processors from `key||name[||pattern]` lines.

use super::data_files::{read_lines, ResourceError};
use crate::text::KeywordProcessor;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Clean name of `key||name` keyword lines: `(key, name)`.
pub type KeyName = (String, String);

/// Builds a processor from `key||name` (pattern = name) or `key||name||pattern` items,
/// keeping the items `keep(key, name)` accepts.
pub fn build_key_name_processor(
    path: &Path,
    items: impl IntoIterator<Item = impl AsRef<str>>,
    keep: impl Fn(&str, &str) -> bool,
) -> Result<KeywordProcessor<KeyName>, ResourceError> {
    let mut kp = KeywordProcessor::new(false);
    for item in items {
        let item = item.as_ref();
        let parts: Vec<&str> = item.split("||").collect();
        let (key, name, pattern) = match parts.as_slice() {
            [key, name] => (*key, *name, *name),
            [key, name, pattern] => (*key, *name, *pattern),
            _ => {
                return Err(ResourceError::format(
                    path,
                    format!("invalid syntax: {item:?}"),
                ))
            }
        };
        if keep(key, name) {
            kp.add_keyword(pattern, (key.to_string(), name.to_string()));
        }
    }
    kp.compile();
    Ok(kp)
}

/// [`build_key_name_processor`] over the lines of a data file.
pub fn key_name_processor(
    path: &Path,
    keep: impl Fn(&str, &str) -> bool,
) -> Result<KeywordProcessor<KeyName>, ResourceError> {
    let lines = read_lines(path)?;
    build_key_name_processor(path, &lines, keep)
}

/// `description||tag` lines mapping a Cloud Vision logo description to a tag or name.
/// Lines without the separator are skipped.
pub fn logo_map(path: &Path) -> Result<HashMap<String, String>, ResourceError> {
    Ok(read_lines(path)?
        .into_iter()
        .filter_map(|line| {
            let mut parts = line.split("||");
            match (parts.next(), parts.next(), parts.next()) {
                (Some(d), Some(t), None) => Some((d.to_string(), t.to_string())),
                _ => None,
            }
        })
        .collect())
}

/// Brand tags never extracted through the taxonomy list.
pub fn brand_blacklist(path: &Path) -> Result<HashSet<String>, ResourceError> {
    Ok(read_lines(path)?.into_iter().collect())
}

/// Python's `str.isdigit`: non-empty and only digit characters.
pub fn is_digit_string(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || is_unicode_digit(c))
}

fn is_unicode_digit(c: char) -> bool {
    // Decimal digits and the superscript/subscript/circled digits Python also counts.
    c.is_numeric()
        && (c.is_ascii_digit()
            || matches!(c as u32, 0xB2 | 0xB3 | 0xB9 | 0x2070..=0x2079 | 0x2080..=0x2089 | 0x2460..=0x2468)
            || unicode_decimal(c))
}

fn unicode_decimal(c: char) -> bool {
    // Code points of the Unicode decimal-digit blocks: each block is ten consecutive
    // code points starting at a zero.
    const ZEROS: &[u32] = &[
        0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
        0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
        0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
        0xFF10,
    ];
    let cp = c as u32;
    ZEROS.iter().any(|z| cp >= *z && cp < z + 10)
}

/// Robotoff's brand filter: no all-digit names, no blacklisted tags.
pub fn keep_brand(key: &str, name: &str, blacklist: Option<&HashSet<String>>) -> bool {
    if is_digit_string(name) {
        return false;
    }
    !blacklist.is_some_and(|b| b.contains(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_only_brands_are_dropped() {
        assert!(!keep_brand("123", "123", None));
        assert!(!keep_brand("x", "١٢", None));
        assert!(keep_brand("7up", "7up", None));
        let bl: HashSet<String> = ["bio".to_string()].into_iter().collect();
        assert!(!keep_brand("bio", "Bio", Some(&bl)));
    }

    #[test]
    fn malformed_items_are_errors() {
        let r = build_key_name_processor(Path::new("x.txt"), ["a||b||c||d"], |_, _| true);
        assert!(r.is_err());
        let kp =
            build_key_name_processor(Path::new("x.txt"), ["k||Name", "k2||N2||pat"], |_, _| true);
        let kp = kp.ok();
        assert_eq!(
            kp.as_ref().and_then(|k| k.get_keyword("pat")).cloned(),
            Some(("k2".to_string(), "N2".to_string()))
        );
    }
}
