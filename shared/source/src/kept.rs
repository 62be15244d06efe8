//! Kept checkouts: the tree of a git source's last scan, kept in the data directory, so that the next scan of
//! the same repository for the same tenant fetches only the objects it lacks and git rewrites only the files
//! that changed. A push-triggered rescan then costs what the push changed, not a fresh clone of the whole
//! repository. One scan at a time holds a kept checkout (a lock on its directory, held for the whole scan); a
//! scan that finds it held clones afresh into its own workspace. An update that did not finish (a cancelled
//! scan, a crash) leaves a marker, and the next scan that takes the checkout starts it afresh. A tool that may
//! write (any but this process's own read-only scanners) leaves another before it runs: the next scan then
//! reads the whole tree and removes what its commit does not hold; without it, the next scan reads only what
//! git changed. At most `max` are kept: taking one removes the least recently used beyond that, unless another
//! scan holds them.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use certus_core::digest::sha256_hex;
use certus_core::error::{CoreError, Result};
use certus_core::ports::KeptTree;
use rustix::fs::{flock, FlockOperation};

use crate::git::Layout;

/// How many kept checkouts a data directory holds by default.
pub const DEFAULT_MAX_KEPT: usize = 8;

/// The marker of an update under way: present when a checkout is taken, the last update never finished.
const UPDATING: &str = "updating";

/// The marker of a tree a program may have written (a tool that is not this process's own code ran on it):
/// until a scan has read the whole tree again and removed what its commit does not hold, nothing may be
/// taken from what git says it changed.
const EXPOSED: &str = "exposed";

/// The directory of kept checkouts and how many it may hold.
#[derive(Debug, Clone)]
pub struct KeptCheckouts {
    dir: PathBuf,
    max: usize,
}

/// One kept checkout, held by this scan until dropped: `tree/` (the commit's files), `repo.git/` (git's),
/// `home/` (git's home directory) and `lock`.
#[derive(Debug)]
pub struct Kept {
    dir: PathBuf,
    name: String,
    tree: PathBuf,
    git_dir: PathBuf,
    home: PathBuf,
    _lock: File,
}

impl Kept {
    pub fn layout(&self) -> Layout<'_> {
        Layout {
            tree: &self.tree,
            git_dir: &self.git_dir,
            home: &self.home,
        }
    }

    pub fn tree(&self) -> &Path {
        &self.tree
    }

    /// A name for what is stored about this checkout elsewhere (its file table): unique to the tenant and
    /// the repository, 64 hex digits.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Marks an update under way, until [`Kept::updated`].
    pub fn updating(&self) -> Result<()> {
        self.mark(UPDATING)
    }

    /// The tree is the commit's: the update finished.
    pub fn updated(&self) -> Result<()> {
        self.unmark(UPDATING)
    }

    /// Whether a program may have written the tree since it was last read whole (`EXPOSED`); when the
    /// marker cannot be looked at, it may have.
    pub fn exposed(&self) -> bool {
        !matches!(
            std::fs::symlink_metadata(self.dir.join(EXPOSED)),
            Err(e) if e.kind() == ErrorKind::NotFound
        )
    }

    /// The tree was read whole and holds only its commit's files: no longer exposed.
    pub fn cleaned(&self) -> Result<()> {
        self.unmark(EXPOSED)
    }

    fn mark(&self, marker: &str) -> Result<()> {
        let path = self.dir.join(marker);
        File::create(&path)
            .map(drop)
            .map_err(|e| CoreError::io(&path, e))
    }

    /// Removes `marker`, present or not.
    fn unmark(&self, marker: &str) -> Result<()> {
        let path = self.dir.join(marker);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(CoreError::io(&path, e)),
            _ => Ok(()),
        }
    }

    /// Removes the checkout (an update that failed part way), so the next scan starts from a fresh clone.
    pub fn discard(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| CoreError::io(&self.dir, e))
    }
}

impl KeptTree for Kept {
    fn exposing(&self) -> Result<()> {
        self.mark(EXPOSED)
    }
}

impl KeptCheckouts {
    pub fn new(dir: PathBuf, max: usize) -> Self {
        Self { dir, max }
    }

    /// The kept checkout of the repository `lineage` for `tenant`, held by this scan; `None` when another scan
    /// holds it. Blocking: it may remove what an unfinished update left.
    pub fn take(&self, tenant: Option<&str>, lineage: &str) -> Result<Option<Kept>> {
        let name = sha256_hex(
            format!(
                "certus-kept-checkout\0{}\0{}\0{lineage}",
                u8::from(tenant.is_some()),
                tenant.unwrap_or_default()
            )
            .as_bytes(),
        );
        // Absolute: git runs inside the tree, so a relative path would name something else there.
        let named = self.dir.join(&name);
        let dir = std::path::absolute(&named).map_err(|e| CoreError::io(&named, e))?;
        private_dir(&dir)?;
        let Some(lock) = hold(&dir, HANDOVER)? else {
            return Ok(None);
        };
        // Most recently used first when choosing what to remove.
        lock.set_modified(SystemTime::now())
            .map_err(|e| CoreError::io(&dir, e))?;
        if dir.join(UPDATING).exists() {
            for part in ["tree", "repo.git", EXPOSED, UPDATING] {
                let path = dir.join(part);
                let removed = match std::fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
                    Ok(_) => std::fs::remove_file(&path),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                };
                removed.map_err(|e| CoreError::io(&path, e))?;
            }
        }
        let home = dir.join("home");
        private_dir(&home)?;
        let kept = Kept {
            tree: dir.join("tree"),
            git_dir: dir.join("repo.git"),
            home,
            dir,
            name,
            _lock: lock,
        };
        private_dir(&kept.tree)?;
        Ok(Some(kept))
    }

    /// Removes the least recently used checkouts beyond `max` (counting `taken`) that no scan holds.
    pub fn trim(&self, taken: &Kept) -> Result<()> {
        let taken = taken.name.as_str();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| CoreError::io(&self.dir, e))?;
        let mut others = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CoreError::io(&self.dir, e))?;
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if !is_dir || entry.file_name().to_str() == Some(taken) {
                continue;
            }
            let used = std::fs::metadata(entry.path().join("lock"))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            others.push((used, entry.path()));
        }
        others.sort_by_key(|other| std::cmp::Reverse(other.0));
        for (_, dir) in others.into_iter().skip(self.max.saturating_sub(1)) {
            if let Some(_held) = hold(&dir, Duration::ZERO)? {
                std::fs::remove_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
            }
        }
        Ok(())
    }
}

fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CoreError::io(dir, e))
}

/// How long taking a checkout waits for a lock that is about to be let go. A scan that has just ended has
/// let go of it, but a process another thread of this program is starting shares the lock's open file until
/// it runs its program (a few milliseconds, longer on a loaded machine); without the wait the next scan
/// would find the checkout held and clone afresh. A scan that really holds it holds it far longer.
const HANDOVER: Duration = Duration::from_secs(1);

/// An exclusive lock on `dir`'s lock file, tried again for up to `patience`; `None` when another scan holds
/// it or the directory was removed while this one waited for it (its lock file is then no longer the one at
/// the path).
fn hold(dir: &Path, patience: Duration) -> Result<Option<File>> {
    let path = dir.join("lock");
    let file = match File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CoreError::io(&path, e)),
    };
    let started = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(rustix::io::Errno::WOULDBLOCK) if started.elapsed() < patience => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(CoreError::io(&path, e.into())),
        }
    }
    let held = file.metadata().map_err(|e| CoreError::io(&path, e))?;
    match std::fs::metadata(&path) {
        Ok(now) if (now.dev(), now.ino()) == (held.dev(), held.ino()) => Ok(Some(file)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CoreError::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_checkout_is_not_handed_out_twice_and_tenants_never_share_one() {
        let dir = tempfile::tempdir().unwrap();
        let kept = KeptCheckouts::new(dir.path().to_path_buf(), 4);
        let first = kept.take(Some("team-a"), "repo").unwrap().unwrap();
        let first_tree = first.tree().to_path_buf();
        assert!(kept.take(Some("team-a"), "repo").unwrap().is_none());
        let other = kept.take(Some("team-b"), "repo").unwrap().unwrap();
        assert_ne!(first.tree(), other.tree());
        let unnamed = kept.take(None, "repo").unwrap().unwrap();
        assert_ne!(unnamed.tree(), first.tree());
        drop(first);
        let again = kept.take(Some("team-a"), "repo").unwrap().unwrap();
        assert_eq!(again.tree(), first_tree);
        assert!(again.tree().is_dir());
    }

    #[test]
    fn a_checkout_kept_under_a_relative_directory_is_laid_out_by_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = std::env::current_dir().unwrap();
        let up: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
        let relative = up.join(dir.path().strip_prefix("/").unwrap());
        assert!(relative.is_relative());
        let kept = KeptCheckouts::new(relative, 4);
        let taken = kept.take(None, "repo").unwrap().unwrap();
        let layout = taken.layout();
        for path in [layout.tree, layout.git_dir, layout.home] {
            assert!(path.is_absolute(), "{}", path.display());
        }
        assert!(taken.tree().is_dir());
        assert!(std::fs::canonicalize(taken.tree())
            .unwrap()
            .starts_with(std::fs::canonicalize(dir.path()).unwrap()));
    }

    #[test]
    fn the_least_recently_used_checkouts_beyond_the_limit_go_unless_held() {
        let dir = tempfile::tempdir().unwrap();
        let kept = KeptCheckouts::new(dir.path().to_path_buf(), 2);
        let oldest = kept.take(None, "one").unwrap().unwrap();
        let oldest_tree = oldest.tree().to_path_buf();
        std::fs::write(oldest_tree.join("a.txt"), "one").unwrap();
        drop(oldest);
        let held = kept.take(None, "two").unwrap().unwrap();
        let held_tree = held.tree().to_path_buf();
        // Taking a third removes the oldest; the held one stays although it is beyond the limit with it.
        let third = kept.take(None, "three").unwrap().unwrap();
        kept.trim(&third).unwrap();
        assert!(
            !oldest_tree.exists(),
            "the least recently used checkout was removed"
        );
        assert!(held_tree.is_dir());
        let fourth = kept.take(None, "four").unwrap().unwrap();
        kept.trim(&fourth).unwrap();
        assert!(
            held_tree.is_dir(),
            "a checkout a scan holds is never removed"
        );
    }

    #[test]
    fn a_checkout_whose_update_never_finished_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let kept = KeptCheckouts::new(dir.path().to_path_buf(), 2);
        let taken = kept.take(None, "one").unwrap().unwrap();
        std::fs::write(taken.tree().join("a.txt"), "kept").unwrap();
        taken.updating().unwrap();
        taken.updated().unwrap();
        drop(taken);
        let again = kept.take(None, "one").unwrap().unwrap();
        assert!(
            again.tree().join("a.txt").exists(),
            "a finished update is kept"
        );
        again.updating().unwrap();
        std::fs::create_dir_all(dir.path().join(again.name()).join("repo.git")).unwrap();
        std::fs::write(again.tree().join("half-written"), "x").unwrap();
        drop(again); // the scan was cancelled part way
        let afresh = kept.take(None, "one").unwrap().unwrap();
        assert_eq!(std::fs::read_dir(afresh.tree()).unwrap().count(), 0);
        assert!(!dir.path().join(afresh.name()).join("repo.git").exists());
    }

    #[test]
    fn a_discarded_checkout_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let kept = KeptCheckouts::new(dir.path().to_path_buf(), 2);
        let taken = kept.take(None, "one").unwrap().unwrap();
        std::fs::write(taken.tree().join("half-written"), "x").unwrap();
        taken.discard().unwrap();
        let again = kept.take(None, "one").unwrap().unwrap();
        assert_eq!(std::fs::read_dir(again.tree()).unwrap().count(), 0);
    }
}
