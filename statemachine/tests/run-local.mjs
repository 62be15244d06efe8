#!/usr/bin/env node
// Runs a Certus-Assurance state machine definition locally with aws-local-stepfunctions, binding EVERY Task
// state to a local command instead of AWS:
//   Lambda task (arn:aws:states:::lambda:invoke, FunctionName "${XxxFunctionArn}"):
//     `<task command> xxx` with the Payload JSON on stdin; stdout is the function's JSON result. A non-zero
//     exit throws an Error named by the `errorType` printed on stdout ({"errorType":"Retryable",...}), whose
//     message (the execution's Cause) is that JSON, as Lambda reports it.
//     With a functions spec instead (`--functions SPEC.json`, see lambda-runtime.mjs), a Lambda task invokes
//     the packaged function through the Lambda Runtime API emulator: a function error throws an Error named
//     by its errorType, as Step Functions reports it.
//   ECS task (arn:aws:states:::ecs:runTask.sync): `<task command> run-scanner` with
//     {test_id, tool, runner:"fargate"} built from the container override environment (which is also passed
//     to the command's environment); a non-zero exit is States.TaskFailed, as ECS reports a stopped task.
//     With an ECS task spec instead (`--ecs-task SPEC.json`: {container, command, env}), the container's
//     command runs with exactly the task definition's environment plus the override's (the deploy-faithful
//     run: the scanner image's entry point in a sandbox, infra/tests/fargate-container.sh).
// Library: runDefinition(); CLI: see usage() below. Prints one JSON object:
//   {status: SUCCEEDED|FAILED|TIMED_OUT, output | error+cause, states: [top-level states entered, in order],
//    iterations: {"<map index>": [states entered in that Map iteration]}, retries: [...], caught: [...]}
import "./polyfill.cjs";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { StateMachine, ExecutionTimeoutError } from "aws-local-stepfunctions";
import { LambdaEmulator } from "./lambda-runtime.mjs";

const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
const ECS_RUN_TASK_SYNC = "arn:aws:states:::ecs:runTask.sync";
const ECS_FUNCTION = "run-scanner";
/** Step Functions' state payload limit: a larger task result fails the execution (not catchable). */
const MAX_PAYLOAD_BYTES = 256 * 1024;
/** A task command outliving its state's TimeoutSeconds is killed this long after States.Timeout fired. */
const KILL_GRACE_MS = 250;

/** `PrepareSourceFunctionArn` → `prepare-source`. */
export function functionNameFromSubstitution(name) {
  const match = /^([A-Z][A-Za-z0-9]*)FunctionArn$/.exec(name);
  if (!match) throw new Error(`substitution ${name}: not a <Name>FunctionArn substitution`);
  return match[1].replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/** Every state map in a definition, the top level first, then Map/Parallel bodies. */
function* stateMaps(definition) {
  yield definition.States;
  for (const state of Object.values(definition.States)) {
    const body = state.ItemProcessor ?? state.Iterator;
    if (body) yield* stateMaps(body);
    for (const branch of state.Branches ?? []) yield* stateMaps(branch);
  }
}

/** stateName → {kind: "lambda"|"ecs", functionName, timeoutSeconds}; throws on a Task it cannot bind. */
export function bindTasks(definition) {
  const bindings = new Map();
  for (const states of stateMaps(definition)) {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== "Task") continue;
      if (bindings.has(name)) throw new Error(`state ${name}: Task name used twice; overrides are per name`);
      const timeoutSeconds = state.TimeoutSeconds ?? 60;
      if (state.Resource === LAMBDA_INVOKE) {
        const target = state.Parameters?.FunctionName;
        const match = typeof target === "string" ? /^\$\{(\w+)\}$/.exec(target) : null;
        if (!match) throw new Error(`state ${name}: FunctionName must be a \${<Name>FunctionArn} substitution`);
        bindings.set(name, { kind: "lambda", functionName: functionNameFromSubstitution(match[1]), timeoutSeconds });
      } else if (state.Resource === ECS_RUN_TASK_SYNC) {
        bindings.set(name, { kind: "ecs", functionName: ECS_FUNCTION, timeoutSeconds });
      } else {
        throw new Error(`state ${name}: resource ${state.Resource} has no local binding`);
      }
    }
  }
  return bindings;
}

/** Replaces `${Name}` definition substitutions with local placeholders (function ARNs named as deployed). */
export function substitute(definition) {
  const text = JSON.stringify(definition).replace(/\$\{(\w+)\}/g, (_, name) =>
    name.endsWith("FunctionArn")
      ? `arn:aws:lambda:us-east-1:123456789012:function:${functionNameFromSubstitution(name)}`
      : `local-${name}`,
  );
  return JSON.parse(text);
}

/** Sets TimeoutSeconds of the named Task states (tests shorten a scanner's timeout this way). */
export function overrideTaskTimeouts(definition, timeouts) {
  const copy = structuredClone(definition);
  const remaining = new Set(Object.keys(timeouts));
  for (const states of stateMaps(copy)) {
    for (const [name, seconds] of Object.entries(timeouts)) {
      if (states[name]?.Type === "Task") {
        states[name].TimeoutSeconds = seconds;
        remaining.delete(name);
      }
    }
  }
  if (remaining.size > 0) throw new Error(`task timeout override: no Task state named ${[...remaining].join(", ")}`);
  return copy;
}

function namedError(name, message, { catchable = true } = {}) {
  const error = new Error(message);
  error.name = name;
  if (!catchable) {
    error.isCatchable = false;
    error.isRetryable = false;
  }
  return error;
}

function runCommand({ argv, functionName, input, env, timeoutMs, children }) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], [...argv.slice(1), functionName], { env, stdio: ["pipe", "pipe", "inherit"] });
    children.add(child);
    const chunks = [];
    let size = 0;
    let overflow = false;
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs + KILL_GRACE_MS);
    child.stdout.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        overflow = true;
        child.kill("SIGKILL");
      } else {
        chunks.push(chunk);
      }
    });
    child.on("error", (error) => {
      clearTimeout(killer);
      children.delete(child);
      reject(namedError("Harness.SpawnFailed", `${argv[0]}: ${error.message}`, { catchable: false }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      children.delete(child);
      resolve({ code, signal, overflow, stdout: Buffer.concat(chunks).toString("utf8") });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(JSON.stringify(input));
  });
}

function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function lambdaOverride(binding, options) {
  return async (parameters) => {
    const run = await runCommand({
      ...options,
      functionName: binding.functionName,
      input: parameters.Payload,
      timeoutMs: binding.timeoutSeconds * 1000,
    });
    if (run.overflow) {
      throw namedError("States.DataLimitExceeded", `${binding.functionName}: result larger than ${MAX_PAYLOAD_BYTES} bytes`, {
        catchable: false,
      });
    }
    const parsed = parseJson(run.stdout);
    if (run.code !== 0) {
      if (parsed.ok && parsed.value && typeof parsed.value.errorType === "string" && parsed.value.errorType !== "") {
        throw namedError(parsed.value.errorType, JSON.stringify(parsed.value));
      }
      const how = run.signal ? `killed by ${run.signal}` : `exit status ${run.code}`;
      throw namedError(
        "Runtime.ExitError",
        JSON.stringify({ errorType: "Runtime.ExitError", errorMessage: `${binding.functionName}: ${how} without an errorType` }),
      );
    }
    if (!parsed.ok) {
      throw namedError(
        "Runtime.InvalidResponse",
        JSON.stringify({ errorType: "Runtime.InvalidResponse", errorMessage: `${binding.functionName}: stdout is not JSON` }),
      );
    }
    return { ExecutedVersion: "$LATEST", StatusCode: 200, Payload: parsed.value };
  };
}

function emulatedLambdaOverride(binding, emulator) {
  return async (parameters) => {
    const outcome = await emulator.invoke(binding.functionName, parameters.Payload);
    if (outcome.error) throw namedError(outcome.error.errorType, JSON.stringify(outcome.error));
    if (Buffer.byteLength(JSON.stringify(outcome.payload)) > MAX_PAYLOAD_BYTES) {
      throw namedError("States.DataLimitExceeded", `${binding.functionName}: result larger than ${MAX_PAYLOAD_BYTES} bytes`, {
        catchable: false,
      });
    }
    return { ExecutedVersion: "$LATEST", StatusCode: 200, Payload: outcome.payload };
  };
}

function ecsUnbound(name) {
  return async () => {
    throw namedError("Harness.Unbound", `state ${name}: an ECS task needs --task-command`, { catchable: false });
  };
}

function containerEnvironment(parameters) {
  const overrides = parameters?.Overrides?.ContainerOverrides;
  if (!Array.isArray(overrides) || overrides.length !== 1) {
    throw namedError("States.Runtime", "ecs task: exactly one container override expected", { catchable: false });
  }
  const env = {};
  for (const { Name, Value } of overrides[0].Environment ?? []) env[Name] = String(Value);
  return { container: overrides[0].Name, env };
}

function ecsOverride(binding, options) {
  return async (parameters) => {
    const { container, env } = containerEnvironment(parameters);
    const input = { test_id: env.CERTUS_ASSURANCE_TEST_ID, tool: env.CERTUS_ASSURANCE_TOOL, runner: "fargate" };
    const run = await runCommand({
      ...options,
      env: { ...options.env, ...env },
      functionName: binding.functionName,
      input,
      timeoutMs: binding.timeoutSeconds * 1000,
    });
    return stoppedTask(container, run.signal ? 137 : run.code);
  };
}

/**
 * An ECS task run as its container (`--ecs-task`): `task.command` (the image's entry point in its sandbox) with
 * exactly the task definition's environment plus the container override's, nothing on stdin, its output on
 * stderr; the container's exit status is the task's, as ECS reports a stopped task.
 */
function containerOverride(binding, task, children) {
  return async (parameters) => {
    const { container, env } = containerEnvironment(parameters);
    if (container !== task.container) {
      throw namedError("States.Runtime", `ecs task: the task definition has no container named ${container}`, { catchable: false });
    }
    const exitCode = await new Promise((resolve, reject) => {
      const child = spawn(task.command[0], task.command.slice(1), { env: { ...task.env, ...env }, stdio: ["ignore", 2, 2] });
      children.add(child);
      const killer = setTimeout(() => child.kill("SIGKILL"), binding.timeoutSeconds * 1000 + KILL_GRACE_MS);
      child.on("error", (error) => {
        clearTimeout(killer);
        children.delete(child);
        reject(namedError("Harness.SpawnFailed", `${task.command[0]}: ${error.message}`, { catchable: false }));
      });
      child.on("close", (code, signal) => {
        clearTimeout(killer);
        children.delete(child);
        resolve(signal ? 137 : code);
      });
    });
    return stoppedTask(container, exitCode);
  };
}

/** What runTask.sync answers for a stopped task: its result, or States.TaskFailed for a non-zero exit. */
function stoppedTask(container, exitCode) {
  const task = { LastStatus: "STOPPED", Containers: [{ Name: container, ExitCode: exitCode }] };
  if (exitCode !== 0) {
    throw namedError("States.TaskFailed", JSON.stringify({ ...task, StopCode: "EssentialContainerExited", StoppedReason: "Essential container in task exited" }));
  }
  return { Tasks: [task] };
}

function summarize(event, summary) {
  const name = event.state?.name;
  const inIteration = event.index !== undefined;
  switch (event.type) {
    case "StateEntered":
      if (inIteration) (summary.iterations[event.index] ??= []).push(name);
      else summary.states.push(name);
      break;
    case "StateRetried":
      summary.retries.push({ state: name, attempt: event.retry.attempt, ...(inIteration ? { index: event.index } : {}) });
      break;
    case "StateFailed":
      summary.failed.push({ state: name, error: event.Error, ...(inIteration ? { index: event.index } : {}) });
      break;
    case "StateCaught":
      summary.caught.push({ state: name, next: event.catch.catcher.Next, ...(inIteration ? { index: event.index } : {}) });
      break;
    default:
      break;
  }
}

/**
 * Runs `definition` (raw, with ${...} substitutions) on `input`, every Task bound to `taskCommand` (argv array),
 * or, given `functions` (a lambda-runtime.mjs spec), every Lambda task to its packaged function (ECS tasks then
 * still run `taskCommand` when one is given); given `ecsTask` ({container, command, env}), every ECS task runs
 * that container command instead.
 * retryPauseMs: pause before every retry instead of the definition's backoff (undefined keeps the backoff).
 * taskTimeouts: {stateName: seconds} replacing those Tasks' TimeoutSeconds.
 */
export async function runDefinition({ definition, input, taskCommand, functions, ecsTask, env = process.env, retryPauseMs, taskTimeouts = {} }) {
  const hasCommand = Array.isArray(taskCommand) && taskCommand.length > 0;
  if (!hasCommand && functions === undefined) throw new Error("taskCommand (a non-empty argv array) or functions is required");
  const timed = overrideTaskTimeouts(definition, taskTimeouts);
  const bindings = bindTasks(timed);
  const children = new Set();
  const options = { argv: taskCommand, env, children };
  const emulator = functions === undefined ? null : new LambdaEmulator(functions);
  const handlers = {};
  const retryIntervalOverrides = {};
  for (const [name, binding] of bindings) {
    if (binding.kind === "lambda") {
      handlers[name] = emulator ? emulatedLambdaOverride(binding, emulator) : lambdaOverride(binding, options);
    } else {
      handlers[name] = ecsTask ? containerOverride(binding, ecsTask, children) : hasCommand ? ecsOverride(binding, options) : ecsUnbound(name);
    }
    if (retryPauseMs !== undefined) retryIntervalOverrides[name] = retryPauseMs;
  }
  const machine = new StateMachine(substitute(timed), { validationOptions: { checkPaths: true, checkArn: true } });
  const execution = machine.run(input, { overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides } });
  const summary = { states: [], iterations: {}, retries: [], failed: [], caught: [] };
  const collecting = (async () => {
    for await (const event of execution.eventLogs) summarize(event, summary);
  })();
  let outcome;
  try {
    outcome = { status: "SUCCEEDED", output: await execution.result };
  } catch (error) {
    if (error instanceof ExecutionTimeoutError) {
      outcome = { status: "TIMED_OUT", error: "States.Timeout", cause: "the execution's TimeoutSeconds elapsed" };
    } else {
      const inner = error.cause instanceof Error ? error.cause : error;
      outcome = { status: "FAILED", error: inner.name, cause: inner.message };
    }
  } finally {
    for (const child of children) child.kill("SIGKILL");
    emulator?.close();
  }
  await collecting;
  return { ...outcome, ...summary };
}

function usage() {
  return [
    "usage: run-local.mjs --definition FILE --input JSON|@FILE (--task-command 'CMD [ARGS]' | --functions SPEC.json)",
    "                     [--env KEY=VALUE]... [--retry-pause-ms N] [--task-timeout STATE=SECONDS]...",
    "Every Task runs `CMD ARGS <function-name>` (JSON on stdin and stdout); the environment is passed through.",
    "With --functions, every Lambda task invokes its packaged function (lambda-runtime.mjs) instead.",
    "With --ecs-task SPEC.json ({container, command, env}), every ECS task runs the container's command with",
    "exactly that environment plus the container override's; its exit status is the task's.",
  ].join("\n");
}

function parseArgs(argv) {
  const args = { env: {}, taskTimeouts: {} };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag}: a value is required`);
    i += 1;
    switch (flag) {
      case "--definition":
        args.definition = value;
        break;
      case "--input":
        args.input = value;
        break;
      case "--task-command":
        args.taskCommand = value.split(/\s+/).filter(Boolean);
        break;
      case "--functions":
        args.functions = JSON.parse(readFileSync(value, "utf8"));
        break;
      case "--ecs-task":
        args.ecsTask = JSON.parse(readFileSync(value, "utf8"));
        break;
      case "--env": {
        const at = value.indexOf("=");
        if (at <= 0) throw new Error(`--env ${value}: expected KEY=VALUE`);
        args.env[value.slice(0, at)] = value.slice(at + 1);
        break;
      }
      case "--retry-pause-ms":
        if (!/^\d+$/.test(value)) throw new Error(`--retry-pause-ms ${value}: expected milliseconds`);
        args.retryPauseMs = Number(value);
        break;
      case "--task-timeout": {
        const match = /^(\w+)=(\d+)$/.exec(value);
        if (!match || Number(match[2]) < 1) throw new Error(`--task-timeout ${value}: expected STATE=SECONDS (>= 1)`);
        args.taskTimeouts[match[1]] = Number(match[2]);
        break;
      }
      default:
        throw new Error(`${flag}: unknown option`);
    }
  }
  for (const required of ["definition", "input"]) {
    if (args[required] === undefined) throw new Error(`--${required} is required`);
  }
  if (args.taskCommand === undefined && args.functions === undefined) throw new Error("--task-command or --functions is required");
  return args;
}

async function main() {
  let args;
  let definition;
  let input;
  try {
    args = parseArgs(process.argv.slice(2));
    definition = JSON.parse(readFileSync(args.definition, "utf8"));
    const inputText = args.input.startsWith("@") ? readFileSync(args.input.slice(1), "utf8") : args.input;
    input = JSON.parse(inputText);
  } catch (error) {
    process.stderr.write(`run-local: ${error.message}\n${usage()}\n`);
    process.exit(2);
  }
  try {
    const result = await runDefinition({
      definition,
      input,
      taskCommand: args.taskCommand,
      functions: args.functions,
      ecsTask: args.ecsTask,
      env: { ...process.env, ...args.env },
      retryPauseMs: args.retryPauseMs,
      taskTimeouts: args.taskTimeouts,
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    process.stderr.write(`run-local: ${error.message}\n`);
    process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
