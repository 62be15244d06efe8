//! The dependency inventory over a prepared file table, reusing the whole previous result when nothing it
//! depends on changed. The lockfiles are chosen from the table (`certus_sbom::select_lockfiles`, the walk's
//! rules) instead of walking the tree; the result is keyed by the tool version, the matching mode and the
//! advisory database's identity (a synced snapshot's digest, or the `stat` of a directory's files — never its
//! contents), and the chosen lockfiles' paths and content digests. The stored entry also lists the other files
//! its computation read or looked for (a `go.sum` or `pyproject.toml` beside a lockfile, included
//! requirements files) with their state then, checked again before reuse. A match reuses the result without
//! parsing a lockfile or loading the database; the database's age is checked again against now, and the SBOMs
//! are dated now. An entry that fails its own digest check is discarded and the result computed again. In a
//! directory others write, a result is stored only when every chosen lockfile is settled and still has the
//! `stat` the table holds once it was read (`SourceFiles::keeps`).

use std::path::Path;
use std::sync::Arc;

use certus_core::digest::{sha256_file, sha256_hex};
use certus_core::incremental::{
    self, Basis, CacheUse, Incremental, Keep, SourceFiles, UsedEntries,
};
use certus_core::ports::{LogStream, ScanRequest, ToolOutput, ToolStatus};
use certus_sbom::{select_lockfiles, AdvisoryDb, Selection};
use serde::{Deserialize, Serialize};

use crate::sbom::{compute, finish, with_database, Computed, Matching, SBOM_ID};

/// Bumped when the stored entry's layout changes: older entries then never match.
const ENTRY_FORMAT: u32 = 1;

/// What precedes one scan's result in the stored entry (one per scope and tree): a line of JSON, then the
/// result's JSON.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    /// Digest of what the result was computed from (see [`result_key`]).
    key: String,
    /// Files read or looked for besides the chosen lockfiles, with their state then (see [`file_state`]).
    inputs: Vec<(String, String)>,
    /// SHA-256 over the key, the inputs and the result's bytes: checked before the entry is used.
    sha256: String,
}

fn entry_digest(key: &str, inputs: &[(String, String)], result: &[u8]) -> String {
    let inputs = serde_json::to_string(inputs).unwrap_or_default();
    let mut text = format!("{key}\0{inputs}\0").into_bytes();
    text.extend_from_slice(result);
    sha256_hex(&text)
}

/// The stored entry: the header line and the result.
fn encode(
    key: String,
    inputs: Vec<(String, String)>,
    result: &Computed,
) -> Result<Vec<u8>, String> {
    let result = serde_json::to_vec(result).map_err(|e| e.to_string())?;
    let header = Header {
        format: ENTRY_FORMAT,
        sha256: entry_digest(&key, &inputs, &result),
        key,
        inputs,
    };
    let mut bytes = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    bytes.extend_from_slice(&result);
    Ok(bytes)
}

/// The header and the result's bytes of an intact entry; `None` when it is not one.
fn decode(bytes: &[u8]) -> Option<(Header, &[u8])> {
    let split = bytes.iter().position(|&b| b == b'\n')?;
    let header: Header = serde_json::from_slice(&bytes[..split]).ok()?;
    let result = &bytes[split + 1..];
    let intact = header.format == ENTRY_FORMAT
        && entry_digest(&header.key, &header.inputs, result) == header.sha256;
    intact.then_some((header, result))
}

/// The identity of what matching reads, computed without reading it; `None` when there is none to take
/// (a missing database directory: the scan then computes, and fails as a full scan does).
fn database_identity(matching: &Matching) -> Option<String> {
    match matching {
        Matching::Off => Some("matching off".into()),
        Matching::Database { dir, snapshot, .. } => {
            let recorded = snapshot
                .as_ref()
                .and_then(|record| record.get("digest"))
                .and_then(serde_json::Value::as_str);
            match recorded {
                Some(digest) => Some(format!("snapshot {digest} at {}", dir.display())),
                None => AdvisoryDb::identity(dir)
                    .ok()
                    .map(|identity| format!("directory {identity} at {}", dir.display())),
            }
        }
    }
}

/// SHA-256 over the tool version, the database identity, the chosen lockfiles' paths and content digests (in
/// path order) and the problems met choosing them; `None` when a chosen position is not in the table.
fn result_key(
    version: &str,
    database: &str,
    selection: &Selection,
    incremental: &Incremental,
) -> Option<String> {
    let mut text = format!("certus-sbom-result\0{ENTRY_FORMAT}\0{version}\0{database}\n");
    for (path, &at) in selection.files().iter().zip(selection.positions()) {
        let sha256 = incremental.files.files.get(at)?.sha256;
        text.push_str(&format!("f {path}\0{sha256}\n"));
    }
    for error in selection.errors() {
        text.push_str(&format!("! {error}\n"));
    }
    Some(sha256_hex(text.as_bytes()))
}

/// What a file the computation read or looked for is now: absent, a regular file's content digest, a link's
/// target (and whether it leads to a file), or another kind.
fn file_state(root: &Path, relative: &str) -> String {
    let path = root.join(relative);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "absent".into(),
        Err(e) => format!("unreadable: {}", e.kind()),
        Ok(meta) if meta.is_file() => match sha256_file(&path) {
            Ok((sha256, _)) => format!("file {sha256}"),
            Err(_) => "unreadable file".into(),
        },
        Ok(meta) if meta.file_type().is_symlink() => format!(
            "link {} {}",
            std::fs::read_link(&path)
                .map(|target| target.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path.is_file()
        ),
        Ok(meta) if meta.is_dir() => "directory".into(),
        Ok(_) => "other".into(),
    }
}

/// Why a stored entry was not reused.
enum Previous {
    None,
    /// Intact and computed from the same inputs: reused.
    Reusable(Box<Computed>, String),
    /// Intact but from other inputs.
    Stale,
    /// Failed its own digest check (or could not be read at all).
    Discarded,
}

fn previous(bytes: Option<&[u8]>, key: &str, root: &Path) -> Previous {
    let Some(bytes) = bytes else {
        return Previous::None;
    };
    let Some((stored, result)) = decode(bytes) else {
        return Previous::Discarded;
    };
    if stored.key != key
        || stored
            .inputs
            .iter()
            .any(|(path, state)| file_state(root, path) != *state)
    {
        return Previous::Stale;
    }
    match serde_json::from_slice::<Computed>(result) {
        Ok(computed) => Previous::Reusable(Box::new(computed), stored.sha256),
        Err(_) => Previous::Discarded,
    }
}

/// The inventory of the tree the table lists, reusing the previous scan's result when its key still holds.
pub(crate) async fn scan(
    version: &str,
    incremental: &Incremental,
    request: ScanRequest,
    matching: Matching,
) -> ToolOutput {
    let owned_version = version.to_string();
    let incremental = incremental.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let version = owned_version;
        let files = incremental.files.clone();
        let selection = match select_lockfiles(
            &request.source_root,
            files.files.iter().map(|file| file.path.as_str()),
        ) {
            Ok(selection) => selection,
            Err(e) => return Err(e.to_string()),
        };
        let identity = database_identity(&matching);
        let key = identity
            .as_deref()
            .and_then(|db| result_key(&version, db, &selection, &incremental));
        Ok((request, matching, incremental, selection, identity, key))
    })
    .await;
    let (request, matching, incremental, selection, identity, key) = match joined {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(e)) => return ToolOutput::failed(ToolStatus::Failed, None, e),
        Err(e) => {
            return ToolOutput::failed(
                ToolStatus::Failed,
                None,
                format!("inventory task crashed: {e}"),
            )
        }
    };
    let (Some(identity), Some(key)) = (identity, key) else {
        // Nothing to key a result by: computed as a full scan would, nothing stored.
        return compute_blocking(request, matching, selection, None).await.0;
    };
    let scope = incremental::scope(SBOM_ID, version, &sha256_hex(identity.as_bytes()));
    let lineage = incremental.lineage.clone();
    let mut warnings = Vec::new();
    let bytes = match incremental.cache.index(&scope, &lineage).await {
        Ok(bytes) => bytes,
        Err(e) => {
            warnings.push(format!(
                "scan cache not read, the inventory computed again: {e}"
            ));
            None
        }
    };
    let covered = selection.files().len() as u64;
    let root = request.source_root.clone();
    let checked_key = key.clone();
    let previous =
        tokio::task::spawn_blocking(move || previous(bytes.as_deref(), &checked_key, &root)).await;
    let previous = match previous {
        Ok(found) => found,
        Err(e) => {
            return ToolOutput::failed(
                ToolStatus::Failed,
                None,
                format!("inventory task crashed: {e}"),
            )
        }
    };
    let mut cache = CacheUse {
        scope: scope.clone(),
        files: covered,
        from_cache: 0,
        scanned: covered,
        discarded: 0,
        entries_sha256: UsedEntries::default().finish(),
    };
    let mut out = match previous {
        Previous::Reusable(computed, entry) => {
            (request.log)(
                LogStream::Stderr,
                &format!(
                    "{covered} lockfile(s) and the advisory database unchanged since the previous scan: \
                     its result reused, nothing parsed or loaded"
                ),
            );
            cache.from_cache = covered;
            cache.scanned = 0;
            cache.entries_sha256 = sha256_hex(format!("{entry}\n").as_bytes());
            finish(&request, *computed, &matching)
        }
        other => {
            if matches!(other, Previous::Discarded) {
                cache.discarded = 1;
            }
            let keep = Kept {
                key,
                files: incremental.files.clone(),
            };
            let (out, stored) = compute_blocking(request, matching, selection, Some(keep)).await;
            if let Some(bytes) = stored {
                let put = match bytes {
                    Ok(bytes) => incremental
                        .cache
                        .put_index(&scope, &lineage, bytes)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                if let Err(e) = put {
                    warnings.push(format!("scan cache not updated: {e}"));
                }
            }
            out
        }
    };
    if out.status == ToolStatus::Completed {
        out.warnings.extend(warnings);
    }
    out.cache = Some(cache);
    out
}

/// What a computed result is stored under, and the table its lockfiles were chosen from.
struct Kept {
    key: String,
    files: Arc<SourceFiles>,
}

/// Reads the chosen lockfiles and matches them; on success also the entry to store under `keep`'s key (when
/// one, and when every lockfile read may have its results kept: [`SourceFiles::keeps`]).
async fn compute_blocking(
    request: ScanRequest,
    matching: Matching,
    selection: Selection,
    keep: Option<Kept>,
) -> (ToolOutput, Option<Result<Vec<u8>, String>>) {
    let joined = tokio::task::spawn_blocking(move || {
        let positions = selection.positions().to_vec();
        let (inventory, database) = with_database(&matching, || selection.read());
        let key = keep.and_then(|Kept { key, files }| {
            positions
                .iter()
                .filter_map(|&at| files.files.get(at))
                .all(|file| files.keeps(&request.source_root, file, &Basis::Unknown) == Keep::Yes)
                .then_some(key)
        });
        let inputs: Vec<(String, String)> = inventory
            .inputs
            .iter()
            .map(|path| (path.clone(), file_state(&request.source_root, path)))
            .collect();
        match compute(&request, inventory, &matching, database) {
            Ok(computed) => {
                let stored = key.map(|key| encode(key, inputs, &computed));
                (finish(&request, computed, &matching), stored)
            }
            Err(e) => (ToolOutput::failed(ToolStatus::Failed, None, e), None),
        }
    })
    .await;
    joined.unwrap_or_else(|e| {
        (
            ToolOutput::failed(
                ToolStatus::Failed,
                None,
                format!("inventory task crashed: {e}"),
            ),
            None,
        )
    })
}
