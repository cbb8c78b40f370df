//! Polygons of the OCR document: vertices, union boxes of words and text orientation.

use serde_json::Value;

/// Polygon of an OCR element, vertices in image pixels (`(x, y)`, origin top-left).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BoundingPoly {
    pub vertices: Vec<(f64, f64)>,
}

/// Orientation of a text element, from the order of its polygon vertices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Orientation {
    /// Upright text (the intended orientation).
    Up,
    /// Rotated by 180°.
    Down,
    /// Rotated 90° counter-clockwise.
    Left,
    /// Rotated 90° clockwise.
    Right,
    Unknown,
}

impl Orientation {
    pub fn name(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Left => "left",
            Self::Right => "right",
            Self::Unknown => "unknown",
        }
    }

    /// Rotation (degrees) that brings the image back upright.
    pub fn rotation(self) -> i64 {
        match self {
            Self::Up | Self::Unknown => 0,
            Self::Left => 90,
            Self::Right => 270,
            Self::Down => 180,
        }
    }
}

impl BoundingPoly {
    /// Orientation from which edge holds the two topmost vertices: (0, 1) is upright,
    /// (1, 2) left, (2, 3) down and (0, 3) right. Fewer than two vertices, or any other
    /// pair, give `Unknown`.
    pub fn detect_orientation(&self) -> Orientation {
        let mut indexed: Vec<(usize, f64)> = self
            .vertices
            .iter()
            .enumerate()
            .map(|(i, (_, y))| (i, *y))
            .collect();
        // Stable sort by y: ties keep vertex order.
        indexed.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (Some(first), Some(second)) = (indexed.first(), indexed.get(1)) else {
            return Orientation::Unknown;
        };
        let edge = (first.0.min(second.0), first.0.max(second.0));
        match edge {
            (0, 1) => Orientation::Up,
            (1, 2) => Orientation::Left,
            (2, 3) => Orientation::Down,
            (0, 3) => Orientation::Right,
            _ => Orientation::Unknown,
        }
    }
}

/// Axis-aligned box `(y_min, x_min, y_max, x_max)` in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub y_min: f64,
    pub x_min: f64,
    pub y_max: f64,
    pub x_max: f64,
}

impl BoundingBox {
    /// Smallest box holding every vertex of every polygon; `None` without vertices.
    pub fn union<'a>(polys: impl IntoIterator<Item = &'a BoundingPoly>) -> Option<Self> {
        let mut acc: Option<Self> = None;
        for poly in polys {
            for &(x, y) in &poly.vertices {
                acc = Some(match acc {
                    None => Self {
                        y_min: y,
                        x_min: x,
                        y_max: y,
                        x_max: x,
                    },
                    Some(b) => Self {
                        y_min: b.y_min.min(y),
                        x_min: b.x_min.min(x),
                        y_max: b.y_max.max(y),
                        x_max: b.x_max.max(x),
                    },
                });
            }
        }
        acc
    }

    /// JSON array `[y_min, x_min, y_max, x_max]`, integers where the values are whole.
    pub fn to_json(&self) -> Value {
        Value::Array(vec![
            number(self.y_min),
            number(self.x_min),
            number(self.y_max),
            number(self.x_max),
        ])
    }
}

/// A JSON number: an integer when `v` is whole (as the source documents write them).
pub fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(v: &[(f64, f64)]) -> BoundingPoly {
        BoundingPoly {
            vertices: v.to_vec(),
        }
    }

    #[test]
    fn orientation_follows_the_topmost_edge() {
        // tests/unit/prediction/ocr/test_image_orientation.py::TestBoundingPoly
        let left = poly(&[(66.0, 458.0), (60.0, 348.0), (94.0, 346.0), (100.0, 456.0)]);
        assert_eq!(left.detect_orientation(), Orientation::Left);
        let up = poly(&[
            (1106.0, 421.0),
            (1178.0, 414.0),
            (1175.0, 446.0),
            (1103.0, 439.0),
        ]);
        assert_eq!(up.detect_orientation(), Orientation::Up);
        assert_eq!(
            poly(&[(1.0, 1.0)]).detect_orientation(),
            Orientation::Unknown
        );
    }

    #[test]
    fn union_box_covers_all_vertices() {
        let a = poly(&[(10.0, 20.0), (30.0, 5.0)]);
        let b = poly(&[(2.0, 50.0)]);
        let bb = BoundingBox::union([&a, &b]);
        assert_eq!(
            bb.map(|b| b.to_json()),
            Some(serde_json::json!([5, 2, 50, 30]))
        );
        assert_eq!(BoundingBox::union(std::iter::empty()), None);
    }
}
