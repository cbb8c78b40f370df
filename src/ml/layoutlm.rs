//! LayoutLMv3 inputs and first-piece word labels for the nutrition extractor (spec
//! pipeline §2.8, §7.5): word boxes on a 0–999 scale of the image, every token carrying
//! its word's box, the 224×224 image normalised to [-1, 1], and one label per word
//! taken from its first token.

use super::token_classification::softmax;
use super::tokenize::Encoded;
use image::RgbImage;

/// Side of the image the model sees.
pub const IMAGE_SIZE: u32 = 224;

/// A word's box `[x_min, y_min, x_max, y_max]` scaled to 0–999 of the image size
/// (truncated, clamped). `vertices` are `(x, y)` pixels.
pub fn normalized_box(vertices: &[(f64, f64)], width: u32, height: u32) -> [i64; 4] {
    let scale = |v: f64, size: u32| -> i64 {
        if size == 0 || !v.is_finite() {
            return 0;
        }
        ((v * 1000.0 / f64::from(size)).trunc() as i64).clamp(0, 999)
    };
    let xs = vertices.iter().map(|v| v.0);
    let ys = vertices.iter().map(|v| v.1);
    let x_min = xs.clone().fold(f64::INFINITY, f64::min);
    let x_max = xs.fold(f64::NEG_INFINITY, f64::max);
    let y_min = ys.clone().fold(f64::INFINITY, f64::min);
    let y_max = ys.fold(f64::NEG_INFINITY, f64::max);
    if vertices.is_empty() {
        return [0; 4];
    }
    [
        scale(x_min, width),
        scale(y_min, height),
        scale(x_max, width),
        scale(y_max, height),
    ]
}

/// The `bbox` input: each token gets its word's box, special tokens `[0, 0, 0, 0]`.
pub fn token_boxes(enc: &Encoded, word_boxes: &[[i64; 4]]) -> Vec<i64> {
    let mut out = Vec::with_capacity(enc.len() * 4);
    for w in &enc.word_ids {
        let b = w
            .and_then(|w| word_boxes.get(w as usize))
            .copied()
            .unwrap_or([0; 4]);
        out.extend_from_slice(&b);
    }
    out
}

/// The `pixel_values` input, FP32 `[3, 224, 224]` little-endian: the image resized to
/// 224×224 (bilinear, aspect not kept), scaled to [0, 1], then `(x − 0.5) / 0.5`.
pub fn pixel_values(rgb: &RgbImage) -> Vec<u8> {
    let resized = image::imageops::resize(
        rgb,
        IMAGE_SIZE,
        IMAGE_SIZE,
        image::imageops::FilterType::Triangle,
    );
    let plane = (IMAGE_SIZE * IMAGE_SIZE) as usize;
    let mut values = vec![0f32; plane * 3];
    for (i, p) in resized.pixels().enumerate() {
        for c in 0..3 {
            let x = (f64::from(p.0[c]) * (1.0 / 255.0)) as f32;
            if let Some(slot) = values.get_mut(c * plane + i) {
                *slot = (x - 0.5) / 0.5;
            }
        }
    }
    let mut out = Vec::with_capacity(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A word's label: from the first token of the word.
#[derive(Debug, Clone, PartialEq)]
pub struct WordLabel {
    /// Index of the word.
    pub word: usize,
    /// The label without its `B-`/`I-` prefix (`FAT_100G`, `O`).
    pub entity: String,
    pub score: f32,
}

/// One label per word from `logits` (`[tokens, labels]` row-major): the argmax of the
/// word's first token (the unknown token, id `unk_id`, starts a word of its own), its
/// softmax probability; special tokens are skipped.
pub fn word_labels(
    logits: &[f32],
    labels_n: usize,
    enc: &Encoded,
    labels: &[String],
    unk_id: Option<u32>,
) -> Vec<WordLabel> {
    let mut out = Vec::new();
    if labels_n == 0 {
        return out;
    }
    let mut previous: Option<u32> = None;
    for (idx, row) in logits.chunks_exact(labels_n).enumerate() {
        let word_id = enc.word_ids.get(idx).copied().flatten();
        if enc.special.get(idx).copied().unwrap_or(true) {
            previous = word_id;
            continue;
        }
        let mut is_subword = word_id == previous;
        if unk_id.is_some() && enc.ids.get(idx).copied() == unk_id.map(i64::from) {
            is_subword = false;
        }
        if is_subword {
            continue;
        }
        previous = word_id;
        let Some(word) = word_id else { continue };
        let mut best = 0usize;
        for (i, v) in row.iter().enumerate() {
            if *v > row.get(best).copied().unwrap_or(f32::NEG_INFINITY) {
                best = i;
            }
        }
        let probs = softmax(row);
        let label = labels.get(best).map(String::as_str).unwrap_or("O");
        let entity = label.split_once('-').map(|(_, t)| t).unwrap_or(label);
        out.push(WordLabel {
            word: word as usize,
            entity: entity.to_string(),
            score: probs.get(best).copied().unwrap_or(0.0),
        });
    }
    out
}

/// The 71 labels of the nutrition extractor when the model directory has no
/// `config.json` (`id2label` of `openfoodfacts/nutrition-extractor`).
pub fn default_labels() -> Vec<String> {
    const ENTITIES: [&str; 35] = [
        "ENERGY_KJ_SERVING",
        "CARBOHYDRATES_100G",
        "CHOLESTEROL_SERVING",
        "ENERGY_KCAL_100G",
        "SALT_SERVING",
        "SALT_100G",
        "SERVING_SIZE",
        "CALCIUM_100G",
        "SODIUM_SERVING",
        "FIBER_100G",
        "IRON_SERVING",
        "IRON_100G",
        "POTASSIUM_100G",
        "CALCIUM_SERVING",
        "TRANS_FAT_100G",
        "SATURATED_FAT_100G",
        "PROTEINS_SERVING",
        "SATURATED_FAT_SERVING",
        "VITAMIN_D_100G",
        "ENERGY_KJ_100G",
        "FAT_100G",
        "PROTEINS_100G",
        "VITAMIN_D_SERVING",
        "ADDED_SUGARS_SERVING",
        "CHOLESTEROL_100G",
        "SUGARS_100G",
        "CARBOHYDRATES_SERVING",
        "ADDED_SUGARS_100G",
        "SODIUM_100G",
        "FIBER_SERVING",
        "SUGARS_SERVING",
        "ENERGY_KCAL_SERVING",
        "FAT_SERVING",
        "TRANS_FAT_SERVING",
        "POTASSIUM_SERVING",
    ];
    let mut out = vec!["O".to_string()];
    for e in ENTITIES {
        out.push(format!("B-{e}"));
        out.push(format!("I-{e}"));
    }
    out
}

/// `id2label` of a Hugging Face `config.json` as a list (ids 0..n, all present).
pub fn labels_from_config(json: &serde_json::Value) -> Option<Vec<String>> {
    let map = json.get("id2label")?.as_object()?;
    let mut pairs: Vec<(usize, String)> = map
        .iter()
        .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string())))
        .collect();
    pairs.sort();
    if pairs.is_empty() || pairs.iter().enumerate().any(|(i, (k, _))| i != *k) {
        return None;
    }
    Some(pairs.into_iter().map(|(_, l)| l).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_scale_to_999_of_the_image() {
        let v = [(10.0, 20.0), (110.0, 20.0), (110.0, 60.0), (10.0, 60.0)];
        assert_eq!(normalized_box(&v, 200, 100), [50, 200, 550, 600]);
        let out = [(0.0, 0.0), (500.0, 300.0)];
        assert_eq!(normalized_box(&out, 200, 100), [0, 0, 999, 999]);
        assert_eq!(normalized_box(&[], 200, 100), [0; 4]);
        assert_eq!(normalized_box(&v, 0, 0), [0; 4]);
    }

    #[test]
    fn tokens_repeat_their_word_box() {
        let enc = Encoded {
            word_ids: vec![None, Some(0), Some(0), Some(1), None],
            ..Encoded::default()
        };
        let b = token_boxes(&enc, &[[1, 2, 3, 4], [5, 6, 7, 8]]);
        assert_eq!(
            b,
            [0, 0, 0, 0, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0]
        );
    }

    #[test]
    fn pixels_are_normalised_chw() {
        let img = RgbImage::from_pixel(10, 30, image::Rgb([255, 0, 51]));
        let bytes = pixel_values(&img);
        assert_eq!(bytes.len(), 3 * 224 * 224 * 4);
        let at = |i: usize| {
            f32::from_le_bytes([
                bytes[i * 4],
                bytes[i * 4 + 1],
                bytes[i * 4 + 2],
                bytes[i * 4 + 3],
            ])
        };
        let plane = 224 * 224;
        assert!((at(0) - 1.0).abs() < 1e-6);
        assert!((at(plane) + 1.0).abs() < 1e-6);
        assert!((at(2 * plane) + 0.6).abs() < 1e-6);
    }

    #[test]
    fn first_piece_labels_the_word() {
        let labels = default_labels();
        assert_eq!(labels.len(), 71);
        assert_eq!(labels[39], "B-ENERGY_KJ_100G");
        assert_eq!(labels[70], "I-POTASSIUM_SERVING");
        let enc = Encoded {
            ids: vec![0, 10, 11, 12, 2],
            special: vec![true, false, false, false, true],
            word_ids: vec![None, Some(0), Some(0), Some(1), None],
            ..Encoded::default()
        };
        let mut logits = vec![0f32; 5 * 71];
        logits[71 + 41] = 10.0; // word 0, first piece: B-FAT_100G
        logits[2 * 71 + 3] = 10.0; // word 0, second piece: ignored
        logits[3 * 71 + 42] = 10.0; // word 1: I-FAT_100G
        let w = word_labels(&logits, 71, &enc, &labels, Some(3));
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].word, w[0].entity.as_str()), (0, "FAT_100G"));
        assert_eq!((w[1].word, w[1].entity.as_str()), (1, "FAT_100G"));
        assert!((w[0].score - 0.99683).abs() < 1e-4, "{}", w[0].score);
    }

    #[test]
    fn labels_from_a_config() {
        let json = serde_json::json!({"id2label": {"1": "B-X", "0": "O", "2": "I-X"}});
        assert_eq!(
            labels_from_config(&json),
            Some(vec!["O".to_string(), "B-X".into(), "I-X".into()])
        );
        let gap = serde_json::json!({"id2label": {"0": "O", "2": "I-X"}});
        assert_eq!(labels_from_config(&gap), None);
    }
}
