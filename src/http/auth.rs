//! Caller identity as Robotoff reads it (spec api-db §0.2, §0.3): Product Opener session
//! cookie or HTTP Basic credentials (checked with Product Opener by `identity` before
//! they count), the anonymous device id, the client's address, and bearer tokens.

use super::error::ApiError;
use super::params::Params;
use base64::Engine;
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};
use std::net::SocketAddr;
use warp::http::{HeaderMap, StatusCode};

/// Credentials sent by the caller, not yet checked. Secrets print redacted.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub session_cookie: Option<SecretString>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

impl Credentials {
    /// The name the caller claims: the Basic username if given, else the element after
    /// `user_id` in the cookie. Only Product Opener's check makes it true.
    pub fn username(&self) -> Option<String> {
        if let Some(u) = self.username.as_ref().filter(|u| !u.is_empty()) {
            return Some(u.clone());
        }
        let cookie = self.session_cookie.as_ref()?;
        crate::annotation::request::cookie_user(cookie.expose_secret())
    }
}

/// Who the caller is for vote bookkeeping: a username, or a device id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Voter {
    Username(String),
    Device(String),
}

fn unauthorized(title: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", title).with_title(title)
}

/// The caller's credentials, `None` when anonymous; a malformed `Authorization` header
/// is a 401.
pub fn parse_auth(headers: &HeaderMap) -> Result<Option<Credentials>, ApiError> {
    let session_cookie = session_cookie(headers);
    let (username, password) = match headers.get("authorization") {
        None => (None, None),
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| unauthorized("Invalid authentication, Basic auth expected."))?;
            let (u, p) = basic_decode(text)
                .ok_or_else(|| unauthorized("Invalid authentication, Basic auth expected."))?;
            (Some(u), Some(p))
        }
    };
    let blank = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
    if blank(&session_cookie) && blank(&username) && blank(&password) {
        return Ok(None);
    }
    Ok(Some(Credentials {
        session_cookie: session_cookie
            .filter(|c| !c.is_empty())
            .map(SecretString::from),
        username,
        password: password.map(SecretString::from),
    }))
}

/// The first value of the `session` cookie.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.trim_matches('"').to_string())
}

/// Decodes an HTTP Basic header: `Basic <b64>` or a bare `<b64>`; username and password
/// are percent-decoded.
fn basic_decode(header: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = header.split(' ').collect();
    let encoded = match parts.as_slice() {
        [token] => *token,
        [scheme, token] if scheme.eq_ignore_ascii_case("basic") => *token,
        _ => return None,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, pass) = text.split_once(':')?;
    let user = percent_decode_str(user).decode_utf8().ok()?.into_owned();
    let pass = percent_decode_str(pass).decode_utf8().ok()?.into_owned();
    Some((user, pass))
}

/// The `device_id` parameter, or the SHA-1 of the caller's access route rendered as a
/// Python list (`['1.2.3.4', '10.0.0.2']`), as Robotoff computes it.
pub fn device_id(params: &Params, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if let Some(id) = params.get("device_id") {
        return id.to_string();
    }
    let route = access_route(headers, peer);
    let rendered = format!(
        "[{}]",
        route
            .iter()
            .map(|ip| format!("'{ip}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let digest = Sha1::digest(rendered.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Client and proxy addresses: `Forwarded` for= values, else `X-Forwarded-For`, else
/// `X-Real-IP`; the peer address is appended unless it is already last.
fn access_route(headers: &HeaderMap, peer: Option<SocketAddr>) -> Vec<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut route: Vec<String> = Vec::new();
    if let Some(fwd) = header("forwarded") {
        for element in fwd.split(',') {
            for pair in element.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    if k.trim().eq_ignore_ascii_case("for") {
                        let v = v.trim().trim_matches('"');
                        let v = v.trim_start_matches('[');
                        let v = match v.split_once(']') {
                            Some((ip, _)) => ip,
                            None => v.split(':').next().unwrap_or(v),
                        };
                        route.push(v.to_string());
                    }
                }
            }
        }
    }
    if route.is_empty() {
        if let Some(xff) = header("x-forwarded-for") {
            route = xff.split(',').map(|ip| ip.trim().to_string()).collect();
        } else if let Some(real) = header("x-real-ip") {
            route.push(real.trim().to_string());
        }
    }
    if let Some(peer) = peer {
        let ip = peer.ip().to_string();
        if route.last() != Some(&ip) {
            route.push(ip);
        }
    }
    route
}

/// The client's own address: the connection's peer, or, when the peer is one of the
/// `trusted` proxies, the last address the proxies recorded before themselves.
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted: &[String],
) -> Option<String> {
    let peer = peer?.ip().to_string();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let route = access_route(headers, None);
    route
        .iter()
        .rev()
        .find(|ip| !trusted.iter().any(|t| t == *ip))
        .cloned()
        .or(Some(peer))
}

/// A SHA-256 of the client's address (anonymous votes count once per address; the
/// address itself is not stored).
pub fn client_key(headers: &HeaderMap, peer: Option<SocketAddr>, trusted: &[String]) -> String {
    use sha2::Digest as _;
    let address = client_address(headers, peer, trusted).unwrap_or_default();
    sha2::Sha256::digest(address.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who to exclude votes of: the username of an authenticated caller, else the device.
pub fn voter(auth: Option<&Credentials>, device_id: String) -> Voter {
    match auth.and_then(Credentials::username) {
        Some(username) => Voter::Username(username),
        None => Voter::Device(device_id),
    }
}

/// Checks `Authorization: Bearer <token>` against the configured token (spec §1.7).
pub fn check_bearer(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let Some(value) = headers.get("authorization") else {
        return Err(ApiError::bad_request(
            "missing_header",
            "The Authorization header is required.",
        )
        .with_title("Missing header value"));
    };
    let text = value
        .to_str()
        .map_err(|_| unauthorized("Invalid authentication scheme."))?;
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [scheme, token] = parts.as_slice() else {
        return Err(unauthorized("Invalid authentication scheme."));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(
            "Invalid authentication scheme: 'Bearer Token' expected.",
        ));
    }
    if expected.is_empty() {
        return Err(unauthorized("Invalid authentication scheme."));
    }
    if !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Err(unauthorized("Invalid token."));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.append(*k, v);
            }
        }
        h
    }

    #[test]
    fn basic_and_cookie_credentials() {
        let auth = parse_auth(&headers(&[("authorization", "Basic YTpi")]))
            .ok()
            .flatten();
        assert_eq!(
            auth.as_ref().and_then(Credentials::username).as_deref(),
            Some("a")
        );
        assert_eq!(
            auth.and_then(|a| a.password)
                .map(|p| p.expose_secret().to_string())
                .as_deref(),
            Some("b")
        );
        // A bare token is accepted too.
        assert!(parse_auth(&headers(&[("authorization", "YTpi")]))
            .ok()
            .flatten()
            .is_some());
        let e = parse_auth(&headers(&[("authorization", "Bearer xyz")])).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            e.title.as_deref(),
            Some("Invalid authentication, Basic auth expected.")
        );
        let cookie = parse_auth(&headers(&[(
            "cookie",
            "other=1; session=user_id&alice&user_session&tok",
        )]))
        .ok()
        .flatten();
        assert_eq!(cookie.and_then(|c| c.username()).as_deref(), Some("alice"));
        assert!(matches!(parse_auth(&HeaderMap::new()), Ok(None)));
    }

    #[test]
    fn device_id_hashes_the_access_route() {
        let peer: SocketAddr = "10.0.0.2:4000".parse().unwrap_or_else(|_| unreachable!());
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(access_route(&h, Some(peer)), vec!["1.2.3.4", "10.0.0.2"]);
        // sha1("['1.2.3.4', '10.0.0.2']")
        let id = device_id(&Params::default(), &h, Some(peer));
        assert_eq!(id.len(), 40);
        let expected: String = Sha1::digest(b"['1.2.3.4', '10.0.0.2']")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(id, expected);
        assert_eq!(
            device_id(&Params::parse("device_id=abc"), &h, Some(peer)),
            "abc"
        );
        let fwd = headers(&[(
            "forwarded",
            "for=\"[2001:db8::1]:80\";proto=https, for=5.6.7.8",
        )]);
        assert_eq!(access_route(&fwd, None), vec!["2001:db8::1", "5.6.7.8"]);
    }

    #[test]
    fn client_address_believes_only_trusted_proxies() {
        let peer: SocketAddr = "10.0.0.2:4000".parse().unwrap_or_else(|_| unreachable!());
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4")]);
        // An untrusted peer's headers are ignored: a client cannot pose as others.
        assert_eq!(
            client_address(&h, Some(peer), &[]).as_deref(),
            Some("10.0.0.2")
        );
        // Behind a trusted proxy, the last address it recorded is the client.
        let trusted = vec!["10.0.0.2".to_string()];
        assert_eq!(
            client_address(&h, Some(peer), &trusted).as_deref(),
            Some("1.2.3.4")
        );
        assert_ne!(
            client_key(&h, Some(peer), &[]),
            client_key(&h, Some(peer), &trusted)
        );
        assert_eq!(client_key(&h, Some(peer), &[]).len(), 64);
    }

    #[test]
    fn bearer_token() {
        let ok = headers(&[("authorization", "Bearer s3cret")]);
        assert!(check_bearer(&ok, "s3cret").is_ok());
        let e = check_bearer(&ok, "other").unwrap_err();
        assert_eq!(e.title.as_deref(), Some("Invalid token."));
        let e = check_bearer(&headers(&[("authorization", "Basic x")]), "s3cret").unwrap_err();
        assert_eq!(
            e.title.as_deref(),
            Some("Invalid authentication scheme: 'Bearer Token' expected.")
        );
        let e = check_bearer(&headers(&[("authorization", "junk")]), "s3cret").unwrap_err();
        assert_eq!(e.title.as_deref(), Some("Invalid authentication scheme."));
        assert_eq!(
            check_bearer(&HeaderMap::new(), "s").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
