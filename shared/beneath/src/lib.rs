//! Opening, listing, stating and removing a tree's files by the relative paths the tree names (hostile):
//! through directory descriptors, one component at a time, never following a link and never leaving the tree.
//! The directories on the way to the last file or directory opened stay open (the first 64 of them), so files
//! taken in walk order cost one `openat` each, and a new directory one `openat` per component it does not share
//! with the last.
//! A walk lists a directory ([`Listing`]) and opens, stats and reads the links of its entries through the
//! listing's own descriptor, or hands that descriptor to other threads ([`Directory`]): no lookup by path at all.
//! Unix only: it is built on `openat` with `O_NOFOLLOW`.

#![cfg(unix)]

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// What [`Listing::stat`] gives.
pub use rustix::fs::Stat;

/// The files beneath one root, opened for reading.
pub struct Beneath {
    root: PathBuf,
    /// The root's descriptor, once opened.
    top: Option<rustix::fd::OwnedFd>,
    /// The directories from the root down to the last one opened, each component's name and descriptor.
    path: Vec<(OsString, rustix::fd::OwnedFd)>,
}

/// What a directory's entry is, as the directory says (a link is never looked through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Link,
    /// A FIFO, socket or device.
    Other,
}

impl Beneath {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            top: None,
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
        let (dir, name) = split_file(rel)?;
        self.open_in(dir, name)
    }

    /// Opens the file `name` of the directory `dir` (`/`-separated; names as the directories list them, not
    /// necessarily UTF-8), as [`Beneath::open`] does.
    pub fn open_in(&mut self, dir: &OsStr, name: &OsStr) -> io::Result<File> {
        use rustix::fd::AsFd;
        let beyond = self.descend(dir)?;
        open_file(self.held(beyond.as_ref())?.as_fd(), name)
    }

    /// What `stat` says of the entry at `rel` (a link itself, never what it points to), reached as
    /// [`Beneath::open`] reaches a file.
    pub fn stat(&mut self, rel: &str) -> io::Result<Stat> {
        use rustix::fs::{statat, AtFlags};
        let (dir, name) = split_file(rel)?;
        let beyond = self.descend(dir)?;
        Ok(statat(
            self.held(beyond.as_ref())?,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Removes the file or link at `rel`, reached as [`Beneath::open`] reaches a file, then each directory
    /// above it that this leaves empty, up to (not including) the root. Nothing at `rel` is no error; a
    /// directory at `rel` is one. Directories past the first 64 levels are left, even if empty.
    pub fn remove(&mut self, rel: &str) -> io::Result<()> {
        use rustix::fs::{unlinkat, AtFlags};
        use rustix::io::Errno;
        if !self.unlinked(rel)? {
            return Ok(());
        }
        while let Some((name, _)) = self.path.last() {
            let above = self
                .path
                .iter()
                .rev()
                .nth(1)
                .map(|(_, descriptor)| descriptor);
            let parent = above
                .or(self.top.as_ref())
                .ok_or_else(|| io::Error::other("the tree's root is not open"))?;
            match unlinkat(parent, name, AtFlags::REMOVEDIR) {
                Ok(()) => {
                    self.path.pop();
                }
                // Still holds something: kept (and still held). Gone: another remover of the tree took it.
                Err(Errno::NOTEMPTY | Errno::EXIST | Errno::NOENT) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Removes the file or link at `rel` as [`Beneath::remove`] does, leaving the directories above it.
    pub fn unlink(&mut self, rel: &str) -> io::Result<()> {
        self.unlinked(rel).map(|_| ())
    }

    /// Unlinks the file or link at `rel`; whether it was there and every directory above it is held, so
    /// that those it leaves empty can be removed.
    fn unlinked(&mut self, rel: &str) -> io::Result<bool> {
        use rustix::fs::{unlinkat, AtFlags};
        use rustix::io::Errno;
        let (dir, name) = split_file(rel)?;
        let beyond = match self.descend(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            reached => reached?,
        };
        match unlinkat(self.held(beyond.as_ref())?, name, AtFlags::empty()) {
            Ok(()) => Ok(beyond.is_none()),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The entries of the directory `dir` (`""` for the root), reached as [`Beneath::open`] reaches a file's
    /// directory: `.` and `..` left out, in the order the directory gives them.
    pub fn list(&mut self, dir: &OsStr) -> io::Result<Listing> {
        use rustix::fs::{openat, Mode, OFlags};
        let Some((parent, name)) = split_last(dir)? else {
            let beyond = self.descend(OsStr::new(""))?;
            let descriptor = openat(
                self.held(beyond.as_ref())?,
                ".",
                OPEN_DIRECTORY,
                Mode::empty(),
            )?;
            return Ok(Listing {
                dir: rustix::fs::Dir::new(descriptor)?,
            });
        };
        let beyond = self.descend(parent)?;
        let base = self.held(beyond.as_ref())?;
        let descriptor = openat(base, name, OPEN_DIRECTORY | OFlags::NOFOLLOW, Mode::empty())?;
        // Held for the files and subdirectories opened next: a second descriptor of the same open directory
        // (no second lookup), only ever a base for `openat`, so the listing's reading position is its own.
        if beyond.is_none() && self.path.len() < MAX_HELD {
            let held = rustix::io::fcntl_dupfd_cloexec(&descriptor, 0)?;
            self.path.push((name.to_os_string(), held));
        }
        Ok(Listing {
            dir: rustix::fs::Dir::new(descriptor)?,
        })
    }

    /// Opens (or keeps) the directories from the root down to `dir`. Returns the last one's descriptor when it
    /// lies past [`MAX_HELD`] and is not held.
    fn descend(&mut self, dir: &OsStr) -> io::Result<Option<rustix::fd::OwnedFd>> {
        use rustix::fs::{open, openat, Mode, OFlags};
        if !components(dir).all(plain) {
            return Err(refused(dir));
        }
        let shared = self
            .path
            .iter()
            .zip(components(dir))
            .take_while(|((open, _), part)| open == part)
            .count();
        self.path.truncate(shared);
        let top = match &mut self.top {
            Some(top) => top,
            none => none.insert(open(&self.root, OPEN_DIRECTORY, Mode::empty())?),
        };
        // Past MAX_HELD, each directory is let go once the next is open.
        let mut beyond: Option<rustix::fd::OwnedFd> = None;
        for part in components(dir).skip(shared) {
            let held = self.path.last().map_or(&*top, |(_, descriptor)| descriptor);
            let parent = beyond.as_ref().unwrap_or(held);
            let descriptor = openat(
                parent,
                part,
                OPEN_DIRECTORY | OFlags::NOFOLLOW,
                Mode::empty(),
            )?;
            if beyond.is_none() && self.path.len() < MAX_HELD {
                self.path.push((part.to_os_string(), descriptor));
            } else {
                beyond = Some(descriptor);
            }
        }
        Ok(beyond)
    }

    /// The descriptor of the directory [`Beneath::descend`] reached: `beyond`, else the last held.
    fn held<'a>(
        &'a self,
        beyond: Option<&'a rustix::fd::OwnedFd>,
    ) -> io::Result<&'a rustix::fd::OwnedFd> {
        let held = self.path.last().map(|(_, descriptor)| descriptor);
        beyond
            .or(held)
            .or(self.top.as_ref())
            .ok_or_else(|| io::Error::other("the tree's root is not open"))
    }
}

/// The entries of one directory, from [`Beneath::list`]: each name and what it is.
pub struct Listing {
    dir: rustix::fs::Dir,
}

impl Listing {
    /// Opens the file `name` of this directory as [`Beneath::open`] opens a file.
    pub fn open(&self, name: &OsStr) -> io::Result<File> {
        open_file(self.dir.fd()?, name)
    }

    /// This directory, to open its files from elsewhere (another thread) while it is being listed.
    pub fn directory(&self) -> io::Result<Directory> {
        let descriptor = rustix::io::fcntl_dupfd_cloexec(self.dir.fd()?, 0)?;
        Ok(Directory(std::sync::Arc::new(descriptor)))
    }

    /// What `stat` says of the entry `name` of this directory (a link itself, never what it points to).
    pub fn stat(&self, name: &OsStr) -> io::Result<Stat> {
        use rustix::fs::{statat, AtFlags};
        Ok(statat(self.dir.fd()?, name, AtFlags::SYMLINK_NOFOLLOW)?)
    }

    /// What the link `name` of this directory holds.
    pub fn read_link(&self, name: &OsStr) -> io::Result<OsString> {
        use std::os::unix::ffi::OsStringExt;
        let target = rustix::fs::readlinkat(self.dir.fd()?, name, Vec::new())?;
        Ok(OsString::from_vec(target.into_bytes()))
    }
}

impl Iterator for Listing {
    type Item = io::Result<(OsString, Kind)>;

    fn next(&mut self) -> Option<Self::Item> {
        use rustix::fs::FileType;
        use std::os::unix::ffi::OsStrExt;
        loop {
            let entry = match self.dir.next()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(e.into())),
            };
            let name = entry.file_name().to_bytes();
            if matches!(name, b"." | b"..") {
                continue;
            }
            let mut file_type = entry.file_type();
            if file_type == FileType::Unknown {
                // Some file systems do not say in the listing: ask, without following a link.
                match self.stat(OsStr::from_bytes(name)) {
                    Ok(stat) => file_type = FileType::from_raw_mode(stat.st_mode),
                    Err(e) => return Some(Err(e)),
                }
            }
            let kind = match file_type {
                FileType::RegularFile => Kind::File,
                FileType::Directory => Kind::Directory,
                FileType::Symlink => Kind::Link,
                _ => Kind::Other,
            };
            return Some(Ok((OsStr::from_bytes(name).to_os_string(), kind)));
        }
    }
}

/// A directory of the tree, reached as [`Beneath::list`] reaches it and held open: its files are opened
/// relative to it, never through a link. Cheap to clone; shared between threads.
#[derive(Clone)]
pub struct Directory(std::sync::Arc<rustix::fd::OwnedFd>);

impl Directory {
    /// Opens its file `name` as [`Beneath::open`] opens a file.
    pub fn open(&self, name: &OsStr) -> io::Result<File> {
        use rustix::fd::AsFd;
        open_file(self.0.as_fd(), name)
    }
}

/// Opens the file `name` of the directory `dir` for reading: never a link, never waiting on a FIFO.
fn open_file(dir: rustix::fd::BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    if !plain(name) || name.as_encoded_bytes().contains(&b'/') {
        return Err(refused(name));
    }
    Ok(rustix::fs::openat(dir, name, OPEN_FILE, rustix::fs::Mode::empty())?.into())
}

/// `rel` as the directory it names (`""` for the root) and the entry's name in it; refused when the name is
/// empty, `.` or `..` (the directory's components are checked on the way down).
fn split_file(rel: &str) -> io::Result<(&OsStr, &OsStr)> {
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let name = OsStr::new(name);
    if !plain(name) {
        return Err(refused(OsStr::new(rel)));
    }
    Ok((OsStr::new(dir), name))
}

/// A component that names an entry of its directory, not the directory itself or its parent.
fn plain(part: &OsStr) -> bool {
    !matches!(part.as_encoded_bytes(), b"" | b"." | b"..")
}

/// The components of `dir` (`/`-separated; none for `""`), as the bytes the tree names them by.
fn components(dir: &OsStr) -> impl Iterator<Item = &OsStr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = dir.as_bytes();
    bytes
        .split(|byte| *byte == b'/')
        .filter(move |_| !bytes.is_empty())
        .map(OsStr::from_bytes)
}

/// `dir` as its parent and last component, `None` for the root (`""`); refused unless every component is
/// plain.
fn split_last(dir: &OsStr) -> io::Result<Option<(&OsStr, &OsStr)>> {
    use std::os::unix::ffi::OsStrExt;
    if !components(dir).all(plain) {
        return Err(refused(dir));
    }
    let bytes = dir.as_bytes();
    Ok(match bytes.iter().rposition(|byte| *byte == b'/') {
        _ if bytes.is_empty() => None,
        Some(slash) => Some((
            OsStr::from_bytes(&bytes[..slash]),
            OsStr::from_bytes(&bytes[slash + 1..]),
        )),
        None => Some((OsStr::new(""), dir)),
    })
}

/// The error for a path (or a name) that is not a plain path beneath the tree, naming it as given.
fn refused(path: &OsStr) -> io::Error {
    io::Error::other(format!(
        "'{}' is not a plain path beneath the tree",
        path.to_string_lossy()
    ))
}

/// Directories held open at most (a tree may nest thousands deep; descriptors are few): deeper ones are
/// opened again for each file.
const MAX_HELD: usize = 64;

/// How the tree's directories are opened for the files in them.
const OPEN_DIRECTORY: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
    .union(rustix::fs::OFlags::DIRECTORY)
    .union(rustix::fs::OFlags::CLOEXEC);

/// How the tree's files are opened for reading: never through a link in their place, and never waiting on
/// a FIFO.
const OPEN_FILE: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
    .union(rustix::fs::OFlags::NOFOLLOW)
    .union(rustix::fs::OFlags::NONBLOCK)
    .union(rustix::fs::OFlags::CLOEXEC);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read(beneath: &mut Beneath, rel: &str) -> io::Result<String> {
        let mut text = String::new();
        beneath.open(rel)?.read_to_string(&mut text)?;
        Ok(text)
    }

    /// A tree (`tree/`, returned) with `top.txt` and `files`, beside `outside.txt` and `elsewhere/a.rs`,
    /// which its `link.txt` and `linked` point to.
    fn tree_beside_links(dir: &Path, files: &[&str]) -> PathBuf {
        let root = dir.join("tree");
        for rel in files {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), rel.rsplit('/').next().unwrap()).unwrap();
        }
        std::fs::write(root.join("top.txt"), "top").unwrap();
        std::fs::write(dir.join("outside.txt"), "outside").unwrap();
        std::fs::create_dir(dir.join("elsewhere")).unwrap();
        std::fs::write(dir.join("elsewhere/a.rs"), "elsewhere").unwrap();
        std::os::unix::fs::symlink(dir.join("outside.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere"), root.join("linked")).unwrap();
        root
    }

    #[test]
    fn files_are_read_beneath_the_root_and_never_through_a_link_or_out_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = tree_beside_links(dir.path(), &["src/a.rs", "src/deep/b.rs"]);

        let mut beneath = Beneath::new(&root);
        assert_eq!(read(&mut beneath, "src/a.rs").unwrap(), "a.rs");
        assert_eq!(read(&mut beneath, "src/deep/b.rs").unwrap(), "b.rs");
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
    fn files_are_stated_unlinked_and_removed_with_emptied_directories_beneath_the_root() {
        use rustix::fs::FileType;
        let dir = tempfile::tempdir().unwrap();
        let root = tree_beside_links(dir.path(), &["src/a.rs", "src/deep/er/b.rs", "full/c.rs"]);
        let mut beneath = Beneath::new(&root);
        let kind = |stat: Stat| FileType::from_raw_mode(stat.st_mode);

        assert_eq!(beneath.stat("top.txt").unwrap().st_size, 3);
        assert_eq!(
            kind(beneath.stat("src/deep/er/b.rs").unwrap()),
            FileType::RegularFile
        );
        assert_eq!(kind(beneath.stat("link.txt").unwrap()), FileType::Symlink);
        assert_eq!(kind(beneath.stat("src/deep").unwrap()), FileType::Directory);
        assert!(
            beneath.stat("linked/a.rs").is_err(),
            "stated through a link"
        );

        // The deepest file takes the two directories it leaves empty with it, not the one still holding a file.
        beneath.remove("src/deep/er/b.rs").unwrap();
        assert!(!root.join("src/deep").exists());
        assert!(root.join("src/a.rs").exists());
        beneath.remove("src/a.rs").unwrap();
        assert!(!root.join("src").exists());
        // A link is removed itself, never what it points to.
        beneath.remove("link.txt").unwrap();
        assert!(std::fs::symlink_metadata(root.join("link.txt")).is_err());
        assert!(dir.path().join("outside.txt").exists());
        // Nothing there is nothing to do.
        beneath.remove("gone/nowhere.txt").unwrap();
        beneath.remove("top.txt").unwrap();
        beneath.remove("top.txt").unwrap();
        for hostile in [
            "linked/a.rs",
            "../outside.txt",
            "src/../../outside.txt",
            "full",
            "full/..",
            "./full/c.rs",
            "",
            "/etc/hostname",
        ] {
            assert!(beneath.remove(hostile).is_err(), "{hostile} was removed");
        }
        assert!(dir.path().join("elsewhere/a.rs").exists());
        assert!(dir.path().join("outside.txt").exists());
        assert!(root.join("full/c.rs").exists());
        // Unlinked, a file leaves its empty directory; a link goes, never what it points to; hostile paths
        // are refused as they are by `remove`.
        beneath.unlink("full/c.rs").unwrap();
        assert!(!root.join("full/c.rs").exists());
        assert!(root.join("full").is_dir());
        beneath.unlink("full/c.rs").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("full/l")).unwrap();
        beneath.unlink("full/l").unwrap();
        assert!(std::fs::symlink_metadata(root.join("full/l")).is_err());
        assert!(dir.path().join("outside.txt").exists());
        for hostile in ["linked/a.rs", "../outside.txt", "full", ""] {
            assert!(beneath.unlink(hostile).is_err(), "{hostile} was unlinked");
        }
        assert!(dir.path().join("elsewhere/a.rs").exists());
        // The last file of the tree leaves the root in place.
        std::fs::write(root.join("full/c.rs"), "c").unwrap();
        beneath.remove("full/c.rs").unwrap();
        let left: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["linked"]);
    }

    fn listed(beneath: &mut Beneath, dir: &str) -> io::Result<Vec<(String, Kind)>> {
        let mut entries = beneath
            .list(OsStr::new(dir))?
            .map(|entry| entry.map(|(name, kind)| (name.to_string_lossy().into_owned(), kind)))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    #[test]
    fn directories_are_listed_beneath_the_root_with_what_each_entry_is_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("src/a.rs"), "a").unwrap();
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        std::fs::write(dir.path().join("elsewhere/secret.rs"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("src/linked")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("src/fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();

        let mut beneath = Beneath::new(&root);
        assert_eq!(
            listed(&mut beneath, "").unwrap(),
            [("src".to_string(), Kind::Directory)]
        );
        assert_eq!(
            listed(&mut beneath, "src").unwrap(),
            [
                ("a.rs".to_string(), Kind::File),
                ("deep".to_string(), Kind::Directory),
                ("fifo".to_string(), Kind::Other),
                ("linked".to_string(), Kind::Link),
            ]
        );
        assert_eq!(listed(&mut beneath, "src/deep").unwrap(), []);
        // Names need not be UTF-8: a directory and its file reached by their bytes.
        use std::os::unix::ffi::OsStrExt;
        let latin1 = OsStr::from_bytes(b"src/caf\xe9");
        std::fs::create_dir(root.join(OsStr::from_bytes(b"src/caf\xe9"))).unwrap();
        std::fs::write(root.join(latin1).join("x.txt"), "x").unwrap();
        assert_eq!(beneath.list(latin1).unwrap().count(), 1);
        let mut text = String::new();
        let mut file = beneath.open_in(latin1, OsStr::new("x.txt")).unwrap();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "x");
        std::fs::remove_dir_all(root.join(latin1)).unwrap();
        for hostile in [
            "src/linked",
            "..",
            "src/..",
            "src//deep",
            "/src",
            "src/",
            "/tmp",
        ] {
            assert!(
                listed(&mut beneath, hostile).is_err(),
                "{hostile} was listed"
            );
        }
        // Listed, then swapped for a link: the next listing refuses it.
        std::fs::rename(root.join("src/deep"), dir.path().join("deep")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("src/deep")).unwrap();
        assert!(listed(&mut beneath, "src/deep").is_err());
        assert!(listed(&mut Beneath::new(&root), "src/deep").is_err());
    }

    #[test]
    fn a_listed_directorys_entries_are_opened_stated_and_read_through_it_never_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.rs"), "a").unwrap();
        std::fs::write(dir.path().join("outside.rs"), "outside").unwrap();
        std::os::unix::fs::symlink("../../outside.rs", root.join("src/link.rs")).unwrap();
        let listing = Beneath::new(&root).list(OsStr::new("src")).unwrap();
        let directory = listing.directory().unwrap();
        let read = |file: io::Result<File>| {
            let mut text = String::new();
            file?.read_to_string(&mut text)?;
            io::Result::Ok(text)
        };
        assert_eq!(read(listing.open(OsStr::new("a.rs"))).unwrap(), "a");
        assert_eq!(listing.stat(OsStr::new("a.rs")).unwrap().st_size, 1);
        assert_eq!(
            listing.read_link(OsStr::new("link.rs")).unwrap(),
            "../../outside.rs"
        );
        for hostile in ["link.rs", "..", ".", "", "../outside.rs", "../src/a.rs"] {
            assert!(listing.open(OsStr::new(hostile)).is_err(), "{hostile}");
            assert!(directory.open(OsStr::new(hostile)).is_err(), "{hostile}");
        }
        // The directory moved out of the tree and a link to elsewhere put in its place: what was listed is
        // still what is read, the link's target never.
        std::fs::rename(root.join("src"), dir.path().join("moved")).unwrap();
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        std::fs::write(dir.path().join("elsewhere/a.rs"), "elsewhere").unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("src")).unwrap();
        assert_eq!(read(directory.open(OsStr::new("a.rs"))).unwrap(), "a");
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
