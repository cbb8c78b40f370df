//! Users Product Opener vouches for: credentials checked with its `/cgi/auth.pl` before
//! they count, a success remembered for `http.auth_cache_secs` under a hash of the
//! credentials (never the password itself).

use super::auth::Credentials;
use super::error::ApiError;
use crate::infra::metrics;
use crate::infra::product_opener::{self as po, PoError, ProductOpener, Verdict};
use crate::types::ServerType;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::time::Duration;
use warp::http::StatusCode;

/// A caller Product Opener vouched for.
#[derive(Debug, Clone)]
pub struct User {
    /// The user name the service records (Product Opener's user id).
    pub username: String,
    /// What is forwarded to Product Opener for the user's own edits.
    pub credentials: Credentials,
}

impl From<User> for crate::annotation::Auth {
    /// The annotator: the name Product Opener vouched for, and what their edits send.
    fn from(user: User) -> Self {
        crate::annotation::Auth {
            credentials: to_po(&user.credentials),
            username: user.username,
        }
    }
}

/// Remembers credentials Product Opener accepted, by hash, for a while.
pub struct Identities {
    po: ProductOpener,
    verified: moka::sync::Cache<[u8; 32], String>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("remembered", &self.verified.entry_count())
            .finish()
    }
}

/// Credentials remembered at most (each entry is a 32-byte hash and a user name).
const MAX_REMEMBERED: u64 = 100_000;

impl Identities {
    pub fn new(po: ProductOpener, remember: Duration) -> Identities {
        Identities {
            po,
            verified: moka::sync::Cache::builder()
                .max_capacity(MAX_REMEMBERED)
                .time_to_live(remember)
                .build(),
        }
    }

    /// The user behind `credentials` on `server_type`, as Product Opener says.
    pub async fn verify(
        &self,
        server_type: ServerType,
        credentials: Credentials,
    ) -> Result<User, ApiError> {
        let key = cache_key(server_type, &credentials);
        if let Some(username) = self.verified.get(&key) {
            metrics::credential_check("remembered");
            return Ok(User {
                username,
                credentials,
            });
        }
        let sent = to_po(&credentials);
        let verdict = self.po.check_credentials(server_type, &sent).await;
        match verdict {
            Ok(Verdict::Valid { user_id }) => {
                let Some(username) = user_id.or_else(|| credentials.username()) else {
                    metrics::credential_check("refused");
                    return Err(refused());
                };
                metrics::credential_check("valid");
                self.verified.insert(key, username.clone());
                Ok(User {
                    username,
                    credentials,
                })
            }
            Ok(Verdict::Refused) => {
                metrics::credential_check("refused");
                Err(refused())
            }
            Err(e) => {
                metrics::credential_check("unavailable");
                tracing::warn!(error = %e, "credentials could not be checked");
                Err(unavailable(&e))
            }
        }
    }
}

impl Identities {
    /// Signs `user_id` in with Product Opener and checks the session it opened: the
    /// user, whose credentials are that session cookie. Wrong credentials are a 401.
    pub async fn sign_in(
        &self,
        server_type: ServerType,
        user_id: &str,
        password: SecretString,
    ) -> Result<User, ApiError> {
        let opened = self.po.open_session(server_type, user_id, &password).await;
        match opened {
            Ok(Some(cookie)) => {
                let credentials = Credentials {
                    session_cookie: Some(cookie),
                    username: None,
                    password: None,
                };
                self.verify(server_type, credentials).await
            }
            Ok(None) => {
                metrics::credential_check("refused");
                Err(refused())
            }
            Err(e) => {
                metrics::credential_check("unavailable");
                tracing::warn!(error = %e, "could not sign in with Product Opener");
                Err(unavailable(&e))
            }
        }
    }
}

/// SHA-256 of the flavor and the credentials: what a success is remembered under.
fn cache_key(server_type: ServerType, c: &Credentials) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(server_type.name().as_bytes());
    h.update([0]);
    match (&c.session_cookie, &c.username, &c.password) {
        (Some(cookie), _, _) => {
            h.update(b"cookie\0");
            h.update(cookie.expose_secret().as_bytes());
        }
        (None, user, password) => {
            h.update(b"password\0");
            h.update(user.as_deref().unwrap_or("").as_bytes());
            h.update([0]);
            h.update(
                password
                    .as_ref()
                    .map(|p| p.expose_secret().as_bytes())
                    .unwrap_or_default(),
            );
        }
    }
    h.finalize().into()
}

/// The credentials as the Product Opener client sends them (a session cookie wins).
pub fn to_po(c: &Credentials) -> po::Credentials {
    match (&c.session_cookie, &c.username) {
        (Some(cookie), _) => po::Credentials::Session(cookie.clone()),
        (None, user) => po::Credentials::Password {
            user_id: user.clone().unwrap_or_default(),
            password: c
                .password
                .clone()
                .unwrap_or_else(|| SecretString::from(String::new())),
        },
    }
}

fn refused() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "Product Opener does not accept these credentials",
    )
    .with_title("Invalid credentials")
}

fn unavailable(e: &PoError) -> ApiError {
    let why = if e.is_retryable() {
        "Product Opener could not check the credentials now, retry later"
    } else {
        "Product Opener's answer to the credential check was not understood, retry later"
    };
    ApiError::unavailable("credentials_unchecked", why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            session_cookie: None,
            username: Some(user.to_string()),
            password: Some(SecretString::from(password.to_string())),
        }
    }

    #[test]
    fn the_cache_key_depends_on_every_part_and_never_holds_the_password() {
        let a = cache_key(ServerType::Off, &creds("alice", "pw"));
        assert_eq!(a, cache_key(ServerType::Off, &creds("alice", "pw")));
        assert_ne!(a, cache_key(ServerType::Off, &creds("alice", "pw2")));
        assert_ne!(a, cache_key(ServerType::Off, &creds("alicep", "w")));
        assert_ne!(a, cache_key(ServerType::Obf, &creds("alice", "pw")));
        assert!(!a.windows(2).any(|w| w == b"pw"));
    }
}
