//! Per-file tools over a prepared file table, reusing the results the previous scan of the same tree recorded
//! for files whose path and content digest are unchanged (`certus_core::incremental`). Of the files that
//! remain, those the tool already scanned as source preparation read them (its single pass) take those
//! results; the others are scanned on every core. What differs from the stored base index is kept as its
//! delta (or, once that outgrows the base, every file's results as a new base).

use std::path::Path;

use certus_core::finding::Finding;
use certus_core::incremental::{
    Basis, CacheUse, Incremental, Keep, Keeping, Layer, Layers, Paths, Previous, ResultEntry,
    SourceFile, SourceFiles, UsedEntries,
};
use certus_core::parallel::map_on_every_core;
use serde::{Deserialize, Serialize};

/// What a tool found in one file, as the cache keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileResult {
    #[serde(rename = "f", default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Why the file's content was not scanned (binary, too large…), when it was not.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl FileResult {
    /// The bytes a cache entry keeps: nothing for a file with nothing to say (most files).
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        if *self == Self::default() {
            return Ok(Vec::new());
        }
        serde_json::to_vec(self).map_err(|e| format!("scan cache entry: {e}"))
    }

    fn decode(path: &str, bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_slice(bytes).map_err(|e| format!("scan cache entry for {path}: {e}"))
    }
}

/// The results of the files that had any, in path order, and what came from the cache.
pub(crate) struct TreeResult {
    pub files: Vec<(String, FileResult)>,
    pub cache: CacheUse,
    /// Of the files scanned, those scanned from the read that hashed them ([`SourceFile::scanned`]).
    pub single_pass: u64,
    /// Problems with the cache that did not stop the scan (it then scanned more, or kept less).
    pub warnings: Vec<String>,
}

/// What `scan_one` gives for one file: its results, and what they were computed from, which decides whether
/// they are kept ([`SourceFiles::keeps`]).
pub(crate) type Scanned = (FileResult, Basis);

/// Runs `scan_one` on every file of the table whose results are neither in the cache under `scope` nor carried
/// by the table from the tool's single pass.
pub(crate) async fn scan<F>(
    incremental: &Incremental,
    scope: String,
    root: &Path,
    scan_one: F,
) -> Result<TreeResult, String>
where
    F: Fn(&Path, &SourceFile) -> Scanned + Send + Sync + 'static,
{
    let lineage = &incremental.lineage;
    let mut warnings = Vec::new();
    let mut unread = |read: Result<Option<Vec<u8>>, _>, what: &str| {
        read.unwrap_or_else(|e| {
            warnings.push(format!("{what}: {e}"));
            None
        })
    };
    let stored = Layers::read(incremental.cache.as_ref(), &scope, lineage).await;
    let base = unread(stored.base, "scan cache not read, every file scanned");
    // Without a base, a delta is bound to nothing: not used.
    let changes = match base {
        Some(_) => unread(
            stored.delta,
            "scan cache: the changes since its last full index were not read, the files they cover \
             are scanned again",
        ),
        None => None,
    };
    let files = incremental.files.clone();
    let root = root.to_path_buf();
    let worker_scope = scope.clone();
    let (result, keeping) = tokio::task::spawn_blocking(move || {
        let paths = Paths::default();
        let previous = Previous::parse(base.as_deref(), changes.as_deref(), &worker_scope, &paths);
        scan_blocking(&files, &previous, &root, worker_scope, &scan_one)
    })
    .await
    .map_err(|e| format!("the per-file scan crashed: {e}"))??;
    warnings.extend(result.warnings);
    let kept = keeping
        .write(incremental.cache.as_ref(), &scope, lineage)
        .await;
    if let Err(e) = kept {
        warnings.push(format!("scan cache not updated: {e}"));
    }
    Ok(TreeResult { warnings, ..result })
}

/// The scan proper: reuse, scan the rest on every core, and encode what to keep. A file whose results may
/// not be kept ([`SourceFiles::keeps`]) has them reported and left out of what is kept.
fn scan_blocking<F>(
    table: &SourceFiles,
    previous: &Previous<'_>,
    root: &Path,
    scope: String,
    scan_one: &F,
) -> Result<(TreeResult, Keeping), String>
where
    F: Fn(&Path, &SourceFile) -> Scanned + Send + Sync,
{
    let files = &table.files;
    let mut entries: Vec<Option<ResultEntry<'_>>> = Vec::with_capacity(files.len());
    // Whether each file's entry is the base's, which a delta need not repeat.
    let mut in_base = Vec::with_capacity(files.len());
    let mut used = UsedEntries::default();
    let mut pending = Vec::new();
    for (at, file) in files.iter().enumerate() {
        match previous.reuse(file) {
            Some((entry, layer)) => {
                used.add(entry);
                entries.push(Some(entry.clone()));
                in_base.push(layer == Layer::Base);
            }
            None => {
                pending.push(at);
                entries.push(None);
                in_base.push(false);
            }
        }
    }
    // Results computed from the very read that gave the digest: what the table records of the file.
    let single_pass = table.single_pass.as_deref() == Some(scope.as_str());
    let read_along = pending
        .iter()
        .filter(|at| carried(&files[**at], single_pass).is_some())
        .count();
    let done = scan_pending(table, &pending, root, |file| {
        match carried(file, single_pass) {
            Some(results) => Ok((results.clone(), Basis::Table)),
            None => {
                let (result, basis) = scan_one(root, file);
                result.encode().map(|bytes| (bytes, basis))
            }
        }
    })?;
    let mut unkept = vec![false; files.len()];
    let mut changed = Vec::new();
    for (at, entry, keep) in done {
        entries[at] = Some(entry);
        match keep {
            Keep::Yes => {}
            Keep::Recent => unkept[at] = true,
            Keep::Changed => {
                unkept[at] = true;
                changed.push(files[at].path.as_str());
            }
        }
    }
    let entries = entries
        .into_iter()
        .collect::<Option<Vec<ResultEntry<'_>>>>()
        .ok_or_else(|| "a file was neither reused nor scanned".to_string())?;
    let mut results = Vec::new();
    for entry in entries.iter().filter(|e| !e.results.is_empty()) {
        results.push((
            entry.path.to_string(),
            FileResult::decode(&entry.path, &entry.results)?,
        ));
    }
    let kept: Vec<(&ResultEntry<'_>, bool)> = entries
        .iter()
        .zip(&in_base)
        .zip(&unkept)
        .filter(|(_, unkept)| !**unkept)
        .map(|((entry, in_base), _)| (entry, *in_base))
        .collect();
    let keeping = previous.keeping(&scope, &kept);
    changed.sort_unstable();
    let warnings: Vec<String> = changed
        .first()
        .map(|first| {
            format!(
                "{} file(s) changed while the scan read them (first: {first}): their results are reported \
                 but not kept for reuse, and the source digest may not describe the bytes scanned",
                changed.len()
            )
        })
        .into_iter()
        .collect();
    let cache = CacheUse {
        scope,
        files: files.len() as u64,
        from_cache: used.count,
        scanned: pending.len() as u64,
        discarded: previous.discarded,
        entries_sha256: used.finish(),
    };
    Ok((
        TreeResult {
            files: results,
            cache,
            single_pass: read_along as u64,
            warnings,
        },
        keeping,
    ))
}

/// The results the table carries for `file` from the tool's own single pass (`single_pass`: the table's pass
/// is this tool's, under this scope).
fn carried(file: &SourceFile, single_pass: bool) -> Option<&Vec<u8>> {
    file.scanned.as_ref().filter(|_| single_pass)
}

/// A scanned file: its index in the table, its entry, and whether the entry may be kept.
type Done = (usize, ResultEntry<'static>, Keep);

/// The entries of the files at `pending` (indexes into the table), each file's results from `results`, on
/// every core.
fn scan_pending<F>(
    table: &SourceFiles,
    pending: &[usize],
    root: &Path,
    results: F,
) -> Result<Vec<Done>, String>
where
    F: Fn(&SourceFile) -> Result<(Vec<u8>, Basis), String> + Sync,
{
    let files = &table.files;
    map_on_every_core(pending, |&at| {
        let file = &files[at];
        results(file).map(|(bytes, basis)| {
            let keep = table.keeps(root, file, &basis);
            (at, ResultEntry::new(&file.path, file.sha256, bytes), keep)
        })
    })
    .ok_or_else(|| "a scanning thread failed".to_string())?
    .into_iter()
    .collect()
}
