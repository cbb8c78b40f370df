//! `GET /api/v1/openapi.json`: an OpenAPI 3 description of every route as implemented.

use super::error::ApiError;
use super::reply::json;
use super::router::ApiRequest;
use super::AppState;
use serde_json::{json, Map, Value};
use warp::reply::Response;

/// A query (or path) parameter: name, type, required, description.
struct P(&'static str, &'static str, bool, &'static str);

/// One operation: method, OpenAPI path, summary, parameters, JSON body schema, success
/// statuses and error statuses.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    params: &'static [P],
    body: Option<fn() -> Value>,
    ok: &'static [u16],
    errors: &'static [u16],
}

const SERVER_TYPE: P = P(
    "server_type",
    "server_type",
    false,
    "Product Opener flavor (default off)",
);
const COUNT: P = P("count", "count", false, "number of results (≥ 1)");
const PAGE: P = P("page", "page", false, "page number (≥ 1)");
const BARCODE_Q: P = P("barcode", "string", false, "product barcode (normalised)");
const DEVICE: P = P(
    "device_id",
    "string",
    false,
    "client id hiding what it voted on",
);
const COUNTRIES: P = P(
    "countries",
    "countries",
    false,
    "two-letter country codes (any matches)",
);
const LANG: P = P(
    "lang",
    "string",
    false,
    "language of the question texts (default en)",
);
const INSIGHT_TYPES: P = P("insight_types", "list", false, "insight types");
const BARCODE_PATH: P = P("barcode", "path", true, "product barcode");
const LOGO_ID_PATH: P = P("logo_id", "path_int", true, "logo id");

const QUESTION_LIST: &[P] = &[
    PAGE,
    COUNT,
    LANG,
    INSIGHT_TYPES,
    P("value_tag", "string", false, "value tag"),
    P("brands", "list", false, "brand tags (any, first 10)"),
    P(
        "reserved_barcode",
        "boolean",
        false,
        "include reserved barcodes",
    ),
    SERVER_TYPE,
    COUNTRIES,
    P("campaigns", "list", false, "campaigns (all must match)"),
    P("campaign", "string", false, "deprecated single campaign"),
    P(
        "with_image",
        "boolean",
        false,
        "only insights with (or without) an image",
    ),
    P("predictor", "string", false, "predictor"),
    DEVICE,
];

fn logo_update_body() -> Value {
    json!({"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "minLength": 1}, "value": {"type": ["string", "null"]}}})
}

fn logo_annotate_body() -> Value {
    json!({"type": "object", "required": ["annotations"], "properties": {
        "server_type": {"type": "string", "enum": ["off", "obf", "opff", "opf", "off_pro"]},
        "annotations": {"type": "array", "items": {"type": "object",
            "required": ["logo_id", "type", "value"], "properties": {
                "logo_id": {"type": "integer"},
                "type": {"type": "string", "enum": super::logos::LOGO_TYPES},
                "value": {"type": ["string", "null"]}}}}}})
}

fn image_prediction_import_body() -> Value {
    json!({"type": "object", "required": ["predictions"], "properties": {
        "predictions": {"type": "array", "items": {"type": "object",
            "required": ["barcode", "image_id", "model_name", "model_version", "data"], "properties": {
                "barcode": {"type": "string"}, "image_id": {"type": "string"},
                "model_name": {"type": "string"}, "model_version": {"type": "string"},
                "data": {"type": "object"},
                "server_type": {"type": "string", "enum": ["off", "obf", "opff", "opf", "off_pro"]}}}}}})
}

const OPS: &[Op] = &[
    Op {
        method: "get",
        path: "/api/v1/status",
        summary: "Service status",
        params: &[],
        body: None,
        ok: &[200],
        errors: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/health",
        summary: "Health of each dependency",
        params: &[],
        body: None,
        ok: &[200],
        errors: &[500],
    },
    Op {
        method: "get",
        path: "/robots.txt",
        summary: "Crawling policy",
        params: &[],
        body: None,
        ok: &[200],
        errors: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/products/dataset",
        summary: "Tag of the local product dump",
        params: &[],
        body: None,
        ok: &[200],
        errors: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/products/dataset",
        summary: "Refresh the product dump (not available: use import-products)",
        params: &[],
        body: None,
        ok: &[200],
        errors: &[503],
    },
    Op {
        method: "post",
        path: "/api/v1/batch/import",
        summary: "Import batch job results (bearer token)",
        params: &[
            P("job_type", "string", true, "ingredients_spellcheck"),
            P("batch_dir", "string", true, "batch directory"),
        ],
        body: None,
        ok: &[200],
        errors: &[400, 401, 503],
    },
    Op {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This document",
        params: &[],
        body: None,
        ok: &[200],
        errors: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/questions/{barcode}",
        summary: "Questions about one product",
        params: &[
            BARCODE_PATH,
            COUNT,
            LANG,
            SERVER_TYPE,
            INSIGHT_TYPES,
            DEVICE,
        ],
        body: None,
        ok: &[200],
        errors: &[400, 401],
    },
    Op {
        method: "get",
        path: "/api/v1/questions",
        summary: "Questions, by popularity, randomly or by confidence",
        params: &[
            P(
                "order_by",
                "order_by_questions",
                false,
                "popularity (default), random or confidence",
            ),
            PAGE,
            COUNT,
            LANG,
            INSIGHT_TYPES,
            P("value_tag", "string", false, "value tag"),
            P("brands", "list", false, "brand tags (any, first 10)"),
            P(
                "reserved_barcode",
                "boolean",
                false,
                "include reserved barcodes",
            ),
            SERVER_TYPE,
            COUNTRIES,
            P("campaigns", "list", false, "campaigns (all must match)"),
            P("campaign", "string", false, "deprecated single campaign"),
            P(
                "with_image",
                "boolean",
                false,
                "only insights with (or without) an image",
            ),
            P("predictor", "string", false, "predictor"),
            DEVICE,
        ],
        body: None,
        ok: &[200],
        errors: &[400, 401],
    },
    Op {
        method: "get",
        path: "/api/v1/questions/random",
        summary: "Random questions (biased towards voted ones)",
        params: QUESTION_LIST,
        body: None,
        ok: &[200],
        errors: &[400, 401],
    },
    Op {
        method: "get",
        path: "/api/v1/questions/popular",
        summary: "Questions about the most scanned products",
        params: QUESTION_LIST,
        body: None,
        ok: &[200],
        errors: &[400, 401],
    },
    Op {
        method: "get",
        path: "/api/v1/questions/unanswered",
        summary: "Open questions grouped by value tag",
        params: &[
            PAGE,
            COUNT,
            P("type", "string", false, "insight type"),
            COUNTRIES,
            P(
                "reserved_barcode",
                "boolean",
                false,
                "only reserved barcodes when true",
            ),
            SERVER_TYPE,
            P("campaigns", "list", false, "campaigns"),
            P("campaign", "string", false, "deprecated single campaign"),
            P("predictor", "string", false, "predictor"),
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/questions/counts",
        summary: "Open questions per barcode (up to 100 barcodes)",
        params: &[
            P("barcodes", "list", true, "barcodes"),
            SERVER_TYPE,
            INSIGHT_TYPES,
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/insights",
        summary: "Insights",
        params: &[
            COUNT,
            PAGE,
            P("insight_types", "list", false, "insight types (first 10)"),
            BARCODE_Q,
            P("annotated", "boolean", false, "annotated or not"),
            P("annotation", "integer", false, "annotation value"),
            P("value_tag", "string", false, "value tag"),
            P("brands", "list", false, "brands (first 10)"),
            P("predictor", "string", false, "predictor"),
            SERVER_TYPE,
            COUNTRIES,
            P(
                "order_by",
                "order_by_insights",
                false,
                "random or popularity",
            ),
            P("campaigns", "list", false, "campaigns"),
            P("lc", "list", false, "language codes (any)"),
            DEVICE,
        ],
        body: None,
        ok: &[200],
        errors: &[400, 401],
    },
    Op {
        method: "get",
        path: "/api/v1/insights/{barcode}",
        summary: "Open insights of a product",
        params: &[BARCODE_PATH, SERVER_TYPE],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/insights/detail/{insight_id}",
        summary: "One insight",
        params: &[P("insight_id", "path_uuid", true, "insight id")],
        body: None,
        ok: &[200],
        errors: &[404],
    },
    Op {
        method: "get",
        path: "/api/v1/insights/random",
        summary: "Random open insights",
        params: &[
            P("type", "string", false, "insight type"),
            P("value_tag", "string", false, "value tag"),
            COUNT,
            P("predictor", "string", false, "predictor"),
            SERVER_TYPE,
            COUNTRIES,
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "post",
        path: "/api/v1/insights/annotate",
        summary: "Annotate an insight (vote when anonymous)",
        params: &[
            P("insight_id", "uuid", true, "insight id"),
            P("annotation", "annotation", true, "-1, 0, 1 or 2"),
            P(
                "update",
                "boolean",
                false,
                "send the edit to Product Opener (default true)",
            ),
            P("data", "string", false, "JSON user data (annotation 2)"),
            DEVICE,
        ],
        body: None,
        ok: &[200],
        errors: &[400, 401, 503],
    },
    Op {
        method: "get",
        path: "/api/v1/insights/dump",
        summary: "Insights as CSV",
        params: &[
            P(
                "insight_types",
                "list",
                false,
                "insight types (required to match anything)",
            ),
            BARCODE_Q,
            P("annotated", "boolean", false, "annotated or not"),
            P("value_tag", "string", false, "value tag"),
            P("count", "dump_count", false, "maximum rows (0 to 10000)"),
            SERVER_TYPE,
        ],
        body: None,
        ok: &[200, 204],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/users/statistics/{username}",
        summary: "Annotations of a user",
        params: &[P("username", "path", true, "username")],
        body: None,
        ok: &[200],
        errors: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/predictions",
        summary: "Predictions",
        params: &[
            PAGE,
            COUNT,
            BARCODE_Q,
            P("value_tag", "string", false, "value tag"),
            P("types", "list", false, "prediction types (first 10)"),
            SERVER_TYPE,
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/images",
        summary: "Images (by default those without image predictions)",
        params: &[
            COUNT,
            PAGE,
            P(
                "with_predictions",
                "boolean",
                false,
                "include images with predictions",
            ),
            BARCODE_Q,
            SERVER_TYPE,
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/image_predictions",
        summary: "Image predictions (by default those without logos)",
        params: &[
            COUNT,
            PAGE,
            P(
                "with_logo",
                "boolean",
                false,
                "include predictions with logos",
            ),
            BARCODE_Q,
            P("type", "string", false, "prediction type"),
            P("model_name", "string", false, "model name"),
            P("model_version", "string", false, "model version"),
            P("min_confidence", "number", false, "minimum max_confidence"),
            P("image_id", "string", false, "image id"),
            SERVER_TYPE,
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "post",
        path: "/api/v1/image_predictions/import",
        summary: "Import image predictions (not available yet)",
        params: &[],
        body: Some(image_prediction_import_body),
        ok: &[200],
        errors: &[400, 503],
    },
    Op {
        method: "get",
        path: "/api/v1/annotation/collection",
        summary: "Logo annotations with image prediction and image",
        params: &[
            BARCODE_Q,
            SERVER_TYPE,
            P("types", "list", false, "annotation types"),
            P("value_tag", "string", false, "value tag"),
            PAGE,
            COUNT,
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/products/{barcode}/audit",
        summary: "Every prediction, insight, image, image prediction and logo of a product",
        params: &[BARCODE_PATH, SERVER_TYPE],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/predict/ocr_prediction",
        summary: "Predictions from an OCR JSON on an image host",
        params: &[
            P("ocr_url", "string", true, "OCR JSON URL"),
            SERVER_TYPE,
            P("prediction_types", "list", false, "prediction types"),
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/predict/lang/product",
        summary: "Languages of a product's images (image_lang predictions)",
        params: &[P("barcode", "string", true, "product barcode"), SERVER_TYPE],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "post",
        path: "/api/v1/webhook/product",
        summary:
            "Product Opener webhook: a product was updated or deleted (off unless http.webhooks)",
        params: &[
            P("barcode", "string", true, "product barcode"),
            P("action", "string", true, "updated or deleted"),
            P(
                "server_domain",
                "string",
                true,
                "e.g. api.openfoodfacts.org",
            ),
            P("diffs", "string", true, "JSON of the changes"),
        ],
        body: None,
        ok: &[200],
        errors: &[400, 404],
    },
    Op {
        method: "post",
        path: "/api/v1/images/import",
        summary: "Product Opener webhook: an image was uploaded (off unless http.webhooks)",
        params: &[
            P("barcode", "string", true, "product barcode"),
            P("image_url", "string", true, "URL of the image"),
            P("ocr_url", "string", true, "URL of its OCR document"),
            P(
                "server_domain",
                "string",
                false,
                "default api.openfoodfacts.org",
            ),
        ],
        body: None,
        ok: &[200],
        errors: &[400, 404],
    },
    Op {
        method: "get",
        path: "/api/v1/images/crop",
        summary: "JPEG crop of a product image",
        params: &[
            P("image_url", "string", true, "image URL on an image host"),
            P("y_min", "number", true, "relative"),
            P("x_min", "number", true, "relative"),
            P("y_max", "number", true, "relative"),
            P("x_max", "number", true, "relative"),
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/images/logos",
        summary: "Logos by id",
        params: &[P("logo_ids", "int_list", true, "logo ids (at most 500)")],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/images/logos/search",
        summary: "Search logos",
        params: &[
            SERVER_TYPE,
            P("count", "logo_count", false, "1 to 2000"),
            P("type", "string", false, "annotation type"),
            BARCODE_Q,
            P("value", "string", false, "annotation value"),
            P("taxonomy_value", "string", false, "taxonomy value"),
            P("min_confidence", "number", false, "minimum score"),
            P("random", "boolean", false, "random order"),
            P("annotated", "boolean", false, "annotated or not"),
        ],
        body: None,
        ok: &[200],
        errors: &[400],
    },
    Op {
        method: "get",
        path: "/api/v1/images/logos/{logo_id}",
        summary: "One logo",
        params: &[LOGO_ID_PATH],
        body: None,
        ok: &[200],
        errors: &[404],
    },
    Op {
        method: "put",
        path: "/api/v1/images/logos/{logo_id}",
        summary: "Annotate one logo (authenticated)",
        params: &[LOGO_ID_PATH],
        body: Some(logo_update_body),
        ok: &[204],
        errors: &[400, 401, 403, 404, 503],
    },
    Op {
        method: "post",
        path: "/api/v1/images/logos/{logo_id}/reset",
        summary: "Reset a logo annotation",
        params: &[LOGO_ID_PATH],
        body: None,
        ok: &[204],
        errors: &[404, 503],
    },
    Op {
        method: "post",
        path: "/api/v1/images/logos/annotate",
        summary: "Annotate logos (authenticated)",
        params: &[],
        body: Some(logo_annotate_body),
        ok: &[200],
        errors: &[400, 401, 403, 404, 503],
    },
    Op {
        method: "post",
        path: "/api/v1/images/logos/update",
        summary: "Rename logo annotations in bulk",
        params: &[
            P("source_type", "string", true, "current type"),
            P("source_value", "string", true, "current value"),
            P("target_type", "string", true, "new type"),
            P("target_value", "string", true, "new value"),
        ],
        body: None,
        ok: &[200],
        errors: &[400, 401, 503],
    },
    Op {
        method: "get",
        path: "/api/v1/ann/search",
        summary: "Nearest logos of a random logo",
        params: &[P("count", "ann_count", false, "1 to 500"), SERVER_TYPE],
        body: None,
        ok: &[200],
        errors: &[400, 503],
    },
    Op {
        method: "get",
        path: "/api/v1/ann/search/{logo_id}",
        summary: "Nearest logos of a logo",
        params: &[
            LOGO_ID_PATH,
            P("count", "ann_count", false, "1 to 500"),
            SERVER_TYPE,
        ],
        body: None,
        ok: &[200],
        errors: &[400, 404, 503],
    },
];

fn schema(kind: &str) -> Value {
    match kind {
        "server_type" => {
            json!({"type": "string", "enum": ["off", "obf", "opff", "opf", "off_pro"]})
        }
        "count" | "page" => json!({"type": "integer", "minimum": 1}),
        "logo_count" => json!({"type": "integer", "minimum": 1, "maximum": 2000}),
        "ann_count" => json!({"type": "integer", "minimum": 1, "maximum": 500}),
        "dump_count" => json!({"type": "integer", "minimum": 0, "maximum": 10000}),
        "annotation" => json!({"type": "integer", "minimum": -1, "maximum": 2}),
        "integer" => json!({"type": "integer"}),
        "number" => json!({"type": "number"}),
        "boolean" => json!({"type": "boolean"}),
        "uuid" | "path_uuid" => json!({"type": "string", "format": "uuid"}),
        "path_int" => json!({"type": "integer"}),
        "list" | "countries" => json!({"type": "array", "items": {"type": "string"}}),
        "int_list" => json!({"type": "array", "items": {"type": "integer"}}),
        "order_by_questions" => {
            json!({"type": "string", "enum": ["popularity", "random", "confidence"]})
        }
        "order_by_insights" => json!({"type": "string", "enum": ["random", "popularity"]}),
        _ => json!({"type": "string"}),
    }
}

fn parameter(p: &P) -> Value {
    let location = if p.1.starts_with("path") {
        "path"
    } else {
        "query"
    };
    let mut v = json!({
        "name": p.0, "in": location, "required": p.2 || location == "path",
        "description": p.3, "schema": schema(p.1),
    });
    if matches!(p.1, "list" | "countries" | "int_list") {
        if let Some(o) = v.as_object_mut() {
            o.insert("style".into(), json!("form"));
            o.insert("explode".into(), json!(false));
        }
    }
    v
}

/// The whole document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let mut responses = Map::new();
        for code in op.ok {
            responses.insert(code.to_string(), json!({"description": "success"}));
        }
        for code in op.errors {
            responses.insert(
                code.to_string(),
                json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
            );
        }
        let mut operation = json!({
            "summary": op.summary,
            "parameters": op.params.iter().map(parameter).collect::<Vec<_>>(),
            "responses": responses,
        });
        if let (Some(body), Some(o)) = (op.body, operation.as_object_mut()) {
            o.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": body()}}}),
            );
        }
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(e) = entry.as_object_mut() {
            e.insert(op.method.to_string(), operation);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Robotoff", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Predictions, insights and questions about Open Food Facts products."},
        "paths": paths,
        "components": {"schemas": {"Error": {"type": "object", "required": ["error", "title"], "properties": {
            "error": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}}}}},
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document(_state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    json(&build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = build();
        let router = super::super::routes::router();
        let mut documented = 0;
        for route in router.routes() {
            let path = route.openapi_path();
            let method = route.method.as_str().to_ascii_lowercase();
            assert!(
                doc["paths"][&path][&method].is_object(),
                "{method} {path} is not in the OpenAPI document"
            );
            documented += 1;
        }
        let ops: usize = doc["paths"]
            .as_object()
            .map(|p| {
                p.values()
                    .filter_map(|v| v.as_object())
                    .map(|o| o.len())
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(
            ops, documented,
            "the document describes routes that do not exist"
        );
    }
}
