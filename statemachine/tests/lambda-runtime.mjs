#!/usr/bin/env node
// A Lambda Runtime API emulator on loopback: each packaged function (a directory holding its `bootstrap`) runs
// as a process whose working directory is that package, with exactly the environment its spec gives plus
// AWS_LAMBDA_RUNTIME_API (this emulator's address for that instance). The process polls
//   GET  /2018-06-01/runtime/invocation/next            (an event: body + Lambda-Runtime-* headers)
//   POST /2018-06-01/runtime/invocation/{id}/response   (the result)
//   POST /2018-06-01/runtime/invocation/{id}/error      (a function error: {errorType, errorMessage})
//   POST /2018-06-01/runtime/init/error                 (init failed: every waiting invocation gets it)
// as the provided.al2023 runtime's clients do. An instance serves one invocation at a time and stays warm;
// concurrent invocations start more instances (as Lambda scales out). A process that exits without an answer
// is Runtime.ExitError; an invocation past the function's Timeout is Sandbox.Timedout (the instance killed).
//
// Spec (JSON): {"functions": {"<name>": {"dir": ABS_PATH, "env": {...}, "timeoutSeconds": N, "arn": "..."}}}.
// Library: new LambdaEmulator(spec).invoke(name, payload) → {payload} | {error: {errorType, errorMessage}};
// close() kills every instance. CLI: lambda-runtime.mjs --functions SPEC.json --function NAME --event JSON|@FILE
// prints {"payload": ...} or {"error": ...} (exit 0 either way; 2 on a harness error).
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const PREFIX = "/2018-06-01/runtime";
/** Lambda's synchronous invocation payload limit (request and response). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        reject(new Error(`body larger than ${MAX_PAYLOAD_BYTES} bytes`));
        request.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function functionError(errorType, errorMessage) {
  return { error: { errorType, errorMessage } };
}

function parseError(text, fallbackType) {
  try {
    const value = JSON.parse(text);
    if (value && typeof value.errorType === "string") {
      return { error: { errorType: value.errorType, errorMessage: String(value.errorMessage ?? "") } };
    }
  } catch {
    // not JSON: reported as it came
  }
  return functionError(fallbackType, text);
}

/** One execution environment: a runtime API server on loopback and the bootstrap process polling it. */
class Instance {
  constructor(name, spec, log) {
    this.name = name;
    this.spec = spec;
    this.log = log;
    this.current = null; // {id, payload, resolve, deadline, delivered}
    this.waiting = null; // the held /next response
    this.initError = null;
    this.exited = false;
    this.killed = false;
    this.reserved = false; // claimed by an invocation that has not reached invoke() yet
  }

  async start() {
    this.server = createServer((request, response) => this.route(request, response));
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address();
    const env = { ...this.spec.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` };
    this.child = spawn(join(this.spec.dir, "bootstrap"), [], { cwd: this.spec.dir, env, stdio: ["ignore", "pipe", "pipe"] });
    const forward = (chunk) => this.log(`[${this.name}] ${chunk.toString("utf8").trimEnd()}\n`);
    this.child.stdout.on("data", forward);
    this.child.stderr.on("data", forward);
    this.child.on("error", (error) => this.finish(functionError("Runtime.InvalidEntrypoint", `${this.name}: ${error.message}`)));
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      const how = signal ? `signal ${signal}` : `exit status ${code}`;
      this.finish(this.initError ?? functionError("Runtime.ExitError", `${this.name}: the runtime exited (${how}) without an answer`));
      this.server.close();
    });
  }

  get busy() {
    return this.reserved || this.current !== null;
  }

  invoke(payload) {
    this.reserved = false;
    return new Promise((resolve) => {
      const id = randomUUID();
      const deadline = Date.now() + this.spec.timeoutSeconds * 1000;
      this.current = { id, payload, resolve, deadline, delivered: false };
      this.timer = setTimeout(() => {
        this.finish(functionError("Sandbox.Timedout", `${this.name}: Task timed out after ${this.spec.timeoutSeconds} seconds`));
        this.kill();
      }, this.spec.timeoutSeconds * 1000);
      if (this.exited) this.finish(this.initError ?? functionError("Runtime.ExitError", `${this.name}: the runtime is not running`));
      else this.deliver();
    });
  }

  deliver() {
    if (!this.current || this.current.delivered || !this.waiting) return;
    const response = this.waiting;
    this.waiting = null;
    this.current.delivered = true;
    const body = JSON.stringify(this.current.payload);
    response.writeHead(200, {
      "Content-Type": "application/json",
      "Lambda-Runtime-Aws-Request-Id": this.current.id,
      "Lambda-Runtime-Deadline-Ms": String(this.current.deadline),
      "Lambda-Runtime-Invoked-Function-Arn": this.spec.arn,
      "Lambda-Runtime-Trace-Id": `Root=1-00000000-${this.current.id.replace(/-/g, "").slice(0, 24)};Sampled=0`,
    });
    response.end(body);
  }

  finish(outcome) {
    clearTimeout(this.timer);
    const current = this.current;
    this.current = null;
    if (current) current.resolve(outcome);
  }

  async route(request, response) {
    const reply = (status, value) => {
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(JSON.stringify(value));
    };
    let body;
    try {
      body = await readBody(request);
    } catch (error) {
      reply(413, { errorType: "RequestTooLarge", errorMessage: error.message });
      return;
    }
    const path = request.url ?? "";
    if (request.method === "GET" && path === `${PREFIX}/invocation/next`) {
      this.waiting = response;
      this.deliver();
      return;
    }
    if (request.method === "POST" && path === `${PREFIX}/init/error`) {
      this.initError = parseError(body, "Runtime.InitError");
      this.finish(this.initError);
      reply(202, { status: "OK" });
      return;
    }
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (request.method === "POST" && match) {
      if (!this.current || this.current.id !== decodeURIComponent(match[1])) {
        reply(400, { errorType: "InvalidRequestID", errorMessage: `no invocation ${match[1]} is running` });
        return;
      }
      if (match[2] === "error") {
        this.finish(parseError(body, request.headers["lambda-runtime-function-error-type"] ?? "Unhandled"));
      } else {
        try {
          this.finish({ payload: body === "" ? null : JSON.parse(body) });
        } catch {
          this.finish(functionError("Runtime.InvalidResponse", `${this.name}: the response is not JSON`));
        }
      }
      reply(202, { status: "OK" });
      return;
    }
    reply(404, { errorType: "NotFound", errorMessage: `${request.method} ${path}` });
  }

  kill() {
    this.killed = true;
    if (!this.exited) this.child.kill("SIGKILL");
    if (this.waiting) {
      this.waiting.destroy();
      this.waiting = null;
    }
  }
}

export class LambdaEmulator {
  /** spec: {functions: {name: {dir, env, timeoutSeconds, arn}}}; log: where the functions' output goes. */
  constructor(spec, log = (text) => process.stderr.write(text)) {
    this.functions = spec.functions;
    this.log = log;
    this.instances = new Map();
  }

  /** Invokes `name` synchronously with `payload`: {payload} or {error: {errorType, errorMessage}}. */
  async invoke(name, payload) {
    const spec = this.functions[name];
    if (!spec) throw new Error(`function ${name}: not in the spec`);
    const pool = this.instances.get(name) ?? [];
    this.instances.set(name, pool);
    let instance = pool.find((i) => !i.busy && !i.exited && !i.killed);
    if (instance) {
      instance.reserved = true;
    } else {
      instance = new Instance(name, spec, this.log);
      instance.reserved = true;
      pool.push(instance);
      await instance.start();
    }
    return instance.invoke(payload);
  }

  close() {
    for (const pool of this.instances.values()) for (const instance of pool) instance.kill();
  }
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: a value is required`);
    if (!["--functions", "--function", "--event"].includes(flag)) throw new Error(`${flag}: unknown option`);
    args[flag.slice(2)] = value;
  }
  for (const required of ["functions", "function", "event"]) {
    if (args[required] === undefined) throw new Error(`--${required} is required`);
  }
  return args;
}

async function main() {
  let args;
  let spec;
  let event;
  try {
    args = parseArgs(process.argv.slice(2));
    spec = JSON.parse(readFileSync(args.functions, "utf8"));
    event = JSON.parse(args.event.startsWith("@") ? readFileSync(args.event.slice(1), "utf8") : args.event);
  } catch (error) {
    process.stderr.write(`lambda-runtime: ${error.message}\nusage: lambda-runtime.mjs --functions SPEC.json --function NAME --event JSON|@FILE\n`);
    process.exit(2);
  }
  const emulator = new LambdaEmulator(spec);
  try {
    const outcome = await emulator.invoke(args.function, event);
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
  } catch (error) {
    process.stderr.write(`lambda-runtime: ${error.message}\n`);
    process.exitCode = 2;
  } finally {
    emulator.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
