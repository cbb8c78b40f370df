//! Nutrient values to send to Product Opener (spec api-db §4.4): reading them from
//! insight or user data, choosing per-100 g or per-serving, default units, form fields.

use super::data::ValidationErrors;
use serde_json::{json, Map, Value};

const MODEL: &str = "NutrientData";

/// One nutrient value as entered: the number as text and its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutrientValue {
    pub value: String,
    pub unit: Option<String>,
}

/// Nutrients of one basis (`100g` or `serving`), names without the basis suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutrientData {
    pub nutrients: Vec<(String, NutrientValue)>,
    pub serving_size: Option<String>,
    /// `100g` or `serving`.
    pub nutrition_data_per: String,
}

/// Unit assumed when none is given.
pub fn default_unit(nutrient: &str) -> Option<&'static str> {
    Some(match nutrient {
        "energy-kcal" => "kcal",
        "energy-kj" => "kJ",
        "proteins" | "carbohydrates" | "sugars" | "added-sugars" | "fat" | "saturated-fat"
        | "trans-fat" | "fiber" | "salt" => "g",
        "iron" | "sodium" | "calcium" | "potassium" | "cholesterol" => "mg",
        "vitamin-d" => "µg",
        _ => return None,
    })
}

impl NutrientData {
    /// Reads `{"nutrients": {"<name>_<100g|serving>": {"value": str, "unit": str|null}},
    /// "serving_size"?: str}`. A `serving_size` entry among the nutrients is moved to
    /// the top level. The more frequent basis wins (on a tie, the basis of the first
    /// key in the object's order); nutrients of the other basis are dropped.
    pub fn parse(data: &Value) -> Result<NutrientData, ValidationErrors> {
        let map = data.as_object().ok_or_else(|| {
            ValidationErrors::single(
                MODEL,
                "",
                "Input should be a valid dictionary or instance of NutrientData",
            )
        })?;
        let nutrients = match map.get("nutrients") {
            Some(Value::Object(n)) => n,
            Some(_) => {
                return Err(ValidationErrors::single(
                    MODEL,
                    "nutrients",
                    "Input should be a valid dictionary",
                ))
            }
            None => {
                return Err(ValidationErrors::single(
                    MODEL,
                    "nutrients",
                    "Field required",
                ))
            }
        };
        let mut errors = ValidationErrors::new(MODEL);
        let mut serving_size = match map.get("serving_size") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.push("serving_size", "Input should be a valid string");
                None
            }
        };
        if let Some(moved) = nutrients.get("serving_size") {
            let value = match moved {
                Value::Object(o) => o.get("value"),
                other => Some(other),
            };
            serving_size = match value {
                Some(Value::String(s)) => Some(s.clone()),
                None | Some(Value::Null) => None,
                Some(_) => {
                    errors.push("serving_size", "Input should be a valid string");
                    None
                }
            };
        }
        let mut entries: Vec<(&str, NutrientValue)> = Vec::new();
        for (key, v) in nutrients.iter().filter(|(k, _)| *k != "serving_size") {
            match nutrient_value(v) {
                Ok(value) => entries.push((key.as_str(), value)),
                Err(message) => errors.push(&format!("nutrients.{key}"), message),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if entries.is_empty() {
            return Err(ValidationErrors::single(
                MODEL,
                "",
                "Value error, at least one nutrient is required",
            ));
        }
        let mut bases: Vec<(&str, usize)> = Vec::new();
        for (key, _) in &entries {
            let basis = match key.rsplit_once('_') {
                Some((_, basis @ ("100g" | "serving"))) => basis,
                _ => {
                    return Err(ValidationErrors::single(
                        MODEL,
                        "",
                        "Value error, each nutrient key must end with '_100g' or '_serving'",
                    ))
                }
            };
            match bases.iter_mut().find(|(b, _)| *b == basis) {
                Some((_, n)) => *n += 1,
                None => bases.push((basis, 1)),
            }
        }
        let mut per = "100g";
        let mut best = 0;
        for (basis, n) in &bases {
            if *n > best {
                best = *n;
                per = basis;
            }
        }
        let nutrients = entries
            .into_iter()
            .filter(|(key, _)| key.ends_with(per))
            .filter_map(|(key, value)| {
                key.rsplit_once('_')
                    .map(|(name, _)| (name.to_string(), value))
            })
            .collect();
        Ok(NutrientData {
            nutrients,
            serving_size,
            nutrition_data_per: per.to_string(),
        })
    }

    /// Fills in missing units where a default is known.
    pub fn with_default_units(mut self) -> Self {
        for (name, value) in &mut self.nutrients {
            if value.unit.is_none() {
                value.unit = default_unit(name).map(str::to_string);
            }
        }
        self
    }

    /// Form fields of the product update: `nutrition_data_per`, `serving_size` (when
    /// given), and `nutriment_<name>` / `nutriment_<name>_unit` for each nutrient that
    /// has a unit.
    pub fn form_fields(&self) -> Vec<(String, String)> {
        let mut fields = vec![(
            "nutrition_data_per".to_string(),
            self.nutrition_data_per.clone(),
        )];
        if let Some(size) = self.serving_size.as_ref().filter(|s| !s.is_empty()) {
            fields.push(("serving_size".to_string(), size.clone()));
        }
        for (name, v) in &self.nutrients {
            if let Some(unit) = v.unit.as_ref().filter(|u| !u.is_empty()) {
                fields.push((format!("nutriment_{name}"), v.value.clone()));
                fields.push((format!("nutriment_{name}_unit"), unit.clone()));
            }
        }
        fields
    }

    /// The JSON stored as the insight's `data.annotation`.
    pub fn to_json(&self) -> Value {
        let nutrients: Map<String, Value> = self
            .nutrients
            .iter()
            .map(|(name, v)| (name.clone(), json!({"value": v.value, "unit": v.unit})))
            .collect();
        json!({
            "nutrients": nutrients,
            "serving_size": self.serving_size,
            "nutrition_data_per": self.nutrition_data_per,
        })
    }
}

fn nutrient_value(v: &Value) -> Result<NutrientValue, &'static str> {
    let map = v.as_object().ok_or("Input should be a valid dictionary")?;
    let value = match map.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("value: Input should be a valid string"),
        None => return Err("value: Field required"),
    };
    let unit = match map.get("unit") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("unit: Input should be a valid string"),
    };
    Ok(NutrientValue { value, unit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nv(value: &str, unit: Option<&str>) -> NutrientValue {
        NutrientValue {
            value: value.to_string(),
            unit: unit.map(str::to_string),
        }
    }

    /// Robotoff's `TestNutrientExtractionAnnotator::test_add_default_unit_*`.
    #[test]
    fn default_units() {
        let cases = [
            (
                json!({"nutrients": {"energy-kcal_100g": {"value": "100"}, "proteins_100g": {"value": "10", "unit": null}, "sugars_100g": {"value": "5"}}}),
                vec![
                    ("energy-kcal", Some("kcal")),
                    ("proteins", Some("g")),
                    ("sugars", Some("g")),
                ],
            ),
            (
                json!({"nutrients": {"energy-kcal_serving": {"value": "100", "unit": "kcal"}, "proteins_serving": {"value": "10", "unit": "mg"}}}),
                vec![("energy-kcal", Some("kcal")), ("proteins", Some("mg"))],
            ),
            (
                json!({"nutrients": {"unknown-nutrient_100g": {"value": "100"}, "vitamin-d_100g": {"value": "1"}}}),
                vec![("unknown-nutrient", None), ("vitamin-d", Some("µg"))],
            ),
        ];
        for (input, units) in cases {
            let data = NutrientData::parse(&input)
                .expect("valid")
                .with_default_units();
            let got: Vec<(&str, Option<&str>)> = data
                .nutrients
                .iter()
                .map(|(n, v)| (n.as_str(), v.unit.as_deref()))
                .collect();
            assert_eq!(got, units, "{input}");
        }
    }

    #[test]
    fn basis_choice_serving_size_and_fields() {
        let input = json!({"nutrients": {
            "energy-kcal_100g": {"value": "250", "unit": "kcal", "score": 0.9},
            "fat_100g": {"value": "12"},
            "salt_serving": {"value": "0.3", "unit": "g"},
            "serving_size": {"value": "30 g"},
            "unknown_100g": {"value": "1"}
        }});
        let data = NutrientData::parse(&input)
            .expect("valid")
            .with_default_units();
        assert_eq!(data.nutrition_data_per, "100g");
        assert_eq!(data.serving_size.as_deref(), Some("30 g"));
        assert_eq!(
            data.nutrients,
            vec![
                ("energy-kcal".to_string(), nv("250", Some("kcal"))),
                ("fat".to_string(), nv("12", Some("g"))),
                ("unknown".to_string(), nv("1", None)),
            ]
        );
        let fields: Vec<(String, String)> = data.form_fields();
        let expected: Vec<(String, String)> = [
            ("nutrition_data_per", "100g"),
            ("serving_size", "30 g"),
            ("nutriment_energy-kcal", "250"),
            ("nutriment_energy-kcal_unit", "kcal"),
            ("nutriment_fat", "12"),
            ("nutriment_fat_unit", "g"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(fields, expected);
        assert_eq!(
            data.to_json(),
            json!({"nutrients": {"energy-kcal": {"value": "250", "unit": "kcal"}, "fat": {"value": "12", "unit": "g"}, "unknown": {"value": "1", "unit": null}}, "serving_size": "30 g", "nutrition_data_per": "100g"})
        );

        let serving = NutrientData::parse(&json!({"nutrients": {"a_serving": {"value": "1"}, "b_serving": {"value": "2"}, "c_100g": {"value": "3"}}, "serving_size": "1 bar"}))
            .expect("valid");
        assert_eq!(serving.nutrition_data_per, "serving");
        assert_eq!(serving.nutrients.len(), 2);
        assert_eq!(serving.serving_size.as_deref(), Some("1 bar"));
    }

    #[test]
    fn invalid_nutrients() {
        let cases = [
            (json!({}), "nutrients\n  Field required"),
            (
                json!({"nutrients": {}}),
                "at least one nutrient is required",
            ),
            (
                json!({"nutrients": {"fat": {"value": "1"}}}),
                "must end with '_100g' or '_serving'",
            ),
            (
                json!({"nutrients": {"fat_kg": {"value": "1"}}}),
                "must end with '_100g' or '_serving'",
            ),
            (
                json!({"nutrients": {"fat_100g": {"value": 1}}}),
                "valid string",
            ),
            (
                json!({"nutrients": {"fat_100g": {"unit": "g"}}}),
                "Field required",
            ),
        ];
        for (input, text) in cases {
            let err = NutrientData::parse(&input).unwrap_err().to_string();
            assert!(err.contains(text), "{input}: {err}");
        }
    }
}
