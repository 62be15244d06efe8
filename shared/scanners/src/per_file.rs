//! Per-file tools over a prepared file table, reusing the results the previous scan of the same tree recorded
//! for files whose path and content digest are unchanged (`certus_core::incremental`). The files that remain
//! are scanned on every core; the new index (every file's results) replaces the previous one.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use certus_core::finding::Finding;
use certus_core::incremental::{
    CacheUse, Incremental, Previous, ResultEntry, ResultIndex, SourceFile, UsedEntries,
    INDEX_FORMAT,
};
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

/// Every file's results, in path order, and what came from the cache.
pub(crate) struct TreeResult {
    pub files: Vec<(String, FileResult)>,
    pub cache: CacheUse,
    /// A problem with the cache that did not stop the scan (it then scanned everything).
    pub warning: Option<String>,
}

/// Runs `scan_one` on every file of the table whose results are not in the cache under `scope`.
pub(crate) async fn scan<F>(
    incremental: &Incremental,
    scope: String,
    root: &Path,
    scan_one: F,
) -> Result<TreeResult, String>
where
    F: Fn(&Path, &SourceFile) -> FileResult + Send + Sync + 'static,
{
    let lineage = incremental.files.lineage.clone();
    let (previous, mut warning) = match incremental.cache.index(&scope, &lineage).await {
        Ok(bytes) => (bytes, None),
        Err(e) => (
            None,
            Some(format!("scan cache not read, every file scanned: {e}")),
        ),
    };
    let files = incremental.files.clone();
    let root = root.to_path_buf();
    let worker_scope = scope.clone();
    let (result, index) = tokio::task::spawn_blocking(move || {
        let previous = Previous::parse(previous.as_deref(), &worker_scope);
        scan_blocking(&files, &previous, &root, worker_scope, &scan_one)
    })
    .await
    .map_err(|e| format!("the per-file scan crashed: {e}"))??;
    let bytes = serde_json::to_vec(&index).map_err(|e| format!("scan cache index: {e}"))?;
    if let Err(e) = incremental.cache.put_index(&scope, &lineage, bytes).await {
        warning = Some(format!("scan cache not updated: {e}"));
    }
    Ok(TreeResult { warning, ..result })
}

fn scan_blocking<F>(
    files: &Arc<certus_core::incremental::SourceFiles>,
    previous: &Previous,
    root: &Path,
    scope: String,
    scan_one: &F,
) -> Result<(TreeResult, ResultIndex), String>
where
    F: Fn(&Path, &SourceFile) -> FileResult + Send + Sync,
{
    let mut entries: Vec<Option<ResultEntry>> = vec![None; files.files.len()];
    let mut used = UsedEntries::default();
    let mut pending = Vec::new();
    for (at, file) in files.files.iter().enumerate() {
        match previous.reuse(file) {
            Some(entry) => {
                used.add(entry);
                entries[at] = Some(entry.clone());
            }
            None => pending.push(at),
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16)
        .min(pending.len().max(1));
    let next = AtomicUsize::new(0);
    let scanned: Mutex<Vec<(usize, ResultEntry)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut done = Vec::new();
                while let Some(&at) = pending.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let file = &files.files[at];
                    let result = scan_one(root, file);
                    if let Ok(value) = serde_json::to_value(&result) {
                        done.push((at, ResultEntry::new(&file.path, &file.sha256, value)));
                    }
                }
                if let Ok(mut all) = scanned.lock() {
                    all.extend(done);
                }
            });
        }
    });
    let scanned = scanned
        .into_inner()
        .map_err(|_| "a scanning thread failed".to_string())?;
    if scanned.len() != pending.len() {
        return Err("a scanning thread failed".into());
    }
    for (at, entry) in scanned {
        entries[at] = Some(entry);
    }
    let entries: Vec<ResultEntry> = entries.into_iter().flatten().collect();
    let mut results = Vec::with_capacity(entries.len());
    for entry in &entries {
        let result: FileResult = serde_json::from_value(entry.results.clone())
            .map_err(|e| format!("cache entry for {}: {e}", entry.path))?;
        results.push((entry.path.clone(), result));
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let cache = CacheUse {
        scope: scope.clone(),
        files: entries.len() as u64,
        from_cache: used.count,
        scanned: pending.len() as u64,
        discarded: previous.discarded,
        entries_sha256: used.finish(),
    };
    let index = ResultIndex {
        format: INDEX_FORMAT,
        scope,
        entries,
    };
    Ok((
        TreeResult {
            files: results,
            cache,
            warning: None,
        },
        index,
    ))
}
