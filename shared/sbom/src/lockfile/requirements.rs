//! pip `requirements*.txt` parser: pinned `==` entries get a version, others are recorded without one.

use crate::error::{Result, SbomError};
use crate::model::{Checksum, Component, Ecosystem, HashAlgorithm};

const FORMAT: &str = "requirements file";
const SPECIFIER_OPERATORS: [&str; 8] = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

/// What one requirements file yields: its components and the files it includes with `-r`.
#[derive(Debug, Default)]
pub struct Requirements {
    pub components: Vec<Component>,
    /// Include targets exactly as written (relative to the including file).
    pub includes: Vec<String>,
    /// Lines that name no parsable requirement: skipped, and reported, while the rest of the file is read.
    pub skipped: Vec<SbomError>,
}

/// Parses one requirements file; `path` names it in components and errors. A line that cannot be parsed is
/// skipped and listed in [`Requirements::skipped`]; it never hides the other lines.
pub fn parse(text: &str, path: &str) -> Result<Requirements> {
    let mut parsed = Requirements::default();
    for (line_number, line) in logical_lines(text) {
        let line = strip_comment(&line).trim().to_string();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('-') {
            if let Some(target) = include_target(&line) {
                parsed.includes.push(target.to_string());
            }
            continue;
        }
        match parse_requirement(&line, path) {
            Ok(Some(component)) => parsed.components.push(component),
            Ok(None) => {}
            Err(reason) => parsed.skipped.push(SbomError::SkippedLine {
                path: path.to_string(),
                format: FORMAT,
                line: line_number,
                reason,
            }),
        }
    }
    Ok(parsed)
}

/// Joins `\`-continued lines; yields (first physical line number, logical line).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (index, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = index + 1;
        }
        match raw.strip_suffix('\\') {
            Some(continued) => {
                current.push_str(continued);
                current.push(' ');
            }
            None => {
                current.push_str(raw);
                lines.push((start, std::mem::take(&mut current)));
            }
        }
    }
    if !current.is_empty() {
        lines.push((start, current));
    }
    lines
}

/// pip treats `#` as a comment at line start or after whitespace (so URL fragments survive).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'#' && (index == 0 || bytes[index - 1].is_ascii_whitespace()) {
            return &line[..index];
        }
    }
    line
}

fn include_target(option_line: &str) -> Option<&str> {
    for prefix in ["--requirement", "-r"] {
        if let Some(rest) = option_line.strip_prefix(prefix) {
            let rest = rest.trim_start_matches('=').trim();
            if !rest.is_empty() {
                return Some(rest);
            }
        }
    }
    None
}

/// One requirement line; `Ok(None)` for lines that name no registry package (bare URLs, paths).
fn parse_requirement(line: &str, path: &str) -> std::result::Result<Option<Component>, String> {
    let (requirement, options) = match line.find(" --").or_else(|| line.find("\t--")) {
        Some(index) => (&line[..index], &line[index..]),
        None => (line, ""),
    };
    let requirement = requirement.split(';').next().unwrap_or_default().trim();
    if requirement.starts_with(['.', '/', '~']) {
        return Ok(None);
    }
    let name_end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(requirement.len());
    let name = &requirement[..name_end];
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "`{requirement}` does not start with a package name"
        ));
    }
    let mut rest = requirement[name_end..].trim_start();
    if rest.starts_with([':', '+']) {
        // A bare URL such as `https://…` or `git+https://…`: no package name to record.
        return Ok(None);
    }
    if let Some(extras) = rest.strip_prefix('[') {
        let close = extras
            .find(']')
            .ok_or_else(|| format!("unclosed extras in `{requirement}`"))?;
        rest = extras[close + 1..].trim_start();
    }
    let version = if rest.starts_with('@') {
        None
    } else {
        pinned_version(rest).map_err(|reason| format!("{reason} in `{requirement}`"))?
    };
    let checksum = hash_option(options);
    Ok(Some(
        Component::new(Ecosystem::Pypi, name, version, path).with_checksum(checksum),
    ))
}

/// The version of a lone `==V` or `===V` specifier; `None` for ranges or no specifier.
fn pinned_version(specifiers: &str) -> std::result::Result<Option<&str>, String> {
    let specifiers = specifiers
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if specifiers.is_empty() {
        return Ok(None);
    }
    let clauses: Vec<&str> = specifiers.split(',').map(str::trim).collect();
    let mut pinned = None;
    for clause in &clauses {
        let operator = SPECIFIER_OPERATORS
            .iter()
            .find(|op| clause.starts_with(*op))
            .ok_or_else(|| format!("`{clause}` is not a version specifier"))?;
        let version = clause[operator.len()..].trim();
        if version.is_empty() || version.contains(char::is_whitespace) {
            return Err(format!("`{clause}` has no valid version"));
        }
        if (*operator == "==" && !version.ends_with(".*")) || *operator == "===" {
            pinned = Some(version);
        }
    }
    Ok(pinned.filter(|_| clauses.len() == 1))
}

/// The first `--hash=ALG:HEX` option with a digest this crate records.
fn hash_option(options: &str) -> Option<Checksum> {
    let mut tokens = options.split_whitespace();
    while let Some(token) = tokens.next() {
        let value = match token.strip_prefix("--hash") {
            Some("") => tokens.next(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        let Some((algorithm, hex)) = value.and_then(|v| v.split_once(':')) else {
            continue;
        };
        let (algorithm, length) = match algorithm {
            "sha256" => (HashAlgorithm::Sha256, 64),
            "sha384" => (HashAlgorithm::Sha384, 96),
            "sha512" => (HashAlgorithm::Sha512, 128),
            _ => continue,
        };
        if hex.len() == length && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(Checksum {
                algorithm,
                value: hex.to_ascii_lowercase(),
            });
        }
    }
    None
}
