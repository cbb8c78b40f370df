//! The scheduler's periodic jobs that need no model and no dump: temporary directory
//! cleanup and taxonomy refresh; and the scheduler actor running a task on demand. Real
//! PostgreSQL, the Product Opener stand-in as static host.

mod common;

use common::dump::{dump_of, gunzip, DUMP_PATH};
use common::po::{ProductOpenerStandIn, Served};
use common::{mtime, set_mtime};
use robotoff::insights::import::shared_resources;
use robotoff::maintenance::taxonomy_refresh;
use robotoff::maintenance::tmp_cleanup::remove_old_tmp_dirs;
use robotoff::ocr::resources::OcrResources;
use robotoff::taxonomy::{Taxonomies, Taxonomy, TaxonomyType};
use std::time::{Duration, SystemTime};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

// ---------------------------------------------------------------------------------------
// Temporary directory cleanup.

/// Spec §4: `clean_tmp_files` removes `/tmp/tmp*` directories older than 2 days.
#[test]
fn tmp_cleanup_removes_only_old_tmp_directories() {
    let root = tempfile::tempdir().expect("tempdir");
    let now = SystemTime::now();
    let three_days_ago = now - Duration::from_secs(3 * 24 * 3600);
    let old_tmp = root.path().join("tmpabc123");
    let new_tmp = root.path().join("tmpfresh");
    let old_other = root.path().join("cache-old");
    let old_tmp_file = root.path().join("tmpfile.txt");
    std::fs::create_dir_all(old_tmp.join("nested")).expect("mkdir");
    std::fs::write(old_tmp.join("nested/data.bin"), b"x").expect("write");
    std::fs::create_dir(&new_tmp).expect("mkdir");
    std::fs::create_dir(&old_other).expect("mkdir");
    std::fs::write(&old_tmp_file, b"x").expect("write");
    for p in [&old_tmp, &old_other, &old_tmp_file] {
        set_mtime(p, three_days_ago);
    }
    let outcome =
        remove_old_tmp_dirs(root.path(), Duration::from_secs(48 * 3600), now).expect("cleanup");
    assert_eq!(outcome.removed, 1);
    assert_eq!(outcome.failed, 0);
    assert!(
        !old_tmp.exists(),
        "old tmp* directory removed with its content"
    );
    assert!(new_tmp.exists(), "recent tmp* directory kept");
    assert!(old_other.exists(), "other names kept");
    assert!(old_tmp_file.exists(), "files kept");
    assert!(remove_old_tmp_dirs(&root.path().join("missing"), Duration::ZERO, now).is_err());
}

// ---------------------------------------------------------------------------------------
// Taxonomy refresh.

/// A data directory with the importer's files and every taxonomy, all dated two days ago.
fn data_dir_copy() -> tempfile::TempDir {
    let shared = common::shared_data_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("ocr")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("taxonomies")).expect("mkdir");
    for file in [
        "ocr/label_whitelist.txt",
        "ocr/brand_taxonomy_blacklist.txt",
        "brand_prefix.json.gz",
    ] {
        std::fs::copy(shared.join(file), dir.path().join(file)).expect("copy");
    }
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    for kind in TaxonomyType::ALL {
        let target = kind.path_in(dir.path());
        std::fs::copy(kind.path_in(&shared), &target).expect("copy taxonomy");
        set_mtime(&target, two_days_ago);
    }
    dir
}

const NEW_LABEL: &str = "en:scheduler-refresh-test-label";

/// The shared labels taxonomy with one more node.
fn labels_with_new_entry() -> Vec<u8> {
    let path = TaxonomyType::Label.path_in(&common::shared_data_dir());
    let json = gunzip(&std::fs::read(path).expect("read labels"));
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&json).expect("labels JSON");
    map.insert(
        NEW_LABEL.to_string(),
        serde_json::json!({"name": {"en": "Scheduler refresh test label"}, "parents": ["en:organic"]}),
    );
    serde_json::to_vec(&map).expect("JSON")
}

fn taxonomy_path(kind: TaxonomyType) -> String {
    format!("/data/taxonomies/{}.full.json", kind.file_stem())
}

/// Spec §4: `download_taxonomies` fetches a taxonomy only when the server's copy is newer,
/// and the running service uses it without a restart.
#[tokio::test]
async fn taxonomy_refresh_downloads_newer_files_and_reloads_them() {
    let data = data_dir_copy();
    let dir = data.path().to_path_buf();
    let server = ProductOpenerStandIn::start().await;
    let now = SystemTime::now();
    let labels_modified = now - Duration::from_secs(3600);
    for kind in TaxonomyType::ALL {
        let (body, modified) = if kind == TaxonomyType::Label {
            (labels_with_new_entry(), labels_modified)
        } else {
            // Older than the local files: never downloaded (an invalid body would fail).
            (
                b"not a taxonomy".to_vec(),
                now - Duration::from_secs(3 * 24 * 3600),
            )
        };
        server.serve_file(
            &taxonomy_path(kind),
            Served {
                body,
                last_modified: Some(modified),
                etag: None,
            },
        );
    }

    // Taxonomies already loaded by the importer and by another holder (as the HTTP API's).
    let importer = shared_resources(&dir).await.expect("importer resources");
    let before = importer.taxonomy(TaxonomyType::Label).expect("labels");
    assert!(!before.contains(NEW_LABEL));
    let other = Taxonomies::new(&dir);
    assert!(!other
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    // The OCR extractors keep their own taxonomies inside the OCR resources.
    let ocr = OcrResources::new(&dir);
    let ocr_taxonomies = ocr
        .get_or_load(|d| Ok(Taxonomies::new(d)))
        .expect("OCR taxonomies");
    assert!(!ocr_taxonomies
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    let brands_before = std::fs::read(TaxonomyType::Brand.path_in(&dir)).expect("read");

    let outcome = taxonomy_refresh::refresh(&client(), &server.url, &dir)
        .await
        .expect("refresh");
    assert_eq!(outcome.refreshed, vec![TaxonomyType::Label], "{outcome}");
    assert_eq!(outcome.up_to_date, 6, "{outcome}");
    assert!(outcome.failed.is_empty(), "{outcome}");
    assert!(outcome.holders_reloaded >= 3, "{outcome}");
    assert!(outcome.to_string().starts_with("1 taxonomie(s) refreshed"));
    assert_eq!(server.count("GET", &taxonomy_path(TaxonomyType::Label)), 1);
    assert_eq!(
        server.count_method("GET"),
        1,
        "only the newer taxonomy is downloaded"
    );
    assert_eq!(server.count_method("HEAD"), 7);

    // The file is replaced: gzip, parses, has the new entry, dated as the server's copy.
    let path = TaxonomyType::Label.path_in(&dir);
    let stored = std::fs::read(&path).expect("read");
    assert!(stored.starts_with(&[0x1f, 0x8b]), "stored gzipped");
    assert!(Taxonomy::from_path(&path)
        .expect("parses")
        .contains(NEW_LABEL));
    let stamp = mtime(&path)
        .duration_since(labels_modified)
        .unwrap_or_else(|e| e.duration());
    assert!(
        stamp < Duration::from_secs(2),
        "mtime is the server's Last-Modified"
    );
    assert_eq!(
        std::fs::read(TaxonomyType::Brand.path_in(&dir)).expect("read"),
        brands_before
    );
    assert!(!dir
        .join("taxonomies/.labels.full.json.gz.download")
        .exists());

    // The running service sees the new entry; holders of the old generation keep it.
    let reloaded = shared_resources(&dir).await.expect("importer resources");
    assert!(reloaded
        .taxonomy(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    assert!(other
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    let ocr_taxonomies = ocr
        .get_or_load(|d| Ok(Taxonomies::new(d)))
        .expect("OCR taxonomies");
    assert!(ocr_taxonomies
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    assert!(!before.contains(NEW_LABEL));

    // Second run: everything is as new as the server's copy, nothing is downloaded.
    let again = taxonomy_refresh::refresh(&client(), &server.url, &dir)
        .await
        .expect("refresh");
    assert!(again.refreshed.is_empty(), "{again}");
    assert_eq!(again.up_to_date, 7);
    assert_eq!(
        server.count_method("GET"),
        1,
        "no download of a file that is not newer"
    );
}

/// A newer download that does not parse as a taxonomy leaves the current file in place.
#[tokio::test]
async fn taxonomy_refresh_rejects_an_invalid_download() {
    let data = data_dir_copy();
    let dir = data.path().to_path_buf();
    let server = ProductOpenerStandIn::start().await;
    let now = SystemTime::now();
    for kind in TaxonomyType::ALL {
        let newer = kind == TaxonomyType::PackagingShape;
        server.serve_file(
            &taxonomy_path(kind),
            Served {
                body: if newer {
                    b"{\"en:x\": [1, 2".to_vec()
                } else {
                    Vec::new()
                },
                last_modified: Some(if newer {
                    now - Duration::from_secs(60)
                } else {
                    now - Duration::from_secs(5 * 24 * 3600)
                }),
                etag: None,
            },
        );
    }
    let path = TaxonomyType::PackagingShape.path_in(&dir);
    let before = std::fs::read(&path).expect("read");
    let outcome = taxonomy_refresh::refresh(&client(), &server.url, &dir)
        .await
        .expect("refresh");
    assert!(outcome.refreshed.is_empty(), "{outcome}");
    assert_eq!(outcome.failed.len(), 1, "{outcome}");
    assert_eq!(outcome.failed[0].0, TaxonomyType::PackagingShape);
    assert_eq!(std::fs::read(&path).expect("read"), before, "file kept");
    assert!(!dir
        .join("taxonomies/.packaging_shapes.full.json.gz.download")
        .exists());
}

// ---------------------------------------------------------------------------------------
// Through the scheduler actor.

/// The node's scheduler knows the new tasks: a run started with `RunNow` downloads and
/// imports the dump and is counted in the metrics.
#[tokio::test]
async fn scheduler_runs_the_dataset_task_on_demand() {
    use robotoff::actors::scheduler::{SchedulerMsg, DATASET_REFRESH_TASK, TMP_CLEANUP_TASK};
    use robotoff::actors::SCHEDULER;
    let db = common::fresh_database().await;
    let server = ProductOpenerStandIn::start().await;
    server.serve_file(
        DUMP_PATH,
        Served {
            body: dump_of(&["3100000000001", "3100000000002"]),
            last_modified: None,
            etag: Some("app-1".into()),
        },
    );
    let datasets = tempfile::tempdir().expect("tempdir");
    let mut o = robotoff::config::Overrides::default();
    o.set("http.addr", "127.0.0.1:0");
    o.set("database.url", db.as_str());
    o.set("data.dir", common::shared_data_dir().display().to_string());
    o.set("log.level", "warn");
    o.set(
        "scheduler.dataset_url",
        format!("{}{DUMP_PATH}", server.url),
    );
    o.set(
        "scheduler.datasets_dir",
        datasets.path().display().to_string(),
    );
    o.set("scheduler.dataset_min_products", 1);
    let settings =
        robotoff::config::Settings::load_with_env(None, &o, Vec::new()).expect("settings");
    let app = common::spawn_app(settings).await;
    let names = app.services.names.clone();
    let actor = names
        .lookup::<SchedulerMsg>(&names.of(SCHEDULER))
        .expect("scheduler running");
    for task in [DATASET_REFRESH_TASK, TMP_CLEANUP_TASK] {
        let started = robotoff::actors::call(
            &actor,
            |r| SchedulerMsg::RunNow(task.to_string(), r),
            Duration::from_secs(5),
        )
        .await
        .expect("scheduler answers");
        assert!(started, "{task} started");
    }
    let unknown = robotoff::actors::call(
        &actor,
        |r| SchedulerMsg::RunNow("no_such_task".to_string(), r),
        Duration::from_secs(5),
    )
    .await
    .expect("scheduler answers");
    assert!(!unknown);
    let runs = common::wait_until(Duration::from_secs(30), "both runs to finish", || {
        let actor = actor.clone();
        async move {
            let runs = robotoff::actors::call(&actor, SchedulerMsg::Runs, Duration::from_secs(5))
                .await
                .ok()?;
            (runs.get(DATASET_REFRESH_TASK) == Some(&1) && runs.get(TMP_CLEANUP_TASK) == Some(&1))
                .then_some(runs)
        }
    })
    .await;
    assert_eq!(runs.get(DATASET_REFRESH_TASK), Some(&1));
    assert_eq!(
        common::count(
            &app.pool,
            "SELECT count(*) FROM product WHERE code LIKE '31000000000%'"
        )
        .await,
        2
    );
    assert_eq!(server.count("GET", DUMP_PATH), 1);
    let metrics = robotoff::infra::metrics::render();
    let ok_line = metrics.lines().any(|l| {
        l.starts_with("robotoff_scheduler_runs_total")
            && l.contains("task=\"update_dataset\"")
            && l.contains("outcome=\"ok\"")
    });
    assert!(ok_line, "run counted as ok:\n{metrics}");
    app.shutdown().await;
}
