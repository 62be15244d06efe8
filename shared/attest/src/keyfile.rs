//! Private key files on disk: strict-permission loading, atomic create-only saving (mode 0600) and
//! `load_or_generate`, which is safe when several processes race to create the same key file. The same holds
//! for secret keys kept as text (`load_or_generate_secret`: the fingerprint key).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::error::{AttestError, Result};
use crate::key::{SigningKey, MAX_KEY_PEM_BYTES};
use crate::signer::Algorithm;

/// Permission bits that must be clear on a private key file (any access by group or others).
const GROUP_OTHER_BITS: u32 = 0o077;

/// Distinguishes temporary file names created by this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> AttestError {
    AttestError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl SigningKey {
    /// Loads a private key file, refusing it when group or others have any access to it.
    pub fn load(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = read_private_text(path, MAX_KEY_PEM_BYTES as u64, "PEM text")?;
        SigningKey::from_pem_with_origin(&text, &origin)
    }

    /// Writes the key as PKCS#8 PEM to a new file with mode 0600. The file appears atomically and
    /// complete; if `path` already exists it is left untouched and an `Io` error of kind
    /// `AlreadyExists` is returned.
    pub fn save(&self, path: &Path) -> Result<()> {
        let pem = self.to_pkcs8_pem()?;
        let temp = temp_path_beside(path)?;
        let written = write_private_file(&temp, pem.as_bytes())
            .and_then(|()| fs::hard_link(&temp, path).map_err(|err| io_error("create", path, err)));
        // The temporary name is only a staging link; the key lives on under `path` (or nowhere).
        let _ = fs::remove_file(&temp);
        written?;
        sync_parent_dir(path)
    }
}

/// Loads the P-256 key at `path`, or creates it (mode 0600) when it does not exist yet.
pub fn load_or_generate(path: &Path) -> Result<SigningKey> {
    load_or_generate_with(path, Algorithm::default())
}

/// Loads the key at `path`, or generates an `algorithm` key there when it does not exist yet. When two
/// processes race, exactly one key file is written and both return that key.
pub fn load_or_generate_with(path: &Path, algorithm: Algorithm) -> Result<SigningKey> {
    match SigningKey::load(path) {
        Err(AttestError::Io { ref source, .. }) if source.kind() == ErrorKind::NotFound => {}
        loaded => return loaded,
    }
    let key = SigningKey::generate(algorithm)?;
    match key.save(path) {
        Ok(()) => Ok(key),
        Err(AttestError::Io { ref source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
            SigningKey::load(path)
        }
        Err(err) => Err(err),
    }
}

/// Bytes of randomness in a generated secret key (written as 64 hex digits).
const SECRET_KEY_BYTES: usize = 32;
/// A secret key file larger than this is refused.
const MAX_SECRET_KEY_BYTES: u64 = 4096;

/// The text of the secret key file at `path` (surrounding whitespace trimmed), or a new one there — 32 random
/// bytes as 64 lowercase hex digits, mode 0600 — when it does not exist yet. A file that group or others may
/// access is refused, as for signing keys. When two processes race, both return the one key written.
pub fn load_or_generate_secret(path: &Path) -> Result<Zeroizing<String>> {
    match load_secret(path) {
        Err(AttestError::Io { ref source, .. }) if source.kind() == ErrorKind::NotFound => {}
        loaded => return loaded,
    }
    let mut random = Zeroizing::new([0u8; SECRET_KEY_BYTES]);
    getrandom::fill(random.as_mut_slice()).map_err(|e| AttestError::Randomness {
        algorithm: "fingerprint",
        reason: e.to_string(),
    })?;
    let text: Zeroizing<String> =
        Zeroizing::new(random.iter().map(|b| format!("{b:02x}")).collect());
    let temp = temp_path_beside(path)?;
    let written = write_private_file(&temp, text.as_bytes())
        .and_then(|()| fs::hard_link(&temp, path).map_err(|err| io_error("create", path, err)));
    let _ = fs::remove_file(&temp);
    match written {
        Ok(()) => {
            sync_parent_dir(path)?;
            Ok(text)
        }
        Err(AttestError::Io { ref source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
            load_secret(path)
        }
        Err(err) => Err(err),
    }
}

fn load_secret(path: &Path) -> Result<Zeroizing<String>> {
    let text = read_private_text(path, MAX_SECRET_KEY_BYTES, "text")?;
    Ok(Zeroizing::new(text.trim().to_string()))
}

/// The UTF-8 text (`kind` names it in errors) of a key file of at most `limit` bytes, refused when it is not a
/// regular file or when group or others have any access to it. The bytes are zeroed when dropped.
fn read_private_text(path: &Path, limit: u64, kind: &str) -> Result<Zeroizing<String>> {
    let origin = path.display().to_string();
    let file = File::open(path).map_err(|err| io_error("open key file", path, err))?;
    let metadata = file
        .metadata()
        .map_err(|err| io_error("inspect key file", path, err))?;
    if !metadata.is_file() {
        return Err(AttestError::InvalidKey {
            origin,
            reason: "not a regular file".to_string(),
        });
    }
    let mode = metadata.mode() & 0o7777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(AttestError::InsecureKeyFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| io_error("read key file", path, err))?;
    if bytes.len() as u64 > limit {
        return Err(AttestError::InvalidKey {
            origin,
            reason: format!("larger than the limit of {limit} bytes for a key"),
        });
    }
    let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
        // Zero what was read even when it is not text.
        drop(Zeroizing::new(e.into_bytes()));
        AttestError::InvalidKey {
            origin,
            reason: format!("not UTF-8 {kind}"),
        }
    })?;
    Ok(Zeroizing::new(text))
}

/// A fresh, unused name in the same directory as `path` (so a hard link to `path` stays on one filesystem).
fn temp_path_beside(path: &Path) -> Result<PathBuf> {
    let Some(file_name) = path.file_name() else {
        return Err(io_error(
            "create",
            path,
            std::io::Error::new(ErrorKind::InvalidInput, "the path has no file name"),
        ));
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let counter = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp_name = format!(
        ".{}.{}-{counter}-{nanos}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    );
    Ok(path.with_file_name(temp_name))
}

fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| io_error("create temporary key file", path, err))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|err| io_error("write temporary key file", path, err))
}

fn sync_parent_dir(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|err| io_error("sync directory", parent, err))
}
