//! The terminal vocabulary of the French packaging grammar: shape, material and recycling
//! names with the taxonomy id each one maps to.

use crate::taxonomy::Taxonomy;
use crate::text::fold;
use std::collections::HashMap;

/// The three kinds of packaging terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminalKind {
    Shape,
    Material,
    Recycling,
}

impl TerminalKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Shape => "shape",
            Self::Material => "material",
            Self::Recycling => "recycling",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "shape" => Some(Self::Shape),
            "material" => Some(Self::Material),
            "recycling" => Some(Self::Recycling),
            _ => None,
        }
    }
}

/// The built-in French vocabulary (normalised names: lowercase, accents folded).
const FRENCH: &str = include_str!("vocabulary_fr.tsv");

/// Names per kind in matching order, and the id of each name.
#[derive(Debug)]
pub struct Vocabulary {
    entries: Vec<(TerminalKind, String, String)>,
    tags: HashMap<(TerminalKind, String), String>,
}

/// A malformed vocabulary line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("packaging vocabulary line {line}: expected `kind<TAB>name<TAB>tag`, got {text:?}")]
pub struct VocabularyError {
    pub line: usize,
    pub text: String,
}

impl Vocabulary {
    /// The vocabulary of the French grammar.
    pub fn french() -> Result<Self, VocabularyError> {
        Self::parse(FRENCH)
    }

    /// Reads `kind<TAB>name<TAB>tag` lines; `#` lines and blank lines are skipped.
    pub fn parse(text: &str) -> Result<Self, VocabularyError> {
        let mut entries = Vec::new();
        let mut tags = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let parsed = match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(kind), Some(name), Some(tag), None) if !name.is_empty() => {
                    TerminalKind::parse(kind).map(|k| (k, name, tag))
                }
                _ => None,
            };
            let Some((kind, name, tag)) = parsed else {
                return Err(VocabularyError {
                    line: i + 1,
                    text: line.to_string(),
                });
            };
            // The first line of a name gives its id.
            tags.entry((kind, name.to_string()))
                .or_insert_with(|| tag.to_string());
            entries.push((kind, name.to_string(), tag.to_string()));
        }
        Ok(Self { entries, tags })
    }

    /// Names of `kind`, in the order they are tried.
    pub fn names(&self, kind: TerminalKind) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(move |(k, _, _)| *k == kind)
            .map(|(_, name, _)| name.as_str())
    }

    /// The id of a matched text of `kind`, when the text is one of its names.
    pub fn tag(&self, kind: TerminalKind, text: &str) -> Option<&str> {
        self.tags.get(&(kind, text.to_string())).map(String::as_str)
    }
}

/// Terminal names of a packaging taxonomy in `lang`, as `(name, node id)` pairs in matching
/// order: for each node with a name in `lang` (and not in `ignore`), its name, its `xx`
/// name and its synonyms in `lang` and `xx`, lowercased and folded to ASCII, without
/// duplicates; then longest names first (a name with more `/` first among equals).
pub fn taxonomy_terminals(
    taxonomy: &Taxonomy,
    lang: &str,
    ignore: &[&str],
) -> Vec<(String, String)> {
    let mut terminals: Vec<(String, String)> = Vec::new();
    for node in taxonomy.iter() {
        let Some(name) = node.names.get(lang) else {
            continue;
        };
        if ignore.contains(&node.id()) {
            continue;
        }
        let mut names: Vec<&str> = Vec::new();
        if !name.is_empty() {
            names.push(name);
        }
        names.extend(node.names.get("xx").map(String::as_str));
        names.extend(node.synonyms_in(lang).iter().map(String::as_str));
        names.extend(node.synonyms_in("xx").iter().map(String::as_str));
        let mut seen: Vec<String> = Vec::new();
        for name in names {
            let normalised = fold(&name.to_lowercase());
            let normalised = normalised.trim();
            if !normalised.is_empty() && !seen.iter().any(|s| s == normalised) {
                seen.push(normalised.to_string());
            }
        }
        terminals.extend(seen.into_iter().map(|n| (n, node.id().to_string())));
    }
    terminals.sort_by_key(|(name, _)| {
        std::cmp::Reverse((name.chars().count(), name.matches('/').count()))
    });
    terminals
}
