//! Image URLs of questions: product image folders, display-size images and the generic
//! product image chosen from a product's selected images (spec api-db §5.3).

/// Product Opener's image folder of a barcode: 13 digits split 3/3/3/rest, after the
/// organisation folder on the pro platform (`org-x/123` → `org-x/000/000/000/0123`).
/// `None` for a barcode that is not digits.
pub fn split_barcode(barcode: &str) -> Option<String> {
    let (org, code) = match barcode.split_once('/') {
        Some((org, code)) => (Some(org), code),
        None => (None, barcode),
    };
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{code:0>13}");
    let (a, rest) = padded.split_at(3);
    let (b, rest) = rest.split_at(3);
    let (c, d) = rest.split_at(3);
    let mut path = format!("{a}/{b}/{c}/{d}");
    if let Some(org) = org {
        path = format!("{org}/{path}");
    }
    Some(path)
}

/// URL of image `image_name` (without `.jpg`) of a product.
pub fn image_url(images_url: &str, barcode: &str, image_name: &str) -> Option<String> {
    let folder = split_barcode(barcode)?;
    Some(format!(
        "{}/images/products/{folder}/{image_name}.jpg",
        images_url.trim_end_matches('/')
    ))
}

/// The display (400 px) version of a raw image path: `/…/12.jpg` → `/…/12.400.jpg`;
/// other paths unchanged.
pub fn display_image(source_image: &str) -> String {
    let (parent, name) = match source_image.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, source_image),
    };
    let stem = match name.rsplit_once('.') {
        Some((s, _)) => s,
        None => name,
    };
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return source_image.to_string();
    }
    let first = name.split('.').next().unwrap_or(name);
    match parent {
        Some(p) => format!("{p}/{first}.400.jpg"),
        None => format!("{first}.400.jpg"),
    }
}

/// A generic image of the product: the first selected image of the first of `fields`
/// (`front`, `ingredients`, `nutrition`) available in 400 px, else the newest raw
/// image in 400 px.
pub fn generic_image_url(
    images_url: &str,
    barcode: &str,
    images: &serde_json::Map<String, serde_json::Value>,
    fields: &[&str],
) -> Option<String> {
    for field in fields {
        let prefix = format!("{field}_");
        for (key, entry) in images {
            if !key.starts_with(&prefix) {
                continue;
            }
            let has_400 = entry
                .get("sizes")
                .and_then(|s| s.as_object())
                .is_some_and(|s| s.contains_key("400"));
            let rev = match entry.get("rev") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            if has_400 {
                return image_url(images_url, barcode, &format!("{key}.{rev}.400"));
            }
        }
    }
    let newest = images
        .keys()
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|k| k.parse::<u64>().ok())
        .max()?;
    image_url(images_url, barcode, &format!("{newest}.400"))
}
