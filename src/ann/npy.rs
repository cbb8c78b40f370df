//! Reading NumPy `.npy` files of two-dimensional little-endian `f32` or `i64` arrays in C
//! order (what `robotoff ann bench` takes: base vectors, queries, exact neighbours).

use std::io::Read;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a NumPy .npy file ({detail})")]
    Format { path: String, detail: String },
}

/// A two-dimensional array: `rows × cols` values, row after row.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<T>,
}

impl<T> Matrix<T> {
    /// Row `i` (panics past the end, like slice indexing; callers iterate `0..rows`).
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

fn format_err(path: &Path, detail: impl Into<String>) -> NpyError {
    NpyError::Format {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

fn read_header(path: &Path, r: &mut impl Read) -> Result<Header, NpyError> {
    let io = |source| NpyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(io)?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(format_err(path, "bad magic"));
    }
    let len = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).map_err(io)?;
            usize::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(io)?;
            u32::from_le_bytes(b) as usize
        }
        v => return Err(format_err(path, format!("version {v}"))),
    };
    if len > 1 << 20 {
        return Err(format_err(path, "header too long"));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text).map_err(io)?;
    let text = String::from_utf8_lossy(&text).to_string();
    let field = |name: &str| -> Option<String> {
        let at = text.find(&format!("'{name}'"))?;
        let rest = text[at + name.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        Some(rest.to_string())
    };
    let descr = field("descr")
        .and_then(|v| {
            v.strip_prefix('\'')
                .and_then(|v| v.split('\'').next().map(str::to_string))
        })
        .ok_or_else(|| format_err(path, "no descr"))?;
    let fortran = field("fortran_order")
        .map(|v| v.starts_with("True"))
        .ok_or_else(|| format_err(path, "no fortran_order"))?;
    let shape_text = field("shape")
        .and_then(|v| {
            v.strip_prefix('(')
                .and_then(|v| v.split(')').next().map(str::to_string))
        })
        .ok_or_else(|| format_err(path, "no shape"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format_err(path, format!("shape ({shape_text})")))?;
    Ok(Header {
        descr,
        fortran,
        shape,
    })
}

fn read_matrix<T, const N: usize>(
    path: &Path,
    want: &str,
    decode: fn([u8; N]) -> T,
) -> Result<Matrix<T>, NpyError> {
    let io = |source| NpyError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let h = read_header(path, &mut r)?;
    if h.descr != want {
        return Err(format_err(
            path,
            format!("dtype {} (expected {want})", h.descr),
        ));
    }
    if h.fortran {
        return Err(format_err(path, "Fortran order"));
    }
    let (rows, cols) = match h.shape.as_slice() {
        [rows, cols] => (*rows, *cols),
        other => return Err(format_err(path, format!("shape {other:?} is not 2-D"))),
    };
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| format_err(path, "shape too large"))?;
    let mut data = Vec::with_capacity(n);
    let mut buf = vec![0u8; N * 65536];
    let mut left = n;
    while left > 0 {
        let take = left.min(65536);
        let bytes = &mut buf[..take * N];
        r.read_exact(bytes).map_err(io)?;
        for c in bytes.chunks_exact(N) {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            data.push(decode(a));
        }
        left -= take;
    }
    Ok(Matrix { rows, cols, data })
}

/// A `[rows, cols]` little-endian `f32` array.
pub fn read_f32(path: &Path) -> Result<Matrix<f32>, NpyError> {
    read_matrix(path, "<f4", f32::from_le_bytes)
}

/// A `[rows, cols]` little-endian `i64` array.
pub fn read_i64(path: &Path) -> Result<Matrix<i64>, NpyError> {
    read_matrix(path, "<i8", i64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn reads_f32_and_i64_matrices_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let vals: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        std::fs::write(&p, npy("<f4", "(2, 3)", &vals)).unwrap();
        let m = read_f32(&p).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
        assert!(read_i64(&p).is_err());

        let ids: Vec<u8> = [7i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&p, npy("<i8", "(1, 2)", &ids)).unwrap();
        assert_eq!(read_i64(&p).unwrap().data, vec![7, -1]);

        std::fs::write(&p, npy("<f4", "(6,)", &vals)).unwrap();
        assert!(read_f32(&p).is_err());
        std::fs::write(&p, npy("<f4", "(3, 3)", &vals)).unwrap();
        assert!(matches!(read_f32(&p), Err(NpyError::Io { .. })));
        std::fs::write(&p, b"hello world, not numpy").unwrap();
        assert!(matches!(read_f32(&p), Err(NpyError::Format { .. })));
        assert!(read_f32(&dir.path().join("missing.npy")).is_err());
    }
}
