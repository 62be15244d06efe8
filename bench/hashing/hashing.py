#!/usr/bin/env python3
"""Hashing and streaming driver, called by run.sh (which installs the tools, builds the bench binary and
starts moto).

Throughput: hyperfine times the project's digesting (certus-bench-hashing `file` = digest::sha256_file,
`index` = bundle::compute_index) against sha256sum on the same data, warm cache. Memory: GNU time's %M while
hashing the 2 GiB file and while uploading it as a bundle file through S3ArtifactStore to moto.
"""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORK = Path(os.environ["HASH_WORK"])
BIN = os.environ["BENCH_BIN"]
ENDPOINT = os.environ["CERTUS_MOTO_ENDPOINT"]
RUNS = int(os.environ.get("HASH_RUNS", "5"))
UPLOAD_RUNS = int(os.environ.get("UPLOAD_RUNS", "3"))
BIG = WORK / "big.bin"
BIG_BYTES = 2 * 1024**3
FILES = WORK / "bundle-like"
# A bundle-like mix: a few large reports, many small ones.
FILE_MIX = [(64, 8 * 1024**2), (512, 64 * 1024), (1024, 4 * 1024)]
THROUGHPUT_TARGET = 0.90
RSS_TARGET_MB = 64


def make_data():
    if not BIG.exists() or BIG.stat().st_size != BIG_BYTES:
        subprocess.run(["sh", "-c", f"head -c {BIG_BYTES} /dev/urandom > '{BIG}.part' && mv '{BIG}.part' '{BIG}'"], check=True)
    stamp = FILES / ".complete"
    if not stamp.exists():
        FILES.mkdir(parents=True, exist_ok=True)
        with open("/dev/urandom", "rb") as rnd:
            for count, size in FILE_MIX:
                for i in range(count):
                    (FILES / f"f{size}-{i:04}.bin").write_bytes(rnd.read(size))
        stamp.write_text("")
    files = [p for p in FILES.iterdir() if p.name != ".complete"]
    return len(files), sum(p.stat().st_size for p in files)


def hyperfine(name, commands):
    out = WORK / f"hyperfine-{name}.json"
    argv = ["hyperfine", "--style", "none", "--warmup", "1", "--runs", str(RUNS), "--export-json", str(out)]
    for label, command in commands:
        argv += ["--command-name", label, command]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return {r["command"]: r["times"] for r in json.loads(out.read_text())["results"]}


def peak_rss_mb(argv, runs):
    values = []
    for _ in range(runs):
        out = WORK / "time.txt"
        proc = subprocess.run(["/usr/bin/time", "-o", str(out), "-f", "%M %e", *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed: {proc.stderr.decode(errors='replace')[-1500:]}")
        rss_kb, wall = out.read_text().split()[-2:]
        values.append((int(rss_kb) / 1024, float(wall)))
    return values


def stat(values):
    return statistics.median(values), min(values), max(values)


def main():
    count, total = make_data()
    print(f"data: {BIG} ({BIG_BYTES / 1e9:.2f} GB), {FILES} ({count} files, {total / 1e6:.0f} MB); {RUNS} runs, warm cache")
    rows, met = [], True
    cases = [
        ("2 GiB file", BIG_BYTES, [
            ("sha256sum", f"sha256sum '{BIG}'"),
            ("digest::sha256_file", f"'{BIN}' file '{BIG}'"),
        ]),
        (f"{count} bundle-like files", total, [
            ("sha256sum", f"find '{FILES}' -type f -name '*.bin' -print0 | xargs -0 sha256sum"),
            ("bundle::compute_index", f"'{BIN}' index '{FILES}'"),
        ]),
    ]
    print("\n| data | command | s median (min–max) | MB/s (median) | throughput vs sha256sum | target ≥ 90% |")
    print("|---|---|---|---|---|---|")
    for name, size, commands in cases:
        times = hyperfine(name.split()[0], commands)
        base = statistics.median(times["sha256sum"])
        for label, _ in commands:
            med, lo, hi = stat(times[label])
            ratio = base / med
            verdict = "(baseline)" if label == "sha256sum" else ("met" if ratio >= THROUGHPUT_TARGET else "MISSED")
            met &= verdict != "MISSED"
            print(f"| {name} | {label} | {med:.3f} ({lo:.3f}–{hi:.3f}) | {size / 1e6 / med:.0f} | {ratio * 100:.0f}% | {verdict} |")

    upload_dir = WORK / "upload-bundle"
    upload_dir.mkdir(exist_ok=True)
    artifact = upload_dir / "artifact.bin"
    if not artifact.exists():
        os.link(BIG, artifact)
    memory = [
        ("sha256sum, 2 GiB file", ["sha256sum", str(BIG)], RUNS),
        ("digest::sha256_file, 2 GiB file", [BIN, "file", str(BIG)], RUNS),
        ("S3ArtifactStore::store_bundle, 2 GiB file → moto (index, local check, PUT)",
         [BIN, "upload", str(upload_dir), "s3://certus-bench-hashing/bundles", ENDPOINT], UPLOAD_RUNS),
    ]
    print(f"\n| peak RSS while | runs | peak RSS MB median (min–max) | wall s median | target < {RSS_TARGET_MB} MB |")
    print("|---|---|---|---|---|")
    for label, argv, runs in memory:
        values = peak_rss_mb(argv, runs)
        rss = stat([v[0] for v in values])
        wall = statistics.median(v[1] for v in values)
        verdict = "(reference)" if label.startswith("sha256sum") else ("met" if rss[0] < RSS_TARGET_MB else "MISSED")
        met &= verdict != "MISSED"
        print(f"| {label} | {runs} | {rss[0]:.1f} ({rss[1]:.1f}–{rss[2]:.1f}) | {wall:.2f} | {verdict} |")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
