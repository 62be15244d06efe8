//! Report parsers on real-looking outputs of each tool, and on malformed, truncated and
//! enormous ones, which must fail with `OutputUnparsable`/`OutputTooLarge` naming the tool.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;

use certus_tools::{
    parse_bandit_json, parse_checkov_json, parse_detect_secrets_json, parse_sarif, Severity,
    ToolError, ToolId, MAX_SARIF_BYTES,
};
use serde_json::json;

const ROOT: &str = "/scan/base";

fn root() -> &'static Path {
    Path::new(ROOT)
}

/// Shaped like `semgrep scan --sarif` 1.185 output with our rules.
fn semgrep_sarif() -> serde_json::Value {
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": []}],
            "tool": {"driver": {"name": "Semgrep OSS", "semanticVersion": "1.185.0", "rules": [
                {
                    "id": "tmp.python-subprocess-shell-true",
                    "name": "tmp.python-subprocess-shell-true",
                    "defaultConfiguration": {"level": "error"},
                    "properties": {"precision": "very-high", "security-severity": "7.5",
                                   "tags": ["CWE-78: OS Command Injection", "security"]},
                    "shortDescription": {"text": "Semgrep Finding: tmp.python-subprocess-shell-true"},
                    "fullDescription": {"text": "subprocess with shell=True runs a shell on its input"},
                    "helpUri": "https://semgrep.dev/r/python.lang.security.audit.subprocess-shell-true"
                },
                {
                    "id": "tmp.python-yaml-unsafe-load",
                    "name": "tmp.python-yaml-unsafe-load",
                    "defaultConfiguration": {"level": "warning"},
                    "properties": {"security-severity": 6.5}
                },
                {
                    "id": "tmp.javascript-eval-of-input",
                    "name": "tmp.javascript-eval-of-input",
                    "defaultConfiguration": {"level": "error"},
                    "properties": {}
                }
            ]}},
            "results": [
                {
                    "fingerprints": {"matchBasedId/v1": "requires login"},
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": "/scan/base/app/run.py", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 6, "endLine": 6, "startColumn": 5, "endColumn": 37,
                                   "snippet": {"text": "    subprocess.call(cmd, shell=True)"}}
                    }}],
                    "message": {"text": "subprocess called with shell=True"},
                    "properties": {},
                    "ruleId": "tmp.python-subprocess-shell-true"
                },
                {
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": "/scan/base/app/run.py"},
                        "region": {"startLine": 10, "endLine": 11}
                    }}],
                    "message": {"text": "yaml.load() without SafeLoader"},
                    "ruleId": "tmp.python-yaml-unsafe-load"
                },
                {
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": "web/app.js"},
                        "region": {"startLine": 4}
                    }}],
                    "message": {"text": "eval of input"},
                    "ruleId": "tmp.javascript-eval-of-input"
                },
                {
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": "/etc/passwd"},
                        "region": {"startLine": 1}
                    }}],
                    "message": {"text": "outside"},
                    "ruleId": "tmp.javascript-eval-of-input"
                }
            ]
        }]
    })
}

fn bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn assert_unparsable(result: Result<impl std::fmt::Debug, ToolError>, tool: ToolId) -> String {
    match result {
        Err(ToolError::OutputUnparsable {
            tool: named,
            reason,
        }) => {
            assert_eq!(named, tool);
            reason
        }
        other => panic!("expected OutputUnparsable for {tool}, got {other:?}"),
    }
}

#[test]
fn semgrep_sarif_becomes_findings_with_scores_paths_and_snippets() {
    let report = parse_sarif(ToolId::Semgrep, &bytes(&semgrep_sarif()), root()).unwrap();
    assert_eq!(report.findings.len(), 3);
    let shell = &report.findings[0];
    assert_eq!(shell.rule_id, "tmp.python-subprocess-shell-true");
    assert_eq!(shell.rule_name, None);
    assert_eq!(shell.severity, Severity::High);
    assert_eq!(shell.path, "app/run.py");
    assert_eq!(shell.start_line, 6);
    assert_eq!(shell.end_line, Some(6));
    assert_eq!(
        shell.snippet.as_deref(),
        Some("    subprocess.call(cmd, shell=True)")
    );
    assert_eq!(
        shell.rule_description.as_deref(),
        Some("subprocess with shell=True runs a shell on its input")
    );
    assert_eq!(
        shell.help_uri.as_deref(),
        Some("https://semgrep.dev/r/python.lang.security.audit.subprocess-shell-true")
    );
    assert_eq!(report.findings[1].rule_description, None);
    assert_eq!(report.findings[1].help_uri, None);
    assert_eq!(report.findings[1].severity, Severity::Medium);
    assert_eq!(report.findings[1].end_line, Some(11));
    // No score: the level `error` decides.
    assert_eq!(report.findings[2].severity, Severity::High);
    assert_eq!(report.findings[2].path, "web/app.js");
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("outside the scanned root"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn bandit_sarif_with_rule_index_and_relative_uris_parses() {
    let sarif = json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "Bandit", "rules": [
                {"id": "B404", "name": "blacklist"},
                {"id": "B602", "name": "subprocess_popen_with_shell_equals_true",
                 "properties": {"tags": ["security", "external/cwe/cwe-78"], "precision": "high"}}
            ]}},
            "invocations": [{"executionSuccessful": true, "endTimeUtc": "2026-11-28T22:46:11Z"}],
            "properties": {"metrics": {}},
            "results": [{
                "message": {"text": "subprocess call with shell=True identified, security issue."},
                "level": "error",
                "locations": [{"physicalLocation": {
                    "region": {"snippet": {"text": "    subprocess.call(cmd, shell=True)\n"},
                               "endColumn": 37, "endLine": 6, "startColumn": 5, "startLine": 6},
                    "artifactLocation": {"uri": "app/run.py"}
                }}],
                "properties": {"issue_confidence": "HIGH", "issue_severity": "HIGH"},
                "ruleIndex": 1
            }]
        }]
    });
    let report = parse_sarif(ToolId::Bandit, &bytes(&sarif), root()).unwrap();
    assert_eq!(report.findings.len(), 1);
    let finding = &report.findings[0];
    assert_eq!(finding.rule_id, "B602");
    assert_eq!(
        finding.rule_name.as_deref(),
        Some("subprocess_popen_with_shell_equals_true")
    );
    assert_eq!(finding.severity, Severity::High);
}

#[test]
fn checkov_sarif_levels_and_scores_map_to_severities() {
    let sarif = json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "Checkov", "version": "3.3.30", "rules": [
                {"id": "CKV2_AWS_6", "name": "Ensure that S3 bucket has a Public Access block",
                 "defaultConfiguration": {"level": "error"}},
                {"id": "CKV_AWS_145", "name": "Ensure that S3 buckets are encrypted with KMS by default",
                 "defaultConfiguration": {"level": "error"},
                 "properties": {"security-severity": "9.1"}}
            ]}},
            "results": [
                {"ruleId": "CKV2_AWS_6", "ruleIndex": 0, "level": "error", "attachments": [],
                 "message": {"text": "Ensure that S3 bucket has a Public Access block"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "infra/main.tf"},
                    "region": {"startLine": 1, "endLine": 3,
                               "snippet": {"text": "resource \"aws_s3_bucket\" \"data\" {\n}\n"}}}}]},
                {"ruleId": "CKV_AWS_145", "ruleIndex": 1, "level": "error",
                 "message": {"text": "Ensure that S3 buckets are encrypted with KMS by default"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "infra/main.tf"},
                    "region": {"startLine": 1, "endLine": 3}}}]}
            ]
        }]
    });
    let report = parse_sarif(ToolId::Checkov, &bytes(&sarif), root()).unwrap();
    let severities: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.severity))
        .collect();
    assert_eq!(
        severities,
        [
            ("CKV2_AWS_6", Severity::High),
            ("CKV_AWS_145", Severity::Critical)
        ]
    );
    assert_eq!(report.findings[0].path, "infra/main.tf");
}

#[test]
fn an_empty_results_array_is_zero_findings_but_a_missing_one_is_an_error() {
    let empty = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Checkov", "rules": []}}, "results": []}]});
    let report = parse_sarif(ToolId::Checkov, &bytes(&empty), root()).unwrap();
    assert!(report.findings.is_empty());

    let missing = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Checkov"}}}]});
    let reason = assert_unparsable(
        parse_sarif(ToolId::Checkov, &bytes(&missing), root()),
        ToolId::Checkov,
    );
    assert!(reason.contains("results"), "{reason}");
}

#[test]
fn truncated_sarif_is_unparsable_never_zero_findings() {
    let full = bytes(&semgrep_sarif());
    for cut in [0, 1, full.len() / 3, full.len() / 2, full.len() - 1] {
        let error = parse_sarif(ToolId::Semgrep, &full[..cut], root());
        let reason = assert_unparsable(error, ToolId::Semgrep);
        assert!(reason.contains("not valid SARIF JSON"), "{reason}");
    }
}

#[test]
fn structurally_wrong_sarif_is_rejected_with_a_reason() {
    let cases = [
        (json!({"version": "2.0.0", "runs": []}), "version"),
        (json!({"runs": []}), "version"),
        (json!({"version": "2.1.0"}), "runs"),
        (json!([1, 2, 3]), "JSON"),
        (
            json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [
                {"ruleId": "x", "message": {"text": "m"}, "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": "a.py"}, "region": {"startLine": "six"}}}]}]}]}),
            "JSON",
        ),
        (
            json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"rules": []}}, "results": [
                {"ruleIndex": 4, "message": {"text": "m"}}]}]}),
            "ruleIndex 4 out of range",
        ),
        (
            json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [
                {"message": {"text": "m"}}]}]}),
            "names no rule",
        ),
        (
            json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [
                {"ruleId": "x", "level": "catastrophic", "message": {"text": "m"}}]}]}),
            "JSON",
        ),
        (
            json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [
                {"ruleId": "x", "message": {"text": "m"}, "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": "a.py"}, "region": {"startLine": 0}}}]}]}]}),
            "startLine 0",
        ),
        (
            json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}},
                "invocations": [{"executionSuccessful": false,
                    "toolExecutionNotifications": [{"message": {"text": "rules file invalid"}}]}],
                "results": []}]}),
            "not successful",
        ),
    ];
    for (document, expected) in cases {
        let reason = assert_unparsable(
            parse_sarif(ToolId::Semgrep, &bytes(&document), root()),
            ToolId::Semgrep,
        );
        assert!(reason.contains(expected), "{document}: {reason}");
    }
}

#[test]
fn deeply_nested_json_fails_cleanly() {
    let depth = 100_000;
    let nested = format!(
        "{{\"version\":\"2.1.0\",\"runs\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert_unparsable(
        parse_sarif(ToolId::Checkov, nested.as_bytes(), root()),
        ToolId::Checkov,
    );
}

#[test]
fn enormous_sarif_is_refused_before_parsing() {
    let mut huge = bytes(&semgrep_sarif());
    huge.resize(MAX_SARIF_BYTES + 1, b' ');
    match parse_sarif(ToolId::Semgrep, &huge, root()) {
        Err(ToolError::OutputTooLarge { tool, limit }) => {
            assert_eq!(tool, ToolId::Semgrep);
            assert_eq!(limit, MAX_SARIF_BYTES);
        }
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }
}

/// Shaped like `bandit -r <root> -f json` 1.9 output.
fn bandit_json() -> serde_json::Value {
    json!({
        "errors": [{"filename": "/scan/base/app/bad.py", "reason": "syntax error while parsing AST from file"}],
        "generated_at": "2026-11-28T22:46:11Z",
        "metrics": {"_totals": {"loc": 9, "nosec": 0}},
        "results": [
            {
                "code": "1 import subprocess\n2 import yaml\n",
                "col_offset": 0, "end_col_offset": 17,
                "filename": "/scan/base/app/run.py",
                "issue_confidence": "HIGH",
                "issue_cwe": {"id": 78, "link": "https://cwe.mitre.org/data/definitions/78.html"},
                "issue_severity": "LOW",
                "issue_text": "Consider possible security implications associated with the subprocess module.",
                "line_number": 1, "line_range": [1],
                "more_info": "https://bandit.readthedocs.io/en/1.9.4/blacklists/blacklist_imports.html",
                "test_id": "B404", "test_name": "blacklist"
            },
            {
                "code": "5 def run(cmd):\n6     subprocess.call(cmd, shell=True)\n7 \n",
                "filename": "/scan/base/app/run.py",
                "issue_confidence": "HIGH", "issue_severity": "HIGH",
                "issue_text": "subprocess call with shell=True identified, security issue.",
                "line_number": 6, "line_range": [6, 7],
                "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true"
            },
            {
                "code": "10     return yaml.load(text)\n",
                "filename": "/scan/base/app/run.py",
                "issue_confidence": "LOW", "issue_severity": "MEDIUM",
                "issue_text": "Use of unsafe yaml load.",
                "line_number": 10, "line_range": [10],
                "test_id": "B506", "test_name": "yaml_load"
            },
            {
                "filename": "/elsewhere/x.py",
                "issue_confidence": "HIGH", "issue_severity": "HIGH",
                "issue_text": "outside", "line_number": 1, "line_range": [1],
                "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true"
            }
        ]
    })
}

#[test]
fn bandit_json_uses_severity_and_confidence() {
    let report = parse_bandit_json(&bytes(&bandit_json()), root()).unwrap();
    let summary: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule_id.as_str(),
                f.severity,
                f.path.as_str(),
                f.start_line,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("B404", Severity::Low, "app/run.py", 1),
            ("B602", Severity::High, "app/run.py", 6),
            ("B506", Severity::Low, "app/run.py", 10),
        ]
    );
    assert_eq!(
        report.findings[0].help_uri.as_deref(),
        Some("https://bandit.readthedocs.io/en/1.9.4/blacklists/blacklist_imports.html")
    );
    assert_eq!(report.findings[1].help_uri, None, "no more_info, no page");
    assert_eq!(report.findings[1].end_line, Some(7));
    assert_eq!(
        report.findings[1].snippet.as_deref(),
        Some("    subprocess.call(cmd, shell=True)")
    );
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("app/bad.py"));
    assert!(report.warnings[1].contains("outside the scanned root"));
}

#[test]
fn malformed_bandit_json_is_unparsable() {
    let full = bytes(&bandit_json());
    assert_unparsable(
        parse_bandit_json(&full[..full.len() / 2], root()),
        ToolId::Bandit,
    );
    assert_unparsable(parse_bandit_json(b"", root()), ToolId::Bandit);
    assert_unparsable(
        parse_bandit_json(br#"{"errors": []}"#, root()),
        ToolId::Bandit,
    );
    let mut wrong = bandit_json();
    wrong["results"][0]["issue_severity"] = json!("SEVERE");
    let reason = assert_unparsable(parse_bandit_json(&bytes(&wrong), root()), ToolId::Bandit);
    assert!(reason.contains("unknown severity"), "{reason}");
}

/// A fake, obviously non-secret 40-hex "hash", built at run time.
fn fake_hash(seed: u8) -> String {
    (0..20)
        .map(|i| format!("{:02x}", seed.wrapping_mul(31).wrapping_add(i)))
        .collect()
}

/// Shaped like `detect-secrets scan --all-files -n .` 1.5 output.
fn detect_secrets_json() -> serde_json::Value {
    json!({
        "version": "1.5.52",
        "plugins_used": [{"name": "AWSKeyDetector"}, {"name": "Base64HighEntropyString", "limit": 4.5}],
        "filters_used": [{"path": "detect_secrets.filters.heuristic.is_sequential_string"}],
        "results": {
            "app/config.env": [
                {"type": "AWS Access Key", "filename": "app/config.env", "hashed_secret": fake_hash(1),
                 "is_verified": false, "line_number": 1, "is_added": false, "is_removed": false},
                {"type": "Base64 High Entropy String", "filename": "app/config.env", "hashed_secret": fake_hash(2),
                 "is_verified": false, "line_number": 2},
                {"type": "Secret Keyword", "filename": "app/config.env", "hashed_secret": fake_hash(2),
                 "is_verified": false, "line_number": 2}
            ],
            "app/run.py": [
                {"type": "Secret Keyword", "filename": "app/run.py", "hashed_secret": fake_hash(3),
                 "is_verified": false, "line_number": 16}
            ],
            "../outside.txt": [
                {"type": "Private Key", "filename": "../outside.txt", "hashed_secret": fake_hash(4),
                 "is_verified": false, "line_number": 1}
            ]
        },
        "generated_at": "2026-11-28T22:47:17Z"
    })
}

#[test]
fn detect_secrets_counts_one_finding_per_secret_and_never_echoes_the_hash() {
    let report = parse_detect_secrets_json(&bytes(&detect_secrets_json()), root()).unwrap();
    // Four secrets in two files inside the root (one file outside is dropped), not two.
    assert_eq!(report.findings.len(), 4);
    let summary: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule_id.as_str(),
                f.severity,
                f.path.as_str(),
                f.start_line,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "detect-secrets.aws-access-key",
                Severity::High,
                "app/config.env",
                1
            ),
            (
                "detect-secrets.base64-high-entropy-string",
                Severity::Low,
                "app/config.env",
                2
            ),
            (
                "detect-secrets.secret-keyword",
                Severity::Medium,
                "app/config.env",
                2
            ),
            (
                "detect-secrets.secret-keyword",
                Severity::Medium,
                "app/run.py",
                16
            ),
        ]
    );
    assert!(report.findings.iter().all(|f| f.snippet.is_none()));
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("climbs out"),
        "{:?}",
        report.warnings
    );

    let serialized = serde_json::to_string(&report.findings).unwrap() + &format!("{:?}", report);
    for seed in 1..=4 {
        assert!(!serialized.contains(&fake_hash(seed)), "hash {seed} leaked");
    }
}

#[test]
fn malformed_detect_secrets_json_is_unparsable() {
    let full = bytes(&detect_secrets_json());
    assert_unparsable(
        parse_detect_secrets_json(&full[..full.len() - 5], root()),
        ToolId::DetectSecrets,
    );
    assert_unparsable(
        parse_detect_secrets_json(br#"{"version": "1.5.0"}"#, root()),
        ToolId::DetectSecrets,
    );
    assert_unparsable(
        parse_detect_secrets_json(br#"{"results": {"a.py": {"type": "x"}}}"#, root()),
        ToolId::DetectSecrets,
    );
    let reason = assert_unparsable(
        parse_detect_secrets_json(
            br#"{"results": {"a.py": [{"type": "Secret Keyword", "line_number": 0}]}}"#,
            root(),
        ),
        ToolId::DetectSecrets,
    );
    assert!(reason.contains("line_number 0"), "{reason}");
}

/// Shaped like `checkov --directory=<root> -o json --compact` 3.3 output for one framework.
fn checkov_framework(check_type: &str, file: &str) -> serde_json::Value {
    json!({
        "check_type": check_type,
        "results": {
            "passed_checks": [{"check_id": "CKV_AWS_93", "check_name": "lockout", "file_abs_path": file}],
            "failed_checks": [
                {
                    "check_id": "CKV_AWS_145", "bc_check_id": null,
                    "check_name": "Ensure that S3 buckets are encrypted with KMS by default",
                    "check_result": {"result": "FAILED", "entity": {"aws_s3_bucket": {}}},
                    "code_block": [[1, "resource \"aws_s3_bucket\" \"data\" {\n"],
                                   [2, "  bucket = \"planted\"\n"], [3, "}\n"]],
                    "file_path": "/infra/main.tf", "file_abs_path": file, "repo_file_path": "/infra/main.tf",
                    "file_line_range": [1, 3], "resource": "aws_s3_bucket.data",
                    "severity": null, "guideline": null
                },
                {
                    "check_id": "CKV_SECRET_2", "check_name": "AWS Access Key",
                    "file_abs_path": file, "file_line_range": [0, 0],
                    "resource": "abc", "severity": "HIGH",
                    "guideline": "https://docs.prismacloud.io/en/enterprise-edition/policy-reference/secrets-policies/secrets-policy-index/git-secrets-2"
                },
                {
                    "check_id": "CKV_AWS_18", "check_name": "access logging",
                    "file_abs_path": "/somewhere/else/main.tf", "file_line_range": [1, 3]
                }
            ],
            "skipped_checks": [{"check_id": "CKV2_AWS_6"}],
            "parsing_errors": ["/scan/base/infra/broken.tf"]
        },
        "summary": {"passed": 1, "failed": 3, "skipped": 1, "parsing_errors": 1,
                    "resource_count": 1, "checkov_version": "3.3.30"}
    })
}

#[test]
fn checkov_json_uses_absolute_paths_and_defaults_to_medium() {
    let one = checkov_framework("terraform", "/scan/base/infra/main.tf");
    let report = parse_checkov_json(&bytes(&one), root()).unwrap();
    let summary: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule_id.as_str(),
                f.severity,
                f.path.as_str(),
                f.start_line,
                f.end_line,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("CKV_AWS_145", Severity::Medium, "infra/main.tf", 1, Some(3)),
            ("CKV_SECRET_2", Severity::High, "infra/main.tf", 1, None),
        ]
    );
    assert_eq!(
        report.findings[0].message,
        "Ensure that S3 buckets are encrypted with KMS by default (resource: aws_s3_bucket.data)"
    );
    assert_eq!(report.findings[0].help_uri, None, "a null guideline");
    assert!(report.findings[1]
        .help_uri
        .as_deref()
        .is_some_and(|uri| uri.starts_with("https://docs.prismacloud.io/")));
    assert!(report.findings[0]
        .snippet
        .as_deref()
        .unwrap()
        .starts_with("resource \"aws_s3_bucket\""));
    let warnings = report.warnings.join("\n");
    assert!(
        warnings.contains("could not parse infra/broken.tf"),
        "{warnings}"
    );
    assert!(warnings.contains("1 check(s) skipped"), "{warnings}");
    assert!(
        warnings.contains("dropped a 'CKV_AWS_18' result"),
        "{warnings}"
    );
}

#[test]
fn checkov_json_lists_of_frameworks_and_empty_summaries_parse() {
    let many = json!([
        checkov_framework("terraform", "/scan/base/infra/main.tf"),
        checkov_framework("secrets", "/scan/base/config/settings.env")
    ]);
    let report = parse_checkov_json(&bytes(&many), root()).unwrap();
    assert_eq!(report.findings.len(), 4);

    let nothing = json!({"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0,
                         "resource_count": 0, "checkov_version": "3.3.30"});
    assert!(parse_checkov_json(&bytes(&nothing), root())
        .unwrap()
        .findings
        .is_empty());
}

#[test]
fn malformed_checkov_json_is_unparsable() {
    let full = bytes(&checkov_framework("terraform", "/scan/base/infra/main.tf"));
    assert_unparsable(
        parse_checkov_json(&full[..full.len() - 2], root()),
        ToolId::Checkov,
    );
    assert_unparsable(parse_checkov_json(b"[{}]", root()), ToolId::Checkov);
    assert_unparsable(
        parse_checkov_json(br#"{"resource_count": 3}"#, root()),
        ToolId::Checkov,
    );
    let mut wrong = checkov_framework("terraform", "/scan/base/infra/main.tf");
    wrong["results"]["failed_checks"][0]["severity"] = json!("SEVERE");
    let reason = assert_unparsable(parse_checkov_json(&bytes(&wrong), root()), ToolId::Checkov);
    assert!(reason.contains("unknown severity"), "{reason}");
}
