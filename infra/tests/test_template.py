"""Consistency of infra/template.yaml with the state machine definitions and docs/serverless.md:
every definition substitution is provided, each ${<Name>FunctionArn} names the function whose binary the local
runner binds (statemachine/tests/run-local.mjs), every Task outlasts its function's timeout, and every crate
of the contract's function table is deployed from its own crate directory."""
import json
import os
import re
import unittest

from cfnlint.decode import decode

HERE = os.path.dirname(os.path.abspath(__file__))
INFRA = os.path.dirname(HERE)
ROOT = os.path.dirname(INFRA)
CONTRACT = os.path.join(ROOT, "docs", "serverless.md")
DYNAMODB = os.path.join(ROOT, "docs", "dynamodb.md")
SUBSTITUTION = re.compile(r"\$\{(\w+)\}")


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
        self.assertEqual(len(crates), 12, crates)
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

    def test_only_build_bundle_and_finalize_may_sign(self):
        signers = set()
        for name, resource in self.resources.items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    actions = statement.get("Action", [])
                    if "kms:Sign" in (actions if isinstance(actions, list) else [actions]):
                        signers.add(name)
        self.assertEqual(signers, {"BuildBundleRole", "FinalizeRole"})


if __name__ == "__main__":
    unittest.main()
