#!/usr/bin/env python3
"""Incremental scan driver, called by run.sh (which installs GNU time and builds `certus` in release).

Builds the scan-large tree afresh under SCAN_WORK (bench/scan-large/scan_large.py's recipe), warms the page
cache, then measures, RUNS times each: a full scan with an empty cache (what the first scan of a tree costs,
and what fills the cache), a `--no-cache` scan, and for each push size (0.1 %, 0.5 %, 1 % of the files) RUNS
different pushes, each followed by an incremental rescan and a `--no-cache` scan of the same tree whose
findings must be identical. A push rewrites files (new inode, as a checkout does), plants secrets in some,
adds and deletes a few. Prints medians (min–max), ratios to the full scan and to the peer that bounds any
directory rescan from below (GNU find printing every file's stat), the cache counts from the bundles and the
load average before and after.

A git source is measured first (INCR_SOURCES, default "directory,git"): the tree committed to a repository
(packed once, as a server's would be, and never by git's automatic housekeeping while the bench runs), each
push a commit, every scan of its `file://` URL; its pushes write new files in the repository and leave the
tree as built. The first scan clones into a kept checkout; a rescan
fetches the push into it. Its peer is plain git bringing a clone of its own up to date with the same push
(`git fetch --depth=1` and `git checkout --force`): what any rescan of a git source must at least do.

INCR_HISTORY=N (default 0) adds a long history to the git part: N more pushes of 0.1 %, each followed by a
rescan of the kept checkout and by the peer, whose git keeps its own housekeeping (`gc --auto`, in the
foreground); prints both series' median, mean and slowest, the packs each repository holds at the end, and
checks the last rescan's findings against a `--no-cache` scan.
"""
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "scan_large", Path(os.environ["SCAN_LARGE_DIR"]) / "scan_large.py")
scan_large = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scan_large)

WORK = scan_large.WORK
TREE = scan_large.TREE
DATA = WORK / "data"
CERTUS = scan_large.CERTUS
MANIFEST = scan_large.MANIFEST
RUNS = int(os.environ.get("INCR_RUNS", "3"))
FRACTIONS = [0.001, 0.005, 0.01]
# Each push: (fraction of the files changed, whether it spares the dependency files).
PUSHES = [(f, False) for f in FRACTIONS] + [(FRACTIONS[-1], True)]
TARGET = 0.05
RNG = random.Random(20261205)
HISTORY = int(os.environ.get("INCR_HISTORY", "0"))
STAGES = {}  # seconds per stage, by kind of scan


REPO = WORK / "repo"
SOURCES = os.environ.get("INCR_SOURCES", "directory,git").split(",")


def scan(label, no_cache=False, source=None):
    out = WORK / f"bundle-{label}"
    shutil.rmtree(out, ignore_errors=True)
    argv = [CERTUS, "scan", source or str(TREE), "--manifest", MANIFEST, "--profile", "builtin",
            "--out", str(out), "--data-dir", str(DATA), "--json"]
    if no_cache:
        argv.append("--no-cache")
    code, wall, cpu, rss, stderr = scan_large.gnu_time(argv)
    if code not in (0, 1):
        sys.exit(f"certus scan failed (exit {code}): {stderr.decode(errors='replace')[-2000:]}")
    findings = findings_of(out)
    STAGES.setdefault(label.rsplit("-", 1)[0], []).append(scan_large.stage_times(out / "stream.jsonl", wall))
    summary = json.loads((out / "summary.json").read_text())
    cache = {t["id"]: t.get("cache") for t in summary["tools"]}
    shutil.rmtree(out, ignore_errors=True)
    return wall, cpu, rss, findings, cache


def findings_of(bundle):
    """Every finding's tool, rule, location, column and fingerprint, sorted."""
    sarif = json.loads((bundle / "reports/sast/merged.sarif.json").read_text())
    keys = []
    for run in sarif["runs"]:
        tool = run["tool"]["driver"]["name"]
        for r in run.get("results", []):
            loc = r["locations"][0]["physicalLocation"] if r.get("locations") else {}
            region = loc.get("region", {})
            keys.append((tool, r.get("ruleId"), loc.get("artifactLocation", {}).get("uri"),
                         region.get("startLine"), region.get("endLine"),
                         r.get("properties", {}).get("column"),
                         json.dumps(r.get("partialFingerprints"), sort_keys=True)))
    return sorted(keys, key=repr)


def files_of_tree(root=TREE):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            dirnames.remove(".git")
        out.extend(os.path.join(dirpath, f) for f in filenames)
    out.sort()
    return out


# Files the sbom tool reads (lockfiles, and what it reads beside them): a push that spares them is the common
# case of a change to code only.
DEPENDENCY_FILES = {"Cargo.lock", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
                    "poetry.lock", "Pipfile.lock", "go.sum", "go.mod", "pyproject.toml", "composer.lock",
                    "Gemfile.lock"}


def is_dependency_file(path):
    name = os.path.basename(path)
    return name in DEPENDENCY_FILES or (name.startswith("requirements") and name.endswith(".txt"))


def push(fraction, step, code_only=False, root=TREE):
    """Changes `fraction` of the files: mostly rewrites (some with a planted secret), a few additions and
    deletions; `code_only` leaves dependency files alone. Every write goes to a new inode, so hard-linked
    originals are never modified."""
    files = files_of_tree(root)
    if code_only:
        files = [f for f in files if not is_dependency_file(f)]
    count = max(1, int(len(files) * fraction))
    chosen = RNG.sample(files, count)
    for n, path in enumerate(chosen):
        kind = n % 10
        if kind == 0:
            os.remove(path)
            continue
        try:
            data = Path(path).read_bytes()
        except OSError:
            data = b""
        extra = f"\n# push {step} change {n}\n".encode()
        if kind == 1:
            tail = "".join(RNG.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
            extra += f'aws_access_key_id = "{"AK" + "IA"}{tail}"\n'.encode()
        staged = path + ".push-staged"
        with open(staged, "wb") as f:
            f.write(data + extra)
        os.replace(staged, path)
        if kind == 2:
            Path(path + f".added-{step}").write_bytes(extra)
    return count


def med(values):
    return statistics.median(values), min(values), max(values)


def fmt(stat):
    return f"{stat[0]:.2f} ({stat[1]:.2f}–{stat[2]:.2f})"


def git(*args, cwd=REPO):
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
                   cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def timed(*commands):
    """Wall seconds of running `commands` (argv lists) one after the other."""
    start = time.monotonic()
    for argv in commands:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def stage_table(prefix):
    """Seconds per stage (median), for the full scans, the --no-cache scans and the rescans after a 1 % push,
    of the scans whose labels start with `prefix`."""
    print("\n| stage (from stream.jsonl timestamps), s median | full, empty cache | --no-cache | rescan after 1 % "
          "| rescan after 1 % of code only |")
    print("|---|---|---|---|---|")
    kinds = [prefix + kind for kind in ("full", "nocache", f"inc-{FRACTIONS[-1]}", f"inc-{FRACTIONS[-1]}-code")]
    for label in STAGES[kinds[0]][0]:
        cells = []
        for kind in kinds:
            values = [s[label] for s in STAGES.get(kind, []) if label in s]
            cells.append(f"{statistics.median(values):.3f}" if values else "–")
        print(f"| {label} | " + " | ".join(cells) + " |")


def table_head(full, no_cache, full_label, no_cache_label):
    """A results table's header, its full-scan row and its --no-cache row; returns the full scan's median."""
    full_med = statistics.median(full)
    print("| scan | files changed | wall s median (min–max) | vs full scan |")
    print("|---|---|---|---|")
    print(f"| {full_label} | all | {fmt(med(full))} | 1.00 |")
    print(f"| {no_cache_label} | all | {fmt(med(no_cache))} | {statistics.median(no_cache) / full_med:.3f} |")
    return full_med


def rescan_row(fraction, code_only, counts, walls, full_med, peer_med, peer):
    """Prints the row of the rescans after one kind of push, with their ratio to the full scan and to their peer
    (median `peer_med`); returns the ratio to the full scan."""
    ratio = statistics.median(walls) / full_med
    what = " of code only (no dependency file)" if code_only else ""
    print(f"| rescan after a {fraction:.1%} push{what} | {statistics.median(counts):.0f} | {fmt(med(walls))} "
          f"| {ratio:.3f} ({statistics.median(walls) / peer_med:.2f}× {peer}) |")
    return ratio


def verdict(worst, mismatches, of):
    """Prints whether the findings always agreed and the target was met (against `of`); returns both."""
    print(f"\nfindings identical to --no-cache after every push: {'yes' if mismatches == 0 else f'NO ({mismatches})'}")
    print(f"target ≤ {TARGET:.0%} of {of}: {'met' if worst <= TARGET else 'MISSED'} (worst median ratio {worst:.3f})")
    return worst <= TARGET and mismatches == 0


def git_bench():
    """The git source: full scans (an empty data directory) against rescans of a kept checkout after each
    push, each checked against a `--no-cache` scan (a fresh clone) of the same commit. Returns whether the
    target was met and the findings always agreed."""
    shutil.rmtree(REPO, ignore_errors=True)
    shutil.copytree(TREE, REPO, copy_function=os.link)
    git("init", "-q", "-b", "main")
    # The upstream stands for a server, whose repository is packed by its own maintenance, never by ours and
    # never while we measure: git's automatic housekeeping is off, and the base commit is packed once here (a
    # `gc --auto` after a commit of 110,000 loose objects would pack them in the background, slowing whichever
    # scans happen to run beside it).
    git("config", "gc.auto", "0")
    git("config", "maintenance.auto", "false")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("gc", "--quiet")
    url = f"file://{REPO}"
    peer = WORK / "peer-clone"
    shutil.rmtree(peer, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", "--no-local", "--depth=1", url, str(peer)], check=True)
    full, no_cache = [], []
    for run_no in range(RUNS):
        for kept in ("cache", "checkouts"):
            shutil.rmtree(DATA / kept, ignore_errors=True)
        wall, _, _, full_findings, _ = scan(f"gitfull-{run_no}", source=url)
        full.append(wall)
        wall, _, _, nc_findings, _ = scan(f"gitnocache-{run_no}", no_cache=True, source=url)
        no_cache.append(wall)
        if nc_findings != full_findings:
            sys.exit("a full scan and a --no-cache scan of the same commit differ")
    rows, mismatches = [], 0
    for fraction, code_only in PUSHES:
        walls, peers, counts = [], [], []
        kind = f"{fraction}-code" if code_only else f"{fraction}"
        for run_no in range(RUNS):
            counts.append(push(fraction, f"git-{kind}-{run_no}", code_only, root=REPO))
            git("add", "-A")
            git("commit", "-q", "-m", f"push {kind} {run_no}")
            wall, _, _, inc_findings, _ = scan(f"gitinc-{kind}-{run_no}", source=url)
            walls.append(wall)
            peers.append(timed(["git", "-C", str(peer), "fetch", "-q", "--depth=1", "origin", "main"],
                               ["git", "-C", str(peer), "checkout", "-q", "--force", "FETCH_HEAD"]))
            _, _, _, nc_findings, _ = scan(f"gitcheck-{kind}-{run_no}", no_cache=True, source=url)
            if inc_findings != nc_findings:
                mismatches += 1
                print(f"MISMATCH after a {fraction:.1%} git push: {len(inc_findings)} vs {len(nc_findings)}")
        rows.append((fraction, code_only, counts, walls, peers))
    print(f"\nGit source ({url}), {RUNS} runs each; the first scan clones into a kept checkout\n")
    full_med = table_head(full, no_cache, "full scan, empty data directory", "--no-cache (fresh clone)")
    worst = 0.0
    for fraction, code_only, counts, walls, peers in rows:
        peer_med = statistics.median(peers)
        worst = max(worst, rescan_row(fraction, code_only, counts, walls, full_med, peer_med, "the peer"))
        print(f"| peer: git fetch + checkout of that push | | {fmt(med(peers))} | {peer_med / full_med:.3f} |")
    stage_table("git")
    if HISTORY:
        mismatches += history(url, peer)
    return verdict(worst, mismatches, "the full git scan")


def packs(git_dir):
    return len(list(Path(git_dir, "objects", "pack").glob("*.pack")))


def history(url, peer):
    """HISTORY pushes of 0.1 %, a rescan and the peer after each; returns 1 if the last rescan's findings
    differ from a `--no-cache` scan's, else 0."""
    walls, peers = [], []
    for step in range(HISTORY):
        push(0.001, f"git-history-{step}", root=REPO)
        git("add", "-A")
        git("commit", "-q", "-m", f"history {step}")
        wall, _, _, inc_findings, _ = scan(f"githist-{step}", source=url)
        walls.append(wall)
        peers.append(timed(["git", "-C", str(peer), "-c", "gc.autoDetach=false", "fetch", "-q", "--depth=1",
                            "origin", "main"],
                           ["git", "-C", str(peer), "checkout", "-q", "--force", "FETCH_HEAD"]))
    _, _, _, nc_findings, _ = scan("githist-check", no_cache=True, source=url)
    kept = [packs(d / "repo.git") for d in (DATA / "checkouts").iterdir() if (d / "repo.git").is_dir()]
    print(f"\nA history of {HISTORY} pushes of 0.1 %, a rescan of the kept checkout after each\n")
    print("| | median s | mean s | slowest s | packs at the end |")
    print("|---|---|---|---|---|")
    for name, series, count in (("rescan", walls, kept), ("peer: git fetch + checkout, git's housekeeping on",
                                                          peers, [packs(peer / ".git")])):
        print(f"| {name} | {statistics.median(series):.2f} | {statistics.mean(series):.2f} | {max(series):.2f} "
              f"| {', '.join(map(str, count))} |")
    print(f"rescan ÷ peer, means: {statistics.mean(walls) / statistics.mean(peers):.2f}×")
    same = inc_findings == nc_findings
    print(f"the last rescan's findings equal a --no-cache scan's: {'yes' if same else 'NO'}")
    return 0 if same else 1


def main():
    # A tree an earlier run pushed to is assembled afresh; an untouched one is reused.
    if (WORK / "pushed").exists():
        shutil.rmtree(TREE, ignore_errors=True)
        (WORK / "tree.json").unlink(missing_ok=True)
        (WORK / "pushed").unlink()
    meta = scan_large.build_tree()
    print(f"tree: {TREE} — {meta['files']} files, {meta['bytes'] / 1e9:.2f} GB")
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}")
    met = True
    # The git repository is committed from the tree as built; its pushes write new files in the repository
    # and leave the tree as it was, which the directory part then pushes to.
    if "git" in SOURCES:
        met = git_bench() and met
    if "directory" in SOURCES:
        met = directory_bench() and met
    return 0 if met else 1


def directory_bench():
    """The directory source: full scans (an empty cache) against rescans after each push, each checked against a
    `--no-cache` scan of the same tree. Returns whether the target was met and the findings always agreed."""
    os.system(f"cd '{TREE}' && find . -type f -print0 | xargs -0 cat > /dev/null")
    # The peer every directory rescan is held to: one walk that reads every directory entry and `stat`s every
    # file (GNU find, one core), printing what a rescan compares; nothing is read.
    stat_floor = [scan_large.gnu_time(["find", str(TREE), "-type", "f", "-printf", "%p %s %T@ %C@ %i\\n"])[1]
                  for _ in range(RUNS)]
    full, no_cache = [], []
    for run_no in range(RUNS):
        shutil.rmtree(DATA / "cache", ignore_errors=True)
        wall, _, _, full_findings, _ = scan(f"full-{run_no}")
        full.append(wall)
        wall, _, _, nc_findings, _ = scan(f"nocache-{run_no}", no_cache=True)
        no_cache.append(wall)
        if nc_findings != full_findings:
            sys.exit("a full scan and a --no-cache scan of the same tree differ")
    # The cache now holds the last full scan's results.
    (WORK / "pushed").touch()
    rows, mismatches, rss = [], 0, []
    for fraction, code_only in PUSHES:
        walls, counts, caches = [], [], []
        kind = f"{fraction}-code" if code_only else f"{fraction}"
        for run_no in range(RUNS):
            counts.append(push(fraction, f"{kind}-{run_no}", code_only))
            wall, _, peak, inc_findings, cache = scan(f"inc-{kind}-{run_no}")
            walls.append(wall)
            rss.append(peak)
            caches.append((cache.get("secrets"), cache.get("sbom")))
            _, _, _, nc_findings, _ = scan(f"check-{kind}-{run_no}", no_cache=True)
            if inc_findings != nc_findings:
                mismatches += 1
                print(f"MISMATCH after a {fraction:.1%} push: {len(inc_findings)} vs {len(nc_findings)} findings")
            # The --no-cache check wrote no cache: the next push's rescan starts from this rescan's index.
        rows.append((fraction, code_only, counts, walls, caches))
    print(f"\nIncremental scans, {RUNS} runs each, warm page cache; profile 'builtin' (secrets + sbom)")
    print(f"target: a rescan after a push changing ≤ 1 % of the files ≤ {TARGET:.0%} of the full scan\n")
    full_med = table_head(full, no_cache, "full scan, empty cache", "--no-cache")
    floor_med = statistics.median(stat_floor)
    print(f"| `find -printf` of every file's stat (peer: the floor of any directory rescan) | none | "
          f"{fmt(med(stat_floor))} | {floor_med / full_med:.3f} |")
    worst = max(rescan_row(fraction, code_only, counts, walls, full_med, floor_med, "the find floor")
                for fraction, code_only, counts, walls, _ in rows)
    for at, tool in enumerate(["secrets", "sbom (lockfiles)"]):
        print(f"\n{tool} cache use per rescan (files from the cache / scanned):")
        for fraction, code_only, _, _, caches in rows:
            print(f"  {fraction:.1%}{' code only' if code_only else ''}: " + ", ".join(
                f"{c[at]['from_cache']}/{c[at]['scanned']}" if c[at] else "none" for c in caches))
    stage_table("")
    print(f"\npeak RSS of the rescans: {statistics.median(rss):.0f} MB (median)")
    print(f"load average after: {os.getloadavg()}")
    return verdict(worst, mismatches, "the full directory scan")


if __name__ == "__main__":
    sys.exit(main())
