//! Archive extraction (tar, tar.gz, zip) of hostile bytes into a fresh directory: refusals are errors, never
//! panics, and whatever happens nothing is written beside the destination and no link inside it points out.
#![no_main]

use std::path::Path;

use certus_source::archive::{extract, ArchiveKind, ArchiveLimits};
use libfuzzer_sys::fuzz_target;

fn assert_confined(dest: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).expect("read_link");
            let resolved = path.parent().expect("parent").join(&target);
            assert!(
                !target.is_absolute() && resolved.starts_with(dest),
                "link {} points out to {}",
                path.display(),
                target.display()
            );
        } else if meta.is_dir() {
            assert_confined(dest, &path);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (kind, name) = match selector % 3 {
        0 => (ArchiveKind::Tar, "input.tar"),
        1 => (ArchiveKind::TarGz, "input.tar.gz"),
        _ => (ArchiveKind::Zip, "input.zip"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join(name);
    std::fs::write(&archive, rest).expect("archive");
    let dest = dir.path().join("dest");
    std::fs::create_dir(&dest).expect("dest");
    let limits = ArchiveLimits {
        max_total_bytes: 8 * 1024 * 1024,
        max_entries: 4096,
        max_depth: 32,
        max_ratio: 200,
    };
    let _ = extract(&archive, kind, &dest, &limits);
    let mut beside: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(
        beside,
        vec!["dest".to_string(), name.to_string()],
        "written beside dest"
    );
    assert_confined(&dest, &dest);
});
