//! Downloads from Product Opener's image hosts only: OCR JSON and product images for the
//! prediction and crop endpoints. A URL whose origin is not one of the configured
//! image hosts is refused before any connection, redirects are not followed, and
//! every download has a timeout and a size cap.

use std::time::Duration;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URL {0}")]
    InvalidUrl(String),
    #[error("{0} is not on a Product Opener image host")]
    HostNotAllowed(String),
    #[error("downloading {url}: {detail}")]
    Download { url: String, detail: String },
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("downloading {url}: HTTP status {status}")]
    Status { url: String, status: u16 },
}

impl FetchError {
    /// Whether the same download may work later (the host was down or slow).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Download { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether the host answered that there is no such file (404 or 410).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Status {
                status: 404 | 410,
                ..
            }
        )
    }
}

/// A client for the configured image hosts.
#[derive(Debug, Clone)]
pub struct ImageHosts {
    client: reqwest::Client,
    /// (scheme, host, port) of each allowed origin.
    origins: Vec<(String, String, Option<u16>)>,
    max_bytes: usize,
}

impl ImageHosts {
    /// Allows the origins of `bases` (the flavors' `images_url`).
    pub fn new<'a>(
        bases: impl IntoIterator<Item = &'a str>,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<ImageHosts, FetchError> {
        let mut origins = Vec::new();
        for base in bases {
            let url = Url::parse(base).map_err(|_| FetchError::InvalidUrl(base.to_string()))?;
            origins.push(origin(&url).ok_or_else(|| FetchError::InvalidUrl(base.to_string()))?);
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Robotoff Live Analysis")
            .build()
            .map_err(|e| FetchError::Download {
                url: String::new(),
                detail: e.to_string(),
            })?;
        Ok(ImageHosts {
            client,
            origins,
            max_bytes,
        })
    }

    /// The image hosts of every configured flavor, with the request timeout and size
    /// cap of the settings.
    pub fn for_settings(settings: &crate::config::Settings) -> Result<ImageHosts, FetchError> {
        let po = &settings.product_opener;
        ImageHosts::new(
            crate::types::ServerType::ALL
                .iter()
                .map(|st| po.flavor(*st).images_url.as_str()),
            Duration::from_secs(settings.http.downstream_timeout_secs),
            settings.http.max_download_bytes,
        )
    }

    /// Whether `url` is on an allowed image host (same scheme, host and port).
    pub fn check(&self, url: &str) -> Result<Url, FetchError> {
        let parsed = Url::parse(url).map_err(|_| FetchError::InvalidUrl(url.to_string()))?;
        let o = origin(&parsed).ok_or_else(|| FetchError::InvalidUrl(url.to_string()))?;
        if self.origins.contains(&o) {
            Ok(parsed)
        } else {
            Err(FetchError::HostNotAllowed(url.to_string()))
        }
    }

    /// The body of `url`, which must be on an allowed host and answer 2xx.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let parsed = self.check(url)?;
        let fail = |detail: String| FetchError::Download {
            url: url.to_string(),
            detail,
        };
        let mut resp = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                limit: self.max_bytes,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    limit: self.max_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn origin(url: &Url) -> Option<(String, String, Option<u16>)> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    Some((scheme.to_string(), host, url.port_or_known_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_origins_are_allowed() {
        let hosts = ImageHosts::new(
            ["https://images.openfoodfacts.org", "http://127.0.0.1:8080/"],
            Duration::from_secs(1),
            1024,
        );
        let Ok(hosts) = hosts else {
            panic!("hosts build")
        };
        assert!(hosts
            .check("https://images.openfoodfacts.org/images/products/1.jpg")
            .is_ok());
        assert!(hosts
            .check("https://IMAGES.openfoodfacts.org:443/x.jpg")
            .is_ok());
        assert!(hosts.check("http://127.0.0.1:8080/x.json").is_ok());
        assert!(matches!(
            hosts.check("http://127.0.0.1:8081/x.json"),
            Err(FetchError::HostNotAllowed(_))
        ));
        assert!(matches!(
            hosts.check("http://images.openfoodfacts.org/x.jpg"),
            Err(FetchError::HostNotAllowed(_))
        ));
        assert!(matches!(
            hosts.check("https://images.openfoodfacts.org.evil.com/x.jpg"),
            Err(FetchError::HostNotAllowed(_))
        ));
        assert!(matches!(
            hosts.check("file:///etc/passwd"),
            Err(FetchError::InvalidUrl(_))
        ));
        assert!(matches!(
            hosts.check("not a url"),
            Err(FetchError::InvalidUrl(_))
        ));
    }
}
