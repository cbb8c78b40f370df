//! Request parameters as the Python Robotoff (Falcon) reads them: query string and
//! form body merged, comma-separated values split into lists, typed getters whose
//! errors name the parameter (spec api-db §0.1).

use super::error::ApiError;
use crate::types::ServerType;
use percent_encoding::percent_decode_str;
use std::collections::HashMap;
use uuid::Uuid;

/// Every parameter of a request: name → values in order of appearance.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: HashMap<String, Vec<String>>,
    /// Largest `count` a listing accepts when its route sets no bound of its own
    /// (`http.max_count`; unset: no bound).
    max_count: Option<i64>,
}

const TRUE_STRINGS: [&str; 7] = ["true", "True", "t", "yes", "y", "1", "on"];
const FALSE_STRINGS: [&str; 7] = ["false", "False", "f", "no", "n", "0", "off"];

fn decode(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

impl Params {
    /// Parses an `a=1&b=x,y` string. Blank values are kept (`a=` is `""`); a value
    /// holding commas (before decoding) becomes several values; a field without a
    /// name is dropped.
    pub fn parse(raw: &str) -> Params {
        let mut params = Params::default();
        params.merge_str(raw, false);
        params
    }

    /// Bounds `count` at `max` where the route sets no bound of its own.
    pub fn limit_count(&mut self, max: i64) {
        self.max_count = Some(max);
    }

    /// Adds the fields of `raw`; with `replace`, a name present in `raw` replaces its
    /// earlier values (how form fields override query fields).
    pub fn merge_str(&mut self, raw: &str, replace: bool) {
        let mut parsed: Vec<(String, Vec<String>)> = Vec::new();
        for field in raw.split('&') {
            let (k, v) = match field.split_once('=') {
                Some((k, v)) => (k, v),
                None => (field, ""),
            };
            if k.is_empty() {
                continue;
            }
            let key = decode(k);
            let values: Vec<String> = if v.contains(',') {
                v.split(',').map(decode).collect()
            } else {
                vec![decode(v)]
            };
            parsed.push((key, values));
        }
        let mut replaced: Vec<String> = Vec::new();
        for (key, values) in parsed {
            if replace && !replaced.contains(&key) {
                self.values.remove(&key);
                replaced.push(key.clone());
            }
            self.values.entry(key).or_default().extend(values);
        }
    }

    /// Sets a parameter (tests, and values read from a JSON body).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), vec![value.into()]);
    }

    /// Every parameter but `excluded`, with its values.
    pub fn pairs_except(&self, excluded: &[&str]) -> Vec<(String, Vec<String>)> {
        self.values
            .iter()
            .filter(|(k, _)| !excluded.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The name of a parameter holding a NUL character (no text column can store one).
    pub fn with_nul(&self) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, vs)| k.contains('\0') || vs.iter().any(|v| v.contains('\0')))
            .map(|(k, _)| k.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// The value, or the default.
    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }

    /// A non-empty value (Robotoff treats a blank filter as no filter).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| missing(name))
    }

    /// Every value of `name` (comma-separated values split), or `None` when absent.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.values.get(name).cloned()
    }

    /// As [`Params::list`], `None` also for an empty list, and cut to `max` items.
    pub fn list_capped(&self, name: &str, max: usize) -> Option<Vec<String>> {
        self.list(name).filter(|l| !l.is_empty()).map(|mut l| {
            l.truncate(max);
            l
        })
    }

    /// An integer within bounds.
    pub fn int(
        &self,
        name: &str,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Result<Option<i64>, ApiError> {
        let max = match (name, max) {
            ("count", None) => self.max_count,
            _ => max,
        };
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let value =
            parse_python_int(raw).ok_or_else(|| invalid(name, "The value must be an integer."))?;
        if let Some(min) = min {
            if value < min {
                return Err(invalid(name, &format!("The value must be at least {min}")));
            }
        }
        if let Some(max) = max {
            if value > max {
                return Err(invalid(name, &format!("The value may not exceed {max}")));
            }
        }
        Ok(Some(value))
    }

    /// `page`, `count` and the like: an integer ≥ `min` with a default.
    pub fn int_or(
        &self,
        name: &str,
        min: i64,
        max: Option<i64>,
        default: i64,
    ) -> Result<i64, ApiError> {
        Ok(self.int(name, Some(min), max)?.unwrap_or(default))
    }

    pub fn float(&self, name: &str) -> Result<Option<f64>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| !f.is_nan())
            .map(Some)
            .ok_or_else(|| invalid(name, "The value must be a float."))
    }

    /// A boolean: `true True t yes y 1 on` / `false False f no n 0 off`; a blank value is
    /// `blank_as_true`.
    pub fn bool(&self, name: &str, blank_as_true: bool) -> Result<Option<bool>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        if raw.is_empty() {
            return Ok(Some(blank_as_true));
        }
        if TRUE_STRINGS.contains(&raw) {
            Ok(Some(true))
        } else if FALSE_STRINGS.contains(&raw) {
            Ok(Some(false))
        } else {
            Err(invalid(
                name,
                "The value of the parameter must be \"true\" or \"false\".",
            ))
        }
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        Uuid::parse_str(raw.trim())
            .map(Some)
            .map_err(|_| invalid(name, "The value must be a UUID string."))
    }

    pub fn json(&self, name: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        serde_json::from_str(raw)
            .map(Some)
            .map_err(|_| invalid(name, "It could not be parsed as JSON."))
    }

    /// `server_type` by enum name (default `off`); unknown → 400.
    pub fn server_type(&self) -> Result<ServerType, ApiError> {
        match self.get("server_type") {
            None => Ok(ServerType::Off),
            Some(name) => server_type_named(name),
        }
    }

    /// Page and count as offset/limit: (limit, offset).
    pub fn page_count(
        &self,
        default_count: i64,
        max_count: Option<i64>,
    ) -> Result<(i64, i64), ApiError> {
        let page = self.int_or("page", 1, None, 1)?;
        let count = self.int_or("count", 1, max_count, default_count)?;
        let offset = (page - 1).saturating_mul(count);
        Ok((count, offset))
    }
}

/// The server type called `name` (`off`, `off_pro`, ...).
pub fn server_type_named(name: &str) -> Result<ServerType, ApiError> {
    ServerType::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            let text = format!("invalid `server_type`: {name}");
            ApiError::bad_request("invalid_server_type", text.clone()).with_title(text)
        })
}

/// Python's `int()` on a string: optional surrounding whitespace and sign, digits with
/// single underscores between them.
fn parse_python_int(raw: &str) -> Option<i64> {
    let t = raw.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let value: i64 = clean.parse().ok()?;
    Some(if neg { -value } else { value })
}

/// Falcon's "missing parameter" error.
pub fn missing(name: &str) -> ApiError {
    ApiError::bad_request(
        "missing_parameter",
        format!("The \"{name}\" parameter is required."),
    )
    .with_title("Missing parameter")
}

/// Falcon's "invalid parameter" error.
pub fn invalid(name: &str, why: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_parameter",
        format!("The \"{name}\" parameter is invalid. {why}"),
    )
    .with_title("Invalid parameter")
}

/// Barcode normalisation of the Open Food Facts SDK: leading zeros removed, then
/// left-padded with zeros to 8 digits, or to 13 when longer than 8.
pub fn normalize_barcode(barcode: &str) -> String {
    let stripped = barcode.trim_start_matches('0');
    let padded = format!("{stripped:0>8}");
    if padded.len() > 8 {
        format!("{stripped:0>13}")
    } else {
        padded
    }
}

/// A barcode filter: absent or blank → no filter.
pub fn barcode_filter(params: &Params) -> Option<String> {
    params.non_empty("barcode").map(normalize_barcode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_repeated_values_make_lists_and_last_wins() {
        let p = Params::parse("a=x,y&a=z&b=1&b=2&c=&d=%2C&e=hello+world");
        assert_eq!(p.list("a"), Some(vec!["x".into(), "y".into(), "z".into()]));
        assert_eq!(p.get("a"), Some("z"));
        assert_eq!(p.get("b"), Some("2"));
        assert_eq!(p.get("c"), Some(""));
        assert_eq!(p.get("d"), Some(","));
        assert_eq!(p.get("e"), Some("hello world"));
        assert_eq!(p.get("zz"), None);
    }

    #[test]
    fn form_fields_replace_query_fields() {
        let mut p = Params::parse("a=1&b=2");
        p.merge_str("a=3", true);
        assert_eq!(p.list("a"), Some(vec!["3".into()]));
        assert_eq!(p.get("b"), Some("2"));
    }

    #[test]
    fn typed_getters_follow_falcon() {
        let p = Params::parse("n=12&m=x&k=0&b1=yes&b2=off&b3=&b4=maybe&u=nope&j={\"a\":1}&f=0.5");
        assert_eq!(p.int("n", Some(1), None).ok().flatten(), Some(12));
        let e = p.int("m", None, None).unwrap_err();
        assert_eq!(
            e.description,
            "The \"m\" parameter is invalid. The value must be an integer."
        );
        assert_eq!(e.title.as_deref(), Some("Invalid parameter"));
        let e = p.int("k", Some(1), None).unwrap_err();
        assert_eq!(
            e.description,
            "The \"k\" parameter is invalid. The value must be at least 1"
        );
        let e = p.int("n", None, Some(10)).unwrap_err();
        assert!(e.description.ends_with("The value may not exceed 10"));
        assert_eq!(p.bool("b1", true).ok().flatten(), Some(true));
        assert_eq!(p.bool("b2", true).ok().flatten(), Some(false));
        assert_eq!(p.bool("b3", true).ok().flatten(), Some(true));
        assert_eq!(p.bool("b3", false).ok().flatten(), Some(false));
        assert!(p.bool("b4", true).is_err());
        assert!(p.uuid("u").is_err());
        assert!(p.json("j").ok().flatten().is_some());
        assert_eq!(p.float("f").ok().flatten(), Some(0.5));
        let e = p.required("nope").unwrap_err();
        assert_eq!(e.description, "The \"nope\" parameter is required.");
        assert_eq!(parse_python_int(" +1_000 "), Some(1000));
        assert_eq!(parse_python_int("1__0"), None);
    }

    #[test]
    fn barcodes_are_normalised_like_the_sdk() {
        assert_eq!(normalize_barcode("1"), "00000001");
        assert_eq!(normalize_barcode("00000001"), "00000001");
        assert_eq!(normalize_barcode("123456789"), "0000123456789");
        assert_eq!(normalize_barcode("0000000000001"), "00000001");
        assert_eq!(normalize_barcode("3017620422003"), "3017620422003");
    }

    #[test]
    fn server_type_by_name() {
        assert_eq!(Params::parse("").server_type().ok(), Some(ServerType::Off));
        assert_eq!(
            Params::parse("server_type=off_pro").server_type().ok(),
            Some(ServerType::OffPro)
        );
        let e = Params::parse("server_type=off-pro")
            .server_type()
            .unwrap_err();
        assert_eq!(e.title.as_deref(), Some("invalid `server_type`: off-pro"));
    }
}
