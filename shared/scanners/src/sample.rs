//! The sample scanner: canned findings and a canned SBOM shipped in the repository, reported as sample
//! output (never as a scan of the source) when no real scanner is available or when asked for by id.

use async_trait::async_trait;
use certus_core::bundle::SBOM_CYCLONEDX;
use certus_core::finding::{identity_digest, Finding, Severity};
use certus_core::ports::{Attachment, ScanRequest, Scanner, ToolOutput, ToolStatus};
use serde_json::Value;

const FINDINGS: &str = include_str!("../sample/findings.json");
const SBOM: &str = include_str!("../sample/sbom.cyclonedx.json");
pub const SAMPLE_ID: &str = "sample";

pub struct SampleScanner;

fn canned_findings() -> Result<Vec<Finding>, String> {
    let doc: Value =
        serde_json::from_str(FINDINGS).map_err(|e| format!("canned findings are not JSON: {e}"))?;
    let items = doc
        .get("findings")
        .and_then(Value::as_array)
        .ok_or("canned findings lack a 'findings' list")?;
    items
        .iter()
        .map(|item| {
            let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
            let rule_id = text("rule_id").ok_or("a canned finding lacks rule_id")?;
            let severity: Severity =
                serde_json::from_value(item.get("severity").cloned().unwrap_or(Value::Null))
                    .map_err(|e| format!("canned finding {rule_id}: {e}"))?;
            let path = text("path").unwrap_or_default();
            let snippet = text("snippet").unwrap_or_default();
            Ok(Finding {
                tool: SAMPLE_ID.into(),
                fingerprint: identity_digest(SAMPLE_ID, &rule_id, &path, &snippet),
                rule_name: text("rule_name"),
                rule_description: None,
                help_uri: None,
                severity,
                message: text("message").unwrap_or_default(),
                path: Some(path),
                start_line: item.get("line").and_then(Value::as_u64),
                end_line: None,
                snippet: Some(snippet),
                rule_id,
                properties: [("certus:sample".to_string(), Value::Bool(true))].into(),
                suppression: None,
                baseline_state: None,
            })
        })
        .collect()
}

#[async_trait]
impl Scanner for SampleScanner {
    fn id(&self) -> &str {
        SAMPLE_ID
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn is_sample(&self) -> bool {
        true
    }

    fn command(&self, _request: &ScanRequest) -> String {
        "built-in sample scanner (canned output)".into()
    }

    async fn scan(&self, request: ScanRequest) -> ToolOutput {
        (request.log)(
            certus_core::ports::LogStream::Stderr,
            "sample scanner: reporting canned findings, not a scan of this source",
        );
        match canned_findings() {
            Ok(findings) => ToolOutput {
                attachments: vec![Attachment {
                    bundle_path: SBOM_CYCLONEDX.into(),
                    bytes: SBOM.as_bytes().to_vec(),
                }],
                warnings: vec![
                    "sample output: canned findings and SBOM, not a scan of this source".into(),
                ],
                ..ToolOutput::completed(findings)
            },
            Err(e) => ToolOutput::failed(ToolStatus::Failed, None, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn reports_the_canned_findings_marked_as_sample() {
        let dir = tempfile::tempdir().unwrap();
        let out = SampleScanner
            .scan(crate::tests::request(dir.path(), Arc::new(|_, _| {})))
            .await;
        assert_eq!(out.status, ToolStatus::Completed);
        assert_eq!(out.findings.len(), 4);
        assert!(out
            .findings
            .iter()
            .all(|f| f.properties["certus:sample"] == Value::Bool(true)));
        assert_eq!(out.attachments[0].bundle_path, SBOM_CYCLONEDX);
        let sbom: Value = serde_json::from_slice(&out.attachments[0].bytes).unwrap();
        assert_eq!(sbom["bomFormat"], "CycloneDX");
    }
}
