//! Source preparation for the local runner: git repositories cloned into the run's workspace (or brought up to
//! date in a kept checkout), directories scanned in place, archives extracted under hostile-input rules.

pub mod archive;
pub mod codecommit;
mod credentials;
pub mod git;
pub mod kept;
mod recorded;
mod remote;
pub mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_core::digest::{sha256_file, sha256_hex};
use certus_core::error::{CoreError, Result};
use certus_core::incremental::{
    Keeping, Layers, Paths, ScanCache, SinglePass, SourceFiles, INDEX_FORMAT,
};
use certus_core::ports::{PreparedSource, Reuse, SourcePreparer, TreeLease};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;

use crate::kept::Kept;
use crate::recorded::{Recorded, StoredTable};

pub use archive::ArchiveLimits;
pub use codecommit::{AwsCredentials, CodeCommitCredentials};
pub use credentials::{GitHubApi, NamedSecrets, SecretStore, DEFAULT_GITHUB_API};
pub use git::GitPolicy;
pub use kept::KeptCheckouts;

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
    kept: Option<KeptCheckouts>,
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

/// Whether a tree stays where it is between scans, and who may write it.
#[derive(Debug, Clone, Copy)]
enum Stays<'a> {
    /// New in this run (a fresh clone, an extracted archive): its table is not kept.
    No,
    /// A kept checkout: written only by git while a scan holds it, and brought back to exactly the commit
    /// (every file git rewrites gets a new `stat`). Its table is kept under this name, with the commit.
    Kept(&'a str, &'a str),
    /// A directory others may write at any time: its table is kept under this name, and the timestamp-tick
    /// rules apply ([`TIMESTAMP_TICK`]).
    Shared(&'a str),
}

/// A prepared tree's digest, its file table (with a scan cache) and what went wrong with the cache.
struct Table {
    digest: String,
    files: Arc<SourceFiles>,
    shape: tree::Shape,
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

/// What git's checkout of another commit in a kept tree did: the commit it held, the one it holds now, and the
/// paths it wrote or removed.
struct Moved<'a> {
    before: &'a str,
    after: &'a str,
    changes: Vec<tree::Change>,
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
            kept: None,
            timestamp_tick: TIMESTAMP_TICK,
        }
    }

    /// With a scan cache too, git sources are brought up to date in kept checkouts instead of cloned afresh.
    pub fn with_kept_checkouts(self, kept: KeptCheckouts) -> Self {
        Self {
            kept: Some(kept),
            ..self
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

    /// The tree digest of `root` and its file table under `lineage`. A tree that stays where it is between
    /// scans has its table stored in `cache` under its name, and the files whose `stat` it still matches are
    /// not read again. The cache only saves work: when it cannot be read or written the tree is hashed in full
    /// or the table not kept, and the warnings say so.
    async fn table(
        &self,
        cache: &Arc<dyn ScanCache>,
        root: &Path,
        lineage: String,
        stays: Stays<'_>,
        single_pass: Option<&Arc<dyn SinglePass>>,
    ) -> Result<Table> {
        let commit = match stays {
            Stays::Kept(_, commit) => Some(commit),
            Stays::No | Stays::Shared(_) => None,
        };
        let mut warnings = Vec::new();
        let kept_as = match stays {
            Stays::No => None,
            Stays::Kept(name, _) | Stays::Shared(name) => Some(name),
        };
        let previous = match kept_as {
            Some(name) => stored_table(cache, name).await.unwrap_or_else(|e| {
                warnings.push(format!(
                    "scan cache: the previous file table was not read, every file hashed: {e}"
                ));
                None
            }),
            None => None,
        };
        let settled_before_ns =
            matches!(stays, Stays::Shared(_)).then(|| settled_before_now(self.timestamp_tick));
        let (walk_root, commit, keep, single_pass) = (
            root.to_path_buf(),
            commit.map(str::to_string),
            kept_as.is_some(),
            single_pass.cloned(),
        );
        let (walked, digest, keeping) = blocking(move || {
            let paths = Paths::default();
            let previous = match &previous {
                Some((base, delta)) => tree::PreviousTable::decode(base, delta.as_deref(), &paths),
                None => tree::PreviousTable::default(),
            };
            let mut walked = tree::walk_tree(&walk_root, &previous, single_pass.as_deref())?;
            walked.files.settled_before_ns = settled_before_ns;
            // The digest on another thread while the table is encoded for the cache.
            let (digest, keeping) = std::thread::scope(|scope| {
                let digest = scope.spawn(|| walked.digest());
                let keeping = keep.then(|| previous.keeping(&walked.files, commit.as_deref()));
                (digest.join(), keeping)
            });
            let digest = digest.map_err(|_| {
                CoreError::Source("the thread computing the tree digest failed".into())
            })??;
            Ok((walked, digest, keeping))
        })
        .await?;
        let tree::Walked {
            files: mut table,
            shape,
            ..
        } = walked;
        if let (Some(name), Some(keeping)) = (kept_as, keeping) {
            warnings.extend(keep_table(cache, name, keeping).await);
        }
        table.lineage = lineage;
        Ok(Table {
            digest,
            files: Arc::new(table),
            shape,
            warnings,
        })
    }

    /// The table of `kept`'s tree after git checked out `after` over `before`, from `recorded` (the table
    /// kept of `before`, as [`stored_table`] read it, decoded) and git's list of the paths that differ: only
    /// those are read. `None` when there is no table of `before` to start from; an error says why the list
    /// could not be used. Either way the tree is then walked. The new table is kept under the checkout's
    /// name, with `after`.
    async fn table_from_changes(
        &self,
        cache: &Arc<dyn ScanCache>,
        kept: &Kept,
        recorded: Result<Option<Recorded>>,
        moved: Moved<'_>,
        lineage: String,
        single_pass: Option<&Arc<dyn SinglePass>>,
    ) -> Result<Option<(Arc<SourceFiles>, Vec<String>)>> {
        let Some(table) = recorded? else {
            return Ok(None);
        };
        let updated = table
            .after_move(
                moved.before,
                moved.after,
                moved.changes,
                single_pass.cloned(),
            )
            .await?;
        let Some((mut files, keeping)) = updated else {
            return Ok(None);
        };
        let warnings = keep_table(cache, kept.name(), keeping).await;
        files.lineage = lineage;
        Ok(Some((Arc::new(files), warnings.into_iter().collect())))
    }

    /// A git source: brought up to date in its kept checkout when there is one to take (a scan cache, kept
    /// checkouts and reuse allowed), else cloned into the run's workspace.
    async fn prepare_git(
        &self,
        spec: &SourceSpec,
        workspace: &RunWorkspace,
        cache: Option<&Arc<dyn ScanCache>>,
        reuse: Reuse<'_>,
        single_pass: Option<&Arc<dyn SinglePass>>,
    ) -> Result<PreparedSource> {
        let SourceSpec::Git {
            git_url,
            branch,
            commit,
            git_credentials_ref,
        } = spec
        else {
            return Err(CoreError::Source("not a git source".into()));
        };
        let lineage = lineage(spec);
        let mut warnings = Vec::new();
        let kept = match (cache, &self.kept, reuse) {
            (Some(cache), Some(kept), Reuse::Allowed { tenant }) => {
                let (kept, tenant) = (kept.clone(), tenant.map(str::to_string));
                let name = lineage.clone();
                let taken = blocking(move || {
                    let taken = kept.take(tenant.as_deref(), &name)?;
                    // Removing old checkouts only saves disk: when it fails, this scan still has its own.
                    let trimmed = taken.as_ref().map(|taken| kept.trim(taken));
                    Ok((taken, trimmed))
                })
                .await;
                match taken {
                    Ok((Some(taken), trimmed)) => {
                        if let Some(Err(e)) = trimmed {
                            warnings.push(format!("kept checkout: older ones not removed: {e}"));
                        }
                        Some((cache, taken))
                    }
                    Ok((None, _)) => {
                        warnings.push(
                            "kept checkout: another scan of this repository holds it; cloned afresh"
                                .to_string(),
                        );
                        None
                    }
                    Err(e) => {
                        warnings.push(format!("kept checkout: not used, cloned afresh: {e}"));
                        None
                    }
                }
            }
            _ => None,
        };
        // What a kept tree held before the fetch moves it, when nothing but git has written it since.
        let held = match &kept {
            Some((_, kept)) if !kept.exposed() => {
                git::checked_out(kept.layout(), &self.policy.git).await
            }
            _ => None,
        };
        let fetch = |layout, held| {
            git::checkout(
                git_url,
                branch.as_deref(),
                commit.as_deref(),
                git_credentials_ref.as_deref(),
                layout,
                held,
                &self.policy.git,
            )
        };
        let (root, checkout, files, lease) = match kept {
            Some((cache, kept)) => {
                // The tree's last table, decoded while git fetches: to check that the paths a move changes
                // are as it recorded them, then to make the new one from.
                let recorded = match &held {
                    Some(_) => stored_table(cache, kept.name()).await.map(|table| {
                        table.map(|table| Recorded::decode(table, kept.tree().to_path_buf()))
                    }),
                    None => Ok(None),
                };
                let as_recorded = |changes: Vec<tree::Change>| -> git::AsHeld {
                    let table = recorded.as_ref().ok().and_then(Option::clone);
                    let commit = held.clone();
                    Box::pin(async move {
                        let (Some(table), Some(commit)) = (table, commit) else {
                            return false;
                        };
                        table.holds(&commit, changes).await
                    })
                };
                let held = held.as_deref().map(|commit| git::Held {
                    commit,
                    as_held: &as_recorded,
                });
                kept.updating()?;
                let fetched = fetch(kept.layout(), held).await;
                let update = async {
                    let checkout = fetched?;
                    let mut notes = Vec::new();
                    match &checkout.arrival {
                        git::Arrival::Moved { from, changes } => {
                            let (after, lineage) = (&checkout.commit, lineage.clone());
                            let table = match changes {
                                Ok(changes) => {
                                    let moved = Moved {
                                        before: from,
                                        after,
                                        changes: changes.clone(),
                                    };
                                    self.table_from_changes(
                                        cache,
                                        &kept,
                                        recorded,
                                        moved,
                                        lineage,
                                        single_pass,
                                    )
                                    .await
                                }
                                Err(e) => Err(CoreError::Source(e.clone())),
                            };
                            match table {
                                Ok(Some(table)) => return Ok((checkout, table)),
                                Ok(None) => {}
                                Err(e) => notes.push(format!(
                                    "kept checkout: git's list of changed files was not used, the whole \
                                     tree was read: {e}"
                                )),
                            }
                        }
                        git::Arrival::NotMoved { from, why } => notes.push(format!(
                            "kept checkout: its tree was not as git left it at {from}, so it was checked \
                             out and read whole: {why}"
                        )),
                        git::Arrival::Whole => {}
                    }
                    let stays = Stays::Kept(kept.name(), &checkout.commit);
                    let walk =
                        || self.table(cache, kept.tree(), lineage.clone(), stays, single_pass);
                    let table = walk().await?;
                    let removed =
                        git::remove_untracked(kept.layout(), &self.policy.git, table.shape).await?;
                    // What was removed is in the table just written: walk the tree as it now is.
                    let table = if removed { walk().await? } else { table };
                    kept.cleaned()?;
                    notes.extend(table.warnings);
                    Ok((checkout, (table.files, notes)))
                };
                let (checkout, table) = match update.await {
                    Ok(updated) => updated,
                    Err(e) => {
                        // Part way through an update the tree may be neither commit: start afresh next time.
                        return Err(match (blocking(move || kept.discard()).await, e) {
                            (Ok(()), e) => e,
                            (Err(removal), CoreError::Source(reason)) => {
                                CoreError::Source(format!(
                                    "{reason}; the kept checkout was not removed either: {removal}"
                                ))
                            }
                            (Err(removal), e) => CoreError::Source(format!(
                                "{e}; the kept checkout was not removed either: {removal}"
                            )),
                        });
                    }
                };
                kept.updated()?;
                if let Err(e) = git::tidy(kept.layout(), &self.policy.git).await {
                    warnings.push(format!("kept checkout: its repository was not tidied: {e}"));
                }
                let (files, table_warnings) = table;
                warnings.extend(table_warnings);
                let root = kept.tree().to_path_buf();
                (root, checkout, Some(files), Some(TreeLease::new(kept)))
            }
            None => {
                let (root, scratch) = (workspace.source_dir(), workspace.scratch_dir());
                let layout = git::Layout {
                    tree: &root,
                    git_dir: &scratch.join("repo.git"),
                    home: &scratch,
                };
                let checkout = fetch(layout, None).await?;
                let files = match cache {
                    Some(cache) => Some(
                        self.table(cache, &root, lineage, Stays::No, single_pass)
                            .await?
                            .files,
                    ),
                    None => None,
                };
                (root, checkout, files, None)
            }
        };
        Ok(PreparedSource {
            root,
            commit: Some(checkout.commit),
            branch: checkout.branch,
            content_digest: None,
            warnings,
            files,
            lease,
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

/// The file table of the tree `name` kept in `cache`, with the delta kept since, when there is one; an
/// error when either cannot be read (the tree is then hashed whole).
async fn stored_table(cache: &Arc<dyn ScanCache>, name: &str) -> Result<Option<StoredTable>> {
    let stored = Layers::read(cache.as_ref(), &table_scope(), name).await;
    let base = stored.base?;
    let delta = stored.delta?;
    Ok(base.map(|base| (base, delta)))
}

/// Keeps the file table of the tree `name` in `cache` (a new table, or the delta to the one kept); a warning
/// when it could not: the cache only saves work.
async fn keep_table(cache: &Arc<dyn ScanCache>, name: &str, table: Keeping) -> Option<String> {
    let stored = table.write(cache.as_ref(), &table_scope(), name).await;
    stored.err().map(|e| {
        format!("scan cache: the file table was not kept, the next scan hashes every file: {e}")
    })
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
        lease: None,
    })
}

#[async_trait]
impl SourcePreparer for LocalSourcePreparer {
    async fn prepare(
        &self,
        spec: &SourceSpec,
        workspace: &RunWorkspace,
        reuse: Reuse<'_>,
        single_pass: Option<Arc<dyn SinglePass>>,
    ) -> Result<PreparedSource> {
        let single_pass = single_pass.as_ref();
        let cache = self
            .cache
            .as_ref()
            .filter(|_| matches!(reuse, Reuse::Allowed { .. }));
        match spec {
            SourceSpec::Git { .. } => {
                self.prepare_git(spec, workspace, cache, reuse, single_pass)
                    .await
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
                        let lineage = lineage(spec);
                        let table = self
                            .table(
                                cache,
                                &root,
                                lineage.clone(),
                                Stays::Shared(&lineage),
                                single_pass,
                            )
                            .await?;
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
                    lease: None,
                })
            }
            SourceSpec::Archive { archive_path } => {
                let archive = self.allowed_path("archive_path", archive_path)?;
                let mut prepared =
                    prepare_archive(archive, archive_path, workspace, self.policy.archive).await?;
                if let Some(cache) = cache {
                    prepared.files = Some(
                        self.table(cache, &prepared.root, lineage(spec), Stays::No, single_pass)
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

    use certus_core::digest::Sha256Digest;
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
            .prepare(&spec, &ws, ANY_TENANT, None)
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
            .prepare(&spec, &ws, ANY_TENANT, None)
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
            .prepare(&spec, &ws, ANY_TENANT, None)
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
            .prepare(&missing, &ws2, ANY_TENANT, None)
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
    async fn a_kept_checkout_whose_change_list_cannot_be_used_is_read_whole_and_says_why() {
        let (repo, _, _) = repo();
        let kept_dir = tempfile::tempdir().unwrap();
        let preparer = LocalSourcePreparer::new(local_policy())
            .with_cache(Arc::new(BrokenCache))
            .with_kept_checkouts(KeptCheckouts::new(kept_dir.path().to_path_buf(), 4));
        let (_d, ws) = workspace();
        let spec = git_spec(repo.path(), None);
        let first = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
        assert!(first.root.starts_with(kept_dir.path()));
        let said = |prepared: &PreparedSource| prepared.warnings.join("\n");
        assert!(
            !said(&first).contains("list of changed files"),
            "{}",
            said(&first)
        );
        drop(first);
        std::fs::write(repo.path().join("a.txt"), "three").unwrap();
        git(repo.path(), &["commit", "-q", "-am", "three"]);
        let second = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
        let warnings = said(&second);
        assert!(
            warnings.contains(
                "git's list of changed files was not used, the whole tree was read: storage error: \
                 the cache disk is gone"
            ),
            "{warnings}"
        );
        assert_eq!(
            table_of(&second.files.unwrap()),
            table_of(&*fresh_table(&spec).await)
        );
    }

    #[tokio::test]
    async fn a_kept_checkout_changed_behind_gits_back_is_checked_out_and_read_whole() {
        let (repo, _, _) = repo();
        let kept_dir = tempfile::tempdir().unwrap();
        let preparer = keeping(kept_dir.path());
        let (_d, ws) = workspace();
        let spec = git_spec(repo.path(), None);
        let first = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
        // Written by something no scan declared (the tree is not marked exposed), on a path the push changes.
        std::fs::write(first.root.join("a.txt"), "not what git wrote").unwrap();
        drop(first);
        std::fs::write(repo.path().join("a.txt"), "three").unwrap();
        git(repo.path(), &["commit", "-q", "-am", "three"]);
        let second = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
        let warnings = second.warnings.join("\n");
        assert!(
            warnings.contains("its tree was not as git left it at ")
                && warnings.contains("so it was checked out and read whole: "),
            "{warnings}"
        );
        assert_eq!(
            std::fs::read_to_string(second.root.join("a.txt")).unwrap(),
            "three"
        );
        assert_eq!(
            table_of(&second.files.unwrap()),
            table_of(&*fresh_table(&spec).await)
        );
    }

    #[tokio::test]
    async fn a_scan_cache_that_fails_costs_work_and_a_warning_never_the_scan() {
        let (repo, _, _) = repo();
        let (_d, ws) = workspace();
        let spec = directory(repo.path());
        let plain = LocalSourcePreparer::new(local_policy())
            .prepare(&spec, &ws, ANY_TENANT, None)
            .await
            .unwrap();
        let prepared = LocalSourcePreparer::new(local_policy())
            .with_cache(Arc::new(BrokenCache))
            .prepare(&spec, &ws, ANY_TENANT, None)
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
        let first = table(
            preparer
                .prepare(&spec, &ws, ANY_TENANT, None)
                .await
                .unwrap(),
        );
        assert!(first.files.iter().all(|file| !first.settled(file)));
        let second = table(
            preparer
                .prepare(&spec, &ws, ANY_TENANT, None)
                .await
                .unwrap(),
        );
        assert_eq!((second.digests_reused, second.bytes_read), (0, 6));
        // Once they are older than the tick, their `stat` proves their content: kept, then reused.
        std::thread::sleep(TIMESTAMP_TICK + Duration::from_millis(100));
        let settled = table(
            preparer
                .prepare(&spec, &ws, ANY_TENANT, None)
                .await
                .unwrap(),
        );
        assert!(settled.files.iter().all(|file| settled.settled(file)));
        let reused = table(
            preparer
                .prepare(&spec, &ws, ANY_TENANT, None)
                .await
                .unwrap(),
        );
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
        let first = preparer
            .prepare(&spec, &ws, ANY_TENANT, None)
            .await
            .unwrap();
        let again = preparer
            .prepare(&spec, &ws, ANY_TENANT, None)
            .await
            .unwrap();
        assert!(
            again.files.unwrap().digests_reused > 0,
            "the stored table is used"
        );
        let full = preparer
            .prepare(&spec, &ws, Reuse::Never, None)
            .await
            .unwrap();
        assert_eq!(full.files, None, "no table: the tools reuse nothing");
        assert_eq!(full.content_digest, first.content_digest);
    }

    /// Every entry under `root`: its path, kind, content or link target, and whether it is executable.
    fn listing(root: &Path) -> Vec<(String, String)> {
        use std::os::unix::fs::PermissionsExt;
        let mut entries: Vec<_> = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|entry| {
                let entry = entry.unwrap();
                let rel = entry
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .display()
                    .to_string();
                let kind = entry.file_type();
                let what = if kind.is_symlink() {
                    format!(
                        "link {}",
                        std::fs::read_link(entry.path()).unwrap().display()
                    )
                } else if kind.is_dir() {
                    "dir".to_string()
                } else {
                    let mode = entry.metadata().unwrap().permissions().mode();
                    let bytes = std::fs::read(entry.path()).unwrap();
                    format!(
                        "file {:o} {}",
                        mode & 0o100,
                        String::from_utf8_lossy(&bytes)
                    )
                };
                (rel, what)
            })
            .collect();
        entries.sort();
        entries
    }

    fn git_spec(repo: &Path, commit: Option<&str>) -> SourceSpec {
        SourceSpec::Git {
            git_url: format!("file://{}", repo.display()),
            branch: commit.is_none().then(|| "main".to_string()),
            commit: commit.map(str::to_string),
            git_credentials_ref: None,
        }
    }

    fn keeping(kept_dir: &Path) -> LocalSourcePreparer {
        LocalSourcePreparer::new(local_policy())
            .with_cache(Arc::new(MemoryCache::default()))
            .with_timestamp_tick(Duration::ZERO)
            .with_kept_checkouts(KeptCheckouts::new(kept_dir.to_path_buf(), 4))
    }

    /// Reuse allowed, for a job without a tenant.
    const ANY_TENANT: Reuse<'static> = Reuse::Allowed { tenant: None };

    const TENANT: Reuse<'static> = Reuse::Allowed {
        tenant: Some("team-a"),
    };

    #[tokio::test]
    async fn a_kept_checkout_follows_the_repository_and_holds_exactly_what_a_fresh_clone_holds() {
        let (repo, _, _) = repo();
        std::fs::write(repo.path().join("same.txt"), "unchanged").unwrap();
        git(repo.path(), &["add", "-A"]);
        git(repo.path(), &["commit", "-q", "-m", "same"]);
        let kept_dir = tempfile::tempdir().unwrap();
        let preparer = keeping(kept_dir.path());
        let (_d, ws) = workspace();
        let first = preparer
            .prepare(&git_spec(repo.path(), None), &ws, TENANT, None)
            .await
            .unwrap();
        assert!(first.root.starts_with(kept_dir.path()), "{:?}", first.root);
        assert!(
            !first.root.join(".git").exists(),
            "git's own files stay outside the tree"
        );
        // What a tool that may write (the pipeline says so first) may leave behind: an untracked file, an
        // ignored one, a tracked file changed.
        let tree = first.root.clone();
        first.lease.as_ref().unwrap().exposing().unwrap();
        std::fs::write(tree.join("left-behind.txt"), "junk").unwrap();
        std::fs::create_dir_all(tree.join("target")).unwrap();
        std::fs::write(tree.join("target/ignored.o"), "junk").unwrap();
        std::fs::write(tree.join("a.txt"), "changed by a tool").unwrap();
        drop(first);

        // The next push: an edit, a deletion, a new executable, a link, an ignore rule, a new directory.
        let work = repo.path();
        std::fs::write(work.join("a.txt"), "three").unwrap();
        std::fs::write(work.join(".gitignore"), "target/\n").unwrap();
        std::fs::create_dir_all(work.join("bin")).unwrap();
        std::fs::write(work.join("bin/run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            work.join("bin/run.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("a.txt", work.join("link")).unwrap();
        git(work, &["add", "-A"]);
        git(work, &["commit", "-q", "-m", "three"]);
        std::fs::write(work.join("b.txt"), "four").unwrap();
        git(work, &["rm", "-q", "bin/run.sh"]);
        git(work, &["add", "-A"]);
        git(work, &["commit", "-q", "-m", "four"]);
        let head = git(work, &["rev-parse", "HEAD"]);
        for commit in [None, Some(head.as_str())] {
            let spec = git_spec(repo.path(), commit);
            let again = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
            assert_eq!(again.root, tree, "the same kept checkout");
            assert_eq!(again.commit.as_deref(), Some(head.as_str()));
            let (_d, fresh_ws) = workspace();
            let fresh = LocalSourcePreparer::new(local_policy())
                .prepare(&spec, &fresh_ws, Reuse::Never, None)
                .await
                .unwrap();
            assert_eq!(listing(&again.root), listing(&fresh.root));
            let files = again.files.unwrap();
            assert!(
                files.digests_reused > 0,
                "unchanged files are not read again"
            );
            assert_eq!(
                table_of(&files),
                table_of(&*fresh_table(&spec).await),
                "the tools are handed the fresh clone's files, not what was removed"
            );
            // Left for the next round by a tool that may write: nothing but an empty directory.
            again.lease.as_ref().unwrap().exposing().unwrap();
            std::fs::create_dir(tree.join("empty")).unwrap();
        }
    }

    /// Writes `text` at `rel` in `repo` as a new file (never through a link that was there), making its
    /// directories.
    fn write_in(repo: &Path, rel: &str, text: &str) {
        let path = repo.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        std::fs::write(path, text).unwrap();
    }

    /// Removes what is at `rel` in `repo`: a file, a link, or a directory with all it holds.
    fn remove_in(repo: &Path, rel: &str) {
        let path = repo.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path).unwrap(),
            Ok(_) => std::fs::remove_file(&path).unwrap(),
            Err(_) => {}
        }
    }

    /// One commit of a history: writes, removals and mode changes in the work tree of `repo`, committed.
    fn commit_change(repo: &Path, step: usize) {
        use std::os::unix::fs::PermissionsExt;
        let write = |rel: &str, text: String| write_in(repo, rel, &text);
        let remove = |rel: &str| remove_in(repo, rel);
        match step {
            0 => {
                for n in 0..40 {
                    write(&format!("src/m{}/f{n}.py", n % 5), format!("v0 {n}\n"));
                }
                write("bin/tool", "\0binary\0".to_string());
                write("x", "a file that becomes a directory".to_string());
                std::os::unix::fs::symlink("src", repo.join("to-src")).unwrap();
            }
            1 => {
                write("src/m1/f1.py", "v1\n".to_string());
                remove("src/m2/f2.py");
                write("src/new/added.py", "added\n".to_string());
                let exe = repo.join("src/m3/f3.py");
                std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            2 => {
                remove("x");
                write("x/inside", "a directory now".to_string());
                remove("to-src");
                write("to-src", "a link that became a file".to_string());
                remove("src/m4");
            }
            3 => {
                remove("src/m0/f0.py");
                std::os::unix::fs::symlink("f5.py", repo.join("src/m0/f0.py")).unwrap();
                remove("x");
                write("x", "a file again".to_string());
                write("bin/tool", "\0rebuilt\0".to_string());
            }
            _ => {
                // A submodule entry: an empty directory in every checkout.
                let head = git(repo, &["rev-parse", "HEAD"]);
                git(
                    repo,
                    &[
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        &format!("160000,{head},vendor/sub"),
                    ],
                );
                write("src/m1/f1.py", format!("v{step}\n"));
            }
        }
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", &format!("step {step}")]);
    }

    /// A file written into a kept checkout beside git.
    const STRAY: &str = "stray.txt";

    #[tokio::test]
    async fn a_kept_checkout_reads_only_what_git_changed_and_its_table_is_what_a_walk_finds() {
        let repo = tempfile::tempdir().unwrap();
        git(repo.path(), &["init", "-q", "-b", "main"]);
        let kept_dir = tempfile::tempdir().unwrap();
        let preparer = keeping(kept_dir.path());
        let (_d, ws) = workspace();
        for step in 0..6 {
            commit_change(repo.path(), step);
            let changed = match step {
                0 => None,
                _ => Some(git(
                    repo.path(),
                    &["diff", "--name-only", "--no-renames", "HEAD~1", "HEAD"],
                )),
            };
            let prepared = preparer
                .prepare(&git_spec(repo.path(), None), &ws, TENANT, None)
                .await
                .unwrap();
            let files = prepared.files.clone().unwrap();
            // Every file with its `stat` and content exactly as a walk of the tree finds them now (git rewrote
            // no file it did not list), but for what was written beside git by no tool that said it might:
            // the update looks at no path git did not change.
            let stray = prepared.root.join(STRAY);
            let walked =
                tree::tree_table(&prepared.root, &tree::PreviousTable::default(), None).unwrap();
            let described = |files: &SourceFiles| -> Vec<_> {
                files
                    .files
                    .iter()
                    .filter(|f| f.path != STRAY)
                    .map(|f| (f.path.clone(), f.stat, f.sha256, f.binary))
                    .collect()
            };
            assert_eq!(described(&files), described(&walked.files), "step {step}");
            assert!(!files.files.iter().any(|f| f.path == STRAY), "step {step}");
            // Exposed after step 3: the update of step 4 walked the tree and removed the stray file.
            assert_eq!(stray.exists(), (1..=3).contains(&step), "step {step}");
            if step == 3 {
                prepared.lease.as_ref().unwrap().exposing().unwrap();
            }
            if step < 4 {
                std::fs::write(&stray, "written beside git").unwrap();
            }
            assert_eq!(
                table_of(&files),
                table_of(&*fresh_table(&git_spec(repo.path(), None)).await),
                "step {step}"
            );
            // Only the files git wrote were read (the update of step 4 walked the tree twice, the second
            // time reusing what the first had read).
            if let Some(changed) = changed.filter(|_| step != 4) {
                let written: u64 = changed
                    .lines()
                    .map(|rel| repo.path().join(rel))
                    .filter_map(|path| std::fs::symlink_metadata(path).ok())
                    .filter(std::fs::Metadata::is_file)
                    .map(|meta| meta.len())
                    .sum();
                assert_eq!(files.bytes_read, written, "step {step}: {changed}");
                assert!(files.digests_reused > 0, "step {step}");
            }
        }
    }

    /// Every entry of the tree under `root`, as a checkout leaves it: each directory, each file with its
    /// bytes and whether it is executable, each link with its target.
    fn snapshot(root: &Path) -> Vec<String> {
        use std::os::unix::fs::PermissionsExt;
        let mut entries = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                entries.push(if meta.is_dir() {
                    pending.push(path);
                    format!("dir {rel}")
                } else if meta.is_symlink() {
                    format!(
                        "link {rel} -> {}",
                        std::fs::read_link(&path).unwrap().display()
                    )
                } else {
                    let executable = meta.permissions().mode() & 0o111 != 0;
                    let bytes = std::fs::read(&path).unwrap();
                    format!(
                        "file {rel} x={executable} {:?}",
                        String::from_utf8_lossy(&bytes)
                    )
                });
            }
        }
        entries.sort();
        entries
    }

    /// How many files [`commit_move`] writes at once in `many/`: more than the 100 from which git checks
    /// out on every core.
    const MANY: usize = 120;

    /// What [`commit_move`] writes in `many/n{n}.txt` at `step`, as committed (the checkout ends its lines
    /// in CRLF).
    fn many_text(step: usize, n: usize) -> String {
        format!("many {n} at {}\n", step.min(1))
    }

    /// One commit of a history that moves every kind of entry: files rewritten, added in new directories,
    /// removed with the directories they leave empty, made executable and not; links retargeted, turned
    /// into files and back; a file turned into a directory and back; files written through end-of-line
    /// attributes, and new attributes for a new file. Steps 0 and 1 each write [`MANY`] files, so git
    /// writes them on every core.
    fn commit_move(repo: &Path, step: usize) {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let write = |rel: &str, text: &str| write_in(repo, rel, text);
        let remove = |rel: &str| remove_in(repo, rel);
        let link = |target: &str, rel: &str| {
            remove(rel);
            symlink(target, repo.join(rel)).unwrap();
        };
        let mode = |rel: &str, mode: u32| {
            std::fs::set_permissions(repo.join(rel), std::fs::Permissions::from_mode(mode))
                .unwrap();
        };
        if step <= 1 {
            for n in 0..MANY {
                write(&format!("many/n{n}.txt"), &many_text(step, n));
            }
        }
        match step {
            0 => {
                write(".gitattributes", "*.txt eol=crlf\n");
                for n in 0..12 {
                    write(&format!("src/m{}/f{n}.py", n % 3), &format!("v0 {n}\n"));
                }
                write("notes/a.txt", "line one\nline two\n");
                write("lonely/deep/only.py", "the only file here\n");
                write("x", "a file that becomes a directory\n");
                write("d/one.py", "a directory that becomes a file\n");
                write("run.sh", "#!/bin/sh\n");
                link("src/m0/f0.py", "to-file");
                link("src", "to-dir");
                link("notes", "becomes-file");
                write("becomes-link", "a file that becomes a link\n");
            }
            1 => {
                write("src/m1/f1.py", "v1\n");
                write("notes/a.txt", "line one\nline two, changed\n");
                write("notes/b.txt", "added\nwith attributes\n");
                write("brand/new/deep/added.py", "added\n");
                remove("lonely/deep/only.py");
                mode("run.sh", 0o755);
                mode("src/m2/f2.py", 0o755);
                link("src/m1/f1.py", "to-file");
                remove("becomes-file");
                write("becomes-file", "a link that became a file\n");
                link("run.sh", "becomes-link");
            }
            2 => {
                remove("x");
                write("x/inside.py", "a directory now\n");
                remove("d");
                write("d", "a file now\n");
                mode("run.sh", 0o644);
                remove("src/m0");
            }
            3 => {
                // New attributes for a new kind of file: git writes it through them.
                write(".gitattributes", "*.txt eol=crlf\n*.cfg eol=crlf\n");
                write("settings.cfg", "a = 1\nb = 2\n");
                write("src/m1/f1.py", "v3\n");
            }
            _ => {
                remove("x");
                write("x", "a file again\n");
                remove("brand");
                write("src/m0/f0.py", "back\n");
                remove("to-dir");
            }
        }
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", &format!("step {step}")]);
    }

    #[tokio::test]
    async fn a_kept_checkout_moved_commit_by_commit_is_the_tree_a_fresh_clone_checks_out() {
        let repo = tempfile::tempdir().unwrap();
        git(repo.path(), &["init", "-q", "-b", "main"]);
        let kept_dir = tempfile::tempdir().unwrap();
        let preparer = keeping(kept_dir.path());
        let (_d, ws) = workspace();
        let spec = git_spec(repo.path(), None);
        for step in 0..5 {
            commit_move(repo.path(), step);
            let kept = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
            let warnings = kept.warnings.join("\n");
            assert!(
                !warnings.contains("kept checkout"),
                "step {step}: {warnings}"
            );
            let (_f, fresh_ws) = workspace();
            let fresh = LocalSourcePreparer::new(local_policy())
                .prepare(&spec, &fresh_ws, ANY_TENANT, None)
                .await
                .unwrap();
            assert_eq!(snapshot(&kept.root), snapshot(&fresh.root), "step {step}");
            assert!(
                snapshot(&kept.root)
                    .iter()
                    .any(|e| e.contains("line one\\r\\n")),
                "step {step}: no end of line was converted"
            );
            for n in 0..MANY {
                assert_eq!(
                    std::fs::read_to_string(kept.root.join(format!("many/n{n}.txt"))).unwrap(),
                    many_text(step, n).replace('\n', "\r\n"),
                    "step {step}: file {n} of a checkout on every core"
                );
            }
            // git's index says the same, down to each file's `stat`: nothing modified, untracked or staged.
            let repo_git = std::fs::read_dir(kept_dir.path())
                .unwrap()
                .map(|e| e.unwrap().path().join("repo.git"))
                .find(|p| p.is_dir())
                .unwrap();
            let kept_git = |args: &[&str]| {
                let layout = ["--git-dir", repo_git.to_str().unwrap(), "--work-tree", "."];
                git(&kept.root, &[&layout[..], args].concat())
            };
            assert_eq!(kept_git(&["diff-files", "--name-only"]), "", "step {step}");
            let status = kept_git(&["status", "--porcelain", "--untracked-files=all"]);
            assert_eq!(status, "", "step {step}");
            drop(fresh);
        }
    }

    /// Each file of a table with its digest, in order.
    fn table_of(files: &SourceFiles) -> Vec<(String, Sha256Digest)> {
        files
            .files
            .iter()
            .map(|f| (f.path.clone(), f.sha256))
            .collect()
    }

    /// The file table of a fresh clone (scan cache on, no kept checkouts).
    async fn fresh_table(spec: &SourceSpec) -> Arc<SourceFiles> {
        let (_d, ws) = workspace();
        let prepared = LocalSourcePreparer::new(local_policy())
            .with_cache(Arc::new(MemoryCache::default()))
            .prepare(spec, &ws, ANY_TENANT, None)
            .await
            .unwrap();
        prepared.files.unwrap()
    }

    #[tokio::test]
    async fn a_held_kept_checkout_makes_the_next_scan_clone_afresh_and_tenants_never_share_one() {
        let (repo, _, second) = repo();
        let kept_dir = tempfile::tempdir().unwrap();
        let preparer = keeping(kept_dir.path());
        let (_d, ws) = workspace();
        let spec = git_spec(repo.path(), None);
        let held = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
        let (_d2, ws2) = workspace();
        let meanwhile = preparer.prepare(&spec, &ws2, TENANT, None).await.unwrap();
        assert_eq!(meanwhile.root, ws2.source_dir());
        assert_eq!(meanwhile.commit.as_deref(), Some(second.as_str()));
        assert!(
            meanwhile
                .warnings
                .join("\n")
                .contains("another scan of this repository holds it"),
            "{:?}",
            meanwhile.warnings
        );
        let other_tenant = Reuse::Allowed {
            tenant: Some("team-b"),
        };
        let other = preparer
            .prepare(&spec, &ws2, other_tenant, None)
            .await
            .unwrap();
        assert!(other.root.starts_with(kept_dir.path()));
        assert_ne!(other.root, held.root);
        let full = preparer
            .prepare(&spec, &ws2, Reuse::Never, None)
            .await
            .unwrap();
        assert_eq!(
            full.root,
            ws2.source_dir(),
            "a full scan uses no kept checkout"
        );
        assert_eq!(full.files, None);
    }

    #[tokio::test]
    async fn a_kept_checkout_whose_update_failed_is_removed() {
        let (repo, _, _) = repo();
        let kept_dir = tempfile::tempdir().unwrap();
        let preparer = keeping(kept_dir.path());
        let (_d, ws) = workspace();
        let kept = preparer
            .prepare(&git_spec(repo.path(), None), &ws, TENANT, None)
            .await
            .unwrap();
        let tree = kept.root.clone();
        drop(kept);
        let missing = "0123456789abcdef0123456789abcdef01234567";
        let err = preparer
            .prepare(&git_spec(repo.path(), Some(missing)), &ws, TENANT, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(missing), "{err}");
        assert!(!tree.exists(), "the next scan starts from a fresh clone");
    }

    #[tokio::test]
    async fn directory_sources_are_scanned_in_place_with_a_digest_and_confined_to_allowed_roots() {
        let (repo, _, _) = repo();
        let (_d, ws) = workspace();
        let spec = directory(repo.path());
        let prepared = LocalSourcePreparer::new(local_policy())
            .prepare(&spec, &ws, ANY_TENANT, None)
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
            .prepare(&spec, &ws, ANY_TENANT, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("outside the directories"), "{err}");
    }

    /// The packs of the repository at `git_dir`, by name, and the name of the largest.
    fn packs_of(git_dir: &Path) -> (Vec<String>, String) {
        let mut packs: Vec<(u64, String)> = std::fs::read_dir(git_dir.join("objects/pack"))
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "pack"))
            .map(|entry| {
                let size = entry.metadata().unwrap().len();
                (size, entry.file_name().to_string_lossy().into_owned())
            })
            .collect();
        packs.sort();
        let largest = packs
            .last()
            .map(|(_, name)| name.clone())
            .unwrap_or_default();
        (packs.into_iter().map(|(_, name)| name).collect(), largest)
    }

    /// Text that does not compress away: `len` hex digits from `seed`.
    fn noise(seed: u64, len: usize) -> String {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from_digit((state % 16) as u32, 16).unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_kept_checkouts_packs_are_merged_as_they_come_and_repacked_whole_only_after_as_much_again(
    ) {
        let (repo, _, _) = repo();
        let work = repo.path();
        std::fs::create_dir_all(work.join("src")).unwrap();
        for n in 0..200 {
            std::fs::write(work.join(format!("src/f{n}.txt")), noise(n, 2000)).unwrap();
        }
        git(work, &["add", "-A"]);
        git(work, &["commit", "-q", "-m", "base"]);
        let replaced = git(work, &["rev-parse", "HEAD:src/f0.txt"]);
        let kept_dir = tempfile::tempdir().unwrap();
        let policy = SourcePolicy {
            git: GitPolicy {
                allow_local: true,
                max_packs: 3,
                ..Default::default()
            },
            ..Default::default()
        };
        let preparer = LocalSourcePreparer::new(policy)
            .with_cache(Arc::new(MemoryCache::default()))
            .with_timestamp_tick(Duration::ZERO)
            .with_kept_checkouts(KeptCheckouts::new(kept_dir.path().to_path_buf(), 4));
        let spec = git_spec(work, None);
        let (_d, ws) = workspace();
        let first = preparer.prepare(&spec, &ws, TENANT, None).await.unwrap();
        let git_dir = first.root.parent().unwrap().join("repo.git");
        drop(first);
        let (packs, base) = packs_of(&git_dir);
        assert_eq!(packs.len(), 1, "{packs:?}");
        let rescan = |message: String| {
            let (preparer, spec, ws, work) = (&preparer, &spec, &ws, work);
            async move {
                git(work, &["commit", "-q", "-am", &message]);
                let prepared = preparer.prepare(spec, ws, TENANT, None).await.unwrap();
                assert!(
                    !prepared.warnings.iter().any(|w| w.contains("not tidied")),
                    "{:?}",
                    prepared.warnings
                );
                assert_eq!(
                    table_of(prepared.files.as_ref().unwrap()),
                    table_of(&*fresh_table(spec).await)
                );
            }
        };
        // Small pushes, a pack each: past three packs the small ones are merged, the base left as it is.
        for push in 0..8u64 {
            for n in 0..3 {
                let file = work.join(format!("src/f{}.txt", push * 3 + n));
                std::fs::write(file, noise(1000 + push * 10 + n, 2000)).unwrap();
            }
            rescan(format!("push {push}")).await;
            let (packs, largest) = packs_of(&git_dir);
            assert!(packs.len() <= 3, "push {push}: {packs:?}");
            assert_eq!(largest, base, "push {push}: the base was packed again");
        }
        // What the base holds stays until the packs beside it hold half as much again: then the whole
        // repository is packed again, with only what the commit reaches.
        let kept_has = |object: &str| {
            std::process::Command::new("git")
                .arg("--git-dir")
                .arg(&git_dir)
                .args(["cat-file", "-e", object])
                .status()
                .unwrap()
                .success()
        };
        assert!(
            kept_has(&replaced),
            "the base pack keeps f0's first version"
        );
        for n in 0..200 {
            std::fs::write(work.join(format!("src/f{n}.txt")), noise(5000 + n, 2000)).unwrap();
        }
        rescan("every file".to_string()).await;
        for push in 0..2u64 {
            std::fs::write(work.join("src/f0.txt"), noise(9000 + push, 2000)).unwrap();
            rescan(format!("after {push}")).await;
        }
        let (packs, largest) = packs_of(&git_dir);
        assert!(packs.len() <= 3, "{packs:?}");
        assert_ne!(largest, base, "the whole repository was packed again");
        assert!(!kept_has(&replaced), "a version no commit reaches is gone");
        assert!(!git_dir.join("logs").exists());
    }
}
