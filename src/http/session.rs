//! Signing in from the service's own pages: Product Opener opens a session for the user
//! name and password, and the service hands its `session` cookie to the browser as an
//! HttpOnly cookie of its own origin. From then on the browser's requests carry it and
//! every route reads it as it reads Product Opener's cookie (checked with Product Opener
//! before it counts); the page itself never keeps the password.

use super::access::optional_user;
use super::doc::{Doc, Security, P, SERVER_TYPE};
use super::error::ApiError;
use super::reply::json;
use super::router::{handler, server_type, ApiRequest, Route};
use super::AppState;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use warp::http::header::{HeaderValue, SET_COOKIE};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

/// Longest user name accepted (Product Opener's are much shorter).
const MAX_USER_ID: usize = 100;
/// Longest password accepted.
const MAX_PASSWORD: usize = 1000;

/// A cookie that ends when the browser closes, unreadable by scripts, never sent by
/// pages of other sites.
fn session_cookie(value: &str) -> Result<HeaderValue, ApiError> {
    let storable = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'));
    if !storable {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "product_opener_error",
            "Product Opener's session cookie cannot be stored",
        ));
    }
    HeaderValue::from_str(&format!(
        "session={value}; Path=/; HttpOnly; SameSite=Strict"
    ))
    .map_err(ApiError::internal)
}

fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// A text field of a JSON body or of the form/query parameters.
fn field(req: &ApiRequest, body: &Option<Value>, name: &str) -> Option<String> {
    match body {
        Some(b) => b.get(name).and_then(Value::as_str).map(String::from),
        None => req.params.get(name).map(String::from),
    }
}

/// `POST /api/v1/session`: `user_id` and `password` (form or JSON) signed in with
/// Product Opener; the session becomes the browser's cookie.
pub async fn sign_in(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let st = server_type(&req)?;
    let body = if req.is_json() {
        Some(req.json_body()?)
    } else {
        None
    };
    let user_id = field(&req, &body, "user_id").unwrap_or_default();
    let password = field(&req, &body, "password").unwrap_or_default();
    let user_id = user_id.trim();
    if user_id.is_empty() || password.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_credentials_request",
            "`user_id` and `password` are required",
        ));
    }
    if user_id.chars().count() > MAX_USER_ID || password.chars().count() > MAX_PASSWORD {
        return Err(ApiError::bad_request(
            "invalid_credentials_request",
            format!(
                "`user_id` is at most {MAX_USER_ID} characters, `password` at most {MAX_PASSWORD}"
            ),
        ));
    }
    let user = state
        .identities
        .sign_in(st, user_id, SecretString::from(password))
        .await?;
    let cookie = user
        .credentials
        .session_cookie
        .as_ref()
        .map(|c| session_cookie(c.expose_secret()))
        .transpose()?
        .ok_or_else(|| ApiError::internal("a signed-in user without a session cookie"))?;
    let response = json(&json!({"user_id": user.username, "server_type": st.name()}))?;
    Ok(with_cookie(response, cookie))
}

/// `GET /api/v1/session`: who the browser's session is (`user_id` null when signed
/// out); a session Product Opener no longer accepts is cleared.
pub async fn whoami(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let st = server_type(&req)?;
    match optional_user(&state, &req, st).await {
        Ok(user) => json(&json!({"user_id": user.map(|u| u.username), "server_type": st.name()})),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let response =
                json(&json!({"user_id": null, "server_type": st.name(), "expired": true}))?;
            Ok(with_cookie(response, cleared_cookie()))
        }
        Err(e) => Err(e),
    }
}

/// `DELETE /api/v1/session`: the browser forgets the session.
pub async fn sign_out(_state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    let response = json(&json!({"user_id": null}))?;
    Ok(with_cookie(response, cleared_cookie()))
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::POST,
            "/api/v1/session",
            handler(sign_in),
            Doc {
                summary: "Sign in with Product Opener; sets the session cookie (HttpOnly)",
                params: &[
                    P("user_id", "string", true, "Product Opener user name"),
                    P("password", "string", true, "Product Opener password"),
                    SERVER_TYPE,
                ],
                body: None,
                ok: &[200],
                errors: &[400, 401, 502, 503],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/session",
            handler(whoami),
            Doc {
                summary: "The user of the session cookie (null when signed out)",
                params: &[SERVER_TYPE],
                body: None,
                ok: &[200],
                errors: &[400, 503],
                security: Security::OptionalUser,
            },
        ),
        Route::new(
            Method::DELETE,
            "/api/v1/session",
            handler(sign_out),
            Doc {
                summary: "Sign out: the session cookie is cleared",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[],
                security: Security::Public,
            },
        ),
    ]
}
