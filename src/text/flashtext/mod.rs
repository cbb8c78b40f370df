//! Flashtext keyword processor: a character trie of keywords with whole-word, longest-match
//! extraction (exact matches run on an Aho-Corasick automaton built once and shared).

mod compiled;
mod extract;
mod fuzzy;
mod processor;
pub use extract::KeywordMatch;
pub use fuzzy::FuzzyHit;
pub use processor::{CleanName, KeywordError, KeywordProcessor};

#[cfg(test)]
mod tests;
