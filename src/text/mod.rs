//! Text utilities shared by extractors: ASCII folding, Open Food Facts tags, accent
//! stripping, code-point offsets, and the flashtext keyword processor. The ground floor:
//! depends on nothing in the crate.

pub mod flashtext;
mod fold_table;

pub use flashtext::{KeywordError, KeywordMatch, KeywordProcessor};
mod fold;
mod number;
mod offsets;
pub use fold::{
    collapse_spaces, fold, fold_without_deletion, fold_without_insertion_deletion, get_tag,
    strip_accents_ascii,
};
pub use number::py_float;
pub use offsets::{byte_offset, char_len, char_slice, CharOffsets};
