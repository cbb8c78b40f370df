//! CPU cost of the text models around Triton, per real OCR document of
//! `shared/conformance/real_docs`: for the ingredient NER, tokenising the contiguous
//! text, the token-classification aggregation (FIRST) and the additional-mention search
//! of each entity; for the nutrition extractor, words and boxes, the 224×224 pixels,
//! tokenising the words and the post-processing. Logits stand in for the model (every
//! tenth token starts a 5-token entity), so only our code is timed.
//!
//! `cargo bench --bench text_models -- [--rounds N]` (release profile). The tokenizers
//! are the test ones of `tests/triton/model_dirs` (the real models' are not at hand).

use robotoff::ml::ingredient_mentions::{detect_additional_mentions, TraceGrammar};
use robotoff::ml::token_classification::{self as tc, AggregationStrategy};
use robotoff::ml::tokenize::TextTokenizer;
use robotoff::ml::{layoutlm, nutrition_post};
use robotoff::ocr::OcrDocument;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
}

fn docs() -> Vec<(String, OcrDocument)> {
    let dir = shared().join("conformance/real_docs");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let doc = OcrDocument::from_bytes(&bytes).ok()?;
            doc.full_text.as_ref()?;
            Some((p.file_name()?.to_string_lossy().into_owned(), doc))
        })
        .collect()
}

fn logits_for(tokens: usize, labels: usize, b: usize, i: usize) -> Vec<f32> {
    let mut out = vec![0f32; tokens * labels];
    for t in 0..tokens {
        let label = match t % 10 {
            1 => b,
            2..=5 => i,
            _ => 0,
        };
        out[t * labels + label] = 10.0;
    }
    out
}

fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let dirs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/triton/model_dirs");
    let ner = TextTokenizer::from_file(&dirs.join("ingredient-ner/tokenizer.json"), 512)
        .expect("NER tokenizer");
    let nut = TextTokenizer::from_file(&dirs.join("nutrition_extractor/tokenizer.json"), 512)
        .expect("nutrition tokenizer");
    let grammar = TraceGrammar::from_keyword_lines(
        &std::fs::read_to_string(shared().join("data/ocr/trace_allergen.txt")).unwrap_or_default(),
    );
    let ner_labels: Vec<String> = ["O", "B-ING", "I-ING"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let nut_labels = layoutlm::default_labels();
    let image = image::RgbImage::from_pixel(800, 1000, image::Rgb([200, 190, 180]));
    let docs = docs();
    println!("{} documents, {rounds} rounds each", docs.len());
    let (mut ner_total, mut nut_total) = (0f64, 0f64);
    for (name, doc) in &docs {
        let Some(full) = doc.full_text.as_ref() else {
            continue;
        };
        let text = full.contiguous_text.clone();
        let clock = Instant::now();
        let mut entities = 0;
        for _ in 0..rounds {
            let enc = ner.encode_text(&text).expect("encode");
            let logits = logits_for(enc.len(), 3, 1, 2);
            let scores: Vec<Vec<f32>> = logits.chunks_exact(3).map(tc::softmax).collect();
            let pre = tc::pre_entities(
                &text,
                &enc.tokens,
                &enc.ids,
                &enc.offsets,
                &enc.special,
                &enc.word_ids,
                &scores,
                ner.unk_id(),
            );
            let found = tc::aggregate(&pre, AggregationStrategy::First, &ner_labels, &["O"]);
            entities = found.len();
            for e in &found {
                std::hint::black_box(detect_additional_mentions(&grammar, &text, e.end));
                std::hint::black_box(doc.match_bounding_box(e.start, e.end));
            }
        }
        let ner_us = clock.elapsed().as_secs_f64() * 1e6 / rounds as f64;
        let clock = Instant::now();
        let mut nutrients = 0;
        for _ in 0..rounds {
            let words: Vec<&str> = full.words.iter().map(|w| w.text.as_str()).collect();
            let boxes: Vec<[i64; 4]> = full
                .words
                .iter()
                .map(|w| layoutlm::normalized_box(&w.bounding_poly.vertices, 800, 1000))
                .collect();
            std::hint::black_box(layoutlm::pixel_values(&image));
            let enc = nut.encode_words(&words).expect("encode");
            std::hint::black_box(layoutlm::token_boxes(&enc, &boxes));
            let logits = logits_for(enc.len(), 71, 65, 66);
            let raw: Vec<nutrition_post::RawEntity> =
                layoutlm::word_labels(&logits, 71, &enc, &nut_labels, nut.unk_id())
                    .into_iter()
                    .map(|w| nutrition_post::RawEntity {
                        word: words.get(w.word).map(|s| s.to_string()).unwrap_or_default(),
                        entity: w.entity,
                        score: w.score,
                        index: w.word,
                        char_start: 0,
                        char_end: 0,
                    })
                    .collect();
            let post = nutrition_post::postprocess(&nutrition_post::aggregate_entities(&raw));
            nutrients = nutrition_post::nutrients_json(&post).len();
        }
        let nut_us = clock.elapsed().as_secs_f64() * 1e6 / rounds as f64;
        ner_total += ner_us;
        nut_total += nut_us;
        println!(
            "{{\"doc\": \"{name}\", \"chars\": {}, \"words\": {}, \"ner_us\": {ner_us:.1}, \"ner_entities\": {entities}, \"nutrition_us\": {nut_us:.1}, \"nutrients\": {nutrients}}}",
            text.chars().count(),
            full.words.len()
        );
    }
    let n = docs.len().max(1) as f64;
    println!(
        "{{\"mean_ner_us\": {:.1}, \"mean_nutrition_us\": {:.1}}}",
        ner_total / n,
        nut_total / n
    );
}
