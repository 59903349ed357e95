//! A real headless Chromium, driven over WebDriver by Debian's `chromedriver` (same source
//! version as the browser, so the two cannot drift), for the operator page's tests.
//!
//! When either is missing, the first browser test installs both (`tests/tools/chromium.sh`,
//! once per test process; it needs root or sudo); when that fails, the tests fail and say why. What WebDriver cannot see is read from the page itself: the page's own
//! script collects script errors and everything its Content-Security-Policy blocks into
//! `#ui-errors`, and the browser's resource timing says which request failed.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::{Value, json};

use super::wait::eventually_within;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Browser start-up and page loads on a busy two-core machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// One browser session; the driver (and with it the browser) ends when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium behind it, with a
    /// viewport of `width` × `height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        super::tools::install_chromium();
        let port = free_port();
        // A process group of its own: the browser it starts is killed with it (see `Drop`).
        let driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let caps = capabilities(profile.path(), width, height);
        let url = format!("http://127.0.0.1:{port}");
        let client = eventually_within("chromedriver to start a browser", DEADLINE, async || {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
                .ok()
        })
        .await;
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .expect("the browser opens the page");
    }

    /// The first element `css` selects, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(DEADLINE)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => panic!("no element {css}: {e}\npage: {}", self.text().await),
        }
    }

    /// Whether `css` selects anything now (no waiting).
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("the browser answers")
            .is_empty()
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The visible text of the first element `css` selects (waiting for it).
    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    /// Waits until the page's text holds `wanted`.
    pub async fn wait_text(&self, wanted: &str) {
        let what = format!("the page to say {wanted:?}");
        eventually_within(&what, DEADLINE, async || {
            self.text().await.contains(wanted).then_some(())
        })
        .await;
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .expect("the element takes a click");
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("the field clears");
        // A long text is set directly: typing it key by key takes seconds.
        self.client
            .execute(
                "arguments[0].value = arguments[1];",
                vec![json!(field), json!(text)],
            )
            .await
            .expect("the field takes the text");
    }

    /// Waits until the browser is at `path` (with its query), after a click that navigates.
    pub async fn wait_path(&self, path: &str) {
        let what = format!("the browser to reach {path}");
        eventually_within(&what, DEADLINE, async || {
            (self.path().await == path).then_some(())
        })
        .await;
    }

    pub async fn path(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .expect("the browser has a page");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Fails unless the page logged no script error and no policy violation, and every
    /// request it made was answered with success.
    pub async fn assert_clean(&self) {
        let errors = self
            .client
            .execute(
                "const l = document.getElementById('ui-errors'); \
                 return l ? Array.from(l.children).map(c => c.textContent) : ['no #ui-errors'];",
                vec![],
            )
            .await
            .expect("the page answers");
        assert_eq!(errors, json!([]), "problems on {}", self.path().await);
        let failed = self
            .client
            .execute(
                "return performance.getEntriesByType('resource')\
                   .filter(e => !(e.responseStatus >= 200 && e.responseStatus < 400))\
                   .map(e => e.name + ' ' + e.responseStatus);",
                vec![],
            )
            .await
            .expect("the page answers");
        assert_eq!(
            failed,
            json!([]),
            "failed requests on {}",
            self.path().await
        );
    }

    /// What Deque's axe-core finds wrong with the page's accessibility (WCAG 2.1 A and AA
    /// rules and best practices), one line per rule broken: `rule (impact): N elements: help`.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        super::tools::install_npm_packages();
        let axe = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tools/axe/node_modules/axe-core/axe.min.js"
        );
        let source = std::fs::read_to_string(axe).expect("axe-core is installed");
        self.client
            .execute(&format!("{source}\nreturn true;"), vec![])
            .await
            .expect("axe-core loads into the page");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {resultTypes: ['violations']})\
                   .then(r => done(r.violations.map(v =>\
                     `${v.id} (${v.impact}): ${v.nodes.length} elements: ${v.help}: \
                      ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`)))\
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        serde_json::from_value(found).unwrap_or_else(|e| vec![format!("axe said: {e}")])
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("a screenshot")
    }

    /// Runs `script` in the page.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("the script runs")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and every browser process under it. Killing only the
        // driver leaves the browser running, hundreds of processes over a test run.
        if let Ok(group) = i32::try_from(self.driver.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group and touches no
            // memory of ours; the group is the one this driver was started in.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.driver.wait();
    }
}

fn capabilities(profile: &Path, width: u32, height: u32) -> serde_json::Map<String, Value> {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        "--hide-scrollbars".into(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut options = json!({"binary": CHROMIUM, "args": args});
    // A desktop window is at least 500 px wide: a phone's width needs the phone emulation.
    if width < 500 {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true},
        });
    }
    let caps = json!({"goog:chromeOptions": options, "pageLoadStrategy": "normal"});
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("its address").port()
}
