//! Decoding of the YOLO `output0` tensor into detected objects, with OpenCV's
//! non-maximum suppression (`cv::dnn::NMSBoxes`), as the Open Food Facts SDK's
//! `ObjectDetector.postprocess` does it (spec pipeline §7.3).
//!
//! The arithmetic follows the SDK value for value (it runs on numpy `float32` scalars,
//! so every step rounds to `f32`):
//!
//! * per column, the class is the first maximal score; columns scoring below the
//!   threshold (compared in `f32`) are dropped;
//! * `x_min = cx − 0.5·w`, `x_max = x_min + w` (same for y), then
//!   [`LetterboxGeometry::to_relative_with`] (the SDK's pads, or the real ones), then each coordinate clamped to [0, 1] with
//!   Python's `max(0.0, min(1.0, v))` (which sends NaN to 1.0);
//! * NMS over all classes at once: scores strictly above the threshold, stable sort by
//!   decreasing score (ties keep column order), a box is kept when its IoU with every
//!   kept box is at most the adaptive threshold, which is multiplied by `eta` after each
//!   kept box while `eta < 1` and it is above 0.5. The IoU is OpenCV's for `Rect2d`:
//!   `f64` areas `width · height` without the `+1` of integer rectangles, an empty
//!   rectangle (`width ≤ 0` or `height ≤ 0`) has no intersection, and two boxes whose
//!   areas sum to at most `f64::EPSILON` count as identical (IoU 1).

use super::error::MlError;
use super::letterbox::{BoxGeometry, LetterboxGeometry};
use super::models::{DEFAULT_NMS_ETA, DEFAULT_NMS_THRESHOLD};

/// A detected object. `bounding_box` is `[y_min, x_min, y_max, x_max]` relative to the
/// image (each in [0, 1]).
///
/// Robotoff stores these `f32` values widened to `f64` (`0.1f32` is written
/// `0.10000000149011612`); serialise them through `f64::from` to produce the same JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedObject {
    pub bounding_box: [f32; 4],
    pub score: f32,
    pub label: String,
}

/// How the boxes are handed to the non-maximum suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NmsBoxOrder {
    /// As Robotoff does it (SDK 3.4.5, pinned by Robotoff): each relative box
    /// `[y_min, x_min, y_max, x_max]` becomes the rectangle
    /// `(x = x_min, y = y_min, width = x_max − x_min, height = y_max − y_min)`, the
    /// differences rounded to `f32`.
    #[default]
    Robotoff,
    /// As Robotoff did it before November 2025 (its own copy of the detector, replaced
    /// by the SDK's in Robotoff PR #1806): the rows `[y_min, x_min, y_max, x_max]` were
    /// passed unchanged, so OpenCV read them as `(x, y, width, height)`. Kept to compare
    /// with predictions stored by those versions.
    LegacyUnconverted,
}

/// Parameters of [`decode`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostprocessOptions {
    /// Minimum score of a detection.
    pub threshold: f32,
    /// Whether to run the non-maximum suppression at all.
    pub nms: bool,
    /// IoU above which a box is suppressed.
    pub nms_threshold: f32,
    /// Decay of the IoU threshold after each kept box (1.0: none).
    pub nms_eta: f32,
    /// How boxes are handed to the suppression.
    pub box_order: NmsBoxOrder,
    /// Which pads undo the letterbox.
    pub geometry: BoxGeometry,
}

impl PostprocessOptions {
    /// `threshold` with the SDK's defaults: NMS on, IoU threshold 0.7, eta 1.0,
    /// Robotoff's box order and pads.
    pub fn new(threshold: f32) -> Self {
        PostprocessOptions {
            threshold,
            nms: true,
            nms_threshold: DEFAULT_NMS_THRESHOLD,
            nms_eta: DEFAULT_NMS_ETA,
            box_order: NmsBoxOrder::Robotoff,
            geometry: BoxGeometry::Robotoff,
        }
    }
}

/// A rectangle as OpenCV's `Rect2d`: corner, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect2d {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect2d {
    fn area(&self) -> f64 {
        self.width * self.height
    }

    fn is_empty(&self) -> bool {
        self.width <= 0.0 || self.height <= 0.0
    }
}

/// `std::min` as C++ defines it: `b < a ? b : a`.
fn cpp_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Area of OpenCV's `a & b` for `Rect2d`.
fn intersection_area(a: &Rect2d, b: &Rect2d) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (x_lo, x_hi) = if a.x < b.x { (a, b) } else { (b, a) };
    let (y_lo, y_hi) = if a.y < b.y { (a, b) } else { (b, a) };
    if (x_lo.x < 0.0 && x_lo.x + x_lo.width < x_hi.x)
        || (y_lo.y < 0.0 && y_lo.y + y_lo.height < y_hi.y)
    {
        return 0.0;
    }
    let width = cpp_min(x_lo.width - (x_hi.x - x_lo.x), x_hi.width);
    let height = cpp_min(y_lo.height - (y_hi.y - y_lo.y), y_hi.height);
    if width <= 0.0 || height <= 0.0 {
        return 0.0;
    }
    width * height
}

/// OpenCV's `rectOverlap` for `Rect2d`: `1 − f32(jaccardDistance(a, b))`.
pub fn rect_overlap(a: &Rect2d, b: &Rect2d) -> f32 {
    let (area_a, area_b) = (a.area(), b.area());
    let distance = if area_a + area_b <= f64::EPSILON {
        0.0
    } else {
        let inter = intersection_area(a, b);
        1.0 - inter / (area_a + area_b - inter)
    };
    1.0f32 - distance as f32
}

/// OpenCV's `cv::dnn::NMSBoxes(boxes, scores, score_threshold, nms_threshold, eta,
/// top_k)`: the indices of the kept boxes, best first. `top_k` 0 keeps all candidates.
///
/// Errors like OpenCV's assertions: different lengths, a negative (or NaN) threshold,
/// or `eta ≤ 0`.
pub fn nms_boxes(
    boxes: &[Rect2d],
    scores: &[f32],
    score_threshold: f32,
    nms_threshold: f32,
    eta: f32,
    top_k: usize,
) -> Result<Vec<usize>, MlError> {
    if boxes.len() != scores.len() {
        return Err(MlError::Nms(format!(
            "{} boxes but {} scores",
            boxes.len(),
            scores.len()
        )));
    }
    if score_threshold.is_nan()
        || score_threshold < 0.0
        || nms_threshold.is_nan()
        || nms_threshold < 0.0
        || eta.is_nan()
        || eta <= 0.0
    {
        return Err(MlError::Nms(format!(
            "score threshold {score_threshold} and NMS threshold {nms_threshold} must be \
             at least 0 and eta {eta} above 0"
        )));
    }
    let mut candidates: Vec<(f32, usize)> = scores
        .iter()
        .enumerate()
        .filter(|(_, &s)| s > score_threshold)
        .map(|(i, &s)| (s, i))
        .collect();
    // Stable: equal scores keep their order.
    candidates.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    if top_k > 0 {
        candidates.truncate(top_k);
    }
    let mut adaptive = nms_threshold;
    let mut kept: Vec<usize> = Vec::new();
    for (_, idx) in candidates {
        let Some(candidate) = boxes.get(idx) else {
            continue;
        };
        let keep = kept.iter().all(|&k| {
            boxes
                .get(k)
                .is_none_or(|other| rect_overlap(candidate, other) <= adaptive)
        });
        if keep {
            kept.push(idx);
            if eta < 1.0 && adaptive > 0.5 {
                adaptive *= eta;
            }
        }
    }
    Ok(kept)
}

/// Python's `max(0.0, min(1.0, v))`: NaN becomes 1.0.
fn clamp_unit(v: f32) -> f32 {
    let m = if v < 1.0 { v } else { 1.0 };
    if m > 0.0 {
        m
    } else {
        0.0
    }
}

/// The rectangle handed to OpenCV for a relative box, in the given order.
fn nms_rect(b: &[f32; 4], order: NmsBoxOrder) -> Rect2d {
    let [y_min, x_min, y_max, x_max] = *b;
    match order {
        NmsBoxOrder::Robotoff => Rect2d {
            x: f64::from(x_min),
            y: f64::from(y_min),
            width: f64::from(x_max - x_min),
            height: f64::from(y_max - y_min),
        },
        NmsBoxOrder::LegacyUnconverted => Rect2d {
            x: f64::from(y_min),
            y: f64::from(x_min),
            width: f64::from(y_max),
            height: f64::from(x_max),
        },
    }
}

/// Decodes a raw `output0` tensor (`[1, 4 + labels.len(), N]` row-major `f32`: rows
/// cx, cy, w, h in letterboxed pixels, then one score per label) into objects, in the
/// order the NMS keeps them (column order without NMS). Spec pipeline §7.3.
///
/// Errors when there are no labels, the output is empty or its length is not a multiple
/// of `4 + labels.len()`, or the NMS parameters are invalid.
pub fn decode(
    output: &[f32],
    labels: &[&str],
    geometry: &LetterboxGeometry,
    options: &PostprocessOptions,
) -> Result<Vec<DetectedObject>, MlError> {
    if labels.is_empty() {
        return Err(MlError::Output("the model has no labels".into()));
    }
    let rows = 4 + labels.len();
    if output.is_empty() || !output.len().is_multiple_of(rows) {
        return Err(MlError::Output(format!(
            "{} values cannot be reshaped to ({rows}, N)",
            output.len()
        )));
    }
    let n = output.len() / rows;
    let row = |r: usize| output.get(r * n..(r + 1) * n).unwrap_or(&[]);
    let (cx, cy, bw, bh) = (row(0), row(1), row(2), row(3));

    let mut boxes: Vec<[f32; 4]> = Vec::new();
    let mut scores: Vec<f32> = Vec::new();
    let mut classes: Vec<usize> = Vec::new();
    for i in 0..n {
        // np.argmax: the first maximum, a NaN counting as the maximum.
        let mut best: Option<(usize, f32)> = None;
        for c in 0..labels.len() {
            let s = row(4 + c).get(i).copied().unwrap_or(f32::NAN);
            best = match best {
                Some((_, b)) if b.is_nan() || !(s > b || s.is_nan()) => best,
                _ => Some((c, s)),
            };
        }
        let Some((class, score)) = best else { continue };
        // NaN passes the SDK's `score < threshold` test; nothing useful can be stored
        // for it, so it is dropped here.
        if score.is_nan() || score < options.threshold {
            continue;
        }
        let at = |r: &[f32]| r.get(i).copied().unwrap_or(f32::NAN);
        let (w, h) = (at(bw), at(bh));
        let x_min = at(cx) - 0.5 * w;
        let y_min = at(cy) - 0.5 * h;
        let x_max = x_min + w;
        let y_max = y_min + h;
        let rel = geometry.to_relative_with([y_min, x_min, y_max, x_max], options.geometry);
        boxes.push(rel.map(clamp_unit));
        scores.push(score);
        classes.push(class);
    }

    let order: Vec<usize> = if options.nms {
        let rects: Vec<Rect2d> = boxes
            .iter()
            .map(|b| nms_rect(b, options.box_order))
            .collect();
        nms_boxes(
            &rects,
            &scores,
            options.threshold,
            options.nms_threshold,
            options.nms_eta,
            0,
        )?
    } else {
        (0..boxes.len()).collect()
    };

    Ok(order
        .into_iter()
        .filter_map(|i| {
            Some(DetectedObject {
                bounding_box: *boxes.get(i)?,
                score: *scores.get(i)?,
                label: (*labels.get(*classes.get(i)?)?).to_string(),
            })
        })
        .collect())
}

/// [`decode`] on Triton's raw output bytes (little-endian `f32`).
pub fn decode_bytes(
    raw: &[u8],
    labels: &[&str],
    geometry: &LetterboxGeometry,
    options: &PostprocessOptions,
) -> Result<Vec<DetectedObject>, MlError> {
    if !raw.len().is_multiple_of(4) {
        return Err(MlError::Output(format!(
            "{} bytes is not a whole number of float32 values",
            raw.len()
        )));
    }
    let values: Vec<f32> = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    decode(&values, labels, geometry, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::letterbox::letterbox;
    use image::{Rgb, RgbImage};

    fn rect(x: f64, y: f64, w: f64, h: f64) -> Rect2d {
        Rect2d {
            x,
            y,
            width: w,
            height: h,
        }
    }

    /// A raw output with one column per (cx, cy, w, h, scores...).
    fn output(columns: &[(f32, f32, f32, f32, Vec<f32>)]) -> Vec<f32> {
        let labels = columns[0].4.len();
        let mut out = vec![0.0; (4 + labels) * columns.len()];
        let n = columns.len();
        for (i, (cx, cy, w, h, s)) in columns.iter().enumerate() {
            out[i] = *cx;
            out[n + i] = *cy;
            out[2 * n + i] = *w;
            out[3 * n + i] = *h;
            for (c, v) in s.iter().enumerate() {
                out[(4 + c) * n + i] = *v;
            }
        }
        out
    }

    #[test]
    fn iou_of_float_rectangles_has_no_plus_one() {
        let a = rect(0.0, 0.0, 2.0, 2.0);
        let b = rect(1.0, 0.0, 2.0, 2.0);
        // Intersection 2, union 6.
        assert_eq!(rect_overlap(&a, &b), 1.0 - (1.0 - 2.0f64 / 6.0) as f32);
        assert_eq!(rect_overlap(&a, &a), 1.0);
        assert_eq!(rect_overlap(&a, &rect(5.0, 5.0, 1.0, 1.0)), 0.0);
        // Touching edges do not intersect.
        assert_eq!(rect_overlap(&a, &rect(2.0, 0.0, 1.0, 1.0)), 0.0);
        // Two empty boxes count as identical, one empty box overlaps nothing.
        assert_eq!(
            rect_overlap(&rect(0.3, 0.3, 0.0, 0.0), &rect(0.9, 0.9, 0.0, 0.0)),
            1.0
        );
        assert_eq!(rect_overlap(&a, &rect(1.0, 1.0, 0.0, 1.0)), 0.0);
    }

    #[test]
    fn nms_keeps_best_first_and_suppresses_overlaps() {
        let boxes = [
            rect(0.0, 0.0, 10.0, 10.0),
            rect(1.0, 1.0, 10.0, 10.0), // IoU 81/119 = 0.68 with box 0
            rect(0.5, 0.0, 10.0, 10.0), // IoU 0.905 with box 0
            rect(50.0, 50.0, 5.0, 5.0),
        ];
        let scores = [0.9, 0.8, 0.95, 0.2];
        let kept = nms_boxes(&boxes, &scores, 0.1, 0.7, 1.0, 0).unwrap();
        // Box 2 first (best score); box 0 overlaps it; box 1 has IoU 0.70… with box 2.
        assert_eq!(kept, vec![2, 3]);
        let kept = nms_boxes(&boxes, &scores, 0.1, 0.95, 1.0, 0).unwrap();
        assert_eq!(kept, vec![2, 0, 1, 3]);
        // Scores equal to the threshold are not candidates.
        let kept = nms_boxes(&boxes, &scores, 0.2, 0.95, 1.0, 0).unwrap();
        assert_eq!(kept, vec![2, 0, 1]);
        // top_k keeps the best candidates only.
        let kept = nms_boxes(&boxes, &scores, 0.1, 0.95, 1.0, 2).unwrap();
        assert_eq!(kept, vec![2, 0]);
    }

    #[test]
    fn nms_ties_keep_input_order() {
        let boxes = [
            rect(0.0, 0.0, 1.0, 1.0),
            rect(5.0, 0.0, 1.0, 1.0),
            rect(0.0, 0.0, 1.0, 1.0),
            rect(9.0, 0.0, 1.0, 1.0),
        ];
        let kept = nms_boxes(&boxes, &[0.5, 0.5, 0.5, 0.6], 0.1, 0.7, 1.0, 0).unwrap();
        assert_eq!(kept, vec![3, 0, 1]);
    }

    #[test]
    fn nms_eta_lowers_the_threshold_after_each_kept_box() {
        // IoU of each box with the first one: 0.6.
        let boxes = [
            rect(0.0, 0.0, 8.0, 10.0),
            rect(2.0, 0.0, 8.0, 10.0),
            rect(-2.0, 0.0, 8.0, 10.0),
        ];
        let scores = [0.9, 0.8, 0.7];
        assert_eq!(
            nms_boxes(&boxes, &scores, 0.0, 0.7, 1.0, 0).unwrap(),
            vec![0, 1, 2]
        );
        // After box 0: 0.7 · 0.8 = 0.56 < 0.6, box 1 goes, box 2 too.
        assert_eq!(
            nms_boxes(&boxes, &scores, 0.0, 0.7, 0.8, 0).unwrap(),
            vec![0]
        );
    }

    #[test]
    fn nms_rejects_what_opencv_asserts() {
        let b = [rect(0.0, 0.0, 1.0, 1.0)];
        assert!(nms_boxes(&b, &[0.5, 0.2], 0.1, 0.7, 1.0, 0).is_err());
        assert!(nms_boxes(&b, &[0.5], -0.1, 0.7, 1.0, 0).is_err());
        assert!(nms_boxes(&b, &[0.5], 0.1, -0.7, 1.0, 0).is_err());
        assert!(nms_boxes(&b, &[0.5], 0.1, 0.7, 0.0, 0).is_err());
        assert!(nms_boxes(&b, &[0.5], f32::NAN, 0.7, 1.0, 0).is_err());
        assert_eq!(
            nms_boxes(&[], &[], 0.1, 0.7, 1.0, 0).unwrap(),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn box_orders_differ_on_the_same_boxes() {
        // Two wide flat boxes one above the other: disjoint, so both are kept with
        // proper rectangles; read as (x, y, w, h) rows they overlap (IoU 0.8).
        let g = LetterboxGeometry::new(640, 640, 640).unwrap();
        let out = output(&[
            (320.0, 262.0, 512.0, 12.0, vec![0.9]),
            (320.0, 282.0, 512.0, 12.0, vec![0.8]),
        ]);
        let mut opts = PostprocessOptions::new(0.1);
        let objects = decode(&out, &["object"], &g, &opts).unwrap();
        assert_eq!(objects.len(), 2);
        opts.box_order = NmsBoxOrder::LegacyUnconverted;
        let objects = decode(&out, &["object"], &g, &opts).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].score, 0.9);
    }

    #[test]
    fn decode_picks_class_threshold_and_clamps() {
        let g = LetterboxGeometry::new(1280, 640, 640).unwrap(); // 640x320, pad_top 160
        let labels = ["a", "b", "c"];
        let out = output(&[
            (320.0, 320.0, 64.0, 32.0, vec![0.1, 0.6, 0.6]), // tie: first max (b)
            (0.0, 160.0, 100.0, 100.0, vec![0.05, 0.0, 0.09]), // below threshold
            (600.0, 470.0, 100.0, 40.0, vec![0.3, 0.2, 0.1]), // crosses the right edge
        ]);
        let objects = decode(&out, &labels, &g, &PostprocessOptions::new(0.1)).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].label, "b");
        assert_eq!(objects[0].score, 0.6);
        let [y0, x0, y1, x1] = objects[0].bounding_box;
        assert!(
            (y0 - 0.45).abs() < 1e-6 && (y1 - 0.55).abs() < 1e-6,
            "{y0} {y1}"
        );
        assert!(
            (x0 - 0.45).abs() < 1e-6 && (x1 - 0.55).abs() < 1e-6,
            "{x0} {x1}"
        );
        assert_eq!(objects[1].label, "a");
        assert_eq!(objects[1].bounding_box[3], 1.0);
        assert_eq!(objects[1].bounding_box[2], 1.0); // 490 − 160 = 330 > 320
    }

    #[test]
    fn decode_without_nms_keeps_column_order() {
        let g = LetterboxGeometry::new(640, 640, 640).unwrap();
        let out = output(&[
            (100.0, 100.0, 50.0, 50.0, vec![0.3]),
            (101.0, 100.0, 50.0, 50.0, vec![0.9]),
        ]);
        let mut opts = PostprocessOptions::new(0.25);
        let objects = decode(&out, &["x"], &g, &opts).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].score, 0.9);
        opts.nms = false;
        let scores: Vec<f32> = decode(&out, &["x"], &g, &opts)
            .unwrap()
            .iter()
            .map(|o| o.score)
            .collect();
        assert_eq!(scores, vec![0.3, 0.9]);
    }

    #[test]
    fn malformed_outputs_are_errors() {
        let g = LetterboxGeometry::new(10, 10, 640).unwrap();
        let opts = PostprocessOptions::new(0.1);
        assert!(decode(&[], &["a"], &g, &opts).is_err());
        assert!(decode(&[0.0; 7], &["a"], &g, &opts).is_err());
        assert!(decode(&[0.0; 10], &[], &g, &opts).is_err());
        assert!(decode_bytes(&[0u8; 21], &["a"], &g, &opts).is_err());
        let ok = decode_bytes(&[0u8; 40], &["a"], &g, &opts).unwrap();
        assert!(ok.is_empty());
        let mut bad = opts;
        bad.nms_eta = 0.0;
        let out = output(&[(1.0, 1.0, 1.0, 1.0, vec![0.9])]);
        assert!(decode(&out, &["a"], &g, &bad).is_err());
    }

    #[test]
    fn nan_values_do_not_panic() {
        let g = LetterboxGeometry::new(10, 10, 640).unwrap();
        let out = output(&[
            (f32::NAN, 1.0, 1.0, 1.0, vec![0.9, f32::NAN]),
            (f32::NAN, f32::INFINITY, 1.0, 1.0, vec![0.9, 0.1]),
        ]);
        let objects = decode(&out, &["a", "b"], &g, &PostprocessOptions::new(0.1)).unwrap();
        // Column 0 has a NaN score (dropped); column 1 has NaN / inf coordinates.
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].bounding_box[1], 1.0);
        assert_eq!(objects[0].bounding_box[0], 1.0);
    }

    /// A dark rectangle letterboxed, found in the letterboxed tensor, turned into a YOLO
    /// column and decoded lands within a pixel of where it was drawn.
    #[test]
    fn dark_rectangle_survives_the_round_trip() {
        for (w, h, rect) in [
            (1200u32, 1600u32, (300u32, 500u32, 700u32, 900u32)),
            (1601, 997, (1000, 100, 1500, 400)),
            (37, 53, (5, 10, 20, 40)),
        ] {
            let (rx0, ry0, rx1, ry1) = rect;
            let img = RgbImage::from_fn(w, h, |x, y| {
                if (rx0..rx1).contains(&x) && (ry0..ry1).contains(&y) {
                    Rgb([10, 10, 10])
                } else {
                    Rgb([240, 240, 240])
                }
            });
            let lb = letterbox(&img, 640).unwrap();
            let s = 640usize;
            // Bounds of the dark pixels of the resized image in the red plane.
            let g = lb.geometry;
            let (left, top) = (g.pad_left as usize, g.pad_top as usize);
            let (right, bottom) = (
                left + g.resized_width as usize,
                top + g.resized_height as usize,
            );
            let (mut x0, mut y0, mut x1, mut y1) = (s, s, 0, 0);
            for y in top..bottom {
                for x in left..right {
                    if lb.tensor[y * s + x] < 0.49 {
                        x0 = x0.min(x);
                        y0 = y0.min(y);
                        x1 = x1.max(x + 1);
                        y1 = y1.max(y + 1);
                    }
                }
            }
            let (cx, cy) = ((x0 + x1) as f32 / 2.0, (y0 + y1) as f32 / 2.0);
            let (bw, bh) = ((x1 - x0) as f32, (y1 - y0) as f32);
            let out = output(&[(cx, cy, bw, bh, vec![0.9])]);
            let objects = decode(
                &out,
                &["object"],
                &lb.geometry,
                &PostprocessOptions::new(0.1),
            )
            .unwrap();
            assert_eq!(objects.len(), 1);
            let [by0, bx0, by1, bx1] = objects[0].bounding_box;
            let (wf, hf) = (w as f32, h as f32);
            // Within a pixel of the coarser grid (one letterboxed pixel is 1 / scale
            // original pixels).
            let tol = (1.0 / lb.geometry.scale as f32).max(1.0);
            for (got, want) in [
                (by0 * hf, ry0 as f32),
                (bx0 * wf, rx0 as f32),
                (by1 * hf, ry1 as f32),
                (bx1 * wf, rx1 as f32),
            ] {
                assert!(
                    (got - want).abs() <= tol,
                    "{w}x{h}: got {got}, want {want} (±{tol})"
                );
            }
        }
    }
}
