//! Who a caller is, as Product Opener says it: `/cgi/auth.pl` answers 200 when the
//! `user_id`/`password` fields or the `session` cookie are valid on that flavor, and 403
//! when they are not; `/cgi/session.pl` signs a user in and sets the `session` cookie.

use super::client::READ_TIMEOUT;
use super::{Credentials, PoError, ProductOpener};
use crate::types::ServerType;
use reqwest::header::COOKIE;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

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

impl ProductOpener {
    /// Signs `user_id` in on `server_type`'s Product Opener (`/cgi/session.pl`, as
    /// Hunger Games does) and returns the value of the `session` cookie it sets, or
    /// `None` when it sets none (wrong user name or password).
    pub async fn open_session(
        &self,
        server_type: ServerType,
        user_id: &str,
        password: &SecretString,
    ) -> Result<Option<SecretString>, PoError> {
        let action = format!("signing in on Product Opener ({server_type})");
        let url = self.api(server_type, "/cgi/session.pl");
        let response = self
            .request(Method::POST, &url, READ_TIMEOUT)
            .form(&[
                ("user_id", user_id),
                ("password", password.expose_secret()),
                (".submit", "submit"),
            ])
            .send()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        let status = response.status().as_u16();
        if status >= 500 {
            let body = response.text().await.unwrap_or_default();
            return Err(PoError::status(&action, status, body));
        }
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session_cookie_value);
        Ok(cookie.map(SecretString::from))
    }
}

/// The value of a `Set-Cookie: session=...` header when it holds a user session
/// (`user_id&<name>&user_session&<token>`); a cleared or empty cookie is none.
pub fn session_cookie_value(set_cookie: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let (name, value) = pair.split_once('=')?;
    let value = value.trim().trim_matches('"');
    let holds_session = value.split('&').any(|part| part == "user_session");
    (name.trim() == "session"
        && holds_session
        && value.split('&').nth(1).is_some_and(|u| !u.is_empty()))
    .then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::session_cookie_value;

    #[test]
    fn only_a_user_session_counts() {
        assert_eq!(
            session_cookie_value(
                "session=user_id&alice&user_session&XYZ; path=/; domain=.openfoodfacts.org"
            ),
            Some("user_id&alice&user_session&XYZ".to_string())
        );
        assert_eq!(
            session_cookie_value("session=; expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            None
        );
        assert_eq!(session_cookie_value("other=user_id&a&user_session&X"), None);
        assert_eq!(
            session_cookie_value("session=user_id&&user_session&X"),
            None
        );
    }
}
