//! The public scanner: scans one buffer, or a whole tree with a bounded pool of worker threads fed
//! through a bounded channel, so memory stays bounded whatever the tree size.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

use certus_beneath::Directory;

use crate::detect::{self, FileFindings};
use crate::error::{Result, SecretsError};
use crate::report::{ScanReport, SecretFinding, SkipReason};
use crate::rules::RuleSet;
use crate::walk::{self, Entry, Walker};

/// Default cap on the size of a scanned file.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;
/// Default number of decoding passes over encoded content (gitleaks' `--max-decode-depth` default).
pub const DEFAULT_MAX_DECODE_DEPTH: usize = 5;
/// Upper bound on decoding passes, whatever is asked.
pub const MAX_DECODE_DEPTH: usize = 16;
/// Upper bound on worker threads, whatever is asked.
const MAX_THREADS: usize = 64;
/// Findings kept in one report; further ones are only counted.
pub const MAX_FINDINGS: usize = 100_000;
/// Skipped files listed in one report; further ones are only counted.
const MAX_SKIPPED_LISTED: usize = 10_000;
/// Files queued per worker between the walker and the workers.
const QUEUE_PER_THREAD: usize = 64;
/// Files handed to a worker at once: fewer wake-ups and lock round trips than one file at a time.
const BATCH: usize = 16;

/// Scanner limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Files larger than this (bytes) are skipped and reported.
    pub max_file_size: u64,
    /// Worker threads (clamped to 1..=64).
    pub threads: usize,
    /// Passes decoding base64, hex and percent-encoded segments and scanning the decoded text
    /// (clamped to 0..=16); 0 disables decoding.
    pub max_decode_depth: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
            max_decode_depth: DEFAULT_MAX_DECODE_DEPTH,
        }
    }
}

/// A rule set plus limits, ready to scan buffers and trees.
#[derive(Debug)]
pub struct Scanner {
    rules: RuleSet,
    options: ScanOptions,
}

/// A file handed from the walker to a worker.
struct Job {
    dir: Directory,
    name: std::ffi::OsString,
    rel: String,
}

/// Report under construction, shared by the workers.
#[derive(Default)]
struct Accumulator {
    findings: Vec<SecretFinding>,
    findings_omitted: u64,
    files_scanned: u64,
    bytes_scanned: u64,
    skipped: Vec<(String, SkipReason)>,
    skipped_omitted: u64,
}

impl Accumulator {
    fn skip(&mut self, rel: String, reason: SkipReason) {
        if self.skipped.len() < MAX_SKIPPED_LISTED {
            self.skipped.push((rel, reason));
        } else {
            self.skipped_omitted += 1;
        }
    }

    /// Adds another accumulator's results, within the same bounds.
    fn merge(&mut self, other: Accumulator) {
        self.files_scanned += other.files_scanned;
        self.bytes_scanned += other.bytes_scanned;
        self.add(FileFindings {
            findings: other.findings,
            omitted: other.findings_omitted,
        });
        for (rel, reason) in other.skipped {
            self.skip(rel, reason);
        }
        self.skipped_omitted += other.skipped_omitted;
    }

    fn add(&mut self, file: FileFindings) {
        self.findings_omitted += file.omitted;
        for finding in file.findings {
            if self.findings.len() < MAX_FINDINGS {
                self.findings.push(finding);
            } else {
                self.findings_omitted += 1;
            }
        }
    }
}

impl Scanner {
    /// A scanner over `rules` with `options`.
    pub fn new(rules: RuleSet, options: ScanOptions) -> Self {
        Self { rules, options }
    }

    /// The rules in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The limits in use.
    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    fn decode_depth(&self) -> usize {
        self.options.max_decode_depth.min(MAX_DECODE_DEPTH)
    }

    /// Scans one in-memory file whose path (relative, `/`-separated) is `rel_path`. The whole buffer
    /// is scanned (no binary or size check; `scan_tree` applies those). Findings are sorted by line.
    pub fn scan_bytes(&self, rel_path: &str, data: &[u8]) -> Vec<SecretFinding> {
        if detect::path_allowlisted(&self.rules, rel_path) {
            return Vec::new();
        }
        let mut findings =
            detect::scan_file(&self.rules, rel_path, Some(data), self.decode_depth()).findings;
        sort(&mut findings);
        findings
    }

    /// Scans every regular file under `root` (symlinks are never followed) in parallel.
    pub fn scan_tree(&self, root: &Path) -> Result<ScanReport> {
        let walker = Walker::new(root, |rel| self.path_allowlisted(rel))?;
        let threads = self.options.threads.clamp(1, MAX_THREADS);
        let accumulator = Mutex::new(Accumulator::default());
        let (sender, receiver) = sync_channel::<Vec<Job>>(threads * QUEUE_PER_THREAD / BATCH);
        let receiver = Mutex::new(receiver);
        std::thread::scope(|scope| -> Result<()> {
            let mut workers = Vec::with_capacity(threads);
            for n in 0..threads {
                let worker = std::thread::Builder::new()
                    .name(format!("certus-secrets-{n}"))
                    .spawn_scoped(scope, || self.work(&receiver, &accumulator))
                    .map_err(SecretsError::ThreadSpawn)?;
                workers.push(worker);
            }
            let mut batch = Vec::with_capacity(BATCH);
            for entry in walker {
                match entry {
                    Entry::File { dir, name, rel } => {
                        batch.push(Job { dir, name, rel });
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            if sender.send(full).is_err() {
                                break;
                            }
                        }
                    }
                    Entry::Skipped { rel, reason } => accumulator
                        .lock()
                        .map_err(|_| SecretsError::WorkerFailed)?
                        .skip(rel, reason),
                }
            }
            if !batch.is_empty() {
                // A send fails only when every worker is gone: their joins below say why.
                let _ = sender.send(batch);
            }
            drop(sender);
            for worker in workers {
                worker.join().map_err(|_| SecretsError::WorkerFailed)?;
            }
            Ok(())
        })?;
        let acc = accumulator
            .into_inner()
            .map_err(|_| SecretsError::WorkerFailed)?;
        let mut report = ScanReport {
            findings: acc.findings,
            findings_omitted: acc.findings_omitted,
            files_scanned: acc.files_scanned,
            bytes_scanned: acc.bytes_scanned,
            skipped: acc.skipped,
            skipped_omitted: acc.skipped_omitted,
            rule_errors: self.rules.rule_errors().to_vec(),
        };
        sort(&mut report.findings);
        report.skipped.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(report)
    }

    /// Worker loop: takes batches of files from the queue until it is closed, and adds each batch's results
    /// to `accumulator` at once (one lock per batch, not per file).
    fn work(&self, receiver: &Mutex<Receiver<Vec<Job>>>, accumulator: &Mutex<Accumulator>) {
        let mut buf = Vec::new();
        loop {
            let batch = match receiver.lock() {
                Ok(queue) => queue.recv(),
                Err(_) => return,
            };
            let Ok(batch) = batch else { return };
            let mut done = Accumulator::default();
            for job in batch {
                let open = || job.dir.open(&job.name);
                let (findings, outcome, _) = self.scan_file(&job.rel, open, &mut buf);
                done.add(findings);
                match outcome {
                    Ok(bytes) => {
                        done.files_scanned += 1;
                        done.bytes_scanned += bytes;
                    }
                    Err(reason) => done.skip(job.rel, reason),
                }
            }
            let Ok(mut acc) = accumulator.lock() else {
                return;
            };
            acc.merge(done);
        }
    }

    /// Scans one file of the tree, named `rel` and opened by `open` when it is not allowlisted: findings,
    /// and the bytes scanned or why the content was skipped.
    fn scan_file(
        &self,
        rel: &str,
        open: impl FnOnce() -> std::io::Result<std::fs::File>,
        buf: &mut Vec<u8>,
    ) -> (
        FileFindings,
        std::result::Result<u64, SkipReason>,
        Option<std::fs::Metadata>,
    ) {
        if let Some((found, reason)) = self.allowlisted(rel) {
            return (found, Err(reason), None);
        }
        match walk::read_file(open(), self.options.max_file_size, buf) {
            (Ok(()), stat) => (
                detect::scan_file(&self.rules, rel, Some(buf), self.decode_depth()),
                Ok(u64::try_from(buf.len()).unwrap_or(u64::MAX)),
                stat,
            ),
            (Err(reason), stat) => (
                detect::scan_file(&self.rules, rel, None, 0),
                Err(reason),
                stat,
            ),
        }
    }

    /// Whether the rules' global allowlist excludes the path `rel` (a directory excluded this way is not
    /// entered by [`Scanner::scan_tree`], and reported once).
    pub fn path_allowlisted(&self, rel: &str) -> bool {
        detect::path_allowlisted(&self.rules, rel)
    }

    /// Scans the file named `rel` in its tree exactly as [`Scanner::scan_tree`] scans each file (binary,
    /// oversized and unreadable files get the path-only rules and a skip reason), with `buf` as the read
    /// buffer, opening it with `open` (which must never follow a link in the file's place) only when its
    /// content is to be read.
    pub fn scan_opened(
        &self,
        rel: &str,
        open: impl FnOnce() -> std::io::Result<std::fs::File>,
        buf: &mut Vec<u8>,
    ) -> PathScan {
        let (found, outcome, stat) = self.scan_file(rel, open, buf);
        path_scan(found, outcome.err(), stat)
    }

    /// Scans the file named `rel` in its tree from `content`, all of its bytes as read elsewhere (the read that
    /// hashed it for the tree's digest), exactly as [`Scanner::scan_opened`] scans the file once it has read it:
    /// binary or oversized content gets the path-only rules and its skip reason.
    pub fn scan_read(&self, rel: &str, content: &[u8]) -> PathScan {
        let size = u64::try_from(content.len()).unwrap_or(u64::MAX);
        let head = &content[..content.len().min(walk::BINARY_SNIFF_LEN)];
        if let Some(scan) = self.scan_unread(rel, size, memchr::memchr(0, head).is_some()) {
            return scan;
        }
        let (found, skipped) = match self.allowlisted(rel) {
            Some((found, reason)) => (found, Some(reason)),
            None => (
                detect::scan_file(&self.rules, rel, Some(content), self.decode_depth()),
                None,
            ),
        };
        path_scan(found, skipped, None)
    }

    /// Scans the file named `rel` without reading it when what is known of its content already decides, as
    /// [`Scanner::scan_opened`] would decide after reading, that only the path-only rules apply: `size` bytes
    /// over the size limit, or `binary` (a NUL byte among its first [`BINARY_SNIFF_LEN`](crate::BINARY_SNIFF_LEN)
    /// bytes). `None` when the content must be read.
    pub fn scan_unread(&self, rel: &str, size: u64, binary: bool) -> Option<PathScan> {
        let reason = walk::too_large(size, self.options.max_file_size)
            .or(binary.then_some(SkipReason::Binary))?;
        let (found, reason) = self
            .allowlisted(rel)
            .unwrap_or_else(|| (detect::scan_file(&self.rules, rel, None, 0), reason));
        Some(path_scan(found, Some(reason), None))
    }

    /// The verdict on `rel` when the rules' global allowlist excludes it: nothing found, for that reason.
    fn allowlisted(&self, rel: &str) -> Option<(FileFindings, SkipReason)> {
        detect::path_allowlisted(&self.rules, rel)
            .then(|| (FileFindings::default(), SkipReason::AllowlistedPath))
    }
}

/// One file scanned by [`Scanner::scan_opened`].
#[derive(Debug)]
pub struct PathScan {
    /// In report order.
    pub findings: Vec<SecretFinding>,
    /// Why the content was not scanned, when it was not (the path-only rules ran).
    pub skipped: Option<SkipReason>,
    /// What `fstat` said of the open file once it was read: the file that was scanned, as it was then.
    /// `None` when it was not opened (an allowlisted path, an open that failed).
    pub stat: Option<std::fs::Metadata>,
}

/// One file's result, its findings in report order.
fn path_scan(
    found: FileFindings,
    skipped: Option<SkipReason>,
    stat: Option<std::fs::Metadata>,
) -> PathScan {
    let mut findings = found.findings;
    sort(&mut findings);
    PathScan {
        findings,
        skipped,
        stat,
    }
}

/// Report order: path, line, rule id, column.
fn sort(findings: &mut [SecretFinding]) {
    findings.sort_by(|a, b| {
        (&a.path, a.line, &a.rule_id, a.column).cmp(&(&b.path, b.line, &b.rule_id, b.column))
    });
}
