//! The service's pages in a real browser (headless Chromium over WebDriver) against the
//! real service on PostgreSQL, with the Product Opener stand-in: answering questions
//! with the keyboard and the buttons, filters, signing in, the logo game, the operations
//! page, a phone-width screen, and what a page shows when the API fails.

mod common;
#[path = "annotation_support/mod.rs"]
mod support;
#[path = "web_support/mod.rs"]
mod web_support;

use common::po::Served;
use serde_json::{json, Value};
use uuid::Uuid;
use web_support::fixtures::*;
use web_support::{wait_for, Browser, PAGE_WAIT};

/// The insight id of the question on screen, once it is `want`.
async fn shows(browser: &Browser, want: Uuid) {
    let script = format!(
        "const q = document.getElementById('question'); return !q.hidden && q.dataset.insightId === {};",
        json!(want.to_string())
    );
    browser
        .wait_js(&format!("question {want} on screen"), &script)
        .await;
}

async fn device_id(browser: &Browser) -> String {
    browser
        .js("return localStorage.getItem('robotoff.device_id');")
        .await
        .as_str()
        .expect("a device id in localStorage")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_are_answered_with_keys_and_buttons_and_filtered() {
    let env = node(|_| {}).await;
    let [q1, q2, q3, q4, q5] = five_questions(&env).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", base(&env))).await;
    shows(&browser, q1).await;
    assert_eq!(browser.text("#question-value").await, "Acme");
    assert!(browser.text("#question-text").await.contains("brand"));
    assert_eq!(browser.text("#remaining").await, "5 questions left");
    // The product image comes from the flavor's image server and is displayed.
    let loaded = browser
        .wait_js(
            "the question's image",
            "const i = document.querySelector('#question-image img'); return i && i.complete && i.naturalWidth > 0 ? i.src : null;",
        )
        .await;
    assert!(
        loaded.as_str().is_some_and(|s| s.starts_with(&env.po.url)),
        "{loaded}"
    );
    let device = device_id(&browser).await;

    // y: a yes vote, recorded under this browser's device id; the next question follows.
    browser.press('y').await;
    shows(&browser, q2).await;
    assert_eq!(wait_vote(&env.pool, q1).await, (1, device.clone()));
    browser.wait_text("#remaining", "4 questions left").await;
    // A click on No.
    browser.click("#answer-no").await;
    shows(&browser, q3).await;
    assert_eq!(wait_vote(&env.pool, q2).await, (0, device.clone()));
    // s: skipped (a -1 vote, so this device is not asked again).
    browser.press('s').await;
    shows(&browser, q4).await;
    assert_eq!(wait_vote(&env.pool, q3).await, (-1, device.clone()));
    assert_eq!(vote(&env.pool, q4).await, None, "nothing sent for q4 yet");
    browser.assert_clean("questions").await;

    // Filters: a country, kept in the URL.
    browser.click("#filter-box summary").await;
    browser.type_into("#filters [name=countries]", "es").await;
    browser.click("#filters button[type=submit]").await;
    shows(&browser, q5).await;
    let url = browser.client.current_url().await.expect("url");
    assert_eq!(url.query(), Some("countries=es"));
    browser.wait_text("#remaining", "1 question left").await;
    // A brand instead.
    browser.type_into("#filters [name=countries]", "").await;
    browser.type_into("#filters [name=brands]", "bobo").await;
    browser.click("#filters button[type=submit]").await;
    shows(&browser, q4).await;
    // Filters read from the URL: category questions left for this device, then a value
    // tag nothing matches any more once answered.
    browser
        .goto(&format!("{}/?insight_types=category", base(&env)))
        .await;
    shows(&browser, q5).await;
    assert_eq!(
        browser
            .js("return document.querySelector('#filters [name=insight_types]').value;")
            .await,
        json!("category")
    );
    browser.press('n').await;
    assert_eq!(wait_vote(&env.pool, q5).await, (0, device.clone()));
    browser.wait_text("#empty", "No question left").await;
    browser
        .goto(&format!(
            "{}/?value_tag=acme&insight_types=brand",
            base(&env)
        ))
        .await;
    browser.wait_text("#empty", "No question left").await;
    browser.assert_clean("questions with filters").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_answer_reaches_product_opener_with_the_users_session() {
    let env = node(|_| {}).await;
    let id = question(
        &env.pool,
        Q {
            barcode: "3000000000002",
            kind: "category",
            value_tag: "en:seeds",
            value: None,
            country: "en:france",
            brand: None,
            scans: 5,
            source_image: None,
        },
    )
    .await;
    env.po.set_product(
        json!({"code": "3000000000002", "product_type": "food", "lang": "fr",
        "countries_tags": ["en:france"], "categories_tags": [], "images": {}}),
    );
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", base(&env))).await;
    shows(&browser, id).await;
    sign_in(&browser).await;
    // The password is nowhere the page's scripts can read; the session cookie is HttpOnly.
    let stored = browser
        .js("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie;")
        .await;
    let stored = stored.as_str().unwrap_or_default();
    assert!(!stored.contains(VOLUNTEER.1), "{stored}");
    assert!(!stored.contains("user_session"), "{stored}");
    let sessions = env.po.opened_sessions();
    assert_eq!(sessions.len(), 1, "one sign-in with Product Opener");

    shows(&browser, id).await;
    browser.click("#answer-yes").await;
    browser.wait_text("#empty", "No question left").await;
    let (annotation, username): (Option<i32>, Option<String>) =
        sqlx::query_as("SELECT annotation, username FROM product_insight WHERE id = $1")
            .bind(id)
            .fetch_one(&env.pool)
            .await
            .expect("insight");
    assert_eq!(
        (annotation, username.as_deref()),
        (Some(1), Some(VOLUNTEER.0))
    );
    let writes = env.po.writes();
    let edit = writes
        .iter()
        .find(|w| w.path.ends_with("/cgi/product_jqm2.pl"))
        .unwrap_or_else(|| panic!("no product edit reached Product Opener: {writes:?}"));
    assert_eq!(
        edit.header("cookie"),
        Some(format!("session={}", sessions[0]).as_str()),
        "the edit is the user's"
    );
    assert!(edit.body_text().contains("seeds"), "{}", edit.body_text());
    // No vote: a signed-in answer is an annotation.
    assert_eq!(vote(&env.pool, id).await, None);

    // Signing out forgets the session.
    browser.click("#signout").await;
    browser.wait_text("#account-user", "Anonymous").await;
    browser.assert_clean("questions, signed in").await;
    browser.close().await;
}

/// Signs in through the page's form as the volunteer.
async fn sign_in(browser: &Browser) {
    browser.click("#signin-open").await;
    browser
        .type_into("#signin [name=user_id]", VOLUNTEER.0)
        .await;
    browser
        .type_into("#signin [name=password]", VOLUNTEER.1)
        .await;
    browser.click("#signin button[type=submit]").await;
    browser
        .wait_text("#account-user", &format!("Signed in as {}", VOLUNTEER.0))
        .await;
}

/// A logo's id, annotation type and value, and annotator.
type LogoRow = (i32, Option<String>, Option<String>, Option<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logo_grid_annotates_two_logos() {
    let env = node(|_| {}).await;
    let code = "3760094310634";
    let logos = [
        embedded_logo(&env, code, 1, 0.10).await,
        embedded_logo(&env, code, 2, 0.12).await,
        embedded_logo(&env, code, 3, 0.15).await,
    ];
    let http = common::http();
    let search = format!("{}/api/v1/ann/search/{}?count=10", base(&env), logos[0]);
    wait_for(PAGE_WAIT, "the logo index to hold the logos", || async {
        let r = http.get(&search).send().await.ok()?;
        let v: Value = r.json().await.ok()?;
        (v["count"].as_i64() == Some(2)).then_some(())
    })
    .await;

    let browser = Browser::start().await;
    browser.goto(&format!("{}/logos", base(&env))).await;
    sign_in(&browser).await;
    browser
        .goto(&format!("{}/logos?logo_id={}", base(&env), logos[0]))
        .await;
    browser
        .wait_js(
            "three crops drawn",
            "const imgs = [...document.querySelectorAll('#grid .tile img')]; return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0);",
        )
        .await;
    assert!(browser.text("#account-user").await.contains(VOLUNTEER.0));
    for logo in &logos[1..] {
        browser
            .click(&format!("#grid .tile[data-logo-id='{logo}']"))
            .await;
    }
    browser
        .wait_text("#selected-count", "2 logos selected")
        .await;
    browser.select("#annotate [name=type]", "brand").await;
    browser.type_into("#annotate [name=value]", "Acme").await;
    browser.click("#annotate-button").await;
    browser.wait_text("#status", "2 logos annotated").await;
    let rows: Vec<LogoRow> = sqlx::query_as(
        "SELECT id, annotation_type, annotation_value, username FROM logo_annotation ORDER BY id",
    )
    .fetch_all(&env.pool)
    .await
    .expect("logos");
    let brand = |id: i32| {
        (
            id,
            Some("brand".to_string()),
            Some("Acme".to_string()),
            Some(VOLUNTEER.0.to_string()),
        )
    };
    assert_eq!(
        rows,
        vec![
            (logos[0], None, None, None),
            brand(logos[1]),
            brand(logos[2])
        ]
    );
    browser.assert_clean("logos").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_page_retries_a_dead_job_with_the_token_only() {
    let env = node(|s| s.http.admin_token = ADMIN_TOKEN.into()).await;
    let job = dead_job(&env.pool).await;
    five_questions(&env).await;
    sqlx::query(
        "INSERT INTO scheduler_task (name, runs, node, last_started, last_finished, ok, outcome)
         VALUES ('purge_done_jobs', 4, 'node-a', now() - interval '1 minute', now(), true, '12 jobs removed')",
    )
    .execute(&env.pool)
    .await
    .expect("task");
    sqlx::query("INSERT INTO stream_offset (stream, last_id) VALUES ('product_updates', $1)")
        .bind(format!(
            "{}-0",
            chrono::Utc::now().timestamp_millis() - 1500
        ))
        .execute(&env.pool)
        .await
        .expect("stream position");

    let browser = Browser::start().await;
    browser.goto(&format!("{}/ops", base(&env))).await;
    let dead = browser.wait_text("#dead", "probe failed on purpose").await;
    assert!(dead.contains(&job.to_string()), "{dead}");
    browser.wait_text("#dead-total", "(1)").await;
    assert!(browser.text("#tasks").await.contains("12 jobs removed"));
    assert!(browser.text("#listener").await.contains("product_updates"));
    let chart = browser.text("#insights").await;
    assert!(
        chart.contains("brand") && chart.contains("category"),
        "{chart}"
    );
    let bars = browser
        .js("return document.querySelectorAll('#insights svg rect').length;")
        .await;
    assert_eq!(bars, json!(2), "one bar per type in the current hour");
    assert!(browser
        .text("#cluster")
        .await
        .contains("Cluster mode is off"));
    assert!(browser.text("#index").await.contains("Logo index"));
    browser.assert_clean("ops").await;

    // Without the token: refused, nothing changes.
    let retry = format!("#dead button[data-job-id='{job}']");
    browser.click(&retry).await;
    browser
        .wait_text("#error", "Authorization header is required")
        .await;
    assert_eq!(job_state(&env.pool, job).await, "dead");
    // With a wrong one: refused.
    browser.type_into("#admin-token", "not-the-token").await;
    browser.click(&retry).await;
    browser.wait_text("#error", "Invalid token").await;
    assert_eq!(job_state(&env.pool, job).await, "dead");
    let _ = browser.browser_log().await; // the two refusals are logged as failed requests
                                         // With the token: queued again, run, done.
    browser.type_into("#admin-token", ADMIN_TOKEN).await;
    browser.click(&retry).await;
    browser
        .wait_text("#status", &format!("Job {job} queued again"))
        .await;
    wait_for(PAGE_WAIT, "the retried job to run", || async {
        (job_state(&env.pool, job).await == "done").then_some(())
    })
    .await;
    browser.wait_text("#dead", "No dead job").await;
    assert!(browser.page_errors().await.is_empty());
    browser.close().await;

    // The API itself refuses without the token, with a JSON error.
    let http = common::http();
    let again = dead_job(&env.pool).await;
    let url = format!("{}/api/v1/ops/jobs/{again}/retry", base(&env));
    let r = http.post(&url).send().await.expect("request");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "missing_header");
    let r = http
        .post(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(job_state(&env.pool, again).await, "dead");
    let r = http
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 409, "no longer dead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_operations_page_is_read_only() {
    let env = node(|_| {}).await;
    let job = dead_job(&env.pool).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/ops", base(&env))).await;
    browser.wait_text("#dead", "probe failed on purpose").await;
    browser.wait_text("#read-only", "Read-only").await;
    assert_eq!(
        browser
            .js("return document.querySelectorAll('#dead button').length;")
            .await,
        json!(0)
    );
    browser.assert_clean("ops, read-only").await;
    browser.close().await;
    let r = common::http()
        .post(format!("{}/api/v1/ops/jobs/{job}/retry", base(&env)))
        .bearer_auth("anything")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "admin_routes_disabled");
    assert_eq!(job_state(&env.pool, job).await, "dead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_fit_a_phone_run_cleanly_and_show_api_failures() {
    // Listings straight from PostgreSQL, so that its failure shows at once.
    let env = node(|s| s.http.listing_cache_ms = 0).await;
    five_questions(&env).await;
    dead_job(&env.pool).await;
    let browser = Browser::start().await;
    browser.phone().await;
    let pages = [
        ("/", "#question-text", "brand"),
        ("/logos", "#empty", "logo index is empty"),
        ("/ops", "#dead", "probe failed on purpose"),
    ];
    for (path, css, text) in pages {
        browser.goto(&format!("{}{path}", base(&env))).await;
        browser.wait_text(css, text).await;
        let (scroll, client, inner) = browser.widths().await;
        assert_eq!(inner, 375, "{path}: the phone's width");
        assert!(
            scroll <= client,
            "{path}: scrolls sideways ({scroll} > {client})"
        );
        browser.assert_clean(path).await;
    }
    // The sign-in form open on a phone fits too.
    browser.goto(&format!("{}/", base(&env))).await;
    browser.wait_text("#question-text", "brand").await;
    browser.click("#signin-open").await;
    let (scroll, client, _) = browser.widths().await;
    assert!(scroll <= client, "sign-in form: {scroll} > {client}");

    // PostgreSQL out of reach: every page says so instead of failing silently.
    env.pool.close().await;
    for (path, needle) in [
        ("/", "the database is unavailable"),
        ("/ops", "the database is unavailable"),
        ("/logos", "the database is unavailable"),
    ] {
        browser.goto(&format!("{}{path}", base(&env))).await;
        let shown = browser.wait_text("#error", needle).await;
        assert!(shown.contains("503"), "{path}: {shown}");
        assert!(
            browser.page_errors().await.is_empty(),
            "{path}: no script error"
        );
    }
    // The failed calls are the browser's only complaints.
    let severe: Vec<String> = browser
        .browser_log()
        .await
        .into_iter()
        .filter(|l| l.starts_with("SEVERE"))
        .collect();
    assert!(!severe.is_empty());
    assert!(severe.iter().all(|l| l.contains("503")), "{severe:?}");
    browser.close().await;
}

/// Figures of the questions page (not a check): bytes over the wire and time until the
/// first question shows, on a first visit and on a second one, then the requests each
/// answer costs. Run with `scripts/bench-web`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by scripts/bench-web"]
async fn measure_the_questions_page() {
    const ANSWERS: usize = 20;
    let env = node(|_| {}).await;
    // Photos the size of Product Opener's 400 px display images, with some texture so
    // that they do not compress to nothing.
    let mut photo = image::RgbImage::new(400, 300);
    for (x, y, p) in photo.enumerate_pixels_mut() {
        let v = (((x / 4) * 37 + (y / 4) * 91) % 256) as u8;
        *p = image::Rgb([v, v / 2 + 60, 255 - v]);
    }
    let mut jpeg = std::io::Cursor::new(Vec::new());
    photo
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .expect("jpeg");
    let jpeg = jpeg.into_inner();
    for i in 0..40u32 {
        let code = format!("{:013}", 3_100_000_000_000u64 + u64::from(i));
        let folder = format!(
            "{}/{}/{}/{}",
            &code[..3],
            &code[3..6],
            &code[6..9],
            &code[9..]
        );
        env.po.serve_file(
            &format!("/images/products/{folder}/1.400.jpg"),
            Served {
                body: jpeg.clone(),
                last_modified: None,
                etag: None,
            },
        );
        let source = format!("/{folder}/1.jpg");
        question(
            &env.pool,
            Q {
                barcode: &code,
                kind: "brand",
                value_tag: "acme",
                value: Some("Acme"),
                country: "en:france",
                brand: Some("acme"),
                scans: 100 - i as i32,
                source_image: Some(&source),
            },
        )
        .await;
    }
    let browser = Browser::start().await;
    let first_question = r#"
        const mark = performance.getEntriesByName('robotoff:first-question')[0];
        const img = document.querySelector('#question-image img');
        if (!mark || !img || !img.complete) return null;
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        const own = res.filter(r => r.name.startsWith(location.origin));
        const sum = (xs) => xs.reduce((a, r) => a + r.transferSize, 0);
        return {
          first_question_ms: Math.round(mark.startTime),
          requests: 1 + res.length,
          service_bytes: nav.transferSize + sum(own),
          image_bytes: sum(res) - sum(own),
          files: [nav, ...res].map(r => [new URL(r.name).pathname, r.transferSize]),
        };
    "#;
    for visit in ["first visit", "second visit"] {
        browser.goto(&format!("{}/", base(&env))).await;
        let figures = browser.wait_js("the first question", first_question).await;
        println!(
            "{}",
            json!({"measure": "first question", "visit": visit, "figures": figures})
        );
    }
    let before = browser
        .js("return performance.getEntriesByType('resource').length;")
        .await
        .as_u64()
        .unwrap_or_default() as usize;
    let started = std::time::Instant::now();
    for _ in 0..ANSWERS {
        let shown = browser
            .js("return document.getElementById('question').dataset.insightId;")
            .await;
        browser.press('y').await;
        let script = format!(
            "const q = document.getElementById('question'); const i = document.querySelector('#question-image img'); return q.dataset.insightId !== {shown} && i && i.complete;"
        );
        browser.wait_js("the next question", &script).await;
    }
    let elapsed = started.elapsed();
    let kinds = browser
        .js(&format!(
            "return performance.getEntriesByType('resource').slice({before}).map(r => new URL(r.name).pathname);"
        ))
        .await;
    let paths: Vec<String> = kinds
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let api = paths.iter().filter(|p| p.starts_with("/api/")).count();
    let images = paths.iter().filter(|p| p.starts_with("/images/")).count();
    println!(
        "{}",
        json!({
            "measure": "answers", "answers": ANSWERS,
            "requests_per_answer": paths.len() as f64 / ANSWERS as f64,
            "api_requests_per_answer": api as f64 / ANSWERS as f64,
            "image_requests_per_answer": images as f64 / ANSWERS as f64,
            "ms_per_answer": elapsed.as_millis() as f64 / ANSWERS as f64,
        })
    );
    browser.close().await;
}
