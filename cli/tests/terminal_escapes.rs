//! W9 of the 2026-12 red-team: text from a hostile archive (member names carrying terminal escape sequences,
//! a file with such a name holding a secret) never reaches the terminal as control characters, whatever
//! `certus scan` prints (progress, warnings, summary, findings table, markdown) and `certus findings` lists;
//! in SARIF the path is a percent-encoded URI reference.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;

mod common;
use common::certus;

/// One ustar header block for `name` (raw bytes, escapes included).
fn header(name: &[u8], kind: u8, size: usize, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn hostile_tar(path: &Path) {
    let mut tar = Vec::new();
    // The report's members: a link and a FIFO whose names clear the screen, set the title and fake a verdict.
    tar.extend_from_slice(&header(
        b"x\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mFAKE: ALL CHECKS PASSED\x1b[0m",
        b'2',
        0,
        b"a.txt",
    ));
    tar.extend_from_slice(&header(b"y\x1b[31mRED", b'6', 0, b""));
    // A file whose name carries an escape and whose content is a finding.
    let secret = format!(
        "TOKEN = \"{}{}\"\n",
        "ghp_", "Zq7Xw2Rt9Lm4Kp3Vb8Nc5Hy6Jd1FsGt70001"
    );
    tar.extend_from_slice(&header(b"s\x1b[2Jettings.py", b'0', secret.len(), b""));
    let mut data = secret.into_bytes();
    data.resize(512, 0);
    tar.extend_from_slice(&data);
    tar.extend_from_slice(&header(b"a.txt", b'0', 0, b""));
    tar.extend_from_slice(&[0u8; 1024]);
    std::fs::write(path, tar).unwrap();
}

#[test]
fn escape_sequences_in_member_names_and_findings_never_reach_the_terminal() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let archive = work.path().join("ansi.tar");
    hostile_tar(&archive);
    let manifest = work.path().join("m.json");
    std::fs::write(
        &manifest,
        r#"{"profiles":[{"name":"light","tools":["secrets"],"thresholds":{"high":0}}]}"#,
    )
    .unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            archive.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        certus(&args, &data)
    };
    let mut outputs = vec![scan(&[]), scan(&["--format", "markdown"])];
    let text = String::from_utf8_lossy(&outputs[0].stdout).into_owned();
    assert_eq!(outputs[0].status.code(), Some(1), "{text}");
    // What the names said is still shown, escaped.
    assert!(text.contains("x\\x1b]0;PWNED-TITLE\\x07\\x1b[2J"), "{text}");
    assert!(text.contains("y\\x1b[31mRED"), "{text}");
    assert!(text.contains("s\\x1b[2Jettings.py"), "{text}");
    let test_id = {
        let at = text.find("scan test_").expect("a test id") + 5;
        text[at..at + 17].to_string()
    };
    // In SARIF the path is one percent-encoded URI reference (RFC 3986).
    let sarif: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            data.join("bundles")
                .join(&test_id)
                .join("reports/sast/merged.sarif.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let uris: Vec<&str> = sarif["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|run| run["results"].as_array().unwrap())
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(uris, ["s%1B%5B2Jettings.py"]);
    outputs.push(certus(&["findings", &test_id], &data));
    outputs.push(certus(&["audit", "show", &test_id], &data));
    for out in &outputs {
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.contains(&0x1b) && !stream.contains(&0x07),
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
    }
}
