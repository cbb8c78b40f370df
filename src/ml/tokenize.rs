//! Tokenisation for the text models (ingredient NER, the LayoutLMv3 nutrition
//! extractor) with Hugging Face's `tokenizers` from a model directory's
//! `tokenizer.json`: special tokens added, truncated to the model's length, offsets in
//! characters of the input (as Python strings count them), word ids.

use std::path::Path;
use tokenizers::models::ModelWrapper;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// Why a tokenizer could not be loaded or used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenizeError {
    #[error("tokenizer {path}: {detail}")]
    Load { path: String, detail: String },
    #[error("tokenising failed: {0}")]
    Encode(String),
}

/// A loaded tokenizer with the truncation of its model.
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The model's `continuing_subword_prefix` (`##` for WordPiece), when it has one:
    /// then a token is a piece of a word when its text is not the text it covers.
    subword_prefix: Option<String>,
    unk_id: Option<u32>,
    pub max_length: usize,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("max_length", &self.max_length)
            .finish_non_exhaustive()
    }
}

/// One tokenised input (batch of one, no padding).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    /// The token strings (`##late`, `▁sugar`, ...).
    pub tokens: Vec<String>,
    /// `(start, end)` in characters of the input text; `(0, 0)` for special tokens.
    /// For words given one by one: characters of the token's word.
    pub offsets: Vec<(usize, usize)>,
    pub special: Vec<bool>,
    /// The word each token comes from (special tokens: none).
    pub word_ids: Vec<Option<u32>>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` and truncates every input to `max_length` tokens
    /// (special tokens included).
    pub fn from_file(path: &Path, max_length: usize) -> Result<TextTokenizer, TokenizeError> {
        let load = |detail: String| TokenizeError::Load {
            path: path.display().to_string(),
            detail,
        };
        let mut inner = Tokenizer::from_file(path).map_err(|e| load(e.to_string()))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_length.max(2),
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| load(e.to_string()))?;
        inner.with_padding(None);
        let (subword_prefix, unk) = match inner.get_model() {
            ModelWrapper::WordPiece(wp) => (
                Some(wp.continuing_subword_prefix.clone()),
                Some(wp.unk_token.clone()),
            ),
            ModelWrapper::BPE(bpe) => (
                bpe.get_continuing_subword_prefix().clone(),
                bpe.get_unk_token().clone(),
            ),
            ModelWrapper::WordLevel(wl) => (None, Some(wl.unk_token.clone())),
            ModelWrapper::Unigram(_) => (None, None),
        };
        let subword_prefix = subword_prefix.filter(|p| !p.is_empty());
        let unk_id = unk
            .and_then(|t| inner.token_to_id(&t))
            .or_else(|| ["<unk>", "[UNK]"].iter().find_map(|t| inner.token_to_id(t)));
        Ok(TextTokenizer {
            inner,
            subword_prefix,
            unk_id,
            max_length: max_length.max(2),
        })
    }

    /// The prefix marking pieces that continue a word, if the model has one.
    pub fn subword_prefix(&self) -> Option<&str> {
        self.subword_prefix.as_deref()
    }

    /// The id of the unknown token.
    pub fn unk_id(&self) -> Option<u32> {
        self.unk_id
    }

    /// Tokenises a text (special tokens added, truncated).
    pub fn encode_text(&self, text: &str) -> Result<Encoded, TokenizeError> {
        let enc = self
            .inner
            .encode_char_offsets(text, true)
            .map_err(|e| TokenizeError::Encode(e.to_string()))?;
        Ok(encoded(&enc))
    }

    /// Tokenises words given one by one (LayoutLMv3's `is_split_into_words`): offsets
    /// are within each word, `word_ids` index `words`.
    pub fn encode_words(&self, words: &[&str]) -> Result<Encoded, TokenizeError> {
        let enc = self
            .inner
            .encode_char_offsets(words, true)
            .map_err(|e| TokenizeError::Encode(e.to_string()))?;
        Ok(encoded(&enc))
    }
}

fn encoded(enc: &tokenizers::Encoding) -> Encoded {
    Encoded {
        ids: enc.get_ids().iter().map(|&i| i64::from(i)).collect(),
        attention_mask: enc
            .get_attention_mask()
            .iter()
            .map(|&m| i64::from(m))
            .collect(),
        tokens: enc.get_tokens().to_vec(),
        offsets: enc.get_offsets().to_vec(),
        special: enc
            .get_special_tokens_mask()
            .iter()
            .map(|&s| s != 0)
            .collect(),
        word_ids: enc.get_word_ids().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_tokenizer() -> TextTokenizer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/triton/model_dirs/ingredient-ner/tokenizer.json");
        match TextTokenizer::from_file(&path, 512) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn text_offsets_are_characters() {
        let t = test_tokenizer();
        let e = t
            .encode_text("Ingrédients: Sucre, chocolates.")
            .unwrap_or_default();
        assert_eq!(
            e.tokens,
            [
                "<s>",
                "ingredients",
                ":",
                "sucre",
                ",",
                "chocolate",
                "##s",
                ".",
                "</s>"
            ]
        );
        assert_eq!(e.ids[1], 1000);
        assert_eq!(e.offsets[1], (0, 11));
        assert_eq!(e.offsets[3], (13, 18));
        assert_eq!(e.offsets[6], (29, 30));
        assert_eq!(
            e.special,
            [true, false, false, false, false, false, false, false, true]
        );
        assert_eq!(e.word_ids[5], e.word_ids[6]);
        assert_eq!(t.subword_prefix(), Some("##"));
        assert_eq!(t.unk_id(), Some(3));
    }

    #[test]
    fn truncates_to_the_model_length() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/triton/model_dirs/ingredient-ner/tokenizer.json");
        let t = TextTokenizer::from_file(&path, 5).ok();
        let e = t.and_then(|t| t.encode_text("sugar salt water milk egg").ok());
        let e = e.unwrap_or_default();
        assert_eq!(e.len(), 5);
        assert_eq!(e.tokens.first().map(String::as_str), Some("<s>"));
        assert_eq!(e.tokens.last().map(String::as_str), Some("</s>"));
    }

    #[test]
    fn words_one_by_one() {
        let t = test_tokenizer();
        let e = t.encode_words(&["Sugar", "chocolates"]).unwrap_or_default();
        assert_eq!(e.tokens, ["<s>", "sugar", "chocolate", "##s", "</s>"]);
        assert_eq!(e.word_ids, [None, Some(0), Some(1), Some(1), None]);
        assert_eq!(e.offsets[3], (9, 10));
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let e = TextTokenizer::from_file(Path::new("/nonexistent/tokenizer.json"), 512);
        assert!(matches!(e, Err(TokenizeError::Load { .. })));
    }
}
