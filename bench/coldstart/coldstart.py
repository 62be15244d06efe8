#!/usr/bin/env python3
"""Cold-start driver, called by run.sh (which builds the binaries and the Python venv).

For each subject (a Lambda binary or the Python baseline) and each run: start a one-shot Lambda Runtime API
stand-in on loopback, exec the subject with the Lambda environment, record the time from just before exec to
its first `GET /2018-06-01/runtime/invocation/next`, answer one invocation, accept its response (or error),
wait for it to ask for the next one, read its peak RSS (VmHWM of /proc/<pid>/status: the high-water mark
of the process's own image), then kill it. Runs are interleaved across subjects; one warm-up run per subject is dropped.

Usage: coldstart.py --runs N --baseline NAME --subject NAME=BINARY ... --python NAME=PYTHON:SCRIPT[:VAR=VALUE]
"""
import argparse
import hashlib
import http.server
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

NEXT = "/2018-06-01/runtime/invocation/next"
INVOCATION = "/2018-06-01/runtime/invocation/"
INIT_ERROR = "/2018-06-01/runtime/init/error"
REQUEST_ID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
INIT_TARGET_MS = 20.0
RSS_TARGET_MB = 30.0
SPEEDUP_TARGET = 10.0


class Run:
    """What the stand-in saw during one run."""

    def __init__(self, event: bytes):
        self.event = event
        self.first_next_ns = None
        self.outcome = None  # "response" | "error" | "init-error"
        self.outcome_body = b""
        self.answered = threading.Event()
        self.asked_again = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()


def make_handler(run: Run):
    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            now = time.monotonic_ns()
            if self.path != NEXT:
                self.send_error(404)
                return
            with run.lock:
                first = run.first_next_ns is None
                if first:
                    run.first_next_ns = now
            if not first:
                # The runtime looped back for a second invocation: the run is over, never answer it.
                run.asked_again.set()
                run.done.wait(30)
                return
            deadline_ms = int(time.time() * 1000) + 60_000
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(run.event)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", REQUEST_ID)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:certus-bench",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
            self.end_headers()
            self.wfile.write(run.event)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == INIT_ERROR:
                outcome = "init-error"
            elif self.path == INVOCATION + REQUEST_ID + "/response":
                outcome = "response"
            elif self.path == INVOCATION + REQUEST_ID + "/error":
                outcome = "error"
            else:
                self.send_error(404)
                return
            run.outcome, run.outcome_body = outcome, body[:300]
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            run.answered.set()

    return RuntimeApi


def vm_hwm_kb(pid):
    """The process's own peak RSS. Not wait4's ru_maxrss: Linux carries the RSS of the image replaced by exec
    into it, so a child forked from this Python process would report at least the harness's own size."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def one_run(argv, env, event, answer_timeout):
    """Returns (init_ms or None, peak RSS in KiB, outcome, note)."""
    run = Run(event)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(run))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    stderr = tempfile.TemporaryFile()
    start = time.monotonic_ns()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    note = ""
    reaped = None
    peak_kb = None
    try:
        deadline = time.monotonic() + answer_timeout
        while not run.answered.wait(0.005):
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                reaped = (status, usage)
                break
            if time.monotonic() > deadline:
                note = f"no answer within {answer_timeout}s"
                break
        if run.answered.is_set():
            # Give the runtime the chance to loop back, which proves it survived the invocation.
            run.asked_again.wait(2)
    finally:
        if reaped is None:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if not pid:
                peak_kb = vm_hwm_kb(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
            else:
                reaped = (status, usage)
        else:
            status, usage = reaped
        proc.returncode = status
        run.done.set()
        server.shutdown()
        server.server_close()
    if reaped is not None:
        stderr.seek(0)
        tail = stderr.read()[-400:].decode(errors="replace").strip().replace("\n", " | ")
        note = f"exited by itself (wait status {status}): {tail}"
    stderr.close()
    init_ms = None if run.first_next_ns is None else (run.first_next_ns - start) / 1e6
    if run.outcome in ("error", "init-error") and not note:
        note = run.outcome_body.decode(errors="replace")[:160]
    return init_ms, peak_kb, run.outcome, note


def lambda_env(name, extra):
    home = tempfile.mkdtemp(prefix="certus-coldstart-home-")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": home,
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.path.join(home, "absent-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "absent-credentials"),
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": "/var/task",
    }
    env.update(extra)
    return env


def template_variables(template: Path):
    """Names of every `Environment: Variables:` entry of a SAM template, read without a YAML library (CFN tags
    such as !Ref would need custom constructors): indentation tells which keys belong to a Variables block."""
    names = set()
    if not template.is_file():
        return names
    block_indent = None
    for line in template.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if block_indent is not None:
            if indent > block_indent:
                match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*:", stripped)
                if match:
                    names.add(match.group(1))
                continue
            block_indent = None
        if stripped == "Variables:":
            block_indent = indent
    return names


BOOLEAN_VARIABLES = ("_REQUIRED", "S3_UPLOAD", "SAMPLE_MODE")


def dummy_value(var, endpoint):
    upper = var.upper()
    if upper.endswith(BOOLEAN_VARIABLES):
        return "false"
    if upper.endswith(("RUNS_ROOT", "WORK_BUCKET", "ADVISORY_SNAPSHOTS")):
        return "s3://certus-bench-work/" + upper.split("_")[-1].lower()
    if upper.endswith(("_URL", "_ENDPOINT", "ENDPOINT_URL")):
        return endpoint
    if upper.endswith("_ARN") or "STATE_MACHINE" in upper:
        return "arn:aws:states:us-east-1:123456789012:stateMachine:certus-bench"
    if upper.endswith("BUCKET"):
        return "certus-bench-" + upper.split("_")[-2].lower() if "_" in upper else "certus-bench"
    if upper.endswith("_REF") or "KMS" in upper or "KEY" in upper:
        return "awskms://alias/certus-bench"
    return "certus-bench-" + upper.lower().replace("_", "-")


def summary(values):
    return statistics.median(values), min(values), max(values)


def fmt(stat, scale=1.0, digits=1):
    med, lo, hi = (v * scale for v in stat)
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--subject", action="append", default=[], help="NAME=BINARY (a Rust Lambda)")
    parser.add_argument("--python", action="append", default=[], help="NAME=PYTHON:SCRIPT[:ENV=V]")
    parser.add_argument("--template", default="")
    parser.add_argument("--events", default="")
    parser.add_argument("--endpoint", default="http://127.0.0.1:9")
    parser.add_argument("--answer-timeout", type=float, default=15.0)
    args = parser.parse_args()

    names = template_variables(Path(args.template)) if args.template else set()
    # The api and ws functions refuse to start without a way in: give them a keys file (packaged with the
    # function in a deployment) holding the hash of a bench-only key.
    keys_file = Path(tempfile.mkdtemp(prefix="certus-coldstart-keys-")) / "keys.json"
    key_hash = hashlib.sha256(b"certus-coldstart-bench").hexdigest()
    keys_file.write_text(json.dumps([{"key_sha256": key_hash, "tenant": "bench", "workspaces": ["*"]}]))
    # push-trigger (and api) read a registrations file packaged with the function: one CodeCommit entry.
    triggers_file = keys_file.parent / "triggers.toml"
    triggers_file.write_text(
        '[[registrations]]\nid = "bench"\nprovider = "codecommit"\nrepository = "bench"\n'
        'clone_url = "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/bench"\nbranches = ["main"]\n'
        'manifest_path = "certus.json"\nprofile = "light"\nworkspace_id = "ws"\ncomponent_id = "bench"\n'
        'assessment_id = "push"\n'
    )
    common = {
        "AWS_ENDPOINT_URL": args.endpoint,
        "CERTUS_ASSURANCE_S3_ENDPOINT_URL": args.endpoint,
        "CERTUS_ASSURANCE_API_KEYS_FILE": str(keys_file),
        "CERTUS_ASSURANCE_TRIGGERS_FILE": str(triggers_file),
    }
    for var in sorted(names):
        # A *_FILE or *_URI variable names a file or object the function reads at init (ADVISORY_CA: at each
        # sync): a dummy could only fail (the template leaves them empty by default).
        if not var.upper().endswith(("_FILE", "_URI", "ADVISORY_CA")):
            common[var] = dummy_value(var, args.endpoint)

    subjects = []
    for spec in args.subject:
        name, path = spec.split("=", 1)
        size = os.path.getsize(path)
        subjects.append({"name": name, "argv": [path], "env": lambda_env(name, common), "size": size, "kind": "rust"})
    for spec in args.python:
        name, rest = spec.split("=", 1)
        python, script, *pairs = rest.split(":")
        extra = dict(common, **dict(p.split("=", 1) for p in pairs))
        subjects.append({"name": name, "argv": [python, script], "env": lambda_env(name, extra), "size": None, "kind": "python"})
    if args.baseline not in {s["name"] for s in subjects}:
        sys.exit(f"the baseline {args.baseline!r} is not among the subjects")

    for subject in subjects:
        event_file = Path(args.events) / f"{subject['name']}.json" if args.events else None
        if event_file and event_file.is_file():
            subject["event"] = event_file.read_bytes()
        else:
            subject["event"] = json.dumps({"test_id": "bench-coldstart-0001"}).encode()
        subject["init"], subject["rss"], subject["outcomes"], subject["notes"] = [], [], {}, []

    for round_no in range(args.runs + 1):
        for subject in subjects:
            init_ms, rss_kb, outcome, note = one_run(subject["argv"], subject["env"], subject["event"], args.answer_timeout)
            if round_no == 0:
                continue  # warm-up: page cache, first-run effects
            if init_ms is not None:
                subject["init"].append(init_ms)
            if rss_kb is not None:
                subject["rss"].append(rss_kb / 1024)
            key = outcome or "none"
            subject["outcomes"][key] = subject["outcomes"].get(key, 0) + 1
            if note and note not in subject["notes"]:
                subject["notes"].append(note)

    base = next(s for s in subjects if s["name"] == args.baseline)
    base_init = statistics.median(base["init"]) if base["init"] else None
    print(f"\nCold start: {args.runs} runs each (after one warm-up), interleaved; init = exec → first GET {NEXT}")
    print(f"baseline: {args.baseline}; targets: init < {INIT_TARGET_MS:.0f} ms, peak RSS < {RSS_TARGET_MB:.0f} MB, "
          f"≥ {SPEEDUP_TARGET:.0f}× faster init than the baseline\n")
    header = f"| subject | init ms median (min–max) | peak RSS MB median (min–max) | size MB | init vs {args.baseline} | invocation | targets |"
    print(header)
    print("|---|---|---|---|---|---|---|")
    all_met = True
    for s in subjects:
        if not s["init"]:
            print(f"| {s['name']} | never asked for an invocation | – | – | – | {s['outcomes']} | MISSED |")
            all_met = False
            continue
        init = summary(s["init"])
        rss = summary(s["rss"]) if s["rss"] else (float("nan"),) * 3
        speedup = base_init / init[0] if base_init else float("nan")
        size = f"{s['size'] / 1e6:.2f}" if s["size"] else "–"
        outcomes = ", ".join(f"{k} ×{v}" for k, v in sorted(s["outcomes"].items()))
        if s["kind"] == "rust":
            met = init[0] < INIT_TARGET_MS and rss[0] < RSS_TARGET_MB and speedup >= SPEEDUP_TARGET
            verdict = "met" if met else "MISSED"
            all_met &= met
        else:
            verdict = "(baseline)" if s is base else "(reference)"
        print(f"| {s['name']} | {fmt(init, digits=2)} | {fmt(rss)} | {size} | {speedup:.1f}× | {outcomes} | {verdict} |")
    notes = [(s["name"], n) for s in subjects for n in s["notes"]]
    if notes:
        print("\nnotes (first of each kind):")
        for name, note in notes:
            print(f"  {name}: {note}")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
