//! Anonymous votes: when the votes on an insight settle it, and to what (spec api-db
//! §4.1 step 2).

pub use crate::types::VoteCount;

/// Votes needed for a value to win (Robotoff's rule; `annotation.votes_to_apply`).
pub const VOTES_TO_APPLY: i64 = 3;

/// The annotation the votes settle on with Robotoff's threshold of 3.
pub fn resolve(counts: &[VoteCount]) -> Option<i32> {
    resolve_with(counts, VOTES_TO_APPLY)
}

/// The annotation the votes settle on, if they do. Skip votes (−1) are never counted.
///
/// - the largest group has at least `threshold` votes → its value;
/// - the two largest groups both have at least `threshold − 1` votes (and at least 1)
///   → −1 (ambiguous), which wins over the previous rule;
/// - otherwise the votes do not settle anything yet.
pub fn resolve_with(counts: &[VoteCount], threshold: i64) -> Option<i32> {
    let threshold = threshold.max(1);
    let ambiguous_at = (threshold - 1).max(1);
    let mut groups: Vec<VoteCount> = counts
        .iter()
        .copied()
        .filter(|c| c.value != -1 && c.count > 0)
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    let top = groups.first()?;
    let mut resolved = (top.count >= threshold).then_some(top.value);
    if top.count >= ambiguous_at
        && groups
            .get(1)
            .is_some_and(|second| second.count >= ambiguous_at)
    {
        resolved = Some(-1);
    }
    resolved
}

/// `n_votes`: the number of non-skip votes.
pub fn n_votes(counts: &[VoteCount]) -> i32 {
    let total: i64 = counts
        .iter()
        .filter(|c| c.value != -1)
        .map(|c| c.count.max(0))
        .sum();
    i32::try_from(total).unwrap_or(i32::MAX)
}

/// Counts of a list of vote values (tests and callers holding raw votes).
pub fn tally(values: &[i32]) -> Vec<VoteCount> {
    let mut counts: Vec<VoteCount> = Vec::new();
    for &value in values {
        match counts.iter_mut().find(|c| c.value == value) {
            Some(c) => c.count += 1,
            None => counts.push(VoteCount { value, count: 1 }),
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec api-db §4.1 examples and §8 checks 3–5 (Robotoff's
    /// `test_annotate_insight_not_enough_votes`, `_majority_annotation`,
    /// `_opposite_votes`, `_majority_vote_overridden`).
    #[test]
    fn resolution_examples() {
        let cases: &[(&[i32], Option<i32>, i32)] = &[
            (&[1], None, 1),
            (&[-1], None, 0),
            (&[1, 1, 0, -1, 1], Some(1), 4),
            (&[1, 1, 0, 0], Some(-1), 4),
            (&[1, 1, 0, 0, 0], Some(-1), 5),
            (&[0, 0, 0], Some(0), 3),
            (&[1, 1, -1, -1, -1], None, 2),
            (&[1, 0, 1, 0], Some(-1), 4),
            (&[1, 1, 1, 0], Some(1), 4),
            (&[1, 1, 1, 0, 0], Some(-1), 5),
            (&[], None, 0),
        ];
        for (votes, expected, n) in cases {
            let counts = tally(votes);
            assert_eq!(resolve(&counts), *expected, "votes {votes:?}");
            assert_eq!(n_votes(&counts), *n, "votes {votes:?}");
        }
    }
}
