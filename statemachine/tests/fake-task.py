#!/usr/bin/env python3
"""A stand-in for the certus-step binary in the harness self-test: `fake-task.py <function>` reads the task
input on stdin and answers like the contract in docs/serverless.md, or fails as the scenario asks.

FAKE_TASK_DIR (required): where invocations are logged (calls.jsonl) and per-key call counts kept.
FAKE_TASK_SCRIPT: JSON {"<function>" or "<function>:<tool>": [behaviour, ...]}, one behaviour per call in
order, "ok" once the list is used up. Behaviours: ok, Retryable, NonRetryable (errorType JSON, exit 1),
crash (exit 3, no JSON), sleep (hang until killed), big (300 KiB of output).
FAKE_UPLOAD_STATUS: what request-upload answers (default "permitted").
"""
import json
import os
import sys
import time


def main():
    function = sys.argv[1]
    state_dir = os.environ["FAKE_TASK_DIR"]
    payload = json.load(sys.stdin)
    tool = payload.get("tool") if isinstance(payload, dict) else None
    key = f"{function}:{tool}" if tool else function
    with open(os.path.join(state_dir, "calls.jsonl"), "a", encoding="utf-8") as log:
        env = {k: v for k, v in os.environ.items() if k.startswith("CERTUS_ASSURANCE_")}
        log.write(json.dumps({"function": function, "input": payload, "env": env}) + "\n")

    counter = os.path.join(state_dir, f"count-{key.replace(':', '_')}")
    calls = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as f:
        f.write(str(calls + 1))
    script = json.loads(os.environ.get("FAKE_TASK_SCRIPT", "{}")).get(key, [])
    behaviour = script[calls] if calls < len(script) else "ok"

    if behaviour in ("Retryable", "NonRetryable"):
        print(json.dumps({"errorType": behaviour, "errorMessage": f"{key}: scripted {behaviour} on call {calls + 1}"}))
        return 1
    if behaviour == "crash":
        print("thread 'main' panicked", file=sys.stderr)
        return 3
    if behaviour == "sleep":
        time.sleep(120)
        return 0
    if behaviour == "big":
        print(json.dumps({"test_id": payload["test_id"], "padding": "x" * (300 * 1024)}))
        return 0

    test_id = payload["test_id"]
    failed = "failure" in payload
    if function == "launch-scanners":
        plan = json.loads(os.environ.get("FAKE_TOOLS", '[["secrets","lambda"],["sbom","lambda"],["semgrep","fargate"]]'))
        out = {"test_id": test_id, "tools": [{"test_id": test_id, "tool": t, "runner": r} for t, r in plan], "max_concurrency": 4}
    elif function == "run-scanner":
        out = {"test_id": test_id, "tool": tool, "status": "failed" if failed else "succeeded"}
    elif function in ("build-bundle", "finalize"):
        out = {"test_id": test_id, "status": "failed" if failed else "succeeded"}
    elif function == "request-upload":
        out = {"test_id": test_id, "upload_status": os.environ.get("FAKE_UPLOAD_STATUS", "permitted")}
    elif function == "promote":
        out = {"test_id": test_id, "upload_status": "upload_failed" if failed else "uploaded"}
    else:
        out = {"test_id": test_id}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
