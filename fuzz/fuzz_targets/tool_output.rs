//! External tools' output is hostile (the scanned tree controls it): semgrep SARIF, bandit, checkov and
//! detect-secrets JSON must parse or fail with an error, never panic, and never yield a finding whose path
//! leaves the scanned root.
#![no_main]

use std::path::Path;

use certus_tools::{
    parse_bandit_json, parse_checkov_json, parse_detect_secrets_json, parse_sarif, ParsedReport,
    ToolId,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let root = Path::new("/scan/root");
    let parsed: Option<ParsedReport> = match selector % 4 {
        0 => parse_sarif(ToolId::Semgrep, rest, root).ok(),
        1 => parse_bandit_json(rest, root).ok(),
        2 => parse_checkov_json(rest, root).ok(),
        _ => parse_detect_secrets_json(rest, root).ok(),
    };
    for finding in parsed.iter().flat_map(|p| &p.findings) {
        let path = Path::new(&finding.path);
        assert!(
            !path.is_absolute()
                && !path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir)),
            "finding path {:?} leaves the root",
            finding.path
        );
    }
});
