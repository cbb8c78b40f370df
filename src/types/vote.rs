//! Vote counts of an insight, as the database groups them.

/// Number of non-skip votes for one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteCount {
    pub value: i32,
    pub count: i64,
}
