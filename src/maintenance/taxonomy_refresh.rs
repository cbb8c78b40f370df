//! Taxonomy refresh: downloads from Product Opener's static server the taxonomies the
//! service uses when the server has a newer version, and makes the running service use
//! them (Robotoff's `download_taxonomies`, every 2 hours).
//!
//! Every taxonomy holder of the process (the importers' resources, the OCR resources,
//! the HTTP API's question formatting) is a [`crate::taxonomy::Taxonomies`], swapped in
//! place by [`refresh_loaded`]: the cached `Arc`s stay, later readers see the new
//! generation. The other data files (OCR keyword lists, label whitelist, brand lists,
//! translations) are not downloaded here and are read once per process.

use crate::config::Settings;
use crate::infra::downloads::static_client;
use crate::taxonomy::{refresh_loaded, Taxonomy, TaxonomyType};
use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TaxonomyRefresh {
    /// Taxonomies downloaded and swapped in.
    pub refreshed: Vec<TaxonomyType>,
    /// Taxonomies whose local file is as new as the server's.
    pub up_to_date: usize,
    /// Taxonomies that could not be checked or downloaded (kept as they were).
    pub failed: Vec<(TaxonomyType, String)>,
    /// Taxonomy holders of the process that now use the new files.
    pub holders_reloaded: usize,
}

impl std::fmt::Display for TaxonomyRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.refreshed.iter().map(|k| k.name()).collect();
        write!(
            f,
            "{} taxonomie(s) refreshed [{}], {} up to date, {} failed, {} loaded set(s) reloaded",
            self.refreshed.len(),
            names.join(", "),
            self.up_to_date,
            self.failed.len(),
            self.holders_reloaded
        )?;
        for (kind, error) in &self.failed {
            write!(f, "; {kind}: {error}")?;
        }
        Ok(())
    }
}

/// URL of a taxonomy on the static server: `{static_url}/data/taxonomies/<stem>.full.json`.
pub fn taxonomy_url(static_url: &str, kind: TaxonomyType) -> String {
    format!(
        "{}/data/taxonomies/{}.full.json",
        static_url.trim_end_matches('/'),
        kind.file_stem()
    )
}

/// Checks every taxonomy of `data_dir` against `static_url`, downloads those the server
/// has newer (by `Last-Modified` against the local file's modification time), validates
/// and stores them (gzip, written aside then renamed), then reloads them in every loaded
/// taxonomy set of the process reading from `data_dir`. A failure for one taxonomy is
/// reported and leaves its file as it was.
pub async fn refresh(
    client: &reqwest::Client,
    static_url: &str,
    data_dir: &Path,
) -> Result<TaxonomyRefresh, String> {
    let mut outcome = TaxonomyRefresh::default();
    for kind in TaxonomyType::ALL {
        let url = taxonomy_url(static_url, kind);
        let path = kind.path_in(data_dir);
        match refresh_one(client, &url, &path).await {
            Ok(true) => outcome.refreshed.push(kind),
            Ok(false) => outcome.up_to_date += 1,
            Err(error) => {
                tracing::warn!(taxonomy = %kind, %url, %error, "taxonomy refresh failed");
                outcome.failed.push((kind, error));
            }
        }
    }
    if !outcome.refreshed.is_empty() {
        let dir = data_dir.to_path_buf();
        let changed = outcome.refreshed.clone();
        outcome.holders_reloaded =
            tokio::task::spawn_blocking(move || refresh_loaded(&dir, &changed))
                .await
                .map_err(|e| format!("reloading taxonomies: {e}"))?
                .map_err(|e| format!("reloading taxonomies: {e}"))?;
    }
    Ok(outcome)
}

fn modified_of(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn last_modified(response: &reqwest::Response) -> Option<SystemTime> {
    let text = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)?
        .to_str()
        .ok()?;
    DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|t| SystemTime::from(t.with_timezone(&Utc)))
}

/// Downloads one taxonomy when the server's copy is newer; true when the file changed.
async fn refresh_one(client: &reqwest::Client, url: &str, path: &Path) -> Result<bool, String> {
    let local = modified_of(path);
    if let Some(local) = local {
        let head = client
            .head(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("HEAD {url}: {e}"))?;
        // Without Last-Modified the server's version is unknown: download it.
        if let Some(remote) = last_modified(&head) {
            if remote <= local {
                return Ok(false);
            }
        }
    }
    let response = client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let remote = last_modified(&response);
    let dir = path
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", path.display()))?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let tmp = aside(path);
    let written = write_gzipped(response, &tmp, url).await;
    let checked = match written {
        Ok(()) => validate(tmp.clone()).await,
        Err(e) => Err(e),
    };
    if let Err(error) = checked {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(error);
    }
    let stamp = remote.unwrap_or_else(SystemTime::now);
    let set_time = std::fs::File::options()
        .write(true)
        .open(&tmp)
        .and_then(|f| f.set_modified(stamp));
    if let Err(error) = set_time {
        tracing::warn!(path = %tmp.display(), %error, "could not set a taxonomy's modification time");
    }
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| format!("moving {} into place: {e}", tmp.display()))?;
    Ok(true)
}

/// `<dir>/.<name>.download`: the file being written next to its final place.
fn aside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.download"))
}

/// Streams the response body into `tmp`, gzip-compressed.
async fn write_gzipped(
    mut response: reqwest::Response,
    tmp: &Path,
    url: &str,
) -> Result<(), String> {
    let file =
        std::fs::File::create(tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let mut gz = GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        gz.write_all(&chunk)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    }
    gz.finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| format!("writing {}: {e}", tmp.display()))
}

/// The downloaded file must parse as a taxonomy with at least one node.
async fn validate(tmp: PathBuf) -> Result<(), String> {
    tokio::task::spawn_blocking(move || match Taxonomy::from_path(&tmp) {
        Ok(t) if t.is_empty() => Err("the downloaded taxonomy has no node".to_string()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("the downloaded taxonomy is invalid: {e}")),
    })
    .await
    .map_err(|e| format!("validating the download: {e}"))?
}

/// The scheduled task: taxonomies from the OFF static server into the data directory.
pub async fn download_taxonomies(settings: &Settings) -> Result<TaxonomyRefresh, String> {
    let client = static_client(settings)?;
    let outcome = refresh(
        &client,
        &settings.product_opener.off.static_url,
        &settings.data.dir,
    )
    .await?;
    if outcome.failed.len() == TaxonomyType::ALL.len() {
        return Err(outcome.to_string());
    }
    Ok(outcome)
}

/// Another node refreshed the taxonomies named in `announced` (a JSON list of names, or
/// anything else for all of them):
/// this node checks the server too (its data directory may be its own), and reloads
/// from its data directory those the check did not already swap (a data directory
/// shared with that node already holds the new files).
pub async fn reload_announced(
    settings: &Settings,
    announced: &serde_json::Value,
) -> Result<String, String> {
    // No list (changes caught up from PostgreSQL): every taxonomy loaded is read again.
    let named: Vec<TaxonomyType> = announced
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_else(|| TaxonomyType::ALL.to_vec());
    let mut outcome = match download_taxonomies(settings).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(error = %e, "could not check the taxonomies on the server");
            TaxonomyRefresh::default()
        }
    };
    let rest: Vec<TaxonomyType> = named
        .into_iter()
        .filter(|k| !outcome.refreshed.contains(k))
        .collect();
    if !rest.is_empty() {
        let dir = settings.data.dir.clone();
        let changed = rest.clone();
        outcome.holders_reloaded +=
            tokio::task::spawn_blocking(move || refresh_loaded(&dir, &changed))
                .await
                .map_err(|e| format!("reloading taxonomies: {e}"))?
                .map_err(|e| format!("reloading taxonomies: {e}"))?;
        outcome.refreshed.extend(rest);
    }
    Ok(outcome.to_string())
}
