//! Reading the files of the data directory: whole (gunzipped when their name ends in
//! `.gz`) or as lines, and the error every loader reports.

use std::io::Read;
use std::path::Path;

/// A data file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("reading {path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}

impl ResourceError {
    pub fn io(path: &Path, err: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.display().to_string(),
            message: err.to_string(),
        }
    }

    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// Reads a whole data file, gunzipping it when its name ends in `.gz`.
pub fn read_text(path: &Path) -> Result<String, ResourceError> {
    let bytes = std::fs::read(path).map_err(|e| ResourceError::io(path, e))?;
    let bytes = if path.to_string_lossy().ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| ResourceError::io(path, e))?;
        out
    } else {
        bytes
    };
    String::from_utf8(bytes).map_err(|e| ResourceError::format(path, format!("not UTF-8: {e}")))
}

/// Splits on `\n`, `\r\n` and `\r` (Python's universal newlines).
pub fn universal_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\n', '\r']) {
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
            Some(i) => {
                let line = rest.get(..i).unwrap_or("");
                let skip = if rest.get(i..).is_some_and(|r| r.starts_with("\r\n")) {
                    2
                } else {
                    1
                };
                rest = rest.get(i + skip..).unwrap_or("");
                Some(line)
            }
        }
    })
}

/// Non-empty lines of a data file, without `//` comment lines.
pub fn read_lines(path: &Path) -> Result<Vec<String>, ResourceError> {
    let text = read_text(path)?;
    Ok(universal_lines(&text)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_newlines_split_like_python() {
        let lines: Vec<&str> = universal_lines("a\r\nb\rc\n\nd").collect();
        assert_eq!(lines, vec!["a", "b", "c", "", "d"]);
    }
}
