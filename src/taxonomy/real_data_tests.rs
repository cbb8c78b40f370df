//! Tests of the taxonomy module on the real taxonomy files of the data directory.

use super::*;
use std::path::Path;
use std::time::Instant;

fn data_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
}

fn load(kind: TaxonomyType) -> Taxonomy {
    match Taxonomy::load(data_dir(), kind) {
        Ok(t) => t,
        Err(e) => panic!("loading {kind}: {e}"),
    }
}

#[test]
fn every_taxonomy_loads_with_nodes() {
    let set = TaxonomySet::new(data_dir());
    let timings = set.load_all().map_err(|e| e.to_string());
    assert!(timings.is_ok(), "{timings:?}");
    for kind in TaxonomyType::ALL {
        assert!(set.is_loaded(kind));
        let taxonomy = set.get(kind).map_err(|e| e.to_string());
        assert!(taxonomy.as_ref().is_ok_and(|t| !t.is_empty()), "{kind}");
    }
}

#[test]
fn nodes_have_names_synonyms_parents_and_children() {
    let categories = load(TaxonomyType::Category);
    let node = categories.get("fr:clairette-de-die");
    let Some(node) = node else {
        panic!("fr:clairette-de-die missing")
    };
    assert_eq!(node.localized_name("fr"), "Clairette de Die");
    // No English name and no `xx` name: the id is returned.
    assert_eq!(node.localized_name("en"), "fr:clairette-de-die");
    assert_eq!(
        node.synonyms_in("fr"),
        ["Clairette de Die", "Clairettes de Die"]
    );
    assert_eq!(node.property("wikidata", "en"), Some("Q1094848"));
    let parents: Vec<&str> = node.parents().map(|p| p.id()).collect();
    assert_eq!(parents, ["en:sparkling-wines", "en:wines-from-france"]);
    let sparkling = categories.get("en:sparkling-wines");
    assert!(sparkling.is_some_and(|s| s.children().any(|c| c.id() == "fr:clairette-de-die")));
    assert_eq!(categories.localized_name("en:beverages", "fr"), "Boissons");
    assert_eq!(
        categories.localized_name("en:not-a-node", "fr"),
        "en:not-a-node"
    );
}

#[test]
fn ancestors_are_listed_depth_first() {
    let categories = load(TaxonomyType::Category);
    assert_eq!(
        categories.ancestor_ids("fr:clairette-de-die"),
        [
            "en:sparkling-wines",
            "en:wines",
            "en:alcoholic-beverages",
            "en:beverages",
            "en:wines-from-france"
        ]
    );
    assert!(categories.is_parent_of("en:beverages", "fr:clairette-de-die"));
    assert!(!categories.is_parent_of("fr:clairette-de-die", "en:beverages"));
    assert!(!categories.is_parent_of("en:beverages", "en:beverages"));
    assert!(!categories.is_parent_of("en:unknown-x", "en:beverages"));
}

#[test]
fn is_parent_of_any_skips_unknown_candidates_and_rejects_unknown_items() {
    let categories = load(TaxonomyType::Category);
    let any = categories.is_parent_of_any("en:fishes", ["en:nope", "en:smoked-salmons"]);
    assert!(matches!(any, Ok(true)));
    let none = categories.is_parent_of_any("en:smoked-salmons", ["en:fishes"]);
    assert!(matches!(none, Ok(false)));
    let unknown = categories.is_parent_of_any("en:nope", ["en:fishes"]);
    assert!(matches!(unknown, Err(TaxonomyError::UnknownId(_))));
}

/// The example of the reference `find_deepest_nodes` documentation: fish → salmon →
/// smoked salmon.
#[test]
fn deepest_nodes_drop_parents_of_other_nodes() {
    let categories = load(TaxonomyType::Category);
    assert_eq!(
        categories.find_deepest_ids(["en:fishes", "en:salmons"]),
        ["en:salmons"]
    );
    assert_eq!(
        categories.find_deepest_ids(["en:fishes", "en:smoked-salmons", "en:beverages"]),
        ["en:smoked-salmons", "en:beverages"]
    );
    assert_eq!(
        categories.find_deepest_ids(["en:smoked-salmons", "en:salmons", "en:unknown-thing"]),
        ["en:smoked-salmons"]
    );
}

#[test]
fn tags_of_names_and_synonyms_map_to_canonical_ids() {
    let labels = load(TaxonomyType::Label);
    assert_eq!(labels.id_for_tag("fr:bio-europeen"), Some("en:eu-organic"));
    assert_eq!(
        labels.id_for_tag("fr:agriculture-biologique"),
        Some("en:organic")
    );
    assert_eq!(labels.match_value("en:organic"), Some("en:organic"));
    assert_eq!(labels.match_value("fr:eurofeuille"), Some("en:eu-organic"));
    assert_eq!(labels.match_value("fr:pas-un-label"), None);
    assert_eq!(
        labels.canonical_id("fr:Label bio européen"),
        Some("en:eu-organic")
    );
    let categories = load(TaxonomyType::Category);
    assert_eq!(
        categories.canonical_id("fr:Mélanges de céréales soufflés"),
        Some("en:mixed-puffed-cereals")
    );
}

#[test]
fn registry_matches_taxonomized_values_and_swaps_generations() {
    let taxonomies = Taxonomies::new(data_dir());
    let label = taxonomies.match_taxonomized_value("fr:bio-europeen", TaxonomyType::Label);
    assert_eq!(label.ok().flatten().as_deref(), Some("en:eu-organic"));
    let brand = taxonomies.match_taxonomized_value("arev", TaxonomyType::Brand);
    assert_eq!(brand.ok().flatten().as_deref(), Some("Arev"));
    let shape = taxonomies.match_taxonomized_value("en:bottle", TaxonomyType::PackagingShape);
    assert!(matches!(shape, Ok(None)));

    let before = taxonomies.snapshot();
    assert!(taxonomies.reload(data_dir()).is_ok());
    let after = taxonomies.snapshot();
    assert!(!std::sync::Arc::ptr_eq(&before, &after));
    assert!(after.is_loaded(TaxonomyType::Category));
    // A failed reload keeps the current generation.
    assert!(taxonomies.reload("/nonexistent/data").is_err());
    assert!(std::sync::Arc::ptr_eq(&after, &taxonomies.snapshot()));
}

#[test]
fn registry_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Taxonomies>();
    assert_send_sync::<Taxonomy>();
}

#[test]
fn missing_files_and_bad_json_are_errors() {
    let missing = Taxonomy::load(Path::new("/nonexistent"), TaxonomyType::Label);
    assert!(matches!(missing, Err(TaxonomyError::Read { .. })));
    assert!(Taxonomy::from_json_slice(b"[1, 2]").is_err());
    let small = Taxonomy::from_json_slice(
        br#"{"en:a": {"name": {"en": "A", "fr": null}}, "en:b": {"parents": ["en:a", "en:zzz"], "children": []}}"#,
    );
    let Ok(small) = small else {
        panic!("small taxonomy should parse")
    };
    assert_eq!(small.len(), 2);
    assert!(small.is_parent_of("en:a", "en:b"));
    assert_eq!(small.get("en:a").map(|n| n.names.len()), Some(1));
}

/// Prints load times (run with `--nocapture`); no timing is asserted.
#[test]
fn load_times_are_reported() {
    for kind in TaxonomyType::ALL {
        let start = Instant::now();
        let taxonomy = load(kind);
        println!("{kind}: {} nodes in {:?}", taxonomy.len(), start.elapsed());
    }
}

/// After a file changed, every live set reading that directory gets the changed taxonomy
/// read again and keeps its other loaded taxonomies; other directories are untouched.
#[test]
fn refresh_loaded_swaps_changed_taxonomies_in_every_holder() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("temp dir")
    };
    let taxonomies_dir = dir.path().join("taxonomies");
    assert!(std::fs::create_dir_all(&taxonomies_dir).is_ok());
    for kind in [
        TaxonomyType::PackagingRecycling,
        TaxonomyType::PackagingShape,
    ] {
        assert!(std::fs::copy(kind.path_in(data_dir()), kind.path_in(dir.path())).is_ok());
    }
    let first = Taxonomies::new(dir.path());
    let second = Taxonomies::new(dir.path());
    let lazy = Taxonomies::new(dir.path());
    let elsewhere = Taxonomies::new(data_dir());
    for t in [&first, &second, &elsewhere] {
        assert!(t.get(TaxonomyType::PackagingRecycling).is_ok());
    }
    let Ok(shapes_before) = first.get(TaxonomyType::PackagingShape) else {
        panic!("shapes load")
    };
    let elsewhere_before = elsewhere.snapshot();
    let lazy_before = lazy.snapshot();

    let json = br#"{"en:only-node": {"name": {"en": "Only node"}}}"#;
    let path = TaxonomyType::PackagingRecycling.path_in(dir.path());
    assert!(std::fs::write(&path, json).is_ok());
    let swapped = refresh_loaded(dir.path(), &[TaxonomyType::PackagingRecycling]);
    assert_eq!(swapped.ok(), Some(2));
    for t in [&first, &second] {
        let recycling = t.get(TaxonomyType::PackagingRecycling);
        assert_eq!(recycling.as_ref().map(|r| r.len()).ok(), Some(1));
    }
    // Both share one reading of the new file; unchanged taxonomies are kept as loaded.
    let (Ok(a), Ok(b)) = (
        first.get(TaxonomyType::PackagingRecycling),
        second.get(TaxonomyType::PackagingRecycling),
    ) else {
        panic!("recycling loads")
    };
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert!(first.snapshot().is_loaded(TaxonomyType::PackagingShape));
    let Ok(shapes_after) = first.get(TaxonomyType::PackagingShape) else {
        panic!("shapes load")
    };
    assert!(std::sync::Arc::ptr_eq(&shapes_before, &shapes_after));
    assert!(std::sync::Arc::ptr_eq(
        &elsewhere_before,
        &elsewhere.snapshot()
    ));
    assert!(std::sync::Arc::ptr_eq(&lazy_before, &lazy.snapshot()));

    // A file that no longer parses: nothing is swapped.
    assert!(std::fs::write(&path, b"{broken").is_ok());
    let current = first.snapshot();
    assert!(refresh_loaded(dir.path(), &[TaxonomyType::PackagingRecycling]).is_err());
    assert!(std::sync::Arc::ptr_eq(&current, &first.snapshot()));
}
