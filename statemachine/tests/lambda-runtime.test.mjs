// Self-test of the Lambda Runtime API emulator (lambda-runtime.mjs) with a stand-in bootstrap
// (fake-bootstrap.mjs): the process runs from its package with exactly the spec's environment, answers,
// function errors, init errors, exits, timeouts, warm reuse and scale-out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LambdaEmulator } from "./lambda-runtime.mjs";

const here = dirname(fileURLToPath(import.meta.url));

function withPackage(env, body, timeoutSeconds = 5) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "certus-pkg-"));
    copyFileSync(join(here, "fake-bootstrap.mjs"), join(dir, "bootstrap"));
    chmodSync(join(dir, "bootstrap"), 0o755);
    const arn = "arn:aws:lambda:eu-west-1:123456789012:function:fake";
    const emulator = new LambdaEmulator({ functions: { fake: { dir, env: { PATH: process.env.PATH, ...env }, timeoutSeconds, arn } } }, () => {});
    try {
      await body(emulator, dir);
    } finally {
      emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  "the bootstrap runs in its package with exactly the spec's environment plus the runtime API",
  withPackage({ ONLY: "this" }, async (emulator, dir) => {
    const { payload } = await emulator.invoke("fake", { do: "echo", n: 1 });
    assert.equal(payload.cwd, dir);
    assert.deepEqual(Object.keys(payload.env).sort(), ["AWS_LAMBDA_RUNTIME_API", "ONLY", "PATH"]);
    assert.match(payload.env.AWS_LAMBDA_RUNTIME_API, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(payload.event, { do: "echo", n: 1 });
    assert.equal(payload.arn, "arn:aws:lambda:eu-west-1:123456789012:function:fake");
    const again = await emulator.invoke("fake", { do: "echo" });
    assert.equal(again.payload.pid, payload.pid, "a warm instance is reused");
  }),
);

test(
  "concurrent invocations start a second instance",
  withPackage({}, async (emulator) => {
    const [a, b] = await Promise.all([emulator.invoke("fake", { do: "slow" }), emulator.invoke("fake", { do: "slow" })]);
    assert.notEqual(a.payload.pid, b.payload.pid);
  }),
);

test(
  "a function error, an exit without an answer and a timeout are reported by type",
  withPackage(
    {},
    async (emulator) => {
      assert.deepEqual(await emulator.invoke("fake", { do: "fail" }), { error: { errorType: "NonRetryable", errorMessage: "no" } });
      assert.equal((await emulator.invoke("fake", { do: "exit" })).error.errorType, "Runtime.ExitError");
      assert.equal((await emulator.invoke("fake", { do: "hang" })).error.errorType, "Sandbox.Timedout");
      assert.ok((await emulator.invoke("fake", { do: "echo" })).payload, "a new instance replaces the dead ones");
    },
    1,
  ),
);

test(
  "an init error is the invocation's error",
  withPackage({ FAKE_INIT_ERROR: "1" }, async (emulator) => {
    assert.deepEqual(await emulator.invoke("fake", { do: "echo" }), { error: { errorType: "Config", errorMessage: "bad init" } });
  }),
);

test("run-local.mjs --functions binds a Lambda task to its package: result, and a function error caught by type", async () => {
  const { runDefinition } = await import("./run-local.mjs");
  const dir = mkdtempSync(join(tmpdir(), "certus-pkg-"));
  try {
    copyFileSync(join(here, "fake-bootstrap.mjs"), join(dir, "bootstrap"));
    chmodSync(join(dir, "bootstrap"), 0o755);
    const functions = { functions: { fake: { dir, env: { PATH: process.env.PATH }, timeoutSeconds: 5, arn: "arn:aws:lambda:eu-west-1:123456789012:function:fake" } } };
    const task = (next) => ({
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke",
      Parameters: { FunctionName: "${FakeFunctionArn}", "Payload.$": "$" },
      ResultSelector: { "event.$": "$.Payload.event" },
      Catch: [{ ErrorEquals: ["NonRetryable"], ResultPath: "$.failure", Next: "Caught" }],
      ...next,
    });
    const definition = { StartAt: "Call", States: { Call: task({ End: true }), Caught: { Type: "Pass", End: true } } };
    const ok = await runDefinition({ definition, input: { do: "echo", n: 2 }, functions });
    assert.equal(ok.status, "SUCCEEDED");
    assert.deepEqual(ok.output, { event: { do: "echo", n: 2 } });
    const failed = await runDefinition({ definition, input: { do: "fail" }, functions });
    assert.deepEqual(failed.states, ["Call", "Caught"]);
    assert.equal(JSON.parse(failed.output.failure.Cause).errorType, "NonRetryable");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
