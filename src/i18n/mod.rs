//! Translations of the question texts: gettext `.po` catalogs read from
//! `<data dir>/i18n/<lang>.po`, looked up by exact language code (spec api-db §5.2).
//! Depends on nothing in the crate.

use std::collections::HashMap;
use std::path::Path;

/// Every catalog, by language code.
#[derive(Debug, Default)]
pub struct Translations {
    catalogs: HashMap<String, HashMap<String, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum I18nError {
    #[error("could not read the translations directory {path}: {source}")]
    ReadDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read the catalog {path}: {source}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Translations {
    /// Loads every `<lang>.po` file of `dir`. A missing directory gives no catalogs
    /// (every text stays in English).
    pub fn load(dir: &Path) -> Result<Translations, I18nError> {
        let mut catalogs = HashMap::new();
        if !dir.exists() {
            return Ok(Translations { catalogs });
        }
        let entries = std::fs::read_dir(dir).map_err(|source| I18nError::ReadDir {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("po") {
                continue;
            }
            let Some(lang) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|source| I18nError::ReadFile {
                path: path.display().to_string(),
                source,
            })?;
            catalogs.insert(lang.to_string(), parse_po(&text));
        }
        Ok(Translations { catalogs })
    }

    /// Catalogs from `(lang, po text)` pairs (tests).
    pub fn from_sources<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Translations {
            catalogs: sources
                .into_iter()
                .map(|(lang, text)| (lang.to_string(), parse_po(text)))
                .collect(),
        }
    }

    /// The translation of `msgid` in `lang`, or `msgid` itself.
    pub fn gettext<'a>(&'a self, lang: &str, msgid: &'a str) -> &'a str {
        self.catalogs
            .get(lang)
            .and_then(|c| c.get(msgid))
            .map(String::as_str)
            .unwrap_or(msgid)
    }

    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.catalogs.keys().map(String::as_str)
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Field {
    None,
    Ctxt,
    Id,
    Plural,
    Str,
}

/// Parses a `.po` file into msgid → msgstr, leaving out the header, fuzzy entries,
/// untranslated entries and entries with a context or plural forms.
pub fn parse_po(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut fuzzy = false;
    let mut field = Field::None;
    let (mut ctxt, mut id, mut plural, mut msgstr) =
        (None::<String>, String::new(), false, String::new());
    let mut flush = |fuzzy: bool, ctxt: &Option<String>, id: &str, plural: bool, msgstr: &str| {
        if !fuzzy && ctxt.is_none() && !plural && !id.is_empty() && !msgstr.is_empty() {
            out.insert(id.to_string(), msgstr.to_string());
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if field == Field::Str {
                flush(fuzzy, &ctxt, &id, plural, &msgstr);
                fuzzy = false;
                ctxt = None;
                id.clear();
                plural = false;
                msgstr.clear();
                field = Field::None;
            }
            if comment.starts_with(',') && comment.contains("fuzzy") {
                fuzzy = true;
            }
            continue;
        }
        let (keyword, rest) = match line.split_once(char::is_whitespace) {
            Some((k, r)) if k.starts_with("msg") => (Some(k), r.trim()),
            _ => (None, line),
        };
        if let Some(keyword) = keyword {
            if (keyword == "msgid" || keyword == "msgctxt") && field == Field::Str {
                flush(fuzzy, &ctxt, &id, plural, &msgstr);
                fuzzy = false;
                ctxt = None;
                id.clear();
                plural = false;
                msgstr.clear();
            }
            field = match keyword {
                "msgctxt" => {
                    ctxt = Some(String::new());
                    Field::Ctxt
                }
                "msgid" => Field::Id,
                "msgid_plural" => {
                    plural = true;
                    Field::Plural
                }
                k if k.starts_with("msgstr") => Field::Str,
                _ => Field::None,
            };
        }
        let Some(value) = unquote(rest) else {
            continue;
        };
        match field {
            Field::Ctxt => {
                if let Some(c) = ctxt.as_mut() {
                    c.push_str(&value);
                }
            }
            Field::Id => id.push_str(&value),
            Field::Str => msgstr.push_str(&value),
            Field::Plural | Field::None => {}
        }
    }
    if field == Field::Str {
        flush(fuzzy, &ctxt, &id, plural, &msgstr);
    }
    out
}

/// The content of a `"..."` string with C escapes resolved.
fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PO: &str = r#"
msgid ""
msgstr ""
"Language: fr\n"

# A comment
msgid "Does the product belong to this category?"
msgstr "Le produit appartient-il à cette catégorie ?"

#, fuzzy
msgid "Is there a product barcode on this image?"
msgstr "Faux"

msgid "Does the product have this label?"
msgstr ""

msgid ""
"Does the product belong "
"to this brand?"
msgstr "Le produit appartient-il "
"à cette \"marque\" ?"
"#;

    #[test]
    fn parses_entries_and_skips_fuzzy_and_empty() {
        let t = Translations::from_sources([("fr", PO)]);
        assert_eq!(
            t.gettext("fr", "Does the product belong to this category?"),
            "Le produit appartient-il à cette catégorie ?"
        );
        assert_eq!(
            t.gettext("fr", "Is there a product barcode on this image?"),
            "Is there a product barcode on this image?"
        );
        assert_eq!(
            t.gettext("fr", "Does the product have this label?"),
            "Does the product have this label?"
        );
        assert_eq!(
            t.gettext("fr", "Does the product belong to this brand?"),
            "Le produit appartient-il à cette \"marque\" ?"
        );
        assert_eq!(t.gettext("xx", "Hello"), "Hello");
        assert_eq!(t.gettext("fr", ""), "");
    }

    #[test]
    fn every_shipped_catalog_loads() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/i18n"));
        let t = Translations::load(dir).unwrap_or_default();
        assert!(t.languages().count() > 100);
        assert_eq!(
            t.gettext("fr", "Does the product belong to this category?"),
            "Le produit appartient-il à cette catégorie ?"
        );
        assert_ne!(
            t.gettext("de", "Does the product belong to this category?"),
            "Does the product belong to this category?"
        );
    }
}
