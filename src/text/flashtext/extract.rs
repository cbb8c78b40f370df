//! Keyword extraction: the exact matcher on Aho-Corasick and the trie walk that also
//! allows fuzzy (Levenshtein) matches.

use super::compiled::Compiled;
use super::processor::KeywordProcessor;
use crate::text::CharOffsets;
use aho_corasick::{AhoCorasick, MatchKind};
use std::borrow::Cow;

/// One keyword found in a sentence. `start..end` are code-point offsets into the sentence
/// as given (before lowercasing), `byte_start..byte_end` the same span in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordMatch<'p, T> {
    pub value: &'p T,
    pub start: usize,
    pub end: usize,
    pub byte_start: usize,
    pub byte_end: usize,
}

/// A match in the searched (possibly lowercased) text: trie node and byte span.
struct RawMatch {
    node: u32,
    start: usize,
    end: usize,
}

impl<T> KeywordProcessor<T> {
    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            let mut patterns = Vec::with_capacity(self.terms);
            let mut nodes = Vec::with_capacity(self.terms);
            let mut stack: Vec<(u32, String)> = vec![(0, String::new())];
            while let Some((id, prefix)) = stack.pop() {
                let Some(node) = self.node(id) else { continue };
                if node.value.is_some() {
                    patterns.push(prefix.clone());
                    nodes.push(id);
                }
                for (c, child) in &node.children {
                    let mut p = prefix.clone();
                    p.push(*c);
                    stack.push((*child, p));
                }
            }
            let automaton = if patterns.is_empty() {
                None
            } else {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .ok()
            };
            Compiled { automaton, nodes }
        })
    }

    /// Builds the automaton now rather than on the first extraction.
    pub fn compile(&self) {
        self.compiled();
    }

    /// Every keyword of `sentence`, left to right (Flashtext semantics, exact matches).
    pub fn extract_keywords<'p>(&'p self, sentence: &str) -> Vec<KeywordMatch<'p, T>> {
        if sentence.is_empty() || self.terms == 0 {
            return Vec::new();
        }
        let searched: Cow<'_, str> = if self.case_sensitive {
            Cow::Borrowed(sentence)
        } else {
            Cow::Owned(sentence.to_lowercase())
        };
        let raw = match &self.compiled().automaton {
            Some(ac) => self.exact_matches(ac, &searched),
            None => self.walk_matches(&searched, 0),
        };
        self.to_matches(sentence, &searched, raw)
    }

    /// Like [`Self::extract_keywords`], but a keyword may also match with up to `max_cost`
    /// character edits in total (Levenshtein distance), exactly as Robotoff's Flashtext.
    pub fn extract_keywords_fuzzy<'p>(
        &'p self,
        sentence: &str,
        max_cost: usize,
    ) -> Vec<KeywordMatch<'p, T>> {
        if max_cost == 0 {
            return self.extract_keywords(sentence);
        }
        if sentence.is_empty() {
            return Vec::new();
        }
        let searched: Cow<'_, str> = if self.case_sensitive {
            Cow::Borrowed(sentence)
        } else {
            Cow::Owned(sentence.to_lowercase())
        };
        let raw = self.walk_matches(&searched, max_cost);
        self.to_matches(sentence, &searched, raw)
    }

    /// Exact extraction by walking the trie character by character (the reference
    /// algorithm; used for fuzzy matching and to check the automaton).
    pub fn extract_keywords_by_walk<'p>(&'p self, sentence: &str) -> Vec<KeywordMatch<'p, T>> {
        if sentence.is_empty() {
            return Vec::new();
        }
        let searched: Cow<'_, str> = if self.case_sensitive {
            Cow::Borrowed(sentence)
        } else {
            Cow::Owned(sentence.to_lowercase())
        };
        let raw = self.walk_matches(&searched, 0);
        self.to_matches(sentence, &searched, raw)
    }

    /// First byte offset after the first non-word character at or after `from`.
    fn after_next_boundary(&self, text: &str, from: usize) -> usize {
        let rest = text.get(from..).unwrap_or("");
        match rest.char_indices().find(|(_, c)| !self.is_word_char(*c)) {
            Some((b, c)) => from + b + c.len_utf8(),
            None => text.len(),
        }
    }

    fn ends_word(&self, text: &str, end: usize) -> bool {
        match text.get(end..).and_then(|r| r.chars().next()) {
            None => true,
            Some(c) => !self.is_word_char(c),
        }
    }

    fn starts_word(&self, text: &str, start: usize) -> bool {
        match text.get(..start).and_then(|r| r.chars().next_back()) {
            None => true,
            Some(c) => !self.is_word_char(c),
        }
    }

    /// Matches start at the beginning of the text, right after a match and its following
    /// boundary, or after the first boundary following a failed start; at each start the
    /// longest keyword that is followed by a boundary (or the end) wins. Every such start
    /// follows a non-word character, so the automaton's matches are first filtered to
    /// those that begin after one and end before one.
    fn exact_matches(&self, ac: &AhoCorasick, text: &str) -> Vec<RawMatch> {
        let nodes = &self.compiled().nodes;
        let mut candidates: Vec<(usize, usize, u32)> = Vec::new();
        for m in ac.find_overlapping_iter(text) {
            if self.starts_word(text, m.start()) && self.ends_word(text, m.end()) {
                if let Some(node) = nodes.get(m.pattern().as_usize()) {
                    candidates.push((m.start(), m.end(), *node));
                }
            }
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        // Longest candidate first for each start.
        candidates.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out = Vec::new();
        let mut next = 0usize;
        let mut s = 0usize;
        while s < text.len() {
            while candidates.get(next).is_some_and(|c| c.0 < s) {
                next += 1;
            }
            let Some(&(start, end, node)) = candidates.get(next) else {
                break;
            };
            if start == s {
                out.push(RawMatch { node, start, end });
                s = match text.get(end..).and_then(|r| r.chars().next()) {
                    Some(c) => end + c.len_utf8(),
                    None => text.len(),
                };
            } else {
                s = self.after_next_boundary(text, s);
            }
        }
        out
    }

    /// Robotoff's Flashtext loop over code points, with its fuzzy branches.
    fn walk_matches(&self, text: &str, max_cost: usize) -> Vec<RawMatch> {
        let chars: Vec<char> = text.chars().collect();
        let offsets = CharOffsets::new(text);
        let n = chars.len();
        let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
        let root = 0u32;
        let mut out = Vec::new();
        let mut cur = root;
        let mut seq_start = 0usize;
        let mut seq_end;
        let mut reset = false;
        let mut idx = 0usize;
        let mut curr_cost = max_cost;
        let push = |node: u32, start: usize, end: usize, out: &mut Vec<RawMatch>| {
            out.push(RawMatch {
                node,
                start: offsets.char_to_byte(start),
                end: offsets.char_to_byte(end),
            })
        };
        while idx < n {
            let ch = at(idx);
            if !self.is_word_char(ch) {
                let here = self.value(cur).is_some();
                let next = self.child(cur, ch);
                if here || next.is_some() {
                    let mut longest: Option<u32> = None;
                    let mut is_longer = false;
                    seq_end = idx;
                    if here {
                        longest = Some(cur);
                    }
                    if let Some(first) = next {
                        let mut cont: Option<u32> = Some(first);
                        let mut idy = idx + 1;
                        let mut broke = false;
                        while idy < n {
                            let Some(c_node) = cont else {
                                broke = true;
                                break;
                            };
                            let inner = at(idy);
                            if !self.is_word_char(inner) && self.value(c_node).is_some() {
                                longest = Some(c_node);
                                seq_end = idy;
                                is_longer = true;
                            }
                            if let Some(nx) = self.child(c_node, inner) {
                                cont = Some(nx);
                            } else if curr_cost > 0 {
                                let word_len = self.word_len(&chars, idy);
                                let word = chars.get(idy..idy + word_len).unwrap_or(&[]);
                                match self.levenshtein_first(word, curr_cost, c_node) {
                                    Some(hit) => {
                                        cont = Some(hit.node);
                                        curr_cost = curr_cost.saturating_sub(hit.cost);
                                    }
                                    None => cont = None,
                                }
                                // Python: idy += len(next_word) - 1
                                idy = (idy + word_len).saturating_sub(1);
                                if cont.is_none() {
                                    broke = true;
                                    break;
                                }
                            } else {
                                broke = true;
                                break;
                            }
                            idy += 1;
                        }
                        if !broke {
                            if let Some(c_node) = cont {
                                if self.value(c_node).is_some() {
                                    longest = Some(c_node);
                                    seq_end = idy;
                                    is_longer = true;
                                }
                            }
                        }
                        if is_longer {
                            idx = seq_end;
                        }
                    }
                    cur = root;
                    if let Some(node) = longest {
                        push(node, seq_start, idx, &mut out);
                        curr_cost = max_cost;
                    }
                    reset = true;
                } else {
                    cur = root;
                    reset = true;
                }
            } else if let Some(nx) = self.child(cur, ch) {
                cur = nx;
            } else if curr_cost > 0 {
                let word_len = self.word_len(&chars, idx);
                let word = chars.get(idx..idx + word_len).unwrap_or(&[]);
                match self.levenshtein_first(word, curr_cost, cur) {
                    Some(hit) => {
                        cur = hit.node;
                        curr_cost = curr_cost.saturating_sub(hit.cost);
                    }
                    None => cur = root,
                }
                idx = (idx + word_len).saturating_sub(1);
            } else {
                cur = root;
                reset = true;
                let mut idy = idx + 1;
                while idy < n && self.is_word_char(at(idy)) {
                    idy += 1;
                }
                idx = idy;
            }
            if idx + 1 >= n && self.value(cur).is_some() {
                push(cur, seq_start, n, &mut out);
            }
            idx += 1;
            if reset {
                reset = false;
                seq_start = idx;
            }
        }
        out
    }

    fn word_len(&self, chars: &[char], from: usize) -> usize {
        chars
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| self.is_word_char(**c))
            .count()
    }

    /// Maps spans in the searched text back to the sentence as given. Lowercasing can
    /// change the number of code points (`İ` becomes two), so spans are mapped per char.
    fn to_matches<'p>(
        &'p self,
        sentence: &str,
        searched: &str,
        raw: Vec<RawMatch>,
    ) -> Vec<KeywordMatch<'p, T>> {
        if raw.is_empty() {
            return Vec::new();
        }
        let orig = CharOffsets::new(sentence);
        let same_bytes = std::ptr::eq(sentence, searched) || sentence.len() == searched.len();
        let searched_offsets = CharOffsets::new(searched);
        // Original char index of every searched char, when the char counts differ.
        let mapping: Option<Vec<usize>> = if searched_offsets.char_count() != orig.char_count() {
            let mut m = Vec::with_capacity(searched_offsets.char_count());
            for (i, c) in sentence.chars().enumerate() {
                for _ in c.to_lowercase() {
                    m.push(i);
                }
            }
            Some(m)
        } else {
            None
        };
        raw.into_iter()
            .filter_map(|r| {
                let value = self.value(r.node)?;
                let (start, end) = if same_bytes && mapping.is_none() && sentence.is_ascii() {
                    (r.start, r.end)
                } else {
                    let s = searched_offsets.byte_to_char(r.start);
                    let e = searched_offsets.byte_to_char(r.end);
                    match &mapping {
                        None => (s, e),
                        Some(m) => {
                            let ms = m.get(s).copied().unwrap_or(orig.char_count());
                            let me = e
                                .checked_sub(1)
                                .and_then(|i| m.get(i))
                                .map_or(ms, |x| x + 1);
                            (ms, me)
                        }
                    }
                };
                Some(KeywordMatch {
                    value,
                    start,
                    end,
                    byte_start: orig.char_to_byte(start),
                    byte_end: orig.char_to_byte(end),
                })
            })
            .collect()
    }
}
