//! The file-level import graph of the crate: paths resolved to the files that define
//! what they name (re-exports followed), and its circles.

use crate::source::{
    from_file_module, inline_modules, inline_paths, local_name, qualified_uses, read_sources, uses,
    uses_at, ModPath, SourceFile,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct Crate {
    pub files: Vec<SourceFile>,
    pub by_module: HashMap<ModPath, usize>,
    /// Per file: re-exported name → the path it comes from (relative to that file).
    pub reexports: Vec<HashMap<String, Vec<String>>>,
}

impl Crate {
    pub fn load() -> Crate {
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
    pub fn resolve(&self, from: usize, path: &[String], depth: usize) -> Option<usize> {
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
    pub fn is_module(&self, from: usize, path: &[String]) -> bool {
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
    pub fn graph(&self) -> BTreeMap<usize, BTreeSet<usize>> {
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

    pub fn name(&self, i: usize) -> String {
        self.files[i].path.display().to_string()
    }

    pub fn top(&self, i: usize) -> String {
        self.files[i].module.first().cloned().unwrap_or_default()
    }
}

/// Strongly connected components with more than one file (Tarjan).
pub fn circles(g: &BTreeMap<usize, BTreeSet<usize>>, n: usize) -> Vec<Vec<usize>> {
    struct T<'a> {
        g: &'a BTreeMap<usize, BTreeSet<usize>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    pub fn visit(t: &mut T<'_>, v: usize) {
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
