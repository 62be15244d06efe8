//! Go modules: `go.mod` require/replace directives, with versions and hashes checked against `go.sum`.

use std::collections::BTreeMap;

use crate::error::SbomError;
use crate::model::{Checksum, Component, Ecosystem, HashAlgorithm, Relation};

/// `(module, version)` to the `h1:` hash of the module content, from `go.sum`.
pub type GoSum = BTreeMap<(String, String), Option<String>>;

/// Parses `go.sum`; each `VERSION/go.mod` line is folded into its module version. A line that is not
/// `MODULE VERSION HASH` is skipped and pushed to `skipped`; the rest of the file is still read.
pub fn parse_go_sum(text: &str, path: &str, skipped: &mut Vec<SbomError>) -> GoSum {
    let mut sums = GoSum::new();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => continue,
            [module, version, hash] if hash.contains(':') => {
                let (version, is_go_mod_hash) = match version.strip_suffix("/go.mod") {
                    Some(version) => (version, true),
                    None => (*version, false),
                };
                let entry = sums
                    .entry((module.to_string(), version.to_string()))
                    .or_insert(None);
                if !is_go_mod_hash {
                    *entry = Some(hash.to_string());
                }
            }
            _ => skipped.push(skipped_line(
                path,
                "go.sum",
                index + 1,
                "expected `MODULE VERSION HASH`",
            )),
        }
    }
    sums
}

/// Components of a lone `go.sum` (no `go.mod` beside it): every module version it lists.
pub fn go_sum_components(sums: &GoSum, path: &str) -> Vec<Component> {
    sums.iter()
        .map(|((module, version), hash)| {
            Component::new(Ecosystem::Golang, module, Some(version), path)
                .with_checksum(hash.as_deref().map(h1_checksum))
        })
        .collect()
}

#[derive(Debug)]
struct Require {
    module: String,
    version: String,
    indirect: bool,
}

#[derive(Debug)]
struct Replace {
    module: String,
    version: Option<String>,
    target: String,
    target_version: Option<String>,
}

/// Parses `go.mod`. Requires marked `// indirect` are transitive, others direct; `replace`
/// directives swap in the replacement module (a local-path replacement keeps no version).
pub fn parse_go_mod(
    text: &str,
    path: &str,
    sums: Option<&GoSum>,
    skipped: &mut Vec<SbomError>,
) -> Vec<Component> {
    let mut module_path = None;
    let mut requires = Vec::new();
    let mut replaces = Vec::new();
    let mut block: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_error = |reason: &str| skipped_line(path, "go.mod", index + 1, reason);
        let (code, comment) = match raw.find("//") {
            Some(at) => (&raw[..at], &raw[at + 2..]),
            None => (raw, ""),
        };
        let tokens: Vec<String> = code.split_whitespace().map(unquote).collect();
        if tokens.is_empty() {
            continue;
        }
        let (directive, arguments) = match &block {
            Some(directive) => {
                if tokens == [")"] {
                    block = None;
                    continue;
                }
                (directive.clone(), tokens.as_slice())
            }
            None => {
                if tokens.len() == 2 && tokens[1] == "(" {
                    block = Some(tokens[0].clone());
                    continue;
                }
                (tokens[0].clone(), &tokens[1..])
            }
        };
        match directive.as_str() {
            "module" => match arguments {
                [name] => module_path = Some(name.clone()),
                _ => skipped.push(line_error("expected `module PATH`")),
            },
            "require" => match arguments {
                [module, version] => requires.push(Require {
                    module: module.clone(),
                    version: version.clone(),
                    indirect: comment
                        .split([';', ' '])
                        .any(|word| word.trim() == "indirect"),
                }),
                _ => skipped.push(line_error("expected `require MODULE VERSION`")),
            },
            "replace" => match parse_replace(arguments) {
                Some(replace) => replaces.push(replace),
                None => skipped.push(line_error(
                    "expected `replace MODULE [VERSION] => TARGET [VERSION]`",
                )),
            },
            _ => {}
        }
    }
    if let Some(directive) = block {
        skipped.push(skipped_line(
            path,
            "go.mod",
            text.lines().count(),
            &format!("`{directive} (` block is never closed"),
        ));
    }

    let mut components = Vec::new();
    if let Some(module) = module_path {
        components.push(
            Component::new(Ecosystem::Golang, &module, None, path).with_relation(Relation::Project),
        );
    }
    for require in requires {
        let replacement = replaces
            .iter()
            .find(|r| {
                r.module == require.module && r.version.as_deref() == Some(require.version.as_str())
            })
            .or_else(|| {
                replaces
                    .iter()
                    .find(|r| r.module == require.module && r.version.is_none())
            });
        let (name, version) = match replacement {
            Some(Replace {
                target,
                target_version: Some(version),
                ..
            }) => (target.clone(), Some(version.clone())),
            Some(_) => (require.module.clone(), None),
            None => (require.module.clone(), Some(require.version.clone())),
        };
        let checksum = version
            .as_ref()
            .and_then(|version| {
                sums?
                    .get(&(name.clone(), version.clone()))
                    .cloned()
                    .flatten()
            })
            .map(|hash| h1_checksum(&hash));
        let relation = if require.indirect {
            Relation::Transitive
        } else {
            Relation::Direct
        };
        components.push(
            Component::new(Ecosystem::Golang, &name, version.as_deref(), path)
                .with_relation(relation)
                .with_checksum(checksum),
        );
    }
    components
}

fn parse_replace(arguments: &[String]) -> Option<Replace> {
    let arrow = arguments.iter().position(|token| token == "=>")?;
    let (left, right) = (&arguments[..arrow], &arguments[arrow + 1..]);
    let (module, version) = match left {
        [module] => (module.clone(), None),
        [module, version] => (module.clone(), Some(version.clone())),
        _ => return None,
    };
    let (target, target_version) = match right {
        [target] => (target.clone(), None),
        [target, version] => (target.clone(), Some(version.clone())),
        _ => return None,
    };
    Some(Replace {
        module,
        version,
        target,
        target_version,
    })
}

fn unquote(token: &str) -> String {
    token.trim_matches(|c| c == '"' || c == '`').to_string()
}

fn h1_checksum(hash: &str) -> Checksum {
    Checksum {
        algorithm: HashAlgorithm::GoH1,
        value: hash.to_string(),
    }
}

fn skipped_line(path: &str, format: &'static str, line: usize, reason: &str) -> SbomError {
    SbomError::SkippedLine {
        path: path.to_string(),
        format,
        line,
        reason: reason.to_string(),
    }
}
