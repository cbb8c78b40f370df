//! Expiration dates written `dd/mm/yy` or `dd/mm/yyyy` (also with `-` or `.`).

use super::content::OcrContent;
use super::document::OcrField;
use super::pattern::{group, span, OcrRegex};
use crate::types::{Prediction, PredictionType};
use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

const PREDICTOR_VERSION: &str = "1";

static FULL_DIGITS_SHORT: LazyLock<OcrRegex> = LazyLock::new(|| {
    OcrRegex::new(
        r"(?<!\d)(\d{2})[-./](\d{2})[-./](\d{2})(?!\d)",
        false,
        OcrField::FullText,
    )
});

static FULL_DIGITS_LONG: LazyLock<OcrRegex> = LazyLock::new(|| {
    OcrRegex::new(
        r"(?<!\d)(\d{2})[-./](\d{2})[-./](\d{4})(?!\d)",
        false,
        OcrField::FullText,
    )
});

/// Value of a run of decimal digits of any script (Python's `int()` accepts them all).
fn digits_value(s: &str) -> Option<i64> {
    let mut v: i64 = 0;
    for c in s.chars() {
        let d = c.to_digit(10).or_else(|| unicode_digit(c))?;
        v = v.checked_mul(10)?.checked_add(i64::from(d))?;
    }
    Some(v)
}

fn unicode_digit(c: char) -> Option<u32> {
    // Decimal digit blocks are runs of ten code points starting at a zero.
    const ZEROS: &[u32] = &[
        0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
        0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
        0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
        0xFF10, 0x104A0, 0x11066, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
    ];
    let cp = c as u32;
    ZEROS
        .iter()
        .find(|z| cp >= **z && cp < **z + 10)
        .map(|z| cp - z)
}

/// The date of day/month/year strings; two-digit years are 1969–2068 like `strptime`.
pub fn parse_date(day: &str, month: &str, year: &str, short: bool) -> Option<NaiveDate> {
    let d = u32::try_from(digits_value(day)?).ok()?;
    let m = u32::try_from(digits_value(month)?).ok()?;
    let mut y = i32::try_from(digits_value(year)?).ok()?;
    if short {
        y += if y <= 68 { 2000 } else { 1900 };
    } else if y < 1 {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Dates between 2015 and 2025 (Robotoff's fixed window), short format first.
pub fn find_expiration_date(content: &OcrContent<'_>) -> Vec<Prediction> {
    let mut out = Vec::new();
    for (name, regex, short) in [
        ("full_digits_short", &*FULL_DIGITS_SHORT, true),
        ("full_digits_long", &*FULL_DIGITS_LONG, false),
    ] {
        let text = content.text(regex.field);
        for caps in regex.captures_in(text) {
            let Some(date) = parse_date(group(&caps, 1), group(&caps, 2), group(&caps, 3), short)
            else {
                continue;
            };
            let year = chrono::Datelike::year(&date);
            if !(2015..=2025).contains(&year) {
                continue;
            }
            let mut data = Map::new();
            data.insert("raw".into(), json!(group(&caps, 0)));
            data.insert("type".into(), json!(name));
            let (start, end) = span(&caps);
            super::content::insert_bbox(&mut data, content, text, start, end);
            let mut p = Prediction::new(PredictionType::ExpirationDate);
            p.value = Some(date.format("%Y-%m-%d").to_string());
            p.data = Value::Object(data);
            p.automatic_processing = Some(true);
            p.predictor = Some("regex".into());
            p.predictor_version = Some(PREDICTOR_VERSION.into());
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        find_expiration_date(&OcrContent::Text(text))
            .into_iter()
            .filter_map(|p| p.value)
            .collect()
    }

    #[test]
    fn dates_in_the_window_are_iso_formatted() {
        assert_eq!(values("A consommer avant le 12/03/19"), vec!["2019-03-12"]);
        assert_eq!(values("DLUO 01.02.2024"), vec!["2024-02-01"]);
        assert!(values("31/02/2020").is_empty());
        assert!(values("12/03/2030").is_empty());
        assert!(values("112/03/2020").is_empty());
    }
}
