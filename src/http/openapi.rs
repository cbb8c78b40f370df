//! The OpenAPI 3 document of the API, built from the routes' own documentation.

use super::doc::{parameter, security_schemes, Doc};
use serde_json::{json, Map, Value};

/// One documented operation: method (lowercase), OpenAPI path, documentation.
pub struct Operation<'a> {
    pub method: String,
    pub path: String,
    pub doc: &'a Doc,
}

/// The whole document.
pub fn build<'a>(operations: impl IntoIterator<Item = Operation<'a>>) -> Value {
    let mut paths = Map::new();
    for op in operations {
        let doc = op.doc;
        let mut responses = Map::new();
        for code in doc.ok {
            responses.insert(code.to_string(), json!({"description": "success"}));
        }
        for code in doc.errors {
            responses.insert(
                code.to_string(),
                json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
            );
        }
        let mut operation = json!({
            "summary": doc.summary,
            "parameters": doc.params.iter().map(parameter).collect::<Vec<_>>(),
            "responses": responses,
            "security": doc.security.requirements(),
        });
        if let (Some(body), Some(o)) = (doc.body, operation.as_object_mut()) {
            o.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": body()}}}),
            );
        }
        let entry = paths
            .entry(op.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(e) = entry.as_object_mut() {
            e.insert(op.method, operation);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Robotoff", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Predictions, insights and questions about Open Food Facts products."},
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error", "title"], "properties": {
                "error": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}}}},
            "securitySchemes": security_schemes(),
        },
    })
}

/// States the bound of every `count` parameter that has none of its own.
pub fn bound_counts(document: &mut Value, max_count: i64) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in operation.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for p in params {
                if p.get("name").and_then(Value::as_str) != Some("count") {
                    continue;
                }
                if let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut) {
                    schema.entry("maximum").or_insert_with(|| json!(max_count));
                }
            }
        }
    }
}
