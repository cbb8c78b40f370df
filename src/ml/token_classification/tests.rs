//! Hand-checked cases: "Sugar chocolates salt" tokenised as `sugar`, `chocolate`, `##s`,
//! `salt` with labels O, B-ING, I-ING and scores
//! sugar [.1 .8 .1] (B .8), chocolate [.6 .1 .3] (O .6), ##s [.1 .1 .8] (I .8),
//! salt [.2 .1 .7] (I .7).

use super::*;

const TEXT: &str = "Sugar chocolates salt";

fn labels() -> Vec<String> {
    ["O", "B-ING", "I-ING"].iter().map(|s| s.to_string()).collect()
}

fn pre() -> Vec<PreEntity> {
    let tokens: Vec<String> = ["<s>", "sugar", "chocolate", "##s", "salt", "</s>"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ids = [0, 10, 11, 12, 13, 2];
    let offsets = [(0, 0), (0, 5), (6, 15), (15, 16), (17, 21), (0, 0)];
    let special = [true, false, false, false, false, true];
    let scores = vec![
        vec![0.9, 0.05, 0.05],
        vec![0.1, 0.8, 0.1],
        vec![0.6, 0.1, 0.3],
        vec![0.1, 0.1, 0.8],
        vec![0.2, 0.1, 0.7],
        vec![0.1, 0.1, 0.8],
    ];
    pre_entities(
        TEXT,
        &tokens,
        &ids,
        &offsets,
        &special,
        &scores,
        Some("##"),
        Some(3),
    )
}

fn run(strategy: AggregationStrategy) -> Vec<(String, usize, usize, f32)> {
    aggregate(&pre(), strategy, &labels(), &["O"])
        .into_iter()
        .map(|e| (e.entity_group, e.start, e.end, (e.score * 1e4).round() / 1e4))
        .collect()
}

fn ent(g: &str, s: usize, e: usize, score: f32) -> (String, usize, usize, f32) {
    (g.to_string(), s, e, score)
}

#[test]
fn pieces_and_special_tokens() {
    let p = pre();
    assert_eq!(p.len(), 4, "special tokens are left out");
    let sub: Vec<bool> = p.iter().map(|p| p.is_subword).collect();
    assert_eq!(sub, [false, false, true, false]);
    assert_eq!(p[2].index, 3);
}

#[test]
fn strategy_none_keeps_every_token() {
    assert_eq!(
        run(AggregationStrategy::None),
        [
            ent("B-ING", 0, 5, 0.8),
            ent("I-ING", 15, 16, 0.8),
            ent("I-ING", 17, 21, 0.7)
        ]
    );
}

#[test]
fn strategy_simple_groups_tokens() {
    assert_eq!(
        run(AggregationStrategy::Simple),
        [ent("ING", 0, 5, 0.8), ent("ING", 15, 21, 0.75)]
    );
}

#[test]
fn strategy_first_takes_the_first_piece() {
    assert_eq!(
        run(AggregationStrategy::First),
        [ent("ING", 0, 5, 0.8), ent("ING", 17, 21, 0.7)]
    );
}

#[test]
fn strategy_average_averages_the_pieces() {
    // chocolates: mean [.35 .1 .55] → I-ING .55, joins sugar and salt.
    assert_eq!(
        run(AggregationStrategy::Average),
        [ent("ING", 0, 21, 0.6833)]
    );
}

#[test]
fn strategy_max_takes_the_surest_piece() {
    // chocolates: ##s scores highest (.8) → I-ING .8.
    assert_eq!(run(AggregationStrategy::Max), [ent("ING", 0, 21, 0.7667)]);
}

#[test]
fn a_b_tag_starts_a_new_entity() {
    let toks = vec![
        LabeledToken {
            entity: "B-ING".into(),
            score: 1.0,
            index: Some(1),
            start: 0,
            end: 3,
        },
        LabeledToken {
            entity: "B-ING".into(),
            score: 0.5,
            index: Some(2),
            start: 4,
            end: 6,
        },
        LabeledToken {
            entity: "I-ING".into(),
            score: 0.7,
            index: Some(3),
            start: 7,
            end: 9,
        },
    ];
    let g = group_entities(&toks);
    assert_eq!(g.len(), 2);
    assert_eq!((g[1].start, g[1].end), (4, 9));
    assert!((g[1].score - 0.6).abs() < 1e-6);
}

#[test]
fn without_a_prefix_spaces_tell_pieces() {
    let tokens: Vec<String> = ["▁ab", "▁c", "d", "é"].iter().map(|s| s.to_string()).collect();
    let p = pre_entities(
        "ab cdé",
        &tokens,
        &[5, 6, 7, 3],
        &[(0, 2), (3, 4), (4, 5), (5, 6)],
        &[false; 4],
        &vec![vec![1.0]; 4],
        None,
        Some(3),
    );
    let sub: Vec<bool> = p.iter().map(|p| p.is_subword).collect();
    // The unknown token (id 3) takes its text and is never a piece.
    assert_eq!(sub, [false, false, true, false]);
    assert_eq!(p[3].word, "é");
}

#[test]
fn softmax_and_names() {
    let s = softmax(&[10.0, 0.0, 0.0]);
    assert!((s[0] - 0.99991).abs() < 1e-5);
    assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_eq!("FIRST".parse(), Ok(AggregationStrategy::First));
    assert!("first".parse::<AggregationStrategy>().is_err());
}
