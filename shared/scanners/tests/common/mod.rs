//! What the incremental tests share: the file table as `certus scan` prepares it (the directory source
//! preparer with the scan cache), handed to a tool under a tenant's lineage.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certus_core::incremental::{Incremental, SinglePass};
use certus_core::ports::{LogFn, Reuse, ScanRequest, SourcePreparer};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;
use certus_local::LocalScanCache;
use certus_source::{LocalSourcePreparer, SourcePolicy};

/// The file table of the directory `root` for `tenant`, its previous table kept in `cache`. The tests write
/// their trees and scan them at once, so every `stat` is trusted right away (no timestamp tick); the test of
/// the tick itself is `a_file_modified_within_a_tick_of_the_scan_is_read_again` in certus-source.
pub async fn table_for(root: &Path, cache: &Arc<LocalScanCache>, tenant: &str) -> Incremental {
    table_scanning(root, cache, tenant, None).await
}

/// The same, the files read for it scanned by `single_pass` from that read.
pub async fn table_scanning(
    root: &Path,
    cache: &Arc<LocalScanCache>,
    tenant: &str,
    single_pass: Option<Arc<dyn SinglePass>>,
) -> Incremental {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = RunWorkspace::create(scratch.path().join("run")).unwrap();
    let spec = SourceSpec::Directory {
        directory_path: root.display().to_string(),
    };
    let prepared = LocalSourcePreparer::new(SourcePolicy::default())
        .with_cache(cache.clone())
        .with_timestamp_tick(Duration::ZERO)
        .prepare(
            &spec,
            &workspace,
            Reuse::Allowed { tenant: None },
            single_pass,
        )
        .await
        .unwrap();
    let files = prepared.files.expect("a file table with a scan cache");
    Incremental::new(files, cache.clone(), Some(tenant), "demo")
}

/// The same for the one tenant most tests use.
pub async fn table(root: &Path, cache: &Arc<LocalScanCache>) -> Incremental {
    table_for(root, cache, "tenant-a").await
}

/// A tool's request over `root`, with the file table (or none: a full scan) and where its log lines go.
pub fn request_logged(root: &Path, incremental: Option<Incremental>, log: LogFn) -> ScanRequest {
    ScanRequest {
        subject: "demo".into(),
        source_root: root.to_path_buf(),
        scratch_dir: root.to_path_buf(),
        config: None,
        timeout: Duration::from_secs(60),
        log,
        incremental,
    }
}
