//! Saving and opening the logo index: under the index directory, one usearch file per
//! flavor that has logos (`logos-<flavor>-<save>.usearch`) and `manifest.json`
//! ([`Manifest`]: the PostgreSQL horizon the index is in sync with, its parameters, and
//! the name, length, CRC-32 and size of each file).
//!
//! Each save writes files of new names, syncs them and the directory, then replaces the
//! manifest (written to a temporary file, synced, renamed, directory synced), and only
//! then removes the files of the previous save. A crash at any point leaves a manifest
//! whose files are all there and intact, which catching up brings forward (re-reading a
//! logo is idempotent). A missing, unreadable or mismatched set is reported as such,
//! never trusted.

use super::store::{
    index_err, io_err, options, IndexParams, LogoVectors, StoreError, EMBEDDING_DIM, PARTS,
    PART_NAMES,
};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use usearch::Index;

/// File of the manifest, under the index directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const MANIFEST_FORMAT: u32 = 2;

/// The file of a flavor's part in the save `save`, under the index directory.
fn part_file(name: &str, save: i64) -> String {
    format!("logos-{name}-{save}.usearch")
}

/// Whether `file` is a file of the flavor `name` (of any save).
fn is_part_file(file: &str, name: &str) -> bool {
    file.strip_prefix(&format!("logos-{name}-"))
        .and_then(|rest| rest.strip_suffix(".usearch"))
        .is_some_and(|save| save.parse::<i64>().is_ok())
}

/// What a saved index covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// PostgreSQL horizon the index is in sync with (see `infra::db::logo_index`).
    pub horizon: i64,
    /// Changes at or above the horizon the index already holds, as `[seq, xid]`
    /// (committed while an older transaction held the horizon back).
    #[serde(default)]
    pub applied: Vec<(i64, i64)>,
    /// Vectors in the index.
    pub vectors: usize,
    pub dimensions: usize,
    pub params: IndexParams,
    /// The files of the flavors that have logos.
    pub files: Vec<SavedPart>,
    /// When it was saved (RFC 3339, UTC).
    pub saved_at: String,
}

impl Manifest {
    /// Bytes of the index files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }
}

/// One flavor's file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPart {
    pub flavor: String,
    pub file: String,
    pub vectors: usize,
    pub len: u64,
    pub crc32: u32,
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

/// Saves `vectors` and their manifest under `dir`, atomically (see the module).
pub fn save(
    vectors: &LogoVectors,
    dir: &Path,
    horizon: i64,
    applied: &[(i64, i64)],
) -> Result<Manifest, StoreError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let save_id = chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let mut files = Vec::new();
    for (name, part) in PART_NAMES.iter().zip(vectors.parts()) {
        if part.size() == 0 {
            continue;
        }
        let file = part_file(name, save_id);
        let final_path = dir.join(&file);
        let tmp = dir.join(format!("{file}.tmp"));
        let tmp_str = tmp
            .to_str()
            .ok_or_else(|| StoreError::Index(format!("{} is not UTF-8", tmp.display())))?;
        part.save(tmp_str).map_err(index_err)?;
        let (len, crc32) = checksum(&tmp)?;
        sync_file(&tmp)?;
        std::fs::rename(&tmp, &final_path).map_err(io_err(&final_path))?;
        files.push(SavedPart {
            flavor: name.to_string(),
            file,
            vectors: part.size(),
            len,
            crc32,
        });
    }
    sync_dir(dir)?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        horizon,
        applied: applied.to_vec(),
        vectors: vectors.len(),
        dimensions: EMBEDDING_DIM,
        params: vectors.params(),
        files,
        saved_at: chrono::Utc::now().to_rfc3339(),
    };
    let final_manifest = dir.join(MANIFEST_FILE);
    let tmp_manifest = dir.join(format!("{MANIFEST_FILE}.tmp"));
    {
        let mut f = File::create(&tmp_manifest).map_err(io_err(&tmp_manifest))?;
        let body =
            serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Index(e.to_string()))?;
        f.write_all(&body).map_err(io_err(&tmp_manifest))?;
        f.sync_all().map_err(io_err(&tmp_manifest))?;
    }
    std::fs::rename(&tmp_manifest, &final_manifest).map_err(io_err(&final_manifest))?;
    sync_dir(dir)?;
    // The files of earlier saves (and of flavors that no longer have logos).
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = PART_NAMES.iter().any(|p| is_part_file(&name, p))
                || name.ends_with(".usearch.tmp")
                || name == "logos.usearch";
            if ours && !manifest.files.iter().any(|f| f.file == name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(manifest)
}

/// Opens the index saved under `dir` if its manifest vouches for every file and it was
/// built with `params`' quantization and connectivity (the expansions are applied).
pub fn open(dir: &Path, params: IndexParams) -> Result<(LogoVectors, Manifest), OpenError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let body = match std::fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenError::Missing),
        Err(e) => return Err(io_err(&manifest_path)(e).into()),
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
    let params = IndexParams {
        expansion_search: params.expansion_search,
        expansion_add: params.expansion_add,
        ..manifest.params
    };
    let mut parts = Vec::with_capacity(PARTS);
    for name in PART_NAMES {
        let index = Index::new(&options(&params)).map_err(index_err)?;
        match manifest.files.iter().find(|f| f.flavor == name) {
            Some(saved) => load_part(dir, saved, &index)?,
            None => index.reserve(64).map_err(index_err)?,
        }
        index.change_expansion_search(params.expansion_search);
        index.change_expansion_add(params.expansion_add);
        parts.push(index);
    }
    let vectors = LogoVectors::from_parts(parts, params);
    if vectors.len() != manifest.vectors {
        return Err(OpenError::Mismatch(format!(
            "{} vectors, manifest says {}",
            vectors.len(),
            manifest.vectors
        )));
    }
    Ok((vectors, manifest))
}

/// Checks a flavor's file against the manifest, then loads it into `index`.
fn load_part(dir: &Path, saved: &SavedPart, index: &Index) -> Result<(), OpenError> {
    if !is_part_file(&saved.file, &saved.flavor) {
        return Err(OpenError::Mismatch(format!(
            "unexpected file {:?}",
            saved.file
        )));
    }
    let path = dir.join(&saved.file);
    let (len, crc) = match checksum(&path) {
        Ok(c) => c,
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(OpenError::Missing)
        }
        Err(e) => return Err(e.into()),
    };
    if (len, crc) != (saved.len, saved.crc32) {
        return Err(OpenError::Mismatch(format!(
            "{} of {len} bytes with CRC {crc:08x}, manifest says {} bytes with {:08x}",
            saved.file, saved.len, saved.crc32
        )));
    }
    let path_str = path
        .to_str()
        .ok_or_else(|| OpenError::Mismatch("path is not UTF-8".into()))?;
    index
        .load(path_str)
        .map_err(|e| OpenError::Mismatch(format!("unreadable {}: {e}", saved.file)))?;
    if index.size() != saved.vectors || index.dimensions() != EMBEDDING_DIM {
        return Err(OpenError::Mismatch(format!(
            "{}: {} vectors of {} dimensions, manifest says {}",
            saved.file,
            index.size(),
            index.dimensions(),
            saved.vectors
        )));
    }
    Ok(())
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
    use crate::ann::store::tests::{f32_params, vectors};
    use crate::ann::store::Quantization;
    use crate::types::ServerType;

    #[test]
    fn saved_index_reopens_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let vs = vectors(50, 3);
        let idx = LogoVectors::new(f32_params()).unwrap();
        for (i, v) in vs.iter().enumerate() {
            idx.upsert(i as i64 + 100, Some(ServerType::Off), v)
                .unwrap();
        }
        let m = save(&idx, dir.path(), 4242, &[]).unwrap();
        assert_eq!((m.horizon, m.vectors), (4242, 50));
        let (back, manifest) = open(dir.path(), f32_params()).unwrap();
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
            open(dir.path(), other),
            Err(OpenError::OtherParams)
        ));

        // One byte flipped in the middle of the file.
        assert_eq!(m.files.len(), 1);
        let path = dir.path().join(&m.files[0].file);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            open(dir.path(), f32_params()),
            Err(OpenError::Mismatch(_))
        ));
        // Truncated.
        std::fs::write(&path, &bytes[..100]).unwrap();
        assert!(matches!(
            open(dir.path(), f32_params()),
            Err(OpenError::Mismatch(_))
        ));
        // Garbage manifest; then none at all.
        std::fs::write(dir.path().join(MANIFEST_FILE), b"{not json").unwrap();
        assert!(matches!(
            open(dir.path(), f32_params()),
            Err(OpenError::Mismatch(_))
        ));
        std::fs::remove_file(dir.path().join(MANIFEST_FILE)).unwrap();
        assert!(matches!(
            open(dir.path(), f32_params()),
            Err(OpenError::Missing)
        ));
    }

    #[test]
    fn each_flavor_saved_apart_and_earlier_saves_removed() {
        let dir = tempfile::tempdir().unwrap();
        let vs = vectors(40, 4);
        let idx = LogoVectors::new(f32_params()).unwrap();
        for (i, v) in vs.iter().enumerate() {
            let st = if i < 30 {
                Some(ServerType::Off)
            } else {
                Some(ServerType::Opf)
            };
            idx.upsert(i as i64 + 1, st, v).unwrap();
        }
        let first = save(&idx, dir.path(), 1, &[]).unwrap();
        let flavors: Vec<(&str, usize)> = first
            .files
            .iter()
            .map(|f| (f.flavor.as_str(), f.vectors))
            .collect();
        assert_eq!(flavors, vec![("off", 30), ("opf", 10)]);
        // The beauty logos leave: their file goes with the next save, and so do the
        // files of the first save.
        for i in 30..40 {
            idx.remove(i + 1).unwrap();
        }
        let second = save(&idx, dir.path(), 2, &[]).unwrap();
        assert_eq!(second.files.len(), 1);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![second.files[0].file.clone(), "manifest.json".to_string()]
        );
        let (back, _) = open(dir.path(), f32_params()).unwrap();
        assert_eq!(back.len(), 30);
        assert!(back
            .search(&vs[35], 5, Some(ServerType::Opf), None)
            .unwrap()
            .is_empty());
        let all = back.search(&vs[3], 1, None, None).unwrap();
        assert_eq!(all[0].logo_id, 4);
    }
}
