//! `certus scan`: the whole pipeline on this machine, with live progress and a readable summary.
//! Exit code 0 = passed, 1 = policy thresholds breached, 2 = error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certus_core::finding::SeverityCounts;
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline;
use certus_core::record::ManifestVerification;
use certus_core::request::{
    BaselineSource, ManifestSource, SignatureSource, SubmitRequest, ValidatedSubmission,
};
use certus_core::settings::Settings;

use certus_core::report_html::Verdict;

use crate::console::ConsoleProgress;
use crate::error::{CliError, Result};
use crate::findings::{self, Cap, FilterArgs, OutputFormat, Style};
use crate::local::{self, LocalOptions, VerificationFlags};
use crate::terminal::printable;

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// A git URL, a repository or directory path, or an archive (.tar, .tar.gz, .tgz, .zip).
    pub source: String,
    /// The scan manifest (JSON). Its digest is taken over the file's exact bytes.
    #[arg(long)]
    pub manifest: String,
    /// The manifest's signature: a cosign `.sig` file or a Sigstore bundle (a path or a URI).
    #[arg(long)]
    pub signature: Option<String>,
    /// Verification key: a PEM file, `env://VAR` (also CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF).
    #[arg(long)]
    pub key: Option<String>,
    /// Refuse to run without a valid manifest signature (also CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED).
    #[arg(long)]
    pub require_signature: bool,
    /// Sigstore trusted_root.json for keyless signatures, with the identity and issuer to expect.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// The signer identity a keyless signature must carry (certificate SAN: an email or a workflow URI).
    #[arg(long)]
    pub identity: Option<String>,
    /// The OIDC issuer that must have vouched for that identity.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Manifest profile to run.
    #[arg(long, default_value = "light")]
    pub profile: String,
    /// Write the bundle to this directory (must not exist or be empty) instead of the data directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the final job record as JSON on stdout instead of the summary.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Print every finding on stdout in this form (the summary then goes to stderr). Without it, the summary
    /// ends with the most severe findings as a table.
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// How to read SOURCE (default: guessed from it).
    #[arg(long, value_parser = ["git", "directory", "archive"])]
    pub source_type: Option<String>,
    /// The git branch to scan (default: the remote's default branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// The git commit (40 hex digits) to scan instead of the branch head.
    #[arg(long)]
    pub commit: Option<String>,
    /// Credentials for a private https:// repository, by reference: `env:CERTUS_ASSURANCE_GIT_CREDENTIAL_<NAME>`
    /// or `file:<NAME>` in CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR, holding a token or `user:token`; or
    /// `githubapp:<app id>:<installation id>:<env:… or file:… holding the App's PEM key>` for a GitHub App
    /// installation token (minted at CERTUS_ASSURANCE_GITHUB_API_URL). The job records the reference; the
    /// secret is read only when git fetches.
    #[arg(long)]
    pub git_credentials_ref: Option<String>,
    /// Workspace the job is recorded under (audit filters use it).
    #[arg(long, default_value = "local")]
    pub workspace_id: String,
    /// Defaults to the source's directory name.
    #[arg(long)]
    pub component_id: Option<String>,
    /// Assessment the job is recorded under.
    #[arg(long, default_value = "local-scan")]
    pub assessment_id: String,
    /// Who asked for the scan, kept in the job record and its audit trail.
    #[arg(long)]
    pub requested_by: Option<String>,
    /// Data directory (job database, workspaces, bundles).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the run's private workspace (clone, scratch) for inspection.
    #[arg(long)]
    pub keep_workspace: bool,
    /// Read every file and scan it again: no digest or result is taken from earlier scans of this directory
    /// (and none is recorded for later ones).
    #[arg(long)]
    pub no_cache: bool,
    /// An earlier scan to compare with: its test id, its bundle directory or a SARIF file. Findings are
    /// marked new or unchanged; a profile with `thresholdScope: "new"` counts only new ones.
    #[arg(long)]
    pub baseline: Option<String>,
}

fn guess_source_type(source: &str) -> &'static str {
    let lower = source.to_ascii_lowercase();
    if source.contains("://") || source.starts_with("git@") {
        "git"
    } else if [".tar", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        "archive"
    } else if Path::new(source).join(".git").exists() {
        "git"
    } else {
        "directory"
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| CliError::io(path, e))
}

/// A URI as given (`https://`, `oci://`, `s3://`, `file://`), or a local path as a `file://` URI.
fn location_uri(arg: &str) -> Result<String> {
    if arg.contains("://") {
        Ok(arg.to_string())
    } else {
        file_uri(Path::new(arg))
    }
}

fn file_uri(path: &Path) -> Result<String> {
    let abs = absolute(path)?;
    if !abs.is_file() {
        return Err(CliError::Usage(format!("{} is not a file", path.display())));
    }
    Ok(format!("file://{}", abs.display()))
}

fn submission(args: &ScanArgs) -> Result<ValidatedSubmission> {
    let kind = args
        .source_type
        .as_deref()
        .unwrap_or_else(|| guess_source_type(&args.source));
    let absolute_source = || absolute(Path::new(&args.source)).map(|p| p.display().to_string());
    let is_url = args.source.contains("://") || args.source.starts_with("git@");
    let (git_url, directory_path, archive_path) = match kind {
        "git" if is_url => (Some(args.source.clone()), None, None),
        "git" => (Some(absolute_source()?), None, None),
        "archive" => (None, None, Some(absolute_source()?)),
        _ => (None, Some(absolute_source()?), None),
    };
    let component_id = args.component_id.clone().unwrap_or_else(|| {
        let name = Path::new(args.source.trim_end_matches('/'))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let clean: String = name
            .trim_end_matches(".git")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if clean.is_empty() {
            "source".into()
        } else {
            clean
        }
    });
    // The local user's own files: the manifest and signature are named by path; the signature policy decides
    // whether an unsigned manifest is acceptable.
    let request = SubmitRequest {
        workspace_id: Some(args.workspace_id.clone()),
        component_id: Some(component_id),
        assessment_id: Some(args.assessment_id.clone()),
        source_type: Some(kind.into()),
        git_url,
        git_credentials_ref: args.git_credentials_ref.clone(),
        branch: args.branch.clone(),
        commit: args.commit.clone(),
        directory_path,
        archive_path,
        requested_by: args.requested_by.clone(),
        profile: Some(args.profile.clone()),
        full_scan: Some(args.no_cache),
        ..Default::default()
    };
    let manifest = ManifestSource::Uri(location_uri(&args.manifest)?);
    let signature = args
        .signature
        .as_ref()
        .map(|s| location_uri(s).map(SignatureSource::Uri))
        .transpose()?;
    let mut submission = request.validate_with(manifest, signature)?;
    // `certus scan` runs without AWS: a `secretsmanager:` reference is refused before any job is recorded.
    if let Some(refusal) = submission.source.secret_reference_refusal(None) {
        return Err(certus_core::CoreError::Validation(vec![refusal]).into());
    }
    submission.baseline = match &args.baseline {
        None => None,
        Some(b) if certus_core::ids::parse_test_id(b).is_ok() => {
            Some(BaselineSource::TestId(b.clone()))
        }
        Some(path) => Some(BaselineSource::Path(
            absolute(Path::new(path))?.display().to_string(),
        )),
    };
    Ok(submission)
}

pub async fn run(args: ScanArgs) -> Result<i32> {
    let settings = Settings::from_env()?;
    let policy = local::signature_policy(
        &VerificationFlags {
            key: args.key.as_deref(),
            require: args.require_signature,
            trusted_root: args.trusted_root.as_deref(),
            identity: args.identity.as_deref(),
            issuer: args.issuer.as_deref(),
        },
        &settings,
    )
    .await?;
    if let Some(out) = &args.out {
        if out.exists()
            && std::fs::read_dir(out)
                .map_err(|e| CliError::io(out, e))?
                .next()
                .is_some()
        {
            return Err(CliError::Usage(format!(
                "--out {} exists and is not empty",
                out.display()
            )));
        }
    }
    let submission = submission(&args)?;
    let data_dir = local::data_dir(args.data_dir.as_deref(), &settings)?;
    let services = local::services(
        LocalOptions {
            data_dir: data_dir.clone(),
            out: args.out.as_ref().map(|o| absolute(o)).transpose()?,
            keep_workspace: args.keep_workspace,
            stream_base: "ws://127.0.0.1:8056".into(),
            sinks: vec![Arc::new(ConsoleProgress::stderr())],
            allowed_roots: None,
            scan_cache: !args.no_cache,
        },
        policy,
        &settings,
    )
    .await?;
    for ended in pipeline::end_interrupted(
        &services.records(),
        &certus_core::runner::local_runner_is_gone,
    )
    .await?
    {
        eprintln!(
            "certus: job {} was left RUNNING by a runner that stopped; marked FAILED",
            ended.test_id
        );
    }
    let job = pipeline::submit(&services.records(), submission).await?;
    eprintln!("certus: scan {} of {} started", job.test_id, args.source);
    let job = tokio::select! {
        finished = pipeline::run(&services, &job.test_id) => finished?,
        _ = tokio::signal::ctrl_c() => {
            let job = pipeline::abandon(&services.records(), &job.test_id, JobStatus::Cancelled, "cancelled by the user (interrupt)").await?;
            // The run was dropped mid-step: its private workspace (clone, scratch, half a bundle) goes too.
            let workspace = data_dir.join("runs").join(&job.test_id);
            if !args.keep_workspace && workspace.exists() {
                if let Err(e) = std::fs::remove_dir_all(&workspace) {
                    eprintln!("certus: could not remove {}: {e}", workspace.display());
                }
            }
            eprintln!("certus: scan {} cancelled", job.test_id);
            return Ok(INTERRUPTED);
        }
    };
    if args.json {
        let text = serde_json::to_string_pretty(&job)
            .map_err(|e| certus_core::CoreError::json("job record", e))?;
        println!("{text}");
        return Ok(exit_code(&job));
    }
    let loaded = findings::bundle_dir_of(job.bundle_location.as_deref(), &job.test_id)
        .and_then(|dir| findings::load_dir(&dir));
    match args.format {
        Some(format) => {
            eprint!("{}", summary(&job));
            print!(
                "{}",
                findings::render(
                    &loaded?,
                    &FilterArgs::default(),
                    format,
                    None,
                    Style::for_stdout()
                )?
            );
        }
        None => {
            print!("{}", summary(&job));
            match loaded {
                Ok(loaded) => print!(
                    "\n{}",
                    findings::render(
                        &loaded,
                        &FilterArgs::default(),
                        OutputFormat::Table,
                        Some(Cap {
                            rows: TABLE_ROWS,
                            test_id: &job.test_id,
                        }),
                        Style::for_stdout(),
                    )?
                ),
                Err(e) if job.bundle_location.is_some() => {
                    eprintln!("certus: the findings cannot be listed: {e}");
                }
                Err(_) => {}
            }
        }
    }
    Ok(exit_code(&job))
}

/// Exit code of a scan stopped by Ctrl-C (128 + SIGINT), as shells report it.
pub const INTERRUPTED: i32 = 130;

/// Rows of the findings table at the end of `certus scan`.
const TABLE_ROWS: usize = 20;

/// 0 passed, 1 only thresholds were breached, 2 anything else went wrong.
pub fn exit_code(job: &Job) -> i32 {
    match Verdict::of(job) {
        Verdict::Passed => 0,
        Verdict::ThresholdsBreached => 1,
        Verdict::Error => 2,
    }
}

fn summary(job: &Job) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(out, "Certus-Assurance scan {}: {}", job.test_id, job.status);
    let source = job.source_location();
    let _ = writeln!(
        out,
        "  source          {} {}",
        printable(&job.source_type),
        printable(source)
    );
    if let Some(commit) = &job.commit {
        let _ = writeln!(out, "  commit          {}", printable(commit));
    }
    if let Some(digest) = &job.source_digest {
        let _ = writeln!(out, "  tree            sha256 {digest}");
    }
    let _ = writeln!(
        out,
        "  manifest        sha256 {} (signature: {})",
        job.manifest_digest
            .map_or_else(|| "-".to_string(), |d| d.to_string()),
        signature_outcome(job.manifest_verification.as_ref())
    );
    let info = job.manifest_metadata.as_ref();
    if let Some(gate) = info.and_then(|i| i.gate.as_deref()) {
        let _ = writeln!(out, "  thresholds      {}", printable(gate));
    }
    let summary = job.findings_summary.as_ref();
    for (tool, counts) in summary.iter().flat_map(|s| &s.tools) {
        let _ = writeln!(out, "  {:<15} {}", printable(tool), counted(Some(counts)));
    }
    let mut not_run = Vec::new();
    for tool in info
        .and_then(|i| i.tools_not_run.as_ref())
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "  {:<15} not run (optional: {})",
            printable(&tool.id),
            printable(&tool.reason)
        );
        not_run.push(tool.id.as_str());
    }
    let _ = writeln!(
        out,
        "  total           {}",
        counted(summary.map(|s| &s.totals))
    );
    for warning in &job.warnings {
        let _ = writeln!(out, "  warning         {}", printable(warning));
    }
    for error in &job.errors {
        let _ = writeln!(out, "  error           {}", printable(error));
    }
    if let Some(bundle) = &job.bundle_location {
        let _ = writeln!(out, "  bundle          {}", printable(bundle));
        if !bundle.contains("://") {
            let _ = writeln!(
                out,
                "  report          {}",
                printable(
                    &Path::new(bundle)
                        .join(certus_core::bundle::REPORT_HTML)
                        .display()
                        .to_string()
                )
            );
        }
    }
    let verdict = match Verdict::of(job) {
        Verdict::Passed if !not_run.is_empty() => {
            format!("PASSED (not run: {})", printable(&not_run.join(", ")))
        }
        verdict => verdict.label().to_string(),
    };
    let _ = writeln!(out, "  verdict         {verdict}");
    out
}

/// `critical 1 · high 0 · medium 0 · low 0`, or `null` counts for a job no scanner ran for.
fn counted(counts: Option<&SeverityCounts>) -> String {
    let count =
        |n: fn(&SeverityCounts) -> u64| counts.map_or("null".to_string(), |c| n(c).to_string());
    format!(
        "critical {} · high {} · medium {} · low {}",
        count(|c| c.critical),
        count(|c| c.high),
        count(|c| c.medium),
        count(|c| c.low)
    )
}

/// The manifest signature's outcome in one phrase: `PASS <method>, key sha256:<fingerprint>` (and the identity
/// for keyless signatures), or `none` when the manifest was not verified.
fn signature_outcome(verification: Option<&ManifestVerification>) -> String {
    let Some(v) = verification.filter(|v| v.verified) else {
        return "none".into();
    };
    let mut outcome = format!(
        "PASS {}, key sha256:{}",
        v.method,
        v.key_fingerprint
            .map_or_else(|| "-".to_string(), |k| k.to_string())
    );
    if let Some(identity) = &v.identity {
        outcome.push_str(&format!(", identity {identity}"));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_types_are_guessed_from_the_argument() {
        assert_eq!(guess_source_type("https://example.invalid/r.git"), "git");
        assert_eq!(guess_source_type("git@example.invalid:r.git"), "git");
        assert_eq!(guess_source_type("code.tgz"), "archive");
        assert_eq!(guess_source_type("code.tar.bz2"), "archive");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            guess_source_type(&dir.path().display().to_string()),
            "directory"
        );
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        assert_eq!(guess_source_type(&dir.path().display().to_string()), "git");
    }
}
