//! Fuzz target: keyword processors built from fuzzed keywords; the automaton and the
//! reference trie walk must find the same matches, and spans must be valid.

#![no_main]

use libfuzzer_sys::fuzz_target;
use robotoff::text::KeywordProcessor;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: keywords separated by '|'; the rest: the sentence.
    let (head, sentence) = text.split_once('\n').unwrap_or((text, ""));
    for case_sensitive in [false, true] {
        let mut kp = KeywordProcessor::new(case_sensitive);
        for k in head.split('|').take(32) {
            kp.add_keyword_plain(k);
        }
        let fast: Vec<_> = kp
            .extract_keywords(sentence)
            .into_iter()
            .map(|m| (m.value.clone(), m.start, m.end, m.byte_start, m.byte_end))
            .collect();
        let walk: Vec<_> = kp
            .extract_keywords_by_walk(sentence)
            .into_iter()
            .map(|m| (m.value.clone(), m.start, m.end, m.byte_start, m.byte_end))
            .collect();
        assert_eq!(fast, walk, "keywords {head:?} sentence {sentence:?}");
        for (_, _, _, b0, b1) in &fast {
            assert!(sentence.get(*b0..*b1).is_some());
        }
        let _ = kp.extract_keywords_fuzzy(sentence, 1);
        for k in head.split('|').take(4) {
            kp.remove_keyword(k);
        }
        let _ = kp.extract_keywords(sentence);
    }
});
