#!/usr/bin/env python3
"""checkov on infra/template.yaml and parliament (community auditors on) on every role's policy of the
translated template, resolved with every optional feature configured; each finding must be accepted, with its
reason, in the table of docs/serverless.md "Accepted checkov and parliament findings":

    | tool | check | resources | reason |
    | checkov | `CKV_AWS_115` | * | … |
    | parliament | `RESOURCE_MISMATCH` | `WsRole` | … |

`resources` is `*` or the logical ids (backticked, comma-separated) the acceptance covers. A finding no row
accepts fails, and so does a row that accepts nothing any more (so the table stays true).

Usage: audit_findings.py CHECKOV PARLIAMENT   (the two executables; exit 0 when every finding is accepted)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import iam_eval  # noqa: E402
import translated  # noqa: E402

DOC = os.path.join(translated.INFRA, "..", "docs", "serverless.md")
SECTION = "## Accepted checkov and parliament findings"
ROW = re.compile(r"^\| (checkov|parliament) \| `([A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \|$", re.M)
CONFIGURED = translated.ALL_FEATURES


def accepted_rows():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    if SECTION not in text:
        raise SystemExit(f"audit: {DOC} has no section '{SECTION}'")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = []
    for tool, check, resources, reason in ROW.findall(section):
        names = resources.strip()
        scope = None if names == "*" else {n.strip().strip("`") for n in names.split(",")}
        if not reason.strip():
            raise SystemExit(f"audit: {tool} {check} is accepted without a reason")
        rows.append({"tool": tool, "check": check, "scope": scope, "used": False})
    return rows


def checkov_findings(checkov):
    out = subprocess.run(
        [checkov, "-f", translated.TEMPLATE, "--framework", "cloudformation", "--quiet", "--compact",
         "-o", "json", "--skip-download"],
        capture_output=True, text=True, check=False,
    )
    try:
        reports = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"audit: checkov printed no JSON (exit {out.returncode}): {out.stderr[-2000:]}")
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        for failed in report.get("results", {}).get("failed_checks", []):
            findings.append(("checkov", failed["check_id"], failed["resource"].split(".", 1)[-1],
                             failed["check_name"]))
    return findings


def parliament_findings(parliament):
    cfn = translated.translate()
    resolver = translated.Resolver(cfn, translated.parameters(cfn, CONFIGURED))
    findings = []
    with tempfile.TemporaryDirectory(prefix="certus-parliament-") as tmp:
        for name, resource in cfn["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            statements = iam_eval.role_statements(resolver.resolve(resource))
            with open(os.path.join(tmp, f"{name}.json"), "w", encoding="utf-8") as f:
                json.dump({"Version": "2012-10-17", "Statement": statements}, f)
        out = subprocess.run([parliament, "--directory", tmp, "--include-community-auditors", "--json"],
                             capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            if not line.strip():
                continue
            finding = json.loads(line)
            role = os.path.basename(finding["location"]["filepath"])[: -len(".json")]
            findings.append(("parliament", finding["issue"], role, finding["title"]))
        if out.returncode not in (0, 1) and not findings:
            raise SystemExit(f"audit: parliament failed (exit {out.returncode}): {out.stderr[-2000:]}")
    return findings


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    rows = accepted_rows()
    findings = checkov_findings(argv[0]) + parliament_findings(argv[1])
    unaccepted = []
    for tool, check, resource, title in findings:
        matching = [r for r in rows if r["tool"] == tool and r["check"] == check
                    and (r["scope"] is None or resource in r["scope"])]
        for row in matching:
            row["used"] = True
        if not matching:
            unaccepted.append(f"{tool} {check} on {resource}: {title}")
    stale = [f"{r['tool']} {r['check']}" for r in rows if not r["used"]]
    for line in unaccepted:
        print(f"audit: not accepted in docs/serverless.md: {line}")
    for line in stale:
        print(f"audit: accepted in docs/serverless.md but no longer found: {line}")
    print(f"audit: {len(findings)} findings, {len(findings) - len(unaccepted)} accepted with a reason, "
          f"{len(unaccepted)} not accepted, {len(stale)} stale acceptances")
    return 1 if unaccepted or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
