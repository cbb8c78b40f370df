//! Product Opener's `images` field in the flat ("legacy") schema Robotoff reads: digit
//! keys for uploaded images, `<type>_<lang>` keys for selected ones.

use serde_json::{Map, Value};

/// Converts Product Opener's newer `images` schema (`{"uploaded": {id: …},
/// "selected": {type: {lang: …}}}`) to the flat schema; other maps are returned as they
/// are. Uploaded images keep `sizes` (without `url`), `uploaded_t` and `uploader`;
/// selected images keep `imgid`, `rev`, `sizes` (without `url`) and the fields of
/// their `generation` (crop `x1`…`y2`, `angle`, `coordinates_image_size`, …).
pub fn to_legacy_images(mut images: Map<String, Value>) -> Map<String, Value> {
    if !images.contains_key("uploaded") && !images.contains_key("selected") {
        return images;
    }
    let mut legacy = Map::new();
    if let Some(Value::Object(uploaded)) = images.remove("uploaded") {
        for (id, data) in uploaded {
            let Value::Object(mut data) = data else {
                continue;
            };
            let mut entry = Map::new();
            if let Some(sizes) = data.remove("sizes") {
                entry.insert("sizes".into(), sizes_without_urls(sizes));
            }
            for key in ["uploaded_t", "uploader"] {
                if let Some(v) = data.remove(key) {
                    entry.insert(key.into(), v);
                }
            }
            legacy.insert(id, Value::Object(entry));
        }
    }
    if let Some(Value::Object(selected)) = images.remove("selected") {
        for (kind, by_lang) in selected {
            let Value::Object(by_lang) = by_lang else {
                continue;
            };
            for (lang, data) in by_lang {
                let Value::Object(mut data) = data else {
                    continue;
                };
                let mut entry = Map::new();
                for key in ["imgid", "rev"] {
                    if let Some(v) = data.remove(key) {
                        entry.insert(key.into(), v);
                    }
                }
                if let Some(sizes) = data.remove("sizes") {
                    entry.insert("sizes".into(), sizes_without_urls(sizes));
                }
                if let Some(Value::Object(generation)) = data.remove("generation") {
                    entry.extend(generation);
                }
                legacy.insert(format!("{kind}_{lang}"), Value::Object(entry));
            }
        }
    }
    legacy
}

fn sizes_without_urls(sizes: Value) -> Value {
    match sizes {
        Value::Object(by_size) => Value::Object(
            by_size
                .into_iter()
                .map(|(size, dims)| match dims {
                    Value::Object(mut d) => {
                        d.remove("url");
                        (size, Value::Object(d))
                    }
                    other => (size, other),
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn new_schema_is_flattened() {
        let images = map(json!({
            "uploaded": {
                "1": {"sizes": {"full": {"w": 1000, "h": 2000, "url": "https://x/1.jpg"}, "400": {"w": 200, "h": 400, "url": "u"}},
                      "uploaded_t": 1600000000, "uploader": "alice"},
                "2": {"sizes": {"full": {"w": 10, "h": 20}}, "uploaded_t": 1600000001, "uploader": "bob"}
            },
            "selected": {
                "front": {"fr": {"imgid": 1, "rev": 4, "sizes": {"400": {"w": 200, "h": 400, "url": "u"}},
                                  "generation": {"angle": 90, "x1": 10, "y1": 20, "x2": 30, "y2": 40, "coordinates_image_size": "full"}}},
                "nutrition": {"en": {"imgid": 2, "rev": 7, "sizes": {}}}
            }
        }));
        let expected = map(json!({
            "1": {"sizes": {"full": {"w": 1000, "h": 2000}, "400": {"w": 200, "h": 400}}, "uploaded_t": 1600000000, "uploader": "alice"},
            "2": {"sizes": {"full": {"w": 10, "h": 20}}, "uploaded_t": 1600000001, "uploader": "bob"},
            "front_fr": {"imgid": 1, "rev": 4, "sizes": {"400": {"w": 200, "h": 400}}, "angle": 90, "x1": 10, "y1": 20, "x2": 30, "y2": 40, "coordinates_image_size": "full"},
            "nutrition_en": {"imgid": 2, "rev": 7, "sizes": {}}
        }));
        assert_eq!(to_legacy_images(images), expected);
    }

    #[test]
    fn legacy_schema_is_kept() {
        let images = map(
            json!({"1": {"sizes": {"full": {"w": 1, "h": 2}}}, "front_fr": {"imgid": "1", "rev": "3"}}),
        );
        assert_eq!(to_legacy_images(images.clone()), images);
        assert_eq!(to_legacy_images(Map::new()), Map::new());
    }
}
