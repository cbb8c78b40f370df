//! The service's own web pages, embedded in the binary: questions (`/`), the logo game
//! (`/logos`) and operations (`/ops`), with their script and style files under
//! `/static/`. Pages only call the API, so nothing on them can change data without the
//! API's own checks.

use crate::config::Settings;
use crate::types::ServerType;
use std::sync::Arc;
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, VARY};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every file served: path, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("/", HTML, include_bytes!("assets/index.html")),
    ("/logos", HTML, include_bytes!("assets/logos.html")),
    ("/ops", HTML, include_bytes!("assets/ops.html")),
    ("/static/app.css", CSS, include_bytes!("assets/app.css")),
    ("/static/common.js", JS, include_bytes!("assets/common.js")),
    (
        "/static/questions.js",
        JS,
        include_bytes!("assets/questions.js"),
    ),
    ("/static/logos.js", JS, include_bytes!("assets/logos.js")),
    ("/static/ops.js", JS, include_bytes!("assets/ops.js")),
    ("/favicon.ico", SVG, include_bytes!("assets/favicon.svg")),
];

/// What pages may load: their own scripts and styles, images from anywhere the
/// questions point to, API calls to this origin only.
const CSP: &str = "default-src 'self'; img-src 'self' data: http: https:; \
                   script-src 'self'; style-src 'self'; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Where pages find each flavor's images; replaced in the HTML when it is served.
const IMAGE_HOSTS_MARK: &str = "__IMAGE_HOSTS__";

/// One file, ready to serve, as it is and gzipped.
struct Page {
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    etag: HeaderValue,
    gzipped: Vec<u8>,
    gzip_etag: HeaderValue,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to memory does not fail; without a gzipped copy the file is sent as is.
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .unwrap_or_default()
}

fn etag(body: &[u8], suffix: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{:08x}{suffix}\"", crc32fast::hash(body)))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The metrics label of a page path, when it is one of the pages' files.
pub fn label(path: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(p, _, _)| *p)
}

/// The pages with the flavors' image hosts of `settings` written in.
fn build(settings: &Settings) -> Vec<Page> {
    let hosts: serde_json::Map<String, serde_json::Value> = ServerType::ALL
        .iter()
        .map(|st| {
            let url = settings.product_opener.flavor(*st).images_url.clone();
            (st.name().to_string(), url.trim_end_matches('/').into())
        })
        .collect();
    let hosts = html_attribute(&serde_json::Value::Object(hosts).to_string());
    FILES
        .iter()
        .map(|(path, content_type, bytes)| {
            let body = if *content_type == HTML {
                String::from_utf8_lossy(bytes)
                    .replace(IMAGE_HOSTS_MARK, &hosts)
                    .into_bytes()
            } else {
                bytes.to_vec()
            };
            let gzipped = gzip(&body);
            Page {
                path,
                content_type,
                etag: etag(&body, ""),
                gzip_etag: etag(&body, "-gzip"),
                gzipped,
                body,
            }
        })
        .collect()
}

fn html_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `GET` of a page or one of its files; other paths are left to the API. Files are
/// gzipped for browsers that accept it and revalidated by their ETag (a 304 when
/// unchanged).
pub fn pages(settings: &Settings) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let pages = Arc::new(build(settings));
    warp::get()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("if-none-match"))
        .and(warp::header::optional::<String>("accept-encoding"))
        .and_then(
            move |path: warp::path::FullPath,
                  if_none_match: Option<String>,
                  accept_encoding: Option<String>| {
                let pages = pages.clone();
                async move {
                    let Some(page) = pages.iter().find(|p| p.path == path.as_str()) else {
                        return Err(warp::reject::not_found());
                    };
                    let gzip = accept_encoding.as_deref().is_some_and(accepts_gzip);
                    Ok(answer(page, if_none_match.as_deref(), gzip))
                }
            },
        )
}

/// Whether an `Accept-Encoding` header lists gzip (with a non-zero weight).
fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        name.eq_ignore_ascii_case("gzip") && !refused
    })
}

fn answer(page: &Page, if_none_match: Option<&str>, gzip: bool) -> Response {
    let gzip = gzip && !page.gzipped.is_empty();
    let (body, etag) = if gzip {
        (&page.gzipped, &page.gzip_etag)
    } else {
        (&page.body, &page.etag)
    };
    let fresh = if_none_match.is_some_and(|tags| {
        etag.to_str()
            .is_ok_and(|etag| tags.split(',').any(|t| t.trim() == etag))
    });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.clone().into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(page.content_type));
        if gzip {
            r.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    };
    let h = response.headers_mut();
    h.insert(ETAG, etag.clone());
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if page.content_type == HTML {
        h.insert("content-security-policy", HeaderValue::from_static(CSP));
        h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_the_image_hosts_and_revalidate() {
        let settings = Settings::load_with_env(None, &Default::default(), Vec::new())
            .unwrap_or_else(|e| panic!("default settings: {e}"));
        let pages = build(&settings);
        let index = pages.iter().find(|p| p.path == "/");
        let Some(index) = index else {
            panic!("no index page")
        };
        let text = String::from_utf8_lossy(&index.body);
        assert!(!text.contains(IMAGE_HOSTS_MARK));
        assert!(text.contains("https://images.openfoodfacts.org"));
        let etag = index.etag.to_str().unwrap_or_default().to_string();
        assert_eq!(
            answer(index, Some(&etag), false).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(answer(index, Some("\"x\""), false).status(), StatusCode::OK);
        // The gzipped file has its own tag, and unzips to the page.
        assert_eq!(answer(index, Some(&etag), true).status(), StatusCode::OK);
        let zipped = answer(index, None, true);
        assert_eq!(
            zipped.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes()),
            Some(&b"gzip"[..])
        );
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(index.gzipped.as_slice()),
            &mut unzipped,
        )
        .unwrap_or_default();
        assert_eq!(unzipped, index.body);
        assert!(index.gzipped.len() < index.body.len());
        assert_eq!(label("/ops"), Some("/ops"));
        assert_eq!(label("/api/v1/status"), None);
    }

    #[test]
    fn gzip_when_accepted() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0, br"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(
            html_attribute(r#"{"a":"<b>&'"}"#),
            "{&quot;a&quot;:&quot;&lt;b&gt;&amp;&#39;&quot;}"
        );
    }
}
