//! The web console of `certus serve` and a bundle's `report.html` in a real browser: headless Chromium driven
//! over the W3C WebDriver protocol by chromedriver, both on loopback. A client signs in, starts a scan of a
//! tree with planted (random, labelled fake) secrets and a hostile file name, follows its progress live to
//! "scan complete", reads the findings with file:line and filters them to `high`, checks the evidence, the
//! audit trail and the Trust exchange; an auditor sees no write button and a forged request with its key is
//! still refused; `report.html` opened from `file://` shows the findings and makes no request; and the console
//! as deployed on AWS follows a job over the WebSocket API its `stream_url` names (`gateway.rs`).
//!
//! Needs Debian's `chromium` and `chromium-driver` (skipped without them, failed under `CI`). With
//! `CERTUS_SCREENSHOTS_DIR` set, the key pages are saved there as PNG (`docs/images/` in the repository).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod gateway;
mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use webdriver::Browser;

/// The server under test; killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A random credential, made at test time.
fn random_key(label: &str) -> String {
    format!(
        "{label}-{}",
        certus_core::ids::new_test_id().expect("randomness")
    )
}

/// Fake secrets built at run time, so no credential-shaped string sits in this file.
fn fake_aws_key() -> String {
    let id = certus_core::ids::new_test_id().expect("randomness");
    // AWS key ids use the base-32 alphabet: each random hex digit becomes one of the letters A to P.
    let letters: String = id[5..]
        .chars()
        .map(|c| char::from(b'A' + c.to_digit(16).unwrap_or(0) as u8))
        .collect();
    format!("{}{letters}QZXW", "AKIA")
}

fn fake_github_token() -> String {
    let id = certus_core::ids::new_test_id().expect("randomness");
    format!("{}{}{}", "ghp_", "Zq7Xw2Rt9Lm4Kp3Vb8Nc5Hy6", &id[5..])
}

/// A tree to scan: fake secrets on known lines of `app/settings.py`, and one in a file whose name is HTML.
const HOSTILE_NAME: &str = "<img src=x onerror=window.__pwned=1>.py";

fn planted_tree(root: &Path) -> PathBuf {
    let src = root.join("demo-app");
    std::fs::create_dir_all(src.join("app")).unwrap();
    std::fs::write(
        src.join("app/settings.py"),
        format!(
            "AWS_ACCESS_KEY_ID = \"{}\"  # FAKE, planted by the console browser test\n\
             GITHUB_TOKEN = \"{}\"  # FAKE, planted by the console browser test\n",
            fake_aws_key(),
            fake_github_token()
        ),
    )
    .unwrap();
    std::fs::write(
        src.join(HOSTILE_NAME),
        format!("TOKEN = \"{}\"  # FAKE\n", fake_github_token()),
    )
    .unwrap();
    std::fs::write(src.join("app/main.py"), "print('hello')\n").unwrap();
    src
}

/// A stand-in for a slow external scanner (it answers to `bandit`): it waits until the test creates `gate`,
/// so that the page is watching while the scan runs; then it reports no issue.
fn gated_bandit(root: &Path, gate: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = root.join("tools");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in --version) echo 'bandit 0 (test stand-in)'; exit 0;; esac\n\
         echo 'waiting for the test to open the gate' >&2\n\
         while [ ! -e '{}' ]; do sleep 0.1; done\n\
         echo '{{\"results\": [], \"errors\": []}}'\n",
        gate.display()
    );
    std::fs::write(bin.join("bandit"), script).unwrap();
    std::fs::set_permissions(bin.join("bandit"), std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn start_server(work: &Path, keys: &[(&str, Option<&str>)], allow: &Path, tools: &Path) -> Server {
    let entries: Vec<Value> = keys
        .iter()
        .map(|(key, role)| {
            let mut entry = json!({"key_sha256": certus_api::hash_key(key), "tenant": "demo",
                                   "workspaces": ["ws-demo"]});
            if let Some(role) = role {
                entry["role"] = json!(role);
            }
            entry
        })
        .collect();
    let keys_file = work.join("keys.json");
    std::fs::write(&keys_file, serde_json::to_string(&entries).unwrap()).unwrap();
    let data = work.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_certus"))
        .args(["serve", "--addr", "127.0.0.1:0", "--api-keys"])
        .arg(&keys_file)
        .arg("--data-dir")
        .arg(&data)
        .arg("--allow-root")
        .arg(allow)
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", tools)
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
        .env_remove("CERTUS_ASSURANCE_TRUST_BASE_URL")
        .env("PATH", "/usr/bin:/bin")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("certus serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("certus serve said where it listens")
            .expect("stderr");
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, base }
}

/// The browser's answer to a request the page did not offer: `[status, body]`.
async fn forged(browser: &Browser, method: &str, path: &str, body: &str) -> (u64, String) {
    let answer = browser
        .async_script(
            "const [method, path, body, done] = arguments;
             fetch(path, {method, body, headers: {'Authorization': 'Bearer ' + sessionStorage.getItem('certus.token'),
                                                  'Content-Type': 'application/json'}})
               .then(async (r) => done([r.status, await r.text()]), (e) => done([0, String(e)]));",
            json!([method, path, body]),
        )
        .await;
    (
        answer[0].as_u64().unwrap_or_default(),
        answer[1].as_str().unwrap_or_default().to_string(),
    )
}

async fn sign_in(browser: &Browser, base: &str, key: &str) {
    browser.goto(&format!("{base}/")).await;
    let field = browser.wait_for("#token").await;
    browser.type_into(&field, key).await;
    browser.click(&browser.wait_for("#sign-in").await).await;
    browser.wait_for("#scans-table").await;
}

/// Texts of the visible cells of one column of a table's body.
async fn column(browser: &Browser, table: &str, index: usize) -> Vec<String> {
    browser
        .script(
            "return [...document.querySelectorAll(arguments[0] + ' tbody tr')].filter((r) => !r.hidden)
               .map((r) => r.cells[arguments[1]].textContent);",
            json!([table, index]),
        )
        .await
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_and_the_report_work_in_a_real_browser() {
    let Some(chromedriver) =
        certus_testkit::installed(&["chromedriver"], &["/usr/lib/chromium/chromedriver"])
    else {
        return;
    };
    let Some(chromium) = certus_testkit::installed(&["chromium", "chromium-browser"], &[]) else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("certus-console-")
        .tempdir()
        .unwrap();
    let src = planted_tree(work.path());
    let gate = work.path().join("gate-open");
    let tools = gated_bandit(work.path(), &gate);
    let client_key = random_key("client");
    let auditor_key = random_key("auditor");
    let server = start_server(
        work.path(),
        &[(&client_key, None), (&auditor_key, Some("auditor"))],
        &src,
        &tools,
    );
    let base = server.base.clone();
    let browser = Browser::start(&chromedriver, &chromium).await;

    // Sign in as a client.
    browser.goto(&format!("{base}/")).await;
    browser.wait_for("#token").await;
    browser.screenshot("console-sign-in").await;
    sign_in(&browser, &base, &client_key).await;
    let who = browser.wait_text("#who", "client").await;
    assert!(who.contains("demo") && who.contains("ws-demo"), "{who}");

    // Start a scan of the planted tree.
    browser.click(&browser.wait_for("#nav-new").await).await;
    let set = |css: &'static str, text: String| {
        let browser = &browser;
        async move {
            let field = browser.wait_for(css).await;
            browser.clear(&field).await;
            browser.type_into(&field, &text).await;
        }
    };
    set("#f-component", "demo-app".into()).await;
    set("#f-assessment", "console-review".into()).await;
    set("#f-location", src.display().to_string()).await;
    set(
        "#f-manifest",
        serde_json::to_string_pretty(&json!({"product": "demo-app", "version": "1",
               "profiles": [{"name": "light", "tools": ["secrets", "bandit"], "thresholds": {}}]}))
        .unwrap(),
    )
    .await;
    browser.screenshot("console-new-scan").await;
    browser.click(&browser.wait_for("#submit-scan").await).await;

    // Live progress: the secrets scanner finishes while the stand-in holds the scan open; the page shows it
    // without a reload, then "scan complete" once the test opens the gate.
    browser
        .wait_text("#progress-log", "secrets: completed")
        .await;
    browser.wait_text("#progress-log", "bandit: started").await;
    let state = browser.wait_text("#progress-state", "").await;
    assert!(!state.contains("scan complete"), "{state}");
    browser.script("window.__samePage = true;", json!([])).await;
    browser.screenshot("console-live-progress").await;
    std::fs::write(&gate, "open").unwrap();
    let state = browser.wait_text("#progress-state", "scan complete").await;
    assert_eq!(state, "scan complete: SUCCEEDED");
    assert_eq!(
        browser
            .script("return window.__samePage === true;", json!([]))
            .await,
        json!(true),
        "the page was not reloaded: the events arrived live"
    );
    let test_id = browser.text(&browser.wait_for("#scan-id").await).await;
    assert!(test_id.starts_with("test_"), "{test_id}");
    browser.wait_text("#scan-facts", "Findings").await;

    // Findings with file:line, text only, then filtered to high.
    browser
        .click(&browser.wait_for("#tab-findings").await)
        .await;
    browser.wait_for("#findings-table tbody tr").await;
    let locations = column(&browser, "#findings-table", 2).await;
    assert!(
        locations.contains(&"app/settings.py:1".to_string()),
        "{locations:?}"
    );
    assert!(
        locations.contains(&"app/settings.py:2".to_string()),
        "{locations:?}"
    );
    assert!(
        locations.contains(&format!("{HOSTILE_NAME}:1")),
        "the hostile file name is shown as text: {locations:?}"
    );
    assert_eq!(
        browser
            .script(
                "return document.querySelectorAll('#findings-table img').length === 0 && window.__pwned === undefined;",
                json!([])
            )
            .await,
        json!(true),
        "a file name became markup"
    );
    let all = locations.len();
    browser.screenshot("console-findings").await;
    browser
        .click(
            &browser
                .wait_for("#filter-severity option[value=high]")
                .await,
        )
        .await;
    let severities = column(&browser, "#findings-table", 0).await;
    assert!(
        !severities.is_empty() && severities.len() < all,
        "{severities:?} of {all}"
    );
    assert!(severities.iter().all(|s| s == "high"), "{severities:?}");
    let count = browser.wait_text("#findings-count", "shown").await;
    assert_eq!(
        count,
        format!("{} of {all} finding(s) shown", severities.len())
    );
    browser.screenshot("console-findings-high").await;

    // Evidence: the stored bundle verifies.
    browser
        .click(&browser.wait_for("#tab-evidence").await)
        .await;
    browser.wait_text("#evidence-passed", "verified").await;
    let checks = column(&browser, "#evidence-table", 0).await;
    for check in ["index", "attestation", "signature"] {
        assert!(checks.iter().any(|c| c == check), "{checks:?}");
    }
    browser.screenshot("console-evidence").await;

    // The audit trail.
    browser.click(&browser.wait_for("#tab-audit").await).await;
    browser.wait_for("#audit-table tbody tr").await;
    let kinds = column(&browser, "#audit-table", 2).await;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("submitted"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "bundle_stored"), "{kinds:?}");
    browser.screenshot("console-audit").await;

    // The Trust exchange: a client may ask for the upload.
    browser.click(&browser.wait_for("#tab-trust").await).await;
    browser
        .click(&browser.wait_for("#upload-button").await)
        .await;
    browser.wait_text("#upload-status", "uploaded").await;
    let outcomes = browser.wait_text("#trust-table", "permitted").await;
    assert!(outcomes.contains("published"), "{outcomes}");
    assert!(
        browser.find("#upload-button").await.is_none(),
        "an uploaded scan offers no second upload"
    );
    browser.screenshot("console-trust").await;

    // The list, filtered by status.
    browser.click(&browser.wait_for("#nav-scans").await).await;
    browser
        .click(
            &browser
                .wait_for("#scan-filters select[name=status] option[value=SUCCEEDED]")
                .await,
        )
        .await;
    browser
        .click(&browser.wait_for("#scan-filters button[type=submit]").await)
        .await;
    browser
        .wait_for(&format!("#scans-table tr[data-test-id={test_id}]"))
        .await;
    browser.screenshot("console-scans").await;

    // An auditor: no write buttons, and the server still refuses a forged request.
    browser.click(&browser.wait_for("#sign-out").await).await;
    sign_in(&browser, &base, &auditor_key).await;
    browser.wait_text("#who", "auditor").await;
    assert_eq!(
        browser
            .script(
                "return document.getElementById('nav-new').hidden;",
                json!([])
            )
            .await,
        json!(true),
        "an auditor is offered no New scan link"
    );
    browser.goto(&format!("{base}/#/scan/{test_id}")).await;
    // A finished scan's history is replayed from the start.
    let state = browser.wait_text("#progress-state", "scan complete").await;
    assert_eq!(state, "scan complete: SUCCEEDED");
    let replayed = browser.text(&browser.wait_for("#progress-log").await).await;
    assert!(
        replayed.starts_with("#1 scan started") && replayed.contains("secrets: completed"),
        "{replayed}"
    );
    browser.click(&browser.wait_for("#tab-trust").await).await;
    browser.wait_for("#upload-status").await;
    browser
        .wait_text("#panel-trust", "Exchanges with Certus-Trust")
        .await;
    assert!(
        browser.find("#upload-button").await.is_none(),
        "an auditor is offered the upload button"
    );
    browser.screenshot("console-auditor").await;
    let (status, body) = forged(
        &browser,
        "POST",
        &format!("/v1/security-scans/{test_id}/upload-request"),
        "{}",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("auditor"), "{body}");
    let submission = json!({"workspace_id": "ws-demo", "component_id": "x", "assessment_id": "y",
        "source_type": "directory", "directory_path": src.display().to_string(),
        "manifest": {"profiles": [{"name": "light", "tools": ["secrets"]}]}});
    let (status, body) = forged(
        &browser,
        "POST",
        "/v1/security-scans",
        &submission.to_string(),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // report.html from file://: the findings, and no request at all.
    let job: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}/v1/security-scans/{test_id}"))
        .bearer_auth(&auditor_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The API shows the server's data directory as `<data>` (W8); the file is read on the server's disk.
    let shown = job["bundle_location"].as_str().expect("a bundle");
    let bundle = work
        .path()
        .join("data")
        .join(shown.strip_prefix("<data>/").expect("under <data>"));
    browser
        .goto(&format!("file://{}", bundle.join("report.html").display()))
        .await;
    browser.wait_for("#findings tbody tr").await;
    let locations = column(&browser, "#findings", 2).await;
    assert!(
        locations.contains(&"app/settings.py:1".to_string()),
        "{locations:?}"
    );
    assert!(
        locations.contains(&format!("{HOSTILE_NAME}:1")),
        "{locations:?}"
    );
    let report = browser
        .script(
            "return {
               requests: performance.getEntriesByType('resource').map((e) => e.name),
               policy: (document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]') || {}).content,
               images: document.querySelectorAll('#findings img').length,
               pwned: window.__pwned === undefined ? null : window.__pwned,
             };",
            json!([]),
        )
        .await;
    assert_eq!(
        report["requests"],
        json!([]),
        "report.html fetched something"
    );
    assert!(
        report["policy"]
            .as_str()
            .is_some_and(|p| p.starts_with("default-src 'none'")),
        "{report}"
    );
    assert_eq!(report["images"], 0, "{report}");
    assert_eq!(report["pwned"], Value::Null, "{report}");
    browser.screenshot("report-html").await;

    // The console as deployed on AWS: live progress over the WebSocket API the job's stream_url names.
    gateway::the_console_follows_a_job_over_the_websocket_api(&browser, &client_key).await;

    drop(browser);
    drop(server);
}
