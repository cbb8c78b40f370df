//! CLIP inputs for logo embeddings: the logo crops (spec pipeline §6.3) and the
//! `pixel_values`, `attention_mask` and `input_ids` tensors (spec pipeline §7.4).
//!
//! Robotoff crops each logo from the full RGB image with Python's slicing
//! `image[int(y_min·H):int(y_max·H), int(x_min·W):int(x_max·W)]`, resizes the crop to
//! 224 × 224 with `cv2.resize(..., INTER_LINEAR)`, and hands the crops to the
//! `transformers` `CLIPImageProcessor`. For a 224 × 224 image the processor's resize
//! (shortest edge 224, bicubic, through Pillow) and centre crop are identities —
//! Pillow's `resize` returns a copy when the size does not change — so what remains is
//! `f32(f64(v) · (1/255))`, then `(x − mean) / std` in `f32` per channel. Both steps
//! are reproduced bit for bit.

use super::error::MlError;
use super::models::{CLIP_IMAGE_SIZE, CLIP_INPUT_IDS, CLIP_MEAN, CLIP_STD};
use super::resize::{resize_image, RgbView};
use image::RgbImage;

/// A crop rectangle in pixels: columns `left..right`, rows `top..bottom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropRect {
    pub left: u32,
    pub top: u32,
    pub right: u32,
    pub bottom: u32,
}

/// Python's `int(v)` of a float (truncation toward zero); NaN and infinities are errors.
fn py_int(v: f64) -> Result<i64, MlError> {
    if v.is_finite() {
        Ok(v.trunc() as i64)
    } else {
        Err(MlError::InvalidBox(format!("coordinate {v} is not finite")))
    }
}

/// The bounds Python's slice `[start:stop]` selects in a sequence of length `len`.
fn py_slice(start: i64, stop: i64, len: u32) -> (u32, u32) {
    let len = i64::from(len);
    let norm = |i: i64| {
        if i < 0 {
            (i + len).max(0)
        } else {
            i.min(len)
        }
    };
    let (a, b) = (norm(start), norm(stop));
    // Both are in [0, len], so they fit in u32.
    (a as u32, b.max(a) as u32)
}

/// The pixels of a relative logo box `[y_min, x_min, y_max, x_max]` in a
/// `width × height` image, as Robotoff slices them (spec pipeline §6.3): x coordinates
/// times the width, y times the height, each truncated by `int()`, then Python slice
/// rules (negative bounds count from the end, bounds past the end stop there).
///
/// Errors on a non-finite coordinate, and on an empty crop (where Robotoff's
/// `cv2.resize` raises).
pub fn logo_crop_rect(
    bounding_box: [f64; 4],
    width: u32,
    height: u32,
) -> Result<CropRect, MlError> {
    let [y_min, x_min, y_max, x_max] = bounding_box;
    let (w, h) = (f64::from(width), f64::from(height));
    let (left, right) = py_slice(py_int(x_min * w)?, py_int(x_max * w)?, width);
    let (top, bottom) = py_slice(py_int(y_min * h)?, py_int(y_max * h)?, height);
    if left == right || top == bottom {
        return Err(MlError::EmptyCrop(bounding_box));
    }
    Ok(CropRect {
        left,
        top,
        right,
        bottom,
    })
}

/// The logo crop Robotoff sends to CLIP: the box cut out of `image` and resized to
/// 224 × 224 with OpenCV's bilinear resize (spec pipeline §6.3).
pub fn logo_crop_224(image: &RgbImage, bounding_box: [f64; 4]) -> Result<RgbImage, MlError> {
    let r = logo_crop_rect(bounding_box, image.width(), image.height())?;
    let view = RgbView::crop(
        image,
        r.left as usize,
        r.top as usize,
        r.right as usize,
        r.bottom as usize,
    )
    .ok_or(MlError::EmptyCrop(bounding_box))?;
    Ok(resize_image(view, CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE))
}

/// Per-channel lookup table byte → normalised value, as the CLIP processor computes it.
fn pixel_tables() -> [[f32; 256]; 3] {
    let mut t = [[0.0f32; 256]; 3];
    for (c, table) in t.iter_mut().enumerate() {
        // numpy turns the Python floats into float32 arrays.
        let mean = CLIP_MEAN[c] as f32;
        let std = CLIP_STD[c] as f32;
        for (v, slot) in (0u8..=255).zip(table.iter_mut()) {
            let rescaled = (f64::from(v) * (1.0 / 255.0)) as f32;
            *slot = (rescaled - mean) / std;
        }
    }
    t
}

/// A batch of CLIP image inputs, built one image at a time.
#[derive(Debug, Clone, Default)]
pub struct ClipBatch {
    pixel_values: Vec<f32>,
    len: usize,
}

impl ClipBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `images` images.
    pub fn with_capacity(images: usize) -> Self {
        let per = 3 * (CLIP_IMAGE_SIZE as usize).pow(2);
        ClipBatch {
            pixel_values: Vec::with_capacity(images.saturating_mul(per)),
            len: 0,
        }
    }

    /// Appends a 224 × 224 image, normalised as CLIP's processor does (channel-major).
    /// Errors on any other size.
    pub fn push_image(&mut self, image: &RgbImage) -> Result<(), MlError> {
        if image.width() != CLIP_IMAGE_SIZE || image.height() != CLIP_IMAGE_SIZE {
            return Err(MlError::ClipInputSize {
                width: image.width(),
                height: image.height(),
            });
        }
        let tables = pixel_tables();
        let plane = (CLIP_IMAGE_SIZE as usize).pow(2);
        let start = self.pixel_values.len();
        self.pixel_values.resize(start + 3 * plane, 0.0);
        let Some(dst) = self.pixel_values.get_mut(start..) else {
            return Ok(());
        };
        let (red, rest) = dst.split_at_mut(plane);
        let (green, blue) = rest.split_at_mut(plane);
        let pixels = image.as_raw().chunks_exact(3);
        for (((px, r), g), b) in pixels.zip(red).zip(green).zip(blue) {
            *r = tables[0][usize::from(px[0])];
            *g = tables[1][usize::from(px[1])];
            *b = tables[2][usize::from(px[2])];
        }
        self.len += 1;
        Ok(())
    }

    /// Crops a logo out of `image` ([`logo_crop_224`]) and appends it.
    pub fn push_logo(&mut self, image: &RgbImage, bounding_box: [f64; 4]) -> Result<(), MlError> {
        let crop = logo_crop_224(image, bounding_box)?;
        self.push_image(&crop)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch has no image.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `pixel_values`, `[len, 3, 224, 224]` row-major.
    pub fn pixel_values(&self) -> &[f32] {
        &self.pixel_values
    }

    /// Shape of `pixel_values`.
    pub fn pixel_values_shape(&self) -> [usize; 4] {
        let s = CLIP_IMAGE_SIZE as usize;
        [self.len, 3, s, s]
    }

    /// `pixel_values` as little-endian `f32` bytes.
    pub fn pixel_values_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pixel_values.len() * 4);
        for v in &self.pixel_values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// `attention_mask`, `[len, 2]`: all ones.
    pub fn attention_mask(&self) -> Vec<i64> {
        attention_mask(self.len)
    }

    /// `input_ids`, `[len, 2]`: BOS, EOS per row.
    pub fn input_ids(&self) -> Vec<i64> {
        input_ids(self.len)
    }
}

/// The dummy `attention_mask` of a batch of `batch` images: `[batch, 2]`, all ones.
pub fn attention_mask(batch: usize) -> Vec<i64> {
    vec![1; batch.saturating_mul(2)]
}

/// The dummy `input_ids` of a batch of `batch` images: `[batch, 2]`, `[49406, 49407]`
/// per row (an empty text).
pub fn input_ids(batch: usize) -> Vec<i64> {
    CLIP_INPUT_IDS.repeat(batch)
}

/// `i64` values as little-endian bytes (Triton's INT64 `raw_input_contents`).
pub fn i64_bytes(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 8);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn crop_rect_truncates_like_int() {
        // x times the width (1000), y times the height (500).
        let r = logo_crop_rect([0.1, 0.2, 0.5, 0.75], 1000, 500).unwrap();
        assert_eq!(
            r,
            CropRect {
                left: 200,
                top: 50,
                right: 750,
                bottom: 250
            }
        );
        // 0.2999 · 1000 = 299.9 → 299.
        let r = logo_crop_rect([0.0, 0.2999, 1.0, 1.0], 1000, 500).unwrap();
        assert_eq!((r.left, r.right, r.top, r.bottom), (299, 1000, 0, 500));
        // 0.29 · 100 = 28.999999999999996 → 28.
        let r = logo_crop_rect([0.0, 0.29, 1.0, 1.0], 100, 10).unwrap();
        assert_eq!(r.left, 28);
    }

    #[test]
    fn crop_rect_follows_python_slices() {
        // Negative start counts from the end; a stop past the end stops there.
        let r = logo_crop_rect([-0.1, 0.5, 1.5, 1.2], 100, 100).unwrap();
        assert_eq!((r.left, r.right, r.top, r.bottom), (50, 100, 90, 100));
        assert!(matches!(
            logo_crop_rect([0.5, 0.5, 0.505, 0.9], 100, 100),
            Err(MlError::EmptyCrop(_))
        ));
        assert!(matches!(
            logo_crop_rect([0.5, 0.9, 0.9, 0.5], 100, 100),
            Err(MlError::EmptyCrop(_))
        ));
        assert!(matches!(
            logo_crop_rect([0.1, f64::NAN, 0.9, 0.5], 100, 100),
            Err(MlError::InvalidBox(_))
        ));
        assert!(logo_crop_rect([0.0, 0.0, 1.0, 1.0], 0, 0).is_err());
    }

    #[test]
    fn normalisation_values() {
        let mut batch = ClipBatch::new();
        let img = RgbImage::from_pixel(224, 224, Rgb([0, 128, 255]));
        batch.push_image(&img).unwrap();
        let pv = batch.pixel_values();
        assert_eq!(pv.len(), 3 * 224 * 224);
        let plane = 224 * 224;
        let expect =
            |v: f64, c: usize| ((v / 255.0) as f32 - CLIP_MEAN[c] as f32) / CLIP_STD[c] as f32;
        assert_eq!(pv[0], expect(0.0, 0));
        assert_eq!(pv[plane + 17], expect(128.0, 1));
        assert_eq!(pv[2 * plane + plane - 1], expect(255.0, 2));
        // Known values: (0 − 0.48145466) / 0.26862954, (1 − 0.40821073) / 0.27577711.
        assert!((pv[0] + 1.792_265).abs() < 1e-5, "{}", pv[0]);
        assert!(
            (pv[3 * plane - 1] - 2.145_897).abs() < 1e-5,
            "{}",
            pv[3 * plane - 1]
        );
        assert_eq!(batch.pixel_values_shape(), [1, 3, 224, 224]);
        assert_eq!(batch.pixel_values_bytes().len(), 4 * 3 * plane);
    }

    #[test]
    fn only_224_images_are_accepted() {
        let mut batch = ClipBatch::new();
        assert!(matches!(
            batch.push_image(&RgbImage::new(223, 224)),
            Err(MlError::ClipInputSize { .. })
        ));
        assert!(batch.is_empty());
    }

    #[test]
    fn logo_batches_and_text_inputs() {
        let img = RgbImage::from_fn(640, 480, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
        let mut batch = ClipBatch::with_capacity(2);
        batch.push_logo(&img, [0.1, 0.1, 0.6, 0.4]).unwrap();
        batch.push_logo(&img, [0.0, 0.0, 1.0, 1.0]).unwrap();
        assert!(batch.push_logo(&img, [0.5, 0.5, 0.5, 0.9]).is_err());
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.attention_mask(), vec![1, 1, 1, 1]);
        assert_eq!(batch.input_ids(), vec![49406, 49407, 49406, 49407]);
        assert_eq!(i64_bytes(&[49406]), vec![0xFE, 0xC0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(input_ids(0), Vec::<i64>::new());
    }

    #[test]
    fn a_224_crop_is_not_resampled() {
        let img = RgbImage::from_fn(448, 224, |x, y| {
            Rgb([(x * 7 % 256) as u8, (y * 3 % 256) as u8, 1])
        });
        let crop = logo_crop_224(&img, [0.0, 0.5, 1.0, 1.0]).unwrap();
        assert_eq!(crop.get_pixel(0, 0), img.get_pixel(224, 0));
        assert_eq!(crop.get_pixel(223, 223), img.get_pixel(447, 223));
    }
}
