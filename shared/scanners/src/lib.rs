//! Scanners behind the core's `Scanner` port: the built-in ones (dependency inventory, sample) and the set
//! a deployment offers.

pub mod external;
mod per_file;
pub mod sample;
pub mod sbom;
mod sbom_reuse;
pub mod secrets;

use std::path::PathBuf;
use std::sync::Arc;

use certus_core::pipeline::ScannerSet;
use certus_core::ports::Scanner;
use certus_tools::ToolId;

pub use external::ExternalScanner;
pub use sample::SampleScanner;
pub use sbom::{AdvisorySnapshot, AdvisorySource, SbomScanner};
pub use secrets::SecretsScanner;

/// What a deployment configures about its scanners.
#[derive(Debug, Clone, Default)]
pub struct ScannerConfig {
    pub advisory_db: Option<PathBuf>,
    /// Scans fail against an advisory database older than this many days.
    pub advisory_db_max_age_days: Option<u32>,
    /// Where external tools are looked for before `PATH`.
    pub tools_bin_dir: Option<PathBuf>,
    /// A gitleaks-format rule file for the secrets scanner (default: Certus's own rules).
    pub secrets_rules: Option<PathBuf>,
    /// The advisory snapshot kept elsewhere (the synced one on AWS), used instead of `advisory_db`.
    pub advisory_source: Option<Arc<dyn AdvisorySource>>,
}

/// Every scanner available on this machine.
pub fn available(config: &ScannerConfig) -> ScannerSet {
    let mut scanners: Vec<Arc<dyn Scanner>> = vec![
        Arc::new(SampleScanner),
        Arc::new(SbomScanner {
            advisory_db: config.advisory_db.clone(),
            max_age_days: config.advisory_db_max_age_days,
            advisory_source: config.advisory_source.clone(),
        }),
        Arc::new(SecretsScanner::new(config.secrets_rules.clone())),
    ];
    for tool in ToolId::ALL {
        if let Some(found) = ExternalScanner::locate(tool, config.tools_bin_dir.as_deref()) {
            scanners.push(Arc::new(found));
        }
    }
    ScannerSet::new(scanners)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::time::Duration;

    use certus_core::manifest_check::KNOWN_TOOLS;
    use certus_core::ports::{LogFn, ScanRequest};

    use super::*;

    /// The tool ids the manifest contract accepts are exactly the scanners that exist.
    #[test]
    fn the_manifest_knows_every_scanner_and_no_other() {
        let (sbom, secrets) = (SbomScanner::default(), SecretsScanner::new(None));
        let mut ids: Vec<&str> = vec![SampleScanner.id(), sbom.id(), secrets.id()];
        ids.extend(ToolId::ALL.iter().map(|t| t.as_str()));
        ids.sort_unstable();
        let mut known = KNOWN_TOOLS.to_vec();
        known.sort_unstable();
        assert_eq!(ids, known);
    }

    pub fn request(root: &Path, log: LogFn) -> ScanRequest {
        ScanRequest {
            subject: "demo".into(),
            source_root: root.to_path_buf(),
            scratch_dir: root.to_path_buf(),
            config: None,
            timeout: Duration::from_secs(30),
            log,
            incremental: None,
        }
    }
}
