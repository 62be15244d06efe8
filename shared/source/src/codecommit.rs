//! HTTPS git credentials for AWS CodeCommit, derived from the caller's own AWS credentials (a Lambda's role):
//! CodeCommit accepts, instead of static HTTPS git credentials, the access key id (with `%` and the session
//! token when there is one) as user name and a SigV4 signature over a `GIT` request for the repository path
//! as password. They are handed only to git processes whose remote is a CodeCommit host, through a credential
//! helper that reads them from that process's environment, never from argv, URLs or logs.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use certus_core::error::Result;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// AWS credentials as SigV4 needs them. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where the credentials for CodeCommit come from (on Lambda: the function's role, asked at each clone so
/// rotated credentials are used).
#[async_trait]
pub trait CodeCommitCredentials: Send + Sync + fmt::Debug {
    async fn credentials(&self) -> Result<AwsCredentials>;
}

/// Shared handle to a credential source, as [`crate::GitPolicy`] holds it.
pub type CredentialSource = Arc<dyn CodeCommitCredentials>;

/// The region of a CodeCommit git host (`git-codecommit.<region>.amazonaws.com`, or its `-fips` form);
/// `None` for every other host.
pub(crate) fn region_of(host: &str) -> Option<&str> {
    let rest = host
        .strip_prefix("git-codecommit.")
        .or_else(|| host.strip_prefix("git-codecommit-fips."))?;
    let region = rest.strip_suffix(".amazonaws.com")?;
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then_some(region)
}

/// The user name git sends: the key id, and `%<session token>` for temporary credentials.
pub(crate) fn username(credentials: &AwsCredentials) -> String {
    match &credentials.session_token {
        Some(token) => format!("{}%{token}", credentials.access_key_id),
        None => credentials.access_key_id.clone(),
    }
}

/// The password git sends: `<timestamp>Z<signature>`, the SigV4 signature (service `codecommit`) of the
/// canonical request `GIT <path>` with only the `host` header signed. `timestamp` is `yyyymmddTHHMMSS` (UTC).
pub(crate) fn password(
    credentials: &AwsCredentials,
    region: &str,
    host: &str,
    path: &str,
    timestamp: &str,
) -> String {
    let canonical = format!("GIT\n{path}\n\nhost:{host}\n\nhost\n");
    let date = timestamp.get(..8).unwrap_or(timestamp);
    let scope = format!("{date}/{region}/codecommit/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let secret = format!("AWS4{}", credentials.secret_access_key);
    let key = [date, region, "codecommit", "aws4_request"]
        .iter()
        .fold(secret.into_bytes(), |key, part| hmac(&key, part.as_bytes()));
    format!(
        "{timestamp}Z{}",
        hex::encode(hmac(&key, string_to_sign.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this never falls back.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn credentials(token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_string),
        }
    }

    /// The same signature computed independently, with Python's hmac and hashlib.
    fn python_password(secret: &str, region: &str, host: &str, path: &str, ts: &str) -> String {
        let script = r#"
import hashlib, hmac, sys
secret, region, host, path, ts = sys.argv[1:6]
def h(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
canonical = "GIT\n%s\n\nhost:%s\n\nhost\n" % (path, host)
scope = "%s/%s/codecommit/aws4_request" % (ts[:8], region)
sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (ts, scope, hashlib.sha256(canonical.encode()).hexdigest())
k = ("AWS4" + secret).encode()
for part in (ts[:8], region, "codecommit", "aws4_request"):
    k = h(k, part)
print("%sZ%s" % (ts, hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()))
"#;
        let out = Command::new("python3")
            .args(["-c", script, secret, region, host, path, ts])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn the_password_is_the_sigv4_signature_of_the_git_request() {
        let creds = credentials(None);
        let host = "git-codecommit.eu-west-1.amazonaws.com";
        let ours = password(
            &creds,
            "eu-west-1",
            host,
            "/v1/repos/app",
            "20261205T003000",
        );
        let theirs = python_password(
            &creds.secret_access_key,
            "eu-west-1",
            host,
            "/v1/repos/app",
            "20261205T003000",
        );
        assert_eq!(ours, theirs);
        assert!(ours.starts_with("20261205T003000Z"));
        assert_eq!(ours.len(), "20261205T003000Z".len() + 64);
        // Anything signed differs when the path, region or time differs.
        assert_ne!(
            ours,
            password(
                &creds,
                "eu-west-1",
                host,
                "/v1/repos/other",
                "20261205T003000"
            )
        );
        assert_ne!(
            ours,
            password(
                &creds,
                "eu-west-2",
                host,
                "/v1/repos/app",
                "20261205T003000"
            )
        );
    }

    #[test]
    fn the_user_name_carries_the_session_token_after_a_percent_sign() {
        assert_eq!(username(&credentials(None)), "AKIDEXAMPLE");
        assert_eq!(
            username(&credentials(Some("tok/en="))),
            "AKIDEXAMPLE%tok/en="
        );
        let shown = format!("{:?}", credentials(Some("tok/en=")));
        assert!(
            !shown.contains("tok/en=") && !shown.contains("EXAMPLEKEY"),
            "{shown}"
        );
    }

    #[test]
    fn only_codecommit_git_hosts_have_a_region() {
        assert_eq!(
            region_of("git-codecommit.us-east-1.amazonaws.com"),
            Some("us-east-1")
        );
        assert_eq!(
            region_of("git-codecommit-fips.us-gov-west-1.amazonaws.com"),
            Some("us-gov-west-1")
        );
        for other in [
            "github.com",
            "git-codecommit.us-east-1.amazonaws.com.evil.example",
            "git-codecommit..amazonaws.com",
            "evil-git-codecommit.us-east-1.amazonaws.com",
            "git-codecommit.us east.amazonaws.com",
        ] {
            assert_eq!(region_of(other), None, "{other}");
        }
    }
}
