//! Edit comments sent to Product Opener with every change (spec api-db §4.2).

use uuid::Uuid;

/// `[robotoff] <action>[, ID: <insight>]`, then ` (applied after 3 anonymous votes)`
/// for a change decided by votes, else ` (automated edit)` when no user is behind it.
pub fn edit_comment(
    action: &str,
    is_vote: bool,
    is_automatic: bool,
    insight_id: Option<Uuid>,
) -> String {
    let mut comment = format!("[robotoff] {action}");
    if let Some(id) = insight_id {
        comment.push_str(&format!(", ID: {id}"));
    }
    if is_vote {
        comment.push_str(" (applied after 3 anonymous votes)");
    } else if is_automatic {
        comment.push_str(" (automated edit)");
    }
    comment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments() {
        let id = Uuid::parse_str("94371643-c2bc-4291-a585-af2cb1a5270a").ok();
        let cases = [
            (
                "Adding category 'en:Salmons'",
                false,
                true,
                id,
                "[robotoff] Adding category 'en:Salmons', ID: 94371643-c2bc-4291-a585-af2cb1a5270a (automated edit)",
            ),
            (
                "Adding label tag 'en:organic'",
                true,
                true,
                id,
                "[robotoff] Adding label tag 'en:organic', ID: 94371643-c2bc-4291-a585-af2cb1a5270a (applied after 3 anonymous votes)",
            ),
            (
                "Adding store 'Lidl'",
                false,
                false,
                id,
                "[robotoff] Adding store 'Lidl', ID: 94371643-c2bc-4291-a585-af2cb1a5270a",
            ),
            (
                "Selecting image 2 as nutrition_fr",
                false,
                true,
                None,
                "[robotoff] Selecting image 2 as nutrition_fr (automated edit)",
            ),
        ];
        for (action, vote, automatic, insight, expected) in cases {
            assert_eq!(edit_comment(action, vote, automatic, insight), expected);
        }
    }
}
