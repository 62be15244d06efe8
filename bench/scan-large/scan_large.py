#!/usr/bin/env python3
"""End-to-end scan driver, called by run.sh (which installs GNU time and builds `certus` in release).

Assembles once a large real tree (hard links, or copies across file systems, of the cargo registry sources,
Python's standard library, /usr/share and /usr/lib) under SCAN_WORK, then runs on it, warm cache, RUNS times
each, interleaved: `certus scan` with the built-in scanners (secrets + sbom), and the floors
`find | xargs cat`, `find | xargs sha256sum` and issue #21's two-core `openssl dgst -sha256` (and, for
context only, the same with OpenSSL kept off the CPU's SHA extensions). Prints wall time, CPU time (user+sys)
and peak RSS (GNU time %e %U %S %M) as median (min–max) with ratios to the floors, then the time per stage
read from each run's bundle `stream.jsonl`.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
from datetime import datetime
from pathlib import Path

WORK = Path(os.environ["SCAN_WORK"])
TREE = WORK / "tree"
CERTUS = os.environ["CERTUS_BIN"]
MANIFEST = os.environ["SCAN_MANIFEST"]
PROFILE = os.environ.get("SCAN_PROFILE", "builtin")
RUNS = int(os.environ.get("SCAN_RUNS", "3"))
MIN_FILES = int(os.environ.get("SCAN_MIN_FILES", "110000"))
MIN_BYTES = int(float(os.environ.get("SCAN_MIN_GB", "1.2")) * 1e9)
MAX_FILE_BYTES = 64 * 1024 * 1024
TREE_VERSION = 1  # bump when the tree's recipe changes
FLOOR_TARGET = 3.0
OPENSSL_TARGET = 1.5  # issue #21: a full scan within 1.5x the two-core `openssl dgst -sha256` floor
OPENSSL_FLOOR = "find . -type f -print0 | xargs -0 -P2 -n 2000 openssl dgst -sha256 > /dev/null"
OPENSSL_NO_SHA_EXT = "find | xargs -P2 openssl dgst, SHA extensions off"
RSS_TARGET_MB = 300


def sources():
    home = Path.home()
    yield "cargo", home / ".cargo/registry/src"
    yield "pystdlib", Path(sysconfig.get_paths()["stdlib"])
    yield "share", Path("/usr/share")
    yield "lib", Path("/usr/lib")


def build_tree():
    stamp = WORK / "tree.json"
    if stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("version") == TREE_VERSION and meta["files"] >= MIN_FILES and meta["bytes"] >= MIN_BYTES:
            return meta
    shutil.rmtree(TREE, ignore_errors=True)
    TREE.mkdir(parents=True)
    files = total = linked = 0
    for name, root in sources():
        if files >= MIN_FILES and total >= MIN_BYTES:
            break
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if files >= MIN_FILES and total >= MIN_BYTES:
                break
            rel_dir = os.path.relpath(dirpath, root)
            for fname in sorted(filenames):
                src = Path(dirpath) / fname
                try:
                    st = src.lstat()
                except OSError:
                    continue
                # Regular, readable, not huge files only: links and devices are not what a repository holds.
                if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > MAX_FILE_BYTES or not os.access(src, os.R_OK):
                    continue
                dst = TREE / name / rel_dir / fname
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, dst)
                    linked += 1
                except OSError:
                    try:
                        shutil.copyfile(src, dst)
                    except OSError:
                        continue
                files += 1
                total += st.st_size
    meta = {"version": TREE_VERSION, "files": files, "bytes": total, "hard_links": linked}
    stamp.write_text(json.dumps(meta))
    return meta


def sha_extensions():
    """Whether the CPU has the SHA extensions (`sha_ni`), which OpenSSL and the scan's SHA-256 both use."""
    try:
        return " sha_ni" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def gnu_time(argv, cwd=None):
    """Runs argv under GNU time; returns (exit code, wall s, cpu s, peak RSS MiB)."""
    out = WORK / "time.txt"
    proc = subprocess.run(["/usr/bin/time", "-o", str(out), "-f", "%e %U %S %M", *argv],
                          cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall, user, system, rss_kb = out.read_text().split()[-4:]
    return proc.returncode, float(wall), float(user) + float(system), int(rss_kb) / 1024, proc.stderr


def stage_times(stream: Path, wall: float):
    """Seconds per stage of the pipeline, from the event timestamps: source preparation (the tree digest, and
    the single pass of the secrets tool when the manifest comes from outside the source and is read first),
    everything else before the tools (manifest fetch/verify/profile, before or after the source), the tools
    (they run in parallel: wall from the first tool_start to the last tool_complete, and each tool's own
    start → complete), the verdict, and what the process spends outside the events (start-up; the bundle index
    and attestation, written after scan_complete; exit)."""
    events = [json.loads(line) for line in stream.read_text().splitlines() if line.strip()]
    events = [e for e in events if e["type"] != "log"]
    stamp = lambda e: datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
    first, last = stamp(events[0]), stamp(events[-1])
    phases = [e for e in events if e["type"] == "phase"]
    preparing = next(stamp(e) for e in phases if e["message"].startswith("preparing"))
    prepared = next(stamp(e) for e in phases if e["message"] == "source ready")
    running = next(stamp(e) for e in phases if e["message"].startswith("running"))
    tool_starts = {e["tool"]: stamp(e) for e in events if e["type"] == "tool_start"}
    tool_ends = {e["tool"]: stamp(e) for e in events if e["type"] == "tool_complete"}
    tools_done = max(tool_ends.values(), default=running)
    stages = {
        "source preparation (tree digest; secrets single pass)": prepared - preparing,
        "manifest fetch, verification, profile": running - first - (prepared - preparing),
        "tools, wall (parallel)": tools_done - running,
    }
    for tool in sorted(tool_starts):
        if tool in tool_ends:
            stages[f"  tool {tool} (start → complete)"] = tool_ends[tool] - tool_starts[tool]
    stages["last tool → scan_complete (verdict, report)"] = last - tools_done
    stages["outside events: start-up; bundle index, attestation, exit"] = wall - (last - first)
    return stages


def scan_once(run_no):
    out = WORK / f"bundle-{run_no}"
    data = WORK / "data"
    shutil.rmtree(out, ignore_errors=True)
    # A full scan: no result of an earlier run may be reused (bench/incremental measures rescans).
    shutil.rmtree(data / "cache", ignore_errors=True)
    code, wall, cpu, rss, stderr = gnu_time([
        CERTUS, "scan", str(TREE), "--manifest", MANIFEST, "--profile", PROFILE,
        "--out", str(out), "--data-dir", str(data), "--json",
    ])
    if code not in (0, 1):
        sys.exit(f"certus scan failed (exit {code}): {stderr.decode(errors='replace')[-2000:]}")
    stages = stage_times(out / "stream.jsonl", wall)
    bundle_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out, ignore_errors=True)
    return wall, cpu, rss, stages, bundle_bytes


def med(values):
    return statistics.median(values), min(values), max(values)


def fmt(stat, digits=2):
    return f"{stat[0]:.{digits}f} ({stat[1]:.{digits}f}–{stat[2]:.{digits}f})"


def main():
    meta = build_tree()
    print(f"tree: {TREE} — {meta['files']} files, {meta['bytes'] / 1e9:.2f} GB ({meta['hard_links']} hard links)")
    floors = {
        "find | xargs cat": f"find . -type f -print0 | xargs -0 cat > /dev/null",
        "find | xargs sha256sum": f"find . -type f -print0 | xargs -0 sha256sum > /dev/null",
        # Issue #21's floor: OpenSSL's SHA-256 on both cores.
        "find | xargs -P2 openssl dgst": OPENSSL_FLOOR,
        # Context, not a target: the same floor with OpenSSL told not to use the CPU's SHA extensions, as on
        # the machine issue #21 was measured on (one core 2.27 s, two 1.20 s for 1.30 GB).
        OPENSSL_NO_SHA_EXT: OPENSSL_FLOOR.replace("| xargs", "| OPENSSL_ia32cap=':~0x20000000' xargs"),
    }
    # Warm the page cache (and the dentry cache) with one untimed pass.
    subprocess.run(["sh", "-c", floors["find | xargs cat"]], cwd=TREE, check=True)
    results = {name: {"wall": [], "cpu": [], "rss": []} for name in [*floors, "certus scan"]}
    all_stages, bundle_sizes = [], []
    for run_no in range(RUNS):
        for name, command in floors.items():
            _, wall, cpu, rss, _ = gnu_time(["sh", "-c", command], cwd=TREE)
            for key, value in (("wall", wall), ("cpu", cpu), ("rss", rss)):
                results[name][key].append(value)
        wall, cpu, rss, stages, bundle_bytes = scan_once(run_no)
        for key, value in (("wall", wall), ("cpu", cpu), ("rss", rss)):
            results["certus scan"][key].append(value)
        all_stages.append(stages)
        bundle_sizes.append(bundle_bytes)

    floor = statistics.median(results["find | xargs sha256sum"]["wall"])
    cat_floor = statistics.median(results["find | xargs cat"]["wall"])
    print(f"\nEnd-to-end scan, {RUNS} runs each, interleaved, warm cache; profile '{PROFILE}' (secrets + sbom)")
    print(f"targets: certus scan wall ≤ {FLOOR_TARGET:.0f}× the sha256sum floor, peak RSS < {RSS_TARGET_MB} MB\n")
    openssl_floor = statistics.median(results["find | xargs -P2 openssl dgst"]["wall"])
    print("| command | wall s median (min–max) | CPU s (user+sys) | peak RSS MB | wall vs sha256sum floor | wall vs cat floor | wall vs two-core openssl |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        wall = med(r["wall"])
        print(f"| {name} | {fmt(wall)} | {fmt(med(r['cpu']))} | {fmt(med(r['rss']), 1)} | "
              f"{wall[0] / floor:.2f}× | {wall[0] / cat_floor:.2f}× | {wall[0] / openssl_floor:.2f}× |")
    scan = results["certus scan"]
    ratio = statistics.median(scan["wall"]) / floor
    rss = statistics.median(scan["rss"])
    print(f"\nthroughput: certus scan {meta['bytes'] / 1e6 / statistics.median(scan['wall']):.0f} MB/s, "
          f"sha256sum floor {meta['bytes'] / 1e6 / floor:.0f} MB/s; bundle {statistics.median(bundle_sizes) / 1e6:.1f} MB")
    openssl = statistics.median(results["find | xargs -P2 openssl dgst"]["wall"])
    openssl_ratio = statistics.median(scan["wall"]) / openssl
    print(f"targets: within {FLOOR_TARGET:.0f}× of the floor: {'met' if ratio <= FLOOR_TARGET else 'MISSED'} ({ratio:.2f}×); "
          f"peak RSS < {RSS_TARGET_MB} MB: {'met' if rss < RSS_TARGET_MB else 'MISSED'} ({rss:.0f} MB)")
    print(f"issue #21: within {OPENSSL_TARGET}× of the two-core openssl floor ({openssl:.2f} s): "
          f"{'met' if openssl_ratio <= OPENSSL_TARGET else 'MISSED'} ({openssl_ratio:.2f}×)")
    no_ext = statistics.median(results[OPENSSL_NO_SHA_EXT]["wall"])
    print(f"context: this CPU {'has' if sha_extensions() else 'lacks'} the SHA extensions; OpenSSL kept off "
          f"them takes {no_ext:.2f} s ({no_ext / openssl:.2f}× the floor above). The target was set on a machine "
          f"without them, where the scan's own SHA-256 is as much slower as OpenSSL's")

    print("\n| stage (from stream.jsonl timestamps) | s median (min–max) |")
    print("|---|---|")
    labels = [label for label in all_stages[0] if all(label in s for s in all_stages)]
    for label in labels:
        print(f"| {label} | {fmt(med([s[label] for s in all_stages]))} |")
    return 0 if ratio <= FLOOR_TARGET and rss < RSS_TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
