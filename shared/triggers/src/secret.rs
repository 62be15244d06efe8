//! Webhook secrets: resolved once from a reference (`env://NAME` or a file), never printed, and compared only
//! in constant time (an HMAC-SHA256 signature over the raw body, or a shared token).

use std::fmt;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shorter secrets are refused when the registrations are loaded.
pub const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 4096;

/// A resolved webhook secret. Its `Debug` form shows nothing of it.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Resolves `env://NAME` from the environment, anything else as a file path (relative paths from
    /// `base_dir`); one trailing newline of a file is dropped. The error never contains the secret.
    pub fn resolve(reference: &str, base_dir: &Path) -> Result<Self, String> {
        let bytes = if let Some(name) = reference.strip_prefix("env://") {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(
                    "env:// must name an environment variable (letters, digits, '_')".into(),
                );
            }
            std::env::var(name)
                .map_err(|_| format!("environment variable '{name}' is not set or not UTF-8"))?
                .into_bytes()
        } else {
            let path = base_dir.join(reference);
            let mut bytes = std::fs::read(&path).map_err(|e| {
                format!("is neither env://NAME nor a readable file (the value is not shown): {e}")
            })?;
            if bytes.ends_with(b"\n") {
                bytes.pop();
                if bytes.ends_with(b"\r") {
                    bytes.pop();
                }
            }
            bytes
        };
        if bytes.len() < MIN_SECRET_LEN {
            return Err(format!("the secret is shorter than {MIN_SECRET_LEN} bytes"));
        }
        if bytes.len() > MAX_SECRET_LEN {
            return Err(format!("the secret is longer than {MAX_SECRET_LEN} bytes"));
        }
        Ok(Self(bytes))
    }

    /// Whether `mac` is HMAC-SHA256 under this secret of exactly `body` (constant-time comparison).
    pub fn signed(&self, body: &[u8], mac: &[u8]) -> bool {
        let Ok(mut hmac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return false;
        };
        hmac.update(body);
        hmac.verify_slice(mac).is_ok()
    }

    /// Whether `token` is this secret. Both sides are hashed first, so the comparison takes the same time
    /// whatever the token's length or content.
    pub fn equals(&self, token: &[u8]) -> bool {
        let expected = Sha256::digest(&self.0);
        let given = Sha256::digest(token);
        expected.as_slice().ct_eq(given.as_slice()).into()
    }

    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    #[cfg(test)]
    pub(crate) fn sign(&self, body: &[u8]) -> Vec<u8> {
        let mut hmac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).unwrap();
        hmac.update(body);
        hmac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hmac_over_the_exact_body_is_accepted_and_nothing_else() {
        let secret = WebhookSecret::from_bytes(b"0123456789abcdef-test");
        let mac = secret.sign(b"{\"a\":1}");
        assert!(secret.signed(b"{\"a\":1}", &mac));
        assert!(!secret.signed(b"{\"a\": 1}", &mac));
        assert!(!WebhookSecret::from_bytes(b"another-secret-of-16").signed(b"{\"a\":1}", &mac));
        assert!(!secret.signed(b"{\"a\":1}", &mac[..31]));
    }

    #[test]
    fn tokens_must_be_equal() {
        let secret = WebhookSecret::from_bytes(b"gitlab-token-0123456789");
        assert!(secret.equals(b"gitlab-token-0123456789"));
        assert!(!secret.equals(b"gitlab-token-012345678"));
        assert!(!secret.equals(b""));
    }

    #[test]
    fn references_resolve_from_files_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hook.secret"), "s3cr3t-from-a-file-xyz\r\n").unwrap();
        let secret = WebhookSecret::resolve("hook.secret", dir.path()).unwrap();
        assert!(secret.equals(b"s3cr3t-from-a-file-xyz"));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");

        std::fs::write(dir.path().join("short"), "tiny").unwrap();
        let err = WebhookSecret::resolve("short", dir.path()).unwrap_err();
        assert!(err.contains("shorter than 16"), "{err}");
        let err = WebhookSecret::resolve("an-inline-secret-by-mistake", dir.path()).unwrap_err();
        assert!(!err.contains("an-inline-secret"), "{err}");
        let err = WebhookSecret::resolve("env://CERTUS_TRIGGERS_TEST_UNSET_VARIABLE", dir.path())
            .unwrap_err();
        assert!(err.contains("CERTUS_TRIGGERS_TEST_UNSET_VARIABLE"), "{err}");
        assert!(WebhookSecret::resolve("env://A B", dir.path()).is_err());
    }
}
