//! The crate's own imports, read from `src/`: no two files import each other in a loop,
//! and every import between top-level modules points down the layers written in
//! `LAYERS` (and in README's "How it is built").
//!
//! A file imports another when it names a path into it (`use crate::a::b::X`,
//! `super::X`, or a `crate::...` path in code). A name a module re-exports (`pub use`)
//! is followed to the file that defines it. Test modules are left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Top-level modules from the top layer down. A module may import modules of lower
/// layers only (and itself); two modules of one layer do not import each other.
const LAYERS: &[(&str, &[&str])] = &[
    ("command line", &["cli"]),
    ("composition root", &["app"]),
    ("HTTP API", &["http"]),
    ("actors", &["actors"]),
    ("job handlers", &["pipeline"]),
    ("domain services", &["annotation", "product_store"]),
    ("domain", &["insights", "events", "maintenance"]),
    (
        "pure domain logic and adapters",
        &["ocr", "questions", "imaging", "infra"],
    ),
    ("vocabulary", &["taxonomy", "jobs", "config"]),
    ("types", &["types", "shard"]),
    ("text", &["text", "i18n"]),
];

type ModPath = Vec<String>;

struct SourceFile {
    path: PathBuf,
    module: ModPath,
    /// Code without comments, literals and test modules.
    code: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
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

fn module_of(rel: &Path) -> ModPath {
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
fn strip(text: &str) -> String {
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
fn strip_tests(code: &str) -> (String, Vec<String>) {
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

fn read_sources() -> Vec<SourceFile> {
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
fn expand_use(tree: &str) -> Vec<Vec<String>> {
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
fn uses(code: &str) -> Vec<(bool, Vec<Vec<String>>)> {
    uses_at(code).into_iter().map(|(_, p, u)| (p, u)).collect()
}

/// `use` statements with their byte positions.
fn uses_at(code: &str) -> Vec<(usize, bool, Vec<Vec<String>>)> {
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
fn inline_modules(code: &str) -> Vec<std::ops::Range<usize>> {
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
fn from_file_module(
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
fn local_name(mut path: Vec<String>) -> (Vec<String>, Option<String>) {
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
fn qualified_uses(code: &str, name: &str) -> Vec<String> {
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
fn inline_paths(code: &str) -> Vec<(usize, Vec<String>)> {
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

struct Crate {
    files: Vec<SourceFile>,
    by_module: HashMap<ModPath, usize>,
    /// Per file: re-exported name → the path it comes from (relative to that file).
    reexports: Vec<HashMap<String, Vec<String>>>,
}

impl Crate {
    fn load() -> Crate {
        let files = read_sources();
        let by_module = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.module.clone(), i))
            .collect();
        let reexports = files
            .iter()
            .map(|f| {
                let mut m = HashMap::new();
                for (public, paths) in uses(&f.code) {
                    if public {
                        for p in paths {
                            let (path, name) = local_name(p);
                            if let Some(name) = name {
                                m.insert(name, path);
                            }
                        }
                    }
                }
                m
            })
            .collect();
        Crate {
            files,
            by_module,
            reexports,
        }
    }

    /// The file a path written in file `from` leads to, if it is in this crate.
    fn resolve(&self, from: usize, path: &[String], depth: usize) -> Option<usize> {
        if depth > 8 {
            return None;
        }
        let here = &self.files[from].module;
        let mut base: ModPath;
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base = Vec::new();
                rest = &rest[1..];
            }
            Some("super") => {
                base = here.clone();
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            Some("self") => {
                base = here.clone();
                rest = &rest[1..];
            }
            // A path from a child module of this one (`use runner::run` in a mod.rs).
            Some(first)
                if self
                    .by_module
                    .contains_key(&[here.as_slice(), &[first.to_string()]].concat()) =>
            {
                base = here.clone();
            }
            _ => return None,
        }
        let mut file = *self.by_module.get(&base)?;
        let mut consumed = 0;
        for seg in rest {
            let mut next = base.clone();
            next.push(seg.clone());
            match self.by_module.get(&next) {
                Some(f) => {
                    base = next;
                    file = *f;
                    consumed += 1;
                }
                None => break,
            }
        }
        if let Some(name) = rest.get(consumed) {
            if let Some(origin) = self.reexports[file].get(name) {
                if let Some(target) = self.resolve(file, origin, depth + 1) {
                    return Some(target);
                }
            }
        }
        Some(file)
    }

    /// Whether `path` (written in file `from`) names a module of this crate.
    fn is_module(&self, from: usize, path: &[String]) -> bool {
        let here = &self.files[from].module;
        let mut base: ModPath = match path.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("super") | Some("self") => here.clone(),
            Some(first)
                if self
                    .by_module
                    .contains_key(&[here.as_slice(), &[first.to_string()]].concat()) =>
            {
                here.clone()
            }
            _ => return false,
        };
        for seg in path {
            match seg.as_str() {
                "crate" => {}
                "self" => {}
                "super" => {
                    base.pop();
                }
                other => base.push(other.to_string()),
            }
        }
        self.by_module.contains_key(&base)
    }

    /// File → files it imports.
    fn graph(&self) -> BTreeMap<usize, BTreeSet<usize>> {
        let mut g: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for (i, f) in self.files.iter().enumerate() {
            let inline = inline_modules(&f.code);
            let mut paths: Vec<Vec<String>> = Vec::new();
            for (pos, _, written) in uses_at(&f.code) {
                for p in written {
                    let Some(p) = from_file_module(p, pos, &inline) else {
                        continue;
                    };
                    let (path, name) = local_name(p);
                    // A module brought into scope: its uses as `name::item` count too.
                    if let Some(name) = name.filter(|_| self.is_module(i, &path)) {
                        for item in qualified_uses(&f.code, &name) {
                            let mut full = path.clone();
                            full.push(item);
                            paths.push(full);
                        }
                    }
                    paths.push(path);
                }
            }
            paths.extend(
                inline_paths(&f.code)
                    .into_iter()
                    .filter_map(|(pos, p)| from_file_module(p, pos, &inline)),
            );
            let targets = g.entry(i).or_default();
            for p in paths {
                if let Some(t) = self.resolve(i, &p, 0) {
                    if t != i {
                        if std::env::var("LAYERING_DEBUG").is_ok_and(|d| self.name(i).contains(&d))
                        {
                            eprintln!("{} -> {} via {}", self.name(i), self.name(t), p.join("::"));
                        }
                        targets.insert(t);
                    }
                }
            }
        }
        g
    }

    fn name(&self, i: usize) -> String {
        self.files[i].path.display().to_string()
    }

    fn top(&self, i: usize) -> String {
        self.files[i].module.first().cloned().unwrap_or_default()
    }
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(g: &BTreeMap<usize, BTreeSet<usize>>, n: usize) -> Vec<Vec<usize>> {
    struct T<'a> {
        g: &'a BTreeMap<usize, BTreeSet<usize>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T<'_>, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        let succ: Vec<usize> =
            t.g.get(&v)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
        for w in succ {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_source_is_read() {
    let c = Crate::load();
    // Sanity checks of the reader itself, so an empty graph cannot pass.
    assert!(c.files.len() > 100, "only {} files read", c.files.len());
    let g = c.graph();
    let edges: usize = g.values().map(BTreeSet::len).sum();
    assert!(edges > 300, "only {edges} imports read");
    let find = |p: &str| {
        c.files
            .iter()
            .position(|f| f.path == Path::new(p))
            .unwrap_or_else(|| panic!("{p} not read"))
    };
    let shard = find("actors/product_shard.rs");
    let runner = find("pipeline/runner.rs");
    let context = find("pipeline/context.rs");
    assert!(
        g[&shard].contains(&runner),
        "product_shard → pipeline/runner"
    );
    // `crate::pipeline::Context` is a re-export followed to its definition.
    let mods = find("actors/mod.rs");
    assert!(
        g[&mods].contains(&context),
        "actors/mod.rs → pipeline/context.rs"
    );
    // Test modules are not part of the graph.
    assert!(!c
        .files
        .iter()
        .any(|f| f.path.ends_with("annotators/tests.rs")));
}

#[test]
fn no_file_imports_itself_through_others() {
    let c = Crate::load();
    let g = c.graph();
    let found = circles(&g, c.files.len());
    let mut report = String::new();
    for comp in &found {
        let members: BTreeSet<usize> = comp.iter().copied().collect();
        report.push_str("circle:\n");
        for &a in comp {
            for b in g[&a].intersection(&members) {
                report.push_str(&format!("  {} -> {}\n", c.name(a), c.name(*b)));
            }
        }
    }
    assert!(found.is_empty(), "import circles in src/:\n{report}");
}

#[test]
fn imports_point_down_the_layers() {
    let c = Crate::load();
    let rank: HashMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, mods))| mods.iter().map(move |m| (*m, LAYERS.len() - i)))
        .collect();
    let layer_of = |m: &str| {
        LAYERS
            .iter()
            .find(|(_, ms)| ms.contains(&m))
            .map(|(n, _)| *n)
    };
    let mut wrong = Vec::new();
    for (a, targets) in c.graph() {
        let ma = c.top(a);
        if ma.is_empty() {
            continue; // lib.rs declares the modules
        }
        let Some(ra) = rank.get(ma.as_str()) else {
            wrong.push(format!("{}: module `{ma}` is on no layer", c.name(a)));
            continue;
        };
        for b in targets {
            let mb = c.top(b);
            if mb == ma || mb.is_empty() {
                continue;
            }
            match rank.get(mb.as_str()) {
                Some(rb) if rb < ra => {}
                _ => wrong.push(format!(
                    "{} ({}) -> {} ({})",
                    c.name(a),
                    layer_of(&ma).unwrap_or("?"),
                    c.name(b),
                    layer_of(&mb).unwrap_or("no layer")
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not point down the layers:\n  {}",
        wrong.join("\n  ")
    );
}
