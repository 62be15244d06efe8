//! Files a function needs that its deployment package cannot hold — SAM's `rust-cargolambda` build ships the
//! `bootstrap` binary and nothing else — such as the JWKS of `ws` and the push registrations of `api` and
//! `push-trigger`. Each is named by one of two variables: `<NAME>_URI` (`s3://bucket/key`, what the template
//! sets; read with the function's own role) or `<NAME>_FILE` (a local path: self-hosted runs, tests). Neither
//! set (or both empty) means "not configured"; both set is refused.

use std::path::{Path, PathBuf};

use certus_core::ports::ManifestFetcher;

use crate::error::{ApigwError, Result};
use crate::settings::ENV_PREFIX;

/// Where one configuration file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    /// `s3://bucket/key`
    S3(String),
}

impl ConfigSource {
    /// From `<PREFIX><name>_URI` / `<PREFIX><name>_FILE`; `None` when neither is set (empty counts as unset).
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<Self>> {
        let get = |suffix: &str| {
            var(&format!("{ENV_PREFIX}{name}_{suffix}")).filter(|v| !v.trim().is_empty())
        };
        match (get("URI"), get("FILE")) {
            (Some(_), Some(_)) => Err(ApigwError::Config(format!(
                "{ENV_PREFIX}{name}_URI and {ENV_PREFIX}{name}_FILE are both set: give one"
            ))),
            (Some(uri), None) => {
                let key = uri
                    .strip_prefix("s3://")
                    .and_then(|rest| rest.split_once('/'));
                match key {
                    Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                        Ok(Some(Self::S3(uri)))
                    }
                    _ => Err(ApigwError::Config(format!(
                        "{ENV_PREFIX}{name}_URI must be s3://<bucket>/<key>, not '{uri}'"
                    ))),
                }
            }
            (None, Some(path)) => Ok(Some(Self::File(PathBuf::from(path)))),
            (None, None) => Ok(None),
        }
    }

    /// The file to read: the local file itself, or the object copied into a private temporary directory
    /// under its key's last segment (so the `.json`/`.toml` suffix keeps its meaning).
    pub async fn local_copy(
        &self,
        fetcher: &dyn ManifestFetcher,
        max_bytes: usize,
    ) -> Result<LocalCopy> {
        match self {
            Self::File(path) => Ok(LocalCopy {
                path: path.clone(),
                _dir: None,
            }),
            Self::S3(uri) => {
                let bytes = fetcher
                    .fetch(uri, max_bytes)
                    .await
                    .map_err(|e| ApigwError::Config(format!("{uri}: {e}")))?;
                let name = uri
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                    .ok_or_else(|| ApigwError::Config(format!("{uri}: the key names no file")))?;
                let dir = tempfile::Builder::new()
                    .prefix("certus-config-")
                    .tempdir()
                    .map_err(|e| {
                        ApigwError::Config(format!("{uri}: no temporary directory: {e}"))
                    })?;
                let path = dir.path().join(name);
                std::fs::write(&path, bytes)
                    .map_err(|e| ApigwError::Config(format!("{uri}: cannot be stored: {e}")))?;
                Ok(LocalCopy {
                    path,
                    _dir: Some(dir),
                })
            }
        }
    }
}

impl ConfigSource {
    /// Copies the object at `relative` to this source's key (`s3://bucket/dir/key` → `s3://bucket/dir/<relative>`)
    /// beside `copy`, at the same relative path and readable by its owner only; for a local file there is
    /// nothing to do (its neighbours are where they are). `relative` must be a plain relative path.
    pub async fn fetch_beside(
        &self,
        copy: &LocalCopy,
        fetcher: &dyn ManifestFetcher,
        relative: &str,
        max_bytes: usize,
    ) -> Result<()> {
        let Self::S3(uri) = self else {
            return Ok(());
        };
        if relative.is_empty()
            || relative.starts_with('/')
            || relative
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(ApigwError::Config(format!(
                "{uri}: '{relative}' is not a plain relative path"
            )));
        }
        let Some((dir, _)) = uri.rsplit_once('/') else {
            return Err(ApigwError::Config(format!("{uri}: the key names no file")));
        };
        let object = format!("{dir}/{relative}");
        let bytes = fetcher
            .fetch(&object, max_bytes)
            .await
            .map_err(|e| ApigwError::Config(format!("{object}: {e}")))?;
        let base = copy
            .path()
            .parent()
            .ok_or_else(|| ApigwError::Config(format!("{uri}: the copy has no directory")))?;
        let path = base.join(relative);
        let stored =
            |e: std::io::Error| ApigwError::Config(format!("{object}: cannot be stored: {e}"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(stored)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(stored)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(stored)
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::S3(uri) => f.write_str(uri),
        }
    }
}

/// A configuration file on local disk; a fetched copy is removed when this is dropped.
#[derive(Debug)]
pub struct LocalCopy {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl LocalCopy {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use async_trait::async_trait;
    use certus_core::CoreError;

    /// Serves one object; any other URI is missing.
    struct OneObject(&'static str, &'static [u8]);

    #[async_trait]
    impl ManifestFetcher for OneObject {
        async fn fetch(&self, uri: &str, _max_bytes: usize) -> certus_core::Result<Vec<u8>> {
            if uri == self.0 {
                Ok(self.1.to_vec())
            } else {
                Err(CoreError::Manifest(format!("{uri} does not exist")))
            }
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("{ENV_PREFIX}{k}"), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn unset_and_empty_mean_not_configured_and_both_are_refused() {
        assert_eq!(ConfigSource::from_vars(&vars(&[]), "JWKS").unwrap(), None);
        assert_eq!(
            ConfigSource::from_vars(&vars(&[("JWKS_URI", ""), ("JWKS_FILE", " ")]), "JWKS")
                .unwrap(),
            None
        );
        let both = ConfigSource::from_vars(
            &vars(&[("JWKS_URI", "s3://b/k.json"), ("JWKS_FILE", "/k.json")]),
            "JWKS",
        )
        .unwrap_err()
        .to_string();
        assert!(
            both.contains("CERTUS_ASSURANCE_JWKS_URI and CERTUS_ASSURANCE_JWKS_FILE"),
            "{both}"
        );
        for bad in [
            "https://b/k.json",
            "s3://bucket",
            "s3:///key",
            "s3://bucket/",
        ] {
            let error = ConfigSource::from_vars(&vars(&[("JWKS_URI", bad)]), "JWKS")
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("CERTUS_ASSURANCE_JWKS_URI must be s3://"),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn an_object_is_copied_under_its_own_name_and_a_missing_one_is_named() {
        let fetcher = OneObject(
            "s3://work-bucket/config/triggers.toml",
            b"registrations = []\n",
        );
        let source = ConfigSource::from_vars(
            &vars(&[("TRIGGERS_URI", "s3://work-bucket/config/triggers.toml")]),
            "TRIGGERS",
        )
        .unwrap()
        .unwrap();
        let copy = source.local_copy(&fetcher, 1024).await.unwrap();
        assert_eq!(copy.path().file_name().unwrap(), "triggers.toml");
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"registrations = []\n");
        let dir = copy.path().parent().unwrap().to_path_buf();
        drop(copy);
        assert!(!dir.exists(), "the fetched copy is removed with its handle");

        let again = source.local_copy(&fetcher, 1024).await.unwrap();
        let beside = source
            .fetch_beside(&again, &fetcher, "webhook-secrets/hook.secret", 1024)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            beside.contains("s3://work-bucket/config/webhook-secrets/hook.secret"),
            "the neighbour is looked up beside the key: {beside}"
        );
        for bad in ["../triggers.toml", "/etc/passwd", "a//b", ""] {
            let error = source
                .fetch_beside(&again, &fetcher, bad, 1024)
                .await
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("not a plain relative path"),
                "{bad}: {error}"
            );
        }

        let missing = ConfigSource::S3("s3://work-bucket/config/other.toml".into())
            .local_copy(&fetcher, 1024)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("s3://work-bucket/config/other.toml"),
            "{missing}"
        );
    }
}
