//! Typed settings: `config.toml` < `ROBOTOFF__SECTION__KEY` environment < command-line flags.

use crate::types::ServerType;
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Prefix of the environment variables that override settings (`ROBOTOFF__HTTP__ADDR`).
pub const ENV_PREFIX: &str = "ROBOTOFF__";

/// Every setting of the service. Unknown keys anywhere are rejected.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Roles this process runs.
    #[serde(deserialize_with = "de_roles")]
    pub roles: Vec<Role>,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub data: DataSettings,
    pub index: IndexSettings,
    pub product_opener: ProductOpenerSettings,
    pub triton: TritonSettings,
    pub workers: WorkerSettings,
    pub insights: InsightSettings,
    pub annotation: AnnotationSettings,
    pub cluster: ClusterSettings,
    pub scheduler: SchedulerSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The HTTP API.
    Api,
    /// Product shards and the job dispatcher (the durable queue's consumers).
    Workers,
    /// Periodic jobs.
    Scheduler,
    /// Product Opener's Redis streams → durable jobs.
    Listener,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Api, Role::Workers, Role::Scheduler, Role::Listener];
}

/// Roles may be written as a list (`["api", "workers"]`) or a comma-separated string
/// (`ROBOTOFF__ROLES=api,workers`).
fn de_roles<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Role>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<Role>),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::List(roles) => Ok(roles),
        Raw::Text(text) => {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    Role::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(s))
                        .map_err(|_| {
                            serde::de::Error::custom(format!(
                                "unknown role {s:?} (expected api, workers, scheduler, listener)"
                            ))
                        })
                })
                .collect()
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub body_limit: u64,
    /// Timeout of calls to other services made while answering a request, in seconds.
    pub downstream_timeout_secs: u64,
    /// Largest file (OCR JSON, image) downloaded from an image host for a request, in bytes.
    pub max_download_bytes: usize,
    /// How long anonymous question and insight listings are served from memory, in
    /// milliseconds (0: never). Callers who have voted always get fresh listings.
    pub listing_cache_ms: u64,
    /// Bearer token of `POST /batch/import`; empty refuses every call.
    #[serde(default, skip_serializing)]
    pub batch_job_key: String,
    /// Serve the webhook routes Product Opener called before its Redis streams.
    #[serde(default)]
    pub webhooks: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// PostgreSQL URL; empty = a private PostgreSQL run by the service under `local_dir`.
    #[serde(default)]
    pub url: Option<String>,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// Directory of the private PostgreSQL cluster used when `url` is empty.
    pub local_dir: PathBuf,
}

impl DatabaseSettings {
    /// The configured URL, treating an empty string as unset.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref().filter(|u| !u.trim().is_empty())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// Redis URL; empty = no Redis (single node, no update listener).
    #[serde(default)]
    pub url: Option<String>,
    /// Product Opener's stream of product updates.
    pub product_updates_stream: String,
    /// Product Opener's stream of finished OCR.
    pub ocr_ready_stream: String,
    /// Where the listener starts in a stream it has never read: `latest` or `beginning`.
    pub start_from: String,
    /// Entries read per stream at a time.
    pub batch_size: usize,
}

impl RedisSettings {
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref().filter(|u| !u.trim().is_empty())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// Taxonomies, OCR keyword lists, translations (laid out like `taxonomies/`, `ocr/`, `i18n/`).
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSettings {
    /// Where the logo nearest-neighbour index is saved.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductOpenerSettings {
    /// Robotoff's own Product Opener account (automatic edits).
    #[serde(default)]
    pub user: String,
    #[serde(default, skip_serializing)]
    pub password: String,
    /// `user:password` sent as HTTP Basic auth with every request (staging servers
    /// need `off:off`); empty = none.
    #[serde(default, skip_serializing)]
    pub request_auth: String,
    /// Product and image jobs read the product again from Product Opener's API first.
    #[serde(default = "yes")]
    pub refresh_products: bool,
    pub off: FlavorUrls,
    pub obf: FlavorUrls,
    pub opff: FlavorUrls,
    pub opf: FlavorUrls,
    pub off_pro: FlavorUrls,
}

fn yes() -> bool {
    true
}

impl ProductOpenerSettings {
    pub fn flavor(&self, server_type: ServerType) -> &FlavorUrls {
        match server_type {
            ServerType::Off => &self.off,
            ServerType::Obf => &self.obf,
            ServerType::Opff => &self.opff,
            ServerType::Opf => &self.opf,
            ServerType::OffPro => &self.off_pro,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorUrls {
    /// Base URL of the product API and write endpoints (`https://world.openfoodfacts.org`).
    pub api_url: String,
    /// Base URL of product images and OCR JSON (`https://images.openfoodfacts.org`).
    pub images_url: String,
    /// Base URL of static files: taxonomies, dataset exports.
    pub static_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TritonSettings {
    /// gRPC endpoint of the Triton inference server.
    pub url: String,
    pub timeout_secs: u64,
    pub pool_size: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Number of product shards; a product always maps to the same shard.
    pub shards: u32,
    /// Jobs handed to one shard ahead of the one it is running.
    pub prefetch: u32,
    /// Attempts before a failing job is kept as dead.
    pub max_attempts: i32,
    /// First retry delay; doubles at each attempt.
    pub retry_base_secs: u64,
    /// Longest retry delay.
    pub retry_max_secs: u64,
    /// A running job taking longer than this fails.
    pub job_timeout_secs: u64,
    /// How often the dispatcher polls when no notification arrives.
    pub poll_interval_ms: u64,
    /// Finished jobs are kept this long for inspection.
    pub done_retention_hours: u64,
    /// Wait before a product update is processed, in seconds; updates of one product
    /// inside the wait collapse into one job.
    pub update_wait_secs: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InsightSettings {
    /// Minutes between the import of an automatically processable insight and its
    /// automatic application (Robotoff's `INSIGHT_AUTOMATIC_PROCESSING_WAIT`).
    pub automatic_processing_wait_mins: u32,
    /// Longest wait for a product shard to answer an import, refresh or deletion, in
    /// seconds.
    pub shard_call_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationSettings {
    /// How often due insights (`process_after` passed) are applied automatically, in seconds.
    pub auto_apply_interval_secs: u64,
    /// Random spread around that interval, in seconds.
    pub auto_apply_jitter_secs: u64,
    /// Most insights applied by one run of the automatic processing.
    pub auto_apply_batch: i64,
    /// Longest wait for a product shard to answer an annotation, in seconds.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Run with other nodes sharing one PostgreSQL and one Redis.
    pub enabled: bool,
    /// Name of this node; empty = host name and process id.
    #[serde(default)]
    pub node_id: String,
    pub heartbeat_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    /// How often the taxonomies are checked for a newer version, in seconds (0: never).
    pub taxonomy_refresh_interval_secs: u64,
    /// When old temporary directories are removed, every day.
    pub tmp_cleanup_at: DailyTime,
    /// `tmp*` directories of the system temporary directory older than this are removed,
    /// in hours.
    pub tmp_max_age_hours: u64,
    /// When the product dump is downloaded (if it changed) and imported, every day.
    pub dataset_refresh_at: DailyTime,
    /// When predictions and insights are checked against the product dump, every day.
    pub dump_cleanup_at: DailyTime,
    /// URL of the JSONL product dump; empty: no dataset download and no dump cleanup.
    #[serde(default)]
    pub dataset_url: String,
    /// A downloaded dump with fewer readable products is rejected.
    pub dataset_min_products: u64,
    /// Where the product dump and its ETag are kept.
    pub datasets_dir: PathBuf,
}

impl SchedulerSettings {
    /// The dump URL, treating an empty string as unset.
    pub fn dataset_url(&self) -> Option<&str> {
        Some(self.dataset_url.trim()).filter(|u| !u.is_empty())
    }
}

/// A time of day in UTC, written `HH:MM` (`"15:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTime(pub chrono::NaiveTime);

impl std::str::FromStr for DailyTime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map(DailyTime)
            .map_err(|_| format!("expected a UTC time of day as HH:MM, not {s:?}"))
    }
}

impl std::fmt::Display for DailyTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl<'de> Deserialize<'de> for DailyTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for DailyTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter (`info`, `robotoff=debug,sqlx=warn`).
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The defaults, compiled in: the committed `config.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../config.toml");

/// Overrides given on the command line, applied last. Keys are dotted paths
/// (`http.addr`) with TOML values.
#[derive(Debug, Clone, Default)]
pub struct Overrides(pub Vec<(String, toml::Value)>);

impl Overrides {
    pub fn set(&mut self, key: &str, value: impl Into<toml::Value>) {
        self.0.push((key.to_string(), value.into()));
    }
}

impl Settings {
    /// Loads the built-in defaults, then `file` (if given; must exist), then `ROBOTOFF__…`
    /// environment variables, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, overrides, std::env::vars())
    }

    /// As [`Settings::load`], with an explicit environment (tests).
    pub fn load_with_env(
        file: Option<&Path>,
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_CONFIG));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        figment = figment.merge(env_provider(env));
        for (key, value) in &overrides.0 {
            figment = figment.merge(Serialized::default(key, value));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.workers.shards == 0 {
            return Err(ConfigError::Invalid(
                "workers.shards must be at least 1".into(),
            ));
        }
        if self.workers.max_attempts < 1 {
            return Err(ConfigError::Invalid(
                "workers.max_attempts must be at least 1".into(),
            ));
        }
        if self.annotation.auto_apply_interval_secs == 0 || self.annotation.auto_apply_batch < 1 {
            return Err(ConfigError::Invalid(
                "annotation.auto_apply_interval_secs and annotation.auto_apply_batch must be at least 1"
                    .into(),
            ));
        }
        if self.roles.is_empty() {
            return Err(ConfigError::Invalid(
                "roles must name at least one role".into(),
            ));
        }
        if !matches!(self.redis.start_from.as_str(), "latest" | "beginning") {
            return Err(ConfigError::Invalid(format!(
                "redis.start_from must be latest or beginning, not {:?}",
                self.redis.start_from
            )));
        }
        if !self.workers.update_wait_secs.is_finite() || self.workers.update_wait_secs < 0.0 {
            return Err(ConfigError::Invalid(
                "workers.update_wait_secs must be a non-negative number".into(),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid(format!(
                "log.format must be text or json, not {:?}",
                self.log.format
            )));
        }
        Ok(())
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The node name used for job leases and cluster membership.
    pub fn node_id(&self) -> String {
        if !self.cluster.node_id.is_empty() {
            return self.cluster.node_id.clone();
        }
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let host = if host.is_empty() {
            "node".to_string()
        } else {
            host
        };
        format!("{host}-{}", std::process::id())
    }
}

/// Environment variables as a figment provider: `ROBOTOFF__A__B=v` → `a.b = v`.
fn env_provider(vars: Vec<(String, String)>) -> Serialized<toml::Value> {
    let mut root = toml::Table::new();
    for (key, raw) in vars {
        let path: Vec<String> = key[ENV_PREFIX.len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        insert_path(&mut root, &path, parse_env_value(&raw));
    }
    Serialized::defaults(toml::Value::Table(root))
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// An environment value is read as a TOML value when it is one (`6`, `true`, `["a"]`),
/// otherwise as a string.
fn parse_env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        // Times and dates (`15:00`) stay text: settings read them from strings.
        Ok(mut t) => match t.remove("v") {
            Some(toml::Value::Datetime(_)) | None => toml::Value::String(raw.to_string()),
            Some(value) => value,
        },
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// One line per figment error, naming the key and where its value came from.
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!(" (key `{}`)", e.path.join("."))
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" in {}", m.name))
                .unwrap_or_default();
            format!("{}{key}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn committed_defaults_load() {
        let s =
            Settings::load_with_env(None, &Overrides::default(), no_env()).expect("defaults load");
        assert!(s.database.url().is_none());
        assert_eq!(s.workers.shards, 6);
        assert_eq!(s.roles.len(), 4);
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(f, "[http]\naddr = \"127.0.0.1:1\"\nbogus_key = 3").expect("write");
        let err =
            Settings::load_with_env(Some(f.path()), &Overrides::default(), no_env()).unwrap_err();
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
        let s = Settings::load_with_env(Some(f.path()), &Overrides::default(), env.clone())
            .expect("load");
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
}
