//! What a step function reads from its environment (docs/serverless.md, "Function environment"): the
//! `CERTUS_ASSURANCE_*` settings the CLI also knows, plus the AWS-only names (tables, run store, secrets).
//! Missing names are reported together, naming each variable.

use std::path::PathBuf;

use certus_core::settings::{Settings, Vars};

use crate::error::Result;

#[derive(Debug, Clone)]
pub struct StepEnv {
    pub settings: Settings,
    pub jobs_table: String,
    pub audit_table: String,
    pub events_table: String,
    /// `s3://<work bucket>/runs`
    pub runs_root: String,
    /// `s3://<work bucket>/bundles`
    pub work_bucket: String,
    pub trust_token_secret_arn: Option<String>,
    /// Where this invocation's private workspaces go (`/tmp/certus` on Lambda).
    pub workspace_root: PathBuf,
    /// Local directories whose repositories and files may be scanned (tests and self-hosted runners only;
    /// unset on AWS, where only remote git URLs are accepted).
    pub local_source_roots: Vec<PathBuf>,
    /// `AWS_LAMBDA_FUNCTION_NAME`, recorded as the job's runner.
    pub function_name: String,
    /// `s3://<work bucket>/advisories`: where sync-advisories keeps the advisory snapshot the sbom scanner
    /// reads (`CERTUS_ASSURANCE_ADVISORY_SNAPSHOTS`; only the functions that scan have it).
    pub advisory_snapshots: Option<String>,
    /// Tools the Fargate scanner task runs (`launch-scanners` plans them with runner `fargate`); empty when no
    /// scanner image is deployed.
    pub fargate_tools: Vec<String>,
}

impl StepEnv {
    /// Reads the step's environment through `var` (the process environment in `main`).
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars::new(var);
        let settings = Settings::from_vars(vars)?;
        let get = |name: &str| vars.get(name);
        let [jobs_table, audit_table, events_table, runs_root, work_bucket] = vars.required([
            "JOBS_TABLE",
            "AUDIT_TABLE",
            "EVENTS_TABLE",
            "RUNS_ROOT",
            "WORK_BUCKET",
        ])?;
        Ok(Self {
            settings,
            jobs_table,
            audit_table,
            events_table,
            runs_root,
            work_bucket,
            trust_token_secret_arn: get("TRUST_TOKEN_SECRET_ARN"),
            workspace_root: get("WORKSPACE_ROOT")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("certus")),
            local_source_roots: get("LOCAL_SOURCE_ROOTS")
                .map(|v| {
                    v.split(':')
                        .filter(|p| !p.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
            advisory_snapshots: get("ADVISORY_SNAPSHOTS"),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "certus-step".into()),
            fargate_tools: get("FARGATE_TOOLS")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The environment infra/template.yaml gives each function and the Fargate scanner container
    /// (infra/tests/fixtures/function-environments.json, written from the translated template by
    /// infra/tests/translated.py and checked current by infra/tests/test_template.py).
    fn template_environments() -> HashMap<String, HashMap<String, String>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/tests/fixtures/function-environments.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn every_step_reads_the_environment_the_template_gives_it() {
        let all = template_environments();
        let steps: Vec<&str> = certus_stages::Stage::ALL
            .iter()
            .map(|s| s.name())
            .chain(["scanner-task"])
            .collect();
        for step in &steps {
            let vars = &all[*step];
            let env = StepEnv::from_vars(&|n| vars.get(n).cloned())
                .unwrap_or_else(|e| panic!("{step}: {e}"));
            assert!(env.runs_root.starts_with("s3://"), "{step}");
            assert!(env.work_bucket.starts_with("s3://"), "{step}");
        }
        // The Trust request is signed and names the deployment's raw bucket (not the default "raw").
        let upload = &all["request-upload"];
        let env = StepEnv::from_vars(&|n| upload.get(n).cloned()).unwrap();
        assert!(
            env.settings
                .signing_key_ref
                .as_deref()
                .is_some_and(|r| r.starts_with("awskms:///arn:aws:kms:")),
            "{:?}",
            env.settings.signing_key_ref
        );
        assert_eq!(
            env.settings.raw_bucket,
            all["promote"]["CERTUS_ASSURANCE_RAW_BUCKET"]
        );
        assert_eq!(
            env.settings.golden_bucket,
            all["promote"]["CERTUS_ASSURANCE_GOLDEN_BUCKET"]
        );
        // Without a scanner image nothing is planned on Fargate; the container's workspace is under /tmp.
        let launch = &all["launch-scanners"];
        let env = StepEnv::from_vars(&|n| launch.get(n).cloned()).unwrap();
        assert!(env.fargate_tools.is_empty());
        let task = &all["scanner-task"];
        let env = StepEnv::from_vars(&|n| task.get(n).cloned()).unwrap();
        assert!(
            env.workspace_root.starts_with("/tmp"),
            "{:?}",
            env.workspace_root
        );
    }

    #[test]
    fn every_missing_variable_is_named() {
        let err = StepEnv::from_vars(&|_| None).unwrap_err().to_string();
        for name in [
            "JOBS_TABLE",
            "AUDIT_TABLE",
            "EVENTS_TABLE",
            "RUNS_ROOT",
            "WORK_BUCKET",
        ] {
            assert!(err.contains(&format!("CERTUS_ASSURANCE_{name}")), "{err}");
        }
    }

    #[test]
    fn a_complete_environment_is_read() {
        let vars: HashMap<&str, &str> = [
            ("CERTUS_ASSURANCE_JOBS_TABLE", "jobs"),
            ("CERTUS_ASSURANCE_AUDIT_TABLE", "audit"),
            ("CERTUS_ASSURANCE_EVENTS_TABLE", "events"),
            ("CERTUS_ASSURANCE_RUNS_ROOT", "s3://work-bucket/runs"),
            ("CERTUS_ASSURANCE_WORK_BUCKET", "s3://work-bucket/bundles"),
            ("CERTUS_ASSURANCE_LOCAL_SOURCE_ROOTS", "/a:/b"),
            ("AWS_LAMBDA_FUNCTION_NAME", "certus-build-bundle"),
        ]
        .into_iter()
        .collect();
        let env = StepEnv::from_vars(&|n| vars.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(env.jobs_table, "jobs");
        assert_eq!(
            env.local_source_roots,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(env.function_name, "certus-build-bundle");
        assert!(env.trust_token_secret_arn.is_none());
    }
}
