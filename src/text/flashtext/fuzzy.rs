//! Levenshtein search in the keyword trie: the first node (depth-first, in insertion
//! order) where a word matches a trie branch within a maximum edit cost.

use super::processor::{KeywordProcessor, FUZZY_STOP_CHARS};

/// A fuzzy hit: the trie node reached, the edit cost and the depth below the start node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzyHit {
    pub node: u32,
    pub cost: usize,
    pub depth: usize,
}

impl<T> KeywordProcessor<T> {
    /// First trie node below `start` (the root if `start` has no keys) whose branch is
    /// within `max_cost` edits of `word` and where a keyword ends or a separator follows.
    pub fn levenshtein_first(
        &self,
        word: &[char],
        max_cost: usize,
        start: u32,
    ) -> Option<FuzzyHit> {
        let start = match self.node(start) {
            Some(n) if n.key_count() > 0 => start,
            _ => 0,
        };
        let rows: Vec<usize> = (0..=word.len()).collect();
        let node = self.node(start)?;
        for (c, child) in &node.children {
            if let Some(hit) = self.levenshtein_rec(*c, *child, word, &rows, max_cost, 1) {
                return Some(hit);
            }
        }
        None
    }

    /// Same as [`Self::levenshtein_first`] with the word given as a string.
    pub fn levenshtein(&self, word: &str, max_cost: usize, start: u32) -> Option<FuzzyHit> {
        let chars: Vec<char> = word.chars().collect();
        self.levenshtein_first(&chars, max_cost, start)
    }

    fn levenshtein_rec(
        &self,
        c: char,
        id: u32,
        word: &[char],
        rows: &[usize],
        max_cost: usize,
        depth: usize,
    ) -> Option<FuzzyHit> {
        let mut new_rows = Vec::with_capacity(rows.len());
        new_rows.push(rows.first().copied().unwrap_or(0) + 1);
        let mut cost = 0;
        for col in 1..rows.len() {
            let insert = new_rows.get(col - 1).copied().unwrap_or(0) + 1;
            let delete = rows.get(col).copied().unwrap_or(0) + 1;
            let replace = rows.get(col - 1).copied().unwrap_or(0)
                + usize::from(word.get(col - 1).copied() != Some(c));
            cost = insert.min(delete).min(replace);
            new_rows.push(cost);
        }
        let node = self.node(id)?;
        let stops = node.value.is_some()
            || node
                .children
                .iter()
                .any(|(k, _)| FUZZY_STOP_CHARS.contains(k));
        let last = new_rows.last().copied().unwrap_or(usize::MAX);
        if last <= max_cost && stops {
            return Some(FuzzyHit {
                node: id,
                cost,
                depth,
            });
        }
        if new_rows.iter().min().copied().unwrap_or(usize::MAX) <= max_cost {
            for (k, child) in &node.children {
                if let Some(hit) =
                    self.levenshtein_rec(*k, *child, word, &new_rows, max_cost, depth + 1)
                {
                    return Some(hit);
                }
            }
        }
        None
    }
}
