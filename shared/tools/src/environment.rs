//! The cleared, allowlisted environment a tool runs with: no credentials ever reach it.

use std::ffi::OsString;
use std::path::Path;

use crate::error::ToolError;

/// Used when the parent process has no usable `PATH`.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Name parts that mark a variable as a credential or as a way to inject code.
const FORBIDDEN_PARTS: [&str; 11] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "KEY",
    "AUTH",
    "SESSION",
    "COOKIE",
    "PRIVATE",
    "CERT",
];
/// Name prefixes that are never passed (cloud credentials, loader and interpreter hooks).
const FORBIDDEN_PREFIXES: [&str; 6] = ["AWS_", "LD_", "DYLD_", "PYTHON", "NODE_", "GIT_"];
/// Variables the runner sets itself and that callers may not override.
const RESERVED: [&str; 3] = ["PATH", "HOME", "LANG"];

/// Builds the complete environment of a tool: `PATH` (the program's own directory first, then
/// the parent's `PATH`), `HOME` (a private scratch directory), `LANG=C.UTF-8`, plus `extra`
/// variables that pass [`check_extra_name`].
pub(crate) fn tool_environment(
    program: &Path,
    home: &Path,
    extra: &[(String, String)],
) -> Result<Vec<(String, OsString)>, ToolError> {
    let mut env = vec![
        ("PATH".to_string(), search_path(program)),
        ("HOME".to_string(), home.as_os_str().to_os_string()),
        ("LANG".to_string(), OsString::from("C.UTF-8")),
    ];
    for (name, value) in extra {
        check_extra_name(name)?;
        if value.contains('\0') {
            return Err(ToolError::ForbiddenEnv(name.clone()));
        }
        env.push((name.clone(), OsString::from(value)));
    }
    Ok(env)
}

/// Accepts only plain upper-case names that are not credentials, loader hooks or reserved.
pub(crate) fn check_extra_name(name: &str) -> Result<(), ToolError> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let forbidden = RESERVED.contains(&name)
        || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
        || FORBIDDEN_PARTS.iter().any(|p| name.contains(p));
    if plain && !forbidden {
        Ok(())
    } else {
        Err(ToolError::ForbiddenEnv(name.chars().take(64).collect()))
    }
}

fn search_path(program: &Path) -> OsString {
    let inherited = std::env::var_os("PATH").unwrap_or_else(|| OsString::from(DEFAULT_PATH));
    let own_dir = program
        .parent()
        .filter(|dir| dir.is_absolute())
        .map(Path::to_path_buf);
    let dirs: Vec<_> = own_dir
        .into_iter()
        .chain(std::env::split_paths(&inherited).filter(|dir| dir.is_absolute()))
        .collect();
    std::env::join_paths(dirs).unwrap_or_else(|_| OsString::from(DEFAULT_PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_hooks_are_refused() {
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "SEMGREP_APP_TOKEN",
            "BC_API_KEY",
            "GITHUB_TOKEN",
            "LD_PRELOAD",
            "PYTHONPATH",
            "PATH",
            "HOME",
            "lower_case",
            "",
            "A=B",
        ] {
            let err = check_extra_name(name).unwrap_err();
            assert!(matches!(err, ToolError::ForbiddenEnv(_)), "{name}");
        }
        check_extra_name("SEMGREP_SEND_METRICS").unwrap();
    }

    #[test]
    fn environment_has_only_the_allowlist_and_the_program_dir_first_on_path() {
        let env = tool_environment(
            Path::new("/opt/venv/bin/semgrep"),
            Path::new("/tmp/home-x"),
            &[("SEMGREP_SEND_METRICS".to_string(), "off".to_string())],
        )
        .unwrap();
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["PATH", "HOME", "LANG", "SEMGREP_SEND_METRICS"]);
        assert!(env[0].1.to_string_lossy().starts_with("/opt/venv/bin:"));
        assert_eq!(env[1].1, OsString::from("/tmp/home-x"));
    }

    #[test]
    fn a_value_with_nul_is_refused() {
        let err = tool_environment(
            Path::new("sh"),
            Path::new("/tmp"),
            &[("SAFE_NAME".to_string(), "a\0b".to_string())],
        )
        .unwrap_err();
        assert!(matches!(err, ToolError::ForbiddenEnv(name) if name == "SAFE_NAME"));
    }
}
