"""The deploy-faithful run's request check (deployed_run.request_actions and check_request) without a
deployment: each recorded request becomes the IAM actions and resources it needs, and a role lacking one is
refused naming action and resource — S3's 403 for a missing key without s3:ListBucket included."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deployed_run  # noqa: E402

BUCKET = "certus-assurance-workbucket-x1y2z3"
KEY = "runs/test_0123456789ab/stages/prepare-source.json"
OBJECT = f"arn:aws:s3:::{BUCKET}/{KEY}"
READ_RUNS = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{BUCKET}/runs/*"}
LIST_RUNS = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
             "Condition": {"StringLike": {"s3:prefix": ["runs/*"]}}}


def s3(method, path, status=200, copy_source=None):
    return {"method": method, "path": path, "target": None, "copy_source": copy_source, "status": status}


def json_call(target, body, status=200):
    return {"method": "POST", "path": "/", "target": target, "json": body, "status": status}


class RequestActions(unittest.TestCase):
    def test_s3_requests_name_the_object_or_the_bucket_and_prefix(self):
        self.assertEqual(deployed_run.request_actions(s3("HEAD", f"/{BUCKET}/{KEY}", 404), {}),
                         [("s3:GetObject", OBJECT, {}, True)])
        self.assertEqual(deployed_run.request_actions(s3("GET", f"/{BUCKET}?list-type=2&prefix=runs%2Ft%2F"), {}),
                         [("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "runs/t/"}, False)])
        self.assertEqual(deployed_run.request_actions(s3("PUT", f"/{BUCKET}/bundles/t/a", copy_source=f"/{BUCKET}/runs/t/a"), {}),
                         [("s3:PutObject", f"arn:aws:s3:::{BUCKET}/bundles/t/a", {}, False),
                          ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/runs/t/a", {}, False)])
        self.assertEqual(deployed_run.request_actions(s3("DELETE", f"/{BUCKET}/k?uploadId=1"), {})[0][0],
                         "s3:AbortMultipartUpload")

    def test_json_requests_name_table_index_key_machine_and_secret(self):
        table = "arn:aws:dynamodb:eu-west-1:123456789012:table/jobs"
        self.assertEqual(deployed_run.request_actions(
            json_call("DynamoDB_20120810.Query", {"TableName": "jobs", "IndexName": "by_workspace"}), {}),
            [("dynamodb:Query", f"{table}/index/by_workspace", {}, False)])
        self.assertEqual(deployed_run.request_actions(json_call("TrentService.Sign", {"KeyId": "k-1"}), {})[0][:2],
                         ("kms:Sign", "arn:aws:kms:eu-west-1:123456789012:key/k-1"))
        arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fp-AbCdEf"
        self.assertEqual(deployed_run.request_actions(
            json_call("secretsmanager.GetSecretValue", {"SecretId": "fp"}), {"fp": arn})[0][:2],
            ("secretsmanager:GetSecretValue", arn))


class CheckRequest(unittest.TestCase):
    def test_a_management_call_needs_manage_connections_on_its_method_and_connection(self):
        stage = "arn:aws:execute-api:eu-west-1:123456789012:wsapi/live"
        post_only = {"Effect": "Allow", "Action": "execute-api:ManageConnections",
                     "Resource": f"{stage}/POST/@connections/*"}

        def call(method):
            return {"method": method, "path": "/live/@connections/Ab1=", "target": None, "status": 200,
                    "service": "execute-api", "resource": f"{stage}/{method}/@connections/Ab1="}

        self.assertEqual(deployed_run.check_request([post_only], call("POST"), {}),
                         [("execute-api:ManageConnections", f"{stage}/POST/@connections/Ab1=", True, "")])
        [(_, resource, ok, why)] = deployed_run.check_request([post_only], call("DELETE"), {})
        self.assertEqual((resource, ok, why), (f"{stage}/DELETE/@connections/Ab1=", False, "not granted by its role"))

    def test_a_missing_key_read_needs_list_bucket(self):
        missing = s3("GET", f"/{BUCKET}/{KEY}", 404)
        [(action, resource, ok, why)] = deployed_run.check_request([READ_RUNS], missing, {})
        self.assertEqual((action, resource, ok), ("s3:GetObject", OBJECT, False))
        self.assertIn("s3:ListBucket", why)
        self.assertTrue(deployed_run.check_request([READ_RUNS, LIST_RUNS], missing, {})[0][2])
        self.assertTrue(deployed_run.check_request([READ_RUNS], s3("GET", f"/{BUCKET}/{KEY}"), {})[0][2],
                        "a key that exists needs GetObject only")

    def test_listing_outside_the_granted_prefix_and_ungranted_actions_are_refused(self):
        outside = s3("GET", f"/{BUCKET}?list-type=2&prefix=bundles%2F")
        self.assertFalse(deployed_run.check_request([LIST_RUNS], outside, {})[0][2])
        put_elsewhere = s3("PUT", f"/{BUCKET}/config/triggers.toml")
        self.assertEqual(deployed_run.check_request([READ_RUNS], put_elsewhere, {})[0][3], "not granted by its role")

    def test_a_request_moto_refused_is_never_allowed(self):
        refused = s3("GET", f"/{BUCKET}/{KEY}", 403)
        refused["answer"] = "AccessDenied"
        self.assertFalse(deployed_run.check_request([READ_RUNS, LIST_RUNS], refused, {})[0][2])


class MotoPolicy(unittest.TestCase):
    def test_moto_gets_no_conditions_and_star_resources_outside_s3(self):
        self.assertEqual(deployed_run.moto_statement(LIST_RUNS),
                         {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"})
        dynamo = {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "arn:aws:dynamodb:x:y:table/t"}
        self.assertEqual(deployed_run.moto_statement(dynamo)["Resource"], "*")


if __name__ == "__main__":
    unittest.main()
