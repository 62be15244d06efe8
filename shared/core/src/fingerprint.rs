//! Finding fingerprints (scheme `certus/v2`): an HMAC-SHA256, under a per-deployment key, of the tool, the
//! rule, the path, a whitespace-normalised basis (the flagged line's content, or what identifies a secret)
//! and the occurrence index of that basis among the same rule's findings in the file. Two distinct findings
//! never share one (a second identical line gets the next index), lines inserted above keep them stable, and
//! without the key nobody can test a guess of a secret or of a line against a published fingerprint.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{CoreError, Result};
use crate::finding::Finding;
use crate::workspace::{confined_join, lexically_confined};

/// The scheme's name: the SARIF `partialFingerprints` key and the first input of every MAC.
pub const FINGERPRINT_SCHEME: &str = "certus/v2";
/// The scheme before keyed fingerprints (`sha256(tool, rule, path, basis)`); baselines carrying it are refused.
pub const LEGACY_FINGERPRINT_SCHEME: &str = "certus/v1";
/// Bytes of a generated key.
pub const FINGERPRINT_KEY_BYTES: usize = 32;
/// Keys shorter than this are refused (a guessable key would make the fingerprint a guessing oracle again).
const MIN_KEY_BYTES: usize = 32;
/// Source files larger than this are not read for line content (the snippet or message is used instead).
const MAX_LINE_SOURCE_BYTES: u64 = 16 * 1024 * 1024;
/// Characters of a line kept as basis.
const MAX_BASIS_CHARS: usize = 4096;

/// The per-deployment fingerprint key. Its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct FingerprintKey(Arc<Zeroizing<Vec<u8>>>);

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

impl FingerprintKey {
    /// A key from its bytes (at least 32: a key file's or a secret's text, as it is).
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(CoreError::Config(format!(
                "the fingerprint key has {} bytes; at least {MIN_KEY_BYTES} are needed",
                bytes.len()
            )));
        }
        Ok(Self(Arc::new(Zeroizing::new(bytes.to_vec()))))
    }

    /// The key kept in the file at `path` (its text, trimmed), created there (mode 0600, 32 random bytes as
    /// hex) on first use. A file readable by group or others is refused.
    pub fn load_or_generate(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        }
        let text = certus_attest::load_or_generate_secret(path)
            .map_err(|e| CoreError::Config(format!("fingerprint key: {e}")))?;
        Self::new(text.as_bytes())
            .map_err(|e| CoreError::Config(format!("{} holds no usable key: {e}", path.display())))
    }

    /// A fresh random key (tests, and one-off scans that keep no baseline).
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new(vec![0u8; FINGERPRINT_KEY_BYTES]);
        getrandom::fill(&mut bytes)
            .map_err(|e| CoreError::Config(format!("no randomness for a fingerprint key: {e}")))?;
        Self::new(&bytes)
    }

    /// The key's bytes, for a scanner that keys its own intermediate digests with it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        // HMAC accepts keys of any length; `new` has checked the minimum.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The fingerprint of one finding whose basis (already normalised) and occurrence index are known.
    pub fn fingerprint(
        &self,
        tool: &str,
        rule_id: &str,
        path: &str,
        basis: &str,
        occurrence: usize,
    ) -> String {
        self.mac(&[
            FINGERPRINT_SCHEME.as_bytes(),
            tool.as_bytes(),
            rule_id.as_bytes(),
            path.as_bytes(),
            basis.as_bytes(),
            occurrence.to_string().as_bytes(),
        ])
    }

    /// Replaces every finding's scanner-given identity (`Finding::fingerprint` as a scanner returns it: a
    /// digest of the secret, the purl, the snippet or the message) by its keyed fingerprint. The basis is
    /// the flagged line's content read under `root` (when the finding names a readable line) together with
    /// that identity; the occurrence index counts, in line order, the earlier findings of the same tool, rule
    /// and path with the same basis.
    pub fn assign(&self, findings: &mut [Finding], root: &Path) {
        let mut lines = SourceLines::new(root);
        // Taken path by path, so that each file is read once and only one is held at a time.
        let mut by_path: Vec<usize> = (0..findings.len()).collect();
        by_path.sort_by_key(|&i| (findings[i].path.as_deref(), findings[i].start_line));
        let mut bases = vec![String::new(); findings.len()];
        for i in by_path {
            let f = &findings[i];
            let line = match (&f.path, f.start_line) {
                (Some(path), Some(number)) => lines.line(path, number).unwrap_or_default(),
                _ => String::new(),
            };
            bases[i] = format!("{}\n{}", normalise(&line), f.fingerprint);
        }
        let mut order: Vec<usize> = (0..findings.len()).collect();
        order.sort_by_key(|&i| (findings[i].start_line.unwrap_or(0), i));
        let mut seen: HashMap<(String, String, String, &str), usize> = HashMap::new();
        for i in order {
            let f = &findings[i];
            let path = f.path.clone().unwrap_or_default();
            let slot = seen
                .entry((f.tool.clone(), f.rule_id.clone(), path.clone(), &bases[i]))
                .or_insert(0);
            let occurrence = *slot;
            *slot += 1;
            let fingerprint = self.fingerprint(&f.tool, &f.rule_id, &path, &bases[i], occurrence);
            findings[i].fingerprint = fingerprint;
        }
    }
}

/// Whitespace runs collapsed to one space, ends trimmed, bounded length.
fn normalise(basis: &str) -> String {
    let joined = basis.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(MAX_BASIS_CHARS).collect()
}

/// Reads the lines findings point at, confined to the scanned root. It holds the last file read (its bytes in
/// a buffer kept for the next), so lines asked for path by path read each file once.
pub struct SourceLines {
    root: PathBuf,
    /// The root, opened once: each file is opened beneath it in one call ([`open_beneath`]); `None` where
    /// the root cannot be opened or the kernel has no `openat2`, and each path is then resolved in full.
    dir: Option<OwnedFd>,
    /// The path last asked for, and whether it could be read into `text`.
    held: Option<(String, bool)>,
    text: Text,
}

impl SourceLines {
    pub fn new(root: &Path) -> Self {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Self {
            root: root.to_path_buf(),
            dir: rustix::fs::open(root, flags, Mode::empty()).ok(),
            held: None,
            text: Text::default(),
        }
    }

    /// Line `number` (1-based) of `path`, or `None` when the file cannot be read inside the root, is too
    /// large or has no such line.
    pub fn line(&mut self, path: &str, number: u64) -> Option<String> {
        let read = match &self.held {
            Some((held, read)) if held == path => *read,
            _ => {
                let read = match self.open(path) {
                    Some(file) => self.text.read(file).is_some(),
                    None => false,
                };
                self.held = Some((path.to_string(), read));
                read
            }
        };
        if !read {
            return None;
        }
        let index = usize::try_from(number.checked_sub(1)?).ok()?;
        self.text.line(index)
    }

    /// `path` opened for reading if it lies inside the root, links followed only while they stay inside.
    fn open(&mut self, path: &str) -> Option<File> {
        if let Some(dir) = &self.dir {
            let rel = lexically_confined(path).ok()?;
            match open_beneath(dir, &rel) {
                Ok(file) => return Some(file),
                Err(Errno::NOSYS | Errno::PERM) => self.dir = None,
                Err(_) => return None,
            }
        }
        let real = confined_join(&self.root, path).ok()?;
        rustix::fs::open(real, READ_FLAGS, Mode::empty())
            .map(File::from)
            .ok()
    }
}

/// How a file a finding points at is opened: non-blocking, so a FIFO in the tree is opened and then refused
/// as not a regular file instead of waiting for a writer.
const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

/// Opens `rel` beneath `dir` with `openat2(RESOLVE_BENEATH)`: links are followed, but the kernel refuses any
/// step out of `dir`, in the same call that opens the file (no window between a check and the open).
fn open_beneath(dir: &OwnedFd, rel: &Path) -> std::result::Result<File, Errno> {
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    rustix::fs::openat2(dir, rel, READ_FLAGS, Mode::empty(), resolve).map(File::from)
}

/// A file's bytes with where its lines start, found as far as the lines asked for (a line is found, and
/// decoded, alone).
#[derive(Default)]
struct Text {
    bytes: Vec<u8>,
    starts: Vec<usize>,
    /// How far the bytes have been searched for line ends.
    searched: usize,
}

impl Text {
    /// Reads `file` (a regular file within the size bound) into the buffer, in place of what it held.
    fn read(&mut self, mut file: File) -> Option<()> {
        self.bytes.clear();
        self.starts.clear();
        self.searched = 0;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_LINE_SOURCE_BYTES {
            return None;
        }
        self.bytes.reserve(usize::try_from(meta.len()).ok()?);
        file.read_to_end(&mut self.bytes).ok()?;
        if !self.bytes.is_empty() {
            self.starts.push(0);
        }
        Some(())
    }

    /// Line `index` (0-based) as `str::lines` gives it from the file decoded lossily as UTF-8: without its
    /// `\n` or `\r\n`. Decoding one line alone gives the same text, since no invalid sequence spans a `\n`.
    fn line(&mut self, index: usize) -> Option<String> {
        while self.starts.len() <= index.saturating_add(1) && self.searched < self.bytes.len() {
            self.searched = match memchr::memchr(b'\n', &self.bytes[self.searched..]) {
                Some(at) => self.searched + at + 1,
                None => self.bytes.len(),
            };
            if self.searched < self.bytes.len() {
                self.starts.push(self.searched);
            }
        }
        let start = *self.starts.get(index)?;
        let end = self
            .starts
            .get(index + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        let line = &self.bytes[start..end];
        let line = match line.strip_suffix(b"\n") {
            Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
            None => line,
        };
        Some(
            String::from_utf8_lossy(line)
                .chars()
                .take(MAX_BASIS_CHARS)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use std::collections::BTreeMap;

    fn finding(rule: &str, path: &str, line: u64) -> Finding {
        Finding {
            tool: "semgrep".into(),
            rule_id: rule.into(),
            rule_name: None,
            rule_description: None,
            help_uri: None,
            severity: Severity::High,
            message: "hard-coded password".into(),
            path: Some(path.into()),
            start_line: Some(line),
            end_line: None,
            snippet: None,
            fingerprint: String::new(),
            properties: BTreeMap::new(),
            suppression: None,
            baseline_state: None,
        }
    }

    fn key() -> FingerprintKey {
        FingerprintKey::generate().unwrap()
    }

    #[test]
    fn a_line_is_what_str_lines_gives_for_any_ending() {
        let dir = tempfile::tempdir().unwrap();
        let texts: [&[u8]; 8] = [
            b"",
            b"\n",
            b"one",
            b"one\ntwo\n",
            b"one\r\ntwo\r\n\r\nfour",
            b"lone\rcarriage\r\n\n\nend\r",
            b"\xff\xfe not utf-8\nsecond \xc3\n",
            b"\n\n  spaced \t line  \n",
        ];
        for (n, bytes) in texts.iter().enumerate() {
            std::fs::write(dir.path().join("f"), bytes).unwrap();
            let mut lines = SourceLines::new(dir.path());
            let lossy = String::from_utf8_lossy(bytes);
            let expected: Vec<&str> = lossy.lines().collect();
            for (index, want) in expected.iter().enumerate() {
                let got = lines.line("f", index as u64 + 1);
                assert_eq!(got.as_deref(), Some(*want), "text {n}, line {}", index + 1);
            }
            assert_eq!(lines.line("f", expected.len() as u64 + 1), None, "text {n}");
            assert_eq!(lines.line("f", 0), None, "text {n}");
            assert_eq!(lines.line("f", u64::MAX), None, "text {n}");
        }
    }

    #[test]
    fn lines_asked_in_any_order_and_of_files_in_turn_are_each_files_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a1\na2\na3\n").unwrap();
        std::fs::write(dir.path().join("b"), "b1\r\nb2").unwrap();
        let mut lines = SourceLines::new(dir.path());
        for (path, number, want) in [
            ("a", 3, Some("a3")),
            ("a", 1, Some("a1")),
            ("b", 2, Some("b2")),
            ("missing", 1, None),
            ("a", 2, Some("a2")),
            ("b", 1, Some("b1")),
            ("b", 3, None),
            ("a", 4, None),
            ("a", 3, Some("a3")),
        ] {
            assert_eq!(lines.line(path, number).as_deref(), want, "{path}:{number}");
        }
    }

    #[test]
    fn identical_lines_get_distinct_fingerprints_and_inserted_lines_keep_them() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, "x = 1\ny = 2\n  x   =  1 \n").unwrap();
        let mut before = vec![finding("r", "a.py", 1), finding("r", "a.py", 3)];
        key.assign(&mut before, dir.path());
        assert_ne!(before[0].fingerprint, before[1].fingerprint);

        std::fs::write(&file, "import os\n\nx = 1\ny = 2\nx = 1\n").unwrap();
        let mut after = vec![finding("r", "a.py", 5), finding("r", "a.py", 3)];
        key.assign(&mut after, dir.path());
        assert_eq!(after[1].fingerprint, before[0].fingerprint);
        assert_eq!(after[0].fingerprint, before[1].fingerprint);

        // A changed line is a different finding.
        std::fs::write(&file, "x = 1\ny = 2\nx = 3\n").unwrap();
        let mut changed = vec![finding("r", "a.py", 1), finding("r", "a.py", 3)];
        key.assign(&mut changed, dir.path());
        assert_eq!(changed[0].fingerprint, before[0].fingerprint);
        assert_ne!(changed[1].fingerprint, before[1].fingerprint);
    }

    #[test]
    fn fingerprints_depend_on_every_part_and_on_the_key() {
        let key = key();
        let a = key.fingerprint("t", "r", "p", "b", 0);
        assert_eq!(a.len(), 64);
        for other in [
            key.fingerprint("t2", "r", "p", "b", 0),
            key.fingerprint("t", "r2", "p", "b", 0),
            key.fingerprint("t", "r", "p2", "b", 0),
            key.fingerprint("t", "r", "p", "b2", 0),
            key.fingerprint("t", "r", "p", "b", 1),
            FingerprintKey::generate()
                .unwrap()
                .fingerprint("t", "r", "p", "b", 0),
        ] {
            assert_ne!(a, other);
        }
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(
            key.fingerprint("ab", "c", "", "", 0),
            key.fingerprint("a", "bc", "", "", 0)
        );
    }

    #[test]
    fn a_key_file_is_created_private_on_first_use_and_then_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/fingerprint.key");
        let first = FingerprintKey::load_or_generate(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = FingerprintKey::load_or_generate(&path).unwrap();
        assert_eq!(
            first.fingerprint("t", "r", "p", "b", 0),
            again.fingerprint("t", "r", "p", "b", 0)
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = FingerprintKey::load_or_generate(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn short_keys_are_refused_and_debug_hides_the_key() {
        assert!(FingerprintKey::new(b"short").is_err());
        let key = FingerprintKey::new(&[7u8; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "FingerprintKey(..)");
    }

    #[test]
    fn source_lines_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "one\ntwo\n").unwrap();
        let mut lines = SourceLines::new(dir.path());
        assert_eq!(lines.line("a.py", 2).as_deref(), Some("two"));
        assert_eq!(lines.line("a.py", 3), None);
        assert_eq!(lines.line("a.py", 0), None);
        assert_eq!(lines.line("../a.py", 1), None);
    }

    #[test]
    fn links_are_followed_only_while_they_stay_inside_the_root_and_only_files_are_read() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "outside\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.py"), "inside\n").unwrap();
        symlink("src/a.py", root.join("near")).unwrap();
        symlink("src", root.join("alias")).unwrap();
        symlink(outside.path().join("secret.txt"), root.join("far")).unwrap();
        symlink(outside.path(), root.join("away")).unwrap();
        symlink("../../../../../../../../etc/hostname", root.join("up")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .unwrap();
        assert!(fifo.success());
        // Opened beneath the root in one call, and, as where the kernel has no openat2, resolved in full.
        for beneath in [true, false] {
            let mut lines = SourceLines::new(root);
            assert!(lines.dir.is_some(), "the root opens");
            if !beneath {
                lines.dir = None;
            }
            for (path, expected) in [
                ("src/a.py", Some("inside")),
                ("near", Some("inside")),
                ("alias/a.py", Some("inside")),
                ("far", None),
                ("away/secret.txt", None),
                ("up", None),
                ("pipe", None),
                ("src", None),
                ("missing.py", None),
            ] {
                let got = lines.line(path, 1);
                assert_eq!(got.as_deref(), expected, "{path} (beneath: {beneath})");
            }
        }
    }
}
