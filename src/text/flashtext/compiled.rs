//! The Aho-Corasick automaton over every keyword of a processor, built on first use.

use aho_corasick::AhoCorasick;

/// The automaton over every keyword of a processor, built on first use.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(super) automaton: Option<AhoCorasick>,
    /// Trie node of each automaton pattern.
    pub(super) nodes: Vec<u32>,
}
