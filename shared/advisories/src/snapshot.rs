//! One snapshot archive: its format, and unpacking it (hostile: the archive safety rules of `certus-source`,
//! with limits sized for advisory databases) into a directory the advisory loader reads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use certus_sbom::AdvisoryDb;
use certus_source::archive::{extract, ArchiveKind};
use certus_source::ArchiveLimits;

use crate::error::{AdvisoriesError, Result};

/// Limits for unpacking a snapshot: RustSec's database is ~10 MB in ~1,000 files; an OSV ecosystem export
/// reaches a few hundred MB in tens of thousands of files.
pub const SNAPSHOT_LIMITS: ArchiveLimits = ArchiveLimits {
    max_total_bytes: 1024 * 1024 * 1024,
    max_entries: 500_000,
    max_depth: 16,
    max_ratio: 200,
};

/// The archive formats a snapshot may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    Tar,
    Zip,
}

impl Format {
    /// From the download URL's path (`.tar.gz`, `.tgz`, `.tar`, `.zip`), refusing anything else.
    pub fn from_path(path: &str) -> Result<Self> {
        match certus_source::archive::kind_from_name(path) {
            Ok(ArchiveKind::TarGz) => Ok(Format::TarGz),
            Ok(ArchiveKind::Tar) => Ok(Format::Tar),
            Ok(ArchiveKind::Zip) => Ok(Format::Zip),
            Err(e) => Err(AdvisoriesError::Config(format!(
                "the snapshot URL's path must end in .tar.gz, .tgz, .tar or .zip: {e}"
            ))),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::Tar => "tar",
            Format::Zip => "zip",
        }
    }

    pub fn from_extension(extension: &str) -> Option<Self> {
        [Format::TarGz, Format::Tar, Format::Zip]
            .into_iter()
            .find(|f| f.extension() == extension)
    }

    fn kind(self) -> ArchiveKind {
        match self {
            Format::TarGz => ArchiveKind::TarGz,
            Format::Tar => ArchiveKind::Tar,
            Format::Zip => ArchiveKind::Zip,
        }
    }
}

/// What a checked snapshot holds.
#[derive(Debug)]
pub struct Loaded {
    pub snapshot_date: String,
    pub advisories: usize,
    pub unparsable_files: usize,
}

/// Unpacks `archive` into `dest` (existing, empty) and loads it; refuses an archive that breaks the safety
/// rules, holds no advisory, or whose advisories carry no date (its age could never be checked).
pub fn unpack(archive: &Path, format: Format, dest: &Path) -> Result<Loaded> {
    extract(archive, format.kind(), dest, &SNAPSHOT_LIMITS)
        .map_err(|e| AdvisoriesError::Refused(e.to_string()))?;
    let db = AdvisoryDb::load(dest).map_err(|e| AdvisoriesError::Refused(e.to_string()))?;
    if db.is_empty() {
        return Err(AdvisoriesError::Refused(format!(
            "it holds no advisory ({} file(s) read, {} unparsable)",
            db.file_count(),
            db.errors().len()
        )));
    }
    let snapshot_date = db
        .snapshot_date()
        .ok_or_else(|| AdvisoriesError::Refused("no advisory in it carries a date".into()))?;
    Ok(Loaded {
        snapshot_date,
        advisories: db.len(),
        unparsable_files: db.errors().len(),
    })
}

/// A fresh directory below `root` for one unpacking (pid and a counter: no two calls share one).
pub fn fresh_dir(root: &Path, tag: &str) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = root.join(format!(
        ".{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| AdvisoriesError::Storage(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_url_path_and_round_trip() {
        assert_eq!(Format::from_path("/db/main.tar.gz").unwrap(), Format::TarGz);
        assert_eq!(Format::from_path("/all.zip").unwrap(), Format::Zip);
        assert_eq!(Format::from_path("/x.tgz").unwrap(), Format::TarGz);
        let error = Format::from_path("/x.tar.bz2").unwrap_err().to_string();
        assert!(error.contains(".tar.gz, .tgz, .tar or .zip"), "{error}");
        for f in [Format::TarGz, Format::Tar, Format::Zip] {
            assert_eq!(Format::from_extension(f.extension()), Some(f));
        }
    }
}
