//! Opening a tree's files by the relative paths the tree names (hostile): through directory descriptors, one
//! component at a time, never following a link and never leaving the tree. The directories on the way to the
//! last file opened stay open (the first 64 of them), so files taken in walk order cost one `openat` each,
//! and a new directory one `openat` per component it does not share with the last.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The files beneath one root, opened for reading.
pub struct Beneath {
    root: PathBuf,
    /// The root's descriptor, once opened.
    #[cfg(unix)]
    top: Option<rustix::fd::OwnedFd>,
    /// The directories from the root down to the last file's, each component's name and descriptor.
    #[cfg(unix)]
    path: Vec<(String, rustix::fd::OwnedFd)>,
}

impl Beneath {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            #[cfg(unix)]
            top: None,
            #[cfg(unix)]
            path: Vec::new(),
        }
    }

    /// The root the paths are relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens the regular file at `rel` for reading: refused when a component is empty, `.` or `..`, or a
    /// link (the file's own name included), and never waiting on a FIFO.
    pub fn open(&mut self, rel: &str) -> io::Result<File> {
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.open_in(dir, OsStr::new(name))
    }

    /// Opens the file `name` (as its directory lists it, not necessarily UTF-8) of the directory `dir`, as
    /// [`Beneath::open`] does.
    #[cfg(unix)]
    pub fn open_in(&mut self, dir: &str, name: &OsStr) -> io::Result<File> {
        use rustix::fs::{open, openat, Mode, OFlags};
        let parts: Vec<&str> = dir.split('/').filter(|_| !dir.is_empty()).collect();
        if !plain(name) || !parts.iter().all(|part| plain(OsStr::new(part))) {
            return Err(refused(dir, name));
        }
        let shared = self
            .path
            .iter()
            .zip(&parts)
            .take_while(|((open, _), part)| open == *part)
            .count();
        self.path.truncate(shared);
        let top = match &mut self.top {
            Some(top) => top,
            none => none.insert(open(&self.root, OPEN_DIRECTORY, Mode::empty())?),
        };
        // Past MAX_HELD, each directory is let go once the next is open.
        let mut beyond: Option<rustix::fd::OwnedFd> = None;
        for part in &parts[shared..] {
            let held = self.path.last().map_or(&*top, |(_, descriptor)| descriptor);
            let parent = beyond.as_ref().unwrap_or(held);
            let descriptor = openat(
                parent,
                *part,
                OPEN_DIRECTORY | OFlags::NOFOLLOW,
                Mode::empty(),
            )?;
            if beyond.is_none() && self.path.len() < MAX_HELD {
                self.path.push((part.to_string(), descriptor));
            } else {
                beyond = Some(descriptor);
            }
        }
        let held = self.path.last().map_or(&*top, |(_, descriptor)| descriptor);
        let parent = beyond.as_ref().unwrap_or(held);
        Ok(openat(parent, name, OPEN_FILE, Mode::empty())?.into())
    }

    #[cfg(not(unix))]
    pub fn open_in(&mut self, dir: &str, name: &OsStr) -> io::Result<File> {
        if !plain(name) || !dir.is_empty() && !dir.split('/').map(OsStr::new).all(plain) {
            return Err(refused(dir, name));
        }
        let path = self.root.join(dir).join(name);
        if std::fs::symlink_metadata(&path)?.file_type().is_symlink() {
            return Err(refused(dir, name));
        }
        File::open(path)
    }
}

/// A component that names an entry of its directory, not the directory itself or its parent.
fn plain(part: &OsStr) -> bool {
    !matches!(part.as_encoded_bytes(), b"" | b"." | b"..")
}

fn refused(dir: &str, name: &OsStr) -> io::Error {
    io::Error::other(format!(
        "'{dir}/{}' is not a plain path beneath the tree",
        name.to_string_lossy()
    ))
}

/// Directories held open at most (a tree may nest thousands deep; descriptors are few): deeper ones are
/// opened again for each file.
#[cfg(unix)]
const MAX_HELD: usize = 64;

/// How the tree's directories are opened for the files in them.
#[cfg(unix)]
const OPEN_DIRECTORY: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
    .union(rustix::fs::OFlags::DIRECTORY)
    .union(rustix::fs::OFlags::CLOEXEC);

/// How the tree's files are opened for reading: never through a link in their place, and never waiting on
/// a FIFO.
#[cfg(unix)]
const OPEN_FILE: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
    .union(rustix::fs::OFlags::NOFOLLOW)
    .union(rustix::fs::OFlags::NONBLOCK)
    .union(rustix::fs::OFlags::CLOEXEC);

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Read;

    fn read(beneath: &mut Beneath, rel: &str) -> io::Result<String> {
        let mut text = String::new();
        beneath.open(rel)?.read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn files_are_read_beneath_the_root_and_never_through_a_link_or_out_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("top.txt"), "top").unwrap();
        std::fs::write(root.join("src/a.rs"), "a").unwrap();
        std::fs::write(root.join("src/deep/b.rs"), "b").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "outside").unwrap();
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        std::fs::write(dir.path().join("elsewhere/a.rs"), "elsewhere").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("linked")).unwrap();

        let mut beneath = Beneath::new(&root);
        assert_eq!(read(&mut beneath, "src/a.rs").unwrap(), "a");
        assert_eq!(read(&mut beneath, "src/deep/b.rs").unwrap(), "b");
        assert_eq!(read(&mut beneath, "top.txt").unwrap(), "top");
        for hostile in [
            "link.txt",
            "linked/a.rs",
            "../outside.txt",
            "src/../../outside.txt",
            "src//a.rs",
            "./top.txt",
            "src/..",
            "",
            "/etc/hostname",
        ] {
            assert!(read(&mut beneath, hostile).is_err(), "{hostile} was opened");
        }

        // A directory swapped for a link to another tree: every lookup that reaches it refuses the link.
        std::fs::rename(root.join("src"), dir.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("src")).unwrap();
        assert!(read(&mut beneath, "src/deep/b.rs").is_err());
        assert!(read(&mut Beneath::new(&root), "src/a.rs").is_err());
    }

    #[test]
    fn a_tree_nested_hundreds_deep_is_read_holding_a_bounded_number_of_directories_open() {
        let dir = tempfile::tempdir().unwrap();
        let deep = vec!["d"; 300].join("/");
        std::fs::create_dir_all(dir.path().join(&deep)).unwrap();
        std::fs::write(dir.path().join(&deep).join("x.txt"), "deep").unwrap();
        std::fs::write(dir.path().join("d/d/y.txt"), "shallow").unwrap();
        let open_now = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        let before = open_now();
        let mut beneath = Beneath::new(dir.path());
        assert_eq!(
            read(&mut beneath, &format!("{deep}/x.txt")).unwrap(),
            "deep"
        );
        assert_eq!(
            read(&mut beneath, &format!("{deep}/x.txt")).unwrap(),
            "deep"
        );
        // At most 64 held; other tests of this binary open files meanwhile: a margin, far below the 300.
        let after = open_now();
        assert!(after < before + 100, "{before} then {after}");
        assert_eq!(read(&mut beneath, "d/d/y.txt").unwrap(), "shallow");
        assert_eq!(
            read(&mut beneath, &format!("{deep}/x.txt")).unwrap(),
            "deep"
        );
    }
}
