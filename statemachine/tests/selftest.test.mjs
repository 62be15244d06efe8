// Self-test of the local runner harness: the real definitions run under aws-local-stepfunctions with every
// Task bound to fake-task.py, proving the paths the definitions promise (docs/serverless.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bindTasks, functionNameFromSubstitution, runDefinition } from "./run-local.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SCAN = JSON.parse(readFileSync(join(here, "..", "certus-assurance.asl.json"), "utf8"));
const UPLOAD = JSON.parse(readFileSync(join(here, "..", "certus-upload.asl.json"), "utf8"));
const FAKE = [join(here, "fake-task.py")];
const HAPPY_PATH = ["PrepareSource", "FetchManifest", "VerifyManifest", "LaunchScanners", "RunScanners", "BuildBundle", "Finalize", "Done"];

async function run(definition, { script = {}, env = {}, taskTimeouts, input = { test_id: "t-1" } } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "certus-sm-"));
  try {
    const result = await runDefinition({
      definition,
      input,
      taskCommand: FAKE,
      env: { PATH: process.env.PATH, FAKE_TASK_DIR: dir, FAKE_TASK_SCRIPT: JSON.stringify(script), ...env },
      retryPauseMs: 0,
      taskTimeouts,
    });
    const calls = readFileSync(join(dir, "calls.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line));
    return { result, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const callsTo = (calls, fn, tool) => calls.filter((c) => c.function === fn && (tool === undefined || c.input.tool === tool));

test("function names come from the ${<Name>FunctionArn} substitutions", () => {
  assert.equal(functionNameFromSubstitution("PrepareSourceFunctionArn"), "prepare-source");
  assert.equal(functionNameFromSubstitution("RunScannerFunctionArn"), "run-scanner");
  assert.throws(() => functionNameFromSubstitution("ScannerClusterArn"), /not a <Name>FunctionArn/);
  const bound = Object.fromEntries([...bindTasks(SCAN)].map(([state, b]) => [state, `${b.kind}:${b.functionName}`]));
  assert.deepEqual(bound, {
    PrepareSource: "lambda:prepare-source",
    FetchManifest: "lambda:fetch-manifest",
    VerifyManifest: "lambda:verify-manifest",
    LaunchScanners: "lambda:launch-scanners",
    BuildBundle: "lambda:build-bundle",
    Finalize: "lambda:finalize",
    MarkFailed: "lambda:finalize",
    ScanWithLambda: "lambda:run-scanner",
    ScanWithFargate: "ecs:run-scanner",
    RecordToolFailure: "lambda:run-scanner",
  });
});

test("a Task the harness cannot bind is refused before anything runs (no call to real AWS)", async () => {
  const definition = { StartAt: "Real", States: { Real: { Type: "Task", Resource: "arn:aws:lambda:us-east-1:123456789012:function:x", End: true } } };
  await assert.rejects(runDefinition({ definition, input: {}, taskCommand: FAKE }), /has no local binding/);
});

test("happy path: every stage in order, lambda and fargate tools, Fargate input from the container environment", async () => {
  const { result, calls } = await run(SCAN);
  assert.equal(result.status, "SUCCEEDED");
  assert.deepEqual(result.output, { test_id: "t-1", status: "succeeded" });
  assert.deepEqual(result.states, HAPPY_PATH);
  assert.deepEqual(result.iterations, {
    0: ["ChooseRunner", "ScanWithLambda"],
    1: ["ChooseRunner", "ScanWithLambda"],
    2: ["ChooseRunner", "ScanWithFargate"],
  });
  const [fargate] = callsTo(calls, "run-scanner", "semgrep");
  assert.deepEqual(fargate.input, { test_id: "t-1", tool: "semgrep", runner: "fargate" });
  assert.deepEqual(fargate.env, { CERTUS_ASSURANCE_TEST_ID: "t-1", CERTUS_ASSURANCE_TOOL: "semgrep" });
  assert.deepEqual(callsTo(calls, "prepare-source")[0].input, { test_id: "t-1" });
  assert.equal(callsTo(calls, "finalize").length, 1);
});

test("Retryable twice then success: the step is retried and the run goes on", async () => {
  const { result, calls } = await run(SCAN, { script: { "fetch-manifest": ["Retryable", "Retryable"] } });
  assert.equal(result.status, "SUCCEEDED");
  assert.deepEqual(result.states, HAPPY_PATH);
  assert.deepEqual(result.retries, [
    { state: "FetchManifest", attempt: 1 },
    { state: "FetchManifest", attempt: 2 },
  ]);
  assert.equal(callsTo(calls, "fetch-manifest").length, 3);
});

test("Retryable every time: three retries, then MarkFailed with the cause, then Fail", async () => {
  const { result, calls } = await run(SCAN, { script: { "prepare-source": ["Retryable", "Retryable", "Retryable", "Retryable"] } });
  assert.equal(result.status, "FAILED");
  assert.equal(result.error, "ScanFailed");
  assert.deepEqual(result.states, ["PrepareSource", "MarkFailed", "ScanFailed"]);
  assert.equal(callsTo(calls, "prepare-source").length, 4);
  const [mark] = callsTo(calls, "finalize");
  assert.equal(mark.input.failure.Error, "Retryable");
});

test("NonRetryable goes straight to MarkFailed then Fail, with the error and cause", async () => {
  const { result, calls } = await run(SCAN, { script: { "verify-manifest": ["NonRetryable"] } });
  assert.equal(result.status, "FAILED");
  assert.deepEqual(result.states, ["PrepareSource", "FetchManifest", "VerifyManifest", "MarkFailed", "ScanFailed"]);
  assert.deepEqual(result.retries, []);
  assert.equal(callsTo(calls, "verify-manifest").length, 1);
  const [mark] = callsTo(calls, "finalize");
  assert.equal(mark.input.test_id, "t-1");
  assert.equal(mark.input.failure.Error, "NonRetryable");
  assert.equal(JSON.parse(mark.input.failure.Cause).errorMessage, "verify-manifest: scripted NonRetryable on call 1");
});

const CONTRACT_RETRY = [{
  ErrorEquals: ["Retryable", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
  IntervalSeconds: 2,
  BackoffRate: 2,
  MaxAttempts: 3,
  MaxDelaySeconds: 30,
  JitterStrategy: "FULL",
}];

function* tasksOf(definition) {
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === "Task") yield [name, state];
    if (state.ItemProcessor) yield* tasksOf(state.ItemProcessor);
  }
}

test("every Lambda task retries exactly the contract's errors and catches everything into $.failure", () => {
  const failureHandlers = { MarkFailed: "ScanFailed", MarkUploadFailed: "UploadFailed" };
  for (const definition of [SCAN, UPLOAD]) {
    for (const [name, state] of tasksOf(definition)) {
      assert.ok(Number.isInteger(state.TimeoutSeconds) && state.TimeoutSeconds > 0, `${name}: TimeoutSeconds`);
      if (state.Resource !== "arn:aws:states:::lambda:invoke") continue;
      assert.deepEqual(state.Retry, CONTRACT_RETRY, `${name}: Retry`);
      assert.deepEqual(state.Parameters["Payload.$"], "$", `${name}: Payload`);
      assert.equal(state.OutputPath, "$.Payload", `${name}: OutputPath`);
      if (name === "RecordToolFailure") {
        assert.equal(state.Catch, undefined, "RecordToolFailure failing must fail the Map");
        continue;
      }
      assert.equal(state.Catch.length, 1, `${name}: one catcher`);
      const [catcher] = state.Catch;
      assert.deepEqual(catcher.ErrorEquals, ["States.ALL"], `${name}: catches everything`);
      const expected = failureHandlers[name] ?? (name === "ScanWithLambda" ? "RecordToolFailure" : definition === SCAN ? "MarkFailed" : "MarkUploadFailed");
      assert.equal(catcher.Next, expected, `${name}: Catch target`);
    }
  }
  assert.equal(SCAN.States.RunScanners.MaxConcurrency, 4);
  assert.equal(SCAN.States.RunScanners.ResultPath, null);
  assert.ok(SCAN.TimeoutSeconds > 0 && UPLOAD.TimeoutSeconds > 0);
});

for (const [state, fn] of [
  ["PrepareSource", "prepare-source"],
  ["FetchManifest", "fetch-manifest"],
  ["VerifyManifest", "verify-manifest"],
  ["LaunchScanners", "launch-scanners"],
  ["BuildBundle", "build-bundle"],
  ["Finalize", "finalize"],
]) {
  test(`${state} answering NonRetryable is called once, then MarkFailed and Fail`, async () => {
    const { result, calls } = await run(SCAN, { script: { [fn]: ["NonRetryable"] } });
    assert.equal(result.status, "FAILED");
    assert.equal(result.error, "ScanFailed");
    assert.deepEqual(result.states.slice(-3), [state, "MarkFailed", "ScanFailed"]);
    assert.deepEqual(result.retries, []);
    const mark = callsTo(calls, "finalize").filter((c) => c.input.failure);
    assert.equal(mark.length, 1);
    assert.equal(mark[0].input.failure.Error, "NonRetryable");
    assert.equal(callsTo(calls, fn).length, fn === "finalize" ? 2 : 1);
  });
}

test("a step crashing without an errorType is not retried and ends FAILED through MarkFailed", async () => {
  const { result, calls } = await run(SCAN, { script: { "build-bundle": ["crash"] } });
  assert.equal(result.status, "FAILED");
  assert.deepEqual(result.states.slice(-3), ["BuildBundle", "MarkFailed", "ScanFailed"]);
  assert.equal(callsTo(calls, "build-bundle").length, 1);
  assert.equal(callsTo(calls, "finalize")[0].input.failure.Error, "Runtime.ExitError");
});

test("a Map item failure is caught in its iteration and the run continues to BuildBundle", async () => {
  const { result, calls } = await run(SCAN, { script: { "run-scanner:sbom": ["NonRetryable"] } });
  assert.equal(result.status, "SUCCEEDED");
  assert.deepEqual(result.states, HAPPY_PATH);
  assert.deepEqual(result.iterations[1], ["ChooseRunner", "ScanWithLambda", "RecordToolFailure"]);
  assert.deepEqual(result.iterations[0], ["ChooseRunner", "ScanWithLambda"]);
  const sbom = callsTo(calls, "run-scanner", "sbom");
  assert.equal(sbom.length, 2);
  assert.equal(sbom[1].input.failure.Error, "NonRetryable");
  assert.equal(callsTo(calls, "build-bundle").length, 1);
});

test("a Fargate task exiting non-zero is States.TaskFailed, recorded for that tool only", async () => {
  const { result, calls } = await run(SCAN, { script: { "run-scanner:semgrep": ["NonRetryable"] } });
  assert.equal(result.status, "SUCCEEDED");
  assert.deepEqual(result.iterations[2], ["ChooseRunner", "ScanWithFargate", "RecordToolFailure"]);
  const semgrep = callsTo(calls, "run-scanner", "semgrep");
  assert.equal(semgrep.length, 2, "a failed container is not started again");
  assert.equal(semgrep[1].input.failure.Error, "States.TaskFailed");
  assert.equal(JSON.parse(semgrep[1].input.failure.Cause).Containers[0].ExitCode, 1);
});

test("a scanner running past its TimeoutSeconds is States.Timeout, caught in its iteration", async () => {
  // 10 s: far above a fake task's start on a loaded machine (a 1 s limit timed out healthy tools there), far below the sleeper's 120 s.
  const { result, calls } = await run(SCAN, { script: { "run-scanner:secrets": ["sleep"] }, taskTimeouts: { ScanWithLambda: 10 } });
  assert.equal(result.status, "SUCCEEDED");
  assert.deepEqual(result.iterations[0], ["ChooseRunner", "ScanWithLambda", "RecordToolFailure"]);
  assert.equal(callsTo(calls, "run-scanner", "secrets")[1].input.failure.Error, "States.Timeout");
});

test("a plan naming an unknown runner fails closed as that tool's failure", async () => {
  const { result, calls } = await run(SCAN, { env: { FAKE_TOOLS: JSON.stringify([["secrets", "lambda"], ["x", "docker"]]) } });
  assert.equal(result.status, "SUCCEEDED");
  assert.deepEqual(result.iterations[1], ["ChooseRunner", "UnknownRunner", "RecordToolFailure"]);
  assert.equal(callsTo(calls, "run-scanner", "x")[0].input.failure.Error, "NonRetryable");
});

test("the failure recorder failing too fails the Map, which MarkFailed catches", async () => {
  const { result } = await run(SCAN, { script: { "run-scanner:sbom": ["NonRetryable", "NonRetryable"] } });
  assert.equal(result.status, "FAILED");
  assert.deepEqual(result.states.slice(-3), ["RunScanners", "MarkFailed", "ScanFailed"]);
});

test("a result over the 256 KiB state limit fails the execution (States.DataLimitExceeded is not catchable)", async () => {
  const { result, calls } = await run(SCAN, { script: { "prepare-source": ["big"] } });
  assert.equal(result.status, "FAILED");
  assert.equal(result.error, "States.DataLimitExceeded");
  assert.deepEqual(result.states, ["PrepareSource"]);
  assert.equal(callsTo(calls, "finalize").length, 0);
});

test("upload: permitted → Promote → Done; denied → Done without Promote", async () => {
  const permitted = await run(UPLOAD, { input: { test_id: "t-1", tier: "golden" } });
  assert.equal(permitted.result.status, "SUCCEEDED");
  assert.deepEqual(permitted.result.states, ["RequestUpload", "IsPermitted", "Promote", "Done"]);
  assert.deepEqual(callsTo(permitted.calls, "request-upload")[0].input, { test_id: "t-1", tier: "golden" });
  const denied = await run(UPLOAD, { input: { test_id: "t-1", tier: "golden" }, env: { FAKE_UPLOAD_STATUS: "denied" } });
  assert.equal(denied.result.status, "SUCCEEDED");
  assert.deepEqual(denied.result.states, ["RequestUpload", "IsPermitted", "Done"]);
  assert.equal(callsTo(denied.calls, "promote").length, 0);
});

test("upload: Promote failing is recorded by promote with failure, then Fail", async () => {
  const { result, calls } = await run(UPLOAD, { input: { test_id: "t-1", tier: "golden" }, script: { promote: ["NonRetryable"] } });
  assert.equal(result.status, "FAILED");
  assert.equal(result.error, "UploadFailed");
  assert.deepEqual(result.states, ["RequestUpload", "IsPermitted", "Promote", "MarkUploadFailed", "UploadFailed"]);
  assert.equal(callsTo(calls, "promote")[1].input.failure.Error, "NonRetryable");
});

test("CLI prints one JSON object with the final status and path", () => {
  const dir = mkdtempSync(join(tmpdir(), "certus-sm-cli-"));
  try {
    const out = spawnSync(
      process.execPath,
      [join(here, "run-local.mjs"), "--definition", join(here, "..", "certus-upload.asl.json"), "--input", '{"test_id":"t-2","tier":"raw"}',
        "--task-command", FAKE[0], "--env", `FAKE_TASK_DIR=${dir}`, "--env", "FAKE_UPLOAD_STATUS=denied"],
      { encoding: "utf8" },
    );
    assert.equal(out.status, 0, out.stderr);
    const result = JSON.parse(out.stdout);
    assert.equal(result.status, "SUCCEEDED");
    assert.deepEqual(result.states, ["RequestUpload", "IsPermitted", "Done"]);
    const bad = spawnSync(process.execPath, [join(here, "run-local.mjs"), "--definition"], { encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--definition: a value is required/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
