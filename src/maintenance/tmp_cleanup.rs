//! Removal of old temporary directories (`tmp*`) left behind by crashed downloads and
//! tools, as Robotoff's daily `clean_tmp_files`.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// What a cleanup did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TmpCleanup {
    pub removed: usize,
    pub failed: usize,
}

/// Removes the directories of `dir` whose name starts with `tmp` and whose modification
/// time is more than `max_age` before `now`. Files, symbolic links and other names are
/// left alone. Only a failure to list `dir` is an error; a directory that cannot be
/// removed is logged and counted.
pub fn remove_old_tmp_dirs(
    dir: &Path,
    max_age: Duration,
    now: SystemTime,
) -> Result<TmpCleanup, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    let mut outcome = TmpCleanup::default();
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with("tmp") {
            continue;
        }
        // `DirEntry::file_type` does not follow symbolic links.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let old = now.duration_since(modified).is_ok_and(|age| age > max_age);
        if !old {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_dir_all(&path) {
            Ok(()) => outcome.removed += 1,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not remove a temporary directory");
                outcome.failed += 1;
            }
        }
    }
    Ok(outcome)
}

/// The scheduled task: cleans the system temporary directory.
pub async fn clean_tmp_files(max_age_hours: u64) -> Result<String, String> {
    let dir = std::env::temp_dir();
    let max_age = Duration::from_secs(max_age_hours.saturating_mul(3600));
    let shown = dir.display().to_string();
    let outcome =
        tokio::task::spawn_blocking(move || remove_old_tmp_dirs(&dir, max_age, SystemTime::now()))
            .await
            .map_err(|e| format!("cleaning {shown}: {e}"))??;
    Ok(format!(
        "{} old tmp* dir(s) removed from {shown}, {} could not be removed",
        outcome.removed, outcome.failed
    ))
}
