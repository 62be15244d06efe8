//! Tools that run in the Fargate scanner task (`infra/images/scanner`) rather than in a Lambda. The function
//! that plans the tool runs (`launch-scanners`) has none of them installed, yet must count them as available
//! so the profile keeps them: [`with_fargate_tools`] adds a stand-in for each, and [`runner_for`] sends them to
//! the `fargate` runner. A stand-in never scans; asked to, it reports the tool as failed.

use std::sync::Arc;

use async_trait::async_trait;
use certus_core::pipeline::ScannerSet;
use certus_core::ports::{ScanRequest, Scanner, ToolOutput, ToolStatus};

use crate::error::{Result, StageError};

/// The tools of the scanner image: the only ones that may be planned with runner `fargate`.
pub const CONTAINER_TOOLS: [&str; 4] = ["semgrep", "bandit", "checkov", "detect-secrets"];

/// The runner of a planned tool: `fargate` for the scanner image's tools, `lambda` for the built-in ones.
pub fn runner_for(tool: &str) -> &'static str {
    if CONTAINER_TOOLS.contains(&tool) {
        "fargate"
    } else {
        "lambda"
    }
}

/// A tool that runs in the Fargate task: known to the planner, never run here.
struct FargateTool(&'static str);

#[async_trait]
impl Scanner for FargateTool {
    fn id(&self) -> &str {
        self.0
    }

    fn version(&self) -> String {
        "in the Fargate scanner image".into()
    }

    fn command(&self, _request: &ScanRequest) -> String {
        format!("certus-step run-scanner ({} in the Fargate task)", self.0)
    }

    async fn scan(&self, _request: ScanRequest) -> ToolOutput {
        ToolOutput::failed(
            ToolStatus::Failed,
            None,
            format!(
                "{} runs in the Fargate scanner task, not in this function",
                self.0
            ),
        )
    }
}

/// `available` plus a stand-in for each of `tools` it lacks; a tool the scanner image does not hold is
/// refused, naming it (planning it would only fail later, in a task that cannot run it).
pub fn with_fargate_tools(available: &ScannerSet, tools: &[String]) -> Result<ScannerSet> {
    let mut scanners: Vec<Arc<dyn Scanner>> = available
        .ids()
        .into_iter()
        .filter_map(|id| available.get(id))
        .collect();
    for tool in tools {
        let Some(known) = CONTAINER_TOOLS.iter().find(|t| **t == tool.as_str()) else {
            return Err(StageError::NonRetryable(format!(
                "CERTUS_ASSURANCE_FARGATE_TOOLS: '{tool}' is not a tool of the scanner image (one of {})",
                CONTAINER_TOOLS.join(", ")
            )));
        };
        if !available.supports(known) {
            scanners.push(Arc::new(FargateTool(known)));
        }
    }
    Ok(ScannerSet::new(scanners))
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::manifest::Manifest;

    const MANIFEST: &str = r#"{"product": "demo", "version": "1", "owners": [{"team": "t", "contact": "t@example.invalid"}],
        "profiles": [{"name": "standard", "tools": ["secrets", "sbom", "semgrep", "bandit", "checkov", {"id": "detect-secrets"}],
                      "thresholds": {"critical": 0}}]}"#;

    /// The built-in scanners a Lambda has (no external tool installed).
    fn lambda_scanners() -> ScannerSet {
        ScannerSet::new(vec![
            Arc::new(certus_scanners::SbomScanner {
                advisory_db: None,
                max_age_days: None,
                ..certus_scanners::SbomScanner::default()
            }),
            Arc::new(certus_scanners::SecretsScanner::new(None)),
        ])
    }

    fn planned(set: &ScannerSet) -> certus_core::Result<Vec<(String, &'static str)>> {
        let manifest = Manifest::parse(MANIFEST.as_bytes())?;
        let profile = manifest.resolve_profile("standard", &|id| set.supports(id))?;
        Ok(profile
            .tools
            .iter()
            .map(|t| (t.id.clone(), runner_for(&t.id)))
            .collect())
    }

    #[test]
    fn the_image_tools_are_planned_on_fargate_instead_of_failing_the_plan() {
        let lambda = lambda_scanners();
        // Without the image's tools the plan fails, naming them (never a silent drop).
        let refused = planned(&lambda).unwrap_err().to_string();
        for tool in CONTAINER_TOOLS {
            assert!(refused.contains(tool), "{tool} named: {refused}");
        }
        let tools: Vec<String> = CONTAINER_TOOLS.iter().map(|t| t.to_string()).collect();
        let set = with_fargate_tools(&lambda, &tools).unwrap();
        let after = planned(&set).unwrap();
        for tool in CONTAINER_TOOLS {
            assert!(
                after.contains(&(tool.to_string(), "fargate")),
                "{tool} planned on fargate: {after:?}"
            );
        }
        assert!(
            after.contains(&("secrets".to_string(), "lambda")),
            "{after:?}"
        );
    }

    #[test]
    fn a_tool_the_image_lacks_is_refused_by_name() {
        let lambda = lambda_scanners();
        let error = with_fargate_tools(&lambda, &["trivy".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("'trivy'"), "{error}");
    }

    #[tokio::test]
    async fn a_stand_in_never_scans() {
        let dir = tempfile::tempdir().unwrap();
        let output = FargateTool("semgrep")
            .scan(ScanRequest {
                subject: "demo".into(),
                source_root: dir.path().to_path_buf(),
                scratch_dir: dir.path().to_path_buf(),
                config: None,
                timeout: std::time::Duration::from_secs(1),
                log: Arc::new(|_, _| {}),
                incremental: None,
            })
            .await;
        assert_eq!(output.status, ToolStatus::Failed);
    }
}
