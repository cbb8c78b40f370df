//! Removal of old temporary directories (`tmp*`) left behind by crashed downloads and
//! tools, as Robotoff's daily `clean_tmp_files` — only those the service made, under its
//! own root in the system temporary directory ([`root`]); other programs' are never
//! touched.

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

/// The service's own temporary root: `<system temp>/robotoff`.
pub fn root() -> std::path::PathBuf {
    std::env::temp_dir().join("robotoff")
}

/// A new scratch directory of the service (`<root>/tmp<pid>-<n>`, the root private to
/// the service's user), removed by [`clean_tmp_files`] once old if nothing else does.
pub fn scratch_dir() -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let root = root();
    std::fs::create_dir_all(&root)?;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))?;
    let dir = root.join(format!(
        "tmp{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

/// The scheduled task: cleans the service's temporary root.
pub async fn clean_tmp_files(max_age_hours: u64) -> Result<String, String> {
    let dir = root();
    if !dir.is_dir() {
        return Ok(format!(
            "{} does not exist: nothing to clean",
            dir.display()
        ));
    }
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
