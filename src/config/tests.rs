use super::*;
use std::io::Write;
use std::path::Path;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn committed_defaults_load() {
    let s = Settings::load_with_env(None, &Overrides::default(), no_env()).expect("defaults load");
    assert!(s.database.url().is_none());
    assert_eq!(s.workers.shards, 6);
    assert_eq!(s.roles.len(), 4);
}

#[test]
fn unknown_key_is_rejected_with_its_name() {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(f, "[http]\naddr = \"127.0.0.1:1\"\nbogus_key = 3").expect("write");
    let err = Settings::load_with_env(Some(f.path()), &Overrides::default(), no_env()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("bogus_key"), "{msg}");
}

#[test]
fn unknown_section_is_rejected_with_its_name() {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(f, "[nonsense]\nx = 1").expect("write");
    let msg = Settings::load_with_env(Some(f.path()), &Overrides::default(), no_env())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("nonsense"), "{msg}");
}

#[test]
fn unknown_env_key_is_rejected() {
    let env = vec![("ROBOTOFF__HTTP__ADRESS".to_string(), "x".to_string())];
    let msg = Settings::load_with_env(None, &Overrides::default(), env)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("adress"), "{msg}");
}

#[test]
fn env_overrides_file_and_cli_overrides_env() {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(
        f,
        "[workers]\nshards = 3\n[database]\nurl = \"postgres://file/db\""
    )
    .expect("write");
    let env = vec![
        ("ROBOTOFF__WORKERS__SHARDS".to_string(), "9".to_string()),
        (
            "ROBOTOFF__DATABASE__URL".to_string(),
            "postgres://env/db".to_string(),
        ),
        (
            "ROBOTOFF__PRODUCT_OPENER__OFF_PRO__API_URL".to_string(),
            "http://127.0.0.1:9/".to_string(),
        ),
        ("ROBOTOFF__ROLES".to_string(), "api,workers".to_string()),
        ("UNRELATED".to_string(), "1".to_string()),
    ];
    let s =
        Settings::load_with_env(Some(f.path()), &Overrides::default(), env.clone()).expect("load");
    assert_eq!(s.workers.shards, 9);
    assert_eq!(s.database.url(), Some("postgres://env/db"));
    assert_eq!(s.product_opener.off_pro.api_url, "http://127.0.0.1:9/");
    assert_eq!(s.roles, vec![Role::Api, Role::Workers]);

    let mut o = Overrides::default();
    o.set("workers.shards", 2);
    let s = Settings::load_with_env(Some(f.path()), &o, env).expect("load");
    assert_eq!(s.workers.shards, 2);
}

#[test]
fn scheduler_times_parse_and_bad_times_name_their_key() {
    let s = Settings::load_with_env(None, &Overrides::default(), no_env()).expect("load");
    assert_eq!(s.scheduler.dataset_refresh_at.to_string(), "15:00");
    assert_eq!(s.scheduler.dump_cleanup_at.to_string(), "19:00");
    assert_eq!(s.scheduler.tmp_cleanup_at.to_string(), "00:00");
    assert!(s.scheduler.dataset_url().is_some());
    let env = vec![(
        "ROBOTOFF__SCHEDULER__DATASET_URL".to_string(),
        "".to_string(),
    )];
    let s = Settings::load_with_env(None, &Overrides::default(), env).expect("load");
    assert!(s.scheduler.dataset_url().is_none());
    let env = vec![(
        "ROBOTOFF__SCHEDULER__DUMP_CLEANUP_AT".to_string(),
        "07:30".to_string(),
    )];
    let s = Settings::load_with_env(None, &Overrides::default(), env).expect("load");
    assert_eq!(s.scheduler.dump_cleanup_at.to_string(), "07:30");
    for bad in ["25:00", "7pm", "12:3x"] {
        let env = vec![(
            "ROBOTOFF__SCHEDULER__DUMP_CLEANUP_AT".to_string(),
            bad.to_string(),
        )];
        let msg = Settings::load_with_env(None, &Overrides::default(), env)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("scheduler.dump_cleanup_at"), "{msg}");
        assert!(msg.contains("HH:MM"), "{msg}");
    }
}

#[test]
fn missing_file_and_bad_values_are_errors() {
    let err = Settings::load_with_env(
        Some(Path::new("/nonexistent/robotoff.toml")),
        &Overrides::default(),
        no_env(),
    );
    assert!(matches!(err, Err(ConfigError::MissingFile(_))));
    let env = vec![("ROBOTOFF__WORKERS__SHARDS".to_string(), "0".to_string())];
    assert!(Settings::load_with_env(None, &Overrides::default(), env).is_err());
    let env = vec![("ROBOTOFF__ROLES".to_string(), "api,cook".to_string())];
    let msg = Settings::load_with_env(None, &Overrides::default(), env)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("cook"), "{msg}");
}
