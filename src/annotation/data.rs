//! Validation of the `data` a user sends with annotation 2 (spec api-db §4.1 step 4),
//! with error texts in the style Robotoff returns (result 11).

use serde_json::{Map, Value};

/// Validation problems of one body: `(field, message)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    pub model: &'static str,
    pub errors: Vec<(String, String)>,
}

impl ValidationErrors {
    pub fn new(model: &'static str) -> Self {
        ValidationErrors {
            model,
            errors: Vec::new(),
        }
    }

    pub fn single(model: &'static str, field: &str, message: &str) -> Self {
        let mut e = Self::new(model);
        e.push(field, message);
        e
    }

    pub fn push(&mut self, field: &str, message: &str) {
        self.errors.push((field.to_string(), message.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    /// `2 validation errors for CategoryAnnotateBody\nvalue_tag\n  Field required\n…`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(f, "{n} validation error{plural} for {}", self.model)?;
        for (field, message) in &self.errors {
            write!(f, "\n{field}\n  {message}")?;
        }
        Ok(())
    }
}

const FIELD_REQUIRED: &str = "Field required";
const EXTRA_FORBIDDEN: &str = "Extra inputs are not permitted";
const NOT_A_STRING: &str = "Input should be a valid string";

fn object<'a>(
    model: &'static str,
    data: &'a Value,
) -> Result<&'a Map<String, Value>, ValidationErrors> {
    data.as_object().ok_or_else(|| {
        ValidationErrors::single(
            model,
            "",
            &format!("Input should be a valid dictionary or instance of {model}"),
        )
    })
}

/// A category chosen by the user: exactly `{"value_tag": str}`.
pub fn category_body(data: &Value) -> Result<String, ValidationErrors> {
    const MODEL: &str = "CategoryAnnotateBody";
    let map = object(MODEL, data)?;
    let mut errors = ValidationErrors::new(MODEL);
    let value_tag = match map.get("value_tag") {
        None => {
            errors.push("value_tag", FIELD_REQUIRED);
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push("value_tag", NOT_A_STRING);
            None
        }
    };
    for key in map.keys().filter(|k| *k != "value_tag") {
        errors.push(key, EXTRA_FORBIDDEN);
    }
    errors.into_result()?;
    value_tag.ok_or_else(|| ValidationErrors::single(MODEL, "value_tag", FIELD_REQUIRED))
}

/// An ingredient list given by the user, with an optional rotation and crop.
#[derive(Debug, Clone, PartialEq)]
pub struct IngredientBody {
    pub annotation: String,
    pub rotation: Option<i64>,
    pub bounding_box: Option<Vec<f64>>,
}

/// `{"annotation": str, "rotation"?: int, "bounding_box"?: [4 floats in 0..1 with
/// y_min < y_max and x_min < x_max]}`, no other key.
pub fn ingredient_body(data: &Value) -> Result<IngredientBody, ValidationErrors> {
    const MODEL: &str = "IngredientAnnotateBody";
    let map = object(MODEL, data)?;
    let mut errors = ValidationErrors::new(MODEL);
    let annotation = match map.get("annotation") {
        None => {
            errors.push("annotation", FIELD_REQUIRED);
            String::new()
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            errors.push("annotation", NOT_A_STRING);
            String::new()
        }
    };
    let rotation = match map.get("rotation") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64().or_else(|| whole_float(v)) {
            Some(r) => Some(r),
            None => {
                errors.push("rotation", "Input should be a valid integer");
                None
            }
        },
    };
    let bounding_box = match map.get("bounding_box") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let coords: Vec<Option<f64>> = items.iter().map(Value::as_f64).collect();
            if coords.iter().any(Option::is_none) {
                errors.push("bounding_box", "Input should be a list of valid numbers");
                None
            } else {
                Some(coords.into_iter().flatten().collect::<Vec<f64>>())
            }
        }
        Some(_) => {
            errors.push("bounding_box", "Input should be a valid list");
            None
        }
    };
    for key in map
        .keys()
        .filter(|k| !matches!(k.as_str(), "annotation" | "rotation" | "bounding_box"))
    {
        errors.push(key, EXTRA_FORBIDDEN);
    }
    errors.into_result()?;
    if let Some(b) = bounding_box.as_deref().filter(|b| !b.is_empty()) {
        let problem = if b.len() != 4 {
            Some("Value error, bounding_box must have exactly 4 elements")
        } else if !b.iter().all(|c| (0.0..=1.0).contains(c)) {
            Some("Value error, bounding_box coordinates must be between 0.0 and 1.0")
        } else if !(b[0] < b[2] && b[1] < b[3]) {
            Some("Value error, bounding_box coordinates must be in the format (y_min, x_min, y_max, x_max)")
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(ValidationErrors::single(MODEL, "", message));
        }
    }
    Ok(IngredientBody {
        annotation,
        rotation,
        bounding_box,
    })
}

/// `3.0` → 3 (an integer written as a float); other floats are not integers.
fn whole_float(v: &Value) -> Option<i64> {
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// A relative box `[y_min, x_min, y_max, x_max]` read from stored insight data.
pub fn relative_box(v: &Value) -> Option<[f64; 4]> {
    let items = v.as_array()?;
    if items.len() != 4 {
        return None;
    }
    Some([
        items.first()?.as_f64()?,
        items.get(1)?.as_f64()?,
        items.get(2)?.as_f64()?,
        items.get(3)?.as_f64()?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn category_bodies() {
        assert_eq!(
            category_body(&json!({"value_tag": "en:beef"})),
            Ok("en:beef".to_string())
        );
        let err = category_body(&json!({"invalid_key": "v"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2 validation errors for CategoryAnnotateBody\nvalue_tag\n  Field required\ninvalid_key\n  Extra inputs are not permitted"
        );
        assert!(category_body(&json!({"value_tag": 3})).is_err());
        assert!(category_body(&json!("en:beef")).is_err());
    }

    /// Robotoff's `TestIngredientSpellcheckAnnotator::test_validate_data` and
    /// `TestIngredientDetectionAnnotator::test_process_annotation_invalid_data`.
    #[test]
    fn ingredient_bodies() {
        let ok = [
            (json!({"annotation": "water, salt"}), None, None),
            (json!({"annotation": "x", "rotation": 90}), Some(90), None),
            (
                json!({"annotation": "x", "bounding_box": [0.2, 0.2, 0.6, 0.6], "rotation": null}),
                None,
                Some(vec![0.2, 0.2, 0.6, 0.6]),
            ),
        ];
        for (data, rotation, bbox) in ok {
            let body = ingredient_body(&data).expect("valid body");
            assert_eq!(
                (body.rotation, body.bounding_box),
                (rotation, bbox),
                "{data}"
            );
        }
        let bad = [
            json!({}),
            json!({"annotation": "List of ingredients", "wrong_key": "wrong_item"}),
            json!({"annotation": "x", "bounding_box": [0.1, 0.1, 0.5]}),
            json!({"annotation": "x", "bounding_box": [0.1, 0.1, 1.5, 0.5]}),
            json!({"annotation": "x", "bounding_box": [0.5, 0.1, 0.1, 0.5]}),
            json!({"annotation": "x", "rotation": "ninety"}),
            json!({"annotation": 3}),
        ];
        for data in bad {
            assert!(ingredient_body(&data).is_err(), "{data}");
        }
        assert_eq!(
            ingredient_body(&json!({"invalid_field": "Test"})).unwrap_err().to_string(),
            "2 validation errors for IngredientAnnotateBody\nannotation\n  Field required\ninvalid_field\n  Extra inputs are not permitted"
        );
    }
}
