//! Source preparation for the local runner: git repositories cloned into the run's workspace, directories
//! scanned in place, archives extracted under hostile-input rules.

pub mod archive;
pub mod codecommit;
mod credentials;
pub mod git;
mod remote;
pub mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_core::digest::{sha256_file, sha256_hex};
use certus_core::error::{CoreError, Result};
use certus_core::incremental::{ScanCache, SourceFiles, INDEX_FORMAT};
use certus_core::ports::{PreparedSource, Reuse, SourcePreparer};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;

pub use archive::ArchiveLimits;
pub use codecommit::{AwsCredentials, CodeCommitCredentials};
pub use credentials::{GitHubApi, NamedSecrets, SecretStore, DEFAULT_GITHUB_API};
pub use git::GitPolicy;

/// Which local paths a request may name, and the limits on what it brings in.
#[derive(Debug, Clone, Default)]
pub struct SourcePolicy {
    pub git: GitPolicy,
    pub archive: ArchiveLimits,
    /// Directory and archive paths must lie under one of these (after resolving links); `None` allows any path
    /// (the CLI on the user's own machine).
    pub allowed_roots: Option<Vec<PathBuf>>,
}

pub struct LocalSourcePreparer {
    policy: SourcePolicy,
    cache: Option<Arc<dyn ScanCache>>,
    timestamp_tick: Duration,
}

/// The lineage of a source, bound to the tenant later (`certus_core::incremental::Incremental::new`): scans
/// of the same repository (its URL) or of the same directory (its resolved path) share results; every
/// extracted archive has the same lineage, since an archive names no tree of its own, so its results are
/// shared by content alone (per tenant and component).
pub fn lineage(spec: &SourceSpec) -> String {
    let named = match spec {
        SourceSpec::Git { git_url, .. } => format!("git\0{git_url}"),
        SourceSpec::Directory { directory_path } => {
            let path = Path::new(directory_path);
            let resolved = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
            format!("directory\0{}", resolved.display())
        }
        SourceSpec::Archive { .. } => "archive".to_string(),
    };
    sha256_hex(named.as_bytes())
}

/// A prepared tree's digest, its file table (with a scan cache) and what went wrong with the cache.
struct Table {
    digest: String,
    files: Arc<SourceFiles>,
    warnings: Vec<String>,
}

/// How long before a walk a file of a directory source must have been modified last for its `stat` to prove
/// its content: a second write within one timestamp tick leaves size, times and inode unchanged. One second
/// covers every local filesystem's tick with room to spare (ext4, xfs, btrfs and tmpfs tick by a jiffy).
pub const TIMESTAMP_TICK: Duration = Duration::from_secs(1);

/// The instant (ns since the epoch) before which a file modified last is settled, for a walk starting now.
fn settled_before_now(tick: Duration) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(tick);
    i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)
}

/// Scope of the directory file tables in the scan cache.
fn table_scope() -> String {
    sha256_hex(format!("certus-tree-table\0{INDEX_FORMAT}").as_bytes())
}

impl LocalSourcePreparer {
    pub fn new(policy: SourcePolicy) -> Self {
        Self {
            policy,
            cache: None,
            timestamp_tick: TIMESTAMP_TICK,
        }
    }

    /// Replaces [`TIMESTAMP_TICK`]: tests that write a tree and scan it at once trust its `stat`s right away.
    pub fn with_timestamp_tick(self, tick: Duration) -> Self {
        Self {
            timestamp_tick: tick,
            ..self
        }
    }

    /// With a scan cache every source gets a file table, so per-file tools reuse the results of unchanged
    /// content; a directory also keeps its table there, so a rescan reads only files whose `stat` changed.
    pub fn with_cache(self, cache: Arc<dyn ScanCache>) -> Self {
        Self {
            cache: Some(cache),
            ..self
        }
    }

    /// The tree digest of `root` and its file table under `lineage`, the previous table kept in `cache`.
    /// `keep`: the tree stays where it is between scans (a directory source), so its table is stored and its
    /// unchanged files are not read again. The cache only saves work: when it cannot be read or written the
    /// tree is hashed in full or the table not kept, and the warnings say so.
    async fn table(
        &self,
        cache: &Arc<dyn ScanCache>,
        root: &Path,
        lineage: String,
        keep: bool,
    ) -> Result<Table> {
        let scope = table_scope();
        let mut warnings = Vec::new();
        let previous = match keep {
            true => cache.index(&scope, &lineage).await.unwrap_or_else(|e| {
                warnings.push(format!(
                    "scan cache: the previous file table was not read, every file hashed: {e}"
                ));
                None
            }),
            false => None,
        };
        let settled_before_ns = keep.then(|| settled_before_now(self.timestamp_tick));
        let walk_root = root.to_path_buf();
        let (digest, mut table) = blocking(move || {
            let previous = previous
                .as_deref()
                .map(tree::PreviousTable::decode)
                .unwrap_or_default();
            tree::tree_table(&walk_root, &previous)
        })
        .await?;
        table.settled_before_ns = settled_before_ns;
        if keep {
            let stored = cache
                .put_index(&scope, &lineage, tree::encode_table(&table))
                .await;
            if let Err(e) = stored {
                warnings.push(format!(
                    "scan cache: the file table was not kept, the next scan hashes every file: {e}"
                ));
            }
        }
        table.lineage = lineage;
        Ok(Table {
            digest,
            files: Arc::new(table),
            warnings,
        })
    }

    fn allowed_path(&self, field: &str, raw: &str) -> Result<PathBuf> {
        let path = Path::new(raw)
            .canonicalize()
            .map_err(|e| CoreError::Source(format!("{field} '{raw}' cannot be opened: {e}")))?;
        if let Some(roots) = &self.policy.allowed_roots {
            let inside = roots
                .iter()
                .filter_map(|r| r.canonicalize().ok())
                .any(|r| path.starts_with(r));
            if !inside {
                return Err(CoreError::Source(format!(
                    "{field} '{raw}' is outside the directories this service may read"
                )));
            }
        }
        Ok(path)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Source(format!("source preparation task failed: {e}")))?
}

/// Extracts the archive file `archive` (its type from `name`'s extension) into the workspace's source
/// directory under the hostile-input `limits`, with the archive's SHA-256 as the content digest. The file
/// must already be one the caller may read (checked against the allowed roots, or downloaded by the caller).
pub async fn prepare_archive(
    archive: PathBuf,
    name: &str,
    workspace: &RunWorkspace,
    limits: ArchiveLimits,
) -> Result<PreparedSource> {
    let kind = archive::kind_from_name(name)?;
    let dest = workspace.source_dir();
    let (digest, extracted) = blocking(move || {
        let digest = sha256_file(&archive)?.0;
        let extracted = archive::extract(&archive, kind, &dest, &limits)?;
        Ok((digest, extracted))
    })
    .await?;
    Ok(PreparedSource {
        root: workspace.source_dir(),
        commit: None,
        branch: None,
        content_digest: Some(digest),
        warnings: extracted.warnings,
        files: None,
    })
}

#[async_trait]
impl SourcePreparer for LocalSourcePreparer {
    async fn prepare(
        &self,
        spec: &SourceSpec,
        workspace: &RunWorkspace,
        reuse: Reuse,
    ) -> Result<PreparedSource> {
        let cache = self.cache.as_ref().filter(|_| reuse == Reuse::Allowed);
        match spec {
            SourceSpec::Git {
                git_url,
                branch,
                commit,
                git_credentials_ref,
            } => {
                let dest = workspace.source_dir();
                let checkout = git::checkout(
                    git_url,
                    branch.as_deref(),
                    commit.as_deref(),
                    git_credentials_ref.as_deref(),
                    &dest,
                    &workspace.scratch_dir(),
                    &self.policy.git,
                )
                .await?;
                let files = match cache {
                    Some(cache) => {
                        Some(self.table(cache, &dest, lineage(spec), false).await?.files)
                    }
                    None => None,
                };
                Ok(PreparedSource {
                    root: dest,
                    commit: Some(checkout.commit),
                    branch: checkout.branch,
                    content_digest: None,
                    warnings: Vec::new(),
                    files,
                })
            }
            SourceSpec::Directory { directory_path } => {
                let root = self.allowed_path("directory_path", directory_path)?;
                if !root.is_dir() {
                    return Err(CoreError::Source(format!(
                        "directory_path '{directory_path}' is not a directory"
                    )));
                }
                let (digest, files, warnings) = match cache {
                    Some(cache) => {
                        let table = self.table(cache, &root, lineage(spec), true).await?;
                        (table.digest, Some(table.files), table.warnings)
                    }
                    None => {
                        let walk_root = root.clone();
                        let digest = blocking(move || tree::tree_digest(&walk_root)).await?;
                        (digest, None, Vec::new())
                    }
                };
                Ok(PreparedSource {
                    root,
                    commit: None,
                    branch: None,
                    content_digest: Some(digest),
                    warnings,
                    files,
                })
            }
            SourceSpec::Archive { archive_path } => {
                let archive = self.allowed_path("archive_path", archive_path)?;
                let mut prepared =
                    prepare_archive(archive, archive_path, workspace, self.policy.archive).await?;
                if let Some(cache) = cache {
                    prepared.files = Some(
                        self.table(cache, &prepared.root, lineage(spec), false)
                            .await?
                            .files,
                    );
                }
                Ok(prepared)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use certus_testkit::git;

    fn repo() -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "one"]);
        let first = git(dir.path(), &["rev-parse", "HEAD"]);
        std::fs::write(dir.path().join("a.txt"), "two").unwrap();
        git(dir.path(), &["commit", "-q", "-am", "two"]);
        let second = git(dir.path(), &["rev-parse", "HEAD"]);
        (dir, first, second)
    }

    fn local_policy() -> SourcePolicy {
        SourcePolicy {
            git: GitPolicy {
                allow_local: true,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn directory(path: &Path) -> SourceSpec {
        SourceSpec::Directory {
            directory_path: path.display().to_string(),
        }
    }

    fn workspace() -> (tempfile::TempDir, RunWorkspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = RunWorkspace::create(dir.path().join("run")).unwrap();
        (dir, ws)
    }

    #[tokio::test]
    async fn clones_the_branch_head_and_records_the_resolved_sha() {
        let (repo, _first, second) = repo();
        let (_d, ws) = workspace();
        let spec = SourceSpec::Git {
            git_url: repo.path().display().to_string(),
            branch: Some("main".into()),
            commit: None,
            git_credentials_ref: None,
        };
        let prepared = LocalSourcePreparer::new(local_policy())
            .prepare(&spec, &ws, Reuse::Allowed)
            .await
            .unwrap();
        assert_eq!(prepared.commit.as_deref(), Some(second.as_str()));
        assert_eq!(
            std::fs::read_to_string(prepared.root.join("a.txt")).unwrap(),
            "two"
        );
    }

    #[tokio::test]
    async fn checks_out_a_pinned_older_commit() {
        let (repo, first, _second) = repo();
        let (_d, ws) = workspace();
        let spec = SourceSpec::Git {
            git_url: format!("file://{}", repo.path().display()),
            branch: None,
            commit: Some(first.clone()),
            git_credentials_ref: None,
        };
        let prepared = LocalSourcePreparer::new(local_policy())
            .prepare(&spec, &ws, Reuse::Allowed)
            .await
            .unwrap();
        assert_eq!(prepared.commit, Some(first));
        assert_eq!(
            std::fs::read_to_string(prepared.root.join("a.txt")).unwrap(),
            "one"
        );
    }

    #[tokio::test]
    async fn local_repositories_need_permission_and_missing_ones_fail_clearly() {
        let (repo, _, _) = repo();
        let (_d, ws) = workspace();
        let spec = SourceSpec::Git {
            git_url: repo.path().display().to_string(),
            branch: None,
            commit: None,
            git_credentials_ref: None,
        };
        let err = LocalSourcePreparer::new(SourcePolicy::default())
            .prepare(&spec, &ws, Reuse::Allowed)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("local repositories are not allowed"),
            "{err}"
        );

        let (_d2, ws2) = workspace();
        let missing = SourceSpec::Git {
            git_url: "/nonexistent/repo".into(),
            branch: Some("main".into()),
            commit: None,
            git_credentials_ref: None,
        };
        let err = LocalSourcePreparer::new(local_policy())
            .prepare(&missing, &ws2, Reuse::Allowed)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("git fetch failed"), "{err}");
    }

    /// A scan cache whose storage is gone: every read and write fails.
    struct BrokenCache;

    #[async_trait]
    impl ScanCache for BrokenCache {
        async fn index(&self, _scope: &str, _lineage: &str) -> Result<Option<Vec<u8>>> {
            Err(CoreError::Storage("the cache disk is gone".into()))
        }

        async fn put_index(&self, _scope: &str, _lineage: &str, _bytes: Vec<u8>) -> Result<()> {
            Err(CoreError::Storage("the cache disk is full".into()))
        }
    }

    #[tokio::test]
    async fn a_scan_cache_that_fails_costs_work_and_a_warning_never_the_scan() {
        let (repo, _, _) = repo();
        let (_d, ws) = workspace();
        let spec = directory(repo.path());
        let plain = LocalSourcePreparer::new(local_policy())
            .prepare(&spec, &ws, Reuse::Allowed)
            .await
            .unwrap();
        let prepared = LocalSourcePreparer::new(local_policy())
            .with_cache(Arc::new(BrokenCache))
            .prepare(&spec, &ws, Reuse::Allowed)
            .await
            .unwrap();
        assert_eq!(prepared.content_digest, plain.content_digest);
        assert!(prepared.files.is_some(), "the tools still get the table");
        let warnings = prepared.warnings.join("\n");
        assert!(
            warnings.contains("not read, every file hashed: "),
            "{warnings}"
        );
        assert!(warnings.contains("the cache disk is gone"), "{warnings}");
        assert!(
            warnings.contains("not kept, the next scan hashes every file"),
            "{warnings}"
        );
    }

    /// A scan cache in memory.
    #[derive(Default)]
    struct MemoryCache(std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>);

    #[async_trait]
    impl ScanCache for MemoryCache {
        async fn index(&self, scope: &str, lineage: &str) -> Result<Option<Vec<u8>>> {
            let stored = self.0.lock().unwrap();
            Ok(stored.get(&format!("{scope}/{lineage}")).cloned())
        }

        async fn put_index(&self, scope: &str, lineage: &str, bytes: Vec<u8>) -> Result<()> {
            let mut stored = self.0.lock().unwrap();
            stored.insert(format!("{scope}/{lineage}"), bytes);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_file_modified_within_a_tick_of_the_scan_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        std::fs::write(dir.path().join("b.txt"), "two").unwrap();
        let (_d, ws) = workspace();
        let spec = directory(dir.path());
        let preparer =
            LocalSourcePreparer::new(local_policy()).with_cache(Arc::new(MemoryCache::default()));
        let table = |prepared: PreparedSource| prepared.files.unwrap();
        // Just written: a second write within the same timestamp tick could change the bytes and leave the
        // `stat` as it is, so the digests are used but not kept, and the next scan reads both files again.
        let first = table(preparer.prepare(&spec, &ws, Reuse::Allowed).await.unwrap());
        assert!(first.files.iter().all(|file| !first.settled(file)));
        let second = table(preparer.prepare(&spec, &ws, Reuse::Allowed).await.unwrap());
        assert_eq!((second.digests_reused, second.bytes_read), (0, 6));
        // Once they are older than the tick, their `stat` proves their content: kept, then reused.
        std::thread::sleep(TIMESTAMP_TICK + Duration::from_millis(100));
        let settled = table(preparer.prepare(&spec, &ws, Reuse::Allowed).await.unwrap());
        assert!(settled.files.iter().all(|file| settled.settled(file)));
        let reused = table(preparer.prepare(&spec, &ws, Reuse::Allowed).await.unwrap());
        assert_eq!((reused.digests_reused, reused.bytes_read), (2, 0));
        assert_eq!(reused.files, settled.files);
    }

    #[tokio::test]
    async fn a_full_scan_reads_every_file_and_hands_the_tools_no_table() {
        let (repo, _, _) = repo();
        let (_d, ws) = workspace();
        let spec = directory(repo.path());
        let preparer = LocalSourcePreparer::new(local_policy())
            .with_cache(Arc::new(MemoryCache::default()))
            .with_timestamp_tick(Duration::ZERO);
        let first = preparer.prepare(&spec, &ws, Reuse::Allowed).await.unwrap();
        let again = preparer.prepare(&spec, &ws, Reuse::Allowed).await.unwrap();
        assert!(
            again.files.unwrap().digests_reused > 0,
            "the stored table is used"
        );
        let full = preparer.prepare(&spec, &ws, Reuse::Never).await.unwrap();
        assert_eq!(full.files, None, "no table: the tools reuse nothing");
        assert_eq!(full.content_digest, first.content_digest);
    }

    #[tokio::test]
    async fn directory_sources_are_scanned_in_place_with_a_digest_and_confined_to_allowed_roots() {
        let (repo, _, _) = repo();
        let (_d, ws) = workspace();
        let spec = directory(repo.path());
        let prepared = LocalSourcePreparer::new(local_policy())
            .prepare(&spec, &ws, Reuse::Allowed)
            .await
            .unwrap();
        assert_eq!(prepared.root, repo.path().canonicalize().unwrap());
        assert_eq!(prepared.content_digest.unwrap().len(), 64);

        let elsewhere = tempfile::tempdir().unwrap();
        let fenced = LocalSourcePreparer::new(SourcePolicy {
            allowed_roots: Some(vec![elsewhere.path().to_path_buf()]),
            ..Default::default()
        });
        let err = fenced
            .prepare(&spec, &ws, Reuse::Allowed)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("outside the directories"), "{err}");
    }
}
