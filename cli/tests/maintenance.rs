//! The binary's housekeeping, as a user runs it: `--version` with the commit, shell completions, the man
//! page, help on every flag, and `certus prune` (workspaces and bundles go; job records and trails stay).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::process::{Command, Output};

mod common;
use common::certus;

fn ok(out: Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let data = tempfile::tempdir().unwrap();
    let version = ok(certus(&["--version"], data.path()));
    let commit = version
        .trim()
        .strip_prefix(&format!("certus {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{version}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{version}"
    );
}

#[test]
fn completions_for_each_shell_and_a_man_page() {
    let data = tempfile::tempdir().unwrap();
    let bash = ok(certus(&["completions", "bash"], data.path()));
    assert!(
        bash.contains("complete -F") && bash.contains("findings") && bash.contains("--new-only")
    );
    let zsh = ok(certus(&["completions", "zsh"], data.path()));
    assert!(zsh.starts_with("#compdef certus"), "{}", &zsh[..40]);
    let fish = ok(certus(&["completions", "fish"], data.path()));
    assert!(fish.contains("complete -c certus"));
    let bad = certus(&["completions", "tcsh"], data.path());
    assert_eq!(bad.status.code(), Some(2));

    let man = ok(certus(&["man"], data.path()));
    assert!(
        man.starts_with(".ie") || man.contains(".TH certus"),
        "{}",
        &man[..80]
    );
    assert!(man.contains("prune") && man.contains("findings"));
    // The page renders (when groff/man are installed).
    if Command::new("sh")
        .args(["-c", "command -v groff"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        std::fs::write(data.path().join("certus.1"), &man).unwrap();
        let rendered = Command::new("groff")
            .args(["-man", "-Tutf8"])
            .arg(data.path().join("certus.1"))
            .output()
            .unwrap();
        assert!(rendered.status.success());
        assert!(String::from_utf8_lossy(&rendered.stdout).contains("certus"));
    }
}

#[test]
fn every_flag_of_every_command_has_help_text() {
    let data = tempfile::tempdir().unwrap();
    let top = ok(certus(&["--help"], data.path()));
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 12, "{commands:?}");
    let mut bare = Vec::new();
    let mut check = |path: Vec<String>| {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        // The short form keeps each flag's help on its line.
        args.push("-h");
        let help = ok(certus(&args, data.path()));
        let mut subcommands = Vec::new();
        let mut section = "";
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = line;
                continue;
            }
            let trimmed = line.trim_start();
            let words: Vec<&str> = trimmed.split_whitespace().collect();
            if section == "Commands:" && line.starts_with("  ") && !line.starts_with("   ") {
                if let Some(name) = words.first().filter(|n| **n != "help") {
                    subcommands.push(name.to_string());
                }
            }
            // A flag's help is on its line after two spaces or, when clap lays it out so, on the next line.
            if section == "Options:" && trimmed.starts_with('-') {
                let same_line = trimmed
                    .split("  ")
                    .skip(1)
                    .any(|part| !part.trim().is_empty());
                let next_line = lines.get(i + 1).is_some_and(|next| {
                    let indent = next.len() - next.trim_start().len();
                    indent > line.len() - trimmed.len()
                        && !next.trim().is_empty()
                        && !next.trim_start().starts_with('-')
                });
                if !same_line && !next_line {
                    bare.push(format!("{}: {trimmed}", path.join(" ")));
                }
            }
        }
        subcommands
    };
    for command in commands {
        for sub in check(vec![command.clone()]) {
            check(vec![command.clone(), sub]);
        }
    }
    assert!(bare.is_empty(), "flags without help:\n{}", bare.join("\n"));
}

#[test]
fn prune_removes_old_workspaces_and_bundles_but_keeps_records_and_trails() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(
        work.path().join("m.json"),
        r#"{"profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    let manifest = work.path().join("m.json");
    let scan = |extra: &[&str]| -> String {
        let mut args = vec![
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let job: serde_json::Value = serde_json::from_str(&ok(certus(&args, &data))).unwrap();
        job["test_id"].as_str().unwrap().to_string()
    };
    let kept_workspace = scan(&["--keep-workspace"]);
    let plain = scan(&[]);
    let outside = work.path().join("out");
    let with_out = scan(&["--out", outside.to_str().unwrap()]);
    let run_dir = data.join("runs").join(&kept_workspace);
    assert!(run_dir.is_dir());
    assert!(data.join("bundles").join(&plain).is_dir());

    // Nothing is 30 days old yet.
    let young = ok(certus(&["prune", "--older-than", "30d"], &data));
    assert!(
        young.contains("pruned 0 workspace(s) and 0 bundle(s)"),
        "{young}"
    );

    // A dry run lists, and removes nothing.
    let dry = ok(certus(&["prune", "--older-than", "0s", "--dry-run"], &data));
    assert!(
        dry.contains(&format!("would remove {}", run_dir.display())),
        "{dry}"
    );
    assert!(
        dry.contains("would prune 1 workspace(s) and 2 bundle(s)"),
        "{dry}"
    );
    assert!(run_dir.is_dir());

    let done = ok(certus(&["prune", "--older-than", "0s"], &data));
    assert!(
        done.contains("pruned 1 workspace(s) and 2 bundle(s)"),
        "{done}"
    );
    assert!(!run_dir.exists());
    assert!(!data.join("bundles").join(&plain).exists());
    assert!(!data.join("bundles").join(&kept_workspace).exists());
    // A bundle the user put elsewhere with --out is theirs.
    assert!(outside.join("bundle-index.json").is_file());

    // Records and trails are all still there.
    let listed: serde_json::Value =
        serde_json::from_str(&ok(certus(&["audit", "list", "--format", "json"], &data))).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    for id in [&kept_workspace, &plain, &with_out] {
        let shown = ok(certus(&["audit", "show", id], &data));
        assert!(shown.contains("status_changed"), "{shown}");
    }

    let bad = certus(&["prune", "--older-than", "30"], &data);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("a number and a unit"));
}
