//! The logo vote (spec pipeline §6.5): a logo's nearest neighbours vote for its label with
//! weights `1 / distance`; the best annotated label wins if its share reaches the
//! threshold of its `(type, value)` (table `logo_confidence_threshold`, default 0.2), and
//! a brand or label winner becomes a prediction.
//!
//! * Weights: `1 / d`. When a neighbour is at distance 0, those at 0 weigh 1 and all
//!   others 0.
//! * Unannotated neighbours, deleted ones, and annotations whose value is unknown to the
//!   taxonomy are `UNKNOWN`: they count in the total, never as a winner.
//! * Ties between labels go to the label of the nearest neighbour among them (Robotoff's
//!   order there depends on Python's set iteration).
//! * A share equal to the threshold passes; thresholds are stored as `real` and compared
//!   widened from `f32`, as Robotoff reads them.

use std::collections::HashMap;

/// Default threshold of a `(type, value)` without a row.
pub const DEFAULT_THRESHOLD: f64 = 0.2;

/// A neighbour's label: its annotation type and taxonomy value (`None` for types without
/// a value, such as `no_logo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub kind: String,
    pub value: Option<String>,
}

impl Label {
    pub fn new(kind: &str, value: Option<&str>) -> Self {
        Label {
            kind: kind.to_string(),
            value: value.map(str::to_string),
        }
    }
}

/// A neighbour as read from `logo_annotation`: `None` when unannotated or gone.
pub type Vote = (Option<Label>, f64);

/// The label of an annotated logo row (`annotation_type`, `annotation_value`,
/// `taxonomy_value`): `None` (UNKNOWN) when the value has no taxonomy value.
pub fn label_of(
    annotation_type: Option<&str>,
    annotation_value: Option<&str>,
    taxonomy_value: Option<&str>,
) -> Option<Label> {
    let kind = annotation_type?;
    match (annotation_value, taxonomy_value) {
        (None, _) => Some(Label::new(kind, None)),
        (Some(_), Some(t)) => Some(Label::new(kind, Some(t))),
        (Some(_), None) => None,
    }
}

/// The share of each label (UNKNOWN as `None`), in the order labels first appear among
/// the neighbours (nearest first). Empty when there are no neighbours.
pub fn shares(votes: &[Vote]) -> Vec<(Option<Label>, f64)> {
    let weights: Vec<f64> = if votes.iter().any(|(_, d)| *d == 0.0) {
        votes
            .iter()
            .map(|(_, d)| if *d == 0.0 { 1.0 } else { 0.0 })
            .collect()
    } else {
        votes.iter().map(|(_, d)| 1.0 / d).collect()
    };
    let total: f64 = weights.iter().sum();
    let mut order: Vec<Option<Label>> = Vec::new();
    let mut sums: HashMap<Option<Label>, f64> = HashMap::new();
    for ((label, _), w) in votes.iter().zip(&weights) {
        if !sums.contains_key(label) {
            order.push(label.clone());
        }
        *sums.entry(label.clone()).or_insert(0.0) += w;
    }
    order
        .into_iter()
        .map(|l| {
            let s = sums.get(&l).copied().unwrap_or(0.0);
            (l, if total > 0.0 { s / total } else { 0.0 })
        })
        .collect()
}

/// The winning label and its share, if an annotated label wins and reaches its
/// threshold.
pub fn winner(votes: &[Vote], thresholds: &HashMap<Label, f32>) -> Option<(Label, f64)> {
    let mut best: Option<(Label, f64)> = None;
    for (label, share) in shares(votes) {
        let Some(label) = label else { continue };
        if best.as_ref().is_none_or(|(_, b)| share > *b) {
            best = Some((label, share));
        }
    }
    let (label, share) = best?;
    let threshold = thresholds
        .get(&label)
        .map_or(DEFAULT_THRESHOLD, |t| f64::from(*t));
    (share >= threshold).then_some((label, share))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &str) -> Option<Label> {
        Some(Label::new("brand", Some(v)))
    }

    const U: Option<Label> = None;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn labels_of_rows() {
        assert_eq!(label_of(None, None, None), None);
        assert_eq!(
            label_of(Some("no_logo"), None, None),
            Some(Label::new("no_logo", None))
        );
        assert_eq!(
            label_of(Some("brand"), Some("etorki"), Some("Etorki")),
            b("Etorki")
        );
        // A value the taxonomy does not know: UNKNOWN.
        assert_eq!(label_of(Some("store"), Some("lidl"), None), None);
    }

    /// The worked examples checked against Robotoff's own `predict_proba` / vote.
    #[test]
    fn robotoffs_vote_examples() {
        let none = HashMap::new();
        let votes = vec![(b("carrefour"), 0.1), (b("carrefour"), 0.2), (U, 0.1)];
        let (l, p) = winner(&votes, &none).expect("winner");
        assert_eq!(Some(l), b("carrefour"));
        assert!(close(p, 0.6), "{p}");

        // Exactly the default threshold passes; 0.2 stored as `real` does not.
        let mut votes = vec![(b("x"), 0.1)];
        votes.extend(std::iter::repeat_n((U, 0.1), 4));
        let (_, p) = winner(&votes, &none).expect("passes the default");
        assert!(close(p, 0.2));
        let stored = HashMap::from([(Label::new("brand", Some("x")), 0.2f32)]);
        assert_eq!(winner(&votes, &stored), None);

        let votes: Vec<Vote> = std::iter::repeat_n((b("x"), 0.05), 10).collect();
        assert!(close(winner(&votes, &none).expect("w").1, 1.0));

        // Zero distances take all the weight.
        let l = Some(Label::new("label", Some("en:organic")));
        let votes = vec![(l.clone(), 0.0), (b("x"), 0.1), (U, 0.0), (U, 0.2)];
        let s = shares(&votes);
        assert!(close(s[0].1, 0.5) && close(s[1].1, 0.0) && close(s[2].1, 0.5));
        assert_eq!(winner(&votes, &none).map(|w| w.0), l);

        // The winner at share 0 needs a threshold of 0.
        let votes = vec![(U, 0.0), (b("x"), 0.1)];
        assert_eq!(winner(&votes, &none), None);
        let zero = HashMap::from([(Label::new("brand", Some("x")), 0.0f32)]);
        assert_eq!(winner(&votes, &zero).map(|w| w.1), Some(0.0));

        // A non-brand winner wins (and makes no prediction, decided by the caller).
        let votes = vec![
            (Some(Label::new("no_logo", None)), 0.05),
            (b("x"), 0.2),
            (b("x"), 0.2),
        ];
        let (l, p) = winner(&votes, &none).expect("w");
        assert_eq!(l.kind, "no_logo");
        assert!((p - 2.0 / 3.0).abs() < 1e-12);

        // Only UNKNOWN neighbours, or none: no winner.
        assert_eq!(winner(&[(U, 0.1), (U, 0.2), (U, 0.3)], &none), None);
        assert_eq!(winner(&[], &none), None);
    }

    #[test]
    fn ties_go_to_the_nearest_neighbours_label() {
        let votes = vec![(b("y"), 0.1), (b("x"), 0.1)];
        assert_eq!(winner(&votes, &HashMap::new()).map(|w| w.0), b("y"));
        let votes = vec![(b("x"), 0.1), (b("y"), 0.1)];
        assert_eq!(winner(&votes, &HashMap::new()).map(|w| w.0), b("x"));
    }
}
