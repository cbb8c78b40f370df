//! The product dump: downloaded when its ETag changed, checked, moved into place and
//! imported into the product store (spec pipeline §8.4, daily at 15:00 UTC by default).

use super::import::{import, ImportOptions};
use crate::config::Settings;
use crate::infra::downloads::static_client;
use crate::infra::metrics;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Name of the dump in the datasets directory.
pub const DATASET_FILE: &str = "products.jsonl.gz";
/// Name of the file holding the dump's ETag.
pub const ETAG_FILE: &str = "products-etag.txt";

/// Where the dump is, and how it is fetched and checked.
#[derive(Debug, Clone)]
pub struct DatasetSource {
    pub url: String,
    pub dir: PathBuf,
    pub min_products: u64,
}

impl DatasetSource {
    pub fn dataset_path(&self) -> PathBuf {
        self.dir.join(DATASET_FILE)
    }

    pub fn etag_path(&self) -> PathBuf {
        self.dir.join(ETAG_FILE)
    }
}

/// Outcome of a download attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The server's ETag is the stored one: nothing downloaded.
    Unchanged,
    /// A new dump with this many readable products is in place.
    Replaced { products: u64, etag: Option<String> },
}

/// An ETag without its surrounding quotes (and weak marker).
fn clean_etag(raw: &str) -> String {
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

fn etag_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(clean_etag)
        .filter(|e| !e.is_empty())
}

/// True when the stored ETag differs from the server's (or either is unknown, or the
/// dump file is missing).
pub async fn has_changed(client: &reqwest::Client, source: &DatasetSource) -> Result<bool, String> {
    let stored = match tokio::fs::read_to_string(source.etag_path()).await {
        Ok(text) => clean_etag(&text),
        Err(_) => return Ok(true),
    };
    if stored.is_empty() || !source.dataset_path().exists() {
        return Ok(true);
    }
    let head = client
        .head(&source.url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("HEAD {}: {e}", source.url))?;
    Ok(etag_of(&head).is_none_or(|remote| remote != stored))
}

/// Downloads the dump if it changed (spec §8.4): streamed into a file next to the
/// current one, checked (at least `min_products` lines that parse as JSON, no read
/// error), renamed into place, then its ETag saved. On any failure the current dump and
/// ETag stay.
pub async fn download(
    client: &reqwest::Client,
    source: &DatasetSource,
) -> Result<Download, String> {
    if !has_changed(client, source).await? {
        return Ok(Download::Unchanged);
    }
    tokio::fs::create_dir_all(&source.dir)
        .await
        .map_err(|e| format!("creating {}: {e}", source.dir.display()))?;
    let tmp = source.dir.join(format!(".{DATASET_FILE}.download"));
    let result = fetch_and_check(client, source, &tmp).await;
    let (products, etag) = match result {
        Ok(v) => v,
        Err(error) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(error);
        }
    };
    tokio::fs::rename(&tmp, source.dataset_path())
        .await
        .map_err(|e| format!("moving the dump into place: {e}"))?;
    let etag_path = source.etag_path();
    match &etag {
        Some(etag) => {
            let aside = source.dir.join(format!(".{ETAG_FILE}.download"));
            tokio::fs::write(&aside, etag)
                .await
                .map_err(|e| format!("saving the ETag: {e}"))?;
            tokio::fs::rename(&aside, &etag_path)
                .await
                .map_err(|e| format!("saving the ETag: {e}"))?;
        }
        // Without an ETag the next run downloads again.
        None => {
            let _ = tokio::fs::remove_file(&etag_path).await;
        }
    }
    Ok(Download::Replaced { products, etag })
}

async fn fetch_and_check(
    client: &reqwest::Client,
    source: &DatasetSource,
    tmp: &Path,
) -> Result<(u64, Option<String>), String> {
    let url = &source.url;
    // `identity`: the body is stored as sent (the gzip file itself), never decoded.
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT_ENCODING, "identity")
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let etag = etag_of(&response);
    let file = tokio::fs::File::create(tmp)
        .await
        .map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        out.write_all(&chunk)
            .await
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    }
    out.flush()
        .await
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    out.into_inner()
        .sync_all()
        .await
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    let path = tmp.to_path_buf();
    let products = tokio::task::spawn_blocking(move || count_products(&path))
        .await
        .map_err(|e| format!("checking the dump: {e}"))??;
    if products < source.min_products {
        return Err(format!(
            "the downloaded dump has {products} readable product(s), fewer than {}: kept the previous one",
            source.min_products
        ));
    }
    Ok((products, etag))
}

/// Lines of a dump (plain or gzip) that parse as JSON objects; a read error (truncated
/// gzip, I/O) is an error.
pub fn count_products(path: &Path) -> Result<u64, String> {
    let reader = open_dump(path)?;
    let mut count = 0;
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| format!("reading {}: {e}", path.display()))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_ok()
            && line.trim_ascii_start().starts_with(b"{")
        {
            count += 1;
        }
    }
    Ok(count)
}

/// A buffered reader of a dump, gunzipping it when it starts with the gzip magic bytes.
pub fn open_dump(path: &Path) -> Result<Box<dyn BufRead + Send>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let mut buffered = std::io::BufReader::with_capacity(1 << 20, file);
    let gz = buffered
        .fill_buf()
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    })
}

/// Imports the dump at `path` into the product store; returns the import's summary.
pub async fn import_dump(pool: &sqlx::PgPool, path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let options = ImportOptions {
        server_type: None,
        batch_size: 1000,
        writers: 2,
        parsers: 2,
    };
    import(pool, file, &options, &|_| {})
        .await
        .map(|s| s.to_string())
        .map_err(|e| format!("importing {}: {e}", path.display()))
}

/// Downloads the dump if it changed, then refreshes the product store from it. A failed
/// import forgets the ETag, so that the next run tries again.
pub async fn refresh(
    client: &reqwest::Client,
    pool: &sqlx::PgPool,
    source: &DatasetSource,
) -> Result<String, String> {
    match download(client, source).await? {
        Download::Unchanged => Ok("dataset unchanged (same ETag)".to_string()),
        Download::Replaced { products, etag } => {
            metrics::dataset_products(products);
            let imported = match import_dump(pool, &source.dataset_path()).await {
                Ok(summary) => summary,
                Err(error) => {
                    // Without the ETag the next run downloads and imports again.
                    let _ = tokio::fs::remove_file(source.etag_path()).await;
                    return Err(error);
                }
            };
            Ok(format!(
                "new dataset with {products} product(s) (ETag {}): {imported}",
                etag.as_deref().unwrap_or("none")
            ))
        }
    }
}

/// The dump source of the settings, if a dump URL is set.
pub fn source_of(settings: &Settings) -> Option<DatasetSource> {
    let s = &settings.scheduler;
    s.dataset_url().map(|url| DatasetSource {
        url: url.to_string(),
        dir: s.datasets_dir.clone(),
        min_products: s.dataset_min_products,
    })
}

/// The scheduled task: download the configured dump if it changed, then import it.
pub async fn update_dataset(settings: &Settings, pool: &sqlx::PgPool) -> Result<String, String> {
    let source = source_of(settings).ok_or("no dataset URL is set")?;
    refresh(&static_client(settings)?, pool, &source).await
}
