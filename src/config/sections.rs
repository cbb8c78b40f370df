//! Every setting of the service, section by section, as `config.toml` documents them.

use crate::types::ServerType;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

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
    pub ml: MlSettings,
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

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Workers => "workers",
            Role::Scheduler => "scheduler",
            Role::Listener => "listener",
        }
    }
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
    #[serde(default = "no_secret", skip_serializing)]
    pub batch_job_key: SecretString,
    /// Serve the webhook routes Product Opener called before its Redis streams.
    #[serde(default)]
    pub webhooks: bool,
    /// Shared secret of the webhook calls (bearer token, or key of the body's
    /// HMAC-SHA256 in `X-Robotoff-Signature`); required when `webhooks` is on.
    #[serde(default = "no_secret", skip_serializing)]
    pub webhook_secret: SecretString,
    /// Bearer token of the operator routes (dataset refresh, image prediction import);
    /// empty: those routes are refused.
    #[serde(default = "no_secret", skip_serializing)]
    pub operator_token: SecretString,
    /// Bearer token of the operations page's writes (retrying dead jobs); empty: the
    /// page is read-only and those routes are refused.
    #[serde(default = "no_secret", skip_serializing)]
    pub admin_token: SecretString,
    /// How long credentials Product Opener accepted are remembered, in seconds.
    pub auth_cache_secs: u64,
    /// Origins allowed to call the API from a browser (CORS), credentials included. A
    /// `*` stands for a port (`http://127.0.0.1:*`) or for the start of a host name
    /// (`https://*.openfoodfacts.org`). Other origins get no CORS headers.
    #[serde(deserialize_with = "de_list")]
    pub cors_origins: Vec<String>,
    /// Largest `count` of a listing; more is a 400.
    pub max_count: i64,
    /// Listings kept in memory at most, in bytes.
    pub listing_cache_bytes: u64,
    /// Requests computing OCR predictions or image predictions at once; others wait.
    pub heavy_requests: usize,
    /// Largest image decoded for a request or a job, in pixels.
    pub max_image_pixels: u64,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers are believed when telling
    /// clients apart (for anonymous votes); others' are ignored.
    #[serde(deserialize_with = "de_list")]
    pub trusted_proxies: Vec<String>,
}

fn no_secret() -> SecretString {
    SecretString::from(String::new())
}

/// A list written as a TOML array or as a comma-separated string (environment).
fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::List(items) => items,
        Raw::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    })
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// PostgreSQL URL; empty = a private PostgreSQL run by the service under `local_dir`.
    #[serde(default, skip_serializing)]
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// Directory of the private PostgreSQL cluster used when `url` is empty.
    pub local_dir: PathBuf,
}

impl DatabaseSettings {
    /// The configured URL, treating an empty string as unset.
    pub fn url(&self) -> Option<&str> {
        self.url
            .as_ref()
            .map(|u| u.expose_secret())
            .filter(|u| !u.trim().is_empty())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// Redis URL; empty = no Redis (single node, no update listener).
    #[serde(default, skip_serializing)]
    pub url: Option<SecretString>,
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
        self.url
            .as_ref()
            .map(|u| u.expose_secret())
            .filter(|u| !u.trim().is_empty())
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
    /// Scalar kind of the stored vectors: `f32`, `f16`, `bf16` or `i8`.
    pub quantization: String,
    /// Graph connectivity (HNSW `M`).
    pub connectivity: usize,
    /// Candidates kept while adding a vector (`efConstruction`).
    pub expansion_add: usize,
    /// Candidates kept while searching (`ef`).
    pub expansion_search: usize,
    /// How often the index catches up with the logo changes in PostgreSQL, in
    /// milliseconds.
    pub sync_interval_ms: u64,
    /// A changed index is saved at most this often, in seconds (and when the node stops).
    pub save_interval_secs: u64,
    /// Threads of a rebuild (0: every core).
    pub build_threads: usize,
    /// Logged logo changes are kept this many days; an index saved before that is
    /// rebuilt.
    pub change_retention_days: i64,
    /// Unannotated logos whose neighbours are older than this many days are voted again
    /// every `refresh_interval_hours` (0: never), `refresh_batch` logos read at a time.
    pub refresh_after_days: u32,
    pub refresh_interval_hours: u64,
    pub refresh_batch: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductOpenerSettings {
    /// Robotoff's own Product Opener account (automatic edits).
    #[serde(default)]
    pub user: String,
    #[serde(default = "no_secret", skip_serializing)]
    pub password: SecretString,
    /// `user:password` sent as HTTP Basic auth with every request (staging servers
    /// need `off:off`); empty = none.
    #[serde(default = "no_secret", skip_serializing)]
    pub request_auth: SecretString,
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
    /// gRPC endpoint of the Triton inference server (`host:port` or `http://host:port`).
    pub url: String,
    /// Deadline of one call, in milliseconds.
    pub timeout_ms: u64,
    /// Deadline of connecting, in seconds.
    pub connect_timeout_secs: u64,
    /// gRPC channels kept open per endpoint.
    pub pool_size: usize,
    /// Retries of a call that found Triton unavailable or slow, the first after
    /// `retry_base_ms`, doubling.
    pub retries: u32,
    pub retry_base_ms: u64,
    /// Failures in a row that open an endpoint's circuit breaker, and how long it stays
    /// open before one probe call is let through.
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
    /// How often the readiness of every model is checked, in seconds.
    pub health_interval_secs: u64,
    /// Per model: its own endpoint (Robotoff's `TRITON_URI_*`), and how many of its
    /// calls run at once.
    #[serde(default)]
    pub models: std::collections::BTreeMap<String, TritonModelSettings>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TritonModelSettings {
    /// Endpoint of this model; empty: `triton.url`.
    #[serde(default)]
    pub url: Option<String>,
    /// Calls of this model running at once.
    #[serde(default = "one")]
    pub concurrency: usize,
    /// The model's directory for the text models (`ingredient-ner`,
    /// `nutrition_extractor`): its `tokenizer.json`, and optionally
    /// `tokenizer_config.json` (`model_max_length`) and `config.json` (`id2label`).
    /// Without it the model's steps and endpoints answer that it is not configured.
    #[serde(default)]
    pub model_dir: Option<String>,
}

fn one() -> usize {
    1
}

/// The model steps of image import (object detection, logo embeddings, fingerprints).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MlSettings {
    /// Model-step jobs in progress at once on this node (fetching, decoding, waiting for
    /// Triton, committing); each model's calls are further bounded by its `concurrency`.
    pub max_jobs: u32,
    /// Logo crops per CLIP call at most (Robotoff: 32), and how long a partial batch
    /// waits for crops of other images, in milliseconds.
    pub clip_batch: usize,
    pub clip_linger_ms: u64,
    /// Detection threshold of the import pipeline (Robotoff: 0.1).
    pub detection_threshold: f32,
    /// How boxes are given to non-maximum suppression: `robotoff` as Robotoff does
    /// today (real boxes); `legacy` as Robotoff did before its detector moved to the
    /// Python SDK (relative `[y_min, x_min, y_max, x_max]` rows read as `x, y, w, h`),
    /// to reproduce detections stored by those versions.
    pub nms_box_order: NmsBoxOrderSetting,
    /// Which pads undo the letterbox: `exact` (the real ones) or `robotoff` (the
    /// SDK's, one letterboxed pixel off on some sizes).
    pub box_geometry: BoxGeometrySetting,
    /// While Triton is unavailable a model step waits this long, in seconds, doubling
    /// at each try up to `workers.retry_max_secs`, without using up its attempts.
    pub unavailable_retry_secs: u64,
    /// A fastText language server (`POST {url}/predict?k=1&threshold=0.0`, Robotoff's
    /// `FASTTEXT_SERVER_URI`) for the language of ingredient lists; empty: the embedded
    /// identifier.
    #[serde(default)]
    pub langid_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NmsBoxOrderSetting {
    Robotoff,
    Legacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxGeometrySetting {
    Exact,
    Robotoff,
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
    /// Agreeing anonymous votes that settle an insight (Robotoff: 3).
    pub votes_to_apply: i64,
    /// Whether settled anonymous votes apply their edit (with the service's account);
    /// off: the insight stays open for a signed-in user.
    pub anonymous_votes_apply: bool,
    /// Annotations waiting for a shard's answer at most, per shard; more get a 503.
    pub queue_per_shard: usize,
    /// When the edits of an annotation that could not all be sent are tried again,
    /// in seconds after the annotation (and with backoff after that).
    pub edit_resume_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Run with other nodes sharing one PostgreSQL and one Redis.
    pub enabled: bool,
    /// Name of this node; empty = host name and process id.
    #[serde(default)]
    pub node_id: String,
    /// Name of the cluster: the prefix of its Redis keys and channels (several
    /// clusters may share one Redis).
    pub name: String,
    /// Membership heartbeat period, in milliseconds; a node silent for three periods
    /// is gone.
    pub heartbeat_ms: u64,
    /// How long the update listener's lease lasts without renewal, in milliseconds
    /// (renewed every heartbeat; a dead holder is replaced after at most this).
    pub lease_ms: u64,
    /// How often the generations of notices are read from PostgreSQL, to catch up with
    /// any notice lost on the way, in milliseconds.
    pub repair_ms: u64,
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
