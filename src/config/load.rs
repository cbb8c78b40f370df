//! Loading the settings: the built-in defaults (the committed `config.toml`), then a
//! file, then `ROBOTOFF__SECTION__KEY` environment variables, then command-line flags;
//! unknown keys and invalid values are errors naming the key.

use super::sections::{Role, Settings};
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use secrecy::ExposeSecret;
use std::path::{Path, PathBuf};

/// Prefix of the environment variables that override settings (`ROBOTOFF__HTTP__ADDR`).
pub const ENV_PREFIX: &str = "ROBOTOFF__";

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The defaults, compiled in: the committed `config.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../config.toml");

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
        if !["f32", "f16", "bf16", "i8"].contains(&self.index.quantization.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "index.quantization must be f32, f16, bf16 or i8, not {:?}",
                self.index.quantization
            )));
        }
        if self.index.connectivity < 2
            || self.index.expansion_add == 0
            || self.index.expansion_search == 0
        {
            return Err(ConfigError::Invalid(
                "index.connectivity must be at least 2, index.expansion_add and index.expansion_search at least 1".into(),
            ));
        }
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
        if self.http.webhooks && self.http.webhook_secret.expose_secret().is_empty() {
            return Err(ConfigError::Invalid(
                "http.webhooks needs http.webhook_secret (ROBOTOFF__HTTP__WEBHOOK_SECRET)".into(),
            ));
        }
        if self.http.max_count < 1 {
            return Err(ConfigError::Invalid(
                "http.max_count must be at least 1".into(),
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
