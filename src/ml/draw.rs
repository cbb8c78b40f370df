//! Detected boxes drawn on the image, for `/images/predict?output_image=1`: a 3-pixel
//! outline per object, one colour per label.

use super::yolo::DetectedObject;
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// Width of the outlines in pixels.
pub const LINE_WIDTH: u32 = 3;

/// JPEG quality of [`boxes_jpeg`].
pub const JPEG_QUALITY: u8 = 90;

const PALETTE: [[u8; 3]; 10] = [
    [230, 25, 75],
    [60, 180, 75],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [0, 128, 128],
    [255, 225, 25],
];

/// The colour of a label: a palette entry picked by a hash of the label, so a label
/// keeps its colour from image to image.
pub fn label_colour(label: &str) -> Rgb<u8> {
    // FNV-1a.
    let mut h: u32 = 0x811c_9dc5;
    for b in label.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let i = h as usize % PALETTE.len();
    Rgb(PALETTE.get(i).copied().unwrap_or([255, 0, 0]))
}

fn fill(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, colour: Rgb<u8>) {
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            img.put_pixel(x, y, colour);
        }
    }
}

/// Draws the outline of each object's box on `img` (relative boxes scaled by the image
/// size, clamped to it; the outline grows inwards from the box edges).
pub fn draw_boxes(img: &mut RgbImage, objects: &[DetectedObject]) {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return;
    }
    let to_px = |v: f32, side: u32| -> u32 {
        let p = f64::from(v.clamp(0.0, 1.0)) * f64::from(side);
        if p.is_finite() {
            (p.round() as u32).min(side)
        } else {
            0
        }
    };
    for object in objects {
        let [y_min, x_min, y_max, x_max] = object.bounding_box;
        let (x0, x1) = (to_px(x_min, w), to_px(x_max, w));
        let (y0, y1) = (to_px(y_min, h), to_px(y_max, h));
        let (x0, x1) = (x0.min(x1), x0.max(x1).max(x0.min(x1) + 1));
        let (y0, y1) = (y0.min(y1), y0.max(y1).max(y0.min(y1) + 1));
        let colour = label_colour(&object.label);
        let t = LINE_WIDTH;
        fill(img, x0, y0, x1, y0.saturating_add(t).min(y1), colour);
        fill(img, x0, y1.saturating_sub(t).max(y0), x1, y1, colour);
        fill(img, x0, y0, x0.saturating_add(t).min(x1), y1, colour);
        fill(img, x1.saturating_sub(t).max(x0), y0, x1, y1, colour);
    }
}

/// The image with the objects' boxes drawn, encoded as JPEG.
pub fn boxes_jpeg(img: &RgbImage, objects: &[DetectedObject]) -> Result<Vec<u8>, String> {
    let mut canvas = img.clone();
    draw_boxes(&mut canvas, objects);
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(&canvas)
        .map_err(|e| format!("JPEG encoding failed: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(bbox: [f32; 4], label: &str) -> DetectedObject {
        DetectedObject {
            bounding_box: bbox,
            score: 0.9,
            label: label.to_string(),
        }
    }

    #[test]
    fn outlines_are_drawn_inside_the_box() {
        let mut img = RgbImage::from_pixel(100, 50, Rgb([0, 0, 0]));
        draw_boxes(&mut img, &[object([0.2, 0.1, 0.8, 0.5], "object")]);
        let c = label_colour("object");
        // Box: x 10..50, y 10..40.
        assert_eq!(*img.get_pixel(10, 10), c);
        assert_eq!(*img.get_pixel(12, 25), c);
        assert_eq!(*img.get_pixel(49, 39), c);
        assert_eq!(*img.get_pixel(30, 37), c);
        assert_eq!(*img.get_pixel(13, 13), Rgb([0, 0, 0]));
        assert_eq!(*img.get_pixel(9, 10), Rgb([0, 0, 0]));
        assert_eq!(*img.get_pixel(50, 20), Rgb([0, 0, 0]));
    }

    #[test]
    fn degenerate_boxes_do_not_panic() {
        let mut img = RgbImage::new(10, 10);
        draw_boxes(
            &mut img,
            &[
                object([1.0, 1.0, 1.0, 1.0], "a"),
                object([0.0, 0.0, 0.0, 0.0], "b"),
                object([f32::NAN, -3.0, f32::INFINITY, 2.0], "c"),
                object([0.9, 0.9, 0.1, 0.1], "d"),
            ],
        );
        draw_boxes(
            &mut RgbImage::new(0, 0),
            &[object([0.0, 0.0, 1.0, 1.0], "a")],
        );
    }

    #[test]
    fn labels_keep_their_colour() {
        assert_eq!(label_colour("nutriscore-a"), label_colour("nutriscore-a"));
        assert_ne!(label_colour("nutriscore-a"), label_colour("nutriscore-b"));
    }

    #[test]
    fn jpeg_is_produced() {
        let img = RgbImage::from_pixel(32, 16, Rgb([200, 200, 200]));
        let jpeg = boxes_jpeg(&img, &[object([0.1, 0.1, 0.9, 0.9], "x")]).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    }
}
