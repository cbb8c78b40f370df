//! Code-point offsets (Python string indices) and byte offsets of one text.

/// Number of code points in `s` (Python's `len`).
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Byte offset of code point `char_idx` in `s`, clamped to the end of the string.
pub fn byte_offset(s: &str, char_idx: usize) -> usize {
    s.char_indices().nth(char_idx).map_or(s.len(), |(b, _)| b)
}

/// The code points `start..end` of `s` (Python's `s[start:end]` for non-negative bounds).
pub fn char_slice(s: &str, start: usize, end: usize) -> &str {
    if end <= start {
        return "";
    }
    let b0 = byte_offset(s, start);
    let rest = s.get(b0..).unwrap_or("");
    let b1 = byte_offset(rest, end - start);
    rest.get(..b1).unwrap_or("")
}

/// Converts between byte offsets and code-point offsets of one string.
#[derive(Debug, Clone)]
pub struct CharOffsets {
    /// Byte offset of every code point, then the string length; `None` for ASCII text.
    starts: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    pub fn new(s: &str) -> Self {
        let starts = if s.is_ascii() {
            None
        } else {
            let mut v: Vec<usize> = s.char_indices().map(|(b, _)| b).collect();
            v.push(s.len());
            Some(v)
        };
        Self {
            starts,
            len: s.len(),
        }
    }

    /// Code-point offset of byte offset `byte` (a char boundary).
    pub fn byte_to_char(&self, byte: usize) -> usize {
        match &self.starts {
            None => byte.min(self.len),
            Some(v) => v.partition_point(|b| *b < byte),
        }
    }

    /// Byte offset of code point `ci`, clamped to the end of the string.
    pub fn char_to_byte(&self, ci: usize) -> usize {
        match &self.starts {
            None => ci.min(self.len),
            Some(v) => v.get(ci).copied().unwrap_or(self.len),
        }
    }

    /// Number of code points.
    pub fn char_count(&self) -> usize {
        match &self.starts {
            None => self.len,
            Some(v) => v.len().saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_offsets_map_bytes_to_code_points() {
        let s = "aé€b";
        let idx = CharOffsets::new(s);
        for (ci, (b, _)) in s.char_indices().enumerate() {
            assert_eq!(idx.byte_to_char(b), ci);
            assert_eq!(idx.char_to_byte(ci), b);
        }
        assert_eq!(idx.byte_to_char(s.len()), 4);
        assert_eq!(idx.char_count(), 4);
        assert_eq!(char_slice(s, 1, 3), "é€");
        assert_eq!(char_slice(s, 3, 10), "b");
    }
}
