//! The keyword trie (Flashtext's processor): adding keywords, word characters, case folding.

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

/// Errors of the keyword processor's loaders.
#[derive(Debug, thiserror::Error)]
pub enum KeywordError {
    #[error("reading keyword file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("keyword file {path}, line {line}: more than one '=>' separator")]
    Syntax { path: String, line: usize },
    #[error("{0} should be a list")]
    NotAList(String),
    #[error("keyword {0:?} should be a string")]
    NotAString(String),
}

/// A clean name attached to a keyword. Like Python's truthiness, an empty string is not
/// a clean name (the keyword is then not added); every other value is.
pub trait CleanName {
    fn is_present(&self) -> bool {
        true
    }
}

impl CleanName for String {
    fn is_present(&self) -> bool {
        !self.is_empty()
    }
}
impl CleanName for &str {
    fn is_present(&self) -> bool {
        !self.is_empty()
    }
}
impl<A, B> CleanName for (A, B) {}
impl CleanName for u32 {}
impl CleanName for usize {}

/// The characters that separate words when keywords are written in the trie, used by the
/// fuzzy matcher to decide where a keyword may stop.
pub(super) const FUZZY_STOP_CHARS: [char; 6] = ['.', '\t', '\n', '\u{7}', ' ', ','];

#[derive(Debug, Clone)]
pub(super) struct Node<T> {
    /// Children in insertion order (the order Python dicts iterate in).
    pub(super) children: Vec<(char, u32)>,
    pub(super) value: Option<T>,
}

impl<T> Node<T> {
    pub(super) fn empty() -> Self {
        Self {
            children: Vec::new(),
            value: None,
        }
    }

    pub(super) fn key_count(&self) -> usize {
        self.children.len() + usize::from(self.value.is_some())
    }
}

/// Characters that continue a word (by default ASCII letters, digits and `_`).
#[derive(Debug, Clone)]
pub(super) struct WordChars {
    pub(super) ascii: [bool; 128],
    pub(super) other: HashSet<char>,
}

impl WordChars {
    pub(super) fn ascii_default() -> Self {
        let mut ascii = [false; 128];
        for (i, slot) in ascii.iter_mut().enumerate() {
            let c = i as u8;
            *slot = c.is_ascii_alphanumeric() || c == b'_';
        }
        Self {
            ascii,
            other: HashSet::new(),
        }
    }

    pub(super) fn from_set(chars: impl IntoIterator<Item = char>) -> Self {
        let mut s = Self {
            ascii: [false; 128],
            other: HashSet::new(),
        };
        for c in chars {
            s.insert(c);
        }
        s
    }

    pub(super) fn insert(&mut self, c: char) {
        match self.ascii.get_mut(c as usize) {
            Some(slot) if c.is_ascii() => *slot = true,
            _ => {
                self.other.insert(c);
            }
        }
    }

    #[inline]
    pub(super) fn contains(&self, c: char) -> bool {
        if c.is_ascii() {
            self.ascii.get(c as usize).copied().unwrap_or(false)
        } else {
            !self.other.is_empty() && self.other.contains(&c)
        }
    }
}

/// A trie of keywords mapped to clean names, searched Flashtext-style: a keyword matches
/// only where it starts a word and is followed by a non-word character, and the longest
/// keyword wins. Case-insensitive processors lowercase keywords and text.
#[derive(Debug)]
pub struct KeywordProcessor<T = String> {
    pub(super) case_sensitive: bool,
    pub(super) word_chars: WordChars,
    pub(super) nodes: Vec<Node<T>>,
    pub(super) terms: usize,
    pub(super) compiled: OnceLock<super::compiled::Compiled>,
}

impl<T> Default for KeywordProcessor<T> {
    fn default() -> Self {
        Self::new(false)
    }
}

impl<T> KeywordProcessor<T> {
    pub fn new(case_sensitive: bool) -> Self {
        Self {
            case_sensitive,
            word_chars: WordChars::ascii_default(),
            nodes: vec![Node::empty()],
            terms: 0,
            compiled: OnceLock::new(),
        }
    }

    pub fn case_sensitive(&self) -> bool {
        self.case_sensitive
    }

    /// Number of distinct keywords.
    pub fn len(&self) -> usize {
        self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms == 0
    }

    /// Replaces the set of characters that continue a word.
    pub fn set_non_word_boundaries(&mut self, chars: impl IntoIterator<Item = char>) {
        self.word_chars = WordChars::from_set(chars);
    }

    /// Adds one character that continues a word.
    pub fn add_non_word_boundary(&mut self, c: char) {
        self.word_chars.insert(c);
    }

    #[inline]
    pub(crate) fn is_word_char(&self, c: char) -> bool {
        self.word_chars.contains(c)
    }

    pub(super) fn normalise_key(&self, keyword: &str) -> String {
        if self.case_sensitive {
            keyword.to_string()
        } else {
            keyword.to_lowercase()
        }
    }

    #[inline]
    pub(super) fn node(&self, id: u32) -> Option<&Node<T>> {
        self.nodes.get(id as usize)
    }

    #[inline]
    pub(crate) fn child(&self, id: u32, c: char) -> Option<u32> {
        self.node(id)?
            .children
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, n)| *n)
    }

    #[inline]
    pub(crate) fn value(&self, id: u32) -> Option<&T> {
        self.node(id)?.value.as_ref()
    }

    pub(super) fn invalidate(&mut self) {
        self.compiled = OnceLock::new();
    }

    /// Node reached by following `path` from the root, if the whole path exists.
    pub fn node_at(&self, path: &str) -> Option<u32> {
        let key = self.normalise_key(path);
        let mut cur = 0u32;
        for c in key.chars() {
            cur = self.child(cur, c)?;
        }
        Some(cur)
    }

    /// Path (keyword prefix) of a node, as stored in the trie.
    pub fn path_of(&self, target: u32) -> Option<String> {
        fn walk<T>(kp: &KeywordProcessor<T>, id: u32, target: u32, acc: &mut String) -> bool {
            if id == target {
                return true;
            }
            let Some(node) = kp.node(id) else {
                return false;
            };
            for (c, child) in &node.children {
                acc.push(*c);
                if walk(kp, *child, target, acc) {
                    return true;
                }
                acc.pop();
            }
            false
        }
        let mut acc = String::new();
        walk(self, 0, target, &mut acc).then_some(acc)
    }

    /// Adds `keyword` with `clean_name`. Returns true when the keyword was not there yet.
    /// An empty keyword or an absent clean name adds nothing.
    pub fn add_keyword(&mut self, keyword: &str, clean_name: T) -> bool
    where
        T: CleanName,
    {
        if keyword.is_empty() || !clean_name.is_present() {
            return false;
        }
        let key = self.normalise_key(keyword);
        self.invalidate();
        let mut cur = 0u32;
        for c in key.chars() {
            cur = match self.child(cur, c) {
                Some(n) => n,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node::empty());
                    if let Some(node) = self.nodes.get_mut(cur as usize) {
                        node.children.push((c, id));
                    }
                    id
                }
            };
        }
        let Some(node) = self.nodes.get_mut(cur as usize) else {
            return false;
        };
        let added = node.value.is_none();
        node.value = Some(clean_name);
        if added {
            self.terms += 1;
        }
        added
    }

    /// Removes `keyword` and the trie branches only it used. Returns true if it was there.
    pub fn remove_keyword(&mut self, keyword: &str) -> bool {
        if keyword.is_empty() {
            return false;
        }
        let key = self.normalise_key(keyword);
        let mut path: Vec<(u32, char)> = Vec::new();
        let mut cur = 0u32;
        for c in key.chars() {
            match self.child(cur, c) {
                Some(n) => {
                    path.push((cur, c));
                    cur = n;
                }
                None => return false,
            }
        }
        if self.value(cur).is_none() {
            return false;
        }
        self.invalidate();
        // Drop the value, then each link whose target node has become empty.
        let last_keys = self.node(cur).map_or(0, Node::key_count);
        if let Some(node) = self.nodes.get_mut(cur as usize) {
            node.value = None;
        }
        if last_keys == 1 {
            for (parent, c) in path.into_iter().rev() {
                let parent_keys = self.node(parent).map_or(0, Node::key_count);
                if let Some(node) = self.nodes.get_mut(parent as usize) {
                    node.children.retain(|(k, _)| *k != c);
                }
                if parent_keys != 1 {
                    break;
                }
            }
        }
        self.terms -= 1;
        true
    }

    /// Clean name of `word` if it is a keyword.
    pub fn get_keyword(&self, word: &str) -> Option<&T> {
        self.node_at(word).and_then(|n| self.value(n))
    }

    /// Whether `word` is a keyword.
    pub fn contains(&self, word: &str) -> bool {
        self.get_keyword(word).is_some()
    }

    /// Every keyword (as stored: lowercased when case-insensitive) with its clean name.
    pub fn get_all_keywords(&self) -> Vec<(String, &T)> {
        let mut out = Vec::with_capacity(self.terms);
        let mut stack: Vec<(u32, String)> = vec![(0, String::new())];
        while let Some((id, prefix)) = stack.pop() {
            let Some(node) = self.node(id) else { continue };
            if let Some(v) = &node.value {
                out.push((prefix.clone(), v));
            }
            for (c, child) in node.children.iter().rev() {
                let mut p = prefix.clone();
                p.push(*c);
                stack.push((*child, p));
            }
        }
        out
    }

    /// The leading run of word characters of `sentence`.
    pub fn get_next_word<'s>(&self, sentence: &'s str) -> &'s str {
        let end = sentence
            .char_indices()
            .find(|(_, c)| !self.is_word_char(*c))
            .map_or(sentence.len(), |(b, _)| b);
        sentence.get(..end).unwrap_or("")
    }

    /// Whether both tries have the same shape and clean names (children compared as
    /// sets), which also shows that removals left no dead branches behind.
    pub fn same_trie(&self, other: &KeywordProcessor<T>) -> bool
    where
        T: PartialEq,
    {
        fn eq<T: PartialEq>(
            a: &KeywordProcessor<T>,
            x: u32,
            b: &KeywordProcessor<T>,
            y: u32,
        ) -> bool {
            let (Some(nx), Some(ny)) = (a.node(x), b.node(y)) else {
                return false;
            };
            nx.value == ny.value
                && nx.children.len() == ny.children.len()
                && nx
                    .children
                    .iter()
                    .all(|(c, cx)| b.child(y, *c).is_some_and(|cy| eq(a, *cx, b, cy)))
        }
        self.len() == other.len() && eq(self, 0, other, 0)
    }

    /// Whether both processors hold the same keywords with the same clean names.
    pub fn same_keywords(&self, other: &KeywordProcessor<T>) -> bool
    where
        T: PartialEq,
    {
        if self.len() != other.len() {
            return false;
        }
        let mut a = self.get_all_keywords();
        let mut b = other.get_all_keywords();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        a == b
    }
}

impl KeywordProcessor<String> {
    /// Adds a keyword that is its own clean name.
    pub fn add_keyword_plain(&mut self, keyword: &str) -> bool {
        self.add_keyword(keyword, keyword.to_string())
    }

    /// Adds keywords from a file: `keyword=>clean name` or `keyword` per line.
    pub fn add_keyword_from_file(&mut self, path: &Path) -> Result<(), KeywordError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeywordError::Io {
            path: shown.clone(),
            source,
        })?;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let mut parts = line.split("=>");
            match (parts.next(), parts.next(), parts.next()) {
                (Some(keyword), Some(clean), None) => {
                    self.add_keyword(keyword, clean.trim().to_string());
                }
                (Some(_), Some(_), Some(_)) => {
                    return Err(KeywordError::Syntax {
                        path: shown,
                        line: i + 1,
                    })
                }
                _ => {
                    self.add_keyword_plain(line.trim());
                }
            }
        }
        Ok(())
    }

    /// Adds keywords from a JSON object `{clean name: [keyword, ...]}`.
    pub fn add_keywords_from_json_dict(
        &mut self,
        dict: &serde_json::Value,
    ) -> Result<(), KeywordError> {
        for (clean, keywords) in json_dict(dict)? {
            for k in keywords {
                self.add_keyword(k, clean.to_string());
            }
        }
        Ok(())
    }

    /// Removes the keywords of a JSON object `{clean name: [keyword, ...]}`.
    pub fn remove_keywords_from_json_dict(
        &mut self,
        dict: &serde_json::Value,
    ) -> Result<(), KeywordError> {
        for (_, keywords) in json_dict(dict)? {
            for k in keywords {
                self.remove_keyword(k);
            }
        }
        Ok(())
    }

    /// Adds each keyword of a JSON list as its own clean name.
    pub fn add_keywords_from_json_list(
        &mut self,
        list: &serde_json::Value,
    ) -> Result<(), KeywordError> {
        for k in json_list(list, "keyword_list")? {
            self.add_keyword_plain(k);
        }
        Ok(())
    }

    /// Removes each keyword of a JSON list.
    pub fn remove_keywords_from_json_list(
        &mut self,
        list: &serde_json::Value,
    ) -> Result<(), KeywordError> {
        for k in json_list(list, "keyword_list")? {
            self.remove_keyword(k);
        }
        Ok(())
    }
}

fn json_list<'v>(v: &'v serde_json::Value, what: &str) -> Result<Vec<&'v str>, KeywordError> {
    let items = v
        .as_array()
        .ok_or_else(|| KeywordError::NotAList(what.to_string()))?;
    items
        .iter()
        .map(|x| {
            x.as_str()
                .ok_or_else(|| KeywordError::NotAString(x.to_string()))
        })
        .collect()
}

fn json_dict(v: &serde_json::Value) -> Result<Vec<(&str, Vec<&str>)>, KeywordError> {
    let obj = v
        .as_object()
        .ok_or_else(|| KeywordError::NotAList("keyword dictionary".to_string()))?;
    obj.iter()
        .map(|(clean, keywords)| {
            json_list(keywords, &format!("value of key {clean:?}")).map(|k| (clean.as_str(), k))
        })
        .collect()
}
