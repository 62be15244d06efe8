"""Tests of the bench harnesses themselves (not timed): the Runtime API stand-in against real processes, the
template and stream readers, and the cost model's walk of the real state machine definitions.

    python3 -m unittest discover -s bench/tests -v
"""
import importlib.util
import json
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, BENCH / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


coldstart = load("coldstart", "coldstart/coldstart.py")
cost_model = load("cost_model", "cost/cost_model.py")

RUNTIME = textwrap.dedent("""
    import json, os, sys, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
    mode = sys.argv[1]
    if mode == "exit":
        sys.exit(3)
    with urllib.request.urlopen(api + "/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    path = "/response" if mode == "ok" else "/error"
    body = json.dumps({"echo": event} if mode == "ok" else {"errorType": "NonRetryable", "errorMessage": "bad"})
    urllib.request.urlopen(urllib.request.Request(api + "/" + rid + path, data=body.encode(), method="POST")).read()
    urllib.request.urlopen(api + "/next").read()
""")


class StandInTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.script = Path(self.dir.name) / "runtime.py"
        self.script.write_text(RUNTIME)
        self.env = coldstart.lambda_env("t", {})

    def tearDown(self):
        self.dir.cleanup()

    def run_mode(self, mode):
        return coldstart.one_run([sys.executable, str(self.script), mode], self.env, b'{"test_id":"x"}', 20)

    def test_one_invocation_is_served_and_measured(self):
        init_ms, peak_kb, outcome, note = self.run_mode("ok")
        self.assertEqual(outcome, "response")
        self.assertIsNotNone(init_ms)
        self.assertGreater(init_ms, 0)
        self.assertGreater(peak_kb, 1000)
        self.assertEqual(note, "")

    def test_an_error_answer_is_reported_with_its_body(self):
        _, _, outcome, note = self.run_mode("error")
        self.assertEqual(outcome, "error")
        self.assertIn("NonRetryable", note)

    def test_a_process_that_exits_before_asking_is_named(self):
        init_ms, peak_kb, outcome, note = self.run_mode("exit")
        self.assertIsNone(init_ms)
        self.assertIsNone(peak_kb)
        self.assertIsNone(outcome)
        self.assertIn("exited by itself", note)


class TemplateTest(unittest.TestCase):
    def test_variables_blocks_are_read_by_indentation(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(textwrap.dedent("""
                Globals:
                  Function:
                    MemorySize: 512
                    Environment:
                      Variables:
                        JOBS_TABLE: !Ref JobsTable
                        WORK_BUCKET: !Ref WorkBucket
                    Timeout: 30
                Resources:
                  Promote:
                    Type: AWS::Serverless::Function
                    Properties:
                      CodeUri: ../functions/promote
                      MemorySize: 1024
                      Environment:
                        Variables:
                          GOLDEN_BUCKET: golden
            """))
            f.flush()
            self.assertEqual(coldstart.template_variables(Path(f.name)), {"JOBS_TABLE", "WORK_BUCKET", "GOLDEN_BUCKET"})
            self.assertEqual(cost_model.template_memory(Path(f.name)), ({"promote": 1024}, 512))


class CostModelTest(unittest.TestCase):
    def test_the_scan_definition_walk_counts_states_and_tasks(self):
        definition = json.loads((BENCH.parent / "statemachine/certus-assurance.asl.json").read_text())
        tools = [{"test_id": "t", "tool": "secrets", "runner": "lambda"},
                 {"test_id": "t", "tool": "semgrep", "runner": "fargate"},
                 {"test_id": "t", "tool": "odd", "runner": "nowhere"}]
        outputs = {"launch-scanners": lambda d: {"test_id": "t", "tools": tools}}
        trace = cost_model.walk(definition, {"test_id": "t"}, outputs, [])
        lambdas = [name for kind, name, _ in trace if kind == "lambda"]
        self.assertEqual(lambdas, ["prepare-source", "fetch-manifest", "verify-manifest", "launch-scanners",
                                   "run-scanner", "run-scanner", "build-bundle", "finalize"])
        self.assertEqual([name for kind, name, _ in trace if kind == "fargate"], ["semgrep"])
        states = [name for kind, name, _ in trace if kind == "state"]
        self.assertIn("UnknownRunner", states)  # an unknown runner is recorded as the tool's failure
        self.assertEqual(states[-1], "Done")

    def test_upload_stops_before_promote_unless_permitted(self):
        definition = json.loads((BENCH.parent / "statemachine/certus-upload.asl.json").read_text())
        denied = cost_model.walk(definition, {"test_id": "t"}, {"request-upload": lambda d: {"upload_status": "denied"}}, [])
        self.assertNotIn("promote", [n for k, n, _ in denied if k == "lambda"])
        permitted = cost_model.walk(definition, {"test_id": "t"}, {"request-upload": lambda d: {"upload_status": "permitted"}}, [])
        self.assertEqual([n for k, n, _ in permitted if k == "lambda"], ["request-upload", "promote"])


if __name__ == "__main__":
    unittest.main()
