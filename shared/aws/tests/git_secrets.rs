//! `secretsmanager:` git credentials end to end (issue 17): a private repository behind Basic auth on a real
//! git smart-HTTP server on loopback, cloned with a token read from Secrets Manager through
//! [`SecretsManagerStore`], as prepare-source does. The secrets live in a moto of this test's own with IAM
//! enforced (enforcement is server-wide, so the shared moto is not used for it), read by an IAM user granted
//! `GetSecretValue` as prepare-source is; a user without it is denied. moto checks resources only for S3, so
//! the grant's ARN pattern (the prefix) is checked by infra/tests/test_iam_grants.py instead.
//! A name outside the prefix is refused before any request; the token is in no file of the checkout.
//! Needs moto's venv (`tests/start-moto.sh` makes it; `CERTUS_MOTO_ENDPOINT` says it is there).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use certus_aws::SecretsManagerStore;
use certus_core::ports::{Reuse, SourcePreparer};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;
use certus_source::{GitPolicy, LocalSourcePreparer, NamedSecrets, SecretStore, SourcePolicy};
use certus_testkit::{free_port, moto_endpoint, wait_for_port, GitHttpServer, KillOnDrop};

const PREFIX: &str = "certus-assurance/git/";

/// A secret made for this run: the process id and a per-process counter, never the clock.
fn token() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "smtok{}x{}Qv8Wd3Kp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn moto_python() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    cache.join("certus/venv-moto/bin/python")
}

/// Sets up the moto at `endpoint` with boto3 (IAM not yet enforced): the git secret under the prefix holding
/// `bot:<token>`, another application's secret, a user whose only grant is prepare-source's (Resource `*`:
/// moto asks about `*` for every service but S3) and a user without it; then turns IAM enforcement on.
/// Returns the two users' access key ids and secret keys.
fn set_up(endpoint: &str, token: &str) -> [(String, String); 2] {
    let script = format!(
        r#"
import json, urllib.request, boto3
kw = dict(endpoint_url="{endpoint}", region_name="us-east-1", aws_access_key_id="admin", aws_secret_access_key="admin")
sm = boto3.client("secretsmanager", **kw)
sm.create_secret(Name="{PREFIX}acme", SecretString="bot:{token}")
sm.create_secret(Name="other-app/db", SecretString="other-application-secret")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="prepare-source")
policy = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
    "Resource": "*"}}]}}
iam.put_user_policy(UserName="prepare-source", PolicyName="p", PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName="prepare-source")["AccessKey"]
iam.create_user(UserName="other")
other = iam.create_access_key(UserName="other")["AccessKey"]
urllib.request.urlopen(urllib.request.Request("{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={{"Content-Type": "text/plain"}}))
print(key["AccessKeyId"], key["SecretAccessKey"], other["AccessKeyId"], other["SecretAccessKey"])
"#
    );
    let out = Command::new(moto_python())
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    [
        (words[0].clone(), words[1].clone()),
        (words[2].clone(), words[3].clone()),
    ]
}

fn store(endpoint: &str, id: &str, secret: &str) -> SecretsManagerStore {
    let config = certus_testkit::emulator_sdk_config_as(endpoint, id, secret);
    SecretsManagerStore::new(&config)
}

use certus_testkit::git;

/// `app.git` (branch `main`) served at `/app.git` to `bot:<token>` only.
fn private_repository(dir: &Path, token: &str) -> GitHttpServer {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let bare = repos.join("app.git");
    git(
        dir,
        &["clone", "-q", "--bare", ".", bare.to_str().unwrap()].map(|a| {
            if a == "." {
                work.to_str().unwrap()
            } else {
                a
            }
        }),
    );
    let authorise = format!(
        "EXPECTED = \"Basic \" + base64.b64encode(b\"bot:{token}\").decode()\n\
         def authorise(auth):\n    return \"ok\" if auth == EXPECTED else (\"bad\" if auth else \"none\")\n"
    );
    GitHttpServer::start(dir, &repos, "", &authorise)
}

fn spec(url: &str, reference: &str) -> SourceSpec {
    SourceSpec::Git {
        git_url: url.to_string(),
        branch: Some("main".into()),
        commit: None,
        git_credentials_ref: Some(reference.to_string()),
    }
}

/// Every file under `root` whose bytes contain `needle`.
fn holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_repository_is_cloned_with_a_secrets_manager_token_under_the_prefix_only() {
    if moto_endpoint().is_none() {
        certus_testkit::skip(
            "CERTUS_MOTO_ENDPOINT is not set (moto's venv is made by tests/start-moto.sh)",
        );
        return;
    }
    let port = free_port();
    let script = certus_testkit::workspace_root().join("shared/aws/tests/moto_server_patched.py");
    let _moto = KillOnDrop(
        Command::new(moto_python())
            .arg(script)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    let endpoint = format!("http://127.0.0.1:{port}");
    let token = token();
    let [(key_id, key_secret), (other_id, other_secret)] = set_up(&endpoint, &token);
    let sm = Arc::new(store(&endpoint, &key_id, &key_secret));

    // IAM is enforced: a user without the grant is denied, and the error holds no secret.
    let denied = store(&endpoint, &other_id, &other_secret)
        .secret_string(&format!("{PREFIX}acme"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        denied.contains("git_credentials_ref: secretsmanager:") && denied.contains("403"),
        "{denied}"
    );
    assert!(!denied.contains(&token), "{denied}");

    let dir = tempfile::tempdir().unwrap();
    let server = private_repository(dir.path(), &token);
    let url = format!("http://127.0.0.1:{}/app.git", server.port);
    let preparer = |store: Arc<dyn SecretStore>| {
        LocalSourcePreparer::new(SourcePolicy {
            git: GitPolicy {
                // Credentials go over http:// only to an allow-listed host (the loopback server here).
                allow_hosts: vec!["127.0.0.1".into()],
                secrets: Some(NamedSecrets {
                    store,
                    prefix: PREFIX.into(),
                }),
                ..GitPolicy::default()
            },
            ..SourcePolicy::default()
        })
    };

    let run = dir.path().join("run");
    let ws = RunWorkspace::create(run.clone()).unwrap();
    let prepared = preparer(sm.clone())
        .prepare(
            &spec(&url, &format!("secretsmanager:{PREFIX}acme")),
            &ws,
            Reuse::Allowed { tenant: None },
            None,
        )
        .await
        .unwrap();
    assert_eq!(prepared.commit.as_ref().map(String::len), Some(40));
    assert!(prepared.root.join("requirements.txt").is_file());
    assert!(server.verdicts().contains(&"ok".to_string()));
    assert_eq!(holding(&run, &token), Vec::<PathBuf>::new());

    // Outside the prefix: refused naming the field before any request. The store here points at a
    // listener that records connections; none arrives.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let watched = Arc::new(store(
        &format!("http://{}", listener.local_addr().unwrap()),
        &key_id,
        &key_secret,
    ));
    let before = server.verdicts().len();
    for reference in [
        "secretsmanager:other-app/db",
        "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:other-app/db",
    ] {
        let ws = RunWorkspace::create(dir.path().join("refused")).unwrap();
        let err = preparer(watched.clone())
            .prepare(
                &spec(&url, reference),
                &ws,
                Reuse::Allowed { tenant: None },
                None,
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("git_credentials_ref: secretsmanager: only secrets named under"),
            "{err}"
        );
        assert!(!err.contains("other-application-secret"), "{err}");
        std::fs::remove_dir_all(dir.path().join("refused")).unwrap();
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a refused name reached the secrets service"
    );
    assert_eq!(
        server.verdicts().len(),
        before,
        "git ran for a refused name"
    );

    // Without a secrets store (certus scan / serve): refused naming the field.
    let ws = RunWorkspace::create(dir.path().join("local")).unwrap();
    let local = LocalSourcePreparer::new(SourcePolicy {
        git: GitPolicy {
            allow_hosts: vec!["127.0.0.1".into()],
            ..GitPolicy::default()
        },
        ..SourcePolicy::default()
    })
    .prepare(
        &spec(&url, &format!("secretsmanager:{PREFIX}acme")),
        &ws,
        Reuse::Allowed { tenant: None },
        None,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        local.contains("git_credentials_ref: secretsmanager: references are not available here"),
        "{local}"
    );
}
