//! The route templates of the API, used to label metrics without one series per URL.

/// Every route, with `{name}` for path parameters.
pub const ROUTES: &[&str] = &["/api/v1/status", "/api/v1/health", "/metrics"];

/// The template matching `path`, or `"unmatched"`.
pub fn template_of(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES
        .iter()
        .find(|route| {
            let parts: Vec<&str> = route.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
        })
        .copied()
        .unwrap_or("unmatched")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_templates() {
        assert_eq!(template_of("/api/v1/status"), "/api/v1/status");
        assert_eq!(template_of("/api/v1/status/"), "/api/v1/status");
        assert_eq!(template_of("/api/v1/nope"), "unmatched");
        assert_eq!(template_of("/"), "unmatched");
    }
}
