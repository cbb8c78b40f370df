//! Who may call a route: a user Product Opener vouches for (optional or required), the
//! operator token, and the webhooks' shared secret. Handlers call these first.

use super::auth::parse_auth;
use super::error::ApiError;
use super::identity::User;
use super::router::ApiRequest;
use super::state::AppState;
use crate::types::ServerType;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use warp::http::{HeaderMap, StatusCode};

fn required(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "authentication_required",
        format!("{what} needs a Product Opener user (HTTP Basic or the session cookie)"),
    )
    .with_title("Authentication required")
}

/// The caller's user when credentials were sent (checked with Product Opener), `None`
/// when anonymous. Invalid credentials are a 401 and never count as anonymous.
pub async fn optional_user(
    state: &AppState,
    req: &ApiRequest,
    server_type: ServerType,
) -> Result<Option<User>, ApiError> {
    match parse_auth(&req.headers)? {
        Some(credentials) => Ok(Some(
            state.identities.verify(server_type, credentials).await?,
        )),
        None => Ok(None),
    }
}

/// The caller's user, checked with Product Opener; a 401 when there is none.
pub async fn required_user(
    state: &AppState,
    req: &ApiRequest,
    server_type: ServerType,
    what: &str,
) -> Result<User, ApiError> {
    optional_user(state, req, server_type)
        .await?
        .ok_or_else(|| required(what))
}

/// `Authorization: Bearer <http.operator_token>`; with no token set, operator routes are
/// refused to everyone.
pub fn require_operator(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = state.settings.http.operator_token.expose_secret();
    if token.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "operator_routes_disabled",
            "this route needs the operator token, and none is configured (http.operator_token)",
        )
        .with_title("Operator routes disabled"));
    }
    super::auth::check_bearer(headers, token)
}

/// `Authorization: Bearer <http.admin_token>`; with no token set, the operations page
/// is read-only and its writes are refused to everyone.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = state.settings.http.admin_token.expose_secret();
    if token.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_routes_disabled",
            "this route needs the admin token, and none is configured (http.admin_token)",
        )
        .with_title("Operations are read-only"));
    }
    super::auth::check_bearer(headers, token)
}

type HmacSha256 = Hmac<Sha256>;

/// A webhook call is Product Opener's when it carries the shared secret: as
/// `Authorization: Bearer <secret>`, or as `X-Robotoff-Signature: sha256=<hex HMAC-SHA256
/// of the body with the secret>`.
pub fn require_webhook_secret(state: &AppState, req: &ApiRequest) -> Result<(), ApiError> {
    let secret = state.settings.http.webhook_secret.expose_secret();
    let denied = |why: &str| {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_webhook_signature", why)
            .with_title("Invalid webhook signature")
    };
    if secret.is_empty() {
        return Err(denied("the webhooks need http.webhook_secret"));
    }
    if let Some(sig) = req
        .headers
        .get("x-robotoff-signature")
        .and_then(|v| v.to_str().ok())
    {
        let hex = sig.trim().strip_prefix("sha256=").unwrap_or(sig.trim());
        let Some(given) = decode_hex(hex) else {
            return Err(denied("X-Robotoff-Signature is not a hex HMAC-SHA256"));
        };
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
            .map_err(|_| denied("the webhook secret cannot key an HMAC"))?;
        mac.update(&req.body);
        return mac
            .verify_slice(&given)
            .map_err(|_| denied("X-Robotoff-Signature does not match the body"));
    }
    if req.headers.get("authorization").is_some() {
        return super::auth::check_bearer(&req.headers, secret)
            .map_err(|_| denied("the bearer token is not the webhook secret"));
    }
    Err(denied(
        "a webhook call needs X-Robotoff-Signature or Authorization: Bearer",
    ))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_signatures() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
