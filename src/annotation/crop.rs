//! Crop boxes sent to Product Opener: relative → absolute pixels, rotated with the
//! selected image (spec api-db §4.5).

use crate::types::CropBox;

/// Rotates an absolute box of a `width`×`height` image by `rotate` degrees
/// (counter-clockwise; 90, 180 or 270; anything else leaves it unchanged).
pub fn rotate_bounding_box(b: CropBox, width: f64, height: f64, rotate: i64) -> CropBox {
    match rotate {
        90 => CropBox::new(b.x_min, height - b.y_max, b.x_max, height - b.y_min),
        180 => CropBox::new(
            height - b.y_max,
            width - b.x_max,
            height - b.y_min,
            width - b.x_min,
        ),
        270 => CropBox::new(width - b.x_max, b.y_min, width - b.x_min, b.y_max),
        _ => b,
    }
}

/// Relative box `[y_min, x_min, y_max, x_max]` → absolute pixels of a `width`×`height`
/// image, then rotated like the selected image.
pub fn convert_crop_bounding_box(
    relative: [f64; 4],
    width: f64,
    height: f64,
    rotate: i64,
) -> CropBox {
    let [y_min, x_min, y_max, x_max] = relative;
    let absolute = CropBox::new(y_min * height, x_min * width, y_max * height, x_max * width);
    rotate_bounding_box(absolute, width, height, rotate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::py_float;

    /// Robotoff's `tests/unit/insights/test_annotate.py::test_rotate_bounding_box`.
    #[test]
    fn rotations() {
        let b = CropBox::new(10.0, 20.0, 100.0, 200.0);
        let (w, h) = (1000.0, 800.0);
        let cases = [
            (0, CropBox::new(10.0, 20.0, 100.0, 200.0)),
            (90, CropBox::new(20.0, 800.0 - 100.0, 200.0, 800.0 - 10.0)),
            (
                180,
                CropBox::new(800.0 - 100.0, 1000.0 - 200.0, 800.0 - 10.0, 1000.0 - 20.0),
            ),
            (
                270,
                CropBox::new(1000.0 - 200.0, 10.0, 1000.0 - 20.0, 100.0),
            ),
        ];
        for (angle, expected) in cases {
            assert_eq!(rotate_bounding_box(b, w, h, angle), expected, "{angle}");
        }
    }

    /// Spec api-db §8 check 10 (`test_select_nutrition_image_with_rotation_and_nutrition_table_detection`)
    /// and the ingredient-image crops of Robotoff's unit tests.
    #[test]
    fn conversions() {
        let cases = [
            (
                [
                    0.06199073791503906,
                    0.20298996567726135,
                    0.4177824556827545,
                    0.9909706115722656,
                ],
                1000.0,
                2000.0,
                90,
                CropBox::new(
                    202.98996567726135,
                    1164.435088634491,
                    990.9706115722656,
                    1876.0185241699219,
                ),
            ),
            (
                [0.1, 0.1, 0.5, 0.5],
                1000.0,
                800.0,
                0,
                CropBox::new(80.0, 100.0, 400.0, 500.0),
            ),
            (
                [0.1, 0.1, 0.5, 0.5],
                1000.0,
                800.0,
                90,
                CropBox::new(100.0, 400.0, 500.0, 720.0),
            ),
            (
                [0.2, 0.2, 0.6, 0.6],
                1000.0,
                800.0,
                270,
                CropBox::new(400.0, 160.0, 800.0, 480.0),
            ),
        ];
        for (relative, w, h, angle, expected) in cases {
            assert_eq!(
                convert_crop_bounding_box(relative, w, h, angle),
                expected,
                "{relative:?} {angle}"
            );
        }
    }

    #[test]
    fn python_float_text() {
        let cases = [
            (80.0, "80.0"),
            (202.98996567726135, "202.98996567726135"),
            (0.0, "0.0"),
            (-1.0, "-1.0"),
            (1164.435088634491, "1164.435088634491"),
            (0.5, "0.5"),
            (1e-5, "1e-05"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
        ];
        for (v, text) in cases {
            assert_eq!(py_float(v), text, "{v}");
        }
        assert_eq!(
            CropBox::new(80.0, 100.0, 400.0, 500.5).form_fields(),
            [
                ("x1", "100.0".to_string()),
                ("y1", "80.0".to_string()),
                ("x2", "500.5".to_string()),
                ("y2", "400.0".to_string())
            ]
        );
    }
}
