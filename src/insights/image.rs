//! Image helpers shared by importers and deletion paths: raw image ids from image paths,
//! Product Opener's image folder of a barcode, and absolute → relative bounding boxes.

use crate::types::is_digit_id;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// The file stem of an image path (`/376/009/431/0634/12.jpg` → `12`), as Python's
/// `Path.stem`: the last path component without its last extension.
pub fn image_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rfind('.') {
        Some(0) | None => name,
        Some(i) => name.get(..i).unwrap_or(name),
    }
}

/// The raw image id of an image path, when the file stem is all digits.
pub fn image_id(path: &str) -> Option<&str> {
    let stem = image_stem(path);
    is_digit_id(stem).then_some(stem)
}

/// Orders raw image ids numerically (ids are increasing upload numbers).
pub fn cmp_image_ids(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A sort key ranking recent images first and paths without a raw image id last:
/// compare keys in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentFirst(Option<String>);

impl RecentFirst {
    pub fn of(source_image: Option<&str>) -> Self {
        RecentFirst(
            source_image
                .and_then(image_id)
                .map(|id| id.trim_start_matches('0').to_string())
                .filter(|id| !id.is_empty()),
        )
    }
}

impl Ord for RecentFirst {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => cmp_image_ids(b, a),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
}

impl PartialOrd for RecentFirst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Product Opener's image folder of a barcode: an optional `org/` prefix kept as the
/// first folder, the digits left-padded to 13 and split 3/3/3/rest
/// (`6539` → `/000/000/000/6539`). `None` when the barcode part is not all digits.
pub fn barcode_folder(barcode: &str) -> Option<String> {
    let (org, code) = match barcode.split_once('/') {
        Some((org, code)) => (Some(org), code),
        None => (None, barcode),
    };
    if !is_digit_id(code) {
        return None;
    }
    let padded = format!("{code:0>13}");
    let mut folder = String::with_capacity(padded.len() + 24);
    if let Some(org) = org {
        folder.push('/');
        folder.push_str(org);
    }
    for part in [
        padded.get(0..3),
        padded.get(3..6),
        padded.get(6..9),
        padded.get(9..),
    ] {
        folder.push('/');
        folder.push_str(part.unwrap_or(""));
    }
    Some(folder)
}

/// `source_image` of a raw image of a product: `/{folder}/{image_id}.jpg`.
pub fn image_path(barcode: &str, image_id: &str) -> Option<String> {
    barcode_folder(barcode).map(|folder| format!("{folder}/{image_id}.jpg"))
}

/// True when a JSON id (`"imgid": "3"` or `"imgid": 3`) names the image `id`.
pub fn json_id_is(value: Option<&Value>, id: &str) -> bool {
    match value {
        Some(Value::String(s)) => s == id,
        Some(Value::Number(n)) => n.to_string() == id,
        _ => false,
    }
}

/// Converts an absolute `[y_min, x_min, y_max, x_max]` box on the raw image of
/// `source_image` to relative coordinates clamped to `[0, 1]`, using the full-size
/// dimensions in the product's `images`. `None` when the image or its size is unknown.
pub fn relative_bounding_box(
    absolute: &Value,
    images: &Map<String, Value>,
    source_image: Option<&str>,
) -> Option<Value> {
    let id = image_stem(source_image?);
    let full = images.get(id)?.get("sizes")?.get("full")?;
    let width = full.get("w")?.as_f64()?;
    let height = full.get("h")?.as_f64()?;
    if width <= 0.0 || height <= 0.0 {
        return None;
    }
    let coords: Vec<f64> = absolute
        .as_array()?
        .iter()
        .map(Value::as_f64)
        .collect::<Option<Vec<f64>>>()?;
    let [y_min, x_min, y_max, x_max] = coords.as_slice() else {
        return None;
    };
    Some(serde_json::json!([
        (y_min / height).max(0.0),
        (x_min / width).max(0.0),
        (y_max / height).min(1.0),
        (x_max / width).min(1.0),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_ids_from_paths() {
        assert_eq!(image_id("/376/009/431/0634/1.jpg"), Some("1"));
        assert_eq!(image_id("/151/525/front_fr.jpg"), None);
        assert_eq!(image_id("/151/525/1.400.jpg"), None);
        assert_eq!(image_id("12.jpg"), Some("12"));
        assert_eq!(image_stem("/a/b"), "b");
        assert_eq!(image_id(""), None);
    }

    /// Spec pipeline §8.1 (barcode path split).
    #[test]
    fn barcode_folders_as_product_opener() {
        let cases = [
            ("5410126726954", Some("/541/012/672/6954")),
            ("6539", Some("/000/000/000/6539")),
            ("990530101113758685", Some("/990/530/101/113758685")),
            (
                "org-lea-nature/5410126726954",
                Some("/org-lea-nature/541/012/672/6954"),
            ),
            ("12a", None),
            ("", None),
        ];
        for (barcode, expected) in cases {
            assert_eq!(barcode_folder(barcode).as_deref(), expected, "{barcode}");
        }
        assert_eq!(
            image_path("1234567890123", "1").as_deref(),
            Some("/123/456/789/0123/1.jpg")
        );
    }

    #[test]
    fn recent_images_sort_first_and_no_image_last() {
        let mut keys = vec![
            RecentFirst::of(None),
            RecentFirst::of(Some("/1/2.jpg")),
            RecentFirst::of(Some("/1/front.jpg")),
            RecentFirst::of(Some("/1/10.jpg")),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                RecentFirst::of(Some("/1/10.jpg")),
                RecentFirst::of(Some("/1/2.jpg")),
                RecentFirst::of(None),
                RecentFirst::of(Some("/1/front.jpg")),
            ]
        );
        assert_eq!(RecentFirst::of(Some("/1/0.jpg")), RecentFirst::of(None));
    }

    #[test]
    fn bounding_boxes_become_relative_and_clamped() {
        let images = json!({"1": {"sizes": {"full": {"w": 200, "h": 100}}}, "2": {}});
        let images = images.as_object().cloned().unwrap_or_default();
        assert_eq!(
            relative_bounding_box(&json!([10, 20, 50, 300]), &images, Some("/x/1.jpg")),
            Some(json!([0.1, 0.1, 0.5, 1.0]))
        );
        assert_eq!(
            relative_bounding_box(&json!([-10, 20, 50, 100]), &images, Some("/x/1.jpg")),
            Some(json!([0.0, 0.1, 0.5, 0.5]))
        );
        assert_eq!(
            relative_bounding_box(&json!([1, 2, 3, 4]), &images, Some("/x/2.jpg")),
            None
        );
        assert_eq!(
            relative_bounding_box(&json!([1, 2, 3, 4]), &images, None),
            None
        );
        assert!(json_id_is(Some(&json!("3")), "3") && json_id_is(Some(&json!(3)), "3"));
        assert!(!json_id_is(Some(&json!("4")), "3") && !json_id_is(None, "3"));
    }
}
