//! Decoding images from untrusted bytes: the format is guessed from the content, the
//! dimensions are read before any pixel is, and an image over the pixel limit (a
//! decompression bomb) or a truncated file is an error, never a panic or a huge
//! allocation. [`phash`] computes the image fingerprint (Python imagehash's pHash, bit
//! for bit). Pure; depends on nothing in the crate.

pub mod phash;

use image::{DynamicImage, ImageReader, Limits};
use std::io::Cursor;

/// Why an image could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the data is not an image in a known format")]
    UnknownFormat,
    #[error("the image is {width}×{height} pixels, over the limit of {limit} pixels")]
    TooLarge { width: u32, height: u32, limit: u64 },
    #[error("the image could not be decoded: {0}")]
    Invalid(String),
}

fn invalid(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Invalid(e.to_string())
}

/// A reader of `bytes` whose format is known and whose dimensions were checked against
/// `max_pixels`, with allocation limits set for decoding.
fn bounded_reader(
    bytes: &[u8],
    max_pixels: u64,
) -> Result<ImageReader<Cursor<&[u8]>>, DecodeError> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(invalid)
    };
    let probe = reader()?;
    if probe.format().is_none() {
        return Err(DecodeError::UnknownFormat);
    }
    let (width, height) = probe.into_dimensions().map_err(invalid)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit: max_pixels,
        });
    }
    let mut limits = Limits::default();
    // Room for the decoded pixels at up to 16 bytes each (RGBA, 32-bit channels).
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(1 << 20));
    let mut decoding = reader()?;
    decoding.limits(limits);
    Ok(decoding)
}

/// Decodes `bytes` (JPEG, PNG, WebP, ...) if the image has at most `max_pixels` pixels.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, DecodeError> {
    bounded_reader(bytes, max_pixels)?.decode().map_err(invalid)
}

/// An image decoded as stored: its pixels in their own format, its EXIF orientation
/// kept aside.
pub struct Decoded {
    pub image: DynamicImage,
    pub orientation: image::metadata::Orientation,
}

impl Decoded {
    /// The image in 8-bit RGB (grey, CMYK, 16-bit and alpha images included), turned
    /// upright as its orientation says, as OpenCV's decoder gives it to Robotoff's models.
    pub fn upright_rgb(self) -> image::RgbImage {
        use image::metadata::Orientation;
        let mut rgb = DynamicImage::ImageRgb8(self.image.into_rgb8());
        if self.orientation != Orientation::NoTransforms {
            rgb.apply_orientation(self.orientation);
        }
        rgb.into_rgb8()
    }
}

/// Decodes `bytes` like [`decode`], keeping the EXIF orientation aside.
pub fn decode_oriented(bytes: &[u8], max_pixels: u64) -> Result<Decoded, DecodeError> {
    let mut decoder = bounded_reader(bytes, max_pixels)?
        .into_decoder()
        .map_err(invalid)?;
    let orientation = image::ImageDecoder::orientation(&mut decoder)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(invalid)?;
    Ok(Decoded { image, orientation })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(width, height, image::Rgb([10, 20, 30]));
        let mut out = Cursor::new(Vec::new());
        let written = DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png);
        assert!(written.is_ok());
        out.into_inner()
    }

    #[test]
    fn images_decode_within_the_limit_and_bombs_do_not() {
        let small = png(20, 10);
        assert_eq!(
            decode(&small, 200).map(|i| (i.width(), i.height())),
            Ok((20, 10))
        );
        assert_eq!(
            decode(&small, 199),
            Err(DecodeError::TooLarge {
                width: 20,
                height: 10,
                limit: 199
            })
        );
        assert_eq!(
            decode(b"<html>not an image</html>", 1000),
            Err(DecodeError::UnknownFormat)
        );
        assert_eq!(decode(b"", 1000), Err(DecodeError::UnknownFormat));
        let truncated = &small[..small.len() / 2];
        assert!(matches!(
            decode(truncated, 1000),
            Err(DecodeError::Invalid(_))
        ));
    }
}
