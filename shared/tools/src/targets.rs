//! Lists the source files under a scanned root so a tool can be given them explicitly, which
//! keeps ignore files planted in the scanned tree (e.g. `.semgrepignore`) from hiding code.

use std::path::{Path, PathBuf};

/// Deepest directory level walked.
const MAX_DEPTH: usize = 64;
/// Most directory entries looked at before giving up on listing.
const MAX_ENTRIES: usize = 500_000;

/// The outcome of listing a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listing {
    /// Every matching file, in a stable order.
    Files(Vec<PathBuf>),
    /// The tree is larger than the listing budget (too many entries, too deep, or the file
    /// arguments would be too long for one command line).
    TooLarge,
}

/// Lists regular files under `root` whose extension is in `extensions`, without following
/// symlinks and without entering `.git` directories. The listing is given up as
/// [`Listing::TooLarge`] when the paths would add up to more than `max_argument_bytes`.
pub(crate) fn list_files(root: &Path, extensions: &[&str], max_argument_bytes: usize) -> Listing {
    let mut files = Vec::new();
    let mut argument_bytes = 0usize;
    let mut entries_seen = 0usize;
    let mut pending = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            entries_seen += 1;
            if entries_seen > MAX_ENTRIES {
                return Listing::TooLarge;
            }
            // `file_type` does not follow symlinks: a link is neither a file nor a dir here.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                if entry.file_name() == ".git" {
                    continue;
                }
                if depth + 1 > MAX_DEPTH {
                    return Listing::TooLarge;
                }
                pending.push((path, depth + 1));
            } else if kind.is_file() && has_extension(&path, extensions) {
                argument_bytes += path.as_os_str().len() + 1;
                if argument_bytes > max_argument_bytes {
                    return Listing::TooLarge;
                }
                files.push(path);
            }
        }
    }
    files.sort();
    Listing::Files(files)
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| extensions.contains(&ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for file in ["a.py", "web/b.js", "web/c.txt", "deep/er/d.py", ".git/e.py"] {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        std::os::unix::fs::symlink("/etc", root.path().join("link")).unwrap();
        root
    }

    #[test]
    fn matching_files_are_listed_without_git_dirs_or_symlinks() {
        let root = tree();
        let Listing::Files(files) = list_files(root.path(), &["py", "js"], 1 << 20) else {
            panic!("listing gave up");
        };
        let relative: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root.path()).unwrap().to_str().unwrap())
            .collect();
        assert_eq!(relative, ["a.py", "deep/er/d.py", "web/b.js"]);
    }

    #[test]
    fn a_listing_over_the_argument_budget_is_given_up() {
        let root = tree();
        assert_eq!(
            list_files(root.path(), &["py", "js"], 10),
            Listing::TooLarge
        );
    }
}
