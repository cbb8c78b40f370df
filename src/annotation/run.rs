//! The annotation operation (spec api-db §4.1): reads the insight under a row lock,
//! counts votes, runs the type's annotator and sends its edits to Product Opener, all
//! in one transaction — a Product Opener outage rolls everything back (result 10).
//! This is the module's only part that does I/O; run it inside the product's shard.

use super::annotators::{self, ImageFacts, Needs, PlanError, Target};
use super::request::{AnnotateRequest, Caller, RequestError};
use super::status::{AnnotateOutcome, AnnotationStatus};
use super::votes;
use crate::config::Settings;
use crate::infra::db::annotations::{self, InsightReadError};
use crate::infra::db::{products, votes as vote_rows};
use crate::infra::metrics;
use crate::infra::product_opener::{Credentials, PoError, ProductOpener};
use crate::types::{Insight, Product, ProductId};
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use uuid::Uuid;

/// What annotating needs: the database, Product Opener, and the settings of the
/// insight refresh that follows.
#[derive(Clone)]
pub struct AnnotateContext {
    pub pool: PgPool,
    pub po: ProductOpener,
    pub settings: Arc<Settings>,
}

/// An annotation that could not be carried out; nothing of it was saved.
#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    #[error(transparent)]
    InvalidRequest(#[from] RequestError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("annotating insight {insight_id}: {source}")]
    ProductOpener {
        insight_id: Uuid,
        #[source]
        source: PoError,
    },
    #[error("annotating insight {insight_id}: database error: {source}")]
    Db {
        insight_id: Uuid,
        #[source]
        source: sqlx::Error,
    },
    #[error("annotating insight {insight_id}: {detail}")]
    BadRow { insight_id: Uuid, detail: String },
}

/// How the annotation step ended, before the transaction is closed.
enum Step {
    /// Commit, answer this, and refresh the product's insights when `refresh`.
    Commit {
        outcome: AnnotateOutcome,
        refresh: bool,
    },
    /// Product Opener is down or slow: roll everything back, answer 10.
    Retry(PoError),
}

/// Annotates one insight. Returns result 10 (nothing saved) when Product Opener is
/// unavailable; errors (nothing saved) when it refuses the edit or the insight cannot
/// be applied.
pub async fn annotate(
    ctx: &AnnotateContext,
    req: AnnotateRequest,
) -> Result<AnnotateOutcome, AnnotateError> {
    req.validate()?;
    let id = req.insight_id;
    let db = |source| AnnotateError::Db {
        insight_id: id,
        source,
    };
    let mut tx = ctx.pool.begin().await.map_err(db)?;
    let insight = match annotations::lock_insight(&mut tx, id).await {
        Ok(Some(insight)) => insight,
        Ok(None) => {
            return Ok(done(AnnotateOutcome::of(
                AnnotationStatus::ErrorUnknownInsight,
            )))
        }
        Err(InsightReadError::Db(e)) => return Err(db(e)),
        Err(e @ InsightReadError::UnknownType { .. }) => {
            return Err(AnnotateError::BadRow {
                insight_id: id,
                detail: e.to_string(),
            })
        }
    };
    if insight.annotation.is_some() {
        return Ok(done(AnnotateOutcome::of(
            AnnotationStatus::ErrorAlreadyAnnotated,
        )));
    }
    let step = decide(ctx, &mut tx, &insight, &req).await;
    match step {
        Ok(Step::Commit { outcome, refresh }) => {
            tx.commit().await.map_err(db)?;
            if refresh {
                let product = ProductId::new(insight.barcode.clone(), insight.server_type);
                if let Err(error) =
                    super::refresh::refresh(&ctx.pool, &ctx.settings, &product).await
                {
                    tracing::error!(insight = %id, %product, %error, "refreshing insights after an annotation failed");
                }
            }
            Ok(done(outcome))
        }
        Ok(Step::Retry(error)) => {
            tx.rollback().await.map_err(db)?;
            tracing::warn!(insight = %id, %error, "Product Opener unavailable; annotation rolled back");
            metrics::product_opener_failure(error.kind());
            Ok(done(AnnotateOutcome::of(
                AnnotationStatus::ErrorFailedUpdate,
            )))
        }
        Err(error) => {
            // Dropping the transaction rolls it back.
            drop(tx);
            if let AnnotateError::ProductOpener { source, .. } = &error {
                metrics::product_opener_failure(source.kind());
            }
            metrics::annotation("error");
            Err(error)
        }
    }
}

fn done(outcome: AnnotateOutcome) -> AnnotateOutcome {
    metrics::annotation(outcome.status.name());
    outcome
}

/// Votes, then the annotator; everything written through `tx`.
async fn decide(
    ctx: &AnnotateContext,
    tx: &mut PgConnection,
    insight: &Insight,
    req: &AnnotateRequest,
) -> Result<Step, AnnotateError> {
    let id = insight.id;
    let db = |source| AnnotateError::Db {
        insight_id: id,
        source,
    };
    let trusted = req.is_trusted();
    let mut annotation = req.annotation;
    if !trusted || req.annotation == -1 {
        let username = req.username();
        vote_rows::record_vote(tx, id, username.as_deref(), req.annotation, &req.device_id)
            .await
            .map_err(db)?;
        let counts = vote_rows::counts(tx, id).await.map_err(db)?;
        annotations::set_n_votes(tx, id, votes::n_votes(&counts))
            .await
            .map_err(db)?;
        match votes::resolve(&counts) {
            Some(value) => annotation = value,
            None => {
                return Ok(Step::Commit {
                    outcome: AnnotateOutcome::of(AnnotationStatus::VoteSaved),
                    refresh: false,
                })
            }
        }
    }
    apply(ctx, tx, insight, req, annotation, !trusted).await
}

/// Saves the annotation and runs the type's annotator (Robotoff's `annotate`).
async fn apply(
    ctx: &AnnotateContext,
    tx: &mut PgConnection,
    insight: &Insight,
    req: &AnnotateRequest,
    annotation: i32,
    is_vote: bool,
) -> Result<Step, AnnotateError> {
    let id = insight.id;
    let db = |source| AnnotateError::Db {
        insight_id: id,
        source,
    };
    let needs =
        annotators::needs(insight.kind, is_vote).ok_or(PlanError::NoAnnotator(insight.kind))?;
    let data = req.data.as_ref();
    let invalid = match (data, annotation) {
        (None, 2) => Some("data must be provided if annotation is 2".to_string()),
        (Some(_), a) if a != 2 => Some("data can only be provided if annotation is 2".to_string()),
        (Some(d), _) => annotators::validate_data(insight.kind, d)
            .err()
            .map(|e| e.to_string()),
        (None, _) => None,
    };
    if let Some(text) = invalid {
        return Ok(Step::Commit {
            outcome: AnnotateOutcome::invalid_data(text),
            refresh: true,
        });
    }
    // Votes and n_votes stay whatever happens to the annotation itself.
    let mut saved = sqlx::Connection::begin(&mut *tx).await.map_err(db)?;
    annotations::record_annotation(&mut saved, id, req.username().as_deref(), annotation)
        .await
        .map_err(db)?;
    let status = if matches!(annotation, 1 | 2) && req.update {
        let automatic = !matches!(req.caller, Caller::User(_));
        let loaded = match load(ctx, &mut saved, insight, needs).await {
            Ok(loaded) => loaded,
            Err(Load::Retry(e)) => return Ok(Step::Retry(e)),
            Err(Load::Failed(e)) => return Err(e),
        };
        let target = Target {
            insight,
            product: loaded.product.as_ref(),
            data,
            is_vote,
            automatic,
            facts: &loaded.facts,
        };
        let plan = annotators::plan(&target)?;
        if plan.status == AnnotationStatus::CannotVote {
            // The insight stays open for an authenticated user.
            saved.rollback().await.map_err(db)?;
            return Ok(Step::Commit {
                outcome: AnnotateOutcome::of(plan.status),
                refresh: true,
            });
        }
        if let Some(change) = &plan.change {
            annotations::save_change(
                &mut saved,
                id,
                &change.data,
                change.value_tag.as_deref(),
                change.value.as_deref(),
            )
            .await
            .map_err(db)?;
        }
        let creds = credentials(&req.caller);
        for edit in &plan.edits {
            if let Err(e) = ctx
                .po
                .apply(&insight.barcode, insight.server_type, edit, &creds)
                .await
            {
                if e.is_retryable() {
                    return Ok(Step::Retry(e));
                }
                return Err(AnnotateError::ProductOpener {
                    insight_id: id,
                    source: e,
                });
            }
        }
        plan.status
    } else {
        AnnotationStatus::Saved
    };
    if status.is_recorded() {
        annotations::set_annotated_result(&mut saved, id, status.code())
            .await
            .map_err(db)?;
    }
    saved.commit().await.map_err(db)?;
    Ok(Step::Commit {
        outcome: AnnotateOutcome::of(status),
        refresh: true,
    })
}

/// The account edits are made with: the user's, else Robotoff's.
fn credentials(caller: &Caller) -> Credentials {
    match caller {
        Caller::User(auth) => match (&auth.session_cookie, &auth.username) {
            (Some(cookie), _) if !cookie.is_empty() => Credentials::Session(cookie.clone()),
            (_, Some(user)) => Credentials::Password {
                user_id: user.clone(),
                password: auth.password.clone().unwrap_or_default(),
            },
            _ => Credentials::Session(String::new()),
        },
        Caller::Anonymous | Caller::Robotoff => Credentials::Robotoff,
    }
}

struct Loaded {
    product: Option<Product>,
    facts: ImageFacts,
}

enum Load {
    Retry(PoError),
    Failed(AnnotateError),
}

/// Reads what the annotator needs. A product missing from the store is fetched from
/// Product Opener (and stored) before being reported missing.
async fn load(
    ctx: &AnnotateContext,
    conn: &mut PgConnection,
    insight: &Insight,
    needs: Needs,
) -> Result<Loaded, Load> {
    let id = insight.id;
    let db = |source| {
        Load::Failed(AnnotateError::Db {
            insight_id: id,
            source,
        })
    };
    let mut product = None;
    if needs.product {
        product = products::get(conn, &insight.barcode, insight.server_type)
            .await
            .map_err(db)?;
        if product.is_none() {
            match ctx
                .po
                .get_product(&insight.barcode, insight.server_type)
                .await
            {
                Ok(Some(fetched)) => {
                    products::upsert_many(&mut *conn, std::slice::from_ref(&fetched))
                        .await
                        .map_err(db)?;
                    product = Some(fetched);
                }
                Ok(None) => {}
                Err(e) if e.is_retryable() => return Err(Load::Retry(e)),
                Err(e) => {
                    return Err(Load::Failed(AnnotateError::ProductOpener {
                        insight_id: id,
                        source: e,
                    }))
                }
            }
        }
    }
    let mut facts = ImageFacts::default();
    if needs.image_facts {
        if let Some(source) = insight.source_image.as_deref() {
            facts.rotation = annotations::image_rotation(conn, source, insight.server_type)
                .await
                .map_err(db)?;
            facts.nutrition_tables =
                annotations::nutrition_table_objects(conn, source, insight.server_type)
                    .await
                    .map_err(db)?;
        }
    }
    Ok(Loaded { product, facts })
}
