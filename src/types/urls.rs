//! Where a product's images and OCR documents live: Product Opener's barcode folder
//! split, image and OCR paths and URLs, and the image id of a `source_image` path.

use std::fmt;

/// A barcode that Product Opener cannot turn into an image folder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown barcode format: {0:?} (expected digits, optionally prefixed with `org_id/`)")]
pub struct InvalidBarcode(pub String);

/// The folders of a product's images (spec pipeline §8.1): an optional `org_id/`
/// prefix kept as the first folder, then the digits left-padded with zeros to 13 and
/// split 3/3/3/rest (`6539` → `000/000/000/6539`).
pub fn split_barcode(barcode: &str) -> Result<Vec<String>, InvalidBarcode> {
    let (org, digits) = match barcode.split_once('/') {
        Some((org, rest)) => (Some(org), rest),
        None => (None, barcode),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidBarcode(barcode.to_string()));
    }
    let padded = format!("{digits:0>13}");
    let mut parts = Vec::with_capacity(5);
    if let Some(org) = org {
        parts.push(org.to_string());
    }
    // `padded` is ASCII digits of length >= 13, so these byte ranges are char boundaries.
    parts.push(padded[0..3].to_string());
    parts.push(padded[3..6].to_string());
    parts.push(padded[6..9].to_string());
    parts.push(padded[9..].to_string());
    Ok(parts)
}

/// `/541/012/672/6954`: the folder of a product's images, with a leading slash.
pub fn barcode_path(barcode: &str) -> Result<String, InvalidBarcode> {
    Ok(format!("/{}", split_barcode(barcode)?.join("/")))
}

/// `/541/012/672/6954/1.jpg`: the `source_image` of image `image_id`.
pub fn image_path(barcode: &str, image_id: &str) -> Result<String, InvalidBarcode> {
    Ok(format!("{}/{image_id}.jpg", barcode_path(barcode)?))
}

/// `/541/012/672/6954/1.json`: the path of an image's OCR document.
pub fn ocr_path(barcode: &str, image_id: &str) -> Result<String, InvalidBarcode> {
    Ok(format!("{}/{image_id}.json", barcode_path(barcode)?))
}

/// Full URL of a path under `images_url` (`{images_url}/images/products{path}`).
pub fn images_url(images_url: &str, path: &str) -> String {
    format!("{}/images/products{path}", images_url.trim_end_matches('/'))
}

/// URL of an uploaded image.
pub fn image_url(
    images_base: &str,
    barcode: &str,
    image_id: &str,
) -> Result<String, InvalidBarcode> {
    Ok(images_url(images_base, &image_path(barcode, image_id)?))
}

/// URL of an image's OCR JSON.
pub fn ocr_url(images_base: &str, barcode: &str, image_id: &str) -> Result<String, InvalidBarcode> {
    Ok(images_url(images_base, &ocr_path(barcode, image_id)?))
}

/// The raw image id of a `source_image` path (`/…/2.jpg` → `2`): the file stem when it
/// is all digits, otherwise `None` (a selected image such as `front_fr.4.400.jpg`).
pub fn image_id_of(source_image: &str) -> Option<&str> {
    let file = source_image.rsplit('/').next().unwrap_or(source_image);
    let stem = match file.rfind('.') {
        Some(0) | None => file,
        Some(i) => &file[..i],
    };
    super::is_digit_id(stem).then_some(stem)
}

/// A product's identity: barcode and flavor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductId {
    pub barcode: String,
    pub server_type: super::ServerType,
}

impl ProductId {
    pub fn new(barcode: impl Into<String>, server_type: super::ServerType) -> Self {
        ProductId {
            barcode: barcode.into(),
            server_type,
        }
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.barcode, self.server_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec pipeline §8.1 examples.
    #[test]
    fn barcode_paths() {
        let cases = [
            ("5410126726954", "/541/012/672/6954"),
            ("6539", "/000/000/000/6539"),
            ("990530101113758685", "/990/530/101/113758685"),
            (
                "org-lea-nature/5410126726954",
                "/org-lea-nature/541/012/672/6954",
            ),
            ("00000001", "/000/000/000/0001"),
        ];
        for (barcode, path) in cases {
            assert_eq!(barcode_path(barcode).as_deref(), Ok(path), "{barcode}");
        }
        for bad in ["", "12a4", "org/", "١٢٣"] {
            assert!(barcode_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_and_ocr_urls() {
        assert_eq!(
            image_url("https://images.openfoodfacts.net", "1234567890123", "1").as_deref(),
            Ok("https://images.openfoodfacts.net/images/products/123/456/789/0123/1.jpg")
        );
        assert_eq!(
            ocr_url("https://images.openfoodfacts.net/", "1234567890123", "4").as_deref(),
            Ok("https://images.openfoodfacts.net/images/products/123/456/789/0123/4.json")
        );
        assert_eq!(
            image_path("3760094310634", "1").as_deref(),
            Ok("/376/009/431/0634/1.jpg")
        );
    }

    #[test]
    fn image_ids_of_source_images() {
        let cases = [
            ("/872/032/603/7888/2.jpg", Some("2")),
            ("/1.jpg", Some("1")),
            ("/322/247/762/7888/front_fr.4.400.jpg", None),
            ("/322/247/762/7888/12.400.jpg", None),
            ("", None),
            ("/x/.jpg", None),
            ("17", Some("17")),
        ];
        for (path, id) in cases {
            assert_eq!(image_id_of(path), id, "{path}");
        }
    }
}
