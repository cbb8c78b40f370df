//! The Triton client (KServe v2 gRPC): a pool of channels per endpoint, per-model
//! endpoints (`[triton.models.<name>] url`), a deadline per call, retries with backoff
//! when the server is unavailable or slow, and a circuit breaker per endpoint. Every
//! call is counted and timed per model.

use super::breaker::{Breaker, BreakerState};
use super::proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use super::proto::model_infer_request::InferRequestedOutputTensor;
use super::proto::{ModelInferRequest, ModelReadyRequest, ServerLiveRequest};
use super::tensor::{Output, Tensor};
use crate::config::TritonSettings;
use crate::infra::metrics;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

/// Why a call to Triton gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TritonError {
    #[error("Triton at {url} is unavailable: {detail}")]
    Unavailable { url: String, detail: String },
    #[error("Triton at {url} failed repeatedly: its circuit breaker is open")]
    BreakerOpen { url: String },
    #[error("Triton refused the request to model {model}: {code}: {message}")]
    Refused {
        model: String,
        code: String,
        message: String,
    },
    #[error("unexpected exchange with model {model}: {detail}")]
    Protocol { model: String, detail: String },
    #[error("invalid Triton endpoint {url}: {detail}")]
    InvalidEndpoint { url: String, detail: String },
}

impl TritonError {
    /// Whether the same call may work later (Triton down, slow, or cooling down).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::BreakerOpen { .. })
    }
}

/// gRPC codes that mean "try again later".
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted
    )
}

struct Endpoint {
    url: String,
    channels: Vec<GrpcInferenceServiceClient<Channel>>,
    next: AtomicUsize,
    breaker: Breaker,
}

impl Endpoint {
    fn new(url: &str, settings: &TritonSettings) -> Result<Endpoint, TritonError> {
        let invalid = |detail: String| TritonError::InvalidEndpoint {
            url: url.to_string(),
            detail,
        };
        let full = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let endpoint = tonic::transport::Endpoint::from_shared(full)
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
            .tcp_nodelay(true);
        let channels = (0..settings.pool_size.max(1))
            .map(|_| {
                GrpcInferenceServiceClient::new(endpoint.connect_lazy())
                    .max_decoding_message_size(256 * 1024 * 1024)
            })
            .collect();
        Ok(Endpoint {
            url: url.to_string(),
            channels,
            next: AtomicUsize::new(0),
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_millis(settings.breaker_cooldown_ms),
            ),
        })
    }

    fn channel(&self) -> GrpcInferenceServiceClient<Channel> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len().max(1);
        // `channels` is never empty (pool_size ≥ 1); cloning a client clones a handle.
        self.channels[i].clone()
    }
}

/// A client for every configured Triton endpoint. Cheap to share (`Arc`).
pub struct TritonClient {
    default_url: String,
    /// Model → endpoint URL, for models with their own endpoint.
    model_urls: HashMap<String, String>,
    endpoints: HashMap<String, Arc<Endpoint>>,
    timeout: Duration,
    retries: u32,
    retry_base: Duration,
}

impl std::fmt::Debug for TritonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TritonClient")
            .field("default_url", &self.default_url)
            .field("model_urls", &self.model_urls)
            .finish_non_exhaustive()
    }
}

impl TritonClient {
    /// Channels are opened lazily: a Triton that is away at start is no error.
    pub fn new(settings: &TritonSettings) -> Result<TritonClient, TritonError> {
        let mut endpoints = HashMap::new();
        let mut model_urls = HashMap::new();
        endpoints.insert(
            settings.url.clone(),
            Arc::new(Endpoint::new(&settings.url, settings)?),
        );
        for (model, m) in &settings.models {
            if let Some(url) = m.url.as_deref().filter(|u| !u.trim().is_empty()) {
                model_urls.insert(model.clone(), url.to_string());
                if !endpoints.contains_key(url) {
                    endpoints.insert(url.to_string(), Arc::new(Endpoint::new(url, settings)?));
                }
            }
        }
        Ok(TritonClient {
            default_url: settings.url.clone(),
            model_urls,
            endpoints,
            timeout: Duration::from_millis(settings.timeout_ms.max(1)),
            retries: settings.retries,
            retry_base: Duration::from_millis(settings.retry_base_ms),
        })
    }

    fn endpoint_of(&self, model: &str) -> Result<&Arc<Endpoint>, TritonError> {
        let url = self.model_urls.get(model).unwrap_or(&self.default_url);
        self.endpoints
            .get(url)
            .ok_or_else(|| TritonError::InvalidEndpoint {
                url: url.clone(),
                detail: "no channel for this endpoint".into(),
            })
    }

    /// The endpoint of `model`.
    pub fn url_of(&self, model: &str) -> &str {
        self.model_urls.get(model).unwrap_or(&self.default_url)
    }

    /// Every endpoint with the state of its breaker.
    pub fn breakers(&self) -> Vec<(String, BreakerState)> {
        let now = Instant::now();
        let mut out: Vec<(String, BreakerState)> = self
            .endpoints
            .values()
            .map(|e| (e.url.clone(), e.breaker.state(now)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Runs `model` (version "" = latest) on `inputs` and returns `outputs`, in order.
    pub async fn infer(
        &self,
        model: &str,
        version: &str,
        inputs: &[Tensor],
        outputs: &[&str],
    ) -> Result<Vec<Output>, TritonError> {
        for t in inputs {
            if t.len() != t.expected_len() {
                return Err(TritonError::Protocol {
                    model: model.to_string(),
                    detail: format!(
                        "input {} has {} values for shape {:?}",
                        t.name,
                        t.len(),
                        t.shape
                    ),
                });
            }
        }
        let batch = inputs
            .first()
            .and_then(|t| t.shape.first())
            .copied()
            .unwrap_or(1);
        let request = ModelInferRequest {
            model_name: model.to_string(),
            model_version: version.to_string(),
            id: String::new(),
            parameters: Default::default(),
            inputs: inputs.iter().map(Tensor::header).collect(),
            outputs: outputs
                .iter()
                .map(|name| InferRequestedOutputTensor {
                    name: name.to_string(),
                    parameters: Default::default(),
                })
                .collect(),
            raw_input_contents: inputs.iter().map(Tensor::raw).collect(),
        };
        let endpoint = self.endpoint_of(model)?;
        let clock = Instant::now();
        let mut attempt = 0u32;
        loop {
            if !endpoint.breaker.allow(Instant::now()) {
                metrics::triton_call(model, "breaker_open", "none", clock.elapsed(), batch);
                return Err(TritonError::BreakerOpen {
                    url: endpoint.url.clone(),
                });
            }
            let mut call = tonic::Request::new(request.clone());
            call.set_timeout(self.timeout);
            let answer = endpoint.channel().model_infer(call).await;
            match answer {
                Ok(response) => {
                    endpoint.breaker.success();
                    let response = response.into_inner();
                    let result = collect_outputs(model, outputs, response);
                    let outcome = if result.is_ok() {
                        "ok"
                    } else {
                        "protocol_error"
                    };
                    metrics::triton_call(model, outcome, "ok", clock.elapsed(), batch);
                    return result;
                }
                Err(status) if retryable(status.code()) => {
                    if endpoint.breaker.failure(Instant::now()) {
                        metrics::triton_breaker_opened(&endpoint.url);
                        tracing::warn!(url = %endpoint.url, "Triton circuit breaker opened");
                    }
                    attempt += 1;
                    if attempt > self.retries {
                        metrics::triton_call(
                            model,
                            "unavailable",
                            code_label(status.code()),
                            clock.elapsed(),
                            batch,
                        );
                        return Err(TritonError::Unavailable {
                            url: endpoint.url.clone(),
                            detail: status.message().to_string(),
                        });
                    }
                    metrics::triton_retry(model);
                    let delay = self.retry_base.saturating_mul(1 << attempt.min(6));
                    tokio::time::sleep(delay).await;
                }
                Err(status) => {
                    // The server answered: it is up, the request is at fault.
                    endpoint.breaker.success();
                    metrics::triton_call(
                        model,
                        "refused",
                        code_label(status.code()),
                        clock.elapsed(),
                        batch,
                    );
                    return Err(TritonError::Refused {
                        model: model.to_string(),
                        code: format!("{:?}", status.code()),
                        message: status.message().to_string(),
                    });
                }
            }
        }
    }

    /// Whether the server of `url` answers that it is live.
    pub async fn server_live(&self, url: &str) -> Result<bool, TritonError> {
        let endpoint = self
            .endpoints
            .get(url)
            .ok_or_else(|| TritonError::InvalidEndpoint {
                url: url.to_string(),
                detail: "not a configured endpoint".into(),
            })?;
        let mut call = tonic::Request::new(ServerLiveRequest {});
        call.set_timeout(self.timeout);
        match endpoint.channel().server_live(call).await {
            Ok(r) => Ok(r.into_inner().live),
            Err(status) => Err(TritonError::Unavailable {
                url: url.to_string(),
                detail: status.message().to_string(),
            }),
        }
    }

    /// Whether `model` (version "" = latest) is loaded and ready on its endpoint.
    pub async fn model_ready(&self, model: &str, version: &str) -> Result<bool, TritonError> {
        let endpoint = self.endpoint_of(model)?;
        let mut call = tonic::Request::new(ModelReadyRequest {
            name: model.to_string(),
            version: version.to_string(),
        });
        call.set_timeout(self.timeout);
        match endpoint.channel().model_ready(call).await {
            Ok(r) => Ok(r.into_inner().ready),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(TritonError::Unavailable {
                url: endpoint.url.clone(),
                detail: status.message().to_string(),
            }),
        }
    }
}

/// The requested outputs of an answer, in the order asked, with their raw contents.
fn collect_outputs(
    model: &str,
    wanted: &[&str],
    response: super::proto::ModelInferResponse,
) -> Result<Vec<Output>, TritonError> {
    let protocol = |detail: String| TritonError::Protocol {
        model: model.to_string(),
        detail,
    };
    if response.raw_output_contents.len() != response.outputs.len() {
        return Err(protocol(format!(
            "{} outputs but {} raw contents (outputs must come as raw contents)",
            response.outputs.len(),
            response.raw_output_contents.len()
        )));
    }
    let answered: HashMap<&str, usize> = response
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name.as_str(), i))
        .collect();
    wanted
        .iter()
        .map(|name| {
            let i = *answered
                .get(name)
                .ok_or_else(|| protocol(format!("no output {name} in the answer")))?;
            Ok(Output::new(
                &response.outputs[i],
                response.raw_output_contents[i].clone(),
            ))
        })
        .collect()
}

fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}
