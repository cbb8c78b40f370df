//! Reading `src/`: the files with their module paths, their code without comments,
//! literals and test modules, and the `use` trees and paths written in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub type ModPath = Vec<String>;

pub struct SourceFile {
    pub path: PathBuf,
    pub module: ModPath,
    /// Code without comments, literals and test modules.
    pub code: String,
}

pub fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

pub fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

pub fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().to_string())
        .collect();
    let last = parts.pop().unwrap_or_default();
    match last.as_str() {
        "lib.rs" | "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    parts
}

/// Removes comments, string, byte-string, raw-string and char literals (lifetimes stay).
pub fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && next == Some('r')))
            && !c
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && {
                let mut j = i + if ch == 'b' { 2 } else { 1 };
                while c.get(j) == Some(&'#') {
                    j += 1;
                }
                c.get(j) == Some(&'"')
            }
        {
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if ch == '\'' {
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(ch);
                i += 1;
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// Removes `#[cfg(test)] mod name { ... }` blocks; returns the names of out-of-line test
/// modules (`#[cfg(test)] mod name;`).
pub fn strip_tests(code: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(code.len());
    let mut test_files = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        let item = after.trim_start_matches("pub ").trim_start();
        if let Some(m) = item.strip_prefix("mod ") {
            let name: String = m
                .chars()
                .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
                .collect();
            let tail = m[name.len()..].trim_start();
            if let Some(after_decl) = tail.strip_prefix(';') {
                test_files.push(name);
                rest = after_decl;
                continue;
            }
            if let Some(body) = tail.strip_prefix('{') {
                let mut depth = 1;
                let mut end = body.len();
                for (i, ch) in body.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &body[end..];
                continue;
            }
        }
        // Another test-only item: keep it (its imports count, conservatively).
        rest = &rest[at + "#[cfg(test)]".len()..];
    }
    out.push_str(rest);
    (out, test_files)
}

pub fn read_sources() -> Vec<SourceFile> {
    let src = src_dir();
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    let mut files = Vec::new();
    let mut test_modules: BTreeSet<ModPath> = BTreeSet::new();
    for path in paths {
        let rel = path.strip_prefix(&src).unwrap_or(&path).to_path_buf();
        if rel == Path::new("main.rs") {
            continue;
        }
        let module = module_of(&rel);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let (code, tests) = strip_tests(&strip(&text));
        for t in tests {
            let mut m = module.clone();
            m.push(t);
            test_modules.insert(m);
        }
        files.push(SourceFile {
            path: rel,
            module,
            code,
        });
    }
    files.retain(|f| !test_modules.iter().any(|t| f.module.starts_with(t)));
    files
}

/// Expands a use tree (`a::{b, c::{d as e}}`) into full paths (aliases dropped).
pub fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<&str> {
        let mut parts = Vec::new();
        let mut depth = 0;
        let mut start = 0;
        for (i, ch) in s.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts
    }
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim();
    if tree.is_empty() {
        return Vec::new();
    }
    if let Some(open) = tree.find('{') {
        let prefix = tree[..open].trim_end_matches("::").trim();
        let inner = tree[open + 1..].trim_end().trim_end_matches('}');
        let head: Vec<String> = prefix
            .split("::")
            .filter(|s| !s.is_empty())
            .map(|s| s.trim().to_string())
            .collect();
        let mut out = Vec::new();
        for part in split_top(inner) {
            for tail in expand_use(part) {
                if tail == ["self"] {
                    out.push(head.clone());
                } else {
                    let mut p = head.clone();
                    p.extend(tail);
                    out.push(p);
                }
            }
        }
        return out;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((p, a)) => (p, Some(a.trim())),
        None => (tree, None),
    };
    let mut out: Vec<String> = path
        .split("::")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "*")
        .collect();
    // An alias is kept as a last `as:NAME` segment (removed before resolving).
    if let Some(a) = alias {
        out.push(format!("as:{a}"));
    }
    vec![out]
}

/// `use` statements of `code`: (is a `pub use`, expanded paths).
pub fn uses(code: &str) -> Vec<(bool, Vec<Vec<String>>)> {
    uses_at(code).into_iter().map(|(_, p, u)| (p, u)).collect()
}

/// `use` statements with their byte positions.
pub fn uses_at(code: &str) -> Vec<(usize, bool, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while let Some(found) = code[i..].find("use ") {
        let at = i + found;
        i = at + 4;
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if !before_ok {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            break;
        };
        let line_start = code[..at].rfind(['\n', ';', '{', '}']).map_or(0, |p| p + 1);
        let lead = code[line_start..at].trim();
        let public = lead.starts_with("pub");
        if !(lead.is_empty() || lead.starts_with("pub")) {
            continue;
        }
        out.push((at, public, expand_use(&code[at + 4..at + end])));
        i = at + end;
    }
    out
}

/// Byte ranges of the inline modules (`mod name { ... }`) of `code`.
pub fn inline_modules(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = code[i..].find("mod ") {
        let at = i + found;
        i = at + 4;
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|p| p.is_alphanumeric() || p == '_')
        {
            continue;
        }
        let name_len = code[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum::<usize>();
        let after = code[i + name_len..].trim_start();
        if !after.starts_with('{') {
            continue;
        }
        let open = code.len() - after.len();
        let mut depth = 0;
        for (j, ch) in code[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(open..open + j);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A path written at `pos`, as seen from the file's own module: `super` out of an inline
/// module steps back into the file; a path into an inline module stays in the file.
pub fn from_file_module(
    path: Vec<String>,
    pos: usize,
    inline: &[std::ops::Range<usize>],
) -> Option<Vec<String>> {
    let depth = inline.iter().filter(|r| r.contains(&pos)).count();
    if depth == 0 {
        return Some(path);
    }
    let supers = path.iter().take_while(|s| *s == "super").count();
    match path.first().map(String::as_str) {
        Some("super") if supers > depth => Some(path[depth..].to_vec()),
        Some("super") if supers == depth => {
            let mut p = vec!["self".to_string()];
            p.extend_from_slice(&path[supers..]);
            Some(p)
        }
        Some("super") | Some("self") => None,
        _ => Some(path),
    }
}

/// A use path without its alias, and the name it brings into scope.
pub fn local_name(mut path: Vec<String>) -> (Vec<String>, Option<String>) {
    let alias = match path.last() {
        Some(last) if last.starts_with("as:") => {
            let a = last.trim_start_matches("as:").to_string();
            path.pop();
            Some(a)
        }
        _ => None,
    };
    let name = alias.or_else(|| {
        path.last()
            .filter(|l| !matches!(l.as_str(), "crate" | "super" | "self"))
            .cloned()
    });
    (path, name)
}

/// Items named through a module in scope: `name::item` in code.
pub fn qualified_uses(code: &str, name: &str) -> Vec<String> {
    let needle = format!("{name}::");
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = code[i..].find(&needle) {
        let at = i + found;
        i = at + needle.len();
        let prev = code[..at].chars().next_back();
        if prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == ':') {
            continue;
        }
        let item: String = code[i..]
            .chars()
            .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
            .collect();
        if !item.is_empty() {
            out.push(item);
        }
    }
    out
}

/// `crate::...` and `super::...` paths written in code (outside `use` statements).
pub fn inline_paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut i = 0;
        while let Some(found) = code[i..].find(start) {
            let at = i + found;
            i = at + start.len();
            let prev = code[..at].chars().next_back();
            if prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == ':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|ch| ch.is_alphanumeric() || *ch == '_' || *ch == ':')
                .collect();
            let segments: Vec<String> = path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            // `super::{a, b}` is a use tree, read by `uses`.
            if segments.len() > 1 {
                out.push((at, segments));
            }
        }
    }
    out
}
