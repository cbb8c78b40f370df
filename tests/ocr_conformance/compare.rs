//! Comparison rules of the conformance cases: numbers compare numerically (as in
//! Python, `150 == 150.0`), expected keys are a subset of the actual ones.

use serde_json::Value;

/// Deep equality where numbers compare by value.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Value at a dotted path (`data.type`), `Null` when absent.
pub fn path<'v>(v: &'v Value, dotted: &str) -> &'v Value {
    let mut cur = v;
    for key in dotted.split('.') {
        cur = cur.get(key).unwrap_or(&Value::Null);
    }
    cur
}

/// Every key of `expected` has an equal value in `actual`.
pub fn fields_match(actual: &Value, expected: &Value) -> Result<(), String> {
    let Some(exp) = expected.as_object() else {
        return Err(format!("expected entry is not an object: {expected}"));
    };
    for (k, v) in exp {
        let got = actual.get(k).unwrap_or(&Value::Null);
        if !json_eq(got, v) {
            return Err(format!("field {k}: expected {v}, got {got}"));
        }
    }
    Ok(())
}

pub fn show(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
