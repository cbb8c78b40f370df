//! Why a Product Opener call failed, split into "try again later" and "will not work".

/// A failed Product Opener call. [`PoError::is_retryable`] separates outages (5xx,
/// unreachable, timeout) from requests Product Opener refused or answered oddly.
#[derive(Debug, thiserror::Error)]
pub enum PoError {
    /// Product Opener answered 5xx.
    #[error("{action}: Product Opener answered HTTP {status}: {body}")]
    ServerError {
        action: String,
        status: u16,
        body: String,
    },
    /// No answer: connection refused or reset, DNS, TLS, or the timeout passed.
    #[error("{action}: Product Opener is unreachable: {detail}")]
    Unreachable { action: String, detail: String },
    /// Product Opener answered 4xx.
    #[error("{action}: Product Opener refused the request with HTTP {status}: {body}")]
    Rejected {
        action: String,
        status: u16,
        body: String,
    },
    /// An answer that is not what the protocol promises (not JSON, `errors` in a v3
    /// answer, an unexpected status).
    #[error("{action}: unexpected answer from Product Opener: {detail}")]
    Protocol { action: String, detail: String },
    /// Neither a session cookie nor a password to send.
    #[error("{action}: a password or a session cookie is required")]
    NoCredentials { action: String },
    /// The request itself cannot be built (bad URL, bad rotation angle).
    #[error("{action}: {detail}")]
    InvalidRequest { action: String, detail: String },
}

impl PoError {
    /// Whether the same call may succeed later: Product Opener was down or slow.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::ServerError { .. } | Self::Unreachable { .. })
    }

    /// Metric label of the error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ServerError { .. } => "server_error",
            Self::Unreachable { .. } => "unreachable",
            Self::Rejected { .. } => "rejected",
            Self::Protocol { .. } => "protocol",
            Self::NoCredentials { .. } => "no_credentials",
            Self::InvalidRequest { .. } => "invalid_request",
        }
    }

    /// Maps a transport error of `action`.
    pub(super) fn transport(action: &str, err: reqwest::Error) -> Self {
        if err.is_builder() {
            return Self::InvalidRequest {
                action: action.to_string(),
                detail: err.to_string(),
            };
        }
        if err.is_decode() {
            return Self::Protocol {
                action: action.to_string(),
                detail: err.to_string(),
            };
        }
        let detail = if err.is_timeout() {
            format!("timed out ({err})")
        } else {
            error_chain(&err)
        };
        Self::Unreachable {
            action: action.to_string(),
            detail,
        }
    }

    /// Maps a non-success HTTP status of `action`.
    pub(super) fn status(action: &str, status: u16, body: String) -> Self {
        let body = truncate(body);
        if status >= 500 {
            Self::ServerError {
                action: action.to_string(),
                status,
                body,
            }
        } else if (400..500).contains(&status) {
            Self::Rejected {
                action: action.to_string(),
                status,
                body,
            }
        } else {
            Self::Protocol {
                action: action.to_string(),
                detail: format!("HTTP {status}: {body}"),
            }
        }
    }

    pub(super) fn protocol(action: &str, detail: impl Into<String>) -> Self {
        Self::Protocol {
            action: action.to_string(),
            detail: truncate(detail.into()),
        }
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Bodies are kept short in errors and logs.
fn truncate(mut text: String) -> String {
    const MAX: usize = 500;
    if text.len() > MAX {
        let mut cut = MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}
