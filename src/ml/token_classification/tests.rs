//! Hand-checked cases. "Sugar chocolates salt" tokenised as `sugar`, `chocolate`, `##s`,
//! `salt` (words 0, 1, 1, 2) with labels O, B-ING, I-ING and scores
//! sugar [.1 .8 .1] (B .8), chocolate [.6 .1 .3] (O .6), ##s [.1 .1 .8] (I .8),
//! salt [.2 .1 .7] (I .7). The "abc de, fg h" cases are Robotoff's own results on the
//! same logits (spec pipeline §7.5).

use super::*;

const TEXT: &str = "Sugar chocolates salt";

fn labels() -> Vec<String> {
    ["O", "B-ING", "I-ING"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn pre() -> Vec<PreEntity> {
    let tokens = strings(&["<s>", "sugar", "chocolate", "##s", "salt", "</s>"]);
    let ids = [0, 10, 11, 12, 13, 2];
    let offsets = [(0, 0), (0, 5), (6, 15), (15, 16), (17, 21), (0, 0)];
    let special = [true, false, false, false, false, true];
    let word_ids = [None, Some(0), Some(1), Some(1), Some(2), None];
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
        &word_ids,
        &scores,
        Some(3),
    )
}

type Found = (String, usize, usize, f32);

fn found(entities: Vec<Entity>) -> Vec<Found> {
    entities
        .into_iter()
        .map(|e| (e.entity_group, e.start, e.end, e.score))
        .collect()
}

fn run(strategy: AggregationStrategy) -> Vec<Found> {
    found(aggregate(&pre(), strategy, &labels(), &["O"]))
}

fn ent(g: &str, s: usize, e: usize, score: f32) -> Found {
    (g.to_string(), s, e, score)
}

fn assert_close(got: &[Found], want: &[Found]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((&g.0, g.1, g.2), (&w.0, w.1, w.2), "{got:?} vs {want:?}");
        assert!((g.3 - w.3).abs() < 1e-4, "{got:?} vs {want:?}");
    }
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
    assert_close(
        &run(AggregationStrategy::None),
        &[
            ent("B-ING", 0, 5, 0.8),
            ent("I-ING", 15, 16, 0.8),
            ent("I-ING", 17, 21, 0.7),
        ],
    );
}

#[test]
fn strategy_simple_groups_tokens() {
    assert_close(
        &run(AggregationStrategy::Simple),
        &[ent("ING", 0, 5, 0.8), ent("ING", 15, 21, 0.75)],
    );
}

#[test]
fn strategy_first_takes_the_first_piece() {
    assert_close(
        &run(AggregationStrategy::First),
        &[ent("ING", 0, 5, 0.8), ent("ING", 17, 21, 0.7)],
    );
}

#[test]
fn strategy_average_averages_the_pieces() {
    // chocolates: mean [.35 .1 .55] → I-ING .55, joins sugar and salt.
    assert_close(
        &run(AggregationStrategy::Average),
        &[ent("ING", 0, 21, 0.68333)],
    );
}

#[test]
fn strategy_max_takes_the_surest_piece() {
    // chocolates: ##s scores highest (.8) → I-ING .8.
    assert_close(
        &run(AggregationStrategy::Max),
        &[ent("ING", 0, 21, 0.76667)],
    );
}

/// "abc de, fg h": `▁ab` `c` (word 0), `▁de` (1), `▁,` (2), `▁fg` (3), last token (4).
fn robotoff_case(last_id: i64, logits: &[[f32; 3]]) -> Vec<PreEntity> {
    let tokens = strings(&["<s>", "▁ab", "c", "▁de", "▁,", "▁fg", "▁h", "</s>"]);
    let ids = [0, 10, 11, 12, 13, 14, last_id, 2];
    let offsets = [
        (0, 0),
        (0, 2),
        (2, 3),
        (4, 6),
        (6, 7),
        (8, 10),
        (11, 12),
        (0, 0),
    ];
    let special = [true, false, false, false, false, false, false, true];
    let word_ids = [
        None,
        Some(0),
        Some(0),
        Some(1),
        Some(2),
        Some(3),
        Some(4),
        None,
    ];
    let scores: Vec<Vec<f32>> = logits.iter().map(|l| softmax(l)).collect();
    pre_entities(
        "abc de, fg h",
        &tokens,
        &ids,
        &offsets,
        &special,
        &word_ids,
        &scores,
        Some(3),
    )
}

#[test]
fn robotoff_example_a() {
    let logits = [
        [5.0, 0.0, 0.0],
        [0.0, 3.0, 1.0],
        [0.0, 1.0, 2.0],
        [2.0, 0.0, 1.5],
        [0.0, 0.5, 2.0],
        [0.0, 2.0, 1.0],
        [0.0, 1.0, 3.0],
        [5.0, 0.0, 0.0],
    ];
    let pre = robotoff_case(15, &logits);
    let run = |s| found(aggregate(&pre, s, &labels(), &["O"]));
    assert_close(
        &run(AggregationStrategy::None),
        &[
            ent("B-ING", 0, 2, 0.8437947),
            ent("I-ING", 2, 3, 0.66524094),
            ent("I-ING", 6, 7, 0.73612475),
            ent("B-ING", 8, 10, 0.66524094),
            ent("I-ING", 11, 12, 0.8437947),
        ],
    );
    assert_close(
        &run(AggregationStrategy::Simple),
        &[
            ent("ING", 0, 3, 0.7545178),
            ent("ING", 6, 7, 0.73612475),
            ent("ING", 8, 12, 0.7545178),
        ],
    );
    for s in [AggregationStrategy::First, AggregationStrategy::Max] {
        assert_close(
            &run(s),
            &[
                ent("ING", 0, 3, 0.8437947),
                ent("ING", 6, 7, 0.73612475),
                ent("ING", 8, 12, 0.7545178),
            ],
        );
    }
    assert_close(
        &run(AggregationStrategy::Average),
        &[
            ent("ING", 0, 3, 0.544_261_6),
            ent("ING", 6, 7, 0.73612475),
            ent("ING", 8, 12, 0.7545178),
        ],
    );
}

#[test]
fn robotoff_example_b_with_an_unknown_token() {
    let logits = [
        [5.0, 0.0, 0.0],
        [1.0, 0.0, 0.5],
        [0.0, 0.0, 4.0],
        [0.0, 0.0, 2.0],
        [0.0, 3.0, 0.0],
        [0.0, 0.0, 3.0],
        [3.0, 0.0, 0.0],
        [5.0, 0.0, 0.0],
    ];
    let pre = robotoff_case(3, &logits);
    assert_eq!(pre[5].word, "h", "the unknown token takes its text");
    let run = |s| found(aggregate(&pre, s, &labels(), &["O"]));
    assert_close(
        &run(AggregationStrategy::None),
        &[
            ent("I-ING", 2, 3, 0.9646632),
            ent("I-ING", 4, 6, 0.78698605),
            ent("B-ING", 6, 7, 0.909443),
            ent("I-ING", 8, 10, 0.909443),
        ],
    );
    assert_close(
        &run(AggregationStrategy::Simple),
        &[ent("ING", 2, 6, 0.8758246), ent("ING", 6, 10, 0.909443)],
    );
    assert_close(
        &run(AggregationStrategy::First),
        &[ent("ING", 4, 6, 0.78698605), ent("ING", 6, 10, 0.909443)],
    );
    assert_close(
        &run(AggregationStrategy::Average),
        &[ent("ING", 0, 6, 0.71145785), ent("ING", 6, 10, 0.909443)],
    );
    assert_close(
        &run(AggregationStrategy::Max),
        &[ent("ING", 0, 6, 0.8758246), ent("ING", 6, 10, 0.909443)],
    );
}

#[test]
fn softmax_and_names() {
    let s = softmax(&[10.0, 0.0, 0.0]);
    assert!((s[0] - 0.99991).abs() < 1e-5);
    assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_eq!("FIRST".parse(), Ok(AggregationStrategy::First));
    assert!("first".parse::<AggregationStrategy>().is_err());
}
