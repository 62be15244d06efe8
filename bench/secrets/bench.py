#!/usr/bin/env python3
"""Secrets-scanner benchmark driver, called by run.sh (which installs the tools and builds the binary).

Builds a corpus of real source files, plants fake secrets at recorded places, then runs on the same
corpus: our scanner (default rules, gitleaks rules), ripgrep with the same compiled regexes, and
detect-secrets on a subset. Prints throughput ratios, recall of the planted secrets and peak RSS.
"""
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

WORK = Path(os.environ["BENCH_WORK"])
CORPUS = WORK / "corpus"
SUBSET = WORK / "subset"
CORPUS_BYTES = int(os.environ["CORPUS_MB"]) * 1_000_000
SUBSET_BYTES = int(os.environ["DS_SUBSET_MB"]) * 1_000_000
THREADS = os.environ["BENCH_THREADS"]
SCAN = os.environ["SCAN_BIN"]
DETECT_SECRETS = os.environ["DETECT_SECRETS"]
GITLEAKS = os.environ.get("GITLEAKS_RULES", "")
MAX_FILE = 1_000_000
PLANT_COUNT = 150
RG_TIMEOUT = int(os.environ.get("RG_TIMEOUT", "120"))
# Our scanner and ripgrep with the default regexes run this many times each; the median is reported.
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CORPUS_VERSION = 2  # bump when the corpus or the planted secrets change

EXTS = {".rs", ".py", ".pyi", ".c", ".h", ".hpp", ".cc", ".toml", ".md", ".rst", ".txt", ".js",
        ".ts", ".json", ".yml", ".yaml", ".cfg", ".ini", ".sh", ".html", ".css", ".go", ".java"}
# Skip directories that gitleaks' global allowlist excludes, so every planted secret is reachable.
SKIP = re.compile(r"(^|/)(node_modules|vendor|\.git|__pycache__|[^/]*\.dist-info|[^/]*\.egg-info)(/|$)")
NO_VOWELS = "0123456789BCDFGHJKLMNPQRSTVWXZbcdfghjklmnpqrstvwxz"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
SUPERFLUOUS_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\([/\"'<>!@%=:,;`])")


def sources():
    home = Path.home()
    yield "cargo", home / ".cargo/registry/src"
    yield "py", Path(sysconfig.get_paths()["stdlib"])
    yield "debpy", Path("/usr/lib/python3/dist-packages")
    yield "include", Path("/usr/include")
    for src in sorted((home / ".rustup/toolchains").glob("*/lib/rustlib/src")):
        yield "rustsrc", src
    yield "share", Path("/usr/share")


def build_corpus():
    stamp = WORK / "corpus.json"
    if stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("target") == CORPUS_BYTES and meta.get("version") == CORPUS_VERSION:
            return meta
    shutil.rmtree(WORK, ignore_errors=True)
    CORPUS.mkdir(parents=True)
    total, files = 0, []
    for name, root in sources():
        if total >= CORPUS_BYTES or not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            for fname in sorted(filenames):
                rel = os.path.normpath(os.path.join(name, rel_dir, fname))
                src = Path(dirpath) / fname
                if Path(fname).suffix not in EXTS or SKIP.search(rel) or src.is_symlink():
                    continue
                try:
                    size = src.stat().st_size
                    if size == 0 or size > MAX_FILE:
                        continue
                    dst = CORPUS / rel
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)
                except OSError:
                    continue
                total += size
                files.append(rel)
                if total >= CORPUS_BYTES:
                    break
            if total >= CORPUS_BYTES:
                break
    planted = plant(files)
    subset_bytes = make_subset(files)
    meta = {"target": CORPUS_BYTES, "version": CORPUS_VERSION, "files": len(files), "planted": planted, "subset_bytes": subset_bytes}
    stamp.write_text(json.dumps(meta))
    return meta


def families(rng):
    s = lambda alphabet, n: "".join(rng.choice(alphabet) for _ in range(n))
    key_body = "\n".join(s(B64, 64) for _ in range(4))
    return [
        ("aws-key-id", "aws_key_id: AK" + "IA" + s("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
         "aws-access-key-id", "aws-access-token"),
        ("github", "token: gh" + "p_" + s(ALNUM, 36), "github-token", "github-pat"),
        ("gitlab", "gitlab: glp" + "at-" + s(ALNUM, 20), "gitlab-token", "gitlab-pat"),
        ("slack", "slack: xo" + "xb-" + s("0123456789", 12) + "-" + s("0123456789", 12) + "-" + s(ALNUM, 24),
         "slack-token", "slack-bot-token"),
        ("slack-webhook", "hook: https://hooks." + "slack.com/services/T" + s("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 10)
         + "/B" + s("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 10) + "/" + s(ALNUM, 24),
         "slack-webhook-url", "slack-webhook-url"),
        ("stripe", "stripe: sk" + "_live_" + s(ALNUM, 24), "stripe-key", "stripe-access-token"),
        ("google", "maps: AI" + "za" + s(B64URL, 35) + ";", "google-api-key", "gcp-api-key"),
        ("private-key", "-----BEGIN RSA " + "PRIVATE KEY-----\n" + key_body + "\n-----END RSA " + "PRIVATE KEY-----",
         "private-key", "private-key"),
        ("jwt", "bearer: ey" + "J" + s(ALNUM, 30) + ".eyJ" + s(B64URL, 40) + "." + s(B64URL, 43),
         "jwt", "jwt"),
        ("npm", "npm: np" + "m_" + s(ALNUM, 36), "npm-token", "npm-access-token"),
        ("pypi", "pypi: pypi-AgEI" + "cHlwaS5vcmc" + s(B64URL, 60), "pypi-token", "pypi-upload-token"),
        ("sendgrid", "mail: S" + "G." + s(B64URL, 22) + "." + s(B64URL, 43), "sendgrid-api-key", "sendgrid-api-token"),
        ("twilio", "twilio: S" + "K" + s("0123456789abcdef", 32), "twilio-api-key", "twilio-api-key"),
        ("generic", 'db_password = "' + s(NO_VOWELS, 24) + '"', "generic-secret-assignment", "generic-api-key"),
    ]


def plant(files):
    rng = random.Random(20261128)
    candidates = [f for f in files if Path(f).suffix in {".py", ".rs", ".c", ".h", ".md", ".txt", ".js"}
                  and (CORPUS / f).stat().st_size < 200_000]
    chosen = rng.sample(candidates, min(PLANT_COUNT, len(candidates)))
    planted = []
    for i, rel in enumerate(chosen):
        fam = families(rng)[i % 14]
        path = CORPUS / rel
        lines = path.read_bytes().split(b"\n")
        at = rng.randint(0, max(0, len(lines) - 1))
        lines.insert(at, fam[1].encode())
        path.write_bytes(b"\n".join(lines))
        planted.append({"path": rel, "line": at + 1, "family": fam[0], "ours": fam[2], "gitleaks": fam[3]})
    (WORK / "planted.json").write_text(json.dumps(planted, indent=1))
    return planted


def make_subset(files):
    total = 0
    for rel in files:
        if total >= SUBSET_BYTES:
            break
        dst = SUBSET / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / rel, dst)
        total += dst.stat().st_size
    return total


def timed(name, cmd, out_path, cwd=None, ok=(0,), runs=1):
    """Runs cmd `runs` times under /usr/bin/time -v; returns the median wall seconds and the largest peak
    RSS (MB)."""
    walls, rsss, timed_out = [], [], False
    for _ in range(runs):
        start = time.monotonic()
        with open(out_path, "wb") as out, open(str(out_path) + ".time", "wb") as err:
            rc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=out, stderr=err, cwd=cwd).returncode
        walls.append(time.monotonic() - start)
        text = Path(str(out_path) + ".time").read_text(errors="replace")
        if rc not in ok:
            sys.exit(f"{name} failed (exit {rc}):\n{text[-2000:]}")
        rsss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024)
        timed_out = timed_out or rc == 124
    wall, rss = statistics.median(walls), max(rsss)
    note = "  (TIMED OUT: killed, throughput is an upper bound)" if timed_out else ""
    spread = f" (median of {runs}: {min(walls):.2f}-{max(walls):.2f})" if runs > 1 else ""
    print(f"  {name:<32} {wall:8.2f} s  peak RSS {rss:7.1f} MB{spread}{note}", flush=True)
    return {"seconds": wall, "rss_mb": rss, "timed_out": timed_out}


def recall(report_path, planted, key):
    report = json.loads(Path(report_path).read_text())
    found = {(p, l, r) for p, l, r in report["locations"]}
    hits = [x for x in planted if (x["path"], x["line"], x[key]) in found]
    missed = [x for x in planted if x not in hits]
    return len(hits), missed, report


def main():
    t0 = time.monotonic()
    meta = build_corpus()
    corpus_bytes = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    subset_bytes = sum(f.stat().st_size for f in SUBSET.rglob("*") if f.is_file())
    planted = meta["planted"]
    print(f"corpus: {meta['files']} files, {corpus_bytes / 1e6:.1f} MB in {CORPUS} "
          f"({len(planted)} fake secrets planted, list in {WORK / 'planted.json'}; "
          f"prepared in {time.monotonic() - t0:.0f} s)")
    print(f"detect-secrets subset: {subset_bytes / 1e6:.1f} MB in {SUBSET}; threads: {THREADS}")
    # The corpus written out first (a fresh one is still being written back for half a minute, beside the
    # measured runs), then the page cache warmed so every tool reads from memory: every byte read once.
    os.sync()
    subprocess.run(["rg", "-uu", "-c", "--no-unicode", "--max-filesize", "10M", "-F", "certus-bench: no such text",
                    str(CORPUS), str(SUBSET)], stdout=subprocess.DEVNULL)

    results = {}
    rulesets = [("default", [])] + ([("gitleaks", ["--rules", GITLEAKS])] if GITLEAKS else [])
    rg_common = ["rg", "-c", "-uu", "--no-unicode", "-j", THREADS, "--max-filesize", "10M",
                 "--regex-size-limit", "1G", "--dfa-size-limit", "1G"]
    for name, extra in rulesets:
        pat = WORK / f"{name}.patterns"
        compiled = subprocess.run([SCAN, *extra, "--print-patterns"], capture_output=True, text=True, check=True)
        # Same regexes; only escapes of non-special punctuation (`\/`, `\"`), which Go and current Rust
        # regex accept but the older parser in Debian's ripgrep 13 rejects, are dropped.
        pat.write_text(SUPERFLUOUS_ESCAPE.sub(r"\1\2", compiled.stdout))
        print(f"rules: {name} ({sum(1 for _ in open(pat))} regexes)")
        results[f"ours-{name}"] = timed(f"ours ({name} rules)", [SCAN, *extra, "--threads", THREADS, str(CORPUS)],
                                        WORK / f"ours-{name}.json", runs=RUNS)
        # The same scan with decoded-content scanning off: what decoding costs.
        results[f"ours-{name}-depth0"] = timed(f"ours ({name} rules, depth 0)",
                                               [SCAN, *extra, "--max-decode-depth", "0", "--threads", THREADS,
                                                str(CORPUS)], WORK / f"ours-{name}-depth0.json", runs=RUNS)
        # ripgrep, way 1: every regex in one run (`rg -f`), as one would use it; capped at RG_TIMEOUT.
        results[f"rg-{name}"] = timed(f"ripgrep -f ({name} regexes)",
                                      ["timeout", str(RG_TIMEOUT), *rg_common, "-f", str(pat), str(CORPUS)],
                                      WORK / f"rg-{name}.txt", ok=(0, 1, 124), runs=RUNS if name == "default" else 1)
        # ripgrep, way 2: one run per regex, times summed (each regex compiled on its own).
        loop = 'while IFS= read -r p; do "$@" -e "$p" "$CORPUS_DIR"; done < "$PATTERNS"; true'
        results[f"rg-each-{name}"] = timed(f"ripgrep per regex ({name})", ["env", f"CORPUS_DIR={CORPUS}",
                                           f"PATTERNS={pat}", "bash", "-c", loop, "rg", *rg_common],
                                           WORK / f"rg-each-{name}.txt")
    results["ours-default-subset"] = timed("ours (default, subset)", [SCAN, "--threads", THREADS, str(SUBSET)],
                                           WORK / "ours-subset.json")
    results["detect-secrets-subset"] = timed("detect-secrets (subset)", [DETECT_SECRETS, "scan", "--all-files", "-n", "."],
                                             WORK / "detect-secrets.json", cwd=SUBSET)

    mbps = lambda key, size: size / 1e6 / results[key]["seconds"]
    print("\nthroughput (MB/s of corpus):")
    for key in results:
        size = subset_bytes if "subset" in key else corpus_bytes
        results[key]["mb_per_s"] = mbps(key, size)
        print(f"  {key:<32} {results[key]['mb_per_s']:8.1f} MB/s")
    summary = {}
    for name, _ in rulesets:
        for rg in (f"rg-{name}", f"rg-each-{name}"):
            bound = " (rg timed out: lower bound)" if results[rg]["timed_out"] else ""
            summary[f"ours/{rg}{bound}"] = results[f"ours-{name}"]["mb_per_s"] / results[rg]["mb_per_s"]
        summary[f"ours-{name}/ours-{name}-depth0 (decoding on/off)"] = (
            results[f"ours-{name}"]["mb_per_s"] / results[f"ours-{name}-depth0"]["mb_per_s"])
    summary["ours/detect-secrets (subset, both measured)"] = (
        results["ours-default-subset"]["mb_per_s"] / results["detect-secrets-subset"]["mb_per_s"])
    summary["ours full corpus/detect-secrets subset"] = (
        results["ours-default"]["mb_per_s"] / results["detect-secrets-subset"]["mb_per_s"])
    print("\nratios (target: ours/rg >= 0.5, ours/detect-secrets >= 20):")
    for k, v in summary.items():
        print(f"  {k:<60} {v:7.2f}x")

    print("\nrecall of planted secrets (target 100%):")
    for name, _ in rulesets:
        hits, missed, report = recall(WORK / f"ours-{name}.json", planted, "ours" if name == "default" else "gitleaks")
        summary[f"recall {name}"] = hits / len(planted)
        print(f"  {name:<10} {hits}/{len(planted)}  (total findings {report['findings']}, decoded "
              f"{report.get('decoded_findings', 0)}, files {report['files_scanned']}, skipped {report['skipped']})")
        for m in missed:
            print(f"    missed: {m}")
    peak = max(results[k]["rss_mb"] for k in results if k.startswith("ours"))
    print(f"\npeak RSS of our scanner: {peak:.1f} MB (target < 200 MB)")
    (WORK / "results.json").write_text(json.dumps({"results": results, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
