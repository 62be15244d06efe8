//! The scan cache's binary indexes as a reader meets them: a tool's results (a base or a delta) and a
//! directory's file table (a base, or a delta bound to a real base). The target seals each input with the
//! header and trailing SHA-256 a writer puts around it, so every input reaches the entry parsers (front-coded
//! paths, LEB128 integers). Decoding must refuse or succeed, never panic; what decodes must encode again to
//! entries that decode the same.
#![no_main]

use certus_core::digest::Sha256Digest;
use certus_core::incremental::{
    FileStat, IndexKind, IndexWriter, Paths, ResultDelta, ResultIndex, SourceFile, SourceFiles,
};
use certus_source::tree::{encode_table, PreviousTable};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// `body` between the header a writer of `kind` puts first and the digest it puts last.
fn sealed(kind: IndexKind, body: &[u8]) -> Vec<u8> {
    let empty = IndexWriter::new(kind, 0).finish();
    let mut bytes = empty[..empty.len() - 32].to_vec();
    bytes.extend_from_slice(body);
    let seal: [u8; 32] = Sha256::digest(&bytes).into();
    bytes.extend_from_slice(&seal);
    bytes
}

fn base_table() -> Vec<u8> {
    let file = |path: &str, inode| SourceFile {
        path: path.to_string(),
        stat: FileStat {
            size: 1,
            mtime_ns: 1,
            ctime_ns: 1,
            inode,
        },
        sha256: Sha256Digest::of(path.as_bytes()),
        binary: false,
        scanned: None,
    };
    let table = SourceFiles {
        files: vec![file("a", 1), file("a/b", 2), file("c", 3)],
        ..SourceFiles::default()
    };
    encode_table(&table, Some("c0"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let paths = Paths::default();
    match selector % 4 {
        0 => {
            let bytes = sealed(IndexKind::Results, body);
            if let Some(index) = ResultIndex::decode(&bytes, "s", &paths) {
                let again = ResultIndex::encode("s", index.entries.iter());
                let decoded = ResultIndex::decode(&again, "s", &paths).expect("re-encoded index");
                assert_eq!(decoded.entries, index.entries);
            }
        }
        1 => {
            let bytes = sealed(IndexKind::ResultsDelta, body);
            if let Some(delta) = ResultDelta::decode(&bytes, "s", &paths) {
                let again = ResultDelta::encode("s", &delta.base, delta.entries.iter());
                let decoded = ResultDelta::decode(&again, "s", &paths).expect("re-encoded delta");
                assert_eq!((decoded.base, decoded.entries), (delta.base, delta.entries));
            }
        }
        2 => {
            let bytes = sealed(IndexKind::FileTable, body);
            let table = PreviousTable::decode(&bytes, None, &paths);
            assert!(table.len() <= bytes.len());
        }
        _ => {
            let base = base_table();
            let mut bound = base[base.len() - 32..].to_vec();
            bound.extend_from_slice(body);
            let delta = sealed(IndexKind::FileTableDelta, &bound);
            let table = PreviousTable::decode(&base, Some(&delta), &paths);
            assert!(table.len() <= 3 + delta.len());
        }
    }
});
