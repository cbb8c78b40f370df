//! The logo vectors: usearch HNSW indexes of L2-normalised 512-d CLIP embeddings
//! (cosine), one per flavor, keyed by logo id and flavor.
//!
//! Logos are only ever compared with logos of their own flavor (spec pipeline §6.4), so
//! each flavor has a graph of its own: a search among the few beauty logos never walks
//! through the food ones, as a filtered search over one shared graph would. A key is
//! `logo_id << 3 | flavor code`, so a logo is found again from its id by trying the six
//! parts. Saving and opening are in [`super::files`].

use crate::types::ServerType;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Dimension of the CLIP logo embeddings.
pub const EMBEDDING_DIM: usize = 512;

/// How the index is built and searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexParams {
    /// Scalar kind of the stored vectors: `f32`, `f16`, `bf16` or `i8`.
    pub quantization: Quantization,
    /// Graph connectivity (HNSW `M`).
    pub connectivity: usize,
    /// Candidates kept while adding (`efConstruction`).
    pub expansion_add: usize,
    /// Candidates kept while searching (`ef`).
    pub expansion_search: usize,
}

/// Scalar kind of the stored vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    F32,
    F16,
    Bf16,
    I8,
}

impl Quantization {
    fn scalar_kind(self) -> ScalarKind {
        match self {
            Quantization::F32 => ScalarKind::F32,
            Quantization::F16 => ScalarKind::F16,
            Quantization::Bf16 => ScalarKind::BF16,
            Quantization::I8 => ScalarKind::I8,
        }
    }

    /// Parses `f32`, `f16`, `bf16` or `i8`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "f32" => Some(Quantization::F32),
            "f16" => Some(Quantization::F16),
            "bf16" => Some(Quantization::Bf16),
            "i8" => Some(Quantization::I8),
            _ => None,
        }
    }
}

impl Default for IndexParams {
    fn default() -> Self {
        IndexParams {
            quantization: Quantization::Bf16,
            connectivity: 32,
            expansion_add: 128,
            expansion_search: 64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("embedding has {0} dimensions, expected {EMBEDDING_DIM}")]
    Dimension(usize),
    #[error("embedding of {0} bytes is not {EMBEDDING_DIM} little-endian f32")]
    Bytes(usize),
    #[error("embedding has a zero or non-finite norm")]
    Norm,
    #[error("logo id {0} cannot be indexed")]
    BadId(i64),
    #[error("index: {0}")]
    Index(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(super) fn index_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Index(e.to_string())
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One search result: a logo and its distance in Robotoff's scale, `(1 − cosine) / 2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    pub logo_id: i64,
    pub distance: f32,
}

/// Parts of the index: one per flavor, then logos without one.
pub(super) const PARTS: usize = 6;
/// Names of the parts (in their files' names).
pub(super) const PART_NAMES: [&str; PARTS] = ["off", "obf", "opff", "opf", "off-pro", "none"];
/// Key code of each part.
const CODES: [u64; PARTS] = [0, 1, 2, 3, 4, 7];

/// The part of a flavor.
fn part_of(server_type: Option<ServerType>) -> usize {
    match server_type {
        Some(ServerType::Off) => 0,
        Some(ServerType::Obf) => 1,
        Some(ServerType::Opff) => 2,
        Some(ServerType::Opf) => 3,
        Some(ServerType::OffPro) => 4,
        None => 5,
    }
}

fn key_of(logo_id: i64, part: usize) -> Result<u64, StoreError> {
    let id = u64::try_from(logo_id).map_err(|_| StoreError::BadId(logo_id))?;
    if id >= 1 << 60 {
        return Err(StoreError::BadId(logo_id));
    }
    Ok(id << 3 | CODES[part])
}

/// The part, key and normalised vector of a logo to add (checked before anything
/// changes).
fn entry(
    logo_id: i64,
    server_type: Option<ServerType>,
    embedding: &[f32],
) -> Result<(usize, u64, Vec<f32>), StoreError> {
    let v = normalised(embedding)?;
    let part = part_of(server_type);
    Ok((part, key_of(logo_id, part)?, v))
}

fn logo_of(key: u64) -> i64 {
    (key >> 3) as i64
}

/// The embedding as unit-length `f32` (Robotoff normalises before indexing).
pub fn normalised(v: &[f32]) -> Result<Vec<f32>, StoreError> {
    if v.len() != EMBEDDING_DIM {
        return Err(StoreError::Dimension(v.len()));
    }
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return Err(StoreError::Norm);
    }
    Ok(v.iter().map(|x| (f64::from(*x) / norm) as f32).collect())
}

/// An embedding stored as little-endian `f32` bytes.
pub fn from_le_bytes(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    if bytes.len() != EMBEDDING_DIM * 4 {
        return Err(StoreError::Bytes(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub(super) fn options(params: &IndexParams) -> IndexOptions {
    IndexOptions {
        dimensions: EMBEDDING_DIM,
        metric: MetricKind::Cos,
        quantization: params.quantization.scalar_kind(),
        connectivity: params.connectivity,
        expansion_add: params.expansion_add,
        expansion_search: params.expansion_search,
        multi: false,
    }
}

/// The logo embeddings, one HNSW graph per flavor.
pub struct LogoVectors {
    parts: Vec<Index>,
    params: IndexParams,
}

impl LogoVectors {
    /// An empty index.
    pub fn new(params: IndexParams) -> Result<Self, StoreError> {
        let parts = (0..PARTS)
            .map(|_| {
                let index = Index::new(&options(&params)).map_err(index_err)?;
                index.reserve(64).map_err(index_err)?;
                Ok(index)
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(LogoVectors { parts, params })
    }

    /// The index of its parts (see [`super::files`]).
    pub(super) fn from_parts(parts: Vec<Index>, params: IndexParams) -> Self {
        LogoVectors { parts, params }
    }

    pub(super) fn parts(&self) -> &[Index] {
        &self.parts
    }

    pub fn params(&self) -> IndexParams {
        self.params
    }

    /// Vectors in the index.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Index::size).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vectors of each flavor (part names as in [`PART_NAMES`]).
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        PART_NAMES
            .iter()
            .zip(&self.parts)
            .map(|(name, p)| (*name, p.size()))
            .collect()
    }

    /// Bytes of memory the index uses.
    pub fn memory_usage(&self) -> usize {
        self.parts.iter().map(Index::memory_usage).sum()
    }

    /// Bytes the saved index takes.
    pub fn serialized_len(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| p.size() > 0)
            .map(Index::serialized_length)
            .sum()
    }

    /// Candidates kept while searching from now on.
    pub fn set_expansion_search(&mut self, ef: usize) {
        for p in &self.parts {
            p.change_expansion_search(ef);
        }
        self.params.expansion_search = ef;
    }

    /// Makes room for `n` more vectors of `server_type`, added from up to `threads`
    /// threads at once. Nothing else may use the index meanwhile.
    pub fn reserve(
        &self,
        server_type: Option<ServerType>,
        n: usize,
        threads: usize,
    ) -> Result<(), StoreError> {
        let part = &self.parts[part_of(server_type)];
        let wanted = part.size() + n;
        let capacity = if wanted > part.capacity() {
            wanted.max(part.capacity() * 2)
        } else {
            part.capacity()
        };
        part.reserve_capacity_and_threads(capacity, threads.max(1))
            .map_err(index_err)
    }

    /// The part and key under which the logo is stored, if it is.
    fn stored_key(&self, logo_id: i64) -> Option<(usize, u64)> {
        let id = u64::try_from(logo_id).ok()?;
        if id >= 1 << 60 {
            return None;
        }
        (0..PARTS)
            .map(|p| (p, id << 3 | CODES[p]))
            .find(|(p, k)| self.parts[*p].contains(*k))
    }

    /// Whether the logo is in the index.
    pub fn contains(&self, logo_id: i64) -> bool {
        self.stored_key(logo_id).is_some()
    }

    /// Adds or replaces a logo's vector, growing its part when full.
    pub fn upsert(
        &self,
        logo_id: i64,
        server_type: Option<ServerType>,
        embedding: &[f32],
    ) -> Result<(), StoreError> {
        let (part, key, v) = entry(logo_id, server_type, embedding)?;
        self.remove(logo_id)?;
        let index = &self.parts[part];
        if index.size() >= index.capacity() {
            let grow = (index.capacity() * 2).max(1024);
            index.reserve(grow).map_err(index_err)?;
        }
        index.add(key, &v).map_err(index_err)
    }

    /// Adds a vector known to be new, from one of the threads reserved (bulk builds;
    /// see [`Self::reserve`]).
    pub fn add_new(
        &self,
        logo_id: i64,
        server_type: Option<ServerType>,
        embedding: &[f32],
    ) -> Result<(), StoreError> {
        let (part, key, v) = entry(logo_id, server_type, embedding)?;
        self.parts[part].add(key, &v).map_err(index_err)
    }

    /// Removes a logo; whether it was there.
    pub fn remove(&self, logo_id: i64) -> Result<bool, StoreError> {
        let mut removed = false;
        while let Some((part, key)) = self.stored_key(logo_id) {
            if self.parts[part].remove(key).map_err(index_err)? == 0 {
                return Err(StoreError::Index(format!("key {key} could not be removed")));
            }
            removed = true;
        }
        Ok(removed)
    }

    /// The `k` nearest logos of `query` (any length-512 vector; normalised here), among
    /// the logos of `server_type` when given (else among all), `exclude` left out.
    /// Nearest first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        server_type: Option<ServerType>,
        exclude: Option<i64>,
    ) -> Result<Vec<Neighbor>, StoreError> {
        let q = normalised(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        // The excluded logo, if present, takes at most one place.
        let wanted = k + usize::from(exclude.is_some());
        let mut found: Vec<Neighbor> = Vec::with_capacity(wanted);
        let parts: Vec<&Index> = match server_type {
            Some(st) => vec![&self.parts[part_of(Some(st))]],
            None => self.parts.iter().collect(),
        };
        for part in parts.into_iter().filter(|p| p.size() > 0) {
            let matches = part.search(&q, wanted).map_err(index_err)?;
            found.extend(
                matches
                    .keys
                    .iter()
                    .zip(matches.distances.iter())
                    .map(|(key, d)| Neighbor {
                        logo_id: logo_of(*key),
                        distance: d / 2.0,
                    })
                    .filter(|n| Some(n.logo_id) != exclude),
            );
        }
        found.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        found.truncate(k);
        Ok(found)
    }

    /// The stored vector of a logo (as stored: normalised, then quantised).
    pub fn vector(&self, logo_id: i64) -> Option<Vec<f32>> {
        let (part, key) = self.stored_key(logo_id)?;
        let mut out = vec![0f32; EMBEDDING_DIM];
        match self.parts[part].get(key, &mut out) {
            Ok(n) if n > 0 => Some(out),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    pub(crate) fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                (0..EMBEDDING_DIM)
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect()
            })
            .collect()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f64 {
        let a = normalised(a).unwrap();
        let b = normalised(b).unwrap();
        a.iter()
            .zip(&b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    pub(crate) fn f32_params() -> IndexParams {
        IndexParams {
            quantization: Quantization::F32,
            expansion_search: 256,
            ..IndexParams::default()
        }
    }

    #[test]
    fn search_equals_brute_force_on_a_small_set() {
        let vs = vectors(300, 1);
        let idx = LogoVectors::new(f32_params()).unwrap();
        for (i, v) in vs.iter().enumerate() {
            let st = if i % 3 == 0 {
                ServerType::Obf
            } else {
                ServerType::Off
            };
            idx.upsert(i as i64 + 1, Some(st), v).unwrap();
        }
        for q in 0..20 {
            let query = &vs[q * 7];
            let found = idx
                .search(query, 10, Some(ServerType::Off), Some(q as i64 * 7 + 1))
                .unwrap();
            let mut truth: Vec<(i64, f64)> = vs
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 3 != 0 && *i != q * 7)
                .map(|(i, v)| (i as i64 + 1, (1.0 - cosine(query, v)) / 2.0))
                .collect();
            truth.sort_by(|a, b| a.1.total_cmp(&b.1));
            let ids: Vec<i64> = found.iter().map(|n| n.logo_id).collect();
            let want: Vec<i64> = truth.iter().take(10).map(|t| t.0).collect();
            assert_eq!(ids, want, "query {q}");
            for (n, t) in found.iter().zip(&truth) {
                assert!((f64::from(n.distance) - t.1).abs() < 1e-5, "{n:?} vs {t:?}");
            }
        }
    }

    #[test]
    fn flavors_filter_and_moves_replace() {
        let vs = vectors(3, 2);
        let idx = LogoVectors::new(f32_params()).unwrap();
        idx.upsert(10, Some(ServerType::Off), &vs[0]).unwrap();
        idx.upsert(11, Some(ServerType::Obf), &vs[1]).unwrap();
        idx.upsert(12, None, &vs[2]).unwrap();
        let only = |st| {
            idx.search(&vs[0], 10, Some(st), None)
                .unwrap()
                .iter()
                .map(|n| n.logo_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(only(ServerType::Off), vec![10]);
        assert_eq!(only(ServerType::Obf), vec![11]);
        assert!(only(ServerType::Opf).is_empty());
        // Moved to another flavor: one vector, under the new flavor.
        idx.upsert(10, Some(ServerType::Obf), &vs[0]).unwrap();
        assert_eq!(idx.len(), 3);
        assert!(only(ServerType::Off).is_empty());
        assert_eq!(only(ServerType::Obf).len(), 2);
        assert!(idx.remove(10).unwrap());
        assert!(!idx.remove(10).unwrap());
        assert!(!idx.contains(10));
        assert_eq!(idx.len(), 2);
        let all = idx.search(&vs[2], 10, None, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].logo_id, 12);
        assert!(all[0].distance.abs() < 1e-6);
    }

    #[test]
    fn bad_vectors_and_ids_are_errors() {
        let idx = LogoVectors::new(f32_params()).unwrap();
        assert!(matches!(
            idx.upsert(1, None, &[1.0; 3]),
            Err(StoreError::Dimension(3))
        ));
        assert!(matches!(
            idx.upsert(1, None, &[0.0; EMBEDDING_DIM]),
            Err(StoreError::Norm)
        ));
        assert!(matches!(
            idx.upsert(1, None, &[f32::NAN; EMBEDDING_DIM]),
            Err(StoreError::Norm)
        ));
        assert!(matches!(
            idx.upsert(-4, None, &[1.0; EMBEDDING_DIM]),
            Err(StoreError::BadId(-4))
        ));
        assert!(idx.search(&[1.0; 7], 3, None, None).is_err());
        assert!(from_le_bytes(&[0u8; 12]).is_err());
        assert!(idx.is_empty());
    }
}
