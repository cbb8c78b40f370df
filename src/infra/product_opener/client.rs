//! The Product Opener client: one shared HTTP client, per-flavor URLs, credentials, timeouts.

use super::error::PoError;
use crate::config::{FlavorUrls, ProductOpenerSettings};
use crate::types::ServerType;
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// User-Agent of every request, as Robotoff sends it.
pub const USER_AGENT: &str = "Robotoff Live Analysis";
/// Form posts (`product_jqm2.pl`, unselect, move) and v3 patches.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
/// Image crop / select / rotate.
pub const CROP_TIMEOUT: Duration = Duration::from_secs(30);
/// Product reads.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Product type lookups.
pub const PRODUCT_TYPE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whose account a write is made with. Secrets print redacted.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// The user's Product Opener session cookie, sent as cookie `session`.
    Session(SecretString),
    /// A user name and password, sent as `user_id` / `password` fields.
    Password {
        user_id: String,
        password: SecretString,
    },
    /// Robotoff's own account (`product_opener.user` / `password`): votes and
    /// automatic edits.
    Robotoff,
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Session(a), Self::Session(b)) => a.expose_secret() == b.expose_secret(),
            (
                Self::Password {
                    user_id: a,
                    password: pa,
                },
                Self::Password {
                    user_id: b,
                    password: pb,
                },
            ) => a == b && pa.expose_secret() == pb.expose_secret(),
            (Self::Robotoff, Self::Robotoff) => true,
            _ => false,
        }
    }
}

impl Eq for Credentials {}

/// The credentials actually sent: a cookie, or form fields.
pub(super) enum Sent {
    Cookie(SecretString),
    Fields {
        user_id: String,
        password: SecretString,
    },
}

/// A Product Opener client for every flavor. Cheap to clone; all clones (and all
/// clients of the process) share one connection pool.
#[derive(Clone)]
pub struct ProductOpener {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    flavors: [FlavorUrls; 5],
    user: String,
    password: SecretString,
    /// HTTP Basic credentials sent with every request (staging servers).
    request_auth: Option<(String, SecretString)>,
}

impl std::fmt::Debug for ProductOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductOpener")
            .field("off", &self.inner.flavors[0].api_url)
            .field("user", &self.inner.user)
            .finish()
    }
}

/// The process-wide HTTP client (connection pool, User-Agent).
fn shared_http() -> Result<reqwest::Client, PoError> {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = HTTP.get() {
        return Ok(c.clone());
    }
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| PoError::InvalidRequest {
            action: "building the Product Opener HTTP client".into(),
            detail: e.to_string(),
        })?;
    Ok(HTTP.get_or_init(|| client).clone())
}

impl ProductOpener {
    /// A client for the configured flavors and accounts.
    pub fn new(settings: &ProductOpenerSettings) -> Result<Self, PoError> {
        let request_auth = match settings.request_auth.expose_secret().trim() {
            "" => None,
            text => match text.split_once(':') {
                Some((u, p)) => Some((u.to_string(), SecretString::from(p.to_string()))),
                None => Some((text.to_string(), SecretString::from(String::new()))),
            },
        };
        Ok(ProductOpener {
            inner: Arc::new(Inner {
                http: shared_http()?,
                flavors: ServerType::ALL.map(|st| settings.flavor(st).clone()),
                user: settings.user.clone(),
                password: settings.password.clone(),
                request_auth,
            }),
        })
    }

    /// Base URLs of a flavor.
    pub fn urls(&self, server_type: ServerType) -> &FlavorUrls {
        let i = ServerType::ALL
            .iter()
            .position(|s| *s == server_type)
            .unwrap_or(0);
        // `flavors` has one entry per ServerType::ALL element.
        &self.inner.flavors[i]
    }

    pub(super) fn api(&self, server_type: ServerType, path: &str) -> String {
        format!(
            "{}{path}",
            self.urls(server_type).api_url.trim_end_matches('/')
        )
    }

    /// The shared HTTP client (its connection pool and user agent).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// A request with the common headers and the staging Basic auth.
    pub(super) fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let mut rb = self.inner.http.request(method, url).timeout(timeout);
        if let Some((u, p)) = &self.inner.request_auth {
            rb = rb.basic_auth(u, Some(p.expose_secret()));
        }
        rb
    }

    /// Resolves `creds` to what is sent; an error when there is no password or cookie.
    pub(super) fn resolve(&self, action: &str, creds: &Credentials) -> Result<Sent, PoError> {
        let sent = match creds {
            Credentials::Session(cookie) if !cookie.expose_secret().is_empty() => {
                Sent::Cookie(cookie.clone())
            }
            Credentials::Session(_) => None.ok_or_else(|| no_creds(action))?,
            Credentials::Password { user_id, password } => Sent::Fields {
                user_id: user_id.clone(),
                password: password.clone(),
            },
            Credentials::Robotoff => Sent::Fields {
                user_id: self.inner.user.clone(),
                password: self.inner.password.clone(),
            },
        };
        match &sent {
            Sent::Fields { password, .. } if password.expose_secret().is_empty() => {
                Err(no_creds(action))
            }
            _ => Ok(sent),
        }
    }
}

fn no_creds(action: &str) -> PoError {
    PoError::NoCredentials {
        action: action.to_string(),
    }
}
