//! Readiness of Triton: whether each endpoint is live and each configured model ready.

use super::client::{TritonClient, TritonError};
use std::time::SystemTime;

/// One model's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelHealth {
    pub model: String,
    pub url: String,
    pub ready: bool,
    /// Why it could not be checked, if it could not.
    pub error: Option<String>,
}

/// The last check of every configured model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TritonHealth {
    pub checked_at: SystemTime,
    pub models: Vec<ModelHealth>,
}

impl TritonHealth {
    /// Whether every model is ready.
    pub fn all_ready(&self) -> bool {
        self.models.iter().all(|m| m.ready)
    }
}

/// Checks `models` (version "" = latest).
pub async fn check(client: &TritonClient, models: &[String]) -> TritonHealth {
    let mut out = Vec::with_capacity(models.len());
    for model in models {
        let answer = client.model_ready(model, "").await;
        let (ready, error) = match answer {
            Ok(true) => (true, None),
            Ok(false) => (false, Some("not loaded".to_string())),
            Err(e @ TritonError::Unavailable { .. }) => (false, Some(e.to_string())),
            Err(e) => (false, Some(e.to_string())),
        };
        out.push(ModelHealth {
            model: model.clone(),
            url: client.url_of(model).to_string(),
            ready,
            error,
        });
    }
    TritonHealth {
        checked_at: SystemTime::now(),
        models: out,
    }
}
