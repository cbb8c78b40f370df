//! Language identification of short texts, embedded: the `lingua` crate (n-gram models
//! of the languages of Open Food Facts products compiled in; no model file, no server).
//! Robotoff asks a fastText server (`lid.176`) for the `k` likeliest languages above a
//! threshold (spec api-db `/predict/lang`, pipeline §7.5); the answer has the same shape
//! here: ISO 639-1 codes, confidences that add up to at most 1, likeliest first.
//!
//! `lingua` was chosen over lighter crates because ingredient lists are short, comma
//! separated noun lists: trigram detectors without word models name English lists
//! Swedish or Portuguese and Italian ones Shona, where `lingua` names them right.
//! The models load on first use.

use lingua::{LanguageDetector, LanguageDetectorBuilder};
use std::sync::LazyLock;

static DETECTOR: LazyLock<LanguageDetector> =
    LazyLock::new(|| LanguageDetectorBuilder::from_all_languages().build());

/// One language of a text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LangPrediction {
    pub lang: String,
    pub confidence: f64,
}

/// The `k` likeliest languages of `text` whose confidence is at least `threshold`,
/// likeliest first; empty when the text has no letters to go by.
pub fn predict(text: &str, k: usize, threshold: f64) -> Vec<LangPrediction> {
    if k == 0 {
        return Vec::new();
    }
    // Newlines carry no language; fastText reads one line at a time.
    let text = text.replace(['\n', '\r'], " ");
    DETECTOR
        .compute_language_confidence_values(&text)
        .into_iter()
        .filter(|(_, c)| *c > 0.0 && *c >= threshold)
        .take(k)
        .map(|(lang, confidence)| LangPrediction {
            lang: lang.iso_code_639_1().to_string(),
            confidence,
        })
        .collect()
}

/// The likeliest language of each text (Robotoff asks for `k = 1`, threshold 0); `None`
/// for a text without letters.
pub fn predict_each(texts: &[String]) -> Vec<Option<LangPrediction>> {
    texts
        .iter()
        .map(|t| predict(t, 1, 0.0).into_iter().next())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str) -> Option<String> {
        predict(text, 1, 0.0).into_iter().next().map(|p| p.lang)
    }

    #[test]
    fn names_the_language_of_ingredient_lists() {
        let cases = [
            (
                "Wheat flour, sugar, palm oil, egg white, emulsifier (soy)",
                "en",
            ),
            (
                "sugar, cocoa butter, whole milk powder, cocoa mass, emulsifier: soy lecithin",
                "en",
            ),
            (
                "sucre, beurre de cacao, poudre de lait entier, arôme naturel de vanille",
                "fr",
            ),
            ("Zucker, Kakaobutter, Vollmilchpulver, Haselnüsse", "de"),
            ("harina de trigo, azúcar, aceite de palma", "es"),
            ("farina di grano tenero, zucchero, olio di palma", "it"),
        ];
        for (text, lang) in cases {
            assert_eq!(top(text).as_deref(), Some(lang), "{text}");
        }
    }

    #[test]
    fn confidences_are_ranked_and_add_up_to_at_most_one() {
        let p = predict("the quick brown fox jumps over the lazy dog", 5, 0.0);
        assert_eq!(p.len(), 5);
        assert_eq!(p[0].lang, "en");
        let sum: f64 = p.iter().map(|p| p.confidence).sum();
        assert!(sum <= 1.0 + 1e-9, "{sum}");
        assert!(p.windows(2).all(|w| w[0].confidence >= w[1].confidence));
    }

    #[test]
    fn threshold_and_k_bound_the_answer() {
        assert!(predict("bonjour tout le monde", 0, 0.0).is_empty());
        assert!(predict("bonjour tout le monde", 10, 1.01).is_empty());
        assert!(predict("1234 %%% ---", 10, 0.0).is_empty());
        assert!(predict("", 10, 0.0).is_empty());
        let each = predict_each(&["lait entier et sucre".to_string(), "42".to_string()]);
        assert_eq!(each[0].as_ref().map(|p| p.lang.as_str()), Some("fr"));
        assert_eq!(each[1], None);
    }
}
