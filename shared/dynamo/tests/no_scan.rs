//! No code path may read DynamoDB with `Scan`: every source file under `shared/`, `functions/` and `cli/`
//! is searched for the SDK's Scan operation: the fluent call, its input/output types, its module.

use std::path::{Path, PathBuf};

/// The Scan API's spellings, assembled so that this file does not match itself.
fn scan_markers() -> Vec<String> {
    let scan = ["sc", "an"].concat();
    vec![
        format!(".{scan}()"),
        format!(".{scan}(TableName"),
        format!("{}Input", capitalised(&scan)),
        format!("{}Output", capitalised(&scan)),
        format!("{}FluentBuilder", capitalised(&scan)),
        format!("operation::{scan}"),
        format!("DynamoDB_20120810.{}", capitalised(&scan)),
    ]
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            sources(&path, found);
        } else if name.ends_with(".rs") || name.ends_with(".py") || name.ends_with(".js") {
            found.push(path);
        }
    }
}

fn offending_lines(text: &str, markers: &[String]) -> Vec<String> {
    text.lines()
        .filter(|line| markers.iter().any(|m| line.contains(m.as_str())))
        .map(|line| line.trim().to_string())
        .collect()
}

#[test]
fn the_detector_sees_a_scan_call() {
    let markers = scan_markers();
    let sample = ["client.sc", "an().table_name(\"jobs\").send().await"].concat();
    assert_eq!(offending_lines(&sample, &markers).len(), 1);
    assert!(offending_lines("scanner.scan(request).await", &markers).is_empty());
}

#[test]
fn no_source_file_calls_the_dynamodb_scan_api() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let mut files = Vec::new();
    for top in ["shared", "functions", "cli"] {
        sources(&root.join(top), &mut files);
    }
    assert!(
        files.len() > 50,
        "the search found the sources ({} files)",
        files.len()
    );
    let markers = scan_markers();
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in offending_lines(&text, &markers) {
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            offenders.push(format!("{shown}: {line}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "DynamoDB Scan is not allowed; use a Query on a designed key:\n{}",
        offenders.join("\n")
    );
}
