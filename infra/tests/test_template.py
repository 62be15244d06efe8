"""Consistency of infra/template.yaml with the state machine definitions, the code and docs/serverless.md:
every definition substitution is provided, each ${<Name>FunctionArn} names the function whose binary the local
runner binds (statemachine/tests/run-local.mjs), every Task outlasts its function's timeout, every crate of the
contract's function table is deployed from its own crate directory — and, on the template as aws-sam-translator
transforms it (translated.py), what a first deployment with `sam deploy --guided` would run into: files no
package holds, defaults that could never scan, the gateway's routes and authorizers, the scanner task."""
import json
import os
import re
import sys
import unittest

from cfnlint.decode import decode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import translated  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
INFRA = os.path.dirname(HERE)
ROOT = os.path.dirname(INFRA)
CONTRACT = os.path.join(ROOT, "docs", "serverless.md")
DYNAMODB = os.path.join(ROOT, "docs", "dynamodb.md")
SUBSTITUTION = re.compile(r"\$\{(\w+)\}")
# The web console's page, script and style and the OpenAPI document: no data, no JWT (docs/console.md).
CONSOLE_ROUTES = {("/", "get"), ("/console/app.js", "get"), ("/console/app.css", "get"), ("/openapi.yaml", "get")}


def kebab(name):
    return re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()


def task_states(definition):
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            yield name, state
        body = state.get("ItemProcessor") or state.get("Iterator")
        if body:
            yield from task_states(body)


class TemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        template, matches = decode(os.path.join(INFRA, "template.yaml"))
        assert template is not None, matches
        cls.resources = template["Resources"]
        cls.globals = template.get("Globals", {}).get("Function", {})
        cls.functions = {n: r for n, r in cls.resources.items() if r["Type"] == "AWS::Serverless::Function"}
        cls.machines = {n: r for n, r in cls.resources.items() if r["Type"] == "AWS::Serverless::StateMachine"}

    def definition(self, machine):
        path = os.path.normpath(os.path.join(INFRA, machine["Properties"]["DefinitionUri"]))
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_every_substitution_is_provided_and_used(self):
        self.assertEqual(set(self.machines), {"ScanStateMachine", "UploadStateMachine"})
        for name, machine in self.machines.items():
            used = set(SUBSTITUTION.findall(self.definition(machine)))
            provided = set(machine["Properties"]["DefinitionSubstitutions"])
            self.assertEqual(used, provided, name)

    def test_function_substitutions_name_the_binary_the_local_runner_binds(self):
        for machine in self.machines.values():
            for key, value in machine["Properties"]["DefinitionSubstitutions"].items():
                if not key.endswith("FunctionArn"):
                    continue
                logical = value["Fn::GetAtt"][0]
                binary = self.functions[logical]["Metadata"]["BuildProperties"]["Binary"]
                self.assertEqual(binary, kebab(key[: -len("FunctionArn")]), key)

    def test_every_task_outlasts_its_function(self):
        for machine in self.machines.values():
            substitutions = machine["Properties"]["DefinitionSubstitutions"]
            definition = json.loads(self.definition(machine))
            for state, task in task_states(definition):
                self.assertIn("TimeoutSeconds", task, state)
                target = task["Parameters"].get("FunctionName")
                if target is None:
                    continue
                logical = substitutions[SUBSTITUTION.fullmatch(target).group(1)]["Fn::GetAtt"][0]
                timeout = self.functions[logical]["Properties"].get("Timeout", self.globals["Timeout"])
                self.assertGreater(task["TimeoutSeconds"], timeout, f"{state} vs {logical}")

    def test_every_contract_function_is_deployed_from_its_crate(self):
        with open(CONTRACT, encoding="utf-8") as f:
            table = f.read().split("## Functions", 1)[1].split("\n## ", 1)[0]
        crates = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
        self.assertEqual(len(crates), 13, crates)
        deployed = {}
        for name, function in self.functions.items():
            binary = function["Metadata"]["BuildProperties"]["Binary"]
            self.assertEqual(function["Metadata"]["BuildMethod"], "rust-cargolambda", name)
            self.assertEqual(function["Properties"]["CodeUri"], f"../functions/{binary}", name)
            deployed[binary] = name
        self.assertEqual(set(deployed), crates)

    def test_functions_are_arm64_on_provided_al2023(self):
        self.assertEqual(self.globals["Runtime"], "provided.al2023")
        self.assertEqual(self.globals["Architectures"], ["arm64"])
        for name, function in self.functions.items():
            self.assertNotIn("Runtime", function["Properties"], name)
            self.assertNotIn("Architectures", function["Properties"], name)

    def test_tables_have_point_in_time_recovery_and_encryption(self):
        tables = [r for r in self.resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
        self.assertEqual(len(tables), 4)
        for table in tables:
            props = table["Properties"]
            self.assertTrue(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
            self.assertTrue(props["SSESpecification"]["SSEEnabled"])
            self.assertEqual(props["BillingMode"], "PAY_PER_REQUEST")

    def key_schema(self, table):
        props = self.resources[table]["Properties"]
        types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        return [(k["AttributeName"], types[k["AttributeName"]]) for k in props["KeySchema"]]

    def test_tables_match_docs_dynamodb(self):
        with open(DYNAMODB, encoding="utf-8") as f:
            doc = f.read()
        sections = {m.group(1): m.group(2) for m in re.finditer(r"^## `(\w+)`[^\n]*\n(.*?)(?=^## |\Z)", doc, re.M | re.S)}
        for table in ("JobsTable", "EventsTable"):
            match = re.search(r"Key schema: partition `(\w+)` \((\w)\), sort `(\w+)` \((\w)\)", sections[table])
            self.assertIsNotNone(match, table)
            expected = [(match.group(1), match.group(2)), (match.group(3), match.group(4))]
            self.assertEqual(self.key_schema(table), expected, table)
        # "a table of its own ... with the same key schema (pk, sk) and no indexes"
        self.assertEqual(self.key_schema("AuditTable"), self.key_schema("JobsTable"))
        self.assertNotIn("GlobalSecondaryIndexes", self.resources["AuditTable"]["Properties"])
        documented = set(re.findall(r"^\| `(by_\w+)` \| `(\w+)`[^|]* \| `(\w+)` \|$", sections["JobsTable"], re.M))
        self.assertEqual(len(documented), 8, documented)
        deployed = set()
        for index in self.resources["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]:
            keys = [k["AttributeName"] for k in index["KeySchema"]]
            self.assertEqual(index["Projection"], {"ProjectionType": "ALL"}, index["IndexName"])
            deployed.add((index["IndexName"], *keys))
        self.assertEqual(deployed, documented)

    def test_buckets_are_private_encrypted_and_tls_only(self):
        buckets = [n for n, r in self.resources.items() if r["Type"] == "AWS::S3::Bucket"]
        self.assertEqual(sorted(buckets), ["GoldenBucket", "RawBucket", "WorkBucket"])
        policies = {r["Properties"]["Bucket"]["Ref"]: r for r in self.resources.values() if r["Type"] == "AWS::S3::BucketPolicy"}
        for name in buckets:
            props = self.resources[name]["Properties"]
            self.assertTrue(all(props["PublicAccessBlockConfiguration"].values()), name)
            self.assertIn("BucketEncryption", props, name)
            statement = policies[name]["Properties"]["PolicyDocument"]["Statement"][0]
            self.assertEqual((statement["Effect"], statement["Condition"]), ("Deny", {"Bool": {"aws:SecureTransport": "false"}}))
        self.assertEqual(self.resources["GoldenBucket"]["Properties"]["VersioningConfiguration"]["Status"], "Enabled")
        rules = self.resources["WorkBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        self.assertIn({"Id": "expire-run-workspaces", "Status": "Enabled", "Prefix": "runs/", "ExpirationInDays": 7}, rules)
        # archives uploaded through the API go under the prefix the S3 adapter writes to, and expire there
        with open(os.path.join(ROOT, "shared", "aws", "src", "uploads.rs"), encoding="utf-8") as f:
            prefix = re.search(r'pub const UPLOADS_PREFIX: &str = "([^"]+)";', f.read()).group(1)
        self.assertIn({"Id": "expire-uploaded-archives", "Status": "Enabled", "Prefix": prefix, "ExpirationInDays": 1}, rules)

    def test_both_apis_throttle_every_route(self):
        """Floods meet API Gateway before a function runs: both APIs' stages throttle every route."""
        http = self.resources["HttpApi"]["Properties"]["DefaultRouteSettings"]
        ws = self.resources["WebSocketStage"]["Properties"]["DefaultRouteSettings"]
        for settings in (http, ws):
            self.assertGreater(settings["ThrottlingRateLimit"], 0)
            self.assertGreaterEqual(settings["ThrottlingBurstLimit"], settings["ThrottlingRateLimit"])
            self.assertLessEqual(settings["ThrottlingRateLimit"], 100, "a stage limit meant to protect the account")

    def test_only_promote_writes_to_raw_and_golden(self):
        writers = set()
        for name, resource in self.resources.items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    if "Fn::If" in statement:
                        continue
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    text = json.dumps(statement["Resource"])
                    if "s3:PutObject" in actions and ("RawBucket" in text or "GoldenBucket" in text):
                        writers.add(name)
        self.assertEqual(writers, {"PromoteRole"})

    def test_only_build_bundle_finalize_and_request_upload_may_sign(self):
        signers = set()
        for name, resource in self.resources.items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    actions = statement.get("Action", [])
                    if "kms:Sign" in (actions if isinstance(actions, list) else [actions]):
                        signers.add(name)
        # request-upload signs the Trust request's inner signature with the bundle key.
        self.assertEqual(signers, {"BuildBundleRole", "FinalizeRole", "RequestUploadRole"})

    def test_tables_and_buckets_survive_the_stack_and_raw_keeps_versions(self):
        for name, resource in self.resources.items():
            if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::S3::Bucket"):
                self.assertEqual(resource.get("DeletionPolicy"), "Retain", name)
                self.assertEqual(resource.get("UpdateReplacePolicy"), "Retain", name)
        self.assertEqual(self.resources["RawBucket"]["Properties"]["VersioningConfiguration"]["Status"], "Enabled")

    def test_fargate_capacity_failures_are_retried(self):
        definition = json.loads(self.definition(self.machines["ScanStateMachine"]))
        tasks = dict(task_states(definition))
        errors = {e for r in tasks["ScanWithFargate"]["Retry"] for e in r["ErrorEquals"]}
        # RunTask answering with Failures (capacity, ENI) surfaces as AmazonECS.Unknown.
        self.assertTrue({"ECS.AmazonECSException", "AmazonECS.Unknown"} <= errors, errors)
        # Tags propagated from the task definition would need ecs:TagResource, which no role has.
        self.assertNotIn("PropagateTags", tasks["ScanWithFargate"]["Parameters"])


class TranslatedTemplateTest(unittest.TestCase):
    """The template as CloudFormation receives it (aws-sam-translator, offline)."""

    @classmethod
    def setUpClass(cls):
        cls.sam = translated.sam_template()
        cls.cfn = translated.translate(cls.sam)
        cls.resolver = translated.Resolver(cls.cfn, translated.parameters(cls.cfn))

    def test_function_environments_fixture_is_current(self):
        # The Rust settings readers are tested on this file (api, ws, push-trigger, certus-lambda).
        with open(translated.ENVIRONMENTS, encoding="utf-8") as f:
            fixture = json.load(f)
        self.assertEqual(translated.environments(self.sam, self.cfn), fixture,
                         "run: python3 infra/tests/translated.py --write-environments")

    def test_no_function_reads_a_file_beside_its_binary(self):
        # SAM's rust-cargolambda build packages `bootstrap` only: configuration comes from the work bucket.
        work = self.resolver.ref("WorkBucket")
        configured = translated.environments(self.sam, self.cfn, {
            "PushRegistrationsKey": "triggers.toml", "JwksObjectKey": "idp/jwks.json"})
        for function, env in configured.items():
            for name, value in env.items():
                self.assertFalse(name.endswith("_FILE"), f"{function}: {name}={value}")
                if name.endswith("_URI"):
                    self.assertTrue(value.startswith(f"s3://{work}/config/"), f"{function}: {name}={value}")
        self.assertEqual(configured["ws"]["CERTUS_ASSURANCE_JWKS_URI"], f"s3://{work}/config/idp/jwks.json")
        for function in ("api", "push-trigger"):
            self.assertEqual(configured[function]["CERTUS_ASSURANCE_TRIGGERS_URI"], f"s3://{work}/config/triggers.toml")
        # Unset by default: the functions start without them (tested in Rust on the fixture).
        defaults = translated.environments(self.sam, self.cfn)
        self.assertEqual(defaults["ws"]["CERTUS_ASSURANCE_JWKS_URI"], "")
        self.assertEqual(defaults["api"]["CERTUS_ASSURANCE_TRIGGERS_URI"], "")

    def test_guided_defaults_are_refused_with_the_reason(self):
        defaults = translated.parameters(self.cfn, {
            name: spec["Default"] for name, spec in self.sam["Parameters"].items() if "Default" in spec})
        failures = translated.rule_failures(self.cfn, defaults)
        self.assertEqual([name for name, _ in failures], ["VerificationNeedsAKey"])
        self.assertIn("ManifestVerificationRequired", failures[0][1])
        self.assertIn("ManifestVerificationKeyRef", failures[0][1])
        unsigned = dict(defaults, ManifestVerificationRequired="false")
        self.assertEqual(translated.rule_failures(self.cfn, unsigned), [])
        keyed = dict(defaults, ManifestVerificationKeyRef="awskms:///arn:aws:kms:eu-west-1:123456789012:key/k",
                     ManifestVerificationKeyKmsArn="arn:aws:kms:eu-west-1:123456789012:key/k")
        self.assertEqual(translated.rule_failures(self.cfn, keyed), [])
        orphan = dict(unsigned, ManifestVerificationKeyKmsArn="arn:aws:kms:eu-west-1:123456789012:key/k")
        self.assertEqual([n for n, _ in translated.rule_failures(self.cfn, orphan)], ["KmsVerificationKeyNeedsItsArn"])

    def test_webhooks_bypass_the_jwt_authorizer_and_nothing_else_does(self):
        body = self.cfn["Resources"]["HttpApi"]["Properties"]["Body"]
        security = {}
        for path, methods in body["paths"].items():
            for method, operation in methods.items():
                if method != "parameters":
                    security[(path, method)] = operation.get("security", body.get("security"))
        jwt, none = [{"CertusJwt": []}], [{"NONE": []}]
        self.assertEqual(security[("/v1/{proxy+}", "x-amazon-apigateway-any-method")], jwt)
        self.assertEqual(security[("/v1/webhooks/{provider}", "post")], none)
        self.assertEqual(security[("/health", "get")], none)
        open_routes = {k for k, v in security.items() if v != jwt}
        self.assertEqual(open_routes, {("/v1/webhooks/{provider}", "post"), ("/health", "get")} | CONSOLE_ROUTES)
        # Every webhook route of the router is one of those.
        with open(os.path.join(ROOT, "shared", "api", "src", "routes.rs"), encoding="utf-8") as f:
            hooks = set(re.findall(r'"(/v1/webhooks/[a-z]+)"', f.read()))
        self.assertEqual(hooks, {"/v1/webhooks/github", "/v1/webhooks/gitlab"})

    def test_the_console_assets_have_no_authorizer_and_reach_the_api_function(self):
        body = self.cfn["Resources"]["HttpApi"]["Properties"]["Body"]
        for path, method in CONSOLE_ROUTES:
            operation = body["paths"][path][method]
            self.assertEqual(operation.get("security"), [{"NONE": []}], path)
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            self.assertIn("${ApiFunction.Arn}", uri, path)
        # Exactly the routes the router serves without authentication (console.rs names them).
        with open(os.path.join(ROOT, "shared", "api", "src", "console.rs"), encoding="utf-8") as f:
            served = set(re.findall(r'pub const [A-Z]+: &str = "(/[^"]*)";', f.read()))
        self.assertEqual(served, {path for path, _ in CONSOLE_ROUTES})
        # Everything else under /v1 keeps the JWT authorizer: no console route is a prefix of it.
        self.assertTrue(all(not path.startswith("/v1") for path, _ in CONSOLE_ROUTES))

    def test_the_scanner_task_can_run_its_step(self):
        task = self.resolver.resolve(self.cfn["Resources"]["ScannerTaskDefinition"]["Properties"])
        (container,) = task["ContainerDefinitions"]
        env = {e["Name"] for e in container["Environment"]}
        self.assertIn("CERTUS_ASSURANCE_WORK_BUCKET", env)
        self.assertTrue(container["ReadonlyRootFilesystem"])
        mounts = {m["ContainerPath"]: m["SourceVolume"] for m in container["MountPoints"]}
        self.assertEqual(mounts, {"/tmp": "scratch"})
        # Fargate makes a bind mount root-owned 0755 unless the image declares the path as a VOLUME with its
        # own ownership: the Dockerfile must make /tmp writable for the container's user, then declare it.
        with open(os.path.join(INFRA, "images", "scanner", "Dockerfile"), encoding="utf-8") as f:
            dockerfile = f.read()
        volume = dockerfile.index('VOLUME ["/tmp"]')
        self.assertRegex(dockerfile[:volume], r"chmod 1777 /tmp")
        self.assertEqual(container["User"], re.search(r"^USER (\d+)$", dockerfile, re.M).group(1))
        # Without an image the heavy tools are not planned and the task definition names no real tag.
        self.assertEqual(self.resolver.resolve(self.cfn["Resources"]["LaunchScannersFunction"]["Properties"]
                                               ["Environment"])["Variables"]["CERTUS_ASSURANCE_FARGATE_TOOLS"], "")
        with_image = translated.environments(self.sam, self.cfn, {"ScannerImageTag": "v1"})
        self.assertEqual(with_image["launch-scanners"]["CERTUS_ASSURANCE_FARGATE_TOOLS"],
                         "semgrep,bandit,checkov,detect-secrets")

    def test_failures_are_kept_not_dropped(self):
        resources = self.cfn["Resources"]
        mapping = resources["WsFunctionNewEvents"]["Properties"]
        self.assertEqual(mapping["DestinationConfig"]["OnFailure"]["Destination"], {"Fn::GetAtt": ["WsStreamFailures", "Arn"]})
        for rule in ("PushTriggerFunctionCodeCommitPush", "FinalizeFunctionExecutionEnded"):
            (target,) = resources[rule]["Properties"]["Targets"]
            self.assertIn("Arn", target["DeadLetterConfig"], rule)
        for api in ("HttpApiApiGatewayDefaultStage", "WebSocketStage"):
            self.assertIn("DestinationArn", resources[api]["Properties"]["AccessLogSettings"], api)

    def test_advisory_sync_is_scheduled_https_only_and_feeds_the_scanners(self):
        resources = self.cfn["Resources"]
        rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"
                 and r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["SyncAdvisoriesFunction", "Arn"]}]
        self.assertEqual(len(rules), 1, "one schedule invokes sync-advisories")
        self.assertEqual(rules[0]["Properties"]["ScheduleExpression"], {"Ref": "AdvisorySyncSchedule"})
        pattern = re.compile(self.sam["Parameters"]["AdvisorySnapshotUrl"]["AllowedPattern"])
        self.assertTrue(pattern.match(self.sam["Parameters"]["AdvisorySnapshotUrl"]["Default"]))
        for refused in ("http://mirror.example.invalid/db.tar.gz", "file:///db.tar.gz",
                        "https://mirror.example.invalid/db.tar.bz2", "https://mirror.example.invalid/db"):
            self.assertIsNone(pattern.match(refused), refused)
        env = translated.environments(self.sam, self.cfn, {})
        store = env["sync-advisories"]["CERTUS_ASSURANCE_ADVISORY_SNAPSHOTS"]
        self.assertTrue(store.startswith("s3://") and store.endswith("/advisories"), store)
        for reader in ("run-scanner", "scanner-task"):
            self.assertEqual(env[reader]["CERTUS_ASSURANCE_ADVISORY_SNAPSHOTS"], store, reader)
        self.assertEqual(env["sync-advisories"]["CERTUS_ASSURANCE_ADVISORY_CA"], "")

    def test_an_ended_execution_reaches_finalize_as_a_failure(self):
        resources = self.cfn["Resources"]
        rule = resources["FinalizeFunctionExecutionEnded"]["Properties"]
        pattern = rule["EventPattern"]
        self.assertEqual(pattern["source"], ["aws.states"])
        self.assertEqual(set(pattern["detail"]["status"]), {"FAILED", "TIMED_OUT", "ABORTED"})
        self.assertEqual(pattern["detail"]["stateMachineArn"], [{"Ref": "ScanStateMachine"}])
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], {"Fn::GetAtt": ["FinalizeFunction", "Arn"]})
        transformer = target["InputTransformer"]
        # shared/lambda/tests/state_machine.rs feeds finalize this very template, rendered as EventBridge does.
        with open(os.path.join(HERE, "fixtures", "execution-ended.input-template"), encoding="utf-8") as f:
            self.assertEqual(transformer["InputTemplate"], f.read().strip())
        self.assertEqual(transformer["InputPathsMap"],
                         {"name": "$.detail.name", "status": "$.detail.status", "execution": "$.detail.executionArn"})
        # The scan execution is named after the job (shared/apigw/src/sfn.rs): detail.name is the test_id.
        with open(os.path.join(ROOT, "shared", "apigw", "src", "sfn.rs"), encoding="utf-8") as f:
            self.assertIn("Starts the scan execution named `test_id`", f.read())


if __name__ == "__main__":
    unittest.main()
