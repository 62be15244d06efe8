//! Parsing `oci://registry[:port]/repo/path:tag[#title]` and `oci://registry[:port]/repo@sha256:<hex>[#title]`.

use url::Url;

use crate::error::FetchError;
use crate::oci::digest::check_sha256_digest;
use crate::redact::redact_uri;

/// What a reference points at inside a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciTarget {
    Tag(String),
    /// `sha256:<64 lowercase hex>`; the manifest bytes must hash to it.
    Digest(String),
}

/// A parsed `oci://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    /// `host[:port]` as written.
    pub registry: String,
    /// The host alone (IPv6 in brackets).
    pub host: String,
    pub repository: String,
    pub target: OciTarget,
    /// The `org.opencontainers.image.title` of the wanted layer (the URI fragment).
    pub title: Option<String>,
}

impl OciReference {
    pub fn parse(uri: &str) -> Result<Self, FetchError> {
        let invalid = |reason: String| FetchError::InvalidUri {
            uri: redact_uri(uri),
            reason,
        };
        let rest = uri
            .strip_prefix("oci://")
            .ok_or_else(|| invalid("an OCI reference starts with oci://".into()))?;
        let (rest, title) = match rest.split_once('#') {
            Some((_, "")) => return Err(invalid("the #fragment (layer title) is empty".into())),
            Some((rest, title)) => (rest, Some(title.to_owned())),
            None => (rest, None),
        };
        if rest.contains('?') || rest.matches('@').count() > 1 {
            return Err(invalid(
                "query strings and repeated '@' are not allowed".into(),
            ));
        }
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("expected oci://registry/repository:tag".into()))?;
        let host = registry_host(registry).map_err(&invalid)?;
        let (repository, target) = split_target(path).map_err(&invalid)?;
        check_repository(repository).map_err(&invalid)?;
        Ok(Self {
            registry: registry.to_ascii_lowercase(),
            host,
            repository: repository.to_owned(),
            target,
            title,
        })
    }

    /// A repository URI `oci://registry[:port]/repo/path` (no tag, digest or title) with `tag` added.
    pub fn with_tag(repository_uri: &str, tag: &str) -> Result<Self, FetchError> {
        let invalid = |reason: &str| FetchError::InvalidUri {
            uri: redact_uri(repository_uri),
            reason: reason.to_owned(),
        };
        let path = repository_uri
            .strip_prefix("oci://")
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, path)| path)
            .ok_or_else(|| invalid("expected oci://registry/repository"))?;
        if path.contains([':', '@', '#', '?']) {
            return Err(invalid(
                "a repository URI names no tag, digest, layer title or query",
            ));
        }
        check_tag(tag).map_err(|reason| invalid(&reason))?;
        Self::parse(&format!("{repository_uri}:{tag}"))
    }

    /// The same repository, pointing at `tag`.
    pub fn tagged(&self, tag: &str) -> Result<Self, FetchError> {
        check_tag(tag).map_err(|reason| FetchError::Oci {
            reference: self.repository_name(),
            reason,
        })?;
        Ok(Self {
            target: OciTarget::Tag(tag.to_owned()),
            title: None,
            ..self.clone()
        })
    }

    /// `registry/repository`, as cosign names an image in its signatures.
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag or digest, as used in `/v2/<repo>/manifests/<reference>`.
    pub fn manifest_reference(&self) -> &str {
        match &self.target {
            OciTarget::Tag(tag) => tag,
            OciTarget::Digest(digest) => digest,
        }
    }

    /// `registry/repository:tag` or `registry/repository@digest`, for messages.
    pub fn display(&self) -> String {
        match &self.target {
            OciTarget::Tag(tag) => format!("{}/{}:{tag}", self.registry, self.repository),
            OciTarget::Digest(digest) => format!("{}/{}@{digest}", self.registry, self.repository),
        }
    }
}

fn registry_host(registry: &str) -> Result<String, String> {
    if registry.is_empty() || registry.contains('@') {
        return Err("the registry must be host[:port] without credentials".into());
    }
    let url = Url::parse(&format!("https://{registry}/"))
        .map_err(|error| format!("registry '{registry}' is not a valid host[:port]: {error}"))?;
    url.host_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("registry '{registry}' names no host"))
}

fn split_target(path: &str) -> Result<(&str, OciTarget), String> {
    if let Some((name, digest)) = path.split_once('@') {
        check_sha256_digest(digest)?;
        let repository = match name.rsplit_once('/') {
            Some((_, last)) if last.contains(':') => strip_tag(name),
            None if name.contains(':') => strip_tag(name),
            _ => name,
        };
        return Ok((repository, OciTarget::Digest(digest.to_owned())));
    }
    let last_slash = path.rfind('/').map_or(0, |index| index + 1);
    let colon = path[last_slash..]
        .find(':')
        .map(|index| last_slash + index)
        .ok_or("the reference names neither a :tag nor an @sha256: digest")?;
    let tag = &path[colon + 1..];
    check_tag(tag)?;
    Ok((&path[..colon], OciTarget::Tag(tag.to_owned())))
}

fn strip_tag(name: &str) -> &str {
    name.rsplit_once(':')
        .map_or(name, |(repository, _)| repository)
}

fn check_tag(tag: &str) -> Result<(), String> {
    let valid = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !tag.starts_with(['.', '-']);
    if valid {
        Ok(())
    } else {
        Err(format!("tag '{tag}' is not a valid OCI tag"))
    }
}

fn check_repository(repository: &str) -> Result<(), String> {
    let component_ok = |component: &str| {
        !component.is_empty()
            && component.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
            && component.starts_with(|c: char| c.is_ascii_alphanumeric())
            && component.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if !repository.is_empty() && repository.len() <= 255 && repository.split('/').all(component_ok)
    {
        Ok(())
    } else {
        Err(format!(
            "repository '{repository}' is not a valid OCI repository name (lowercase components separated by '/')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tag_references_with_port_and_title() {
        let reference =
            OciReference::parse("oci://127.0.0.1:5000/certus/manifests:v1#certus-manifest.json")
                .unwrap();
        assert_eq!(reference.registry, "127.0.0.1:5000");
        assert_eq!(reference.host, "127.0.0.1");
        assert_eq!(reference.repository, "certus/manifests");
        assert_eq!(reference.target, OciTarget::Tag("v1".into()));
        assert_eq!(reference.title.as_deref(), Some("certus-manifest.json"));
        assert_eq!(reference.display(), "127.0.0.1:5000/certus/manifests:v1");
    }

    #[test]
    fn parses_digest_references() {
        let reference = OciReference::parse(&format!("oci://ghcr.io/org/repo@{DIGEST}")).unwrap();
        assert_eq!(reference.repository, "org/repo");
        assert_eq!(reference.target, OciTarget::Digest(DIGEST.into()));
        assert_eq!(reference.manifest_reference(), DIGEST);
        let both = OciReference::parse(&format!("oci://ghcr.io/org/repo:v2@{DIGEST}")).unwrap();
        assert_eq!(both.repository, "org/repo");
        assert_eq!(both.target, OciTarget::Digest(DIGEST.into()));
    }

    #[test]
    fn builds_tagged_references_from_repository_uris() {
        let reference =
            OciReference::with_tag("oci://127.0.0.1:5000/certus/bundles", "test_1").unwrap();
        assert_eq!(reference.display(), "127.0.0.1:5000/certus/bundles:test_1");
        assert_eq!(reference.repository_name(), "127.0.0.1:5000/certus/bundles");
        let retagged = reference.tagged("other").unwrap();
        assert_eq!(retagged.target, OciTarget::Tag("other".into()));
        assert!(matches!(
            reference.tagged("-bad").unwrap_err(),
            FetchError::Oci { .. }
        ));
        for uri in [
            "oci://ghcr.io/org/repo:v1",
            &format!("oci://ghcr.io/org/repo@{DIGEST}"),
            "oci://ghcr.io/org/repo#x",
            "oci://ghcr.io",
            "https://ghcr.io/org/repo",
        ] {
            let error = OciReference::with_tag(uri, "t").unwrap_err();
            assert!(
                matches!(error, FetchError::InvalidUri { .. }),
                "{uri}: {error}"
            );
        }
    }

    #[test]
    fn refuses_malformed_references() {
        for uri in [
            "https://ghcr.io/org/repo:v1",
            "oci://ghcr.io/org/repo",
            "oci://ghcr.io/Org/repo:v1",
            "oci://ghcr.io/org//repo:v1",
            "oci://ghcr.io/org/repo:",
            "oci://ghcr.io/org/repo:v1#",
            "oci://user:pw@ghcr.io/org/repo:v1",
            "oci://ghcr.io/org/repo@sha256:abc",
            "oci://ghcr.io/org/repo@md5:0123",
            "oci://ghcr.io/org/repo:v1?token=x",
            "oci:///org/repo:v1",
        ] {
            let error = OciReference::parse(uri).unwrap_err();
            assert!(
                matches!(error, FetchError::InvalidUri { .. }),
                "{uri}: {error}"
            );
            assert!(!error.to_string().contains("token=x"), "{error}");
            assert!(!error.to_string().contains("pw@"), "{error}");
        }
    }
}
