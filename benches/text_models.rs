//! CPU cost of the text models around Triton, per real OCR document of
//! `shared/conformance/real_docs`: for the ingredient NER, tokenising the contiguous
//! text, the token-classification aggregation (FIRST) and the additional-mention search
//! of each entity; for the nutrition extractor, words and boxes, the 224×224 pixels,
//! tokenising the words and the post-processing. Logits stand in for the model (every
//! tenth token starts a 5-token entity), so only our code is timed.
//!
//! With `ROBOTOFF_BENCH_TRITON_URI` set (`scripts/bench-text` starts the Triton test
//! models), it then runs every document end to end through Triton — the NER with its
//! languages and the nutrition extractor — and prints documents per second, one at a time
//! and with 8 in flight.
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

#[tokio::main(flavor = "multi_thread")]
async fn main() {
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
    if let Ok(triton) = std::env::var("ROBOTOFF_BENCH_TRITON_URI") {
        end_to_end(&triton, &docs, &image).await;
    }
}

/// Documents through Triton: NER (with languages, without Product Opener's parse) and
/// the nutrition extractor.
async fn end_to_end(triton: &str, docs: &[(String, OcrDocument)], image: &image::RgbImage) {
    use robotoff::pipeline::{ingredients, nutrition};
    let mut o = robotoff::config::Overrides::default();
    o.set("triton.url", triton.to_string());
    let mut settings = robotoff::config::Settings::load(None, &o).expect("settings");
    for name in ["ingredient-ner", "nutrition_extractor"] {
        settings.triton.models.insert(
            name.into(),
            robotoff::config::TritonModelSettings {
                url: None,
                concurrency: 2,
                model_dir: Some(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("tests/triton/model_dirs")
                        .join(name)
                        .display()
                        .to_string(),
                ),
            },
        );
    }
    let models = std::sync::Arc::new(
        robotoff::pipeline::models::ModelRuntime::new(&settings).expect("models"),
    );
    let grammar = std::sync::Arc::new(TraceGrammar::from_keyword_lines(
        &std::fs::read_to_string(shared().join("data/ocr/trace_allergen.txt")).unwrap_or_default(),
    ));
    let inputs: Vec<(OcrDocument, Option<nutrition::NutritionInput>)> = docs
        .iter()
        .map(|(_, d)| (d.clone(), nutrition::prepare(d, image)))
        .collect();
    let inputs = std::sync::Arc::new(inputs);
    let one = |i: usize| {
        let (models, grammar, inputs) = (models.clone(), grammar.clone(), inputs.clone());
        async move {
            let (doc, nut) = &inputs[i % inputs.len()];
            ingredients::predict(
                &models,
                &grammar,
                doc,
                AggregationStrategy::First,
                "1",
                ingredients::LangSource::Embedded,
            )
            .await
            .expect("NER");
            if let Some(nut) = nut {
                nutrition::predict(&models, nut).await.expect("nutrition");
            }
        }
    };
    for _ in 0..inputs.len() {
        one(0).await; // warm-up: connections, language models
    }
    let n = 200;
    let clock = Instant::now();
    for i in 0..n {
        one(i).await;
    }
    let serial = n as f64 / clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < n || !set.is_empty() {
        while next < n && set.len() < 8 {
            set.spawn(one(next));
            next += 1;
        }
        let _ = set.join_next().await;
    }
    let parallel = n as f64 / clock.elapsed().as_secs_f64();
    println!(
        "{{\"end_to_end_docs\": {n}, \"docs_per_s_one_at_a_time\": {serial:.1}, \"docs_per_s_8_in_flight\": {parallel:.1}}}"
    );
}
