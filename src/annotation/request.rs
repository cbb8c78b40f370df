//! An annotation request: who annotates (user, anonymous device, or Robotoff itself),
//! the annotation value, and the checks made before anything is looked up (spec api-db
//! §1.2 annotate, §0.3).

use crate::infra::product_opener::Credentials;
use secrecy::SecretString;
use uuid::Uuid;

/// A user Product Opener vouched for (the HTTP layer checks credentials before building
/// one): the name recorded with the annotation, and the credentials the user's own edits
/// are sent with. Secrets print redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub username: String,
    pub credentials: Credentials,
}

impl Auth {
    /// HTTP Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        let username = username.into();
        Auth {
            credentials: Credentials::Password {
                user_id: username.clone(),
                password: SecretString::from(password.into()),
            },
            username,
        }
    }

    /// A Product Opener session cookie (`user_id&<name>&user_session&<token>…`).
    pub fn session(cookie: impl Into<String>) -> Self {
        let cookie = cookie.into();
        Auth {
            username: cookie_user(&cookie).unwrap_or_default(),
            credentials: Credentials::Session(SecretString::from(cookie)),
        }
    }

    /// The user's name, if it is not empty.
    pub fn username(&self) -> Option<String> {
        Some(self.username.clone()).filter(|u| !u.is_empty())
    }
}

/// The element after `user_id` in a Product Opener session cookie.
pub fn cookie_user(cookie: &str) -> Option<String> {
    let mut parts = cookie.split('&');
    while let Some(part) = parts.next() {
        if part == "user_id" {
            return parts.next().filter(|n| !n.is_empty()).map(str::to_string);
        }
    }
    None
}

/// Who is annotating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An authenticated user: a "trusted annotator", applied directly.
    User(Auth),
    /// An anonymous user: the annotation is a vote.
    Anonymous,
    /// Robotoff itself (automatic processing): applied with Robotoff's account.
    Robotoff,
    /// A verified user's decision carried out later by a job (the insights of annotated
    /// logos): applied directly and recorded under the user's name, sent with Robotoff's
    /// account, since a user's credentials are never stored.
    Delegated(String),
}

/// One annotation request.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotateRequest {
    pub insight_id: Uuid,
    /// −1 skip / ambiguous, 0 reject, 1 validate, 2 validate with `data`.
    pub annotation: i32,
    /// Send the change to Product Opener (false: the client writes it itself).
    pub update: bool,
    /// User-supplied data (annotation 2).
    pub data: Option<serde_json::Value>,
    /// Identifies an anonymous voter's device (or a hash of its address).
    pub device_id: String,
    /// A hash of the client's address: at most one anonymous vote per address counts.
    pub client_key: Option<String>,
    pub caller: Caller,
}

/// A request refused before anything is looked up (HTTP 400 texts of spec api-db §1.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("`annotation` must be one of -1, 0, 1, 2, not {0}")]
    AnnotationOutOfRange(i32),
    #[error("`data` must be provided when annotation == 2")]
    DataRequired,
    #[error("`update` must be true when annotation == 2")]
    UpdateRequired,
    #[error("`annotation` must be 2 when `data` is provided")]
    AnnotationMustBeTwo,
    #[error("`data` cannot be provided when the user is not authenticated")]
    DataWhenAnonymous,
    #[error("`device_id` is longer than {MAX_DEVICE_ID} characters")]
    DeviceIdTooLong,
}

/// Longest accepted `device_id`.
pub const MAX_DEVICE_ID: usize = 128;

impl AnnotateRequest {
    /// The automatic application of a due insight: annotation 1, sent to Product
    /// Opener with Robotoff's account (spec api-db §3.7).
    pub fn automatic(insight_id: Uuid) -> Self {
        AnnotateRequest {
            insight_id,
            annotation: 1,
            update: true,
            data: None,
            device_id: String::new(),
            client_key: None,
            caller: Caller::Robotoff,
        }
    }

    /// Checks made in this order before the insight is read (spec api-db §1.2).
    pub fn validate(&self) -> Result<(), RequestError> {
        if !(-1..=2).contains(&self.annotation) {
            return Err(RequestError::AnnotationOutOfRange(self.annotation));
        }
        if self.annotation == 2 && self.data.is_none() {
            return Err(RequestError::DataRequired);
        }
        if self.annotation == 2 && !self.update {
            return Err(RequestError::UpdateRequired);
        }
        if self.data.is_some() && self.annotation != 2 {
            return Err(RequestError::AnnotationMustBeTwo);
        }
        if self.caller == Caller::Anonymous && self.annotation == 2 {
            return Err(RequestError::DataWhenAnonymous);
        }
        if self.device_id.chars().count() > MAX_DEVICE_ID {
            return Err(RequestError::DeviceIdTooLong);
        }
        Ok(())
    }

    /// The caller's user name, if any.
    pub fn username(&self) -> Option<String> {
        match &self.caller {
            Caller::User(auth) => auth.username(),
            Caller::Delegated(username) => Some(username.clone()).filter(|u| !u.is_empty()),
            Caller::Anonymous | Caller::Robotoff => None,
        }
    }

    /// The keys under which listing caches remember this caller as a voter.
    pub fn voter_keys(&self) -> Vec<String> {
        let mut keys = vec![device_key(&self.device_id)];
        if let Some(u) = self.username() {
            keys.push(user_key(&u));
        }
        keys
    }

    /// Whether the annotation is applied directly rather than counted as a vote.
    pub fn is_trusted(&self) -> bool {
        !matches!(self.caller, Caller::Anonymous)
    }
}

/// The listing caches' key of an anonymous voter's device.
pub fn device_key(device_id: &str) -> String {
    format!("device:{device_id}")
}

/// The listing caches' key of a signed-in voter.
pub fn user_key(username: &str) -> String {
    format!("user:{username}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(
        annotation: i32,
        update: bool,
        data: Option<serde_json::Value>,
        caller: Caller,
    ) -> AnnotateRequest {
        AnnotateRequest {
            insight_id: Uuid::nil(),
            annotation,
            update,
            data,
            device_id: "d".into(),
            client_key: None,
            caller,
        }
    }

    /// Spec api-db §1.2 validation order and texts; §8 check 7.
    #[test]
    fn validation_order_and_texts() {
        let user = Caller::User(Auth::basic("a", "b"));
        let cases = [
            (
                request(2, true, None, user.clone()),
                Err(RequestError::DataRequired),
            ),
            (
                request(2, false, Some(json!({})), user.clone()),
                Err(RequestError::UpdateRequired),
            ),
            (
                request(1, true, Some(json!({})), user.clone()),
                Err(RequestError::AnnotationMustBeTwo),
            ),
            (
                request(
                    2,
                    true,
                    Some(json!({"value_tag": "en:beef"})),
                    Caller::Anonymous,
                ),
                Err(RequestError::DataWhenAnonymous),
            ),
            (
                request(2, true, Some(json!({"value_tag": "en:beef"})), user.clone()),
                Ok(()),
            ),
            (
                request(3, true, None, user.clone()),
                Err(RequestError::AnnotationOutOfRange(3)),
            ),
            (request(-1, false, None, Caller::Anonymous), Ok(())),
        ];
        for (req, expected) in cases {
            assert_eq!(req.validate(), expected, "{req:?}");
        }
        assert_eq!(
            RequestError::DataRequired.to_string(),
            "`data` must be provided when annotation == 2"
        );
        assert_eq!(
            RequestError::DataWhenAnonymous.to_string(),
            "`data` cannot be provided when the user is not authenticated"
        );
    }

    #[test]
    fn username_from_basic_or_cookie() {
        let cases = [
            (Auth::basic("alice", "pw"), Some("alice")),
            (Auth::session("user_id&bob&user_session&XYZ"), Some("bob")),
            (
                Auth::session("user_session&XYZ&user_id&carol"),
                Some("carol"),
            ),
            (Auth::session("user_id&&user_session&XYZ"), None),
            (Auth::session("user_session&XYZ"), None),
        ];
        for (auth, name) in cases {
            assert_eq!(auth.username().as_deref(), name, "{auth:?}");
        }
        assert!(!format!("{:?}", Auth::basic("a", "secret")).contains("secret"));
    }
}
