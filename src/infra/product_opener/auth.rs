//! Who a caller is, as Product Opener says it: `/cgi/auth.pl` answers 200 when the
//! `user_id`/`password` fields or the `session` cookie are valid on that flavor, and 403
//! when they are not.

use super::client::READ_TIMEOUT;
use super::{Credentials, PoError, ProductOpener};
use crate::types::ServerType;
use reqwest::header::COOKIE;
use reqwest::Method;
use secrecy::ExposeSecret;

/// Product Opener's verdict on credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid; the user id Product Opener names, when its answer carries one.
    Valid { user_id: Option<String> },
    /// Refused (403, or 401).
    Refused,
}

impl ProductOpener {
    /// Asks `server_type`'s Product Opener whether `creds` are valid. An outage (5xx,
    /// unreachable) is an error the caller may retry; Robotoff's own account is never
    /// sent here.
    pub async fn check_credentials(
        &self,
        server_type: ServerType,
        creds: &Credentials,
    ) -> Result<Verdict, PoError> {
        let action = format!("checking credentials with Product Opener ({server_type})");
        let url = self.api(server_type, "/cgi/auth.pl");
        let rb = self.request(Method::POST, &url, READ_TIMEOUT);
        let rb = match creds {
            Credentials::Session(cookie) if !cookie.expose_secret().is_empty() => {
                rb.header(COOKIE, format!("session={}", cookie.expose_secret()))
            }
            Credentials::Password { user_id, password }
                if !user_id.is_empty() && !password.expose_secret().is_empty() =>
            {
                rb.form(&[
                    ("user_id", user_id.as_str()),
                    ("password", password.expose_secret()),
                    ("body", "1"),
                ])
            }
            _ => return Ok(Verdict::Refused),
        };
        let response = rb
            .send()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => {
                let body = response.text().await.unwrap_or_default();
                let user_id = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("user_id").and_then(|u| u.as_str()).map(String::from))
                    .filter(|u| !u.is_empty());
                Ok(Verdict::Valid { user_id })
            }
            401 | 403 => Ok(Verdict::Refused),
            _ => {
                let body = response.text().await.unwrap_or_default();
                Err(PoError::status(&action, status, body))
            }
        }
    }
}
