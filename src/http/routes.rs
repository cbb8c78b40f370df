//! Every route of the API: each resource module declares its routes (method, path
//! template, handler, documentation); the OpenAPI document is built from them once. The
//! same table labels metrics.

use super::doc::{Doc, Security};
use super::openapi::{self, Operation};
use super::reply::json;
use super::router::{handler, Route, Router};
use super::{
    annotate, catalog, insights, logo_writes, logos, ops, predict, predict_models, questions,
    session, system, vision, webhook,
};
use std::sync::Arc;
use warp::http::Method;

const OPENAPI_PATH: &str = "/api/v1/openapi.json";

const OPENAPI_DOC: Doc = Doc {
    summary: "This document",
    params: &[],
    body: None,
    ok: &[200],
    errors: &[],
    security: Security::Public,
};

/// The router of the whole API, with listings' `count` documented up to `max_count`.
pub fn router_with(max_count: i64) -> Router {
    let mut routes: Vec<Route> = [
        system::routes(),
        questions::routes(),
        insights::routes(),
        annotate::routes(),
        catalog::routes(),
        predict::routes(),
        predict_models::routes(),
        vision::routes(),
        webhook::routes(),
        logos::routes(),
        logo_writes::routes(),
        session::routes(),
        ops::routes(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut document = openapi::build(
        routes
            .iter()
            .map(|r| Operation {
                method: r.method.as_str().to_ascii_lowercase(),
                path: r.openapi_path(),
                doc: &r.doc,
            })
            .chain(std::iter::once(Operation {
                method: "get".into(),
                path: OPENAPI_PATH.into(),
                doc: &OPENAPI_DOC,
            })),
    );
    openapi::bound_counts(&mut document, max_count);
    let document = Arc::new(document);
    routes.push(Route::new(
        Method::GET,
        OPENAPI_PATH,
        handler(move |_, _| {
            let document = document.clone();
            async move { json(&document) }
        }),
        OPENAPI_DOC,
    ));
    Router::new(routes)
}

/// The router with the default bound of listings (`http.max_count` = 500).
pub fn router() -> Router {
    router_with(500)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each route is in the document with its method, and each of its path variables is
    /// documented as a path parameter.
    #[test]
    fn every_route_is_documented_with_its_path_variables() {
        let r = router();
        let doc = openapi::build(r.routes().iter().map(|route| Operation {
            method: route.method.as_str().to_ascii_lowercase(),
            path: route.openapi_path(),
            doc: &route.doc,
        }));
        let mut operations = 0;
        for route in r.routes() {
            let path = route.openapi_path();
            let method = route.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][&path][&method];
            assert!(op.is_object(), "{method} {path} is not documented");
            operations += 1;
            let variables: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            for v in variables {
                let documented = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == v && p["in"] == "path"));
                assert!(
                    documented,
                    "{method} {path}: path variable {v} not documented"
                );
            }
        }
        assert_eq!(operations, 53, "routes of the API");
    }

    #[test]
    fn paths_map_to_templates() {
        let r = router();
        assert_eq!(r.template_of("/api/v1/status"), "/api/v1/status");
        assert_eq!(r.template_of("/api/v1/status/"), "/api/v1/status");
        assert_eq!(r.template_of("/api/v1/nope"), "unmatched");
        assert_eq!(r.template_of("/"), "unmatched");
        for literal in ["random", "annotate", "dump"] {
            let path = format!("/api/v1/insights/{literal}");
            assert_eq!(r.template_of(&path), path);
        }
        for literal in ["random", "popular", "unanswered", "counts"] {
            let path = format!("/api/v1/questions/{literal}");
            assert_eq!(r.template_of(&path), path);
        }
        assert_eq!(
            r.template_of("/api/v1/questions/3017620422003"),
            "/api/v1/questions/{barcode}"
        );
        assert_eq!(
            r.template_of("/api/v1/annotation/collection/"),
            "/api/v1/annotation/collection"
        );
    }
}
