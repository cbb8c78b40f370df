//! Downloads from Product Opener's static server.

use crate::config::Settings;
use secrecy::ExposeSecret;
use std::time::Duration;

/// Client of the downloads from the static server (taxonomies, the product dump): no
/// overall deadline (a dump takes long to download), but bounded connection and read
/// stalls; sends `product_opener.request_auth` (the staging servers want it) with every
/// request when it is set.
pub fn static_client(settings: &Settings) -> Result<reqwest::Client, String> {
    use base64::Engine;
    let mut headers = reqwest::header::HeaderMap::new();
    let auth = settings.product_opener.request_auth.expose_secret().trim();
    if !auth.is_empty() {
        let credentials = if auth.contains(':') {
            auth.to_string()
        } else {
            format!("{auth}:")
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|e| format!("product_opener.request_auth: {e}"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .user_agent("Robotoff")
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::static_client;
    use crate::config::{Overrides, Settings};
    use std::sync::{Arc, Mutex};
    use warp::Filter;

    async fn authorization_sent(request_auth: &str) -> Option<String> {
        let seen: Arc<Mutex<Option<String>>> = Arc::default();
        let record = seen.clone();
        let route = warp::header::optional::<String>("authorization").map(move |h| {
            if let Ok(mut s) = record.lock() {
                *s = h;
            }
            "ok"
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(warp::serve(route).incoming(listener).run());
        let mut o = Overrides::default();
        o.set("product_opener.request_auth", request_auth);
        let settings = Settings::load_with_env(None, &o, Vec::new()).expect("settings");
        let client = static_client(&settings).expect("client");
        client
            .get(format!("http://{addr}/data/taxonomies/labels.full.json"))
            .send()
            .await
            .expect("request");
        seen.lock().ok().and_then(|s| s.clone())
    }

    #[tokio::test]
    async fn static_downloads_send_the_staging_credentials_when_set() {
        assert_eq!(
            authorization_sent("off:off").await.as_deref(),
            Some("Basic b2ZmOm9mZg==")
        );
        assert_eq!(authorization_sent("").await, None);
    }
}
