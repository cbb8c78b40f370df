//! How a route documents itself in the OpenAPI document: its parameters, body schema
//! and statuses. Every route carries one ([`super::router::Route`]), so none can be left
//! undocumented.

use serde_json::{json, Value};

/// A query (or path) parameter: name, type, required, description.
#[derive(Debug)]
pub struct P(
    pub &'static str,
    pub &'static str,
    pub bool,
    pub &'static str,
);

/// What the OpenAPI document says of one operation (its method and path come from the
/// route): summary, parameters, JSON body schema, success and error statuses.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    pub summary: &'static str,
    pub params: &'static [P],
    pub body: Option<fn() -> Value>,
    pub ok: &'static [u16],
    pub errors: &'static [u16],
    /// Who may call it.
    pub security: Security,
}

/// Who may call a route, as the OpenAPI document states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Anyone.
    Public,
    /// Anyone; Product Opener credentials, when sent, are checked and then count (an
    /// anonymous annotation is a vote).
    OptionalUser,
    /// A Product Opener user (HTTP Basic or the `session` cookie), checked with Product
    /// Opener.
    User,
    /// The operator token (`http.operator_token`) as a bearer token.
    Operator,
    /// The operations page's admin token (`http.admin_token`) as a bearer token.
    Admin,
    /// The batch job key (`http.batch_job_key`) as a bearer token.
    BatchKey,
    /// Product Opener's webhook secret: bearer token or HMAC of the body.
    Webhook,
}

impl Security {
    /// The operation's `security` requirement list.
    pub fn requirements(self) -> Value {
        let user = [
            json!({"productOpenerBasic": []}),
            json!({"productOpenerSession": []}),
        ];
        match self {
            Security::Public => json!([]),
            Security::OptionalUser => json!([{}, user[0], user[1]]),
            Security::User => json!(user),
            Security::Operator => json!([{"operatorToken": []}]),
            Security::Admin => json!([{"adminToken": []}]),
            Security::BatchKey => json!([{"batchJobKey": []}]),
            Security::Webhook => json!([{"webhookToken": []}, {"webhookSignature": []}]),
        }
    }
}

/// The security schemes the requirements name.
pub fn security_schemes() -> Value {
    json!({
        "productOpenerBasic": {"type": "http", "scheme": "basic",
            "description": "Product Opener user name and password, checked with Product Opener's /cgi/auth.pl"},
        "productOpenerSession": {"type": "apiKey", "in": "cookie", "name": "session",
            "description": "Product Opener session cookie, checked with Product Opener's /cgi/auth.pl"},
        "operatorToken": {"type": "http", "scheme": "bearer",
            "description": "the service's operator token (http.operator_token)"},
        "adminToken": {"type": "http", "scheme": "bearer",
            "description": "the operations page's admin token (http.admin_token)"},
        "batchJobKey": {"type": "http", "scheme": "bearer",
            "description": "the batch job key (http.batch_job_key)"},
        "webhookToken": {"type": "http", "scheme": "bearer",
            "description": "the webhook secret (http.webhook_secret)"},
        "webhookSignature": {"type": "apiKey", "in": "header", "name": "X-Robotoff-Signature",
            "description": "sha256=<hex HMAC-SHA256 of the body, keyed with http.webhook_secret>"},
    })
}

pub const SERVER_TYPE: P = P(
    "server_type",
    "server_type",
    false,
    "Product Opener flavor (default off)",
);
pub const COUNT: P = P("count", "count", false, "number of results (≥ 1)");
pub const PAGE: P = P("page", "page", false, "page number (≥ 1)");
pub const BARCODE_Q: P = P("barcode", "string", false, "product barcode (normalised)");
pub const DEVICE: P = P(
    "device_id",
    "string",
    false,
    "client id hiding what it voted on",
);
pub const COUNTRIES: P = P(
    "countries",
    "countries",
    false,
    "two-letter country codes (any matches)",
);
pub const LANG: P = P(
    "lang",
    "string",
    false,
    "language of the question texts (default en)",
);
pub const INSIGHT_TYPES: P = P("insight_types", "list", false, "insight types");
pub const BARCODE_PATH: P = P("barcode", "path", true, "product barcode");
pub const LOGO_ID_PATH: P = P("logo_id", "path_int", true, "logo id");

pub const QUESTION_LIST: &[P] = &[
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

/// A parameter as an OpenAPI parameter object.
pub fn parameter(p: &P) -> Value {
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
