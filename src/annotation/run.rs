//! The annotation operation (spec api-db §4.1), run inside the product's shard:
//!
//! 1. the insight and what its annotator needs (the product, fetched from Product
//!    Opener when the store lacks it; image facts) are read without a lock;
//! 2. one short transaction locks the insight, counts votes, plans the annotation and
//!    records it together with its Product Opener edits (an outbox) and a delayed job
//!    that resumes them should this process stop;
//! 3. the edits are sent after the commit, no lock held, each marked with Product
//!    Opener's answer. If the first one cannot be sent, the annotation is undone (result
//!    10 on an outage, as Robotoff); an edit after one that went through is resumed
//!    later, never sent twice.

use super::annotators::{self, ImageFacts, Needs, Plan, PlanError, Target};
use super::edits::{self, Sending};
use super::request::{AnnotateRequest, Caller, RequestError};
use super::status::{AnnotateOutcome, AnnotationStatus};
use super::votes;
use crate::config::Settings;
use crate::infra::db::annotations::{self, InsightReadError};
use crate::infra::db::{jobs, product_edits, products, votes as vote_rows};
use crate::infra::metrics;
use crate::infra::product_opener::{Credentials, PoError, ProductOpener};
use crate::jobs::{JobKind, NewJob, Priority};
use crate::types::{Insight, Product, ProductId};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// What annotating needs: the database, Product Opener, and the settings of the
/// insight refresh that follows.
#[derive(Clone)]
pub struct AnnotateContext {
    pub pool: PgPool,
    pub po: ProductOpener,
    pub settings: Arc<Settings>,
}

/// An annotation that could not be carried out; nothing of it was kept.
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

/// How the locked step ended.
enum Step {
    /// Committed; answer this, and refresh the product's insights when `refresh`.
    Done {
        outcome: AnnotateOutcome,
        refresh: bool,
    },
    /// Committed with edits queued: send them, then answer `outcome`.
    Send {
        outcome: AnnotateOutcome,
        creds: Credentials,
    },
}

/// Annotates one insight. Result 10 (nothing kept) when Product Opener is unavailable
/// for the annotation's first edit; an error (nothing kept) when it refuses it or the
/// insight cannot be applied.
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
    let insight = match annotations::read_insight(&ctx.pool, id).await {
        Ok(Some(insight)) => insight,
        Ok(None) => {
            return Ok(done(AnnotateOutcome::of(
                AnnotationStatus::ErrorUnknownInsight,
            )))
        }
        Err(e) => return Err(read_error(id, e)),
    };
    if insight.annotation.is_some() {
        return Ok(done(AnnotateOutcome::of(
            AnnotationStatus::ErrorAlreadyAnnotated,
        )));
    }
    // What the annotator reads, fetched before any lock (Product Opener may be slow).
    let loaded = if req.update && matches!(req.annotation, 1 | 2) {
        let needs = annotators::needs(insight.kind, !req.is_trusted())
            .ok_or(PlanError::NoAnnotator(insight.kind))?;
        match load(ctx, &insight, needs).await {
            Ok(loaded) => Some(loaded),
            Err(Load::Retry(e)) => {
                tracing::warn!(insight = %id, error = %e, "Product Opener unavailable; annotation not made");
                metrics::product_opener_failure(e.kind());
                return Ok(done(AnnotateOutcome::of(
                    AnnotationStatus::ErrorFailedUpdate,
                )));
            }
            Err(Load::Failed(e)) => {
                metrics::annotation("error");
                return Err(e);
            }
        }
    } else {
        None
    };
    let req_voter = Voter::of(&req);
    let mut tx = ctx.pool.begin().await.map_err(db)?;
    if ctx.settings.cluster.enabled {
        // The product's shard may be owned by another node: its jobs and this
        // annotation take turns on the product's cluster-wide lock.
        crate::infra::db::fence::lock_product(&mut tx, &insight.barcode)
            .await
            .map_err(db)?;
    }
    let locked = match annotations::lock_insight(&mut tx, id).await {
        Ok(Some(insight)) => insight,
        Ok(None) => {
            return Ok(done(AnnotateOutcome::of(
                AnnotationStatus::ErrorUnknownInsight,
            )))
        }
        Err(e) => return Err(read_error(id, e)),
    };
    if locked.annotation.is_some() {
        return Ok(done(AnnotateOutcome::of(
            AnnotationStatus::ErrorAlreadyAnnotated,
        )));
    }
    let step = match decide(ctx, &mut tx, &locked, &req, loaded.as_ref()).await {
        Ok(step) => step,
        Err(error) => {
            drop(tx);
            metrics::annotation("error");
            return Err(error);
        }
    };
    tx.commit().await.map_err(db)?;
    let product = ProductId::new(locked.barcode.clone(), locked.server_type);
    let missing_on_po = loaded.as_ref().is_some_and(|l| l.missing_on_po);
    match step {
        Step::Done { outcome, refresh } => {
            if refresh {
                refresh_after(ctx, id, &product, missing_on_po).await;
            }
            Ok(done(outcome))
        }
        Step::Send { outcome, creds } => {
            match edits::send_queued(&ctx.po, &ctx.pool, id, &creds, edits::Mode::Inline).await {
                Ok(Sending::AllSent) | Ok(Sending::Deferred) => {
                    refresh_after(ctx, id, &product, missing_on_po).await;
                    Ok(done(outcome))
                }
                Ok(Sending::NothingSent(error)) => {
                    undo(ctx, &req_voter, id).await?;
                    metrics::product_opener_failure(error.kind());
                    if error.is_retryable() {
                        tracing::warn!(insight = %id, %error, "Product Opener unavailable; annotation undone");
                        Ok(done(AnnotateOutcome::of(
                            AnnotationStatus::ErrorFailedUpdate,
                        )))
                    } else {
                        metrics::annotation("error");
                        Err(AnnotateError::ProductOpener {
                            insight_id: id,
                            source: error,
                        })
                    }
                }
                Err(e) => Err(db(e)),
            }
        }
    }
}

fn read_error(id: Uuid, e: InsightReadError) -> AnnotateError {
    match e {
        InsightReadError::Db(source) => AnnotateError::Db {
            insight_id: id,
            source,
        },
        e @ InsightReadError::UnknownType { .. } => AnnotateError::BadRow {
            insight_id: id,
            detail: e.to_string(),
        },
    }
}

fn done(outcome: AnnotateOutcome) -> AnnotateOutcome {
    metrics::annotation(outcome.status.name());
    outcome
}

/// The product's insights recomputed after an annotation; a failure is logged.
async fn refresh_after(ctx: &AnnotateContext, id: Uuid, product: &ProductId, missing_on_po: bool) {
    if let Err(error) =
        super::refresh::refresh(&ctx.pool, &ctx.po, &ctx.settings, product, missing_on_po).await
    {
        tracing::error!(insight = %id, %product, %error, "refreshing insights after an annotation failed");
    }
}

/// The vote a request recorded, to take back with its annotation.
struct Voter {
    username: Option<String>,
    device_id: String,
    voted: bool,
}

impl Voter {
    fn of(req: &AnnotateRequest) -> Voter {
        Voter {
            username: req.username(),
            device_id: req.device_id.clone(),
            voted: !req.is_trusted() || req.annotation == -1,
        }
    }
}

/// Nothing of the plan reached Product Opener: the annotation and the vote that decided
/// it are taken back (the voter can send it again) and its queued edits dropped.
async fn undo(ctx: &AnnotateContext, voter: &Voter, id: Uuid) -> Result<(), AnnotateError> {
    let db = |source| AnnotateError::Db {
        insight_id: id,
        source,
    };
    let mut tx = ctx.pool.begin().await.map_err(db)?;
    annotations::lock_insight(&mut tx, id)
        .await
        .map_err(|e| read_error(id, e))?;
    if let Some(before) = product_edits::insight_before(&mut tx, id)
        .await
        .map_err(db)?
    {
        annotations::undo_annotation(&mut tx, id, &before)
            .await
            .map_err(db)?;
    }
    product_edits::forget(&mut tx, id).await.map_err(db)?;
    if voter.voted {
        vote_rows::delete_vote(&mut tx, id, voter.username.as_deref(), &voter.device_id)
            .await
            .map_err(db)?;
        let counts = vote_rows::counts(&mut tx, id).await.map_err(db)?;
        annotations::set_n_votes(&mut tx, id, votes::n_votes(&counts))
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// Votes, then the annotator; everything written through `tx`.
async fn decide(
    ctx: &AnnotateContext,
    tx: &mut PgConnection,
    insight: &Insight,
    req: &AnnotateRequest,
    loaded: Option<&Loaded>,
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
        let client = if trusted {
            None
        } else {
            req.client_key.as_deref()
        };
        vote_rows::record_vote(
            tx,
            id,
            username.as_deref(),
            req.annotation,
            &req.device_id,
            client,
        )
        .await
        .map_err(db)?;
        let counts = vote_rows::counts(tx, id).await.map_err(db)?;
        annotations::set_n_votes(tx, id, votes::n_votes(&counts))
            .await
            .map_err(db)?;
        let settled = votes::resolve_with(&counts, ctx.settings.annotation.votes_to_apply);
        match settled {
            Some(value) if trusted || ctx.settings.annotation.anonymous_votes_apply => {
                annotation = value
            }
            _ => {
                return Ok(Step::Done {
                    outcome: AnnotateOutcome::of(AnnotationStatus::VoteSaved),
                    refresh: false,
                })
            }
        }
    }
    apply(ctx, tx, insight, req, annotation, !trusted, loaded).await
}

/// Records the annotation and, when it changes the product, queues the type's edits
/// (Robotoff's `annotate`).
async fn apply(
    ctx: &AnnotateContext,
    tx: &mut PgConnection,
    insight: &Insight,
    req: &AnnotateRequest,
    annotation: i32,
    is_vote: bool,
    loaded: Option<&Loaded>,
) -> Result<Step, AnnotateError> {
    let id = insight.id;
    let db = |source| AnnotateError::Db {
        insight_id: id,
        source,
    };
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
        return Ok(Step::Done {
            outcome: AnnotateOutcome::invalid_data(text),
            refresh: true,
        });
    }
    let applies = matches!(annotation, 1 | 2) && req.update;
    let plan = match (applies, loaded) {
        (true, Some(loaded)) => {
            let target = Target {
                insight,
                product: loaded.product.as_ref(),
                data,
                is_vote,
                automatic: !matches!(req.caller, Caller::User(_) | Caller::Delegated(_)),
                facts: &loaded.facts,
            };
            Some(annotators::plan(&target)?)
        }
        _ => None,
    };
    if let Some(p) = &plan {
        if p.status == AnnotationStatus::CannotVote {
            // The insight stays open for an authenticated user; the vote stays.
            return Ok(Step::Done {
                outcome: AnnotateOutcome::of(p.status),
                refresh: true,
            });
        }
    }
    let before = json!({
        "data": insight.data,
        "value_tag": insight.value_tag,
        "value": insight.value,
    });
    annotations::record_annotation(&mut *tx, id, req.username().as_deref(), annotation)
        .await
        .map_err(db)?;
    let Some(plan) = plan else {
        let status = AnnotationStatus::Saved;
        annotations::set_annotated_result(&mut *tx, id, status.code())
            .await
            .map_err(db)?;
        return Ok(Step::Done {
            outcome: AnnotateOutcome::of(status),
            refresh: true,
        });
    };
    let Plan {
        status,
        edits,
        change,
    } = plan;
    if let Some(change) = &change {
        annotations::save_change(
            &mut *tx,
            id,
            &change.data,
            change.value_tag.as_deref(),
            change.value.as_deref(),
        )
        .await
        .map_err(db)?;
    }
    if status.is_recorded() {
        annotations::set_annotated_result(&mut *tx, id, status.code())
            .await
            .map_err(db)?;
    }
    if edits.is_empty() {
        return Ok(Step::Done {
            outcome: AnnotateOutcome::of(status),
            refresh: true,
        });
    }
    let queued: Vec<serde_json::Value> = edits
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .collect();
    product_edits::queue(
        &mut *tx,
        id,
        &insight.barcode,
        insight.server_type,
        &queued,
        &before,
        req.username().as_deref(),
    )
    .await
    .map_err(db)?;
    // Resumes the edits should this process stop before Product Opener answers them.
    let w = &ctx.settings.workers;
    let resume = NewJob::new(JobKind::SendProductEdits, Priority::High)
        .for_product(insight.barcode.as_str(), insight.server_type)
        .payload(json!({"insight_id": id}))
        .dedupe(format!("edits:{id}"))
        .delay(Duration::from_secs(
            ctx.settings.annotation.edit_resume_secs,
        ));
    jobs::enqueue(&mut *tx, &resume, w.shards, w.max_attempts)
        .await
        .map_err(db)?;
    Ok(Step::Send {
        outcome: AnnotateOutcome::of(status),
        creds: credentials(&req.caller),
    })
}

/// The account edits are made with: the user's, else Robotoff's.
fn credentials(caller: &Caller) -> Credentials {
    match caller {
        Caller::User(auth) => auth.credentials.clone(),
        Caller::Anonymous | Caller::Robotoff | Caller::Delegated(_) => Credentials::Robotoff,
    }
}

struct Loaded {
    product: Option<Product>,
    /// Product Opener was asked for the product and said it does not have it.
    missing_on_po: bool,
    facts: ImageFacts,
}

enum Load {
    Retry(PoError),
    Failed(AnnotateError),
}

/// Reads what the annotator needs, outside any transaction. A product missing from the
/// store is fetched from Product Opener (and stored) before being reported missing.
async fn load(ctx: &AnnotateContext, insight: &Insight, needs: Needs) -> Result<Loaded, Load> {
    let mut conn = ctx.pool.acquire().await.map_err(|source| {
        Load::Failed(AnnotateError::Db {
            insight_id: insight.id,
            source,
        })
    })?;
    let conn: &mut PgConnection = &mut conn;
    let id = insight.id;
    let db = |source| {
        Load::Failed(AnnotateError::Db {
            insight_id: id,
            source,
        })
    };
    let mut product = None;
    let mut missing_on_po = false;
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
                Ok(None) => missing_on_po = true,
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
    Ok(Loaded {
        product,
        missing_on_po,
        facts,
    })
}
