#!/usr/bin/env node
// A stand-in `bootstrap` for the emulator's self-test: a Lambda runtime client over the Runtime API that
// answers each event by its "do" field — echo (cwd, environment and event), fail, exit, or hang.
import { request } from "node:http";

const api = process.env.AWS_LAMBDA_RUNTIME_API;

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: api.split(":")[0], port: api.split(":")[1], method, path }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

if (process.env.FAKE_INIT_ERROR) {
  await call("POST", "/2018-06-01/runtime/init/error", JSON.stringify({ errorType: "Config", errorMessage: "bad init" }));
  process.exit(1);
}
for (;;) {
  const next = await call("GET", "/2018-06-01/runtime/invocation/next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  const event = JSON.parse(next.body);
  const base = `/2018-06-01/runtime/invocation/${id}`;
  if (event.do === "fail") {
    await call("POST", `${base}/error`, JSON.stringify({ errorType: "NonRetryable", errorMessage: "no" }));
  } else if (event.do === "exit") {
    process.exit(3);
  } else if (event.do === "hang") {
    await new Promise((resolve) => setTimeout(resolve, 60_000));
  } else {
    if (event.do === "slow") await new Promise((resolve) => setTimeout(resolve, 300));
    const answer = { cwd: process.cwd(), env: process.env, event, pid: process.pid, arn: next.headers["lambda-runtime-invoked-function-arn"] };
    await call("POST", `${base}/response`, JSON.stringify(answer));
  }
}
