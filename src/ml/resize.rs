//! OpenCV's `cv::resize(src, dsize, interpolation = INTER_LINEAR)` on 8-bit RGB images,
//! reproduced bit for bit (OpenCV 4.12, the version Robotoff's SDK runs; spec pipeline
//! §6.3 and §7.3 both resize with it).
//!
//! OpenCV's 8-bit bilinear resize is fixed-point and separable:
//!
//! * per destination column, the source position is `(dx + 0.5) · (src / dst) − 0.5`,
//!   computed in `f64` and rounded to `f32`; its floor is the left tap, the fraction `f`
//!   gives the weights `round(2048 · (1 − f))` and `round(2048 · f)` (11-bit, ties to
//!   even). A position left of the first column, or at or right of the last one,
//!   takes that edge pixel with weights (2048, 0);
//! * rows are the same, except that the fraction is not reset at the edges: both taps
//!   are clamped to the image but keep their weights;
//! * a horizontal pass gives, per channel, `S[x0]·w0 + S[x1]·w1` (exact integers);
//! * the vertical pass combines two such rows as
//!   `((b0·(R0 >> 4)) >> 16) + ((b1·(R1 >> 4)) >> 16)`, then `(v + 2) >> 2` — the
//!   rounding of OpenCV's SIMD kernel, which its scalar tail copies, so every pixel
//!   goes through the same formula;
//! * when both axes shrink by exactly 2 OpenCV switches to its 2×2 box average,
//!   `(a + b + c + d + 2) >> 2`; when the size does not change the image is copied.

use image::RgbImage;

/// Fixed-point scale of the interpolation weights (`INTER_RESIZE_COEF_SCALE`).
const COEF_SCALE: f32 = 2048.0;

/// A rectangle of an RGB8 image: rows of `width` pixels starting at (`left`, `top`).
#[derive(Clone, Copy)]
pub(crate) struct RgbView<'a> {
    data: &'a [u8],
    stride: usize,
    left: usize,
    top: usize,
    width: usize,
    height: usize,
}

impl<'a> RgbView<'a> {
    /// The whole image.
    pub(crate) fn full(img: &'a RgbImage) -> Self {
        RgbView {
            data: img.as_raw(),
            stride: img.width() as usize * 3,
            left: 0,
            top: 0,
            width: img.width() as usize,
            height: img.height() as usize,
        }
    }

    /// The rectangle `[left, right) × [top, bottom)` of `img`, if it lies inside it.
    pub(crate) fn crop(
        img: &'a RgbImage,
        left: usize,
        top: usize,
        right: usize,
        bottom: usize,
    ) -> Option<Self> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        if left > right || top > bottom || right > w || bottom > h {
            return None;
        }
        Some(RgbView {
            data: img.as_raw(),
            stride: w * 3,
            left,
            top,
            width: right - left,
            height: bottom - top,
        })
    }

    pub(crate) fn width(&self) -> usize {
        self.width
    }

    pub(crate) fn height(&self) -> usize {
        self.height
    }

    /// Row `y` of the rectangle (`3 · width` bytes); empty if out of range.
    fn row(&self, y: usize) -> &'a [u8] {
        if y >= self.height {
            return &[];
        }
        let start = (self.top + y) * self.stride + self.left * 3;
        self.data.get(start..start + self.width * 3).unwrap_or(&[])
    }
}

/// Interpolation taps of one axis: for each destination index, two source indices and
/// their 11-bit weights.
struct Taps {
    first: Vec<usize>,
    second: Vec<usize>,
    w0: Vec<i16>,
    w1: Vec<i16>,
}

/// One destination column: byte offsets of the two source pixels and their weights.
struct ColumnTap {
    first: usize,
    second: usize,
    w0: i32,
    w1: i32,
}

/// Column taps as byte offsets into an RGB row.
fn packed_columns(t: &Taps) -> Vec<ColumnTap> {
    t.first
        .iter()
        .zip(&t.second)
        .zip(t.w0.iter().zip(&t.w1))
        .map(|((&a, &b), (&w0, &w1))| ColumnTap {
            first: 3 * a,
            second: 3 * b,
            w0: i32::from(w0),
            w1: i32::from(w1),
        })
        .collect()
}

/// `saturate_cast<short>(v)` of a float: round half to even, then saturate.
fn to_coef(v: f32) -> i16 {
    // `as` saturates, and the weights are within [0, 2048] anyway.
    v.round_ties_even() as i16
}

/// The source position of destination index `d` and its split into floor and fraction,
/// as OpenCV computes them (`f64` product rounded to `f32`, `f32` floor).
fn position(d: usize, scale: f64) -> (i64, f32) {
    let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
    let s = f.floor();
    (s as i64, f - s)
}

/// Column taps: positions outside `[0, src − 1)` take the edge pixel with weights
/// (2048, 0). `src` and `dst` are at least 1.
fn column_taps(src: usize, dst: usize) -> Taps {
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    let mut t = Taps {
        first: Vec::with_capacity(dst),
        second: Vec::with_capacity(dst),
        w0: Vec::with_capacity(dst),
        w1: Vec::with_capacity(dst),
    };
    for d in 0..dst {
        let (mut s, mut f) = position(d, scale);
        if s < 0 {
            s = 0;
            f = 0.0;
        }
        if s >= last {
            s = last;
            f = 0.0;
        }
        let s = s.max(0) as usize;
        t.first.push(s);
        t.second.push((s + 1).min(src - 1));
        t.w0.push(to_coef((1.0 - f) * COEF_SCALE));
        t.w1.push(to_coef(f * COEF_SCALE));
    }
    t
}

/// Row taps: both taps clamped into the image, weights from the unclamped fraction.
fn row_taps(src: usize, dst: usize) -> Taps {
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    let mut t = Taps {
        first: Vec::with_capacity(dst),
        second: Vec::with_capacity(dst),
        w0: Vec::with_capacity(dst),
        w1: Vec::with_capacity(dst),
    };
    for d in 0..dst {
        let (s, f) = position(d, scale);
        t.first.push(s.clamp(0, last.max(0)) as usize);
        t.second.push((s + 1).clamp(0, last.max(0)) as usize);
        t.w0.push(to_coef((1.0 - f) * COEF_SCALE));
        t.w1.push(to_coef(f * COEF_SCALE));
    }
    t
}

/// Horizontal pass of one source row: per channel `S[x0]·w0 + S[x1]·w1`, stored
/// shifted right by 4 — the only form the vertical pass reads (it fits in `i16`: at
/// most 255 · 2049 >> 4).
fn horizontal(row: &[u8], taps: &[ColumnTap], out: &mut [i16]) {
    for (px, tap) in out.chunks_exact_mut(3).zip(taps) {
        let (Some(&[a0, a1, a2]), Some(&[b0, b1, b2]), Ok(px)) = (
            row.get(tap.first..tap.first + 3),
            row.get(tap.second..tap.second + 3),
            <&mut [i16; 3]>::try_from(px),
        ) else {
            continue;
        };
        let (w0, w1) = (tap.w0, tap.w1);
        let mix = |a: u8, b: u8| ((i32::from(a) * w0 + i32::from(b) * w1) >> 4) as i16;
        *px = [mix(a0, b0), mix(a1, b1), mix(a2, b2)];
    }
}

/// Vertical combination of two horizontally resized rows, with OpenCV's rounding:
/// `(((b0·r0) >> 16) + ((b1·r1) >> 16) + 2) >> 2`, `r` being the row values >> 4.
fn vertical(r0: &[i16], r1: &[i16], b0: i16, b1: i16, out: &mut [u8]) {
    for ((o, &a), &b) in out.iter_mut().zip(r0).zip(r1) {
        let hi0 = (i32::from(b0) * i32::from(a)) >> 16;
        let hi1 = (i32::from(b1) * i32::from(b)) >> 16;
        *o = ((hi0 + hi1 + 2) >> 2).clamp(0, 255) as u8;
    }
}

/// Whether OpenCV takes its exact-2× box-average path for this size change.
fn is_half_size(src_w: usize, src_h: usize, dst_w: usize, dst_h: usize) -> bool {
    let sx = 1.0 / (dst_w as f64 / src_w as f64);
    let sy = 1.0 / (dst_h as f64 / src_h as f64);
    let (ix, iy) = (sx.round_ties_even(), sy.round_ties_even());
    (sx - ix).abs() < f64::EPSILON && (sy - iy).abs() < f64::EPSILON && ix == 2.0 && iy == 2.0
}

/// Resizes `src` to `dst_w × dst_h` as `cv2.resize(..., interpolation=cv2.INTER_LINEAR)`
/// does, handing each destination row (`3 · dst_w` RGB bytes) to `sink(dy, row)` in
/// order. Nothing happens if a size is zero.
pub(crate) fn resize_rows<F: FnMut(usize, &[u8])>(
    src: RgbView<'_>,
    dst_w: usize,
    dst_h: usize,
    mut sink: F,
) {
    let (src_w, src_h) = (src.width(), src.height());
    if src_w == 0 || src_h == 0 || dst_w == 0 || dst_h == 0 {
        return;
    }
    if src_w == dst_w && src_h == dst_h {
        for y in 0..dst_h {
            sink(y, src.row(y));
        }
        return;
    }
    let mut out = vec![0u8; dst_w * 3];
    if is_half_size(src_w, src_h, dst_w, dst_h) {
        for dy in 0..dst_h {
            let (r0, r1) = (src.row(2 * dy), src.row(2 * dy + 1));
            let blocks = r0.chunks_exact(6).zip(r1.chunks_exact(6));
            for (px, (a, b)) in out.chunks_exact_mut(3).zip(blocks) {
                let (Ok(a), Ok(b), Ok(px)) = (
                    <&[u8; 6]>::try_from(a),
                    <&[u8; 6]>::try_from(b),
                    <&mut [u8; 3]>::try_from(px),
                ) else {
                    continue;
                };
                let avg = |c: usize| {
                    let sum = u16::from(a[c])
                        + u16::from(a[c + 3])
                        + u16::from(b[c])
                        + u16::from(b[c + 3]);
                    ((sum + 2) >> 2) as u8
                };
                *px = [avg(0), avg(1), avg(2)];
            }
            sink(dy, &out);
        }
        return;
    }

    let cols = packed_columns(&column_taps(src_w, dst_w));
    let rows = row_taps(src_h, dst_h);
    // Two horizontally resized rows, tagged with their source row.
    let mut cache: [(Option<usize>, Vec<i16>); 2] =
        [(None, vec![0; dst_w * 3]), (None, vec![0; dst_w * 3])];
    let row_taps = rows
        .first
        .iter()
        .zip(&rows.second)
        .zip(rows.w0.iter().zip(&rows.w1));
    for (dy, ((&y0, &y1), (&b0, &b1))) in row_taps.enumerate() {
        // Slot 0 gets row y0, slot 1 row y1, reusing what is already there.
        if cache[0].0 != Some(y0) {
            if cache[1].0 == Some(y0) {
                cache.swap(0, 1);
            } else {
                horizontal(src.row(y0), &cols, &mut cache[0].1);
                cache[0].0 = Some(y0);
            }
        }
        if cache[1].0 != Some(y1) {
            let [first, second] = &mut cache;
            if y1 == y0 {
                second.1.copy_from_slice(&first.1);
            } else {
                horizontal(src.row(y1), &cols, &mut second.1);
            }
            second.0 = Some(y1);
        }
        vertical(&cache[0].1, &cache[1].1, b0, b1, &mut out);
        sink(dy, &out);
    }
}

/// Resizes `src` into a new `dst_w × dst_h` image (see [`resize_rows`]).
pub(crate) fn resize_image(src: RgbView<'_>, dst_w: u32, dst_h: u32) -> RgbImage {
    let mut img = RgbImage::new(dst_w, dst_h);
    let stride = dst_w as usize * 3;
    let buf: &mut [u8] = &mut img;
    resize_rows(src, dst_w as usize, dst_h as usize, |y, row| {
        if let Some(dst) = buf.get_mut(y * stride..(y + 1) * stride) {
            dst.copy_from_slice(row);
        }
    });
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32, f: impl Fn(u32, u32, usize) -> u8) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([f(x, y, 0), f(x, y, 1), f(x, y, 2)])
        })
    }

    #[test]
    fn same_size_is_a_copy() {
        let src = img(7, 5, |x, y, c| (x * 31 + y * 7 + c as u32 * 50) as u8);
        let out = resize_image(RgbView::full(&src), 7, 5);
        assert_eq!(out, src);
    }

    #[test]
    fn flat_image_stays_flat() {
        for (w, h, dw, dh) in [
            (10, 10, 3, 7),
            (3, 2, 640, 427),
            (1, 1, 5, 9),
            (100, 1, 64, 1),
        ] {
            let src = img(w, h, |_, _, c| [200, 17, 255][c]);
            let out = resize_image(RgbView::full(&src), dw, dh);
            assert!(
                out.pixels().all(|p| p.0 == [200, 17, 255]),
                "{w}x{h} -> {dw}x{dh}"
            );
        }
    }

    #[test]
    fn half_size_averages_two_by_two_blocks() {
        let src = img(4, 2, |x, _, _| [0, 10, 101, 102][x as usize]);
        let out = resize_image(RgbView::full(&src), 2, 1);
        // (0 + 10 + 0 + 10 + 2) >> 2 = 5, (101 + 102 + 101 + 102 + 2) >> 2 = 102.
        assert_eq!(out.get_pixel(0, 0).0, [5, 5, 5]);
        assert_eq!(out.get_pixel(1, 0).0, [102, 102, 102]);
    }

    #[test]
    fn upscaling_interpolates_between_neighbours() {
        let src = img(2, 1, |x, _, _| if x == 0 { 0 } else { 200 });
        let out = resize_image(RgbView::full(&src), 4, 1);
        let row: Vec<u8> = (0..4).map(|x| out.get_pixel(x, 0).0[0]).collect();
        // Positions -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        assert_eq!(row, vec![0, 50, 150, 200]);
    }

    #[test]
    fn crops_outside_the_image_are_refused() {
        let src = img(4, 4, |_, _, _| 0);
        assert!(RgbView::crop(&src, 0, 0, 5, 4).is_none());
        assert!(RgbView::crop(&src, 3, 0, 2, 4).is_none());
        let v = RgbView::crop(&src, 1, 1, 3, 4).map(|v| (v.width(), v.height()));
        assert_eq!(v, Some((2, 3)));
    }
}
