#!/usr/bin/env python3
"""Entry point of the scanner container: turns the container override environment set by the scan state
machine (CERTUS_ASSURANCE_TEST_ID, CERTUS_ASSURANCE_TOOL) into the run-scanner input
{"test_id", "tool", "runner": "fargate"} and runs `certus-step run-scanner` on it (JSON on stdin), exactly as
statemachine/tests/run-local.mjs binds the ECS task locally. Exits with certus-step's status, so a failed
tool stops the task non-zero and the state machine sees States.TaskFailed."""
import json
import os
import re
import subprocess
import sys

CERTUS_STEP = "/opt/certus/certus-step"
FIELD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def main():
    values = {}
    for field, variable in (("test_id", "CERTUS_ASSURANCE_TEST_ID"), ("tool", "CERTUS_ASSURANCE_TOOL")):
        value = os.environ.get(variable, "")
        if not FIELD.match(value):
            print(json.dumps({"errorType": "NonRetryable", "errorMessage": f"{variable}: missing or not an identifier"}))
            return 1
        values[field] = value
    payload = json.dumps({**values, "runner": "fargate"}).encode()
    return subprocess.run([CERTUS_STEP, "run-scanner"], input=payload, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
