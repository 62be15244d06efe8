"""Every AWS request the code makes, checked against the role the translated template gives the caller.

The calls are those of the code (docs/serverless.md "Least privilege"; the SDK operations in shared/*/src),
written with the resources a run addresses: stage markers and tool records that may not exist yet (S3's
403-without-ListBucket rule applies), listings of a run's prefix, bundle files, the signing key, the tables and
their indexes, the state machines, the WebSocket management API (POST and DELETE), the queues. The roles come
from aws-sam-translator's transform of infra/template.yaml with every optional feature configured, resolved by
translated.Resolver, and are evaluated by iam_eval. A missing grant fails naming function, action and resource.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import iam_eval  # noqa: E402
import translated  # noqa: E402

CONFIGURED = translated.ALL_FEATURES
TEST_ID = "test_0123456789ab"
BASELINE = "test_ba5e11ne0000"
CONNECTION = "Jx2abcDEFgh0AbC="

STAGES = ["prepare-source", "fetch-manifest", "verify-manifest", "launch-scanners", "run-scanner",
          "build-bundle", "finalize"]


class Deployment:
    def __init__(self, overrides):
        sam = translated.sam_template()
        self.cfn = translated.translate(sam)
        self.resolver = translated.Resolver(self.cfn, translated.parameters(self.cfn, overrides))
        self.binaries = translated.binary_names(sam)
        self.env = translated.environments(sam, self.cfn, overrides)

    def ref(self, logical):
        return self.resolver.ref(logical)

    def att(self, logical, attribute):
        return self.resolver.get_att(logical, attribute)

    def role_of(self, binary):
        if binary == "scanner-task":
            role = self.cfn["Resources"]["ScannerTaskDefinition"]["Properties"]["TaskRoleArn"]
        else:
            logical = next(n for n, b in self.binaries.items() if b == binary)
            role = self.cfn["Resources"][logical]["Properties"]["Role"]
        name = role["Fn::GetAtt"][0]
        return name, iam_eval.role_statements(self.resolver.resolve(self.cfn["Resources"][name]))


def scan_execution(d, name, machine="ScanStateMachine"):
    """The ARN of the execution `name` of a state machine (the scan machine's are named after their test_id)."""
    return d.ref(machine).replace(":stateMachine:", ":execution:") + f":{name}"


def git_secret(name):
    """The ARN of the Secrets Manager secret `name` in the test account."""
    return f"arn:aws:secretsmanager:{translated.REGION}:{translated.ACCOUNT}:secret:{name}"


def calls(d):
    """(function, action, resource, context, why) for every request the code makes; `READ?` marks an S3
    read of a key that may be missing (GetObject plus the ListBucket check)."""
    work = d.ref("WorkBucket")
    runs = f"s3://{work}/runs/{TEST_ID}"
    bundles = f"s3://{work}/bundles/{TEST_ID}"
    jobs, audit, events = (d.att(t, "Arn") for t in ("JobsTable", "AuditTable", "EventsTable"))
    key = d.att("SigningKey", "Arn")
    out = []

    def add(function, action, resource, context=None, why=""):
        out.append((function, action, resource, context or {}, why))

    def run_store(function, step, writes=True):
        add(function, "READ?", f"{runs}/stages/{step}.json", why="its idempotency marker (absent on the first run)")
        if writes:
            add(function, "s3:PutObject", f"arn:aws:s3:::{work}/runs/{TEST_ID}/stages/{step}.json", why="its marker")
        add(function, "READ?", f"{runs}/state.json", why="the run state")
        add(function, "dynamodb:GetItem", jobs, why="the job record")
        add(function, "dynamodb:PutItem", audit, why="the audit trail")
        add(function, "dynamodb:Query", events, why="the next event seq")
        add(function, "dynamodb:PutItem", events, why="its events")

    for step in STAGES:
        run_store(step, step)
        if step != "run-scanner":
            add(step, "dynamodb:PutItem", jobs, why="the job record")
    run_store("scanner-task", "run-scanner", writes=False)
    for function in ("run-scanner", "scanner-task"):
        add(function, "READ?", f"{runs}/source.tgz", why="the source snapshot")
        add(function, "s3:PutObject", f"arn:aws:s3:::{work}/runs/{TEST_ID}/tools/semgrep.json", why="the tool record")
    for function in ("build-bundle", "finalize"):
        add(function, "s3:ListBucket", f"arn:aws:s3:::{work}", {"s3:prefix": f"runs/{TEST_ID}/bundle/"},
            why="ListObjectsV2 of the partial bundle")
        add(function, "READ?", f"{runs}/tools/semgrep.json", why="a tool record (absent when the tool died)")
        add(function, "s3:PutObject", f"arn:aws:s3:::{work}/bundles/{TEST_ID}/bundle/index.json", why="the bundle")
        add(function, "kms:Sign", key, why="the bundle signature")
        add(function, "kms:GetPublicKey", key, why="the signer's public key")
    add("finalize", "READ?", f"{bundles}/stream.jsonl", why="the stored stream of a failed job")
    add("launch-scanners", "READ?", f"s3://{work}/bundles/{BASELINE}/bundle/merged.sarif", why="a baseline")
    add("verify-manifest", "READ?", f"s3://{work}/config/manifest-key.pem", why="an s3:// verification key")
    add("verify-manifest", "kms:GetPublicKey", CONFIGURED["ManifestVerificationKeyKmsArn"], why="an awskms:// key")
    add("prepare-source", "codecommit:GitPull", CONFIGURED["PushRepositoryArns"][0], why="a CodeCommit clone")
    add("prepare-source", "secretsmanager:GetSecretValue", git_secret(CONFIGURED["GitSecretsPrefix"] + "acme-AbCdEf"),
        why="a secretsmanager: git_credentials_ref")

    add("request-upload", "READ?", f"{bundles}/bundle/index.json", why="the bundle sent to Trust")
    add("request-upload", "kms:Sign", key, why="the Trust request's inner signature")
    add("request-upload", "kms:GetPublicKey", key, why="the signer's public key")
    add("request-upload", "secretsmanager:GetSecretValue", CONFIGURED["TrustTokenSecretArn"], why="the Trust token")
    add("request-upload", "dynamodb:GetItem", jobs, why="the job record")
    add("request-upload", "dynamodb:PutItem", jobs, why="the upload status")
    add("promote", "READ?", f"{bundles}/bundle/index.json", why="the bundle to publish")
    raw, golden = d.ref("RawBucket"), d.ref("GoldenBucket")
    add("promote", "s3:PutObject", f"arn:aws:s3:::{raw}/security-scans/{TEST_ID}/incoming/index.json", why="raw copy")
    add("promote", "s3:GetObject", f"arn:aws:s3:::{raw}/security-scans/{TEST_ID}/incoming/index.json", why="raw read")
    add("promote", "s3:PutObject", f"arn:aws:s3:::{golden}/security-scans/{TEST_ID}/golden/index.json", why="golden")

    for function in ("api", "push-trigger"):
        add(function, "dynamodb:GetItem", jobs, why="the job record")
        add(function, "dynamodb:PutItem", jobs, why="a new job")
        add(function, "dynamodb:PutItem", audit, why="the audit trail")
        add(function, "dynamodb:PutItem", events, why="the first event")
        add(function, "states:StartExecution", d.ref("ScanStateMachine"), why="the scan")
        add(function, "READ?", f"s3://{work}/config/{CONFIGURED['PushRegistrationsKey']}", why="the registrations")
        add(function, "READ?", f"s3://{work}/config/webhook-secrets/payments.secret", why="a webhook secret")
    add("api", "dynamodb:Query", f"{jobs}/index/by_workspace", why="listing a workspace's jobs")
    add("api", "states:StartExecution", d.ref("UploadStateMachine"), why="an upload")
    add("api", "states:StopExecution", scan_execution(d, TEST_ID), why="a cancel")

    ws_api = d.ref("WebSocketApi")
    connections = d.att("ConnectionsTable", "Arn")
    add("ws", "READ?", f"s3://{work}/config/{CONFIGURED['JwksObjectKey']}", why="the JWKS")
    add("ws", "dynamodb:GetItem", jobs, why="the subscribed job")
    add("ws", "dynamodb:Query", events, why="the replay")
    for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
        add("ws", action, connections, why="the connection record")
    add("ws", "dynamodb:Query", f"{connections}/index/by_test_id", why="a job's subscribers")
    stage = f"arn:aws:execute-api:{translated.REGION}:{translated.ACCOUNT}:{ws_api}/live"
    add("ws", "execute-api:ManageConnections", f"{stage}/POST/@connections/{CONNECTION}", why="PostToConnection")
    add("ws", "execute-api:ManageConnections", f"{stage}/DELETE/@connections/{CONNECTION}", why="DeleteConnection")
    stream = d.att("EventsTable", "StreamArn")
    for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
        add("ws", action, stream, why="the events stream (event source mapping)")
    add("ws", "dynamodb:ListStreams", "*", why="the events stream (event source mapping)")
    add("ws", "sqs:SendMessage", d.att("WsStreamFailures", "Arn"), why="the mapping's on-failure destination")

    snapshot = "snapshots/" + "ab" * 32 + ".zip"
    add("sync-advisories", "s3:PutObject", f"arn:aws:s3:::{work}/advisories/{snapshot}", why="the snapshot")
    add("sync-advisories", "s3:PutObject", f"arn:aws:s3:::{work}/advisories/current.json", why="the pointer")
    add("sync-advisories", "READ?", f"s3://{work}/config/{CONFIGURED['AdvisoryCaKey']}", why="the mirror's CA")
    for function in ("run-scanner", "scanner-task"):
        add(function, "READ?", f"s3://{work}/advisories/current.json", why="the advisory pointer (absent before a sync)")
        add(function, "s3:GetObject", f"arn:aws:s3:::{work}/advisories/{snapshot}", why="the advisory snapshot")
        index = "scan-cache/" + "cd" * 32 + "/" + "ef" * 32 + ".idx"
        add(function, "READ?", f"s3://{work}/{index}", why="a per-file tool's result index (absent at the first scan)")
        add(function, "s3:PutObject", f"arn:aws:s3:::{work}/{index}", why="the tool's new result index")
    return out


class IamGrantsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(CONFIGURED)

    def check(self, function, action, resource, context):
        role, statements = self.d.role_of(function)
        if action == "READ?":
            return role, iam_eval.reads_missing_key(statements, resource)
        return role, iam_eval.allowed(statements, action, resource, context)

    def test_every_call_of_the_code_is_granted(self):
        missing = []
        for function, action, resource, context, why in calls(self.d):
            role, ok = self.check(function, action, resource, context)
            if not ok:
                shown = "s3:GetObject + s3:ListBucket (missing key → 404)" if action == "READ?" else action
                missing.append(f"{function} ({role}): {shown} on {resource} {context or ''} — {why}")
        self.assertEqual(missing, [], "\n" + "\n".join(missing))

    def test_a_missing_listbucket_is_caught(self):
        # The evaluator must see the 403 that S3 answers for a missing key without ListBucket.
        work = self.d.ref("WorkBucket")
        statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{work}/runs/*"}]
        uri = f"s3://{work}/runs/{TEST_ID}/stages/prepare-source.json"
        self.assertFalse(iam_eval.reads_missing_key(statements, uri))
        statements.append({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{work}",
                           "Condition": {"StringLike": {"s3:prefix": ["runs/*"]}}})
        self.assertTrue(iam_eval.reads_missing_key(statements, uri))
        self.assertFalse(iam_eval.reads_missing_key(statements, f"s3://{work}/bundles/{TEST_ID}/index.json"))

    def test_grants_are_not_wider_than_their_prefix(self):
        _, statements = self.d.role_of("prepare-source")
        work = self.d.ref("WorkBucket")
        self.assertFalse(iam_eval.allowed(statements, "s3:GetObject", f"arn:aws:s3:::{work}/bundles/{TEST_ID}/x"))
        self.assertFalse(iam_eval.allowed(statements, "s3:ListBucket", f"arn:aws:s3:::{work}", {"s3:prefix": "bundles/"}))
        self.assertFalse(iam_eval.allowed(statements, "s3:ListBucket", f"arn:aws:s3:::{work}"))
        self.assertFalse(iam_eval.allowed(statements, "kms:Sign", self.d.att("SigningKey", "Arn")))
        # Git credential secrets: only those under the prefix, and only prepare-source reads them.
        for other in ("certus-trust-AbCdEf", "prod/db-AbCdEf", "certus-assurance/gitx-AbCdEf"):
            self.assertFalse(iam_eval.allowed(statements, "secretsmanager:GetSecretValue", git_secret(other)), other)
        self.assertFalse(iam_eval.allowed(statements, "secretsmanager:DescribeSecret",
                                          git_secret("certus-assurance/git/acme-AbCdEf")))
        for function in ("api", "run-scanner", "scanner-task", "fetch-manifest"):
            _, other = self.d.role_of(function)
            self.assertFalse(iam_eval.allowed(other, "secretsmanager:GetSecretValue",
                                              git_secret("certus-assurance/git/acme-AbCdEf")), function)
        _, ws = self.d.role_of("ws")
        stage = f"arn:aws:execute-api:{translated.REGION}:{translated.ACCOUNT}:{self.d.ref('WebSocketApi')}"
        self.assertFalse(iam_eval.allowed(ws, "execute-api:ManageConnections", f"{stage}/live/GET/@connections/x"))
        # Cancelling stops scan executions only: not upload executions, not the machine, and no other role may.
        _, api = self.d.role_of("api")
        self.assertTrue(iam_eval.allowed(api, "states:StopExecution", scan_execution(self.d, TEST_ID)))
        self.assertFalse(iam_eval.allowed(api, "states:StopExecution",
                                          scan_execution(self.d, f"{TEST_ID}-upload-0", "UploadStateMachine")))
        self.assertFalse(iam_eval.allowed(api, "states:StopExecution", self.d.ref("ScanStateMachine")))
        for function in ("push-trigger", "finalize", "ws"):
            _, statements = self.d.role_of(function)
            self.assertFalse(iam_eval.allowed(statements, "states:StopExecution", scan_execution(self.d, TEST_ID)),
                             function)

    def test_the_advisory_sync_writes_its_prefix_only_and_the_scanners_only_read_it(self):
        work = self.d.ref("WorkBucket")
        _, sync = self.d.role_of("sync-advisories")
        for action, key in (("s3:PutObject", "advisories-other/x"), ("s3:PutObject", "runs/t/x"),
                            ("s3:PutObject", "advisories/elsewhere.json"), ("s3:GetObject", "advisories/current.json"),
                            ("s3:DeleteObject", "advisories/current.json"), ("s3:PutObject", "config/advisory-ca.pem")):
            self.assertFalse(iam_eval.allowed(sync, action, f"arn:aws:s3:::{work}/{key}"), (action, key))
        self.assertFalse(iam_eval.allowed(sync, "dynamodb:GetItem", self.d.att("JobsTable", "Arn")))
        for function in ("run-scanner", "scanner-task"):
            _, statements = self.d.role_of(function)
            self.assertFalse(iam_eval.allowed(statements, "s3:PutObject", f"arn:aws:s3:::{work}/advisories/current.json"),
                             function)
        for function in STAGES + ["api", "push-trigger", "ws", "request-upload", "promote"]:
            if function in ("run-scanner",):
                continue
            _, statements = self.d.role_of(function)
            self.assertFalse(iam_eval.allowed(statements, "s3:PutObject",
                                              f"arn:aws:s3:::{work}/advisories/current.json"), function)

    def test_only_the_roles_that_run_tools_reach_the_scan_cache(self):
        work = self.d.ref("WorkBucket")
        index = f"arn:aws:s3:::{work}/scan-cache/" + "cd" * 32 + "/" + "ef" * 32 + ".idx"
        for function in ("run-scanner", "scanner-task"):
            _, statements = self.d.role_of(function)
            self.assertTrue(iam_eval.allowed(statements, "s3:PutObject", index), function)
            for action, key in (("s3:DeleteObject", index), ("s3:PutObject", f"arn:aws:s3:::{work}/scan-cachex/y"),
                                ("s3:PutObject", f"arn:aws:s3:::{work}/bundles/{TEST_ID}/x")):
                self.assertFalse(iam_eval.allowed(statements, action, key), (function, action, key))
        for function in STAGES + ["api", "push-trigger", "ws", "request-upload", "promote", "sync-advisories"]:
            if function == "run-scanner":
                continue
            _, statements = self.d.role_of(function)
            for action in ("s3:GetObject", "s3:PutObject"):
                self.assertFalse(iam_eval.allowed(statements, action, index), (function, action))

    def test_unconfigured_features_grant_nothing(self):
        d = Deployment({})
        work = d.ref("WorkBucket")
        for function in ("api", "push-trigger", "ws"):
            _, statements = d.role_of(function)
            self.assertFalse(iam_eval.allowed(statements, "s3:GetObject", f"arn:aws:s3:::{work}/config/triggers.toml"),
                             function)
            self.assertFalse(iam_eval.allowed(statements, "s3:GetObject",
                                              f"arn:aws:s3:::{work}/config/webhook-secrets/a.secret"), function)
        _, prepare = d.role_of("prepare-source")
        self.assertFalse(iam_eval.allowed(prepare, "secretsmanager:GetSecretValue",
                                          git_secret("certus-assurance/git/acme-AbCdEf")))
        self.assertEqual(d.env["prepare-source"]["CERTUS_ASSURANCE_GIT_SECRETS_PREFIX"], "")
        _, sync = d.role_of("sync-advisories")
        self.assertFalse(iam_eval.allowed(sync, "s3:GetObject", f"arn:aws:s3:::{work}/config/advisory-ca.pem"))


if __name__ == "__main__":
    unittest.main()
