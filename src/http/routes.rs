//! Every route of the API: method, path template and handler. The same table labels
//! metrics and is checked against the OpenAPI document.

use super::router::{handler, Route, Router};
use super::{annotate, catalog, insights, logos, predict, questions, system, webhook};
use crate::infra::db::insight_query::InsightOrder;
use warp::http::Method;

/// The router of the whole API.
pub fn router() -> Router {
    let get = Method::GET;
    let post = Method::POST;
    let put = Method::PUT;
    let r = |m: &Method, t: &'static str, h| Route::new(m.clone(), t, h);
    Router::new(vec![
        r(&get, "/api/v1/status", handler(system::status)),
        r(&get, "/api/v1/health", handler(system::health_route)),
        r(&get, "/robots.txt", handler(system::robots)),
        r(
            &get,
            "/api/v1/products/dataset",
            handler(system::dataset_etag),
        ),
        r(
            &post,
            "/api/v1/products/dataset",
            handler(system::dataset_refresh),
        ),
        r(&post, "/api/v1/batch/import", handler(system::batch_import)),
        r(
            &get,
            "/api/v1/openapi.json",
            handler(super::openapi::document),
        ),
        // Questions
        r(
            &get,
            "/api/v1/questions/{barcode}",
            handler(questions::by_barcode),
        ),
        r(
            &get,
            "/api/v1/questions",
            handler(|s, q| questions::collection(s, q, None)),
        ),
        r(
            &get,
            "/api/v1/questions/random",
            handler(|s, q| questions::collection(s, q, Some(InsightOrder::Random))),
        ),
        r(
            &get,
            "/api/v1/questions/popular",
            handler(|s, q| questions::collection(s, q, Some(InsightOrder::Popularity))),
        ),
        r(
            &get,
            "/api/v1/questions/unanswered",
            handler(questions::unanswered),
        ),
        r(&get, "/api/v1/questions/counts", handler(questions::counts)),
        // Insights
        r(&get, "/api/v1/insights", handler(insights::list)),
        r(
            &get,
            "/api/v1/insights/{barcode}",
            handler(insights::by_barcode),
        ),
        r(
            &get,
            "/api/v1/insights/detail/{insight_id:uuid}",
            handler(insights::detail),
        ),
        r(&get, "/api/v1/insights/random", handler(insights::random)),
        r(
            &post,
            "/api/v1/insights/annotate",
            handler(annotate::annotate),
        ),
        r(&get, "/api/v1/insights/dump", handler(insights::dump)),
        r(
            &get,
            "/api/v1/users/statistics/{username}",
            handler(insights::user_statistics),
        ),
        // Predictions, images
        r(&get, "/api/v1/predictions", handler(catalog::predictions)),
        r(&get, "/api/v1/images", handler(catalog::images)),
        r(
            &get,
            "/api/v1/image_predictions",
            handler(catalog::image_predictions),
        ),
        r(
            &post,
            "/api/v1/image_predictions/import",
            handler(catalog::import_image_predictions),
        ),
        r(
            &get,
            "/api/v1/annotation/collection",
            handler(catalog::logo_collection),
        ),
        r(
            &get,
            "/api/v1/products/{barcode}/audit",
            handler(catalog::audit),
        ),
        r(
            &get,
            "/api/v1/predict/ocr_prediction",
            handler(predict::ocr_prediction),
        ),
        r(&get, "/api/v1/images/crop", handler(predict::crop)),
        // Webhook adapter
        r(&post, "/api/v1/webhook/product", handler(webhook::product)),
        r(
            &post,
            "/api/v1/images/import",
            handler(webhook::import_image),
        ),
        r(
            &get,
            "/api/v1/predict/lang/product",
            handler(predict::product_languages),
        ),
        // Logos
        r(&get, "/api/v1/images/logos", handler(logos::by_ids)),
        r(&get, "/api/v1/images/logos/search", handler(logos::search)),
        r(
            &get,
            "/api/v1/images/logos/{logo_id:int}",
            handler(logos::detail),
        ),
        r(
            &put,
            "/api/v1/images/logos/{logo_id:int}",
            handler(logos::update),
        ),
        r(
            &post,
            "/api/v1/images/logos/{logo_id:int}/reset",
            handler(logos::reset),
        ),
        r(
            &post,
            "/api/v1/images/logos/annotate",
            handler(logos::annotate),
        ),
        r(
            &post,
            "/api/v1/images/logos/update",
            handler(logos::bulk_update),
        ),
        r(&get, "/api/v1/ann/search", handler(logos::ann_search)),
        r(
            &get,
            "/api/v1/ann/search/{logo_id:int}",
            handler(logos::ann_search),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

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
