//! A private repository scanned through `git_credentials_ref` (issue 17, V3 of the 2026-12 red-team): a real
//! git smart-HTTP server on loopback (`git http-backend` behind a small Python bridge) answers 401 unless
//! Basic auth carries the right token. With the reference the clone succeeds and the scan completes; without
//! it, or with a wrong secret, the scan fails with an error that holds no secret; references outside the
//! allowed forms are refused before anything runs; and no file the scans wrote holds the token.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use certus_testkit::GitHttpServer;

const VARIABLE: &str = "CERTUS_ASSURANCE_GIT_CREDENTIAL_PRIVATE_REPO_TEST";

/// The server's judgement: `ok` only for Basic auth `user:token`.
fn basic_auth(user: &str, token: &str) -> String {
    format!(
        "EXPECTED = \"Basic \" + base64.b64encode(b\"{user}:{token}\").decode()\n\
         def authorise(auth):\n    return \"ok\" if auth == EXPECTED else (\"bad\" if auth else \"none\")\n"
    )
}

/// A secret made for this run: the process id and a per-process counter, never the clock.
fn token() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "tok{}x{}Zq7Vw2Lm9",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

use certus_testkit::git;

/// A private repository `app.git` (branch `main`, a `requirements.txt`) served at `/app.git` to
/// `bot:<token>` only.
fn private_repository(dir: &Path, token: &str) -> GitHttpServer {
    private_repository_for(dir, "bot", token)
}

/// The same repository served to `user:<token>` only.
fn private_repository_for(dir: &Path, user: &str, token: &str) -> GitHttpServer {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            repos.join("app.git").to_str().unwrap(),
        ],
    );
    GitHttpServer::start(dir, &repos, "", &basic_auth(user, token))
}

/// `certus scan` of the repository at `url`, with `data` as its data directory, `bundle` as its output and
/// `env` added to a clean environment.
fn scan(work: &Path, url: &str, extra: &[&str], env: &[(&str, &str)], bundle: &Path) -> Output {
    let manifest = work.join("m.json");
    std::fs::write(
        &manifest,
        r#"{"product":"p","profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_certus"))
        .args(["scan", url, "--source-type", "git", "--branch", "main"])
        .arg("--manifest")
        .arg(&manifest)
        .arg("--out")
        .arg(bundle)
        .arg("--keep-workspace")
        .args(extra)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", work)
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", work.join("data"))
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", work.join("no-tools"))
        .env("CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS", "127.0.0.1")
        .envs(env.iter().copied())
        .output()
        .expect("certus runs")
}

/// Every regular file under `root`.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if meta.is_file() {
            files.push(path);
        }
    }
    files
}

fn holding(roots: &[&Path], needle: &str) -> Vec<String> {
    roots
        .iter()
        .flat_map(|root| files_under(root))
        .filter(|file| {
            let bytes = std::fs::read(file).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .map(|file| file.display().to_string())
        .collect()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_private_repository_is_scanned_through_its_reference_and_the_token_is_written_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let server = private_repository(dir.path(), &token);
    let url = format!("http://127.0.0.1:{}/app.git", server.port);
    let reference = format!("env:{VARIABLE}");
    let bundle = dir.path().join("bundle");
    let secret = format!("bot:{token}");

    let done = scan(
        dir.path(),
        &url,
        &["--git-credentials-ref", &reference],
        &[(VARIABLE, &secret)],
        &bundle,
    );
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert!(
        server.verdicts().iter().any(|v| v == "ok"),
        "{:?}",
        server.verdicts()
    );
    assert!(
        !server.verdicts().iter().any(|v| v == "bad"),
        "{:?}",
        server.verdicts()
    );
    assert!(bundle.join("scan.json").is_file());
    assert!(!text(&done).contains(&token));
    let data = dir.path().join("data");
    assert!(data.join("certus.db").is_file());
    // The job keeps the reference (a name) ...
    assert!(
        !holding(&[&data], &reference["env:".len()..]).is_empty(),
        "the job record does not keep the reference"
    );
    // ... and nothing written anywhere holds the secret: database, kept workspace and clone, bundle,
    // report, scan.json, provenance.
    assert_eq!(holding(&[&data, &bundle], &token), Vec::<String>::new());
    assert!(files_under(&data).len() > 5 && files_under(&bundle).len() > 3);
}

#[test]
fn without_the_reference_or_with_a_wrong_secret_the_scan_fails_without_showing_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let server = private_repository(dir.path(), &token);
    let url = format!("http://127.0.0.1:{}/app.git", server.port);
    let bundles: Vec<PathBuf> = (0..4)
        .map(|n| dir.path().join(format!("bundle-{n}")))
        .collect();

    let anonymous = scan(dir.path(), &url, &[], &[], &bundles[0]);
    assert_ne!(anonymous.status.code(), Some(0), "{}", text(&anonymous));
    assert!(
        text(&anonymous).contains("git fetch failed"),
        "{}",
        text(&anonymous)
    );
    assert!(
        server.verdicts().iter().all(|v| v == "none"),
        "{:?}",
        server.verdicts()
    );

    // A wrong secret, from a file in the credentials directory.
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let wrong = format!("{token}-wrong");
    std::fs::write(credentials.join("acme"), format!("bot:{wrong}\n")).unwrap();
    let refused = scan(
        dir.path(),
        &url,
        &["--git-credentials-ref", "file:acme"],
        &[(
            "CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR",
            credentials.to_str().unwrap(),
        )],
        &bundles[1],
    );
    assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));
    assert!(
        text(&refused).contains("git fetch failed"),
        "{}",
        text(&refused)
    );
    assert!(!text(&refused).contains(&wrong), "{}", text(&refused));
    assert!(
        text(&refused).contains("Authentication failed"),
        "{}",
        text(&refused)
    );
    assert!(
        server.verdicts().iter().any(|v| v == "bad"),
        "{:?}",
        server.verdicts()
    );
    assert!(
        !server.verdicts().iter().any(|v| v == "ok"),
        "{:?}",
        server.verdicts()
    );

    // The right secret in the same file: the same reference now clones.
    std::fs::write(credentials.join("acme"), format!("bot:{token}\n")).unwrap();
    let done = scan(
        dir.path(),
        &url,
        &["--git-credentials-ref", "file:acme"],
        &[(
            "CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR",
            credentials.to_str().unwrap(),
        )],
        &bundles[2],
    );
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));

    // A file: reference where no credentials directory is configured fails naming the setting.
    let unset = scan(
        dir.path(),
        &url,
        &["--git-credentials-ref", "file:acme"],
        &[],
        &bundles[3],
    );
    assert_ne!(unset.status.code(), Some(0));
    assert!(
        text(&unset).contains("CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR is not set"),
        "{}",
        text(&unset)
    );

    let data = dir.path().join("data");
    let mut written: Vec<&Path> = bundles.iter().map(PathBuf::as_path).collect();
    written.push(&data);
    assert_eq!(holding(&written, &token), Vec::<String>::new());
}

#[test]
fn references_outside_the_allowed_forms_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let server = private_repository(dir.path(), &token);
    let url = format!("http://127.0.0.1:{}/app.git", server.port);
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(dir.path().join("outside"), format!("bot:{token}")).unwrap();
    for reference in [
        "env:AWS_SECRET_ACCESS_KEY",
        "env:HOME",
        "file:../outside",
        "file:/etc/passwd",
        "secretsmanager:arn:aws:secretsmanager:eu-west-1:000000000000:secret:x",
    ] {
        let refused = scan(
            dir.path(),
            &url,
            &["--git-credentials-ref", reference],
            &[
                ("AWS_SECRET_ACCESS_KEY", token.as_str()),
                (
                    "CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR",
                    credentials.to_str().unwrap(),
                ),
            ],
            &dir.path().join("bundle"),
        );
        assert_ne!(refused.status.code(), Some(0), "{reference}");
        assert!(
            text(&refused).contains("git_credentials_ref"),
            "{reference}: {}",
            text(&refused)
        );
        assert!(!text(&refused).contains(&token), "{}", text(&refused));
    }
    // Refused while the submission was validated: git never asked the server anything, and no job was
    // recorded.
    assert_eq!(server.verdicts(), Vec::<String>::new());
    assert!(!dir.path().join("bundle").exists());
    let data = dir.path().join("data");
    assert_eq!(holding(&[&data], &token), Vec::<String>::new());
    assert_eq!(holding(&[&data], "app.git"), Vec::<String>::new());
}

/// `curl ARGS`: its status code line last (`-w`), the body before it.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

#[test]
fn certus_serve_scans_a_private_repository_through_the_submissions_reference() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let token = token();
    let server = private_repository(work, &token);
    let url = format!("http://127.0.0.1:{}/app.git", server.port);
    let key = format!("test-api-key-{}", std::process::id());
    let hash = Command::new(env!("CARGO_BIN_EXE_certus"))
        .args(["serve", "--hash-key", &key])
        .output()
        .unwrap();
    std::fs::write(
        work.join("keys.json"),
        format!(
            r#"[{{"key_sha256": "{}", "tenant": "acme", "workspaces": ["ws"]}}]"#,
            String::from_utf8(hash.stdout).unwrap().trim()
        ),
    )
    .unwrap();
    let data = work.join("data");
    let port = certus_testkit::free_port();
    let serve = certus_testkit::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_certus"))
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--api-keys",
            ])
            .arg(work.join("keys.json"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", work)
            .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
            .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", work.join("no-tools"))
            .env("CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS", "127.0.0.1")
            .env(VARIABLE, format!("bot:{token}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    certus_testkit::wait_for_port(port);
    let base = format!("http://127.0.0.1:{port}/v1/security-scans");
    let auth = format!("Authorization: Bearer {key}");
    let submit = |reference: &str| {
        let body = serde_json::json!({
            "workspace_id": "ws", "component_id": "c", "assessment_id": "a",
            "git_url": url, "branch": "main", "git_credentials_ref": reference,
            "manifest": {"product": "p", "profiles": [{"name": "light",
                "tools": [{"id": "sbom", "config": {"advisories": "off"}}], "thresholds": {}}]},
        });
        curl(&[
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            "-d",
            &body.to_string(),
            &base,
        ])
    };

    let (code, answer) = submit("env:AWS_SECRET_ACCESS_KEY");
    assert_eq!(code, 422, "{answer}");
    assert!(answer.contains("git_credentials_ref"), "{answer}");

    let reference = format!("env:{VARIABLE}");
    let (code, answer) = submit(&reference);
    assert_eq!(code, 202, "{answer}");
    let accepted: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let id = accepted["test_id"].as_str().unwrap().to_string();
    let mut record = serde_json::Value::Null;
    for _ in 0..1200 {
        let (_, text) = curl(&["-H", &auth, &format!("{base}/{id}")]);
        record = serde_json::from_str(&text).unwrap();
        if record["status"] == "SUCCEEDED" || record["status"] == "FAILED" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(
        record["submission"]["source"]["git_credentials_ref"], reference,
        "{record}"
    );
    assert!(
        server.verdicts().iter().any(|v| v == "ok"),
        "{:?}",
        server.verdicts()
    );
    let (_, evidence) = curl(&["-H", &auth, &format!("{base}/{id}/evidence")]);
    assert!(!evidence.contains(&token));
    assert!(!record.to_string().contains(&token));
    // Stopped first, so that every file it wrote (its database journal included) is complete.
    drop(serve);
    assert!(!holding(&[&data], &reference["env:".len()..]).is_empty());
    assert_eq!(holding(&[&data], &token), Vec::<String>::new());
}

/// A stand-in for the GitHub API's installation-token route on loopback: it answers
/// `POST /app/installations/<installation>/access_tokens` with `token` only for an RS256 App JWT whose
/// signature `openssl` verifies with `public.pem`, whose `iss` is the App's id, whose `iat` is set back for
/// clock skew and whose `exp` is at most ten minutes ahead; anything else gets 401. Its log keeps verdicts only.
const GITHUB_API: &str = r#"
import base64, http.server, json, os, subprocess, sys, tempfile, time
public, port_file, log, token, app_id, installation = sys.argv[1:7]
def unb64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
def verdict(handler):
    if handler.path != "/app/installations/%s/access_tokens" % installation:
        return "path"
    if handler.headers.get("Accept") != "application/vnd.github+json":
        return "accept"
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return "none"
    parts = auth[len("Bearer "):].split(".")
    if len(parts) != 3:
        return "shape"
    header, claims = json.loads(unb64(parts[0])), json.loads(unb64(parts[1]))
    with tempfile.NamedTemporaryFile(delete=False) as sig:
        sig.write(unb64(parts[2]))
    checked = subprocess.run(["openssl", "dgst", "-sha256", "-verify", public, "-signature", sig.name],
                             input=(parts[0] + "." + parts[1]).encode(), capture_output=True)
    os.unlink(sig.name)
    if header.get("alg") != "RS256" or checked.returncode != 0:
        return "signature"
    now = int(time.time())
    if str(claims.get("iss")) != app_id:
        return "iss"
    if not (claims["iat"] <= now - 30 and now < claims["exp"] <= claims["iat"] + 660):
        return "times"
    return "ok"
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        v = verdict(self)
        with open(log, "a") as f:
            f.write(v + "\n")
        if v == "ok":
            status, body = 201, {"token": token, "expires_at": "2099-01-01T00:00:00Z"}
        else:
            status, body = 401, {"message": "Bad credentials " + token[:0] + "SERVER-BODY-MARKER"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
"#;

struct GitHubApi {
    _process: certus_testkit::KillOnDrop,
    port: u16,
    log: PathBuf,
}

impl GitHubApi {
    fn start(scratch: &Path, public: &Path, token: &str, app_id: &str, installation: &str) -> Self {
        let script = scratch.join("github-api.py");
        std::fs::write(&script, GITHUB_API).unwrap();
        let port_file = scratch.join("github-api.port");
        let log = scratch.join("github-api.log");
        let child = Command::new("python3")
            .arg(&script)
            .arg(public)
            .arg(&port_file)
            .arg(&log)
            .args([token, app_id, installation])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let process = certus_testkit::KillOnDrop(child);
        let port = certus_testkit::port_from_file(&port_file, "the GitHub API stand-in");
        Self {
            _process: process,
            port,
            log,
        }
    }

    fn verdicts(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A 2048-bit RSA key made for this run by `openssl genpkey` at `<dir>/<name>.pem`, its public half at
/// `<dir>/<name>.pub.pem`; returns a line of the private key's base64 body (to look for in written files).
fn rsa_key(dir: &Path, name: &str) -> String {
    let private = dir.join(format!("{name}.pem"));
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(dir.join(format!("{name}.pub.pem")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(&private).unwrap();
    pem.lines().nth(3).unwrap().to_string()
}

#[test]
fn a_private_repository_is_cloned_with_a_github_app_installation_token_minted_from_the_apps_key() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let key_line = rsa_key(&credentials, "app");
    let wrong_line = rsa_key(&credentials, "other");
    let token = token();
    let server = private_repository_for(dir.path(), "x-access-token", &token);
    let url = format!("http://127.0.0.1:{}/app.git", server.port);
    let api = GitHubApi::start(
        dir.path(),
        &credentials.join("app.pub.pem"),
        &token,
        "424242",
        "9001",
    );
    let api_url = format!("http://127.0.0.1:{}", api.port);
    let env = [
        (
            "CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR",
            credentials.to_str().unwrap(),
        ),
        ("CERTUS_ASSURANCE_GITHUB_API_URL", api_url.as_str()),
        ("CERTUS_ASSURANCE_FETCH_ALLOW_PLAIN_HTTP", "127.0.0.1"),
    ];
    let bundle = dir.path().join("bundle");

    let done = scan(
        dir.path(),
        &url,
        &[
            "--git-credentials-ref",
            "githubapp:424242:9001:file:app.pem",
        ],
        &env,
        &bundle,
    );
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_eq!(api.verdicts(), vec!["ok".to_string()]);
    assert!(
        server.verdicts().iter().any(|v| v == "ok"),
        "{:?}",
        server.verdicts()
    );
    assert!(bundle.join("scan.json").is_file());
    assert!(!text(&done).contains(&token) && !text(&done).contains(&key_line));
    let data = dir.path().join("data");
    for needle in [&token, &key_line] {
        assert_eq!(holding(&[&data, &bundle], needle), Vec::<String>::new());
    }
    assert!(files_under(&data).len() > 5 && files_under(&bundle).len() > 3);

    // The App's id right, its key wrong: the API refuses the JWT and the scan fails before git is asked.
    let git_requests = server.verdicts().len();
    let refused = scan(
        dir.path(),
        &url,
        &[
            "--git-credentials-ref",
            "githubapp:424242:9001:file:other.pem",
        ],
        &env,
        &dir.path().join("bundle-wrong-key"),
    );
    assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));
    let said = text(&refused);
    assert!(
        said.contains(
            "git_credentials_ref: githubapp: no installation token for installation 9001 of App 424242"
        ) && said.contains("401"),
        "{said}"
    );
    for shown in [
        token.as_str(),
        key_line.as_str(),
        wrong_line.as_str(),
        "SERVER-BODY-MARKER",
        "Bearer",
    ] {
        assert!(!said.contains(shown), "{shown}: {said}");
    }
    assert_eq!(api.verdicts().last().map(String::as_str), Some("signature"));
    assert_eq!(
        server.verdicts().len(),
        git_requests,
        "git was asked without a token"
    );

    // A key that is not an RSA key in PEM form is refused naming that, without reaching the API.
    std::fs::write(credentials.join("junk.pem"), "not a key\n").unwrap();
    let junk = scan(
        dir.path(),
        &url,
        &[
            "--git-credentials-ref",
            "githubapp:424242:9001:file:junk.pem",
        ],
        &env,
        &dir.path().join("bundle-junk"),
    );
    assert_ne!(junk.status.code(), Some(0), "{}", text(&junk));
    assert!(
        text(&junk).contains("githubapp: the App's key is not an RSA private key in PEM form"),
        "{}",
        text(&junk)
    );
    assert_eq!(api.verdicts().len(), 2);
}
