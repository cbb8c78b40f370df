//! Sending the Product Opener edits an annotation queued (`product_edit`), one at a
//! time, in order, outside any transaction: each is claimed, sent, and marked with the
//! answer, so a plan that stops half-way is resumed from its first unsent edit.

use crate::infra::db::product_edits::{self, QueuedEdit};
use crate::infra::metrics;
use crate::infra::product_opener::{Credentials, PoError, ProductOpener};
use crate::types::{ProductEdit, ServerType};
use serde_json::Value;
use sqlx::PgPool;
use std::str::FromStr;
use uuid::Uuid;

/// How far the queued edits went.
#[derive(Debug)]
pub enum Sending {
    /// Nothing is left to send (refused edits are marked failed and logged).
    AllSent,
    /// Product Opener was unavailable after at least one edit went through: the rest is
    /// sent again later.
    Deferred,
    /// The first edit could not be sent; none went through (inline sending only).
    NothingSent(PoError),
}

/// Who sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Right after the annotation, with the annotator's credentials: a first edit that
    /// fails is reported, so that the annotation can be undone.
    Inline,
    /// Later, by a job, with the service's account (the user's credentials are never
    /// stored): edits name the user in their comment; nothing is undone.
    Resume,
}

/// Sends the queued edits of `insight_id`.
pub async fn send_queued(
    po: &ProductOpener,
    pool: &PgPool,
    insight_id: Uuid,
    creds: &Credentials,
    mode: Mode,
) -> Result<Sending, sqlx::Error> {
    let mut sent_any = product_edits::any_done(pool, insight_id).await?;
    while let Some(queued) = product_edits::claim_next(pool, insight_id).await? {
        let Some((edit, server_type)) = decode(&queued, mode) else {
            product_edits::finish(pool, queued.id, "failed", "unreadable queued edit").await?;
            tracing::error!(insight = %insight_id, seq = queued.seq, "a queued edit could not be read");
            continue;
        };
        match po.apply(&queued.barcode, server_type, &edit, creds).await {
            Ok(()) => {
                product_edits::finish(pool, queued.id, "done", "ok").await?;
                metrics::product_edit("done");
                sent_any = true;
            }
            Err(e) if mode == Mode::Inline && !sent_any => {
                product_edits::finish(pool, queued.id, "pending", &e.to_string()).await?;
                return Ok(Sending::NothingSent(e));
            }
            Err(e) if e.is_retryable() => {
                product_edits::finish(pool, queued.id, "pending", &e.to_string()).await?;
                metrics::product_edit("deferred");
                tracing::warn!(insight = %insight_id, seq = queued.seq, error = %e, "a queued edit is sent again later");
                return Ok(Sending::Deferred);
            }
            Err(e) => {
                product_edits::finish(pool, queued.id, "failed", &e.to_string()).await?;
                metrics::product_edit("failed");
                tracing::error!(insight = %insight_id, seq = queued.seq, error = %e, "Product Opener refused a queued edit");
            }
        }
    }
    Ok(Sending::AllSent)
}

/// The queued edit and its flavor; a resumed edit names its user in its comment.
fn decode(queued: &QueuedEdit, mode: Mode) -> Option<(ProductEdit, ServerType)> {
    let mut edit: ProductEdit = serde_json::from_value(queued.edit.clone()).ok()?;
    let server_type = ServerType::from_str(&queued.server_type).ok()?;
    if let (Mode::Resume, Some(user)) = (mode, queued.username.as_deref()) {
        name_user(&mut edit, user);
    }
    Some((edit, server_type))
}

/// Appends "(annotated by USER)" to the edit's comment.
fn name_user(edit: &mut ProductEdit, user: &str) {
    let suffix = format!(" (annotated by {user})");
    match edit {
        ProductEdit::UpdateFields(fields) => {
            if let Some((_, comment)) = fields.iter_mut().find(|(k, _)| k == "comment") {
                comment.push_str(&suffix);
            }
        }
        ProductEdit::PatchProduct(body) => {
            if let Some(Value::String(comment)) = body.get_mut("comment") {
                comment.push_str(&suffix);
            }
        }
        ProductEdit::SelectImage(select) => select.comment.push_str(&suffix),
        ProductEdit::UnselectImage { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumed_edits_name_their_user() {
        let mut edit = ProductEdit::UpdateFields(vec![
            ("code".into(), "1".into()),
            ("comment".into(), "[robotoff] Adding label".into()),
        ]);
        name_user(&mut edit, "alice");
        assert_eq!(
            edit,
            ProductEdit::UpdateFields(vec![
                ("code".into(), "1".into()),
                (
                    "comment".into(),
                    "[robotoff] Adding label (annotated by alice)".into()
                ),
            ])
        );
        // Queued edits round-trip through their JSON form.
        let json = serde_json::to_value(&edit).unwrap_or_default();
        assert_eq!(serde_json::from_value::<ProductEdit>(json).ok(), Some(edit));
    }
}
