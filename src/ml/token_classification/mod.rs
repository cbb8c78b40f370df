//! Token classification post-processing as Hugging Face's token-classification
//! pipeline does it (the copy Robotoff ships for its ingredient NER, spec pipeline
//! §7.5): per-token softmax scores, words rebuilt from sub-word pieces, and entities
//! grouped by their B-/I- tags under one of five aggregation strategies.

use std::str::FromStr;

/// How token predictions become entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregationStrategy {
    /// Every token is an entity of its own (no grouping).
    None,
    /// Tokens grouped by B-/I- tags, each token keeping its own label.
    Simple,
    /// Words take the label of their first piece, then are grouped.
    First,
    /// Words take the label of their pieces' mean scores, then are grouped.
    Average,
    /// Words take the label of their highest-scoring piece, then are grouped.
    Max,
}

impl AggregationStrategy {
    pub const ALL: [AggregationStrategy; 5] = [
        AggregationStrategy::None,
        AggregationStrategy::Simple,
        AggregationStrategy::First,
        AggregationStrategy::Average,
        AggregationStrategy::Max,
    ];

    /// Robotoff's enum name (`NONE`, `SIMPLE`, `FIRST`, `AVERAGE`, `MAX`).
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Simple => "SIMPLE",
            Self::First => "FIRST",
            Self::Average => "AVERAGE",
            Self::Max => "MAX",
        }
    }
}

impl FromStr for AggregationStrategy {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|a| a.name() == s).ok_or(())
    }
}

/// One token as the pipeline sees it before aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct PreEntity {
    /// The token's text as the tokenizer names it, or the text it covers for the
    /// unknown token.
    pub word: String,
    /// Softmax scores over the labels.
    pub scores: Vec<f32>,
    /// Characters of the input covered by the token.
    pub start: usize,
    pub end: usize,
    /// Position of the token in the model input.
    pub index: usize,
    /// Whether the token continues the previous token's word.
    pub is_subword: bool,
}

/// A token or word with its label (before grouping).
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledToken {
    pub entity: String,
    pub score: f32,
    /// Position of the token (the first piece for a word).
    pub index: Option<usize>,
    pub start: usize,
    pub end: usize,
}

/// An entity: consecutive tokens or words of one tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// The tag without its `B-`/`I-` prefix (`ING`); with strategy `None`, the token's
    /// full label.
    pub entity_group: String,
    /// Mean of the member scores.
    pub score: f32,
    /// Characters of the input: first member's start, last member's end.
    pub start: usize,
    pub end: usize,
}

/// Numerically stable softmax of one row of logits.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return vec![0.0; logits.len()];
    }
    let exps: Vec<f32> = logits.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Index and value of the largest score (the first on ties, as numpy's argmax).
fn argmax(scores: &[f32]) -> (usize, f32) {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, &s) in scores.iter().enumerate() {
        if s > best.1 {
            best = (i, s);
        }
    }
    if best.1 == f32::NEG_INFINITY {
        best.1 = scores.first().copied().unwrap_or(0.0);
    }
    best
}

/// The tokens of an input to aggregate (Robotoff's variant of the pipeline): special
/// tokens left out; a token is a piece of the previous token's word when both come from
/// the same pre-tokenised word (`word_ids`); the unknown token takes the text it covers
/// and is never a piece.
#[allow(clippy::too_many_arguments)]
pub fn pre_entities(
    text: &str,
    tokens: &[String],
    ids: &[i64],
    offsets: &[(usize, usize)],
    special: &[bool],
    word_ids: &[Option<u32>],
    scores: &[Vec<f32>],
    unk_id: Option<u32>,
) -> Vec<PreEntity> {
    let mut out = Vec::new();
    let mut previous: Option<u32> = None;
    for (idx, row) in scores.iter().enumerate() {
        let word_id = word_ids.get(idx).copied().flatten();
        if special.get(idx).copied().unwrap_or(true) {
            previous = word_id;
            continue;
        }
        let (start, end) = offsets.get(idx).copied().unwrap_or((0, 0));
        let mut word = tokens.get(idx).cloned().unwrap_or_default();
        let mut is_subword = word_id == previous;
        if unk_id.is_some() && ids.get(idx).copied() == unk_id.map(i64::from) {
            word = crate::text::char_slice(text, start, end).to_string();
            is_subword = false;
        }
        previous = word_id;
        out.push(PreEntity {
            word,
            scores: row.clone(),
            start,
            end,
            index: idx,
            is_subword,
        });
    }
    out
}

/// Labels a word of pieces under `strategy` (`First`, `Average` or `Max`).
fn aggregate_word(
    pieces: &[PreEntity],
    strategy: AggregationStrategy,
    labels: &[String],
) -> LabeledToken {
    let label = |i: usize| {
        labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("LABEL_{i}"))
    };
    let (idx, score) = match strategy {
        AggregationStrategy::Max => {
            let mut best: Option<&PreEntity> = None;
            for p in pieces {
                let m = argmax(&p.scores).1;
                if best.is_none_or(|b| m > argmax(&b.scores).1) {
                    best = Some(p);
                }
            }
            best.map(|b| argmax(&b.scores)).unwrap_or((0, 0.0))
        }
        AggregationStrategy::Average => {
            let n = pieces.first().map(|p| p.scores.len()).unwrap_or(0);
            let mut mean = vec![0f32; n];
            for p in pieces {
                for (m, s) in mean.iter_mut().zip(&p.scores) {
                    *m += s;
                }
            }
            let count = pieces.len().max(1) as f32;
            for m in &mut mean {
                *m /= count;
            }
            argmax(&mean)
        }
        _ => pieces
            .first()
            .map(|p| argmax(&p.scores))
            .unwrap_or((0, 0.0)),
    };
    LabeledToken {
        entity: label(idx),
        score,
        index: pieces.first().map(|p| p.index),
        start: pieces.first().map(|p| p.start).unwrap_or(0),
        end: pieces.last().map(|p| p.end).unwrap_or(0),
    }
}

/// The labelled tokens (`None`, `Simple`) or words (`First`, `Average`, `Max`).
pub fn label_tokens(
    pre: &[PreEntity],
    strategy: AggregationStrategy,
    labels: &[String],
) -> Vec<LabeledToken> {
    match strategy {
        AggregationStrategy::None | AggregationStrategy::Simple => pre
            .iter()
            .map(|p| {
                let (i, score) = argmax(&p.scores);
                LabeledToken {
                    entity: labels
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("LABEL_{i}")),
                    score,
                    index: Some(p.index),
                    start: p.start,
                    end: p.end,
                }
            })
            .collect(),
        _ => {
            let mut words = Vec::new();
            let mut group: Vec<PreEntity> = Vec::new();
            for p in pre {
                if !group.is_empty() && !p.is_subword {
                    words.push(aggregate_word(&group, strategy, labels));
                    group.clear();
                }
                group.push(p.clone());
            }
            if !group.is_empty() {
                words.push(aggregate_word(&group, strategy, labels));
            }
            words
        }
    }
}

/// `(B|I, tag)` of a label; a label without a prefix continues (`I`).
fn tag_of(label: &str) -> (char, &str) {
    if let Some(t) = label.strip_prefix("B-") {
        ('B', t)
    } else if let Some(t) = label.strip_prefix("I-") {
        ('I', t)
    } else {
        ('I', label)
    }
}

fn group(members: &[LabeledToken]) -> Entity {
    let label = members.first().map(|m| m.entity.as_str()).unwrap_or("");
    let tag = label.split_once('-').map(|(_, t)| t).unwrap_or(label);
    let score = if members.is_empty() {
        0.0
    } else {
        members.iter().map(|m| m.score).sum::<f32>() / members.len() as f32
    };
    Entity {
        entity_group: tag.to_string(),
        score,
        start: members.first().map(|m| m.start).unwrap_or(0),
        end: members.last().map(|m| m.end).unwrap_or(0),
    }
}

/// Groups labelled tokens: a token joins the previous entity when it has the same tag
/// and is not a `B-`.
pub fn group_entities(tokens: &[LabeledToken]) -> Vec<Entity> {
    let mut out = Vec::new();
    let mut current: Vec<LabeledToken> = Vec::new();
    for t in tokens {
        if let Some(last) = current.last() {
            let (bi, tag) = tag_of(&t.entity);
            let (_, last_tag) = tag_of(&last.entity);
            if tag == last_tag && bi != 'B' {
                current.push(t.clone());
                continue;
            }
            out.push(group(&current));
            current.clear();
        }
        current.push(t.clone());
    }
    if !current.is_empty() {
        out.push(group(&current));
    }
    out
}

/// The entities of one input under `strategy`, labels in `ignore` (`O`) left out.
/// With `None` every kept token is an entity whose group is its full label.
pub fn aggregate(
    pre: &[PreEntity],
    strategy: AggregationStrategy,
    labels: &[String],
    ignore: &[&str],
) -> Vec<Entity> {
    let tokens = label_tokens(pre, strategy, labels);
    let entities = if strategy == AggregationStrategy::None {
        tokens
            .iter()
            .map(|t| Entity {
                entity_group: t.entity.clone(),
                score: t.score,
                start: t.start,
                end: t.end,
            })
            .collect()
    } else {
        group_entities(&tokens)
    };
    entities
        .into_iter()
        .filter(|e| !ignore.contains(&e.entity_group.as_str()))
        .collect()
}

#[cfg(test)]
mod tests;
