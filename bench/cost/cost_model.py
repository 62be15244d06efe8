#!/usr/bin/env python3
"""Cost per scan on AWS, recomputed from the definitions: the walk of the state machines
(statemachine/*.asl.json) gives the state transitions and the Lambda/ECS tasks of a typical scan; the memory
sizes come from infra/template.yaml when it exists (else the defaults below); the durations and counts of events
and bundle files come from a bundle written by a local `certus scan` (stream.jsonl, bundle-index.json,
scan.json) and from the cold-start bench; the request counts per function follow docs/serverless.md and the
save points of shared/core (pipeline.rs, upload.rs). Prices are the AWS list prices written in PRICES.

    python3 bench/cost/cost_model.py [--bundle DIR] [--init-ms 8] [--scans-per-month 10000]

Prints the per-scan breakdown for the Standard workflow (the definitions' type) and the same scan billed as an
Express workflow, with the monthly totals at --scans-per-month.
"""
import argparse
import json
import math
import re
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# AWS list prices, region us-east-1 (N. Virginia), on-demand, without free tiers, as published on the AWS pricing
# pages in 2025 (Lambda, Step Functions, DynamoDB on-demand after the November 2024 price cut, S3 Standard, KMS,
# Fargate Linux/x86, API Gateway HTTP APIs, CloudWatch Logs). Not re-read from this machine (no internet): check
# them before quoting a figure.
PRICES = {
    "region": "us-east-1",
    "as_of": "2025 list prices (AWS pricing pages), not re-checked offline",
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86": 0.0000166667,
    "sfn_standard_transition": 0.025 / 1000,
    "sfn_express_request": 1.00 / 1e6,
    "sfn_express_gb_second": 0.00001667,  # first 1,000 GB-hours a month; 64 MB chunks, 100 ms increments
    "ddb_write_request_unit": 0.625 / 1e6,
    "ddb_read_request_unit": 0.125 / 1e6,
    "s3_put_copy_list": 0.005 / 1000,
    "s3_get_head": 0.0004 / 1000,
    "kms_asymmetric_request": 0.15 / 10000,
    "fargate_vcpu_hour_x86": 0.04048,
    "fargate_gb_hour_x86": 0.004445,
    "fargate_vcpu_hour_arm64": 0.03238,
    "fargate_gb_hour_arm64": 0.00356,
    "apigw_http_request": 1.00 / 1e6,
    "logs_ingest_gb": 0.50,
}

# Used when infra/template.yaml does not exist or does not name a function's MemorySize.
DEFAULT_MEMORY_MB = {
    "prepare-source": 1024, "fetch-manifest": 256, "verify-manifest": 256, "launch-scanners": 256,
    "run-scanner": 1024, "build-bundle": 1024, "finalize": 256, "request-upload": 256, "promote": 512,
}
# Heavy tools run as a Fargate task (docs/serverless.md); its size when the template does not say.
DEFAULT_FARGATE = {"vcpu": 1.0, "memory_gb": 2.0, "arch": "x86"}
# Fargate bills at least one minute per task; a task's start (image pull, ENI) is billed too.
FARGATE_MIN_SECONDS = 60
FARGATE_STARTUP_SECONDS = 30
# A typical scan: the four tools of the demo's standard profile that are not duplicates.
TYPICAL_TOOLS = [("secrets", "lambda"), ("sbom", "lambda"), ("semgrep", "fargate"), ("bandit", "fargate")]
# Assumed where no local measurement exists: heavy-tool durations on a mid-size repository (seconds).
ASSUMED_TOOL_SECONDS = {"semgrep": 90.0, "bandit": 30.0, "checkov": 60.0, "detect-secrets": 40.0}
# Audit entries of a scan and its upload (shared/core/src/audit.rs: submitted, source resolved, status changes,
# manifest recorded and verified, bundle stored, Trust exchange, upload status, publication).
AUDIT_ENTRIES = 10
# Round trips to DynamoDB/S3/KMS a stage function makes beyond its own work, each assumed to take this long.
AWS_CALL_MS = 15.0

# Per function and invocation: job GetItem (strongly consistent) and PutItem, events emitted, S3 GET/HEAD and
# PUT/COPY of the run workspace (markers, snapshot, tool records), KMS signatures. From docs/serverless.md
# (stage markers, snapshot, tool records) and the save/emit points of shared/core/src/pipeline.rs and upload.rs.
STAGE_IO = {
    #                  job_get job_put events  s3_get s3_put kms
    "prepare-source": (1, 2, 3, 1, 2, 0),   # QUEUED→RUNNING, source ready; marker check, snapshot + marker
    "fetch-manifest": (1, 1, 1, 2, 2, 0),   # marker, snapshot-less; manifest bytes + marker
    "verify-manifest": (1, 1, 1, 2, 1, 0),  # manifest, marker
    "launch-scanners": (1, 1, 1, 1, 1, 0),  # plan + marker
    "run-scanner": (1, 0, 2, 3, 3, 0),      # snapshot, marker, manifest; SARIF, tool record, marker
    "build-bundle": (1, 1, 0, 4, 1, 1),     # tool records are counted per tool below; final record; KMS sign
    "finalize": (1, 1, 1, 1, 1, 0),         # scan_complete
    "request-upload": (1, 2, 1, 1, 0, 1),   # audit entry before and after the Trust call; signed request
    "promote": (1, 2, 1, 0, 0, 0),          # raw, golden (copies counted per bundle file below)
}


def load_json(path):
    return json.loads(Path(path).read_text())


def json_path(data, path):
    value = data
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def choice_matches(rule, data):
    if "And" in rule:
        return all(choice_matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(choice_matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], data)
    value = json_path(data, rule["Variable"])
    if "IsPresent" in rule:
        return (value is not None) == rule["IsPresent"]
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return value == rule["BooleanEquals"]
    raise ValueError(f"Choice operator not modelled: {sorted(rule)}")


def function_of(state):
    """The function crate a Lambda task invokes: ${PrepareSourceFunctionArn} → prepare-source."""
    name = state.get("Parameters", {}).get("FunctionName", "")
    match = re.fullmatch(r"\$\{(\w+)FunctionArn\}", name)
    if not match:
        return None
    return re.sub(r"(?<!^)([A-Z])", r"-\1", match.group(1)).lower()


def walk(definition, data, outputs, trace):
    """Runs the success path of a definition on `data`: each state entered is one transition. Task outputs
    are `outputs[function](data)`; Map iterates its item processor over ItemsPath."""
    name = definition["StartAt"]
    states = definition["States"]
    while name:
        state = states[name]
        trace.append(("state", name, None))
        kind = state["Type"]
        if kind == "Task":
            resource = state["Resource"]
            function = function_of(state)
            if resource.startswith("arn:aws:states:::lambda:invoke") and function:
                trace.append(("lambda", function, data))
                data = outputs.get(function, lambda d: d)(data)
            elif resource.startswith("arn:aws:states:::ecs:runTask"):
                trace.append(("fargate", data.get("tool"), data))
            else:
                raise ValueError(f"{name}: resource {resource} not modelled")
        elif kind == "Map":
            items = json_path(data, state["ItemsPath"]) or []
            processor = state.get("ItemProcessor") or state["Iterator"]
            for item in items:
                walk(processor, item, outputs, trace)
        elif kind == "Choice":
            target = next((c["Next"] for c in state["Choices"] if choice_matches(c, data)), state.get("Default"))
            name = target
            continue
        elif kind in ("Succeed", "Fail"):
            break
        if state.get("End"):
            break
        name = state.get("Next")
    return trace


def template_memory(template: Path):
    """MemorySize per function crate from a SAM template (CodeUri functions/<crate>), read without YAML."""
    sizes = {}
    if not template.is_file():
        return sizes, None
    text = template.read_text()
    glob = re.search(r"Globals:\s*\n(?:\s+.*\n)*?\s+Function:\s*\n((?:\s{4,}.*\n)*)", text)
    default = None
    if glob:
        m = re.search(r"MemorySize:\s*(\d+)", glob.group(1))
        default = int(m.group(1)) if m else None
    for block in re.split(r"\n  (?=[A-Za-z0-9]+:\s*\n\s+Type:)", text):
        uri = re.search(r"CodeUri:\s*['\"]?(?:\.\./)?functions/([\w-]+)", block)
        if uri:
            m = re.search(r"MemorySize:\s*(\d+)", block)
            sizes[uri.group(1)] = int(m.group(1)) if m else default
    return sizes, default


def template_fargate(template: Path):
    """The scanner task's size and architecture from the template's AWS::ECS::TaskDefinition, else the default."""
    if not template.is_file():
        return DEFAULT_FARGATE
    match = re.search(r"Type:\s*AWS::ECS::TaskDefinition\s*\n((?:\s{4,}.*\n)*)", template.read_text())
    if not match:
        return DEFAULT_FARGATE
    block = match.group(1)
    cpu = re.search(r"\bCpu:\s*['\"]?(\d+)", block)
    memory = re.search(r"\bMemory:\s*['\"]?(\d+)", block)
    arch = re.search(r"CpuArchitecture:\s*(\w+)", block)
    return {
        "vcpu": int(cpu.group(1)) / 1024 if cpu else DEFAULT_FARGATE["vcpu"],
        "memory_gb": int(memory.group(1)) / 1024 if memory else DEFAULT_FARGATE["memory_gb"],
        "arch": "arm64" if arch and arch.group(1).upper() == "ARM64" else "x86",
    }


def measured(bundle: Path | None, wall_seconds: float | None):
    """Stage durations (s), events and their mean size, bundle files and bytes, job record bytes."""
    if bundle is None:
        return None
    events = [json.loads(line) for line in (bundle / "stream.jsonl").read_text().splitlines() if line.strip()]
    stamp = lambda e: datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
    tools, starts = {}, {}
    for e in events:
        if e["type"] == "tool_start":
            starts[e["tool"]] = stamp(e)
        elif e["type"] == "tool_complete" and e["tool"] in starts:
            tools[e["tool"]] = stamp(e) - starts[e["tool"]]
    first_tool = min(starts.values()) if starts else stamp(events[-1])
    last_tool = max((stamp(e) for e in events if e["type"] == "tool_complete"), default=first_tool)
    sizes = [len(json.dumps(e)) for e in events]
    # The bundle index and attestation are written after scan_complete: the process wall time holds them.
    after_tools = stamp(events[-1]) - last_tool
    if wall_seconds is not None:
        after_tools += max(0.0, wall_seconds - (stamp(events[-1]) - stamp(events[0])))
    index = load_json(bundle / "bundle-index.json")
    return {
        "before_tools_s": first_tool - stamp(events[0]),
        "tools_s": tools,
        "after_tools_s": after_tools,
        "events": len(events),
        "event_bytes": sum(sizes) / len(sizes),
        "bundle_files": len(index["files"]) + 1,
        "bundle_bytes": sum(f["size"] for f in index["files"]),
        "job_bytes": (bundle / "scan.json").stat().st_size,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, help="a bundle directory written by a local certus scan")
    parser.add_argument("--wall-seconds", type=float, help="the local scan's process wall time")
    parser.add_argument("--init-ms", type=float, default=10.0, help="cold-start init per invocation (bench/coldstart)")
    parser.add_argument("--scans-per-month", type=int, default=10_000)
    parser.add_argument("--arch", choices=["arm64", "x86"], default="arm64")
    args = parser.parse_args()

    scan_sm = load_json(REPO / "statemachine/certus-assurance.asl.json")
    upload_sm = load_json(REPO / "statemachine/certus-upload.asl.json")
    memory, _ = template_memory(REPO / "infra/template.yaml")
    m = measured(args.bundle, args.wall_seconds)
    task = template_fargate(REPO / "infra/template.yaml")

    tools = [{"test_id": "t", "tool": t, "runner": r} for t, r in TYPICAL_TOOLS]
    outputs = {
        "launch-scanners": lambda d: {"test_id": d["test_id"], "tools": tools, "max_concurrency": 4},
        "run-scanner": lambda d: {"test_id": d["test_id"], "tool": d["tool"], "status": "completed"},
        "request-upload": lambda d: {"test_id": d["test_id"], "upload_status": "permitted"},
    }
    scan_trace = walk(scan_sm, {"test_id": "t"}, outputs, [])
    upload_trace = walk(upload_sm, {"test_id": "t", "tier": "verified"}, outputs, [])

    # Durations: the local stage times split over the stage functions, each plus init and its AWS round trips.
    before = m["before_tools_s"] if m else 1.0
    after = m["after_tools_s"] if m else 1.0
    tool_seconds = dict(ASSUMED_TOOL_SECONDS, **(m["tools_s"] if m else {"secrets": 2.0, "sbom": 1.0}))
    measured_tools = set(m["tools_s"]) if m else set()
    base_seconds = {
        "prepare-source": before * 0.8, "fetch-manifest": before * 0.1, "verify-manifest": before * 0.1,
        "launch-scanners": 0.0, "build-bundle": after * 0.9, "finalize": after * 0.1,
        "request-upload": 0.3, "promote": 0.5,
    }

    def duration(function, data):
        seconds = tool_seconds.get(data.get("tool"), 1.0) if function == "run-scanner" else base_seconds[function]
        calls = sum(STAGE_IO[function][:5]) + STAGE_IO[function][5]
        return seconds + (args.init_ms + calls * AWS_CALL_MS) / 1000

    events = m["events"] if m else 40
    event_wcu = math.ceil((m["event_bytes"] if m else 300) / 1024)
    job_kb = (m["job_bytes"] if m else 6000) / 1024
    files = m["bundle_files"] if m else 16
    gb_s_price = PRICES[f"lambda_gb_second_{args.arch}"]

    lines, totals = [], {}

    def add(item, units, unit_price, note=""):
        cost = units * unit_price
        lines.append((item, units, unit_price, cost, note))
        totals[item] = cost

    transitions = {"scan": sum(1 for k, *_ in scan_trace if k == "state"),
                   "upload": sum(1 for k, *_ in upload_trace if k == "state")}
    invocations, gb_seconds, fargate = [], 0.0, []
    ddb_r = ddb_w = s3_get = s3_put = kms = 0
    for kind, name, data in scan_trace + upload_trace:
        if kind == "lambda":
            invocations.append(name)
            gb_seconds += memory.get(name, DEFAULT_MEMORY_MB[name]) / 1024 * duration(name, data)
            job_get, job_put, emitted, get, put, signs = STAGE_IO[name]
            # A job save (shared/dynamo jobs.rs) reads the stored version, then writes conditionally on it.
            ddb_r += (job_get + job_put) * math.ceil(job_kb / 4)
            ddb_w += job_put * math.ceil(job_kb)
            # Opening the event log for a run queries the last seq once (events.rs last_seq).
            ddb_r += 1 if emitted else 0
            s3_get += get
            s3_put += put
            kms += signs
        elif kind == "fargate":
            seconds = max(FARGATE_MIN_SECONDS, tool_seconds.get(name, 60.0) + FARGATE_STARTUP_SECONDS)
            fargate.append((name, seconds))
            # The container runs the run-scanner handler: the same requests as a run-scanner invocation.
            job_get, job_put, emitted, get, put, signs = STAGE_IO["run-scanner"]
            ddb_r += job_get * math.ceil(job_kb / 4)
            s3_get += get
            s3_put += put
    ddb_w += events * event_wcu  # one conditional PutItem per event (EventsTable), log lines included
    ddb_w += AUDIT_ENTRIES  # one PutItem each in AuditTable
    s3_put += files  # build-bundle: every bundle file to bundles/<test_id>/bundle/
    s3_put += 2 * files  # promote: server-side COPY to raw incoming/, then to golden/
    s3_get += 2 * files  # promote: HEAD of the staged copy checked against the index, and of the golden one

    add("Step Functions Standard: state transitions (scan + upload)", sum(transitions.values()),
        PRICES["sfn_standard_transition"], f"scan {transitions['scan']}, upload {transitions['upload']}")
    add("Lambda requests", len(invocations), PRICES["lambda_request"], ", ".join(sorted(set(invocations))))
    add(f"Lambda GB-seconds ({args.arch})", gb_seconds, gb_s_price, "durations: local stage times + init + AWS calls")
    fargate_cost = sum(s / 3600 * (task["vcpu"] * PRICES[f"fargate_vcpu_hour_{task['arch']}"]
                                   + task["memory_gb"] * PRICES[f"fargate_gb_hour_{task['arch']}"]) for _, s in fargate)
    add("Fargate tasks (heavy tools)", len(fargate), fargate_cost / max(len(fargate), 1),
        ", ".join(f"{n} {s:.0f} s" for n, s in fargate) + f" at {task['vcpu']:g} vCPU/{task['memory_gb']:g} GB {task['arch']}")
    add("DynamoDB write request units", ddb_w, PRICES["ddb_write_request_unit"],
        f"{events} events × {event_wcu} WCU + job saves × {math.ceil(job_kb)} WCU + {AUDIT_ENTRIES} audit entries")
    add("DynamoDB read request units", ddb_r, PRICES["ddb_read_request_unit"], f"job reads (and the read before each save) × {math.ceil(job_kb / 4)} RCU, one event-log query per function")
    add("S3 PUT/COPY requests", s3_put, PRICES["s3_put_copy_list"], f"{files} bundle files: PUT + 2 COPY each, plus run workspace")
    add("S3 GET/HEAD requests", s3_get, PRICES["s3_get_head"], "run workspace reads + 2 HEAD per bundle file")
    add("KMS asymmetric Sign", kms, PRICES["kms_asymmetric_request"], "bundle attestation, upload request")
    add("API Gateway HTTP API requests", 5, PRICES["apigw_http_request"], "submit, 3 status polls, upload-request")
    log_gb = events * 400 / 1e9 + len(invocations) * 2000 / 1e9
    add("CloudWatch Logs ingestion (GB)", log_gb, PRICES["logs_ingest_gb"], "JSON logs: ~400 B per event, ~2 KB per invocation")

    standard = sum(totals.values())
    print(f"Cost model of one typical scan + upload, {PRICES['region']}, prices: {PRICES['as_of']}")
    print(f"tools: {', '.join(f'{t} ({r})' for t, r in TYPICAL_TOOLS)}; "
          f"{'measured from ' + str(args.bundle) if m else 'no bundle given: placeholder durations'}")
    if m:
        print(f"measured locally: before tools {m['before_tools_s']:.2f} s, tools "
              + ", ".join(f"{k} {v:.2f} s" for k, v in m["tools_s"].items())
              + f", after tools {m['after_tools_s']:.2f} s, {m['events']} events, {m['bundle_files']} bundle files "
              f"({m['bundle_bytes'] / 1e6:.2f} MB), job record {m['job_bytes']} B")
    assumed = sorted(t for t, _ in TYPICAL_TOOLS if t not in measured_tools)
    if assumed:
        print(f"assumed (not measured here): {', '.join(f'{t} {tool_seconds[t]:.0f} s' for t in assumed)}")
    print(f"memory: {'infra/template.yaml' if memory else 'defaults in this script (no infra/template.yaml)'}\n")
    print("| item | units per scan | unit price USD | USD per scan | basis |")
    print("|---|---|---|---|---|")
    for item, units, price, cost, note in lines:
        units_text = f"{units:.3f}" if isinstance(units, float) else str(units)
        print(f"| {item} | {units_text} | {price:.10f} | {cost:.6f} | {note} |")
    print(f"| **total (Standard)** | | | **{standard:.5f}** | |")

    # Express: the same work, billed per request and per GB-second of execution time instead of per transition.
    lambda_path = sum(duration(n, d) for k, n, d in scan_trace if k == "lambda" and n != "run-scanner")
    map_wall = max([duration("run-scanner", d) for k, n, d in scan_trace if k == "lambda" and n == "run-scanner"]
                   + [s for _, s in fargate] + [0.0])
    execution_s = lambda_path + map_wall
    upload_s = sum(duration(n, d) for k, n, d in upload_trace if k == "lambda")
    express = (2 * PRICES["sfn_express_request"]
               + (math.ceil(execution_s * 10) / 10 + math.ceil(upload_s * 10) / 10) * 0.0625 * PRICES["sfn_express_gb_second"])
    sfn_standard = totals["Step Functions Standard: state transitions (scan + upload)"]
    print(f"\nStep Functions alone: Standard {sfn_standard:.6f} USD per scan ({sum(transitions.values())} transitions); "
          f"Express {express:.6f} USD (2 requests, {execution_s:.1f} s + {upload_s:.1f} s at the 64 MB minimum)")
    print(f"Express scan execution {execution_s:.0f} s against its 300 s limit; the scan definition allows "
          f"{scan_sm['TimeoutSeconds']} s and uses ecs:runTask.sync, which Express does not support")
    run_scanner_gb = memory.get("run-scanner", DEFAULT_MEMORY_MB["run-scanner"]) / 1024
    on_lambda = sum(PRICES["lambda_request"] + run_scanner_gb * duration("run-scanner", {"tool": n}) * gb_s_price
                    for n, _ in fargate)
    if fargate:
        print(f"the heavy tools on the run-scanner Lambda ({run_scanner_gb:g} GB) instead of Fargate: {on_lambda:.6f} USD "
              f"against {fargate_cost:.6f} USD (Fargate bills a minute at least; Lambda caps a run at 900 s and 10 GB)")
    monthly = args.scans_per_month
    print(f"\nper month at {monthly} scans: total {standard * monthly:.2f} USD with Standard "
          f"(of which Step Functions {sfn_standard * monthly:.2f}); Express would save "
          f"{(sfn_standard - express) * monthly:.2f} USD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
