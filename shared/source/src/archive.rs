//! Archive extraction (`.tar`, `.tar.gz`, `.tgz`, `.zip`) into the run's workspace, treating the archive as
//! hostile: members that would land outside (absolute, `..`, links pointing out) are refused, links inside are
//! not materialised, and size, count, depth and compression-ratio caps stop bombs while streaming.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use certus_core::error::{CoreError, Result};
use certus_core::workspace::lexically_confined;

/// Limits applied while extracting.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    pub max_total_bytes: u64,
    pub max_entries: u64,
    pub max_depth: usize,
    /// Uncompressed / compressed size above this is a bomb: per member for zip, over the whole stream (past
    /// [`RATIO_FLOOR_BYTES`]) for gzip'd tar.
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_total_bytes: 2 * 1024 * 1024 * 1024,
            max_entries: 200_000,
            max_depth: 64,
            max_ratio: 200,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Tar,
    TarGz,
    Zip,
}

/// The archive kind from the file name, refusing what we cannot extract (`.tar.bz2`, `.rar`, …).
pub fn kind_from_name(name: &str) -> Result<ArchiveKind> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        Ok(ArchiveKind::TarGz)
    } else if lower.ends_with(".tar") {
        Ok(ArchiveKind::Tar)
    } else if lower.ends_with(".zip") {
        Ok(ArchiveKind::Zip)
    } else {
        Err(CoreError::Source(format!(
            "unsupported archive type '{}': use .tar, .tar.gz, .tgz or .zip",
            Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )))
    }
}

/// A gzip'd tar may expand this many bytes before its compression ratio is checked, so small archives of
/// repetitive text are never refused.
pub const RATIO_FLOOR_BYTES: u64 = 1024 * 1024;

/// Counts the compressed bytes read from the archive file.
struct Counting<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Counts the decompressed bytes of a gzip stream and stops it once they pass `max_ratio` times the compressed
/// bytes read (beyond [`RATIO_FLOOR_BYTES`]); `tripped` records why, whatever error the tar reader makes of it.
struct RatioGuard<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    expanded: u64,
    max_ratio: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.expanded += n as u64;
        let compressed = self.compressed.get().max(1);
        if self.expanded > RATIO_FLOOR_BYTES && self.expanded / compressed > self.max_ratio {
            self.tripped.set(true);
            return Err(std::io::Error::other(ratio_message(self.max_ratio)));
        }
        Ok(n)
    }
}

fn ratio_message(max_ratio: u64) -> String {
    format!("the gzip stream expands more than {max_ratio}x its compressed size (limit {max_ratio}:1): a compression bomb")
}

/// What extraction did besides writing files.
#[derive(Debug, Default)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

struct Budget<'a> {
    limits: &'a ArchiveLimits,
    entries: u64,
    bytes: u64,
}

impl Budget<'_> {
    fn entry(&mut self) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(refused(format!(
                "more than {} members",
                self.limits.max_entries
            )));
        }
        Ok(())
    }
}

fn refused(reason: impl Into<String>) -> CoreError {
    CoreError::Source(format!("archive refused: {}", reason.into()))
}

/// Extracts `archive` into `dest` (which must exist and be empty).
pub fn extract(
    archive: &Path,
    kind: ArchiveKind,
    dest: &Path,
    limits: &ArchiveLimits,
) -> Result<Extracted> {
    let mut file = File::open(archive).map_err(|e| CoreError::io(archive, e))?;
    check_magic(&mut file, kind, archive)?;
    let mut budget = Budget {
        limits,
        entries: 0,
        bytes: 0,
    };
    let mut out = Extracted::default();
    match kind {
        ArchiveKind::Tar => extract_tar(BufReader::new(file), dest, &mut budget, &mut out)?,
        ArchiveKind::TarGz => {
            let compressed = Rc::new(Cell::new(0));
            let tripped = Rc::new(Cell::new(false));
            let guard = RatioGuard {
                inner: flate2::read::GzDecoder::new(BufReader::new(Counting {
                    inner: file,
                    read: Rc::clone(&compressed),
                })),
                compressed,
                expanded: 0,
                max_ratio: limits.max_ratio,
                tripped: Rc::clone(&tripped),
            };
            let result = extract_tar(guard, dest, &mut budget, &mut out);
            if tripped.get() {
                return Err(refused(ratio_message(limits.max_ratio)));
            }
            result?;
        }
        ArchiveKind::Zip => extract_zip(file, dest, &mut budget, &mut out)?,
    }
    out.bytes = budget.bytes;
    Ok(out)
}

fn check_magic(file: &mut File, kind: ArchiveKind, path: &Path) -> Result<()> {
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        let read = file
            .read(&mut head[n..])
            .map_err(|e| CoreError::io(path, e))?;
        if read == 0 {
            break;
        }
        n += read;
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| CoreError::io(path, e))?;
    let ok = match kind {
        ArchiveKind::TarGz => n >= 2 && head[..2] == [0x1f, 0x8b],
        ArchiveKind::Zip => n >= 4 && (head[..4] == *b"PK\x03\x04" || head[..4] == *b"PK\x05\x06"),
        // ustar magic; an empty tar is 1024 zero bytes.
        ArchiveKind::Tar => {
            n == 512 && (&head[257..262] == b"ustar" || head.iter().all(|b| *b == 0))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(refused(format!(
            "content does not match its {kind:?} file name"
        )))
    }
}

/// The member name as a confined relative path, refusing escapes and excessive depth.
fn member_path(name: &str, budget: &Budget<'_>) -> Result<PathBuf> {
    let rel = lexically_confined(name)
        .map_err(|e| refused(format!("member '{}' {}", shorten(name), reason(&e))))?;
    if rel.components().count() > budget.limits.max_depth {
        return Err(refused(format!(
            "member '{}' is nested deeper than {} levels",
            shorten(name),
            budget.limits.max_depth
        )));
    }
    Ok(rel)
}

/// `./` and similar names for the archive's own root directory.
fn is_root(name: &str) -> bool {
    name.split('/').all(|part| part.is_empty() || part == ".")
}

fn reason(e: &CoreError) -> String {
    match e {
        CoreError::PathEscape { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

fn shorten(name: &str) -> String {
    name.chars().take(200).collect()
}

/// A link target must stay inside the tree when resolved from the link's own directory.
fn link_stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = link.components().count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn write_member(
    reader: &mut dyn Read,
    dest: &Path,
    rel: &Path,
    budget: &mut Budget<'_>,
) -> Result<()> {
    let target = dest.join(rel);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
    }
    if target.is_dir() {
        return Err(refused(format!(
            "member '{}' is both a directory and a file",
            rel.display()
        )));
    }
    // We never create links, so nothing in `dest` can redirect this write; a duplicate member replaces the first.
    let _ = std::fs::remove_file(&target);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .map_err(|e| CoreError::io(&target, e))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                drop(out);
                let _ = std::fs::remove_file(&target);
                return Err(refused(format!(
                    "member '{}' is unreadable: {e}",
                    rel.display()
                )));
            }
        };
        if n == 0 {
            break;
        }
        budget.bytes += n as u64;
        if budget.bytes > budget.limits.max_total_bytes {
            drop(out);
            let _ = std::fs::remove_file(&target);
            return Err(refused(format!(
                "unpacks to more than {} bytes",
                budget.limits.max_total_bytes
            )));
        }
        out.write_all(&buf[..n])
            .map_err(|e| CoreError::io(&target, e))?;
    }
    Ok(())
}

fn extract_tar<R: Read>(
    reader: R,
    dest: &Path,
    budget: &mut Budget<'_>,
    out: &mut Extracted,
) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| refused(format!("not a readable tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| refused(format!("corrupt tar member: {e}")))?;
        budget.entry()?;
        let raw_name = entry.path_bytes().into_owned();
        let name =
            String::from_utf8(raw_name).map_err(|_| refused("a member name is not UTF-8"))?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        if kind.is_dir() && is_root(&name) {
            continue;
        }
        let rel = member_path(&name, budget)?;
        if kind.is_dir() {
            let dir = dest.join(&rel);
            std::fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            write_member(&mut entry, dest, &rel, budget)?;
            out.files += 1;
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|e| {
                    refused(format!(
                        "member '{name}' has an unreadable link target: {e}"
                    ))
                })?
                .unwrap_or_default();
            let inside = if kind.is_hard_link() {
                lexically_confined(&target.to_string_lossy()).is_ok()
            } else {
                link_stays_inside(&rel, &target)
            };
            if !inside {
                return Err(refused(format!(
                    "member '{}' links outside the archive (to '{}')",
                    shorten(&name),
                    target.display()
                )));
            }
            out.warnings.push(format!(
                "archive link '{}' -> '{}' not extracted",
                shorten(&name),
                target.display()
            ));
        } else {
            out.warnings.push(format!(
                "archive member '{}' of type {kind:?} not extracted",
                shorten(&name)
            ));
        }
    }
    Ok(())
}

fn extract_zip(
    file: File,
    dest: &Path,
    budget: &mut Budget<'_>,
    out: &mut Extracted,
) -> Result<()> {
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| refused(format!("not a readable zip: {e}")))?;
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| refused(format!("corrupt zip member #{i}: {e}")))?;
        budget.entry()?;
        let name = member
            .name()
            .map_err(|e| refused(format!("zip member #{i} has an unreadable name: {e}")))?
            .into_owned();
        if member.is_dir() && is_root(&name) {
            continue;
        }
        let rel = member_path(&name, budget)?;
        if member.is_dir() {
            let dir = dest.join(&rel);
            std::fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
            continue;
        }
        let is_symlink = member.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000);
        if is_symlink {
            let mut target = String::new();
            (&mut member)
                .take(4096)
                .read_to_string(&mut target)
                .map_err(|e| {
                    refused(format!(
                        "member '{name}' has an unreadable link target: {e}"
                    ))
                })?;
            if !link_stays_inside(&rel, Path::new(&target)) {
                return Err(refused(format!(
                    "member '{}' links outside the archive (to '{}')",
                    shorten(&name),
                    shorten(&target)
                )));
            }
            out.warnings.push(format!(
                "archive link '{}' -> '{}' not extracted",
                shorten(&name),
                shorten(&target)
            ));
            continue;
        }
        let compressed = member.compressed_size().max(1);
        if member.size() / compressed > budget.limits.max_ratio {
            return Err(refused(format!(
                "member '{}' expands {}x (limit {}x): a compression bomb",
                shorten(&name),
                member.size() / compressed,
                budget.limits.max_ratio
            )));
        }
        write_member(&mut member, dest, &rel, budget)?;
        out.files += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            // Write the raw name so hostile names (`..`, absolute) survive the builder's own checks.
            let gnu = header.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(target) = link {
                gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
            }
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn extract_bytes(
        bytes: &[u8],
        name: &str,
        limits: &ArchiveLimits,
    ) -> (tempfile::TempDir, Result<Extracted>) {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join(name);
        std::fs::write(&archive, bytes).unwrap();
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let result = extract(&archive, kind_from_name(name).unwrap(), &dest, limits);
        (dir, result)
    }

    #[test]
    fn extracts_a_plain_tar_and_tgz() {
        let tar = tar_with(&[
            ("src/", tar::EntryType::Directory, b"", None),
            ("src/a.py", tar::EntryType::Regular, b"print(1)\n", None),
        ]);
        let (dir, r) = extract_bytes(&tar, "x.tar", &ArchiveLimits::default());
        assert_eq!(r.unwrap().files, 1);
        assert_eq!(
            std::fs::read(dir.path().join("out/src/a.py")).unwrap(),
            b"print(1)\n"
        );

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        let (dir, r) = extract_bytes(&gz.finish().unwrap(), "x.tgz", &ArchiveLimits::default());
        assert_eq!(r.unwrap().files, 1);
        assert!(dir.path().join("out/src/a.py").is_file());
    }

    #[test]
    fn escaping_members_are_refused_and_nothing_lands_outside() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "dotdot",
                tar_with(&[("../evil.txt", tar::EntryType::Regular, b"x", None)]),
                "contains '..'",
            ),
            (
                "nested",
                tar_with(&[("a/../../evil.txt", tar::EntryType::Regular, b"x", None)]),
                "contains '..'",
            ),
            (
                "absolute",
                tar_with(&[("/tmp/evil.txt", tar::EntryType::Regular, b"x", None)]),
                "is absolute",
            ),
            (
                "symlink-out",
                tar_with(&[("link", tar::EntryType::Symlink, b"", Some("/etc"))]),
                "links outside",
            ),
            (
                "symlink-up",
                tar_with(&[("a/link", tar::EntryType::Symlink, b"", Some("../../x"))]),
                "links outside",
            ),
            (
                "hardlink-out",
                tar_with(&[("h", tar::EntryType::Link, b"", Some("../../etc/passwd"))]),
                "links outside",
            ),
        ];
        for (label, bytes, expected) in cases {
            let (dir, result) = extract_bytes(&bytes, "x.tar", &ArchiveLimits::default());
            let err = result.expect_err(label).to_string();
            assert!(err.contains(expected), "{label}: {err}");
            assert!(!dir.path().join("evil.txt").exists(), "{label}");
        }
    }

    #[test]
    fn links_inside_are_not_materialised() {
        let tar = tar_with(&[
            ("a.txt", tar::EntryType::Regular, b"x", None),
            ("b", tar::EntryType::Symlink, b"", Some("a.txt")),
        ]);
        let (dir, r) = extract_bytes(&tar, "x.tar", &ArchiveLimits::default());
        let extracted = r.unwrap();
        assert_eq!(extracted.warnings.len(), 1);
        assert!(!dir.path().join("out/b").exists());
    }

    #[test]
    fn size_and_count_caps_stop_extraction() {
        let data = vec![b'a'; 10_000];
        let tar = tar_with(&[("big", tar::EntryType::Regular, &data, None)]);
        let limits = ArchiveLimits {
            max_total_bytes: 5_000,
            ..Default::default()
        };
        let (dir, r) = extract_bytes(&tar, "x.tar", &limits);
        assert!(r.unwrap_err().to_string().contains("more than 5000 bytes"));
        assert!(
            !dir.path().join("out/big").exists(),
            "partial file left behind"
        );

        let tar = tar_with(&[
            ("a", tar::EntryType::Regular, b"1", None),
            ("b", tar::EntryType::Regular, b"2", None),
        ]);
        let limits = ArchiveLimits {
            max_entries: 1,
            ..Default::default()
        };
        assert!(extract_bytes(&tar, "x.tar", &limits)
            .1
            .unwrap_err()
            .to_string()
            .contains("more than 1 members"));
    }

    /// A tar of one `size`-byte member of zeros, gzip'd while it is generated (nothing that size is kept).
    fn zero_tgz(path: &Path, size: u64) {
        let gz =
            flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::best());
        let mut builder = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "zeros.bin", std::io::repeat(0).take(size))
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn gzip_tar_bombs_are_refused_by_their_ratio_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("bomb.tgz");
        zero_tgz(&bomb, 64 * 1024 * 1024);
        let compressed = std::fs::metadata(&bomb).unwrap().len();
        assert!(compressed < 256 * 1024, "{compressed}");
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let err = extract(&bomb, ArchiveKind::TarGz, &dest, &ArchiveLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("archive refused"), "{err}");
        assert!(err.contains("limit 200:1"), "{err}");
        assert!(err.contains("compression bomb"), "{err}");
        assert!(!dest.join("zeros.bin").exists(), "partial member left");

        // Under the floor the same content is extracted, and so is an ordinary archive past it.
        let small = dir.path().join("small.tgz");
        zero_tgz(&small, RATIO_FLOOR_BYTES / 2);
        let dest = dir.path().join("small");
        std::fs::create_dir(&dest).unwrap();
        extract(&small, ArchiveKind::TarGz, &dest, &ArchiveLimits::default()).unwrap();
        assert_eq!(
            std::fs::metadata(dest.join("zeros.bin")).unwrap().len(),
            RATIO_FLOOR_BYTES / 2
        );
        let mut text = Vec::new();
        let mut x: u32 = 1;
        while text.len() < 3 * 1024 * 1024 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            text.extend_from_slice(format!("let v{} = {};\n", x % 977, x >> 8).as_bytes());
        }
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut builder = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "src/app.js", text.as_slice())
            .unwrap();
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        let (dir, r) = extract_bytes(&bytes, "x.tgz", &ArchiveLimits::default());
        r.unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("out/src/app.js"))
                .unwrap()
                .len(),
            text.len() as u64
        );
    }

    fn zip_with(build: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        build(&mut writer);
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn zip_extracts_and_refuses_escapes_links_and_bombs() {
        let opts = zip::write::SimpleFileOptions::default();
        let ok = zip_with(|w| {
            w.start_file("src/app.js", opts).unwrap();
            w.write_all(b"eval(x)").unwrap();
        });
        let (dir, r) = extract_bytes(&ok, "x.zip", &ArchiveLimits::default());
        assert_eq!(r.unwrap().files, 1);
        assert!(dir.path().join("out/src/app.js").is_file());

        let escape = zip_with(|w| {
            w.start_file("../../evil.txt", opts).unwrap();
            w.write_all(b"x").unwrap();
        });
        assert!(extract_bytes(&escape, "x.zip", &ArchiveLimits::default())
            .1
            .unwrap_err()
            .to_string()
            .contains(".."));

        let link = zip_with(|w| {
            w.add_symlink("link", "/etc/passwd", opts).unwrap();
        });
        assert!(extract_bytes(&link, "x.zip", &ArchiveLimits::default())
            .1
            .unwrap_err()
            .to_string()
            .contains("links outside"));

        let bomb = zip_with(|w| {
            w.start_file(
                "zeros",
                opts.compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            w.write_all(&vec![0u8; 5_000_000]).unwrap();
        });
        let err = extract_bytes(&bomb, "x.zip", &ArchiveLimits::default())
            .1
            .unwrap_err()
            .to_string();
        assert!(err.contains("compression bomb"), "{err}");
    }

    #[test]
    fn unsupported_or_mislabelled_archives_are_refused() {
        assert!(kind_from_name("a.tar.bz2")
            .unwrap_err()
            .to_string()
            .contains("unsupported archive type 'a.tar.bz2'"));
        assert!(kind_from_name("a.rar").is_err());
        let (_d, r) = extract_bytes(
            b"this is not a zip at all",
            "x.zip",
            &ArchiveLimits::default(),
        );
        assert!(r.unwrap_err().to_string().contains("does not match"));
    }
}
