//! A small W3C WebDriver client: starts `chromedriver` on a loopback port it picks itself, opens one
//! headless Chromium session with a fresh profile and every background service off, and offers the few
//! commands the browser tests need. Both processes are ended when the [`Browser`] is dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait may take before the test fails (a deadline for a broken page, not a speed check).
const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Clone)]
pub struct Element(String);

impl Browser {
    pub async fn start(chromedriver: &Path, chromium: &Path) -> Self {
        let mut driver = Command::new(chromedriver)
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut lines = BufReader::new(driver.stdout.take().expect("stdout")).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("chromedriver printed its port")
                .expect("chromedriver output");
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').parse::<u16>().expect("a port");
            }
        };
        // Keep reading, so that chromedriver never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let profile = tempfile::tempdir().expect("profile dir");
        // Other workspace crates select reqwest's rustls backend without a default crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let mut browser = Self {
            http,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            driver,
            _profile: profile,
        };
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--no-proxy-server",
            // Belt and braces: no name resolves, so nothing can leave the machine.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        )])
        .collect::<Vec<_>>();
        let created = browser
            .call(
                reqwest::Method::POST,
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": args},
                }}})),
            )
            .await;
        browser.session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser
    }

    /// One command; panics with WebDriver's error when it fails.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method.clone(), path, body)
            .await
            .unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"))
    }

    /// One command: its `value`, or WebDriver's error object.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let ok = response.status().is_success();
        let mut answer: Value = response.json().await.expect("WebDriver JSON");
        let value = answer["value"].take();
        if ok {
            Ok(value)
        } else {
            Err(value)
        }
    }

    fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub async fn goto(&self, url: &str) {
        self.call(
            reqwest::Method::POST,
            &self.at("/url"),
            Some(json!({"url": url})),
        )
        .await;
    }

    pub async fn find(&self, css: &str) -> Option<Element> {
        let found = self
            .try_call(
                reqwest::Method::POST,
                &self.at("/element"),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        match found {
            Ok(value) => Some(Element(value[ELEMENT].as_str()?.to_string())),
            Err(error) if error["error"] == "no such element" => None,
            Err(error) => panic!("find {css}: {error}"),
        }
    }

    /// The element, once the page has it.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(element) = self.find(css).await {
                return element;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "the page never showed {css}; it holds:\n{}",
                    self.page().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Where the browser is and what the page holds, for failure messages.
    async fn page(&self) -> String {
        let url = self
            .call(reqwest::Method::GET, &self.at("/url"), None)
            .await;
        let source = self
            .call(reqwest::Method::GET, &self.at("/source"), None)
            .await;
        let source = source.as_str().unwrap_or_default();
        format!("{url}\n{}", &source[..source.len().min(4000)])
    }

    /// The element's text, once it contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        let mut last = String::new();
        loop {
            if let Some(element) = self.find(css).await {
                last = self.text(&element).await;
                if last.contains(needle) {
                    return last;
                }
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "{css} never said {needle:?} (last: {last:?}); the page holds:\n{}",
                    self.page().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn click(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &self.at(&format!("/element/{}/click", element.0)),
            Some(json!({})),
        )
        .await;
    }

    pub async fn clear(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &self.at(&format!("/element/{}/clear", element.0)),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &self.at(&format!("/element/{}/value", element.0)),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn text(&self, element: &Element) -> String {
        let value = self
            .call(
                reqwest::Method::GET,
                &self.at(&format!("/element/{}/text", element.0)),
                None,
            )
            .await;
        value.as_str().unwrap_or_default().to_string()
    }

    /// Runs a function body in the page; `arguments[i]` are `args`.
    pub async fn script(&self, body: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            &self.at("/execute/sync"),
            Some(json!({"script": body, "args": args})),
        )
        .await
    }

    /// Runs an asynchronous function body; it reports by calling its last argument.
    pub async fn async_script(&self, body: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            &self.at("/execute/async"),
            Some(json!({"script": body, "args": args})),
        )
        .await
    }

    /// A PNG of the viewport into `$CERTUS_SCREENSHOTS_DIR/<name>.png`, when that variable is set.
    pub async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("CERTUS_SCREENSHOTS_DIR").map(PathBuf::from) else {
            return;
        };
        use base64::Engine;
        let png = self
            .call(reqwest::Method::GET, &self.at("/screenshot"), None)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("a PNG");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        std::fs::write(dir.join(format!("{name}.png")), bytes).expect("screenshot written");
    }
}

impl Drop for Browser {
    /// Ends the session (Chromium and its helpers exit), then chromedriver. Blocking, so that a test that
    /// panicked halfway leaves no browser behind either.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let port = self.base.rsplit(':').next().unwrap_or_default();
        if let Ok(mut stream) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                // chromedriver answers once Chromium has gone; it may keep the connection open after that.
                let mut answer = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut chunk) {
                    answer.extend_from_slice(&chunk[..n]);
                    if answered(&answer) {
                        break;
                    }
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether `bytes` hold a whole HTTP answer: its headers and as many body bytes as `Content-Length` says.
fn answered(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= length
}
