//! Unit tests of the keyword processor (Flashtext behaviour as in Robotoff's test suite).

use super::*;

fn spans(kp: &KeywordProcessor, s: &str) -> Vec<(String, usize, usize)> {
    kp.extract_keywords(s)
        .into_iter()
        .map(|m| (m.value.clone(), m.start, m.end))
        .collect()
}

#[test]
fn longest_keyword_wins_and_words_must_end() {
    let mut kp = KeywordProcessor::new(false);
    kp.add_keyword("new york", "NY".to_string());
    kp.add_keyword("new", "N".to_string());
    kp.add_keyword("york", "Y".to_string());
    assert_eq!(
        spans(&kp, "I love New York and newyork, new"),
        vec![("NY".to_string(), 7, 15), ("N".to_string(), 29, 32)]
    );
}

#[test]
fn non_ascii_letters_are_word_boundaries() {
    // Robotoff's word characters are ASCII letters, digits and `_` only.
    let mut kp = KeywordProcessor::new(false);
    kp.add_keyword_plain("caf");
    assert_eq!(spans(&kp, "café"), vec![("caf".to_string(), 0, 3)]);
}

#[test]
fn removing_a_keyword_restores_the_trie() {
    let mut kp = KeywordProcessor::new(false);
    kp.add_keyword_plain("abc");
    kp.add_keyword_plain("abd");
    assert!(kp.remove_keyword("abd"));
    assert!(!kp.remove_keyword("abd"));
    let mut fresh = KeywordProcessor::new(false);
    fresh.add_keyword_plain("abc");
    assert!(kp.same_keywords(&fresh));
    assert_eq!(kp.len(), 1);
    assert_eq!(spans(&kp, "abd abc"), vec![("abc".to_string(), 4, 7)]);
}

#[test]
fn dotted_capital_i_spans_point_into_the_original_text() {
    // tests/unit/utils/text/flashtext/test_extractor.py (string length change)
    let mut kp = KeywordProcessor::new(false);
    kp.add_keyword("İngredients", "ingredients".to_string());
    assert_eq!(
        spans(&kp, "Word İngredients x"),
        vec![("ingredients".to_string(), 5, 16)]
    );
}

/// Small deterministic generator for the equivalence check below.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        let i = (self.next() as usize) % items.len();
        items.get(i).copied().unwrap_or("")
    }
}

#[test]
fn automaton_and_trie_walk_agree() {
    let atoms = [
        "a", "b", "ab", " ", ".", "é", "x", "İ", "-", "a b", "b.", "1",
    ];
    let mut rng = Lcg(42);
    for round in 0..400 {
        let mut kp = KeywordProcessor::new(round % 2 == 0);
        for _ in 0..(1 + rng.next() % 6) {
            let mut k = String::new();
            for _ in 0..(1 + rng.next() % 3) {
                k.push_str(rng.pick(&atoms));
            }
            kp.add_keyword_plain(&k);
        }
        let mut s = String::new();
        for _ in 0..(rng.next() % 12) {
            s.push_str(rng.pick(&atoms));
        }
        let fast: Vec<_> = kp
            .extract_keywords(&s)
            .into_iter()
            .map(|m| (m.value.clone(), m.start, m.end))
            .collect();
        let walk: Vec<_> = kp
            .extract_keywords_by_walk(&s)
            .into_iter()
            .map(|m| (m.value.clone(), m.start, m.end))
            .collect();
        assert_eq!(
            fast,
            walk,
            "sentence {s:?}, keywords {:?}",
            kp.get_all_keywords()
        );
    }
}
