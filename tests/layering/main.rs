//! The crate's own imports, read from `src/`: no two files import each other in a loop,
//! and every import between top-level modules points down the layers written in
//! `LAYERS` (and in README's "How it is built").
//!
//! A file imports another when it names a path into it (`use crate::a::b::X`,
//! `super::X`, or a `crate::...` path in code). A name a module re-exports (`pub use`)
//! is followed to the file that defines it. Test modules are left out.

mod graph;
mod source;

use graph::{circles, Crate};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Top-level modules from the top layer down. A module may import modules of lower
/// layers only (and itself); two modules of one layer do not import each other.
const LAYERS: &[(&str, &[&str])] = &[
    ("command line", &["cli"]),
    ("composition root", &["app"]),
    ("HTTP API", &["http"]),
    ("actors", &["actors"]),
    ("job handlers", &["pipeline"]),
    ("domain services", &["annotation", "product_store"]),
    (
        "domain",
        &["insights", "events", "maintenance", "ann", "cluster"],
    ),
    (
        "pure domain logic and adapters",
        &["ocr", "questions", "imaging", "ml", "infra"],
    ),
    ("vocabulary", &["taxonomy", "jobs", "config"]),
    ("types", &["types", "shard"]),
    ("text", &["text", "i18n"]),
];

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
        .any(|f| f.path.starts_with("annotation/annotators/tests")));
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
