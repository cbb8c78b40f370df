//! The logo vectors: a usearch HNSW index of L2-normalised 512-d CLIP embeddings (cosine),
//! keyed by logo id and flavor, saved atomically with a manifest of what it covers.
//!
//! A key is `logo_id << 3 | flavor code`, so a search filtered on a flavor tests the key
//! alone (no side table to save or keep in step), and a logo is found again from its id
//! by trying the six codes.
//!
//! Files under the index directory: `logos.usearch` (usearch's own format) and
//! `manifest.json` ([`Manifest`]: the PostgreSQL horizon the index is in sync with, its
//! size, its options and a CRC-32 of the index file). Each is written to a temporary file,
//! synced, renamed over the old one, and the directory synced; the index first, then the
//! manifest. A crash between the two leaves a newer index with an older manifest, which
//! catching up corrects (re-reading a logo is idempotent). A missing, unreadable or
//! mismatched pair is reported as such, never trusted.

use crate::types::ServerType;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Dimension of the CLIP logo embeddings.
pub const EMBEDDING_DIM: usize = 512;
/// File of the index, under the index directory.
pub const INDEX_FILE: &str = "logos.usearch";
/// File of the manifest, under the index directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const MANIFEST_FORMAT: u32 = 1;
/// Flavor code of a logo without a server type.
const NO_FLAVOR: u64 = 7;

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
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 128,
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

fn index_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Index(e.to_string())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a saved index covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// PostgreSQL horizon the index is in sync with (see `infra::db::logo_index`).
    pub horizon: i64,
    /// Vectors in the index.
    pub vectors: usize,
    pub dimensions: usize,
    pub params: IndexParams,
    /// Length and CRC-32 of the index file.
    pub file_len: u64,
    pub file_crc32: u32,
    /// When it was saved (RFC 3339, UTC).
    pub saved_at: String,
}

/// Why a saved index was not opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no saved index")]
    Missing,
    #[error("the saved index does not match its manifest: {0}")]
    Mismatch(String),
    #[error("the saved index was built with other parameters")]
    OtherParams,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One search result: a logo and its distance in Robotoff's scale, `(1 − cosine) / 2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    pub logo_id: i64,
    pub distance: f32,
}

/// The index of logo embeddings.
pub struct LogoVectors {
    index: Index,
    params: IndexParams,
}

/// The code of a flavor in the keys.
fn flavor_code(server_type: Option<ServerType>) -> u64 {
    match server_type {
        Some(ServerType::Off) => 0,
        Some(ServerType::Obf) => 1,
        Some(ServerType::Opff) => 2,
        Some(ServerType::Opf) => 3,
        Some(ServerType::OffPro) => 4,
        None => NO_FLAVOR,
    }
}

const ALL_CODES: [u64; 6] = [0, 1, 2, 3, 4, NO_FLAVOR];

fn key_of(logo_id: i64, server_type: Option<ServerType>) -> Result<u64, StoreError> {
    let id = u64::try_from(logo_id).map_err(|_| StoreError::BadId(logo_id))?;
    if id >= 1 << 60 {
        return Err(StoreError::BadId(logo_id));
    }
    Ok(id << 3 | flavor_code(server_type))
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

fn options(params: &IndexParams) -> IndexOptions {
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

impl LogoVectors {
    /// An empty index.
    pub fn new(params: IndexParams) -> Result<Self, StoreError> {
        let index = Index::new(&options(&params)).map_err(index_err)?;
        index.reserve(1024).map_err(index_err)?;
        Ok(LogoVectors { index, params })
    }

    pub fn params(&self) -> IndexParams {
        self.params
    }

    /// Vectors in the index.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the index uses.
    pub fn memory_usage(&self) -> usize {
        self.index.memory_usage()
    }

    /// Bytes the saved index takes.
    pub fn serialized_len(&self) -> usize {
        self.index.serialized_length()
    }

    /// Candidates kept while searching from now on.
    pub fn set_expansion_search(&mut self, ef: usize) {
        self.index.change_expansion_search(ef);
        self.params.expansion_search = ef;
    }

    /// Makes room for `n` vectors, added from up to `threads` threads.
    pub fn reserve(&self, n: usize, threads: usize) -> Result<(), StoreError> {
        self.index
            .reserve_capacity_and_threads(n, threads.max(1))
            .map_err(index_err)
    }

    /// The key under which the logo is stored, if it is.
    fn stored_key(&self, logo_id: i64) -> Option<u64> {
        let id = u64::try_from(logo_id).ok()?;
        if id >= 1 << 60 {
            return None;
        }
        ALL_CODES
            .iter()
            .map(|c| id << 3 | c)
            .find(|k| self.index.contains(*k))
    }

    /// Whether the logo is in the index.
    pub fn contains(&self, logo_id: i64) -> bool {
        self.stored_key(logo_id).is_some()
    }

    /// Adds or replaces a logo's vector. Needs room (see [`Self::reserve`]); grows the
    /// index when full.
    pub fn upsert(
        &self,
        logo_id: i64,
        server_type: Option<ServerType>,
        embedding: &[f32],
    ) -> Result<(), StoreError> {
        let v = normalised(embedding)?;
        let key = key_of(logo_id, server_type)?;
        self.remove(logo_id)?;
        if self.index.size() >= self.index.capacity() {
            let grow = (self.index.capacity() * 2).max(1024);
            self.index.reserve(grow).map_err(index_err)?;
        }
        self.index.add(key, &v).map_err(index_err)
    }

    /// Adds a vector known to be new, from one of the threads reserved (bulk builds).
    pub fn add_new(
        &self,
        logo_id: i64,
        server_type: Option<ServerType>,
        embedding: &[f32],
    ) -> Result<(), StoreError> {
        let v = normalised(embedding)?;
        let key = key_of(logo_id, server_type)?;
        self.index.add(key, &v).map_err(index_err)
    }

    /// Removes a logo; whether it was there.
    pub fn remove(&self, logo_id: i64) -> Result<bool, StoreError> {
        let mut removed = false;
        while let Some(key) = self.stored_key(logo_id) {
            if self.index.remove(key).map_err(index_err)? == 0 {
                return Err(StoreError::Index(format!("key {key} could not be removed")));
            }
            removed = true;
        }
        Ok(removed)
    }

    /// The `k` nearest logos of `query` (any length-512 vector; normalised here), among
    /// the logos of `server_type` when given, `exclude` left out. Nearest first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        server_type: Option<ServerType>,
        exclude: Option<i64>,
    ) -> Result<Vec<Neighbor>, StoreError> {
        let q = normalised(query)?;
        if k == 0 || self.index.size() == 0 {
            return Ok(Vec::new());
        }
        let code = server_type.map(|s| flavor_code(Some(s)));
        let excluded = exclude.and_then(|id| u64::try_from(id).ok());
        let keep = |key: u64| {
            code.is_none_or(|c| key & 7 == c) && excluded.is_none_or(|id| key >> 3 != id)
        };
        let matches = if code.is_none() && excluded.is_none() {
            self.index.search(&q, k)
        } else {
            self.index.filtered_search(&q, k, keep)
        }
        .map_err(index_err)?;
        Ok(matches
            .keys
            .iter()
            .zip(matches.distances.iter())
            .filter(|(key, _)| keep(**key))
            .map(|(key, d)| Neighbor {
                logo_id: logo_of(*key),
                distance: d / 2.0,
            })
            .collect())
    }

    /// The stored vector of a logo (as stored: normalised, then quantised).
    pub fn vector(&self, logo_id: i64) -> Option<Vec<f32>> {
        let key = self.stored_key(logo_id)?;
        let mut out = vec![0f32; EMBEDDING_DIM];
        match self.index.get(key, &mut out) {
            Ok(n) if n > 0 => Some(out),
            _ => None,
        }
    }

    /// Saves the index and its manifest under `dir`, atomically (see the module).
    pub fn save(&self, dir: &Path, horizon: i64) -> Result<Manifest, StoreError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let final_index = dir.join(INDEX_FILE);
        let tmp_index = dir.join(format!("{INDEX_FILE}.tmp"));
        let tmp_str = tmp_index
            .to_str()
            .ok_or_else(|| StoreError::Index(format!("{} is not UTF-8", tmp_index.display())))?;
        self.index.save(tmp_str).map_err(index_err)?;
        let (file_len, file_crc32) = checksum(&tmp_index)?;
        sync_file(&tmp_index)?;
        std::fs::rename(&tmp_index, &final_index).map_err(io_err(&final_index))?;
        sync_dir(dir)?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            horizon,
            vectors: self.len(),
            dimensions: EMBEDDING_DIM,
            params: self.params,
            file_len,
            file_crc32,
            saved_at: chrono::Utc::now().to_rfc3339(),
        };
        let final_manifest = dir.join(MANIFEST_FILE);
        let tmp_manifest = dir.join(format!("{MANIFEST_FILE}.tmp"));
        {
            let mut f = File::create(&tmp_manifest).map_err(io_err(&tmp_manifest))?;
            let body = serde_json::to_vec_pretty(&manifest)
                .map_err(|e| StoreError::Index(e.to_string()))?;
            f.write_all(&body).map_err(io_err(&tmp_manifest))?;
            f.sync_all().map_err(io_err(&tmp_manifest))?;
        }
        std::fs::rename(&tmp_manifest, &final_manifest).map_err(io_err(&final_manifest))?;
        sync_dir(dir)?;
        Ok(manifest)
    }

    /// Opens the index saved under `dir` if its manifest vouches for it and it was built
    /// with `params`' quantization and connectivity (`expansion_search` is applied).
    pub fn open(dir: &Path, params: IndexParams) -> Result<(Self, Manifest), OpenError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let index_path = dir.join(INDEX_FILE);
        let body = match std::fs::read(&manifest_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenError::Missing),
            Err(e) => {
                return Err(StoreError::Io {
                    path: manifest_path,
                    source: e,
                }
                .into())
            }
        };
        let manifest: Manifest = serde_json::from_slice(&body)
            .map_err(|e| OpenError::Mismatch(format!("unreadable manifest: {e}")))?;
        if manifest.format != MANIFEST_FORMAT || manifest.dimensions != EMBEDDING_DIM {
            return Err(OpenError::Mismatch("manifest of another format".into()));
        }
        if manifest.params.quantization != params.quantization
            || manifest.params.connectivity != params.connectivity
        {
            return Err(OpenError::OtherParams);
        }
        let (len, crc) = match checksum(&index_path) {
            Ok(c) => c,
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(OpenError::Missing)
            }
            Err(e) => return Err(e.into()),
        };
        if (len, crc) != (manifest.file_len, manifest.file_crc32) {
            return Err(OpenError::Mismatch(format!(
                "index file of {len} bytes with CRC {crc:08x}, manifest says {} bytes with {:08x}",
                manifest.file_len, manifest.file_crc32
            )));
        }
        let path = index_path
            .to_str()
            .ok_or_else(|| OpenError::Mismatch("path is not UTF-8".into()))?;
        let index = Index::new(&options(&params)).map_err(index_err)?;
        index
            .load(path)
            .map_err(|e| OpenError::Mismatch(format!("unreadable index: {e}")))?;
        if index.size() != manifest.vectors || index.dimensions() != EMBEDDING_DIM {
            return Err(OpenError::Mismatch(format!(
                "{} vectors of {} dimensions, manifest says {}",
                index.size(),
                index.dimensions(),
                manifest.vectors
            )));
        }
        index.change_expansion_search(params.expansion_search);
        index.change_expansion_add(params.expansion_add);
        Ok((
            LogoVectors {
                index,
                params: IndexParams {
                    expansion_search: params.expansion_search,
                    expansion_add: params.expansion_add,
                    ..manifest.params
                },
            },
            manifest,
        ))
    }
}

fn checksum(path: &Path) -> Result<(u64, u32), StoreError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hasher.finalize()))
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
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

    fn f32_params() -> IndexParams {
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

    #[test]
    fn saved_index_reopens_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let vs = vectors(50, 3);
        let idx = LogoVectors::new(f32_params()).unwrap();
        for (i, v) in vs.iter().enumerate() {
            idx.upsert(i as i64 + 100, Some(ServerType::Off), v)
                .unwrap();
        }
        let m = idx.save(dir.path(), 4242).unwrap();
        assert_eq!((m.horizon, m.vectors), (4242, 50));
        let (back, manifest) = LogoVectors::open(dir.path(), f32_params()).unwrap();
        assert_eq!(manifest, m);
        assert_eq!(back.len(), 50);
        let a = idx.search(&vs[5], 5, Some(ServerType::Off), None).unwrap();
        let b = back.search(&vs[5], 5, Some(ServerType::Off), None).unwrap();
        assert_eq!(a, b);

        // Other parameters: not opened.
        let other = IndexParams {
            quantization: Quantization::I8,
            ..f32_params()
        };
        assert!(matches!(
            LogoVectors::open(dir.path(), other),
            Err(OpenError::OtherParams)
        ));

        // One byte flipped in the middle of the file.
        let path = dir.path().join(INDEX_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            LogoVectors::open(dir.path(), f32_params()),
            Err(OpenError::Mismatch(_))
        ));
        // Truncated.
        std::fs::write(&path, &bytes[..100]).unwrap();
        assert!(matches!(
            LogoVectors::open(dir.path(), f32_params()),
            Err(OpenError::Mismatch(_))
        ));
        // Garbage manifest; then none at all.
        std::fs::write(dir.path().join(MANIFEST_FILE), b"{not json").unwrap();
        assert!(matches!(
            LogoVectors::open(dir.path(), f32_params()),
            Err(OpenError::Mismatch(_))
        ));
        std::fs::remove_file(dir.path().join(MANIFEST_FILE)).unwrap();
        assert!(matches!(
            LogoVectors::open(dir.path(), f32_params()),
            Err(OpenError::Missing)
        ));
    }
}
