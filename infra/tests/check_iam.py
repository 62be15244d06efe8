#!/usr/bin/env python3
"""Least-privilege check of a SAM/CloudFormation template (issue #10).

Fails on:
  - an IAM statement (role and managed policies, function/state machine `Policies`, bucket, key and queue
    policies) whose Action, NotAction, Resource, NotResource or Principal contains `*`, unless the line of
    that value or the line above carries `# wildcard: <reason>`;
  - managed policies (`ManagedPolicyArns`, SAM policy names/templates in `Policies`): their grants cannot be
    read from the template, so they need the same justification comment;
  - two functions sharing a role, or a role set for every function in Globals.

Usage: check_iam.py TEMPLATE...   (exit 0 when clean, 1 with one line per violation, 2 on a bad template)
The template is parsed with cfn-lint's decoder, which understands !Ref/!Sub/!GetAtt and keeps line numbers.
"""
import json
import re
import sys

from cfnlint.decode import decode

WILDCARD_COMMENT = re.compile(r"#\s*wildcard:\s*\S")
STATEMENT_KEYS = ("Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal")
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
POLICY_DOCUMENTS = {
    "AWS::IAM::Policy": ["PolicyDocument"],
    "AWS::IAM::ManagedPolicy": ["PolicyDocument"],
    "AWS::S3::BucketPolicy": ["PolicyDocument"],
    "AWS::SQS::QueuePolicy": ["PolicyDocument"],
    "AWS::SNS::TopicPolicy": ["PolicyDocument"],
    "AWS::KMS::Key": ["KeyPolicy"],
}


def line_of(node, fallback):
    """1-based line of a decoded node, or of the closest ancestor that has one."""
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else fallback


def strings_in(node, line):
    """Every string inside a value (through intrinsic functions), each with its line."""
    here = line_of(node, line)
    if isinstance(node, str):
        yield node, here
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item, here)


class Checker:
    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.lines = f.read().splitlines()
        self.violations = []

    def justified(self, line):
        candidates = [line, line - 1]
        return any(1 <= n <= len(self.lines) and WILDCARD_COMMENT.search(self.lines[n - 1]) for n in candidates)

    def report(self, line, message):
        self.violations.append(f"{self.path}:{line}: {message}")

    def check_statements(self, where, document, line):
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        if isinstance(statements, dict):
            statements = [statements]
        for statement in statements:
            if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
                branches = statement["Fn::If"][1:] if isinstance(statement["Fn::If"], list) else []
                for branch in branches:
                    self.check_statements(where, {"Statement": [branch]}, line_of(statement, line))
                continue
            if not isinstance(statement, dict):
                continue
            for key in STATEMENT_KEYS:
                if key not in statement:
                    continue
                for text, at in strings_in(statement[key], line_of(statement, line)):
                    if "*" in text and not self.justified(at):
                        self.report(at, f"{where}: {key} {text!r} has a wildcard without a '# wildcard: <reason>' comment")

    def check_managed(self, where, values, line):
        for text, at in strings_in(values, line):
            if not self.justified(at):
                self.report(at, f"{where}: managed policy {text!r} cannot be checked; justify it with '# wildcard: <reason>' or write its statements inline")

    def check_policies_property(self, where, policies, line):
        """SAM `Policies`: a name, a policy document, a policy template, or a list of those."""
        items = policies if isinstance(policies, list) else [policies]
        for item in items:
            at = line_of(item, line)
            if isinstance(item, str):
                self.check_managed(where, item, at)
            elif isinstance(item, dict) and "Statement" in item:
                self.check_statements(where, item, at)
            elif isinstance(item, dict):
                for name in item:
                    if not self.justified(line_of(name, at)):
                        self.report(at, f"{where}: SAM policy template {name} cannot be checked; justify it with '# wildcard: <reason>' or write its statements inline")

    def run(self):
        template, matches = decode(self.path)
        if template is None:
            raise ValueError("; ".join(str(m) for m in matches) or "not a template")
        resources = template.get("Resources", {})
        function_role = (template.get("Globals", {}).get("Function", {}) or {}).get("Role")
        if function_role is not None:
            self.report(line_of(function_role, 1), "Globals.Function.Role gives every function the same role")
        roles = {}
        for name, resource in resources.items():
            kind = resource.get("Type")
            props = resource.get("Properties", {}) or {}
            line = line_of(resource, 1)
            if kind == "AWS::IAM::Role":
                for policy in props.get("Policies", []) or []:
                    self.check_statements(name, policy.get("PolicyDocument", {}), line_of(policy, line))
                if "ManagedPolicyArns" in props:
                    self.check_managed(name, props["ManagedPolicyArns"], line)
            elif kind in POLICY_DOCUMENTS:
                for key in POLICY_DOCUMENTS[kind]:
                    if key in props:
                        self.check_statements(name, props[key], line_of(props[key], line))
            if kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine") and "Policies" in props:
                self.check_policies_property(name, props["Policies"], line)
            if kind in FUNCTION_TYPES and "Role" in props:
                key = json.dumps(props["Role"], sort_keys=True)
                roles.setdefault(key, []).append((name, line_of(props["Role"], line)))
        for key, users in roles.items():
            if len(users) > 1:
                names = ", ".join(name for name, _ in users)
                for name, at in users:
                    self.report(at, f"{name}: shares its role {json.loads(key)} with another function ({names})")
        return self.violations


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        try:
            violations = Checker(path).run()
        except (OSError, ValueError) as error:
            print(f"{path}: cannot check: {error}", file=sys.stderr)
            return 2
        for violation in violations:
            print(violation)
        failed = failed or bool(violations)
        if not violations:
            print(f"{path}: least privilege ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
