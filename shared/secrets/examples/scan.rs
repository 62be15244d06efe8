//! Benchmark/demo driver: scans a tree and prints a JSON summary (counts, throughput, per-rule totals
//! and finding locations, never secrets). `--print-patterns` prints the compiled rule regexes instead.
//!
//! Usage: `scan [--rules FILE] [--threads N] [--max-file-size BYTES] [--max-decode-depth N]
//! [--print-patterns] ROOT`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use certus_secrets::{RuleSet, ScanOptions, Scanner};

struct Args {
    rules: Option<PathBuf>,
    options: ScanOptions,
    print_patterns: bool,
    root: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rules: None,
        options: ScanOptions::default(),
        print_patterns: false,
        root: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--rules" => args.rules = Some(PathBuf::from(value("--rules")?)),
            "--threads" => {
                args.options.threads = value("--threads")?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?;
            }
            "--max-file-size" => {
                args.options.max_file_size = value("--max-file-size")?
                    .parse()
                    .map_err(|e| format!("--max-file-size: {e}"))?;
            }
            "--max-decode-depth" => {
                args.options.max_decode_depth = value("--max-decode-depth")?
                    .parse()
                    .map_err(|e| format!("--max-decode-depth: {e}"))?;
            }
            "--print-patterns" => args.print_patterns = true,
            _ if args.root.is_none() && !arg.starts_with("--") => {
                args.root = Some(PathBuf::from(arg));
            }
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(args)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let rules = match &args.rules {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            RuleSet::from_gitleaks_toml(&text).map_err(|e| e.to_string())?
        }
        None => RuleSet::default_rules().map_err(|e| e.to_string())?,
    };
    if args.print_patterns {
        for (_, pattern) in rules.patterns() {
            println!("{pattern}");
        }
        return Ok(());
    }
    let root = args.root.ok_or("missing ROOT")?;
    let rule_count = rules.len();
    let scanner = Scanner::new(rules, args.options);
    let start = Instant::now();
    let report = scanner.scan_tree(&root).map_err(|e| e.to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut by_rule: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &report.findings {
        *by_rule.entry(f.rule_id.as_str()).or_default() += 1;
    }
    let locations: Vec<(&str, u64, &str)> = report
        .findings
        .iter()
        .map(|f| (f.path.as_str(), f.line, f.rule_id.as_str()))
        .collect();
    let summary = serde_json::json!({
        "rules": rule_count,
        "rule_errors": report.rule_errors,
        "threads": scanner.options().threads,
        "files_scanned": report.files_scanned,
        "bytes_scanned": report.bytes_scanned,
        "skipped": report.skipped.len() as u64 + report.skipped_omitted,
        "findings": report.findings.len() as u64 + report.findings_omitted,
        "decoded_findings": report.findings.iter().filter(|f| !f.decoded.is_empty()).count(),
        "max_decode_depth": scanner.options().max_decode_depth,
        "elapsed_s": elapsed,
        "mb_per_s": report.bytes_scanned as f64 / 1e6 / elapsed.max(1e-9),
        "by_rule": by_rule,
        "locations": locations,
    });
    println!("{summary}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scan: {e}");
            ExitCode::FAILURE
        }
    }
}
