"""The function set as deployed, run locally: every packaged function (scripts/package-functions.sh) runs as a
process from its package directory through the Lambda Runtime API emulator (statemachine/tests/
lambda-runtime.mjs), with exactly the environment the translated template gives it plus endpoint, region and
its own credentials; each function is a moto IAM user whose policy is its role's inline policy from the
translated template, and moto enforces IAM once the deployment is made; every AWS request a function makes goes
through a recording proxy and is checked afterwards against that role's statements with iam_eval (ARNs,
wildcards, conditions, S3's 403 for a missing key without s3:ListBucket).

Scenarios: a scan submitted to `api` over the HTTP API's routes and authorizer (read from the translated
template) runs the scan state machine with every Lambda task bound to its packaged function and ends with a
bundle; the webhook route and the web console's page need no JWT while every /v1 route does (the page's
policy naming the WebSocket API); an execution that ended ABORTED reaches
finalize through the EventBridge rule's input transformer and ends the job FAILED with one scan_complete;
upload-request over the HTTP API runs the upload machine with the packaged request-upload and promote against
`certus trust serve` on loopback: a denial publishes nothing, a permit publishes every bundle file once; a
CodeCommit push delivered twice starts one scan; a signed GitHub push (redelivered) starts one scan that runs
to its bundle; a baseline scan; an archive uploaded through the API (to the work bucket) is scanned, and
another tenant naming it gets the missing-upload answer; ws's $connect against the JWKS from the work
bucket, $disconnect and a stream batch; a real WebSocket client through a stand-in of the WebSocket API (routes
and route selection from the template, its management endpoint on loopback) subscribes to a submitted scan and
receives every event once, in order, fed live by the events table's stream mapping, until ws closes the socket;
a profile of heavy tools runs them as the scanner task (the image's entry point from the Dockerfile, the task
definition's environment, read-only root, /tmp the only writable place, uid 10001, the task role's credentials:
infra/tests/fargate-container.sh); the scheduled sync-advisories, under its own role, stores the RustSec snapshot
(../shared/data, CERTUS_SHARED_DIR) served by a loopback HTTPS mirror whose CA it reads from config/, a scan
whose profile matches advisories fails before it and reports RUSTSEC-2021-0003 after it (the bundle naming the
snapshot's date and digest), and a truncated download leaves that snapshot current; a role without
s3:ListBucket is caught by the request check.

Environment (scripts/deployed-run.sh sets it): CERTUS_PACKAGES (the packages), CERTUS_MOTO_ENDPOINT (a moto of
this run only: IAM enforcement is server-wide), CERTUS_BIN (the certus CLI), CERTUS_DEPLOYED_REPORT (optional:
the per-function table of AWS actions observed against those granted is written there as Markdown).
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import io
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import iam_eval  # noqa: E402
import translated  # noqa: E402

REPO = os.path.dirname(translated.INFRA)
RUNNER = os.path.join(REPO, "statemachine", "tests", "run-local.mjs")
EMULATOR = os.path.join(REPO, "statemachine", "tests", "lambda-runtime.mjs")
GATEWAY_401 = '{"message":"Unauthorized"}'
# The principal of the Fargate scanner task (its task role) in the IAM check.
SCANNER_TASK = "scanner-task"
# What the scanner image's base (public.ecr.aws/docker/library/python:3.12-slim-bookworm) sets before the
# Dockerfile's own ENV.
PYTHON_IMAGE_ENV = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "LANG": "C.UTF-8"}
REGION = translated.REGION
ACCOUNT = translated.ACCOUNT


def moto_post(endpoint, path, body):
    request = urllib.request.Request(endpoint + path, data=body.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


# -- the recording proxy -----------------------------------------------------------------------------------------
class QuietHandler(http.server.BaseHTTPRequestHandler):
    """An HTTP/1.1 handler that logs nothing and reads a request body whole, chunked or not (the SDKs send both)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


class Recorder:
    """A loopback HTTP proxy in front of moto that forwards every request byte for byte (the SigV4 signature,
    Host included, stays valid) and records who asked what: the access key, method, path, query, JSON target
    and body, and moto's status."""

    def __init__(self, upstream):
        self.upstream = urllib.parse.urlparse(upstream)
        self.records = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(QuietHandler):
            def _forward(self):
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                headers["Content-Length"] = str(len(body))
                connection = http.client.HTTPConnection(recorder.upstream.hostname, recorder.upstream.port, timeout=60)
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = b"" if self.command == "HEAD" else response.read()
                recorder.record(self.command, self.path, self.headers, body, response.status, data)
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                length = response.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, method, path, headers, body, status, answer):
        match = re.search(r"Credential=([A-Z0-9]+)/", headers.get("Authorization", ""))
        entry = {
            "key": match.group(1) if match else None,
            "method": method,
            "path": path,
            "target": headers.get("X-Amz-Target"),
            "copy_source": headers.get("x-amz-copy-source"),
            "status": status,
            "answer": answer[:300].decode("utf-8", "replace") if status == 403 else "",
        }
        if entry["target"]:
            try:
                entry["json"] = json.loads(body or b"{}")
            except ValueError:
                entry["json"] = {}
        self.add(entry)

    def add(self, entry):
        with self.lock:
            self.records.append(entry)

    def close(self):
        self.server.shutdown()


def request_actions(entry, secret_arns):
    """(action, resource ARN, condition context, missing-key read?) of one recorded request."""
    target, body = entry.get("target"), entry.get("json") or {}
    if entry.get("service") == "execute-api":  # the WebSocket API's management endpoint (@connections)
        return [("execute-api:ManageConnections", entry["resource"], {}, False)]
    if target:
        service, operation = target.split(".", 1)
        if service.startswith("DynamoDB_"):
            table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{body.get('TableName')}"
            if body.get("IndexName"):
                table += f"/index/{body['IndexName']}"
            return [(f"dynamodb:{operation}", table, {}, False)]
        if service == "TrentService":
            key = body.get("KeyId", "")
            arn = key if key.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"
            return [(f"kms:{operation}", arn, {}, False)]
        if service == "AWSStepFunctions":
            return [(f"states:{operation}", body.get("stateMachineArn") or body.get("executionArn", ""), {}, False)]
        if service == "secretsmanager":
            secret = body.get("SecretId", "")
            return [(f"secretsmanager:{operation}", secret_arns.get(secret, secret), {}, False)]
        return [(f"{service}:{operation}", "*", {}, False)]
    url = urllib.parse.urlparse(entry["path"])
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    parts = url.path.lstrip("/").split("/", 1)
    bucket, key = parts[0], urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
    method = entry["method"]
    if not key:
        if method == "GET" and ("list-type" in query or not query):
            return [("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": query.get("prefix", [""])[0]}, False)]
        return [(f"s3:{method}Bucket?{url.query}", f"arn:aws:s3:::{bucket}", {}, False)]
    obj = f"arn:aws:s3:::{bucket}/{key}"
    if method in ("GET", "HEAD"):
        return [("s3:GetObject", obj, {}, entry["status"] == 404)]
    if method == "DELETE":
        return [("s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject", obj, {}, False)]
    out = [("s3:PutObject", obj, {}, False)]
    if entry.get("copy_source"):
        source = urllib.parse.unquote(entry["copy_source"].lstrip("/").split("?", 1)[0])
        out.append(("s3:GetObject", f"arn:aws:s3:::{source}", {}, False))
    return out


def check_request(statements, entry, secret_arns):
    """(action, resource, allowed?, why not) for each IAM action one recorded request needs from a role with
    `statements`: iam_eval's verdict; for a read that found no key, also s3:ListBucket (without it S3 answers
    403, not 404); a request moto refused (403) is never allowed."""
    out = []
    for action, resource, context, missing in request_actions(entry, secret_arns):
        ok = iam_eval.allowed(statements, action, resource, context)
        why = "" if ok else "not granted by its role"
        if ok and missing:
            bucket, key = resource[len("arn:aws:s3:::"):].split("/", 1)
            ok = iam_eval.allowed(statements, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key})
            why = "" if ok else "missing key read without s3:ListBucket: S3 answers 403, not 404"
        if entry["status"] == 403:
            ok, why = False, f"moto denied it: {entry.get('answer', '')}{'; ' + why if why else ''}"
        out.append((action, resource, ok, why))
    return out


# -- the deployment ----------------------------------------------------------------------------------------------
class Deployment:
    """The translated template made real on moto: tables, buckets, the signing key, the fingerprint secret, the
    state machines; one IAM user per function with its role's policy; the packages laid out outside the
    repository with their environments."""

    def __init__(self, endpoint, packages, overrides=None, withhold=None, config=None, endpoints=None):
        """`withhold`: {role logical id: action} statements granting that action are left out of that role
        (the test that a missing grant is caught); `config`: {key: text} objects put under config/ of the
        work bucket before any function starts (as an operator uploads them); `endpoints`: {binary: {variable:
        URL}} endpoints of the template's environment pointed at their loopback stand-ins (the WebSocket
        API's management endpoint)."""
        import boto3

        self.endpoint = endpoint
        self.dir = tempfile.mkdtemp(prefix="certus-deployed-")
        self.boto3 = boto3
        self.sam = translated.sam_template()
        self.cfn = translated.translate(self.sam)
        values = translated.parameters(self.cfn, overrides)
        moto_post(endpoint, "/moto-api/reset-auth", "inf")
        setup = self.client("kms", "setup", "setup")
        key_id = setup.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        secret = self.client("secretsmanager", "setup", "setup").create_secret(
            Name="certus-assurance-FingerprintKeySecret", SecretString=secrets.token_hex(32))
        refs = {"SigningKey": key_id, "FingerprintKeySecret": secret["ARN"]}
        self.secret_arns = {secret["ARN"]: secret["ARN"], secret["Name"]: secret["ARN"]}

        class Resolver(translated.Resolver):
            def ref(self, name):
                return refs[name] if name in refs else super().ref(name)

        self.resolver = Resolver(self.cfn, values)
        self.binaries = translated.binary_names(self.sam)
        resources = self.cfn["Resources"]
        for logical, resource in resources.items():
            kind = resource["Type"]
            props = self.resolver.resolve(resource.get("Properties", {}))
            if kind == "AWS::DynamoDB::Table":
                args = {k: props[k] for k in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")
                        if k in props}
                if "StreamSpecification" in props:
                    args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
                self.client("dynamodb", "setup", "setup").create_table(
                    TableName=self.resolver.ref(logical), BillingMode="PAY_PER_REQUEST", **args)
            elif kind == "AWS::S3::Bucket":
                self.client("s3", "setup", "setup").create_bucket(
                    Bucket=self.resolver.ref(logical), CreateBucketConfiguration={"LocationConstraint": REGION})
            elif kind == "AWS::StepFunctions::StateMachine":
                name = self.resolver.ref(logical).rsplit(":", 1)[1]
                # moto never runs it: the test runs the definition with run-local.mjs on the started input
                self.client("stepfunctions", "setup", "setup").create_state_machine(
                    name=name, roleArn=props["RoleArn"],
                    definition='{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}')
        for key, text in (config or {}).items():
            self.client("s3", "setup", "setup").put_object(
                Bucket=self.resolver.ref("WorkBucket"), Key=f"config/{key}", Body=text.encode())
        iam = self.client("iam", "setup", "setup")
        self.keys = {}
        self.statements = {}
        self.functions = {}

        def principal(name, role):
            """An IAM user with exactly `role`'s inline statements (less any withheld): its access key."""
            statements = iam_eval.role_statements(self.resolver.resolve(resources[role]))
            if withhold and role in withhold:
                statements = [s for s in statements if withhold[role] not in iam_eval.as_list(s.get("Action", []))]
            self.statements[name] = statements
            loose = [moto_statement(s) for s in statements]
            iam.create_user(UserName=f"fn-{name}")
            iam.put_user_policy(UserName=f"fn-{name}", PolicyName=name,
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": loose}))
            key = iam.create_access_key(UserName=f"fn-{name}")["AccessKey"]
            self.keys[key["AccessKeyId"]] = name
            return key

        for logical, binary in self.binaries.items():
            props = resources[logical]["Properties"]
            key = principal(binary, props["Role"]["Fn::GetAtt"][0])
            self.functions[binary] = {"logical": logical, "props": props, "key": key}
        task = resources["ScannerTaskDefinition"]["Properties"]
        self.task_key = principal(SCANNER_TASK, task["TaskRoleArn"]["Fn::GetAtt"][0])
        iam.create_user(UserName="harness")
        iam.put_user_policy(UserName="harness", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        admin = iam.create_access_key(UserName="harness")["AccessKey"]
        self.admin = (admin["AccessKeyId"], admin["SecretAccessKey"])
        moto_post(endpoint, "/moto-api/reset-auth", "0")
        self.recorder = Recorder(endpoint)
        self.endpoints = endpoints or {}
        self.spec_path = self.write_spec(packages)
        self.task_path = self.write_task(packages)

    def client(self, service, key=None, secret=None):
        key, secret = (key, secret) if key else self.admin
        return self.boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                                 aws_access_key_id=key, aws_secret_access_key=secret)

    def write_spec(self, packages):
        spec = {"functions": {}}
        for binary, function in self.functions.items():
            props = function["props"]
            logical = function["logical"]
            package = os.path.join(self.dir, "var-task", binary)
            os.makedirs(package)
            link_or_copy(os.path.join(packages, binary, "bootstrap"), os.path.join(package, "bootstrap"))
            # the SAM template's layer names (the translator suffixes a hash to the LayerVersion's id)
            layers = [os.path.join(os.path.abspath(packages), "layers", layer["Ref"], "bin")
                      for layer in self.sam["Resources"][logical]["Properties"].get("Layers", [])]
            env = dict(self.resolver.resolve(props.get("Environment", {}).get("Variables", {})))
            for variable, url in self.endpoints.get(binary, {}).items():
                assert variable in env, f"{binary} has no {variable} to point at a stand-in"
                env[variable] = url
            name = self.resolver.ref(logical)
            env.update({
                # Lambda's reserved variables (the runtime client reads them; PATH: only the layers' bin/,
                # since provided.al2023 itself brings none of the tools the functions run)
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "local",
                "LAMBDA_TASK_ROOT": package,
                "_HANDLER": props.get("Handler", "bootstrap"),
                "PATH": ":".join(layers),
                # endpoint, region and this function's own credentials
                "AWS_ENDPOINT_URL": self.recorder.endpoint,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": function["key"]["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": function["key"]["SecretAccessKey"],
                "AWS_EC2_METADATA_DISABLED": "true",
            })
            spec["functions"][binary] = {
                "dir": package, "env": env, "timeoutSeconds": props.get("Timeout", 3),
                "arn": self.resolver.get_att(logical, "Arn"),
            }
        path = os.path.join(self.dir, "functions.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        return path

    def write_task(self, packages):
        """The scanner task as run-local.mjs's --ecs-task runs it: the image's files (the package's images/scanner/
        opt, with bin/ links into the tool venvs as the Dockerfile's RUN line makes them: here scripts/
        install-tools.sh's, from the same pinned requirements), its ENV, USER, VOLUME mode and ENTRYPOINT read
        from the Dockerfile, the task definition's container environment, and the task role's own credentials
        plus the endpoint; the container runs in infra/tests/fargate-container.sh's sandbox."""
        with open(os.path.join(REPO, "infra", "images", "scanner", "Dockerfile"), encoding="utf-8") as f:
            dockerfile = f.read().replace("\\\n", " ")
        image_env = dict(PYTHON_IMAGE_ENV)
        for line in re.findall(r"^ENV (.+)$", dockerfile, re.M):
            image_env.update(dict(pair.split("=", 1) for pair in line.split()))
        user = re.search(r"^USER (\d+)$", dockerfile, re.M).group(1)
        entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.+\])$", dockerfile, re.M).group(1))
        [volume] = json.loads(re.search(r"^VOLUME (\[.+\])$", dockerfile, re.M).group(1))
        mode = re.search(rf"^RUN chmod (\d+) {re.escape(volume)}$", dockerfile, re.M).group(1)

        image = os.path.join(self.dir, "scanner-image", "opt")
        shutil.copytree(os.path.join(packages, "images", "scanner", "opt"), image, copy_function=link_or_copy)
        tools_bin, shown = os.path.join(image, "certus", "bin"), set()
        os.makedirs(tools_bin)
        for tool in ("semgrep", "bandit", "checkov", "detect-secrets"):
            target = os.path.realpath(os.path.join(os.environ["CERTUS_TOOLS_BIN_DIR"], tool))
            os.symlink(target, os.path.join(tools_bin, tool))
            venv = os.path.dirname(os.path.dirname(target))
            shown.add(venv)
            with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as f:
                home = re.search(r"^home = (.+)$", f.read(), re.M).group(1).strip()
            shown.add(os.path.dirname(os.path.realpath(home)))  # the Python the venv was made with

        definition = self.cfn["Resources"]["ScannerTaskDefinition"]["Properties"]
        [container] = self.resolver.resolve(definition["ContainerDefinitions"])
        assert [m["ContainerPath"] for m in container["MountPoints"]] == [volume], "the image's volume is the task's"
        assert container["ReadonlyRootFilesystem"] is True and container["User"] == user
        env = {**image_env, **{e["Name"]: str(e["Value"]) for e in container.get("Environment", [])}}
        env.update({
            "AWS_ENDPOINT_URL": self.recorder.endpoint, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": self.task_key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": self.task_key["SecretAccessKey"],
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        spec = {"container": container["Name"], "env": env,
                "command": [os.path.join(REPO, "infra", "tests", "fargate-container.sh"), image, user, mode,
                            *sorted(shown), "--", *entrypoint]}
        path = os.path.join(self.dir, "scanner-task.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        return path

    # -- calling the functions ---------------------------------------------------------------------------------
    def invoke(self, binary, event):
        out = subprocess.run(["node", EMULATOR, "--functions", self.spec_path, "--function", binary,
                              "--event", json.dumps(event)], capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise AssertionError(f"emulator failed: {out.stderr}")
        sys.stderr.write(out.stderr)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def run_machine(self, definition, execution_input):
        out = subprocess.run(["node", RUNNER, "--definition", os.path.join(REPO, "statemachine", definition),
                              "--input", json.dumps(execution_input), "--functions", self.spec_path,
                              "--ecs-task", self.task_path,
                              "--retry-pause-ms", "10"], capture_output=True, text=True, timeout=1200)
        sys.stderr.write(out.stderr)
        if out.returncode != 0:
            raise AssertionError(f"runner failed: {out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    # -- the HTTP API as the template declares it ------------------------------------------------------------
    def http(self, method, path, body=None, claims=None, headers=None):
        """API Gateway's HTTP API: the route the translated Body's paths select (the most specific), its
        authorizer (no claims on a JWT route: 401 before any function runs), then the v2 proxy event."""
        api = next(r for r in self.cfn["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"
                   and "Body" in r["Properties"])
        route, operation = None, None
        for template, operations in api["Properties"]["Body"]["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.sub(r"\\\{[^}+]+\\\}", "[^/]+", re.escape(template))) + "$"
            op = operations.get(method.lower()) or operations.get("x-amazon-apigateway-any-method")
            if op and re.match(pattern, path) and (route is None or "+}" in route):
                route, operation = template, op
        if route is None:
            return {"statusCode": 404, "body": "no route"}
        jwt = any("CertusJwt" in s for s in operation.get("security", []))
        if jwt and claims is None:
            return {"statusCode": 401, "body": GATEWAY_401}
        context = {
            "accountId": ACCOUNT, "apiId": "httpapi", "domainName": "httpapi.execute-api.eu-west-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10",
                     "userAgent": "deployed-run"},
            "requestId": secrets.token_hex(8), "routeKey": f"{method} {route}", "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 1796083200000,
        }
        if jwt:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event = {
            "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": context["domainName"], **(headers or {})},
            "requestContext": context, "isBase64Encoded": False,
        }
        if isinstance(body, bytes):
            # binary bodies (multipart uploads) reach the function base64-encoded, as API Gateway sends them
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        elif body is not None:
            event["body"] = body if isinstance(body, str) else json.dumps(body)
        outcome = self.invoke("api", event)
        if "error" in outcome:
            return {"statusCode": 502, "body": json.dumps(outcome["error"])}
        return outcome["payload"]

    def job(self, test_id, claims):
        reply = self.http("GET", f"/v1/security-scans/{test_id}", claims=claims)
        assert reply["statusCode"] == 200, reply
        return json.loads(reply["body"])

    def executions(self, machine="ScanStateMachine"):
        sfn = self.client("stepfunctions")
        arn = self.resolver.ref(machine)
        out = []
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            out.append((execution["name"], json.loads(described["input"])))
        return out

    def events(self, test_id):
        table = self.resolver.ref("EventsTable")
        items = self.client("dynamodb").query(
            TableName=table, KeyConditionExpression="test_id = :p",
            ExpressionAttributeValues={":p": {"S": test_id}})["Items"]
        return items

    # -- the IAM check -----------------------------------------------------------------------------------------
    def checked_requests(self):
        """(function, action, resource, allowed?, why) for every recorded request of a function."""
        out = []
        for entry in self.recorder.records:
            binary = self.keys.get(entry["key"])
            if binary is None:
                continue
            for action, resource, ok, why in check_request(self.statements[binary], entry, self.secret_arns):
                out.append((binary, action, resource, ok, why))
                if entry["status"] == 404 and action == "s3:GetObject":
                    # the read of a missing key used s3:ListBucket too (that is what made it a 404)
                    bucket = resource.split("/", 1)[0]
                    out.append((binary, "s3:ListBucket", bucket, ok, why))
        return out

    def close(self):
        self.recorder.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def link_or_copy(source, destination):
    """A hard link where it can (the debug binaries are large), else a copy."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def matches(pattern, event):
    """EventBridge's matching for the patterns the template uses: every key of the pattern present, its value
    one of the listed ones (nested objects matched recursively)."""
    for key, expected in pattern.items():
        if key not in event:
            return False
        if isinstance(expected, dict):
            if not isinstance(event[key], dict) or not matches(expected, event[key]):
                return False
        elif isinstance(event[key], list):
            if not any(value in expected for value in event[key]):
                return False
        elif event[key] not in expected:
            return False
    return True


def moto_statement(statement):
    """A statement as moto can enforce it. moto reads a Condition whose context key it does not supply as an
    explicit Deny, so the copy has none; it checks resources only for S3 (every other service is asked about
    "*"), so a non-S3 statement's Resource becomes "*". Both widen; the exact check (ARNs and conditions for
    every service) is iam_eval on the recorded requests."""
    loose = {k: v for k, v in statement.items() if k != "Condition"}
    if not all(a.lower().startswith("s3:") for a in iam_eval.as_list(statement.get("Action", []))):
        loose["Resource"] = "*"
    return loose


def granted_actions(statements):
    out = set()
    for statement in statements:
        if statement["Effect"] == "Allow":
            out.update(iam_eval.as_list(statement.get("Action", [])))
    return out


# -- the WebSocket API as deployed ---------------------------------------------------------------------------------
class WebSocketGateway:
    """API Gateway's WebSocket API as the template declares it, on loopback (a real WebSocket server, the
    `websockets` library): an upgrade becomes ws's `$connect` (query string and all; anything but 200 refuses
    the handshake with that status), each text frame a route chosen by the API's RouteSelectionExpression
    (`$request.body.action`: a declared route key, else `$default`), the socket's end `$disconnect`. Its
    management API (`POST`/`DELETE /{stage}/@connections/{id}`, what ws's CERTUS_ASSURANCE_WS_ENDPOINT names)
    sends to or closes that socket; each call is recorded with the caller's access key for the IAM check."""

    def __init__(self):
        import websockets.sync.server

        self.deployment = None  # set once the deployment exists (its ws function is the integration)
        self.sockets = {}
        self.lock = threading.Lock()
        self.server = websockets.sync.server.serve(self._session, "127.0.0.1", 0, process_request=self._connect)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/live"
        gateway = self

        class Management(QuietHandler):
            def _call(self):
                body = self._body()
                status = gateway._manage(self.command, self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_DELETE = do_GET = _call

        self.management = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Management)
        self.endpoint = f"http://127.0.0.1:{self.management.server_address[1]}/live"
        threading.Thread(target=self.management.serve_forever, daemon=True).start()

    def _event(self, route, connection_id, kind, body=None, query=None):
        domain = "websocket.execute-api.eu-west-1.amazonaws.com"
        event = {"requestContext": {"routeKey": route, "connectionId": connection_id, "eventType": kind,
                                    "messageDirection": "IN", "stage": "live", "connectedAt": 1796083200000,
                                    "requestTimeEpoch": 1796083200012, "requestTime": "01/Dec/2026:00:00:00 +0000",
                                    "identity": {"sourceIp": "192.0.2.10"}, "requestId": secrets.token_hex(8),
                                    "extendedRequestId": secrets.token_hex(8), "domainName": domain,
                                    "apiId": self.deployment.resolver.ref("WebSocketApi")},
                 "isBase64Encoded": False}
        if kind == "CONNECT":
            event["headers"] = {"Host": domain}
            event["multiValueHeaders"] = {"Host": [domain]}
        if query:
            event["queryStringParameters"] = query
        if body is not None:
            event["body"] = body
        outcome = self.deployment.invoke("ws", event)
        if "error" in outcome:
            return 500
        return outcome["payload"].get("statusCode", 200)

    def _connect(self, connection, request):
        connection_id = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                                for _ in range(15)) + "="
        url = urllib.parse.urlparse(request.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        status = self._event("$connect", connection_id, "CONNECT", query=query)
        if status != 200:
            return connection.respond(status, "Forbidden\n")
        connection.connection_id = connection_id
        with self.lock:
            self.sockets[connection_id] = connection
        return None

    def _session(self, connection):
        connection_id = connection.connection_id
        routes = {r["Properties"]["RouteKey"] for r in self.deployment.cfn["Resources"].values()
                  if r["Type"] == "AWS::ApiGatewayV2::Route"}
        try:
            for message in connection:
                try:
                    action = json.loads(message).get("action")
                except (ValueError, AttributeError):
                    action = None
                route = action if isinstance(action, str) and action in routes else "$default"
                self._event(route, connection_id, "MESSAGE", body=message)
        except Exception:  # the client went away mid-frame: API Gateway still sends $disconnect
            pass
        with self.lock:
            self.sockets.pop(connection_id, None)
        self._event("$disconnect", connection_id, "DISCONNECT")

    def _manage(self, method, path, headers, body):
        match = re.fullmatch(r"/live/@connections/([^/?]+)", urllib.parse.urlparse(path).path)
        if match is None:
            return 404
        connection_id = urllib.parse.unquote(match.group(1))
        key = re.search(r"Credential=([A-Z0-9]+)/", headers.get("Authorization", ""))
        api = self.deployment.resolver.ref("WebSocketApi")
        self.deployment.recorder.add({
            "key": key.group(1) if key else None, "method": method, "path": path, "target": None, "status": 200,
            "service": "execute-api",
            "resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/live/{method}/@connections/{connection_id}",
        })
        with self.lock:
            connection = self.sockets.get(connection_id)
        if connection is None:
            return 410
        if method == "POST":
            connection.send(body.decode("utf-8"))
        elif method == "DELETE":
            connection.close()
        return 200

    def close(self):
        self.server.shutdown()
        self.management.shutdown()


class StreamPump:
    """The events table's stream mapping as the template declares it (StartingPosition, BatchSize): records read
    from moto's DynamoDB stream, handed to the packaged ws function in batches, in order, while `pumping`."""

    def __init__(self, deployment):
        self.d = deployment
        mapping = next(e["Properties"] for e in deployment.sam["Resources"]["WsFunction"]["Properties"]["Events"].values()
                       if e["Type"] == "DynamoDB")
        self.batch_size = mapping["BatchSize"]
        table = deployment.client("dynamodb").describe_table(TableName=deployment.resolver.ref("EventsTable"))
        self.stream_arn = table["Table"]["LatestStreamArn"]
        self.streams = deployment.client("dynamodbstreams")
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        self.iterators = [self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=mapping["StartingPosition"],
        )["ShardIterator"] for shard in shards]
        self.stop = threading.Event()
        self.failures = []

    def drain(self):
        """Every record written since the last call, delivered; returns how many."""
        delivered = 0
        for i, iterator in enumerate(self.iterators):
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator)
                iterator = page.get("NextShardIterator")
                self.iterators[i] = iterator
                records = page["Records"]
                if not records:
                    break
                for start in range(0, len(records), self.batch_size):
                    batch = [self.lambda_record(r) for r in records[start:start + self.batch_size]]
                    outcome = self.d.invoke("ws", {"Records": batch})
                    if "error" in outcome:
                        self.failures.append(outcome["error"])
                    delivered += len(batch)
        return delivered

    def lambda_record(self, record):
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if created is not None:
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": dynamodb,
                "eventSource": "aws:dynamodb", "awsRegion": REGION, "eventSourceARN": self.stream_arn}

    def pumping(self):
        """A context manager: the mapping polls in the background until the block ends, then drains once more."""
        pump = self

        class Pumping:
            def __enter__(self):
                self.thread = threading.Thread(target=self.run, daemon=True)
                self.thread.start()
                return pump

            def run(self):
                while not pump.stop.wait(0.5):
                    pump.drain()

            def __exit__(self, *exc):
                pump.stop.set()
                self.thread.join()
                pump.drain()
                return False

        return Pumping()


# -- fixtures ---------------------------------------------------------------------------------------------------
class GitServer:
    """`git daemon` on loopback serving one repository: a manifest with builtin tools, a lock file and a
    planted fake key (so the secrets scanner finds something)."""

    def __init__(self, root):
        self.root = root
        repo = os.path.join(root, "demo.git")
        work = os.path.join(root, "work")
        os.makedirs(work)
        files = {
            "certus.json": json.dumps({"product": "demo", "version": "1", "profiles": [
                {"name": "light", "tools": [{"id": "sbom", "config": {"advisories": "off"}}, "secrets"],
                 "thresholds": {}},
                {"name": "heavy", "tools": ["secrets", "bandit", "detect-secrets"], "thresholds": {}},
                {"name": "deps", "tools": ["sbom"], "thresholds": {}}]}),
            # smallvec 1.6.0 is affected by RUSTSEC-2021-0003 (the "deps" profile matches it)
            "Cargo.lock": 'version = 3\n\n[[package]]\nname = "demo"\nversion = "0.1.0"\ndependencies = ["smallvec"]\n\n'
                          '[[package]]\nname = "smallvec"\nversion = "1.6.0"\n'
                          'source = "registry+https://github.com/rust-lang/crates.io-index"\n',
            "config/settings.py": 'aws_secret = "AKIAQX4NT7RZ2M5WCJ3E"\n',
        }
        self.files = files
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(work, path)) or work, exist_ok=True)
            with open(os.path.join(work, path), "w", encoding="utf-8") as f:
                f.write(text)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", work]
        subprocess.run(["git", "init", "-q", "-b", "main", work], check=True)
        subprocess.run(git + ["add", "."], check=True)
        subprocess.run(git + ["commit", "-q", "-m", "demo"], check=True)
        subprocess.run(["git", "clone", "-q", "--bare", work, repo], check=True)
        self.commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                                     text=True).stdout.strip()
        self.port = free_port()
        self.process = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={root}", "--listen=127.0.0.1",
             f"--port={self.port}", "--informative-errors", root],
            # `git daemon` runs git-daemon as a child: a session of its own is stopped as a whole, and holds
            # none of this process's output pipes
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if subprocess.run(["git", "ls-remote", self.url()], capture_output=True).returncode == 0:
                break
            threading.Event().wait(0.05)

    def url(self):
        return f"git://127.0.0.1:{self.port}/demo.git"

    def close(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait()


class AdvisoryMirror:
    """An HTTPS server on loopback standing in for the advisory snapshot's host: a CA and a server certificate
    for 127.0.0.1 made by openssl at set-up (the CA reaches sync-advisories only as the AdvisoryCaKey object,
    as an operator's private mirror's would), serving whatever bytes `body` holds at `PATH`."""
    PATH = "/rustsec/advisory-db.tar.gz"

    def __init__(self, root):
        import ssl

        d = os.path.join(root, "advisory-mirror")
        os.makedirs(d)
        ca_key, ca, key, csr, cert, ext = (os.path.join(d, n) for n in
                                           ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "srv.ext"))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        subprocess.run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1",
                        "-subj", f"/CN=advisory mirror test CA {os.getpid()}"], check=True, capture_output=True)
        subprocess.run(["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
                       check=True, capture_output=True)
        with open(ext, "w", encoding="utf-8") as f:
            f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                        "-out", cert, "-days", "1", "-extfile", ext], check=True, capture_output=True)
        with open(ca, encoding="utf-8") as f:
            self.ca_pem = f.read()
        self.body = b""
        self.requests = 0
        mirror = self

        class Handler(QuietHandler):
            def do_GET(self):
                mirror.requests += 1
                found = self.path == AdvisoryMirror.PATH and mirror.body
                payload = mirror.body if found else b""
                self.send_response(200 if found else 404)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return f"https://127.0.0.1:{self.server.server_address[1]}{self.PATH}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def rustsec_archive():
    """The RustSec snapshot of ../shared/data (CERTUS_SHARED_DIR) as a .tar.gz, or None when it is absent."""
    shared = os.environ.get("CERTUS_SHARED_DIR", os.path.join(REPO, "..", "shared"))
    db = os.path.join(shared, "data", "rustsec-advisory-db")
    if not os.path.isdir(db):
        return None
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        archive.add(db, arcname="advisory-db-main", filter=lambda info: None if info.name.endswith("/.git") else info)
    return out.getvalue()


def b64url(data):
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class IdentityProvider:
    """An ES256 signing key made at test time with openssl, its JWKS, and tokens it signs."""

    def __init__(self, root):
        self.key = os.path.join(root, "idp-key.pem")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.key],
                       check=True, capture_output=True)
        public = subprocess.run(["openssl", "ec", "-in", self.key, "-pubout", "-outform", "DER"],
                                check=True, capture_output=True).stdout
        point = public[-65:]  # the uncompressed point 04 || x || y ends the SubjectPublicKeyInfo
        self.jwks = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
                                          "x": b64url(point[1:33]), "y": b64url(point[33:])}]})

    def token(self, claims):
        import time

        now = int(time.time())
        body = {"iat": now, "nbf": now, "exp": now + 600, **claims}
        signing_input = f"{b64url(json.dumps({'alg': 'ES256', 'typ': 'JWT', 'kid': 'k1'}).encode())}." \
                        f"{b64url(json.dumps(body).encode())}"
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        # DER SEQUENCE { INTEGER r, INTEGER s } → r || s, 32 bytes each
        r_len = der[3]
        r = der[4:4 + r_len]
        s_len = der[5 + r_len]
        s = der[6 + r_len:6 + r_len + s_len]
        raw = r[-32:].rjust(32, b"\0") + s[-32:].rjust(32, b"\0")
        return f"{signing_input}.{b64url(raw)}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TrustServer:
    """`certus trust serve` (the Trust contract's development server) on a fixed loopback port: permitting,
    with the deployment's raw bucket in its permits, or denying (it pins a signer that is not Assurance's)."""

    def __init__(self, port):
        self.port = port
        self.process = None

    def start(self, raw_bucket, deny=False):
        self.stop()
        command = [os.environ["CERTUS_BIN"], "trust", "serve", "--addr", f"127.0.0.1:{self.port}",
                   "--raw-bucket", raw_bucket]
        if deny:
            command += ["--pin-key", "sha256:" + "0" * 64]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            threading.Event().wait(0.05)
        raise AssertionError("certus trust serve did not listen")

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


# -- the scenarios ------------------------------------------------------------------------------------------------
DEPLOYMENT = None
MIRROR = None
GIT = None
SCRATCH = None
TRUST = None
IDP = None
GATEWAY = None
PARAMETERS = {}
CONFIG = {}
REPOSITORY = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:demo"
# A GitHub registration (its clone URL the loopback git daemon's, filled in at set-up; its secret an object
# beside the registrations) and a CodeCommit one.
GITHUB_SECRET = secrets.token_hex(24)
REGISTRATIONS = f"""
[[registrations]]
id = "demo-github"
provider = "github"
repository = "acme/demo"
clone_url = "{{clone_url}}"
secret = "webhook-secrets/demo-github.secret"
branches = ["main"]
manifest_path = "certus.json"
profile = "light"
workspace_id = "ws-acme"
tenant = "tenant-1"
component_id = "demo"
assessment_id = "push"

[[registrations]]
id = "demo-codecommit"
provider = "codecommit"
repository = "{REPOSITORY}"
clone_url = "https://git-codecommit.{REGION}.amazonaws.com/v1/repos/demo"
branches = ["main"]
manifest_path = "certus.json"
profile = "light"
workspace_id = "ws-acme"
tenant = "tenant-1"
component_id = "demo"
assessment_id = "push"
"""


def setUpModule():
    global DEPLOYMENT, GIT, SCRATCH, TRUST, IDP, GATEWAY, MIRROR
    endpoint, packages = os.environ.get("CERTUS_MOTO_ENDPOINT"), os.environ.get("CERTUS_PACKAGES")
    if not endpoint or not packages or not os.environ.get("CERTUS_BIN"):
        raise unittest.SkipTest("CERTUS_MOTO_ENDPOINT, CERTUS_PACKAGES and CERTUS_BIN are set by scripts/deployed-run.sh")
    SCRATCH = tempfile.mkdtemp(prefix="certus-deployed-git-")
    GIT = GitServer(SCRATCH)
    IDP = IdentityProvider(SCRATCH)
    CONFIG["jwks.json"] = IDP.jwks
    MIRROR = AdvisoryMirror(SCRATCH)
    CONFIG["advisory-ca.pem"] = MIRROR.ca_pem
    TRUST = TrustServer(free_port())
    # Parameters beyond infra/tests/fixtures/parameters.json: Trust on loopback (plain http is allowed to
    # loopback only) at this run's port, push registrations for one CodeCommit repository, the identity
    # provider's JWKS for the WebSocket API.
    # The git server runs on loopback, which git remotes may reach only when allow-listed (FetchAllowHosts).
    # The scanner image counts as pushed (ScannerImageTag): its task runs as infra/tests/fargate-container.sh.
    PARAMETERS.update({"TrustBaseUrl": f"http://127.0.0.1:{TRUST.port}", "PushRegistrationsKey": "triggers.toml",
                       "FetchAllowHosts": "127.0.0.1",
                       # an image is "pushed": launch-scanners plans the heavy tools for the scanner task
                       "ScannerImageTag": "deployed-run",
                       "PushRepositoryArns": [REPOSITORY], "JwksObjectKey": "jwks.json",
                       # sync-advisories fetches from the loopback mirror, trusting its CA from config/
                       "AdvisorySnapshotUrl": MIRROR.url(), "AdvisoryCaKey": "advisory-ca.pem"})
    CONFIG["triggers.toml"] = REGISTRATIONS.replace("{clone_url}", GIT.url())
    CONFIG["webhook-secrets/demo-github.secret"] = GITHUB_SECRET
    GATEWAY = WebSocketGateway()
    DEPLOYMENT = Deployment(endpoint, packages, PARAMETERS, config=CONFIG,
                            endpoints={"ws": {"CERTUS_ASSURANCE_WS_ENDPOINT": GATEWAY.endpoint}})
    GATEWAY.deployment = DEPLOYMENT


def tearDownModule():
    if DEPLOYMENT is not None:
        report = os.environ.get("CERTUS_DEPLOYED_REPORT")
        if report:
            with open(report, "w", encoding="utf-8") as f:
                f.write(actions_table(DEPLOYMENT))
        DEPLOYMENT.close()
    if GATEWAY is not None:
        GATEWAY.close()
    if GIT is not None:
        GIT.close()
    if MIRROR is not None:
        MIRROR.close()
    if TRUST is not None:
        TRUST.stop()
    if SCRATCH is not None:
        shutil.rmtree(SCRATCH, ignore_errors=True)


def actions_table(d):
    """Markdown: per function, the AWS actions it was seen to use against those its role grants."""
    observed = {}
    for binary, action, _resource, ok, _why in d.checked_requests():
        observed.setdefault(binary, set()).add(action + ("" if ok else " (DENIED)"))
    lines = ["| function | observed | granted, not observed |", "|---|---|---|"]
    for binary in sorted(d.statements):
        seen = sorted(observed.get(binary, set()))
        unused = sorted(a for a in granted_actions(d.statements[binary])
                        if not any(iam_eval.wildcard(a, o.split(" ")[0], case_sensitive=False) for o in seen))
        lines.append(f"| {binary} | {', '.join(seen) or '(not run)'} | {', '.join(unused)} |")
    return "\n".join(lines) + "\n"


CLAIMS = {"iss": "https://issuer.example.invalid/", "aud": "certus-assurance", "sub": "tenant-1",
          "certus_workspaces": "[ws-acme]"}


def submit(claims=CLAIMS):
    return DEPLOYMENT.http("POST", "/v1/security-scans", {
        "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1", "source_type": "git",
        "git_url": GIT.url(), "branch": "main", "manifest_path": "certus.json", "profile": "light",
    }, claims)


def terminal_events(test_id):
    return [e for e in DEPLOYMENT.events(test_id) if '"scan_complete"' in json.dumps(e)]


class DeployedRun(unittest.TestCase):
    def test_1_gateway_routes_and_authorizer_as_the_template_declares(self):
        d = DEPLOYMENT
        self.assertEqual(submit(claims=None)["statusCode"], 401, "a /v1 route without a JWT stops at the gateway")
        health = d.http("GET", "/health")
        self.assertEqual(health["statusCode"], 200, health)
        # The webhook route has no JWT authorizer: the function itself answers (unsigned: its own 401).
        hook = d.http("POST", "/v1/webhooks/github", "{}", headers={"x-github-event": "push"})
        self.assertEqual(hook["statusCode"], 401, hook)
        self.assertNotEqual(hook["body"], GATEWAY_401, hook)
        # The web console's page has no authorizer either: the packaged api function answers it, its policy
        # naming the WebSocket API (the function's stream base) as the one origin live progress may come from.
        page = d.http("GET", "/")
        self.assertEqual(page["statusCode"], 200, page)
        self.assertIn('<script src="/console/app.js"', page["body"])
        with open(d.spec_path, encoding="utf-8") as f:
            base = json.load(f)["functions"]["api"]["env"]["CERTUS_ASSURANCE_STREAM_BASE"]
        origin = base.rsplit("/", 1)[0]
        self.assertEqual(origin, f"wss://{d.resolver.ref('WebSocketApi')}.execute-api.{REGION}.{translated.URL_SUFFIX}")
        policy = page["headers"]["content-security-policy"]
        self.assertIn(f"connect-src 'self' {origin}; ", policy)
        self.assertEqual(re.findall(r"wss?://[^ ;]+", policy), [origin], policy)
        self.assertEqual(d.http("GET", "/console/app.js")["statusCode"], 200)
        self.assertEqual(d.http("GET", "/v1/session")["statusCode"], 401, "the API behind the console needs a JWT")

    def test_2_a_submitted_scan_runs_every_packaged_step_and_ends_with_a_bundle(self):
        d = DEPLOYMENT
        before = {name for name, _ in d.executions()}
        reply = submit()
        self.assertEqual(reply["statusCode"], 202, reply)
        test_id = json.loads(reply["body"])["test_id"]
        started = [(name, payload) for name, payload in d.executions() if name not in before]
        self.assertEqual(started, [(test_id, {"test_id": test_id})], "one execution named by the job")
        summary = d.run_machine("certus-assurance.asl.json", {"test_id": test_id})
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        self.assertEqual(summary["states"], ["PrepareSource", "FetchManifest", "VerifyManifest", "LaunchScanners",
                                             "RunScanners", "BuildBundle", "Finalize", "Done"], summary)
        job = d.job(test_id, CLAIMS)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        work = d.resolver.ref("WorkBucket")
        self.assertTrue(job["bundle_location"].startswith(f"s3://{work}/bundles/{test_id}"), job)
        listed = d.client("s3").list_objects_v2(Bucket=work, Prefix=f"bundles/{test_id}/")
        keys = {o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])}
        for name in ("bundle-index.json", "attestation.intoto.json", "secrets.sarif.json", "sbom.sarif.json"):
            self.assertIn(name, keys)
        self.assertIn("secrets", json.dumps(job.get("findings_summary")), "the planted key was found")
        self.assertEqual(len(terminal_events(test_id)), 1)

    def test_3_an_aborted_and_a_timed_out_execution_end_the_job_failed_once_through_the_rule(self):
        for status in ("ABORTED", "TIMED_OUT"):
            with self.subTest(status=status):
                self.execution_ended(status)

    def execution_ended(self, status):
        d = DEPLOYMENT
        reply = submit()
        self.assertEqual(reply["statusCode"], 202, reply)
        test_id = json.loads(reply["body"])["test_id"]
        rule = next(r for r in d.cfn["Resources"].values() if r["Type"] == "AWS::Events::Rule"
                    and r["Properties"].get("EventPattern", {}).get("detail-type") == ["Step Functions Execution Status Change"])
        transformer = d.resolver.resolve(rule["Properties"]["Targets"][0]["InputTransformer"])
        machine = d.resolver.ref("ScanStateMachine")
        status_change = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                         "detail": {"name": test_id, "status": status, "stateMachineArn": machine,
                                    "executionArn": machine.replace(":stateMachine:", ":execution:") + f":{test_id}"}}
        template = transformer["InputTemplate"]
        values = {}
        for key, path in transformer["InputPathsMap"].items():
            value = status_change
            for part in path.removeprefix("$.").split("."):
                value = value[part]
            values[key] = value

        def fill(match):
            # EventBridge: a placeholder inside a JSON string gets the bare text, one standing alone a JSON value
            inside = template[:match.start()].count('"') % 2 == 1
            value = values[match.group(1)]
            return value if inside else json.dumps(value)

        event = re.sub(r"<(\w+)>", fill, template)
        for _ in range(2):  # EventBridge delivers at least once
            outcome = d.invoke("finalize", json.loads(event))
            self.assertNotIn("error", outcome, outcome)
        job = d.job(test_id, CLAIMS)
        self.assertEqual(job["status"], "FAILED", job)
        self.assertTrue(any(status in e for e in job.get("errors", [])), job)
        self.assertEqual(len(terminal_events(test_id)), 1)

    def scanned(self):
        reply = submit()
        self.assertEqual(reply["statusCode"], 202, reply)
        test_id = json.loads(reply["body"])["test_id"]
        summary = DEPLOYMENT.run_machine("certus-assurance.asl.json", {"test_id": test_id})
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        return test_id

    def upload(self, test_id):
        """upload-request over the HTTP API, then the upload machine with the execution the api started."""
        d = DEPLOYMENT
        before = {name for name, _ in d.executions("UploadStateMachine")}
        reply = d.http("POST", f"/v1/security-scans/{test_id}/upload-request", {"tier": "basic"}, CLAIMS)
        self.assertEqual(reply["statusCode"], 202, reply)
        started = [payload for name, payload in d.executions("UploadStateMachine") if name not in before]
        self.assertEqual(len(started), 1, started)
        summary = d.run_machine("certus-upload.asl.json", started[0])
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        return summary, d.job(test_id, CLAIMS)

    def objects(self, logical, prefix=""):
        listed = DEPLOYMENT.client("s3").list_objects_v2(Bucket=DEPLOYMENT.resolver.ref(logical), Prefix=prefix)
        return [o["Key"] for o in listed.get("Contents", [])]

    def test_4_trust_deny_publishes_nothing_and_permit_publishes_every_file_once(self):
        d = DEPLOYMENT
        raw = d.resolver.ref("RawBucket")
        test_id = self.scanned()
        TRUST.start(raw, deny=True)
        summary, job = self.upload(test_id)
        self.assertNotIn("Promote", summary["states"], summary)
        self.assertEqual(job["upload_status"], "denied", job)
        self.assertEqual(self.objects("RawBucket") + self.objects("GoldenBucket"), [])

        test_id = self.scanned()
        TRUST.start(raw)
        summary, job = self.upload(test_id)
        self.assertIn("Promote", summary["states"], summary)
        self.assertEqual(job["upload_status"], "uploaded", job)
        bundle = {k.rsplit("/", 1)[-1] for k in self.objects("WorkBucket", f"bundles/{test_id}/")}
        golden = [k.rsplit("/", 1)[-1] for k in self.objects("GoldenBucket")]
        self.assertEqual(sorted(golden), sorted(set(golden)), "each file once")
        self.assertTrue(bundle <= set(golden) | {"bundle-index.json"}, (bundle, golden))

    def test_8_a_github_push_starts_exactly_one_scan_which_runs_to_its_bundle(self):
        import hashlib
        import hmac

        d = DEPLOYMENT
        body = json.dumps({"ref": "refs/heads/main", "after": GIT.commit, "before": "0" * 40, "deleted": False,
                           "repository": {"full_name": "acme/demo"}})
        signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        headers = {"x-github-event": "push", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                   "x-hub-signature-256": signature}
        forged = d.http("POST", "/v1/webhooks/github", body, headers={**headers, "x-hub-signature-256": "sha256=" + "0" * 64})
        self.assertEqual(forged["statusCode"], 401, forged)
        before = {name for name, _ in d.executions()}
        first = d.http("POST", "/v1/webhooks/github", body, headers=headers)
        self.assertEqual(first["statusCode"], 202, first)
        again = d.http("POST", "/v1/webhooks/github", body, headers=headers)  # GitHub redelivers
        self.assertEqual(again["statusCode"], 200, again)
        started = [(name, payload) for name, payload in d.executions() if name not in before]
        self.assertEqual(len(started), 1, started)
        summary = d.run_machine("certus-assurance.asl.json", started[0][1])
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        job = d.job(started[0][0], CLAIMS)
        self.assertEqual((job["status"], job["commit"]), ("SUCCEEDED", GIT.commit), job)
        self.assertIn("demo-github", job["requested_by"], job)
        self.assertTrue(job["bundle_location"], job)

    def test_6_a_baseline_scan_reads_the_earlier_bundle(self):
        d = DEPLOYMENT
        first = self.scanned()
        reply = d.http("POST", "/v1/security-scans", {
            "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1", "source_type": "git",
            "git_url": GIT.url(), "branch": "main", "manifest_path": "certus.json", "profile": "light",
            "baseline_test_id": first}, CLAIMS)
        self.assertEqual(reply["statusCode"], 202, reply)
        second = json.loads(reply["body"])["test_id"]
        summary = d.run_machine("certus-assurance.asl.json", {"test_id": second})
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        job = d.job(second, CLAIMS)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        self.assertIn(first, json.dumps(job["submission"]["baseline"]), job)
        # The planted key was in the baseline's bundle too: the same finding is "unchanged" now.
        work = d.resolver.ref("WorkBucket")
        [key] = [k for k in self.objects("WorkBucket", f"bundles/{second}/") if k.endswith("/merged.sarif.json")]
        sarif = json.loads(d.client("s3").get_object(Bucket=work, Key=key)["Body"].read())
        states = {r.get("baselineState") for run in sarif["runs"] for r in run.get("results", [])}
        self.assertEqual(states, {"unchanged"}, states)

    def test_5_a_codecommit_push_starts_exactly_one_scan_even_when_redelivered(self):
        d = DEPLOYMENT
        commit = "c0ffee" + "0" * 34
        event = {
            "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "CodeCommit Repository State Change", "source": "aws.codecommit", "account": ACCOUNT,
            "time": "2026-12-01T00:00:00Z", "region": REGION, "resources": [REPOSITORY],
            "detail": {"event": "referenceUpdated", "repositoryName": "demo", "repositoryId": "r-1",
                       "referenceType": "branch", "referenceName": "main", "referenceFullName": "refs/heads/main",
                       "commitId": commit, "oldCommitId": "0" * 40},
        }
        rule = next(r for r in d.cfn["Resources"].values() if r["Type"] == "AWS::Events::Rule"
                    and r["Properties"].get("EventPattern", {}).get("source") == ["aws.codecommit"])
        pattern = d.resolver.resolve(rule["Properties"]["EventPattern"])
        self.assertTrue(matches(pattern, event), "the rule's pattern selects the push")
        before = {name for name, _ in d.executions()}
        for _ in range(2):  # EventBridge delivers at least once
            outcome = d.invoke("push-trigger", event)
            self.assertNotIn("error", outcome, outcome)
        started = [(name, payload) for name, payload in d.executions() if name not in before]
        self.assertEqual(len(started), 1, started)
        job = d.job(started[0][0], CLAIMS)
        self.assertEqual((job["status"], job["requested_commit"], job["tenant"]), ("QUEUED", commit, "tenant-1"), job)

    def test_7_websocket_connect_checks_the_token_against_the_jwks_from_the_work_bucket(self):
        """ws as the WebSocket API invokes it ($connect, $disconnect) and as the events stream does (a batch
        for a job nobody subscribed to: nothing to post)."""
        d = DEPLOYMENT

        def websocket(route, connection, token=None):
            domain = "websocketa.execute-api.eu-west-1.amazonaws.com"
            event = {"requestContext": {"routeKey": route, "connectionId": connection,
                                        "eventType": "CONNECT" if route == "$connect" else "DISCONNECT",
                                        "messageDirection": "IN", "stage": "live", "connectedAt": 1796083200000,
                                        "requestTimeEpoch": 1796083200012, "requestTime": "01/Dec/2026:00:00:00 +0000",
                                        "identity": {"sourceIp": "192.0.2.10"}, "requestId": secrets.token_hex(8),
                                        "extendedRequestId": secrets.token_hex(8), "domainName": domain,
                                        "apiId": "websocketa"},
                     "headers": {"Host": domain}, "multiValueHeaders": {"Host": [domain]}, "isBase64Encoded": False}
            if token is not None:
                event["queryStringParameters"] = {"access_token": token}
            outcome = d.invoke("ws", event)
            self.assertNotIn("error", outcome, outcome)
            return outcome["payload"]["statusCode"]

        claims = {"iss": "https://issuer.example.invalid/", "aud": "certus-assurance", "sub": "tenant-1",
                  "certus_workspaces": ["ws-acme"]}
        connections = d.resolver.ref("ConnectionsTable")
        self.assertEqual(websocket("$connect", "Jx2abcDEFgh0AbC=", IDP.token(claims)), 200)
        stored = d.client("dynamodb").get_item(TableName=connections, Key={"connection_id": {"S": "Jx2abcDEFgh0AbC="}})
        self.assertIn("Item", stored, "the connection is recorded with its principal")
        self.assertEqual(websocket("$connect", "Kx2abcDEFgh0AbC=", IDP.token({**claims, "aud": "other"})), 401)
        self.assertEqual(websocket("$connect", "Lx2abcDEFgh0AbC="), 401)
        self.assertEqual(websocket("$disconnect", "Jx2abcDEFgh0AbC="), 200)
        stored = d.client("dynamodb").get_item(TableName=connections, Key={"connection_id": {"S": "Jx2abcDEFgh0AbC="}})
        self.assertNotIn("Item", stored)

        test_id = self.scanned()
        [first, *_] = d.events(test_id)
        batch = {"Records": [{"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                              "awsRegion": REGION, "dynamodb": {"NewImage": first}}]}
        outcome = d.invoke("ws", batch)
        self.assertNotIn("error", outcome, outcome)


    def test_11_a_websocket_subscriber_receives_the_whole_stream_live_and_is_closed_at_the_end(self):
        """A real WebSocket client through the gateway: $connect with its token, `subscribe` to a job just
        submitted (the replay), then the scan runs while the stream mapping feeds the events table's records
        to ws, whose fan-out posts them through the management API; every event arrives once, in order, the
        last `scan_complete`, and ws closes the socket. Another tenant's subscribe is refused and dropped."""
        import websockets.sync.client

        d = DEPLOYMENT
        claims = {"iss": "https://issuer.example.invalid/", "aud": "certus-assurance", "sub": "tenant-1",
                  "certus_workspaces": ["ws-acme"]}
        with self.assertRaises(websockets.exceptions.InvalidStatus) as refused:
            websockets.sync.client.connect(f"{GATEWAY.url}?access_token={IDP.token({**claims, 'aud': 'other'})}",
                                           open_timeout=60)
        self.assertEqual(refused.exception.response.status_code, 401)

        pump = StreamPump(d)
        reply = submit()
        self.assertEqual(reply["statusCode"], 202, reply)
        test_id = json.loads(reply["body"])["test_id"]
        stranger = websockets.sync.client.connect(
            f"{GATEWAY.url}?access_token={IDP.token({**claims, 'sub': 'tenant-2'})}", open_timeout=60)
        stranger.send(json.dumps({"action": "subscribe", "test_id": test_id}))
        refusal = json.loads(stranger.recv(timeout=60))
        self.assertEqual((refusal["type"], refusal["code"]), ("error", 4404), refusal)
        stranger.close()

        client = websockets.sync.client.connect(f"{GATEWAY.url}?access_token={IDP.token(claims)}", open_timeout=60)
        client.send(json.dumps({"action": "subscribe", "test_id": test_id}))
        received = []

        def listen():
            for message in client:  # ends when the gateway closes the socket (ws's DELETE @connections)
                received.append(json.loads(message))

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        with pump.pumping():
            summary = d.run_machine("certus-assurance.asl.json", {"test_id": test_id})
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        listener.join(timeout=120)
        self.assertFalse(listener.is_alive(), f"ws never closed the finished job's socket: {received[-3:]}")
        self.assertEqual(pump.failures, [], "every stream batch was handled")

        stored = sorted(int(e["seq"]["N"]) for e in d.events(test_id))
        self.assertEqual([e["seq"] for e in received], stored, "every stored event once, in order")
        self.assertEqual(stored, list(range(1, len(stored) + 1)))
        self.assertEqual(received[-1]["type"], "scan_complete", received[-1])
        self.assertTrue(all(e["test_id"] == test_id for e in received))

    def test_12_heavy_tools_run_in_the_scanner_task_as_deployed(self):
        """A profile naming heavy tools: launch-scanners plans them for Fargate (the template gives it the tool
        list once an image tag is set), and each runs as the scanner task: the image's entry point with the
        task definition's environment, a read-only root, /tmp its only writable place, as uid 10001, with the
        task role's credentials; their SARIF reaches the bundle."""
        if os.geteuid() != 0:
            if os.environ.get("CI"):
                self.fail("the scanner task's sandbox (a mount namespace) needs root, which CI has")
            self.skipTest("the scanner task's sandbox (a mount namespace) needs root")
        d = DEPLOYMENT
        reply = d.http("POST", "/v1/security-scans", {
            "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-heavy", "source_type": "git",
            "git_url": GIT.url(), "branch": "main", "manifest_path": "certus.json", "profile": "heavy",
        }, CLAIMS)
        self.assertEqual(reply["statusCode"], 202, reply)
        test_id = json.loads(reply["body"])["test_id"]
        before = len(d.recorder.records)
        summary = d.run_machine("certus-assurance.asl.json", {"test_id": test_id})
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        ran = sorted(s for states in summary["iterations"].values() for s in states if s.startswith("ScanWith"))
        self.assertEqual(ran, ["ScanWithFargate", "ScanWithFargate", "ScanWithLambda"], summary["iterations"])
        job = d.job(test_id, CLAIMS)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        work = d.resolver.ref("WorkBucket")
        listed = d.client("s3").list_objects_v2(Bucket=work, Prefix=f"bundles/{test_id}/")
        keys = {o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])}
        for name in ("bandit.sarif.json", "detect-secrets.sarif.json", "secrets.sarif.json"):
            self.assertIn(name, keys)
        task_requests = [r for r in d.recorder.records[before:] if d.keys.get(r["key"]) == SCANNER_TASK]
        self.assertTrue(task_requests, "the task used its own role's credentials")

    def test_10_an_archive_uploaded_through_the_api_is_scanned_and_only_by_its_tenant(self):
        d = DEPLOYMENT
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path, text in GIT.files.items():
                data = text.encode()
                info = tarfile.TarInfo(path)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        boundary = "certus-deployed-run"
        form = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="demo.tar.gz"\r\n'
                "Content-Type: application/gzip\r\n\r\n").encode() + archive.getvalue() \
            + f"\r\n--{boundary}--\r\n".encode()
        reply = d.http("POST", "/v1/security-scans/upload-archive", form, CLAIMS,
                       headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(reply["statusCode"], 201, reply)
        archive_path = json.loads(reply["body"])["archive_path"]
        work = d.resolver.ref("WorkBucket")
        self.assertTrue(archive_path.startswith(f"s3://{work}/uploads/"), archive_path)
        request = {"workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1",
                   "source_type": "archive", "archive_path": archive_path, "manifest_path": "certus.json",
                   "profile": "light"}
        foreign = d.http("POST", "/v1/security-scans", request, dict(CLAIMS, sub="tenant-2"))
        missing = d.http("POST", "/v1/security-scans",
                         dict(request, archive_path=archive_path.replace("/demo.tar.gz", "/gone.tar.gz")), CLAIMS)
        self.assertEqual(foreign["statusCode"], 422, foreign)
        self.assertEqual(foreign["body"], missing["body"], "another tenant's upload answers as a missing one")
        reply = d.http("POST", "/v1/security-scans", request, CLAIMS)
        self.assertEqual(reply["statusCode"], 202, reply)
        test_id = json.loads(reply["body"])["test_id"]
        summary = d.run_machine("certus-assurance.asl.json", {"test_id": test_id})
        self.assertEqual(summary["status"], "SUCCEEDED", summary)
        job = d.job(test_id, CLAIMS)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        self.assertIn("secrets", json.dumps(job.get("findings_summary")), "the planted key in the archive was found")

    def test_13_the_scheduled_sync_stores_the_snapshot_and_a_scan_matches_against_it(self):
        """sync-advisories runs under its own role on a scheduled event and stores the RustSec snapshot
        served by the loopback mirror; before it, a scan whose profile matches advisories fails closed; after
        it, the scan reports RUSTSEC-2021-0003 and its bundle names the snapshot's date and digest; a broken
        download later leaves that snapshot current."""
        archive = rustsec_archive()
        if archive is None:
            self.skipTest("skipped: ../shared absent")
        d = DEPLOYMENT
        work = d.resolver.ref("WorkBucket")
        s3 = d.client("s3")

        def deps_scan():
            reply = d.http("POST", "/v1/security-scans", {
                "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1", "source_type": "git",
                "git_url": GIT.url(), "branch": "main", "manifest_path": "certus.json", "profile": "deps"}, CLAIMS)
            self.assertEqual(reply["statusCode"], 202, reply)
            test_id = json.loads(reply["body"])["test_id"]
            d.run_machine("certus-assurance.asl.json", {"test_id": test_id})
            return test_id, d.job(test_id, CLAIMS)

        _, before = deps_scan()
        self.assertNotEqual(before["status"], "SUCCEEDED", before)
        self.assertIn("no advisory snapshot", json.dumps(before), before)

        scheduled = {"version": "0", "id": secrets.token_hex(8), "detail-type": "Scheduled Event",
                     "source": "aws.events", "account": ACCOUNT, "time": "2026-12-05T06:00:00Z", "region": REGION,
                     "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/certus-sync-advisories"], "detail": {}}
        MIRROR.body = archive
        outcome = d.invoke("sync-advisories", scheduled)
        self.assertNotIn("error", outcome, outcome)
        pointer = outcome["payload"]
        digest = hashlib.sha256(archive).hexdigest()
        self.assertEqual(pointer["sha256"], digest)
        current = s3.get_object(Bucket=work, Key="advisories/current.json")["Body"].read()
        self.assertEqual(json.loads(current)["sha256"], digest)
        stored = s3.get_object(Bucket=work, Key=f"advisories/snapshots/{digest}.tar.gz")["Body"].read()
        self.assertEqual(stored, archive)

        test_id, job = deps_scan()
        self.assertEqual(job["status"], "SUCCEEDED", job)
        keys = self.objects("WorkBucket", f"bundles/{test_id}/")
        [sarif_key] = [k for k in keys if k.endswith("/sbom.sarif.json")]
        sarif = json.loads(s3.get_object(Bucket=work, Key=sarif_key)["Body"].read())
        rules = {r["ruleId"] for run in sarif["runs"] for r in run.get("results", [])}
        self.assertIn("RUSTSEC-2021-0003", rules)
        [record_key] = [k for k in keys if k.endswith("/advisory-database.json")]
        record = json.loads(s3.get_object(Bucket=work, Key=record_key)["Body"].read())
        self.assertEqual(record["snapshot"]["digest"], f"sha256:{digest}", record)
        self.assertEqual(record["snapshot"]["snapshot_date"], pointer["snapshot_date"], record)

        # A truncated download is refused: the snapshot the scan used stays current.
        MIRROR.body = archive[: len(archive) // 2]
        outcome = d.invoke("sync-advisories", scheduled)
        self.assertIn("error", outcome, outcome)
        self.assertEqual(s3.get_object(Bucket=work, Key="advisories/current.json")["Body"].read(), current)

    def test_14_a_rescan_costs_the_same_scan_cache_requests_whatever_the_tree_size(self):
        """Incremental scans as deployed: a repository scanned, pushed (one file changed) and scanned again,
        then grown by 60 files and scanned twice more. The rescans take every unchanged file's secrets result
        from the cache, and the scan-cache requests of run-scanner are the same for the small and the large
        tree (the results of unchanged files are in one index per tool, not one object per file). A job that
        asks for a full scan sends run-scanner no scan-cache/ request, and its record has no cache object."""
        d = DEPLOYMENT
        root = os.path.join(SCRATCH, "rescan")
        os.makedirs(root)
        repo = GitServer(root)
        work = os.path.join(root, "work")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", work]

        def push(files, message):
            for path, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(work, path)), exist_ok=True)
                with open(os.path.join(work, path), "w", encoding="utf-8") as f:
                    f.write(text)
            subprocess.run(git + ["add", "."], check=True)
            subprocess.run(git + ["commit", "-q", "-m", message], check=True)
            subprocess.run(git + ["push", "-q", os.path.join(root, "demo.git"), "main"], check=True)

        def scan(full_scan=False):
            """One scan through the machine: the secrets tool's cache record, and run-scanner's scan-cache/
            requests during it."""
            before = len(d.checked_requests())
            reply = d.http("POST", "/v1/security-scans", {
                "workspace_id": "ws-acme", "component_id": "rescan", "assessment_id": "a-1",
                "source_type": "git", "git_url": repo.url(), "branch": "main", "manifest_path": "certus.json",
                "profile": "light", "full_scan": full_scan}, CLAIMS)
            self.assertEqual(reply["statusCode"], 202, reply)
            test_id = json.loads(reply["body"])["test_id"]
            summary = d.run_machine("certus-assurance.asl.json", {"test_id": test_id})
            self.assertEqual(summary["status"], "SUCCEEDED", summary)
            requests = [(action, resource) for binary, action, resource, _ok, _why in d.checked_requests()[before:]
                        if "/scan-cache/" in resource and action in ("s3:GetObject", "s3:PutObject")]
            bucket = d.resolver.ref("WorkBucket")
            listed = d.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"bundles/{test_id}/")
            key = next(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith("/summary.json"))
            record = json.loads(d.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
            secrets = next(t for t in record["tools"] if t["id"] == "secrets")
            return secrets.get("cache"), requests

        try:
            scan()
            push({"config/settings.py": 'aws_secret = "AKIAQX4NT7RZ2M5WCJ3F"\n'}, "one file changed")
            small, small_requests = scan()
            self.assertEqual(small["scanned"] + small["from_cache"], small["files"], small)
            self.assertGreater(small["from_cache"], 0, small)
            push({f"pkg/module_{n}.py": f"VALUE = {n}\n" for n in range(60)}, "sixty files more")
            scan()
            push({"config/settings.py": 'aws_secret = "AKIAQX4NT7RZ2M5WCJ3G"\n'}, "one file changed")
            large, large_requests = scan()
            self.assertGreaterEqual(large["files"], small["files"] + 60, (small, large))
            self.assertGreaterEqual(large["from_cache"], small["from_cache"] + 60, (small, large))
            self.assertEqual(len(large_requests), len(small_requests), (small_requests, large_requests))
            print(f"\nrescan after a one-file push: {small['files']} files -> {len(small_requests)} scan-cache "
                  f"requests; {large['files']} files -> {len(large_requests)}", file=sys.stderr)
            full, full_requests = scan(full_scan=True)
            self.assertEqual((full, full_requests), (None, []))
        finally:
            repo.close()

    def test_9_every_request_of_every_function_is_granted_by_its_role(self):
        denied = [f"{binary}: {action} on {resource} ({why})"
                  for binary, action, resource, ok, why in DEPLOYMENT.checked_requests() if not ok]
        self.assertEqual(denied, [], "\n".join(denied))
        self.assertTrue(DEPLOYMENT.checked_requests(), "the functions made AWS requests")
        # Incremental scans: run-scanner keeps the per-file tools' result indexes in the work bucket's
        # scan-cache/, under its own role; no other function touches that prefix.
        cache_users = {(binary, action) for binary, action, resource, ok, why in DEPLOYMENT.checked_requests()
                       if "/scan-cache/" in resource}
        self.assertIn(("run-scanner", "s3:PutObject"), cache_users, cache_users)
        self.assertEqual({binary for binary, _ in cache_users} - {"run-scanner", "scanner-task"}, set(), cache_users)

    def test_99_a_role_without_list_bucket_is_caught_naming_function_action_and_resource(self):
        """The first-deploy blocker of the review (no s3:ListBucket: a missing stage marker is a 403), which
        moto alone lets through: a deployment whose PrepareSourceRole lacks it, on a reset moto."""
        endpoint = os.environ["CERTUS_MOTO_ENDPOINT"]
        moto_post(endpoint, "/moto-api/reset-auth", "inf")
        moto_post(endpoint, "/moto-api/reset", "")
        global DEPLOYMENT
        main, DEPLOYMENT = DEPLOYMENT, Deployment(
            endpoint, os.environ["CERTUS_PACKAGES"], PARAMETERS, config=CONFIG,
            withhold={"PrepareSourceRole": "s3:ListBucket"})
        try:
            test_id = self.scanned()
            refused = [(binary, action, resource, why) for binary, action, resource, ok, why
                       in DEPLOYMENT.checked_requests() if not ok]
        finally:
            DEPLOYMENT.close()
            DEPLOYMENT = main
        work = main.resolver.ref("WorkBucket")
        marker = f"arn:aws:s3:::{work}/runs/{test_id}/stages/prepare-source.json"
        self.assertIn(("prepare-source", "s3:GetObject", marker,
                       "missing key read without s3:ListBucket: S3 answers 403, not 404"), refused)
        self.assertEqual({binary for binary, *_ in refused}, {"prepare-source"}, refused)


if __name__ == "__main__":
    unittest.main()
