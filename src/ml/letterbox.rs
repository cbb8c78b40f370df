//! The YOLO model input: the image letterboxed into a `size × size` square, as the
//! Open Food Facts SDK's `ObjectDetector.preprocess` builds it (spec pipeline §7.3).
//!
//! The SDK's pipeline (albumentations 2.0.8 `LongestMaxSize` with `cv2.INTER_LINEAR`,
//! `PadIfNeeded` centred with fill 114, `Normalize` with mean 0 and std 1, then HWC →
//! CHW) is reproduced bit for bit:
//!
//! * `scale = size / max(h, w)` in `f64`; new sides `max(1, round(h · scale))` and
//!   `max(1, round(w · scale))` (Python's `round`, ties to even);
//! * OpenCV's fixed-point bilinear resize (see the `resize` submodule);
//! * pads `(size − new) // 2` before (top, left), the rest after;
//! * each byte `v` becomes `f32(v) · f32(1 / 255)` rounded in `f32`.
//!
//! Undoing the letterbox, the SDK recomputes the new sides with `int()` (truncation)
//! instead of `round()`, so its pads can be one pixel larger than the real ones (a
//! 37 × 53 image is resized to 447 × 640 and padded by 96 columns on the left, but
//! boxes are shifted back by 97). [`LetterboxGeometry`] keeps both:
//! [`BoxGeometry::Robotoff`] maps boxes back with the SDK's pads and
//! [`BoxGeometry::Exact`] with the real ones.

use super::error::MlError;
use super::models::LETTERBOX_FILL;
use super::resize::{resize_rows, RgbView};
use image::RgbImage;

/// Which pads undo the letterbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoxGeometry {
    /// The SDK's: pads recomputed from truncated sides, up to one letterboxed pixel
    /// larger than the real ones (boxes then sit up to one letterboxed pixel too far
    /// up or left on images whose scaled short side is not a whole number).
    #[default]
    Robotoff,
    /// The pads really added around the resized image.
    Exact,
}

/// Largest square side accepted (the models use 640 and 960).
pub const MAX_LETTERBOX_SIZE: u32 = 4096;

/// Where the resized image sits in the square, and what undoing it needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LetterboxGeometry {
    /// Width of the original image.
    pub original_width: u32,
    /// Height of the original image.
    pub original_height: u32,
    /// Side of the square.
    pub size: u32,
    /// `size / max(original_width, original_height)`.
    pub scale: f64,
    /// Width of the resized image inside the square: `max(1, round(w · scale))`.
    pub resized_width: u32,
    /// Height of the resized image inside the square: `max(1, round(h · scale))`.
    pub resized_height: u32,
    /// Padding columns left of the resized image.
    pub pad_left: u32,
    /// Padding rows above the resized image.
    pub pad_top: u32,
    /// The left padding the SDK subtracts when mapping boxes back:
    /// `(size − int(w · scale)) // 2`.
    pub reverse_pad_left: u32,
    /// The top padding the SDK subtracts when mapping boxes back:
    /// `(size − int(h · scale)) // 2`.
    pub reverse_pad_top: u32,
}

impl LetterboxGeometry {
    /// The geometry of a `width × height` image letterboxed into `size × size`.
    ///
    /// Errors when the image is empty, or `size` is 0 or over [`MAX_LETTERBOX_SIZE`].
    pub fn new(width: u32, height: u32, size: u32) -> Result<Self, MlError> {
        if width == 0 || height == 0 {
            return Err(MlError::EmptyImage { width, height });
        }
        if size == 0 || size > MAX_LETTERBOX_SIZE {
            return Err(MlError::InvalidSize(size));
        }
        let scale = f64::from(size) / f64::from(width.max(height));
        let (w, h) = (f64::from(width) * scale, f64::from(height) * scale);
        // albumentations: max(1, round(side · scale)); never above `size`.
        let resized = |v: f64| (v.round_ties_even() as u32).clamp(1, size);
        let (resized_width, resized_height) = (resized(w), resized(h));
        // The SDK's reverse transform: int(side · scale), which truncates.
        let truncated = |v: f64| (v as u32).min(size);
        Ok(LetterboxGeometry {
            original_width: width,
            original_height: height,
            size,
            scale,
            resized_width,
            resized_height,
            pad_left: (size - resized_width) / 2,
            pad_top: (size - resized_height) / 2,
            reverse_pad_left: (size - truncated(w)) / 2,
            reverse_pad_top: (size - truncated(h)) / 2,
        })
    }

    /// Maps a box `[y_min, x_min, y_max, x_max]` in letterboxed pixels to coordinates
    /// relative to the original image (not clamped), with the SDK's `f32` arithmetic
    /// and its pads: `((coord − reverse_pad) / f32(scale)) / f32(side)` (spec pipeline
    /// §7.3).
    pub fn to_relative(&self, bbox: [f32; 4]) -> [f32; 4] {
        self.to_relative_with(bbox, BoxGeometry::Robotoff)
    }

    /// [`Self::to_relative`] with the pads `mode` says.
    pub fn to_relative_with(&self, bbox: [f32; 4], mode: BoxGeometry) -> [f32; 4] {
        let scale = self.scale as f32;
        let (pad_top, pad_left) = match mode {
            BoxGeometry::Robotoff => (self.reverse_pad_top as f32, self.reverse_pad_left as f32),
            BoxGeometry::Exact => (self.pad_top as f32, self.pad_left as f32),
        };
        let (h, w) = (self.original_height as f32, self.original_width as f32);
        let [y_min, x_min, y_max, x_max] = bbox;
        [
            ((y_min - pad_top) / scale) / h,
            ((x_min - pad_left) / scale) / w,
            ((y_max - pad_top) / scale) / h,
            ((x_max - pad_left) / scale) / w,
        ]
    }

    /// Maps a relative box `[y_min, x_min, y_max, x_max]` of the original image to
    /// letterboxed pixels, where the image really is (real pads, `f64`).
    pub fn to_letterboxed(&self, bbox: [f64; 4]) -> [f64; 4] {
        let (h, w) = (
            f64::from(self.original_height),
            f64::from(self.original_width),
        );
        let (pt, pl) = (f64::from(self.pad_top), f64::from(self.pad_left));
        [
            bbox[0] * h * self.scale + pt,
            bbox[1] * w * self.scale + pl,
            bbox[2] * h * self.scale + pt,
            bbox[3] * w * self.scale + pl,
        ]
    }
}

/// A letterboxed model input.
#[derive(Debug, Clone, PartialEq)]
pub struct Letterboxed {
    /// How the image was placed in the square.
    pub geometry: LetterboxGeometry,
    /// The pixels, channel-major (R plane, G plane, B plane), each `size × size`, in
    /// [0, 1]: the tensor `[1, 3, size, size]` without its batch dimension.
    pub tensor: Vec<f32>,
}

impl Letterboxed {
    /// The tensor shape with its batch dimension: `[1, 3, size, size]`.
    pub fn shape(&self) -> [usize; 4] {
        let s = self.geometry.size as usize;
        [1, 3, s, s]
    }

    /// The tensor as little-endian `f32` bytes (Triton's `raw_input_contents`).
    pub fn into_tensor_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.tensor.len() * 4);
        for v in self.tensor {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// `v / 255` as the SDK computes it: `f32(v) · f32(1 / 255)`, rounded in `f32`.
pub fn unit_value(v: u8) -> f32 {
    f32::from(v) * (1.0f32 / 255.0)
}

fn unit_table() -> [f32; 256] {
    let mut t = [0.0f32; 256];
    for (v, slot) in (0u8..=255).zip(t.iter_mut()) {
        *slot = unit_value(v);
    }
    t
}

/// Letterboxes `img` into a `size × size` model input (spec pipeline §7.3): resize so
/// the longest side is (about) `size`, keeping the aspect ratio, pad with grey 114
/// around it, scale to [0, 1], channel-major. Bit-identical to the SDK's
/// `ObjectDetector.preprocess` on the same RGB pixels.
pub fn letterbox(img: &RgbImage, size: u32) -> Result<Letterboxed, MlError> {
    let geometry = LetterboxGeometry::new(img.width(), img.height(), size)?;
    let table = unit_table();
    let s = size as usize;
    let plane = s * s;
    let mut tensor = vec![table[usize::from(LETTERBOX_FILL)]; 3 * plane];
    let (rw, rh) = (
        geometry.resized_width as usize,
        geometry.resized_height as usize,
    );
    let (pad_left, pad_top) = (geometry.pad_left as usize, geometry.pad_top as usize);
    {
        let (red, rest) = tensor.split_at_mut(plane);
        let (green, blue) = rest.split_at_mut(plane);
        resize_rows(RgbView::full(img), rw, rh, |dy, row| {
            let start = (pad_top + dy) * s + pad_left;
            let range = start..start + rw;
            let (Some(r), Some(g), Some(b)) = (
                red.get_mut(range.clone()),
                green.get_mut(range.clone()),
                blue.get_mut(range),
            ) else {
                return;
            };
            for (((px, r), g), b) in row.chunks_exact(3).zip(r).zip(g).zip(b) {
                *r = table[usize::from(px[0])];
                *g = table[usize::from(px[1])];
                *b = table[usize::from(px[2])];
            }
        });
    }
    Ok(Letterboxed { geometry, tensor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn geometry(w: u32, h: u32, size: u32) -> LetterboxGeometry {
        LetterboxGeometry::new(w, h, size).unwrap()
    }

    #[test]
    fn geometry_of_odd_sizes() {
        let g = geometry(37, 53, 640);
        // 640 / 53 · 37 = 446.79…: rounded forward, truncated backward.
        assert_eq!((g.resized_width, g.resized_height), (447, 640));
        assert_eq!((g.pad_left, g.pad_top), (96, 0));
        assert_eq!((g.reverse_pad_left, g.reverse_pad_top), (97, 0));

        let g = geometry(3000, 200, 640);
        assert_eq!((g.resized_width, g.resized_height), (640, 43));
        assert_eq!((g.pad_left, g.pad_top), (0, 298));
        assert_eq!((g.reverse_pad_left, g.reverse_pad_top), (0, 299));

        let g = geometry(1200, 1600, 640);
        assert_eq!((g.resized_width, g.resized_height), (480, 640));
        assert_eq!((g.pad_left, g.pad_top), (80, 0));
        assert_eq!((g.reverse_pad_left, g.reverse_pad_top), (80, 0));

        let g = geometry(4000, 3000, 960);
        assert_eq!((g.resized_width, g.resized_height), (960, 720));
        assert_eq!((g.pad_left, g.pad_top), (0, 120));

        let g = geometry(1, 1, 640);
        assert_eq!((g.resized_width, g.resized_height), (640, 640));

        // 303 · (640 / 303) = 639.999…: 640 forward, 639 backward (same pad).
        let g = geometry(100, 303, 640);
        assert_eq!((g.resized_width, g.resized_height), (211, 640));
        assert_eq!((g.pad_top, g.reverse_pad_top), (0, 0));
    }

    #[test]
    fn thin_images_keep_one_pixel() {
        let g = geometry(1, 1000, 640);
        assert_eq!((g.resized_width, g.resized_height), (1, 640));
        assert_eq!((g.pad_left, g.reverse_pad_left), (319, 320));
        let lb = letterbox(&RgbImage::from_pixel(4000, 1, Rgb([9, 9, 9])), 640).unwrap();
        assert_eq!(lb.geometry.resized_height, 1);
        assert_eq!(lb.tensor[319 * 640 + 5], unit_value(9));
        assert_eq!(lb.tensor[318 * 640 + 5], unit_value(114));
    }

    #[test]
    fn degenerate_images_are_errors() {
        assert!(matches!(
            LetterboxGeometry::new(0, 0, 640),
            Err(MlError::EmptyImage { .. })
        ));
        assert!(matches!(
            LetterboxGeometry::new(5, 0, 640),
            Err(MlError::EmptyImage { .. })
        ));
        assert!(matches!(
            LetterboxGeometry::new(10, 10, 0),
            Err(MlError::InvalidSize(0))
        ));
        assert!(matches!(
            LetterboxGeometry::new(10, 10, MAX_LETTERBOX_SIZE + 1),
            Err(MlError::InvalidSize(_))
        ));
        assert!(letterbox(&RgbImage::new(0, 3), 640).is_err());
    }

    #[test]
    fn padding_and_content_are_placed_channel_major() {
        let img = RgbImage::from_pixel(20, 10, Rgb([255, 0, 51]));
        let lb = letterbox(&img, 64).unwrap();
        assert_eq!(lb.shape(), [1, 3, 64, 64]);
        assert_eq!(lb.tensor.len(), 3 * 64 * 64);
        let g = lb.geometry;
        assert_eq!((g.resized_width, g.resized_height, g.pad_top), (64, 32, 16));
        let at = |c: usize, y: usize, x: usize| lb.tensor[c * 64 * 64 + y * 64 + x];
        let fill = unit_value(114);
        assert_eq!(at(0, 0, 0), fill);
        assert_eq!(at(2, 15, 63), fill);
        assert_eq!(at(1, 48, 10), fill);
        assert_eq!(at(0, 16, 0), 1.0);
        assert_eq!(at(1, 30, 40), 0.0);
        assert_eq!(at(2, 47, 63), unit_value(51));
    }

    #[test]
    fn unit_values_round_like_float32() {
        assert_eq!(unit_value(0), 0.0);
        assert_eq!(unit_value(255), 1.0);
        assert_eq!(unit_value(114), 114.0f32 * (1.0f32 / 255.0));
        assert!((unit_value(114) - 114.0 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn tensor_bytes_are_little_endian() {
        let img = RgbImage::from_pixel(2, 2, Rgb([255, 255, 255]));
        let lb = letterbox(&img, 2).unwrap();
        let bytes = lb.into_tensor_bytes();
        assert_eq!(bytes.len(), 3 * 2 * 2 * 4);
        assert_eq!(&bytes[..4], &1.0f32.to_le_bytes());
    }

    #[test]
    fn relative_boxes_round_trip() {
        let g = geometry(1200, 1600, 640);
        let rel = [0.25, 0.1, 0.5, 0.9];
        let lb = g.to_letterboxed(rel);
        let back = g.to_relative(lb.map(|v| v as f32));
        for (a, b) in rel.iter().zip(back) {
            assert!((*a as f32 - b).abs() < 1e-6, "{rel:?} -> {back:?}");
        }
    }

    #[test]
    fn exact_geometry_uses_the_real_pads() {
        let g = geometry(3000, 200, 640);
        // Rows 298..341 hold the image: its top edge is relative 0 with the real pad,
        // and one letterboxed row (1/42.67 of the height) above it with the SDK's.
        let exact = g.to_relative_with([298.0, 0.0, 341.0, 640.0], BoxGeometry::Exact);
        assert!(exact[0].abs() < 1e-6, "{exact:?}");
        let sdk = g.to_relative([298.0, 0.0, 341.0, 640.0]);
        assert!(
            (sdk[0] + 1.0 / (200.0 * g.scale as f32)).abs() < 1e-4,
            "{sdk:?}"
        );
        // Where both pads agree, so do both modes.
        let g = geometry(1200, 1600, 640);
        let b = [10.0, 90.0, 300.0, 500.0];
        assert_eq!(g.to_relative(b), g.to_relative_with(b, BoxGeometry::Exact));
    }

    /// Prints how long `letterbox` takes on typical phone photos. Run with
    /// `cargo test --release --lib ml::letterbox -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        for (w, h) in [(3000u32, 4000u32), (1200, 1600), (4000, 3000), (1280, 960)] {
            let img = RgbImage::from_fn(w, h, |x, y| {
                Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 256) as u8])
            });
            let runs = 20;
            let start = std::time::Instant::now();
            let mut sum = 0.0f32;
            for _ in 0..runs {
                let lb = letterbox(&img, 640).unwrap();
                sum += lb.tensor[lb.tensor.len() / 2];
            }
            let per = start.elapsed() / runs;
            let start = std::time::Instant::now();
            for _ in 0..runs {
                let lb = letterbox(&img, 640).unwrap();
                sum += f32::from(lb.into_tensor_bytes()[7]);
            }
            let with_bytes = start.elapsed() / runs;
            println!(
                "letterbox {w}x{h} -> 640: {per:?} (with tensor bytes: {with_bytes:?}) [{sum}]"
            );
        }
    }
}
