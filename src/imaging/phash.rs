//! The image fingerprint: Python `imagehash.phash(image)` (hash size 8, high-frequency
//! factor 4), bit for bit, as Robotoff's `add_image_fingerprint_job` stores it.
//!
//! Each step does what ImageHash 4.3.2, Pillow 13.0.0, SciPy 1.17.1 and NumPy 2.4.6 do:
//! Pillow's grayscale conversion (`convert("L")`), Pillow's fixed-point Lanczos resize to
//! 32×32 (`libImaging/Resample.c`), SciPy's unnormalised DCT-II along columns then rows
//! with pocketfft's order of floating-point operations, and `coefficient > median` over
//! the top-left 8×8, row-major, first bit most significant. Following pocketfft exactly
//! matters: on flat or symmetric images coefficients tie with the median in exact
//! arithmetic and only the rounding decides their bits. `scripts/phash_cases.py` writes
//! the conformance cases in `tests/conformance/phash/`.

use image::{DynamicImage, RgbImage};

/// Side of the square the image is resized to (`hash_size * highfreq_factor`).
const SIZE: usize = 32;
/// Side of the low-frequency block whose coefficients become the bits.
const HASH_SIZE: usize = 8;

/// The 64-bit perceptual hash; bit 63 is the first of imagehash's bits (its hex string,
/// read as a number).
pub fn phash(image: &DynamicImage) -> u64 {
    hash_gray(&grayscale(image))
}

/// The fingerprint as Robotoff stores it: the hash's 64 bits in a signed BIGINT, so a
/// hash with its first bit set is negative.
pub fn fingerprint(image: &DynamicImage) -> i64 {
    to_signed(phash(image))
}

/// [`fingerprint`] of an image already in 8-bit RGB: the same value as for the original
/// when it was 8-bit RGB, RGBA, grey or a palette (grey `v` becomes `(v, v, v)`, whose
/// Pillow luma is `v`; alpha is dropped either way).
pub fn phash_rgb(image: &RgbImage) -> i64 {
    let gray = Gray {
        width: image.width() as usize,
        height: image.height() as usize,
        pixels: rgb_luma(image.as_raw(), 3),
    };
    to_signed(hash_gray(&gray))
}

fn hash_gray(gray: &Gray) -> u64 {
    let small = resize_lanczos(gray, SIZE, SIZE);
    let mut pixels = [0.0; SIZE * SIZE];
    for (out, &p) in pixels.iter_mut().zip(&small.pixels) {
        *out = f64::from(p);
    }
    let low = dct_low_frequencies(&pixels);
    let mut sorted = low;
    sorted.sort_by(f64::total_cmp);
    // numpy.median of 64 values: the mean of the two middle ones.
    let median = (sorted[31] + sorted[32]) / 2.0;
    low.iter()
        .fold(0, |bits, &c| (bits << 1) | u64::from(c > median))
}

fn to_signed(bits: u64) -> i64 {
    i64::from_be_bytes(bits.to_be_bytes())
}

/// An 8-bit grayscale image, rows top to bottom.
struct Gray {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

/// Pillow's `L` of an RGB pixel (ITU-R 601-2 luma, `L24` in `Convert.c`).
fn luma(r: u8, g: u8, b: u8) -> u8 {
    let l = (u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16;
    // At most (255 × 65536 + 0x8000) >> 16 = 255.
    l as u8
}

/// The pixels Pillow's `convert("L")` gives for the image Pillow would have opened from
/// the same PNG. Alpha is ignored. 16-bit colour and grey+alpha samples keep their high
/// byte (Pillow's PNG reader keeps only that); 16-bit grey opens as `I;16` in Pillow,
/// whose conversion to `L` clips at 255. A grey 16-bit PNG with a transparent colour
/// decodes here as grey+alpha and so takes its high byte, where Pillow would clip.
/// Float images go through the `image` crate's 8-bit RGB.
fn grayscale(image: &DynamicImage) -> Gray {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let pixels = match image {
        DynamicImage::ImageLuma8(img) => img.as_raw().clone(),
        DynamicImage::ImageLumaA8(img) => img.as_raw().chunks_exact(2).map(|p| p[0]).collect(),
        DynamicImage::ImageRgb8(img) => rgb_luma(img.as_raw(), 3),
        DynamicImage::ImageRgba8(img) => rgb_luma(img.as_raw(), 4),
        DynamicImage::ImageLuma16(img) => img.as_raw().iter().map(|&v| v.min(255) as u8).collect(),
        DynamicImage::ImageLumaA16(img) => img
            .as_raw()
            .chunks_exact(2)
            .map(|p| high_byte(p[0]))
            .collect(),
        DynamicImage::ImageRgb16(img) => rgb16_luma(img.as_raw(), 3),
        DynamicImage::ImageRgba16(img) => rgb16_luma(img.as_raw(), 4),
        other => rgb_luma(other.to_rgb8().as_raw(), 3),
    };
    Gray {
        width,
        height,
        pixels,
    }
}

fn rgb_luma(samples: &[u8], channels: usize) -> Vec<u8> {
    samples
        .chunks_exact(channels)
        .map(|p| luma(p[0], p[1], p[2]))
        .collect()
}

fn rgb16_luma(samples: &[u16], channels: usize) -> Vec<u8> {
    samples
        .chunks_exact(channels)
        .map(|p| luma(high_byte(p[0]), high_byte(p[1]), high_byte(p[2])))
        .collect()
}

fn high_byte(v: u16) -> u8 {
    v.to_be_bytes()[0]
}

/// Fixed-point fraction bits of Pillow's 8-bit resampling (`PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's Lanczos (`a` = 3) filter: `sinc(x) · sinc(x / 3)` on [-3, 3).
fn lanczos(x: f64) -> f64 {
    fn sinc(x: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// One axis of a resize: for each output pixel, the first input pixel and fixed-point
/// weights (`precompute_coeffs` then `normalize_coeffs_8bpc` in Pillow).
struct Coefficients {
    /// Weights per output pixel (the filter's maximum tap count; unused ones are 0).
    ksize: usize,
    /// Per output pixel: first input pixel, number of input pixels.
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

fn coefficients(in_size: usize, out_size: usize) -> Coefficients {
    // Pillow's box is in f32; sizes are exact in it below 2^24 pixels.
    let scale = f64::from(in_size as f32) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 3.0 * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let inv_filterscale = 1.0 / filterscale;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0; out_size * ksize];
    let mut k = vec![0.0; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero, as `as` does; negatives clamp to 0 anyway.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
        // At most ksize - 1 (Pillow sizes its buffer so); the bound only guards indexing.
        let count = ((xmax - xmin).max(0) as usize).min(ksize);
        let xmin = xmin as usize;
        let mut ww = 0.0;
        for (x, w) in k.iter_mut().take(count).enumerate() {
            *w = lanczos(((x + xmin) as f64 - center + 0.5) * inv_filterscale);
            ww += *w;
        }
        let row = &mut weights[xx * ksize..xx * ksize + count];
        for (out, &w) in row.iter_mut().zip(&k) {
            let w = if ww != 0.0 { w / ww } else { w };
            let scaled = w * f64::from(1u32 << PRECISION_BITS);
            *out = if w < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            };
        }
        bounds.push((xmin, count));
    }
    Coefficients {
        ksize,
        bounds,
        weights,
    }
}

/// A weighted sum of 8-bit pixels, rounded and clipped as Pillow's `clip8` does (C `int`
/// arithmetic, which cannot overflow with normalised weights).
fn weighted(pixels: impl Iterator<Item = u8>, weights: &[i32]) -> u8 {
    let sum = pixels
        .zip(weights)
        .fold(1i32 << (PRECISION_BITS - 1), |ss, (p, &k)| {
            ss.wrapping_add(i32::from(p).wrapping_mul(k))
        });
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's horizontal pass over input rows `first_row..first_row + rows`.
fn resample_horizontal(input: &Gray, first_row: usize, rows: usize, c: &Coefficients) -> Gray {
    let out_width = c.bounds.len();
    let mut pixels = Vec::with_capacity(out_width * rows);
    for y in first_row..first_row + rows {
        let line = &input.pixels[y * input.width..(y + 1) * input.width];
        for (xx, &(xmin, count)) in c.bounds.iter().enumerate() {
            let k = &c.weights[xx * c.ksize..xx * c.ksize + count];
            pixels.push(weighted(line[xmin..xmin + count].iter().copied(), k));
        }
    }
    Gray {
        width: out_width,
        height: rows,
        pixels,
    }
}

/// Pillow's vertical pass; input row `y` is row `y - row_offset` of `input`.
fn resample_vertical(input: &Gray, row_offset: usize, c: &Coefficients) -> Gray {
    let out_height = c.bounds.len();
    let mut pixels = Vec::with_capacity(input.width * out_height);
    for (yy, &(ymin, count)) in c.bounds.iter().enumerate() {
        let k = &c.weights[yy * c.ksize..yy * c.ksize + count];
        let first = ymin - row_offset;
        for x in 0..input.width {
            let column = (first..first + count).map(|y| input.pixels[y * input.width + x]);
            pixels.push(weighted(column, k));
        }
    }
    Gray {
        width: input.width,
        height: out_height,
        pixels,
    }
}

/// `Image.resize((width, height), Image.Resampling.LANCZOS)` on an `L` image, including
/// Pillow's choice of which pass runs first (the intermediate image is 8-bit, so the
/// order changes the result).
fn resize_lanczos(input: &Gray, width: usize, height: usize) -> Gray {
    if (input.width, input.height) == (width, height) {
        return Gray {
            width,
            height,
            pixels: input.pixels.clone(),
        };
    }
    let need_horizontal = width != input.width;
    let need_vertical = height != input.height;
    // Pillow runs the vertical pass first when the height shrinks more than twice as
    // much as the width (in pixels).
    let (in_w, in_h) = (input.width as i64, input.height as i64);
    let (out_w, out_h) = (width as i64, height as i64);
    let horizontal_first = !(in_h - out_h > 0 && in_h - out_h > (in_w - out_w) * 2);
    let vertical = coefficients(input.height, height);
    if horizontal_first {
        if !need_horizontal {
            return resample_vertical(input, 0, &vertical);
        }
        // Only the rows the vertical pass reads.
        let first = vertical.bounds.first().map_or(0, |b| b.0);
        let last = vertical.bounds.last().map_or(0, |b| b.0 + b.1);
        let horizontal = coefficients(input.width, width);
        let image = resample_horizontal(input, first, last - first, &horizontal);
        if need_vertical {
            resample_vertical(&image, first, &vertical)
        } else {
            image
        }
    } else {
        // The height shrinks here, so the vertical pass is always needed.
        let image = resample_vertical(input, 0, &vertical);
        if need_horizontal {
            let horizontal = coefficients(input.width, width);
            resample_horizontal(&image, 0, image.height, &horizontal)
        } else {
            image
        }
    }
}

/// The top-left 8×8 of `scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)`,
/// row-major.
fn dct_low_frequencies(pixels: &[f64; SIZE * SIZE]) -> [f64; HASH_SIZE * HASH_SIZE] {
    let mut columns = [[0.0; SIZE]; SIZE];
    for (x, column) in columns.iter_mut().enumerate() {
        for (y, v) in column.iter_mut().enumerate() {
            *v = pixels[y * SIZE + x];
        }
        dct_ii_32(column);
    }
    let mut low = [0.0; HASH_SIZE * HASH_SIZE];
    for y in 0..HASH_SIZE {
        let mut row = [0.0; SIZE];
        for (x, v) in row.iter_mut().enumerate() {
            *v = columns[x][y];
        }
        dct_ii_32(&mut row);
        low[y * HASH_SIZE..(y + 1) * HASH_SIZE].copy_from_slice(&row[..HASH_SIZE]);
    }
    low
}

// pocketfft's twiddle factors for length 32, as its `sincos_2pibyn` computes them (a
// product of two table entries, so some differ from the correctly rounded cosine by an
// ulp). Checked against that computation in the tests.

/// `T_dcst23::twiddle[i]` = real part of `sincos_2pibyn(128)[i + 1]`, i = 0..31.
const DCT_TWIDDLES: [f64; 31] = [
    0.9987954562051724,
    0.9951847266721969,
    0.989176509964781,
    0.9807852804032304,
    0.970031253194544,
    0.9569403357322088,
    0.9415440651830208,
    0.9238795325112867,
    0.9039892931234433,
    0.881921264348355,
    0.8577286100002721,
    0.8314696123025452,
    0.8032075314806449,
    0.773010453362737,
    0.7409511253549591,
    0.7071067811865475,
    0.6715589548470183,
    0.6343932841636455,
    0.5956993044924332,
    0.5555702330196022,
    0.5141027441932217,
    0.47139673682599753,
    0.42755509343028203,
    0.38268343236508967,
    0.33688985339221994,
    0.2902846772544623,
    0.24298017990326393,
    0.19509032201612825,
    0.14673047445536164,
    0.09801714032956049,
    0.04906767432741799,
];

/// `rfftp` twiddles of the radix-2 pass (ido 16): re, im of `sincos_2pibyn(32)[i]`,
/// i = 1..7.
const RADB2_TWIDDLES: [f64; 14] = [
    0.9807852804032304,
    0.19509032201612825,
    0.9238795325112867,
    0.3826834323650898,
    0.8314696123025452,
    0.5555702330196022,
    0.7071067811865475,
    std::f64::consts::FRAC_1_SQRT_2,
    0.5555702330196022,
    0.8314696123025452,
    0.3826834323650898,
    0.9238795325112867,
    0.19509032201612825,
    0.9807852804032304,
];

/// `rfftp` twiddles of the first radix-4 pass (ido 4, l1 2), in pocketfft's layout
/// (stride ido - 1 = 3): re, im of `sincos_2pibyn(32)[2j]` at 3(j - 1), j = 1..3; the
/// third slot of each stride is never read.
const RADB4_TWIDDLES: [f64; 8] = [
    0.9238795325112867,
    0.3826834323650898,
    0.0,
    0.7071067811865475,
    std::f64::consts::FRAC_1_SQRT_2,
    0.0,
    0.3826834323650898,
    0.9238795325112867,
];

/// SciPy's unnormalised DCT-II, `y[k] = 2 Σ x[n] cos(π k (2n + 1) / 64)`, computed as
/// pocketfft's `T_dcst23::exec` (type 2, cosine) does for length 32.
fn dct_ii_32(c: &mut [f64; SIZE]) {
    const N: usize = SIZE;
    const NS2: usize = N.div_ceil(2);
    c[0] *= 2.0;
    c[N - 1] *= 2.0;
    for k in (1..N - 1).step_by(2) {
        // MPINPLACE(c[k + 1], c[k])
        let t = c[k + 1];
        c[k + 1] = t - c[k];
        c[k] += t;
    }
    real_fft_backward_32(c);
    let tw = &DCT_TWIDDLES;
    for k in 1..NS2 {
        let kc = N - k;
        let t1 = tw[k - 1] * c[kc] + tw[kc - 1] * c[k];
        let t2 = tw[k - 1] * c[k] - tw[kc - 1] * c[kc];
        c[k] = 0.5 * (t1 + t2);
        c[kc] = 0.5 * (t1 - t2);
    }
    c[NS2] *= tw[NS2 - 1];
}

/// pocketfft's `rfftp::exec` backward (halfcomplex to real, unscaled) for length 32,
/// factored 2 · 4 · 4.
fn real_fft_backward_32(c: &mut [f64; SIZE]) {
    let mut ch = [0.0; SIZE];
    radb2(16, 1, c, &mut ch, &RADB2_TWIDDLES);
    radb4(4, 2, &ch, c, &RADB4_TWIDDLES);
    radb4(1, 8, c, &mut ch, &[]);
    *c = ch;
}

/// pocketfft's `radb2`.
fn radb2(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    let cc = |a: usize, b: usize, c: usize| cc[a + ido * (b + 2 * c)];
    let at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    for k in 0..l1 {
        ch[at(0, k, 0)] = cc(0, 0, k) + cc(ido - 1, 1, k);
        ch[at(0, k, 1)] = cc(0, 0, k) - cc(ido - 1, 1, k);
    }
    if ido.is_multiple_of(2) {
        for k in 0..l1 {
            ch[at(ido - 1, k, 0)] = 2.0 * cc(ido - 1, 0, k);
            ch[at(ido - 1, k, 1)] = -2.0 * cc(0, 1, k);
        }
    }
    if ido <= 2 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            ch[at(i - 1, k, 0)] = cc(i - 1, 0, k) + cc(ic - 1, 1, k);
            let tr2 = cc(i - 1, 0, k) - cc(ic - 1, 1, k);
            let ti2 = cc(i, 0, k) + cc(ic, 1, k);
            ch[at(i, k, 0)] = cc(i, 0, k) - cc(ic, 1, k);
            let (wr, wi) = (wa[i - 2], wa[i - 1]);
            ch[at(i, k, 1)] = wr * ti2 + wi * tr2;
            ch[at(i - 1, k, 1)] = wr * tr2 - wi * ti2;
        }
    }
}

/// pocketfft's `radb4`.
fn radb4(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    let cc = |a: usize, b: usize, c: usize| cc[a + ido * (b + 4 * c)];
    let at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    for k in 0..l1 {
        let tr2 = cc(0, 0, k) + cc(ido - 1, 3, k);
        let tr1 = cc(0, 0, k) - cc(ido - 1, 3, k);
        let tr3 = 2.0 * cc(ido - 1, 1, k);
        let tr4 = 2.0 * cc(0, 2, k);
        ch[at(0, k, 0)] = tr2 + tr3;
        ch[at(0, k, 2)] = tr2 - tr3;
        ch[at(0, k, 3)] = tr1 + tr4;
        ch[at(0, k, 1)] = tr1 - tr4;
    }
    if ido.is_multiple_of(2) {
        for k in 0..l1 {
            let ti1 = cc(0, 3, k) + cc(0, 1, k);
            let ti2 = cc(0, 3, k) - cc(0, 1, k);
            let tr2 = cc(ido - 1, 0, k) + cc(ido - 1, 2, k);
            let tr1 = cc(ido - 1, 0, k) - cc(ido - 1, 2, k);
            ch[at(ido - 1, k, 0)] = tr2 + tr2;
            ch[at(ido - 1, k, 1)] = SQRT2 * (tr1 - ti1);
            ch[at(ido - 1, k, 2)] = ti2 + ti2;
            ch[at(ido - 1, k, 3)] = -SQRT2 * (tr1 + ti1);
        }
    }
    if ido <= 2 {
        return;
    }
    let wa = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            let tr2 = cc(i - 1, 0, k) + cc(ic - 1, 3, k);
            let tr1 = cc(i - 1, 0, k) - cc(ic - 1, 3, k);
            let ti1 = cc(i, 0, k) + cc(ic, 3, k);
            let ti2 = cc(i, 0, k) - cc(ic, 3, k);
            let tr4 = cc(i, 2, k) + cc(ic, 1, k);
            let ti3 = cc(i, 2, k) - cc(ic, 1, k);
            let tr3 = cc(i - 1, 2, k) + cc(ic - 1, 1, k);
            let ti4 = cc(i - 1, 2, k) - cc(ic - 1, 1, k);
            ch[at(i - 1, k, 0)] = tr2 + tr3;
            let cr3 = tr2 - tr3;
            ch[at(i, k, 0)] = ti2 + ti3;
            let ci3 = ti2 - ti3;
            let (cr4, cr2) = (tr1 + tr4, tr1 - tr4);
            let (ci2, ci4) = (ti1 + ti4, ti1 - ti4);
            for (j, ci, cr) in [(1, ci2, cr2), (2, ci3, cr3), (3, ci4, cr4)] {
                // MULPM(CH(i, k, j), CH(i - 1, k, j), WA(j - 1, i - 2), WA(j - 1, i - 1), ci, cr)
                let (wr, wi) = (wa(j - 1, i - 2), wa(j - 1, i - 1));
                ch[at(i, k, j)] = wr * ci + wi * cr;
                ch[at(i - 1, k, j)] = wr * cr - wi * ci;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};

    #[test]
    fn grayscale_uses_pillows_integer_luma() {
        // Values from Pillow 13: Image.new("RGB", (1, 1), px).convert("L").
        for (px, l) in [
            ([255, 0, 0], 76),
            ([0, 255, 0], 150),
            ([0, 0, 255], 29),
            ([255, 255, 255], 255),
            ([12, 200, 99], 132),
            ([1, 1, 1], 1),
        ] {
            let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb(px)));
            assert_eq!(grayscale(&img).pixels, vec![l], "{px:?}");
        }
        let rgba =
            DynamicImage::ImageRgba8(ImageBuffer::from_pixel(1, 1, image::Rgba([12, 200, 99, 0])));
        assert_eq!(grayscale(&rgba).pixels, vec![132]);
        let la = DynamicImage::ImageLumaA8(ImageBuffer::from_pixel(1, 1, image::LumaA([77, 3])));
        assert_eq!(grayscale(&la).pixels, vec![77]);
        // 16-bit grey clips like Pillow's I;16 → L; colour keeps the high byte.
        let l16 = DynamicImage::ImageLuma16(
            ImageBuffer::from_raw(3, 1, vec![200, 255, 300]).expect("3 pixels"),
        );
        assert_eq!(grayscale(&l16).pixels, vec![200, 255, 255]);
        let rgb16 =
            DynamicImage::ImageRgb16(ImageBuffer::from_pixel(1, 1, Rgb([0xFFFF, 0x00FF, 0x0100])));
        assert_eq!(grayscale(&rgb16).pixels, vec![luma(255, 0, 1)]);
    }

    #[test]
    fn resize_matches_pillow_on_small_images() {
        // Expected values from Pillow 13's resize(..., Image.Resampling.LANCZOS).
        let row = Gray {
            width: 8,
            height: 1,
            pixels: vec![0, 255, 0, 255, 10, 20, 200, 90],
        };
        assert_eq!(resize_lanczos(&row, 3, 1).pixels, vec![120, 99, 103]);
        let up = [0, 176, 195, 1, 216, 170, 0, 12, 167, 170, 77];
        assert_eq!(resize_lanczos(&row, 11, 2).pixels, [up, up].concat());
        let ramp = Gray {
            width: 6,
            height: 10,
            pixels: (0..60).map(|v| v * 4).collect(),
        };
        assert_eq!(
            resize_lanczos(&ramp, 4, 3).pixels,
            vec![28, 34, 40, 46, 109, 115, 121, 127, 190, 196, 202, 208]
        );
        // Same size: a copy, no filtering.
        assert_eq!(resize_lanczos(&row, 8, 1).pixels, row.pixels);
    }

    #[test]
    fn dct_matches_scipy_exactly() {
        let mut ramp: [f64; SIZE] = std::array::from_fn(|i| i as f64);
        dct_ii_32(&mut ramp);
        // scipy.fftpack.dct(numpy.arange(32.0))[:8]; a textbook sum gets -1.6e-13, not 0,
        // at k = 2 and differs in the last digits elsewhere.
        let expected = [
            992.0,
            -414.84476091447783,
            0.0,
            -45.94445993879662,
            0.0,
            -16.430244579452868,
            0.0,
            -8.295924452306517,
        ];
        assert_eq!(ramp[..8], expected);
        let mut ones = [1.0; SIZE];
        dct_ii_32(&mut ones);
        assert_eq!(ones[0], 64.0);
        assert!(ones[1..].iter().all(|&v| v == 0.0), "{ones:?}");
        // Close to the definition everywhere.
        let x: [f64; SIZE] = std::array::from_fn(|i| ((i * 37) % 11) as f64 - 3.5);
        let mut y = x;
        dct_ii_32(&mut y);
        for (k, &yk) in y.iter().enumerate() {
            let sum: f64 = x
                .iter()
                .enumerate()
                .map(|(n, &xn)| xn * (std::f64::consts::PI * (k * (2 * n + 1)) as f64 / 64.0).cos())
                .sum();
            assert!(
                (yk - 2.0 * sum).abs() < 1e-9,
                "k={k}: {yk} vs {}",
                2.0 * sum
            );
        }
    }

    /// pocketfft's `sincos_2pibyn(n)[idx]`, for idx ≤ n / 2.
    fn pocketfft_sincos(n: usize, idx: usize) -> (f64, f64) {
        let ang = std::f64::consts::PI / 4.0 / n as f64;
        let calc = |x: usize| -> (f64, f64) {
            let x = x << 3;
            assert!(x < 2 * n, "only the first quadrant is needed");
            if x < n {
                ((x as f64 * ang).cos(), (x as f64 * ang).sin())
            } else {
                (
                    ((2 * n - x) as f64 * ang).sin(),
                    ((2 * n - x) as f64 * ang).cos(),
                )
            }
        };
        let nval = (n + 2) / 2;
        let mut shift = 1;
        while (1usize << shift) * (1usize << shift) < nval {
            shift += 1;
        }
        let mask = (1usize << shift) - 1;
        let entry = |i: usize| if i == 0 { (1.0, 0.0) } else { calc(i) };
        let x1 = entry(idx & mask);
        let x2 = entry((idx >> shift) * (mask + 1));
        (x1.0 * x2.0 - x1.1 * x2.1, x1.0 * x2.1 + x1.1 * x2.0)
    }

    #[test]
    fn twiddle_tables_are_pocketffts() {
        for (i, &t) in DCT_TWIDDLES.iter().enumerate() {
            assert_eq!(t, pocketfft_sincos(128, i + 1).0, "dct twiddle {i}");
        }
        for i in 1..=7 {
            let (re, im) = pocketfft_sincos(32, i);
            assert_eq!(
                RADB2_TWIDDLES[2 * i - 2..2 * i],
                [re, im],
                "radb2 twiddle {i}"
            );
        }
        for j in 1..=3 {
            let (re, im) = pocketfft_sincos(32, 2 * j);
            let at = 3 * (j - 1);
            assert_eq!(RADB4_TWIDDLES[at..at + 2], [re, im], "radb4 twiddle {j}");
        }
    }

    #[test]
    fn fingerprint_is_the_hash_as_a_signed_integer() {
        assert_eq!(to_signed(0), 0);
        assert_eq!(to_signed(0x8000_0000_0000_0000), i64::MIN);
        assert_eq!(to_signed(u64::MAX), -1);
        assert_eq!(to_signed(0x7FFF_FFFF_FFFF_FFFF), i64::MAX);
        assert_eq!(to_signed(0xc38b_2f74_d08b_2f8a), -4356336035789328502);
        // A flat image: only the DC coefficient is above the median of zeros.
        let flat = DynamicImage::ImageLuma8(GrayImage::from_pixel(100, 100, Luma([255])));
        assert_eq!(phash(&flat), 0x8000_0000_0000_0000);
        assert_eq!(fingerprint(&flat), i64::MIN);
        let black = DynamicImage::ImageLuma8(GrayImage::new(9, 9));
        assert_eq!(fingerprint(&black), 0);
        // Degenerate sizes do not panic.
        assert_eq!(phash(&DynamicImage::ImageLuma8(GrayImage::new(0, 0))), 0);
    }

    #[derive(serde::Deserialize)]
    struct Cases {
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        file: String,
        phash: String,
        fingerprint: i64,
    }

    #[test]
    fn conformance_with_python_imagehash() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/phash");
        let json = std::fs::read_to_string(dir.join("cases.json")).expect("cases.json");
        let cases: Cases = serde_json::from_str(&json).expect("valid cases.json");
        assert!(cases.cases.len() >= 50, "{} cases", cases.cases.len());
        let mut failures = Vec::new();
        for case in &cases.cases {
            let image = image::open(dir.join(&case.file)).expect(&case.file);
            let expected = u64::from_str_radix(&case.phash, 16).expect(&case.phash);
            let (hash, stored) = (phash(&image), fingerprint(&image));
            // Through 8-bit RGB too, for the sources where that loses nothing.
            let via_rgb = match image {
                DynamicImage::ImageLuma8(_)
                | DynamicImage::ImageLumaA8(_)
                | DynamicImage::ImageRgb8(_)
                | DynamicImage::ImageRgba8(_) => phash_rgb(&image.to_rgb8()),
                _ => stored,
            };
            if hash != expected || stored != case.fingerprint || via_rgb != stored {
                failures.push(format!(
                    "{} ({:?}): {hash:016x} / {stored}, expected {} / {}",
                    case.file,
                    image.color(),
                    case.phash,
                    case.fingerprint
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            cases.cases.len(),
            failures.join("\n")
        );
    }
}
