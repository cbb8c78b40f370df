//! A headless Chromium driven over WebDriver (chromedriver, started here on a free
//! loopback port), for the tests of the service's pages. Every page it opens records its
//! script errors, unhandled rejections, `console.error` calls and refused resources
//! (a hook installed before the page's own scripts run), and the browser's own log is
//! read too, so a test can assert that a page ran cleanly.
#![allow(dead_code)]

pub mod fixtures;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers running at once (the machine has few cores).
static TURNS: Semaphore = Semaphore::const_new(2);

/// How long a page may take to show what a test waits for.
pub const PAGE_WAIT: Duration = Duration::from_secs(20);

/// Collects what went wrong on a page, before any of its scripts runs.
const HOOK: &str = r#"
(() => {
  const errors = [];
  Object.defineProperty(window, "__pageErrors", { value: errors });
  window.addEventListener("error", (e) => {
    const t = e.target;
    errors.push(t && t !== window && (t.src || t.href) ? `resource failed: ${t.src || t.href}` : `error: ${e.message}`);
  }, true);
  window.addEventListener("unhandledrejection", (e) => errors.push(`unhandled rejection: ${e.reason}`));
  document.addEventListener("securitypolicyviolation", (e) => errors.push(`CSP ${e.violatedDirective}: ${e.blockedURI}`));
  const original = console.error.bind(console);
  console.error = (...args) => { errors.push(`console.error: ${args.join(" ")}`); original(...args); };
})();
"#;

fn binary(env: &str, candidates: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{} not found ({env}): run the tests with scripts/test, which installs \
                 Debian's chromium and chromium-driver",
                candidates.join(" or ")
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// chromedriver in a process group of its own, killed with its browsers when dropped.
struct Driver {
    child: std::process::Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

pub struct Browser {
    pub client: Client,
    driver_url: String,
    session: String,
    http: reqwest::Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
    _turn: SemaphorePermit<'static>,
}

impl Browser {
    /// A fresh headless Chromium (desktop size) with the error hook installed.
    pub async fn start() -> Browser {
        let turn = TURNS.acquire().await.expect("browser turn");
        let chromium = binary("ROBOTOFF_TEST_CHROMIUM", &["/usr/bin/chromium"]);
        let chromedriver = binary("ROBOTOFF_TEST_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
        let port = free_port();
        let mut command = std::process::Command::new(chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = Driver {
            child: command.spawn().expect("start chromedriver"),
        };
        let driver_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        wait_for(Duration::from_secs(20), "chromedriver to answer", || {
            let http = http.clone();
            let url = format!("{driver_url}/status");
            async move {
                let r = http.get(url).send().await.ok()?;
                let v: Value = r.json().await.ok()?;
                v["value"]["ready"].as_bool().filter(|r| *r)
            }
        })
        .await;
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("a WebDriver session");
        let session = client
            .session_id()
            .await
            .expect("session id")
            .expect("a session id");
        let browser = Browser {
            client,
            driver_url,
            session,
            http,
            _driver: driver,
            _profile: profile,
            _turn: turn,
        };
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": HOOK}),
            )
            .await;
        browser
    }

    /// A DevTools command, through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let url = format!(
            "{}/session/{}/goog/cdp/execute",
            self.driver_url, self.session
        );
        let r = self
            .http
            .post(url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .expect("cdp request");
        let status = r.status();
        let body: Value = r.json().await.expect("cdp answer");
        assert!(status.is_success(), "{cmd}: {body}");
        body["value"].clone()
    }

    /// The screen of a phone 375 px wide from now on.
    pub async fn phone(&self) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 375, "height": 740, "deviceScaleFactor": 2, "mobile": true}),
        )
        .await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    /// Runs `script` (a function body) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something other than null, false or "".
    pub async fn wait_js(&self, what: &str, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(script).await;
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            if start.elapsed() > PAGE_WAIT {
                let errors = self.page_errors().await;
                let shown = self
                    .js("return document.body.innerText.slice(0, 2000);")
                    .await;
                panic!("timed out waiting for {what}; page errors: {errors:?}; page text: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Text of the element `css`, or "" when it is missing or hidden.
    pub async fn text(&self, css: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e && !e.closest('[hidden]') ? e.textContent : '';",
            json!(css)
        );
        self.js(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the visible text of `css` contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); const t = e && !e.closest('[hidden]') ? e.textContent : ''; return t.includes({}) ? t : null;",
            json!(css),
            json!(needle)
        );
        self.wait_js(&format!("{css} to show {needle:?}"), &script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Replaces the value of the field `css` by typing `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.expect("clear");
        if !text.is_empty() {
            field.send_keys(text).await.expect("typing");
        }
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// Presses and releases `key` on the page (as a person would, not a synthetic event).
    pub async fn press(&self, key: char) {
        let actions = KeyActions::new("keyboard".to_string())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(actions)
            .await
            .expect("key press");
    }

    /// What the hook recorded on the current page.
    pub async fn page_errors(&self) -> Vec<String> {
        let v = self
            .js("return window.__pageErrors || ['the error hook is missing'];")
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Entries of the browser's log since the last read, as "LEVEL message".
    pub async fn browser_log(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.driver_url, self.session);
        let r = self
            .http
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("log request");
        let body: Value = r.json().await.expect("log answer");
        body["value"]
            .as_array()
            .unwrap_or_else(|| panic!("no browser log: {body}"))
            .iter()
            .map(|e| format!("{} {}", e["level"].as_str().unwrap_or("?"), e["message"]))
            .collect()
    }

    /// Fails when the current page recorded an error or the browser logged one (warnings
    /// and below are allowed).
    pub async fn assert_clean(&self, page: &str) {
        let errors = self.page_errors().await;
        assert!(errors.is_empty(), "{page}: page errors {errors:?}");
        let severe: Vec<String> = self
            .browser_log()
            .await
            .into_iter()
            .filter(|e| e.starts_with("SEVERE"))
            .collect();
        assert!(severe.is_empty(), "{page}: browser errors {severe:?}");
    }

    /// (scrollWidth, clientWidth, innerWidth) of the document.
    pub async fn widths(&self) -> (i64, i64, i64) {
        let v = self
            .js("const d = document.documentElement; return [d.scrollWidth, d.clientWidth, window.innerWidth];")
            .await;
        let n = |i: usize| v[i].as_i64().unwrap_or(-1);
        (n(0), n(1), n(2))
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Polls `check` until it returns `Some`, for at most `limit`.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A small PNG (`w` × `h`, one colour), as an image host serves it.
pub fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}
