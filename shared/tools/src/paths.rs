//! Turns the file paths and URIs tools report into `/`-separated paths relative to the scanned
//! root, refusing anything that points outside it.

use std::path::{Component, Path};

/// Where a finding is: a root-relative path and a line range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub path: String,
    pub start_line: u32,
    pub end_line: Option<u32>,
}

/// Normalises `reported` (a relative path, an absolute path, or a `file://` URI) against
/// `root`, which must be absolute and canonical. `Err` carries the reason it was refused.
pub(crate) fn relative_to_root(root: &Path, reported: &str) -> Result<String, String> {
    let decoded = decode_uri(reported)?;
    let path = Path::new(&decoded);
    let inside = if path.is_absolute() {
        path.strip_prefix(root)
            .map_err(|_| format!("'{}' is outside the scanned root", shorten(reported)))?
    } else {
        path
    };
    let mut parts: Vec<&str> = Vec::new();
    for component in inside.components() {
        match component {
            Component::Normal(part) => parts.push(
                part.to_str()
                    .ok_or_else(|| format!("'{}' is not UTF-8", shorten(reported)))?,
            ),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(|| {
                    format!("'{}' climbs out of the scanned root", shorten(reported))
                })?;
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("'{}' is not a plain path", shorten(reported)))
            }
        }
    }
    if parts.is_empty() {
        return Err(format!("'{}' names no file", shorten(reported)));
    }
    Ok(parts.join("/"))
}

/// Strips a `file:` scheme and decodes `%XX` escapes; other schemes are refused.
fn decode_uri(reported: &str) -> Result<String, String> {
    if reported.contains('\0') {
        return Err("a path contains a NUL byte".to_string());
    }
    let without_scheme = if let Some(rest) = reported.strip_prefix("file://") {
        // `file:///abs` or `file://localhost/abs`
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        if !rest.starts_with('/') {
            return Err(format!("'{}' names a remote host", shorten(reported)));
        }
        rest
    } else if let Some(rest) = reported.strip_prefix("file:") {
        rest
    } else if has_scheme(reported) {
        return Err(format!("'{}' is not a file URI", shorten(reported)));
    } else {
        return Ok(reported.to_string());
    };
    percent_decode(without_scheme)
        .ok_or_else(|| format!("'{}' has a bad %-escape", shorten(reported)))
}

fn has_scheme(text: &str) -> bool {
    match text.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.contains('\0')).then_some(decoded)
}

fn shorten(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/scan/base";

    fn rel(reported: &str) -> Result<String, String> {
        relative_to_root(Path::new(ROOT), reported)
    }

    #[test]
    fn relative_absolute_and_uri_forms_are_normalised() {
        assert_eq!(rel("app/run.py").unwrap(), "app/run.py");
        assert_eq!(rel("./app/./run.py").unwrap(), "app/run.py");
        assert_eq!(rel("/scan/base/app/run.py").unwrap(), "app/run.py");
        assert_eq!(
            rel("file:///scan/base/my%20app/x.py").unwrap(),
            "my app/x.py"
        );
        assert_eq!(rel("app/../lib/x.py").unwrap(), "lib/x.py");
    }

    #[test]
    fn paths_outside_the_root_are_refused() {
        for outside in [
            "/etc/passwd",
            "../secret.txt",
            "app/../../x",
            "/scan/baseother/x.py",
            "file:///etc/passwd",
            "file://evil.example/x",
            "https://example.com/x.py",
            "file:///scan/base/%2e%2e/%2e%2e/etc",
            "file:///scan/base/%zz",
            ".",
            "",
        ] {
            assert!(rel(outside).is_err(), "{outside} was accepted");
        }
    }
}
