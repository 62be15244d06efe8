//! The closed set of external tools we support, and finding an installed one with its version.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::error::ToolError;
use crate::runner::{run_tool, RunStatus, ToolCommand};

/// How long `<tool> --version` may take before the tool counts as unusable.
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);
/// Cap on what `<tool> --version` may print.
const VERSION_OUTPUT_CAP: usize = 64 * 1024;
/// Longest version string we keep.
const VERSION_MAX_LEN: usize = 64;

/// An external scanner we know how to run. Nothing outside this set can be run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ToolId {
    Semgrep,
    Bandit,
    Checkov,
    DetectSecrets,
}

impl ToolId {
    /// Every supported tool, in a stable order.
    pub const ALL: [ToolId; 4] = [
        ToolId::Semgrep,
        ToolId::Bandit,
        ToolId::Checkov,
        ToolId::DetectSecrets,
    ];

    /// The id used in manifests, events and report names (also the executable's name).
    pub fn as_str(self) -> &'static str {
        match self {
            ToolId::Semgrep => "semgrep",
            ToolId::Bandit => "bandit",
            ToolId::Checkov => "checkov",
            ToolId::DetectSecrets => "detect-secrets",
        }
    }

    /// Extra variables the tool needs to stay offline and quiet.
    pub(crate) fn offline_env(self) -> Vec<(String, String)> {
        let pairs: &[(&str, &str)] = match self {
            ToolId::Semgrep => &[
                ("SEMGREP_ENABLE_VERSION_CHECK", "0"),
                ("SEMGREP_SEND_METRICS", "off"),
            ],
            ToolId::Checkov => &[("BC_SKIP_MAPPING", "TRUE")],
            ToolId::Bandit | ToolId::DetectSecrets => &[],
        };
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    fn version_args(self) -> &'static [&'static str] {
        match self {
            ToolId::Semgrep => &["--version", "--disable-version-check"],
            ToolId::Bandit | ToolId::Checkov | ToolId::DetectSecrets => &["--version"],
        }
    }
}

impl fmt::Display for ToolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ToolId {
    type Err = ToolError;

    /// Exact, lowercase ids only: `semgrep`, `bandit`, `checkov`, `detect-secrets`.
    fn from_str(id: &str) -> Result<Self, Self::Err> {
        ToolId::ALL
            .into_iter()
            .find(|tool| tool.as_str() == id)
            .ok_or_else(|| ToolError::UnknownTool(id.chars().take(64).collect()))
    }
}

/// An installed tool: where its executable is and which version it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    pub tool: ToolId,
    pub path: PathBuf,
    pub version: String,
}

/// Finds `tool` in `bin_dir` (when given) or else on `PATH`, and reads its version.
/// `None` when it is not installed or does not answer `--version` sensibly in time.
pub fn detect(tool: ToolId, bin_dir: Option<&Path>) -> Option<ToolInfo> {
    let path = locate(tool, bin_dir)?;
    let version = read_version(tool, &path)?;
    Some(ToolInfo {
        tool,
        path,
        version,
    })
}

/// The tool's executable in `bin_dir` or on `PATH`, without running it.
pub fn locate(tool: ToolId, bin_dir: Option<&Path>) -> Option<PathBuf> {
    let search_path = std::env::var_os("PATH").unwrap_or_default();
    bin_dir
        .map(Path::to_path_buf)
        .into_iter()
        .chain(std::env::split_paths(&search_path))
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(tool.as_str()))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs the tool's version command (bounded) and returns what it printed.
pub fn read_version(tool: ToolId, path: &Path) -> Option<String> {
    let scratch = tempfile::tempdir().ok()?;
    let command = ToolCommand {
        program: path.to_path_buf(),
        args: tool.version_args().iter().map(Into::into).collect(),
        cwd: scratch.path().to_path_buf(),
        env: tool.offline_env(),
        timeout: VERSION_TIMEOUT,
        max_output_bytes: VERSION_OUTPUT_CAP,
    };
    let run = run_tool(&command, &mut |_, _| {}).ok()?;
    if run.status != RunStatus::Completed || run.exit_code != Some(0) {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&run.stdout))
}

/// The first token of the output that looks like a version number (`1.185.0`, `3.3.30`).
fn parse_version(output: &str) -> Option<String> {
    output
        .split_whitespace()
        .map(|token| token.trim_start_matches('v'))
        .find(|token| {
            token.len() <= VERSION_MAX_LEN
                && token.starts_with(|c: char| c.is_ascii_digit())
                && token.contains('.')
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_ids_are_rejected() {
        for tool in ToolId::ALL {
            assert_eq!(tool.as_str().parse::<ToolId>().unwrap(), tool);
        }
        for bad in ["Semgrep", "--config=x", "trivy", "", "bandit "] {
            let err = bad.parse::<ToolId>().unwrap_err();
            assert!(matches!(err, ToolError::UnknownTool(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn versions_are_read_from_real_looking_outputs() {
        assert_eq!(parse_version("1.185.0\n").as_deref(), Some("1.185.0"));
        assert_eq!(
            parse_version("bandit 1.9.4\n  python version = 3.11.7 (main)").as_deref(),
            Some("1.9.4")
        );
        assert_eq!(parse_version("v3.3.30").as_deref(), Some("3.3.30"));
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn a_non_executable_file_is_not_taken_for_the_tool() {
        let bin = tempfile::tempdir().unwrap();
        let not_executable = bin.path().join("semgrep");
        std::fs::write(&not_executable, "#!/bin/sh\necho 1.0.0\n").unwrap();
        let found = locate(ToolId::Semgrep, Some(bin.path()));
        assert_ne!(found.as_deref(), Some(not_executable.as_path()));
    }

    #[test]
    fn a_fake_tool_in_the_bin_dir_is_found_with_its_version() {
        use std::os::unix::fs::PermissionsExt;
        let bin = tempfile::tempdir().unwrap();
        let script = bin.path().join("checkov");
        std::fs::write(&script, "#!/bin/sh\necho 9.8.7\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let info = detect(ToolId::Checkov, Some(bin.path())).unwrap();
        assert_eq!(info.path, script);
        assert_eq!(info.version, "9.8.7");
        assert_eq!(info.tool, ToolId::Checkov);
    }

    #[test]
    fn a_tool_whose_version_fails_is_not_detected() {
        use std::os::unix::fs::PermissionsExt;
        let bin = tempfile::tempdir().unwrap();
        let script = bin.path().join("bandit");
        std::fs::write(&script, "#!/bin/sh\necho broken >&2\nexit 3\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = locate(ToolId::Bandit, Some(bin.path()));
        assert_eq!(found.as_deref(), Some(script.as_path()));
        assert!(read_version(ToolId::Bandit, &script).is_none());
    }
}
