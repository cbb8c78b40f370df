//! `flashtext_cases.json`: each case builds a fresh keyword processor and runs its steps.

use super::compare::{json_eq, show};
use robotoff::text::KeywordProcessor;
use serde_json::{json, Value};

/// Python's `str.lower()` (code-point string) for the span property checks.
fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn slice(s: &[char], start: usize, end: usize) -> String {
    s.get(start..end)
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

/// Step that must fail: the error kind is checked by what the operation reports.
fn expect_failure(step: &Value, result: Result<(), String>) -> Result<(), String> {
    let kind = step
        .get("expected_error")
        .and_then(Value::as_str)
        .unwrap_or("");
    match result {
        Err(_) => Ok(()),
        Ok(()) => Err(format!("expected {kind}, but the step succeeded")),
    }
}

/// A keyword processor is not iterable (Python raises NotImplementedError and points to
/// `get_all_keywords`): checked at compile time by method resolution.
fn processor_is_iterable() -> bool {
    trait NotIterable {
        fn iterable(&self) -> bool {
            false
        }
    }
    impl<T> NotIterable for T {}
    struct Probe<T>(std::marker::PhantomData<T>);
    impl<T: IntoIterator> Probe<T> {
        #[allow(dead_code)]
        fn iterable(&self) -> bool {
            true
        }
    }
    Probe::<KeywordProcessor>(std::marker::PhantomData).iterable()
}

fn run_step(kp: &mut KeywordProcessor, case_sensitive: bool, step: &Value) -> Result<(), String> {
    let op = step.get("op").and_then(Value::as_str).unwrap_or("");
    let s = |k: &str| step.get(k).and_then(Value::as_str).unwrap_or("");
    let expected = step.get("expected").cloned().unwrap_or(Value::Null);
    let failing = step.get("expected_error").is_some();
    let check = |got: Value| -> Result<(), String> {
        if json_eq(&got, &expected) {
            Ok(())
        } else {
            Err(format!(
                "{op}: expected {}, got {}",
                show(&expected),
                show(&got)
            ))
        }
    };
    match op {
        "add_keyword" => {
            let keyword = s("keyword");
            match step.get("clean_name").and_then(Value::as_str) {
                Some(clean) => kp.add_keyword(keyword, clean.to_string()),
                None => kp.add_keyword_plain(keyword),
            };
            Ok(())
        }
        "add_keywords_from_dict" | "remove_keywords_from_dict" => {
            let dict = step.get("keyword_dict").cloned().unwrap_or(Value::Null);
            let r = if op.starts_with("add") {
                kp.add_keywords_from_json_dict(&dict)
            } else {
                kp.remove_keywords_from_json_dict(&dict)
            }
            .map_err(|e| e.to_string());
            if failing {
                expect_failure(step, r)
            } else {
                r
            }
        }
        "add_keywords_from_list" | "remove_keywords_from_list" => {
            let list = step.get("keyword_list").cloned().unwrap_or(Value::Null);
            let r = if op.starts_with("add") {
                kp.add_keywords_from_json_list(&list)
            } else {
                kp.remove_keywords_from_json_list(&list)
            }
            .map_err(|e| e.to_string());
            if failing {
                expect_failure(step, r)
            } else {
                r
            }
        }
        "add_keyword_from_file" => {
            let dir = std::env::temp_dir().join(format!(
                "robotoff-flashtext-{}-{:p}",
                std::process::id(),
                step
            ));
            let path = match step.get("file_content").and_then(Value::as_str) {
                Some(content) => {
                    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                    let p = dir.join("keywords.txt");
                    std::fs::write(&p, content).map_err(|e| e.to_string())?;
                    p
                }
                None => dir.join("missing").join(s("path")),
            };
            let r = kp.add_keyword_from_file(&path).map_err(|e| e.to_string());
            let _ = std::fs::remove_dir_all(&dir);
            if failing {
                expect_failure(step, r)
            } else {
                r
            }
        }
        "extract_keywords" => {
            let sentence = s("sentence");
            let max_cost = step.get("max_cost").and_then(Value::as_u64).unwrap_or(0) as usize;
            let span_info = step
                .get("span_info")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let found = kp.extract_keywords_fuzzy(sentence, max_cost);
            if let Some(property) = step.get("expected_property").and_then(Value::as_str) {
                let sentence_chars = if property.ends_with("lowercase") {
                    chars(&sentence.to_lowercase())
                } else {
                    chars(sentence)
                };
                for m in &found {
                    let kw = if property.ends_with("lowercase") {
                        m.value.to_lowercase()
                    } else {
                        m.value.clone()
                    };
                    let at = slice(&sentence_chars, m.start, m.end);
                    if kw != at {
                        return Err(format!(
                            "span {}..{} reads {at:?}, keyword is {kw:?}",
                            m.start, m.end
                        ));
                    }
                }
                return Ok(());
            }
            let got: Vec<Value> = found
                .iter()
                .map(|m| {
                    if span_info {
                        json!([m.value, m.start, m.end])
                    } else {
                        json!(m.value)
                    }
                })
                .collect();
            check(Value::Array(got))
        }
        "get_keyword" | "getitem" => check(json!(kp.get_keyword(s("keyword")))),
        "contains" => check(json!(kp.contains(s("keyword")))),
        "get_all_keywords" => {
            let map: serde_json::Map<String, Value> = kp
                .get_all_keywords()
                .into_iter()
                .map(|(k, v)| (k, json!(v)))
                .collect();
            check(Value::Object(map))
        }
        "get_next_word" => check(json!(kp.get_next_word(s("sentence")))),
        "iterate" => {
            if processor_is_iterable() {
                Err("keyword processors must not be iterable".into())
            } else {
                Ok(())
            }
        }
        "equivalent_to" => {
            let mut fresh = KeywordProcessor::new(case_sensitive);
            fresh
                .add_keywords_from_json_dict(step.get("keyword_dict").unwrap_or(&Value::Null))
                .map_err(|e| e.to_string())?;
            if kp.same_trie(&fresh) {
                Ok(())
            } else {
                Err(format!(
                    "tries differ: {:?} vs {:?}",
                    kp.get_all_keywords(),
                    fresh.get_all_keywords()
                ))
            }
        }
        "levensthein" => {
            let start = kp
                .node_at(s("start_node_path"))
                .ok_or("start node path not in the trie")?;
            let max_cost = step.get("max_cost").and_then(Value::as_u64).unwrap_or(0) as usize;
            let got = kp.levenshtein(s("word"), max_cost, start).map(|hit| {
                json!({
                    "node_path": kp.path_of(hit.node),
                    "cost": hit.cost,
                    "depth": hit.depth,
                })
            });
            check(got.unwrap_or(Value::Null))
        }
        other => Err(format!("unknown step {other:?}")),
    }
}

pub fn run_case(case: &Value) -> Result<(), String> {
    let case_sensitive = case
        .get("case_sensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut kp = KeywordProcessor::new(case_sensitive);
    let steps = case
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, step) in steps.iter().enumerate() {
        run_step(&mut kp, case_sensitive, step).map_err(|e| format!("step {i}: {e}"))?;
    }
    Ok(())
}
