//! The insight query engine shared by `/insights*` and `/questions*` (spec api-db §0.4):
//! one typed filter turned into one SELECT on `product_insight`, with orderings,
//! capped counts, value-tag groups, and an index-friendly random order.
//!
//! Random order: Robotoff sorts the whole filtered table by `random() * (n_votes + 1)`,
//! a full scan and sort (18 s on the production table). Insight ids are random UUIDs,
//! so a window of ids starting at a random UUID is a uniform random sample that an
//! index range scan reads without sorting. The engine reads such a window of all
//! matching insights, and a second window of the (few) matching insights that already
//! have votes, then ranks that pool with Robotoff's own weight `U · (n_votes + 1)`: an
//! insight with votes keeps the same advantage over one without, while every query
//! reads at most a few times `limit` rows.

use super::rows::InsightRow;
use crate::types::ServerType;
use rand::Rng;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// Whose votes hide insights from listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteExclusion {
    Username(String),
    Device(String),
}

/// Result orderings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsightOrder {
    /// Weighted towards insights with votes; the offset is ignored.
    Random,
    /// Most scanned products first.
    Popularity,
    /// Highest confidence first, unknown confidence last.
    Confidence,
    /// Most voted first.
    NVotes,
}

/// AND-ed filters; `None` means no condition.
#[derive(Debug, Clone)]
pub struct InsightFilter {
    pub server_type: ServerType,
    /// `Some(false)`: not annotated; `Some(true)`: annotated.
    pub annotated: Option<bool>,
    pub annotation: Option<i32>,
    pub automatic_processing: Option<bool>,
    pub barcode: Option<String>,
    pub value_tag: Option<String>,
    /// An empty list matches nothing.
    pub types: Option<Vec<String>>,
    /// Country tags; any matches.
    pub countries: Option<Vec<String>>,
    /// Any matches.
    pub brands: Option<Vec<String>>,
    pub reserved_barcode: Option<bool>,
    /// All must be present.
    pub campaigns: Option<Vec<String>>,
    pub predictor: Option<String>,
    /// Any overlap.
    pub lc: Option<Vec<String>>,
    pub with_image: Option<bool>,
    pub exclude_voted: Option<VoteExclusion>,
}

impl InsightFilter {
    /// Robotoff's engine defaults: not annotated, nothing else.
    pub fn new(server_type: ServerType) -> Self {
        InsightFilter {
            server_type,
            annotated: Some(false),
            annotation: None,
            automatic_processing: None,
            barcode: None,
            value_tag: None,
            types: None,
            countries: None,
            brands: None,
            reserved_barcode: None,
            campaigns: None,
            predictor: None,
            lc: None,
            with_image: None,
            exclude_voted: None,
        }
    }

    /// The open questions filter: not annotated, not automatically processable.
    pub fn questions(server_type: ServerType) -> Self {
        let mut f = Self::new(server_type);
        f.automatic_processing = Some(false);
        f
    }

    /// Appends ` WHERE ...` for this filter.
    fn push_where(&self, q: &mut QueryBuilder<Postgres>) {
        q.push(" WHERE server_type = ");
        q.push_bind(self.server_type.name());
        match self.annotated {
            Some(true) => {
                q.push(" AND annotation IS NOT NULL");
            }
            Some(false) => {
                q.push(" AND annotation IS NULL");
            }
            None => {}
        }
        if let Some(a) = self.annotation {
            q.push(" AND annotation = ").push_bind(a);
        }
        if let Some(a) = self.automatic_processing {
            // Literal, so that partial indexes on open questions apply.
            q.push(if a {
                " AND automatic_processing = true"
            } else {
                " AND automatic_processing = false"
            });
        }
        if let Some(b) = &self.barcode {
            q.push(" AND barcode = ").push_bind(b.clone());
        }
        if let Some(v) = &self.value_tag {
            q.push(" AND value_tag = ").push_bind(v.clone());
        }
        if let Some(types) = &self.types {
            q.push(" AND type = ANY(")
                .push_bind(types.clone())
                .push(")");
        }
        if let Some(c) = &self.countries {
            q.push(" AND countries ?| ").push_bind(c.clone());
        }
        if let Some(b) = &self.brands {
            q.push(" AND brands ?| ").push_bind(b.clone());
        }
        if let Some(r) = self.reserved_barcode {
            q.push(" AND reserved_barcode = ").push_bind(r);
        }
        if let Some(c) = &self.campaigns {
            q.push(" AND campaign ?& ").push_bind(c.clone());
        }
        if let Some(p) = &self.predictor {
            q.push(" AND predictor = ").push_bind(p.clone());
        }
        if let Some(lc) = &self.lc {
            q.push(" AND lc && ")
                .push_bind(lc.clone())
                .push("::varchar[]");
        }
        if let Some(w) = self.with_image {
            q.push(" AND with_image = ").push_bind(w);
        }
        match &self.exclude_voted {
            Some(VoteExclusion::Device(d)) => {
                q.push(" AND id NOT IN (SELECT insight_id FROM annotation_vote WHERE device_id = ")
                    .push_bind(d.clone())
                    .push(")");
            }
            Some(VoteExclusion::Username(u)) => {
                q.push(" AND id NOT IN (SELECT insight_id FROM annotation_vote WHERE username = ")
                    .push_bind(u.clone())
                    .push(")");
            }
            None => {}
        }
    }
}

/// The columns of an insight, in Robotoff's order.
pub const INSIGHT_COLUMNS: &str = "id, barcode, type, data, timestamp, completed_at, annotation, \
    annotated_result, n_votes, username, countries, brands, process_after, value_tag, value, \
    source_image, automatic_processing, server_type, unique_scans_n, reserved_barcode, predictor, \
    predictor_version, campaign, confidence, bounding_box, lc, with_image";

fn select(filter: &InsightFilter) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new(format!("SELECT {INSIGHT_COLUMNS} FROM product_insight"));
    filter.push_where(&mut q);
    q
}

/// Insights matching `filter` in `order`; `limit: None` = all.
pub async fn list(
    pool: &PgPool,
    filter: &InsightFilter,
    order: Option<InsightOrder>,
    limit: Option<i64>,
    offset: i64,
) -> Result<Vec<InsightRow>, sqlx::Error> {
    if filter.types.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    if order == Some(InsightOrder::Random) {
        return random(pool, filter, limit.unwrap_or(25)).await;
    }
    let mut q = select(filter);
    match order {
        Some(InsightOrder::Popularity) => {
            q.push(" ORDER BY unique_scans_n DESC, id");
        }
        Some(InsightOrder::Confidence) => {
            q.push(" ORDER BY confidence DESC NULLS LAST, id");
        }
        Some(InsightOrder::NVotes) => {
            q.push(" ORDER BY n_votes DESC, id");
        }
        Some(InsightOrder::Random) | None => {}
    }
    if let Some(limit) = limit {
        q.push(" LIMIT ").push_bind(limit);
    }
    if offset > 0 {
        q.push(" OFFSET ").push_bind(offset);
    }
    q.build_query_as::<InsightRow>().fetch_all(pool).await
}

/// Rows of `filter` (plus `extra`) in id order from `pivot`, wrapping around.
async fn window(
    pool: &PgPool,
    filter: &InsightFilter,
    extra: &str,
    pivot: Uuid,
    n: i64,
) -> Result<Vec<InsightRow>, sqlx::Error> {
    let mut q = select(filter);
    q.push(extra);
    q.push(" AND id >= ").push_bind(pivot);
    q.push(" ORDER BY id LIMIT ").push_bind(n);
    let mut rows = q.build_query_as::<InsightRow>().fetch_all(pool).await?;
    let missing = n - rows.len() as i64;
    if missing > 0 {
        let mut q = select(filter);
        q.push(extra);
        q.push(" AND id < ").push_bind(pivot);
        q.push(" ORDER BY id LIMIT ").push_bind(missing);
        rows.extend(q.build_query_as::<InsightRow>().fetch_all(pool).await?);
    }
    Ok(rows)
}

/// Random candidates of `filter`: a window of up to `n` matching insights from a random
/// id, plus a window of up to `n` of those with votes; unranked.
pub async fn random_candidates(
    pool: &PgPool,
    filter: &InsightFilter,
    n: i64,
) -> Result<Vec<InsightRow>, sqlx::Error> {
    if n <= 0 || filter.types.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let (p1, p2) = {
        let mut rng = rand::rng();
        (
            Uuid::from_u128(rng.random::<u128>()),
            Uuid::from_u128(rng.random::<u128>()),
        )
    };
    let mut candidates = window(pool, filter, "", p1, n).await?;
    let voted = window(pool, filter, " AND n_votes > 0", p2, n).await?;
    for row in voted {
        if !candidates.iter().any(|c| c.id == row.id) {
            candidates.push(row);
        }
    }
    Ok(candidates)
}

async fn random(
    pool: &PgPool,
    filter: &InsightFilter,
    limit: i64,
) -> Result<Vec<InsightRow>, sqlx::Error> {
    let limit = limit.max(0);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let (p1, p2) = {
        let mut rng = rand::rng();
        (
            Uuid::from_u128(rng.random::<u128>()),
            Uuid::from_u128(rng.random::<u128>()),
        )
    };
    // A window of `limit` from a random id, and one of insights with votes: at most
    // 2 × `limit` rows, drawn from by Robotoff's vote weight.
    let mut candidates = window(pool, filter, "", p1, limit).await?;
    let voted = window(pool, filter, " AND n_votes > 0", p2, limit).await?;
    for row in voted {
        if !candidates.iter().any(|c| c.id == row.id) {
            candidates.push(row);
        }
    }
    let mut rng = rand::rng();
    let mut scored: Vec<(f64, InsightRow)> = candidates
        .into_iter()
        .map(|r| {
            let weight = f64::from(r.n_votes.max(0)) + 1.0;
            (rng.random::<f64>() * weight, r)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(scored
        .into_iter()
        .take(limit as usize)
        .map(|(_, r)| r)
        .collect())
}

/// Number of insights matching `filter`, at most `cap` when given.
pub async fn count(
    pool: &PgPool,
    filter: &InsightFilter,
    cap: Option<i64>,
) -> Result<i64, sqlx::Error> {
    if filter.types.as_ref().is_some_and(Vec::is_empty) {
        return Ok(0);
    }
    let mut q = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM product_insight");
    filter.push_where(&mut q);
    if let Some(cap) = cap {
        q.push(" LIMIT ").push_bind(cap);
    }
    q.push(") AS matching");
    q.build_query_scalar::<i64>().fetch_one(pool).await
}

/// `(value_tag, number of insights)` groups, largest first.
pub async fn group_by_value_tag(
    pool: &PgPool,
    filter: &InsightFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<(Option<String>, i64)>, sqlx::Error> {
    if filter.types.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::new("SELECT value_tag, count(id) AS n FROM product_insight");
    filter.push_where(&mut q);
    q.push(" GROUP BY value_tag ORDER BY n DESC, value_tag LIMIT ")
        .push_bind(limit);
    if offset > 0 {
        q.push(" OFFSET ").push_bind(offset);
    }
    q.build_query_as::<(Option<String>, i64)>()
        .fetch_all(pool)
        .await
}
