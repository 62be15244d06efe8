"""The Python baseline of the cold-start bench: what a Python Lambda on the `provided` runtime does.

Imports boto3 at init (and, with BASELINE_CLIENTS=1, builds an S3 and a DynamoDB client there, as a real
handler would), then runs a minimal Lambda Runtime API loop with urllib: GET next, answer, repeat.
"""
import json
import os
import urllib.request

import boto3

if os.environ.get("BASELINE_CLIENTS") == "1":
    S3 = boto3.client("s3")
    DYNAMODB = boto3.client("dynamodb")

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"


def handler(event):
    return {"echo": event, "boto3": boto3.__version__}


def main():
    while True:
        with urllib.request.urlopen(API + "/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read())
        body = json.dumps(handler(event)).encode()
        answer = urllib.request.Request(API + "/" + request_id + "/response", data=body, method="POST")
        with urllib.request.urlopen(answer) as response:
            response.read()


main()
