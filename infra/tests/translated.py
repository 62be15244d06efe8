#!/usr/bin/env python3
"""infra/template.yaml as CloudFormation receives it: aws-sam-translator's offline transform (CodeUri,
ContentUri and DefinitionUri given as the s3:// values `sam package` would put there), with its parameters
(their defaults, plus infra/tests/fixtures/parameters.json for those without one) and its `Rules`, and a
resolver that turns the intrinsic functions into the values a deployment would see (made-up but well-formed
names and ARNs in one account and region).

`python3 infra/tests/translated.py --write-environments` rewrites infra/tests/fixtures/function-environments.json:
the environment each function (and the Fargate scanner container) gets with those parameters, which the Rust
tests of the settings readers load (test_template.py checks the file is current).
`python3 infra/tests/translated.py --list-functions` prints binary, logical id, CodeUri and layers of every
function, tab-separated (scripts/package-functions.sh builds from it).
"""
import copy
import hashlib
import json
import os
import re
import sys

from cfnlint.decode import decode

HERE = os.path.dirname(os.path.abspath(__file__))
INFRA = os.path.dirname(HERE)
TEMPLATE = os.path.join(INFRA, "template.yaml")
PARAMETERS = os.path.join(HERE, "fixtures", "parameters.json")
ENVIRONMENTS = os.path.join(HERE, "fixtures", "function-environments.json")

REGION = "eu-west-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STACK = "certus-assurance"
# Every optional parameter given a value, so that conditional resources and grants are checked too.
ALL_FEATURES = {
    "PushRegistrationsKey": "triggers.toml",
    "JwksObjectKey": "jwks.json",
    "ScannerImageTag": "v1",
    "GitSecretsPrefix": "certus-assurance/git/",
    "TrustTokenSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:certus-trust-AbCdEf",
    "ManifestVerificationRequired": "true",
    "ManifestVerificationKeyRef": "awskms:///arn:aws:kms:eu-west-1:123456789012:key/manifest",
    "ManifestVerificationKeyKmsArn": "arn:aws:kms:eu-west-1:123456789012:key/manifest",
    "PushRepositoryArns": ["arn:aws:codecommit:eu-west-1:123456789012:infra"],
    "AdvisoryCaKey": "advisory-ca.pem",
}
SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def plain(node):
    """cfn-lint's decoded nodes as plain dicts, lists and strings."""
    return json.loads(json.dumps(node))


def sam_template():
    template, matches = decode(TEMPLATE)
    assert template is not None, matches
    return plain(template)


class _NoManagedPolicies:
    """The template names no managed policy; the translator still asks for the map."""

    def load(self):
        return {}


def translate(sam=None):
    """The CloudFormation template that aws-sam-translator makes of the SAM template (offline)."""
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    sam = copy.deepcopy(sam if sam is not None else sam_template())
    for name, resource in sam["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if key in props:
                props[key] = f"s3://certus-artifacts/{name}/{key.lower()}"
    return plain(transform(sam, {}, _NoManagedPolicies()))


def parameters(template, overrides=None):
    """Every parameter's value: its default, the fixtures' values for those without one, then `overrides`."""
    with open(PARAMETERS, encoding="utf-8") as f:
        given = json.load(f)
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in given:
            values[name] = given[name]
        elif "Default" in spec:
            values[name] = spec["Default"]
        else:
            raise KeyError(f"parameter {name} has no default and no value in {PARAMETERS}")
        if spec.get("Type", "").startswith(("List<", "CommaDelimitedList")) and isinstance(values[name], str):
            values[name] = [v for v in values[name].split(",")] if values[name] else [""]
    values.update(overrides or {})
    return values


class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Select, Fn::Split and conditions."""

    def __init__(self, template, values):
        self.template = template
        self.resources = template.get("Resources", {})
        self.values = values
        self.conditions = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    # -- names a deployment would give -------------------------------------------------------------
    def physical(self, logical):
        return f"{STACK}-{logical}-X1Y2Z3".lower() if self.kind(logical) == "AWS::S3::Bucket" else f"{STACK}-{logical}-X1Y2Z3"

    def kind(self, logical):
        return self.resources[logical]["Type"]

    def arn(self, service, rest):
        return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{rest}"

    def ref(self, name):
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": STACK,
            "AWS::StackId": self.arn("cloudformation", f"stack/{STACK}/0000"),
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.values:
            return self.values[name]
        kind = self.kind(name)
        physical = self.physical(name)
        if kind == "AWS::StepFunctions::StateMachine":
            return self.arn("states", f"stateMachine:{physical}")
        if kind == "AWS::ECS::TaskDefinition":
            return self.arn("ecs", f"task-definition/{physical}:1")
        if kind == "AWS::KMS::Key":
            return "0a1b2c3d-0000-4000-8000-" + hashlib.sha256(name.encode()).hexdigest()[:12]
        if kind == "AWS::Lambda::LayerVersion":
            return self.arn("lambda", f"layer:{physical}:1")
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT}/{physical}"
        if kind in ("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"):
            return name.lower()[:10]
        if kind == "AWS::Logs::LogGroup":
            return self.resolve(self.resources[name]["Properties"].get("LogGroupName", physical))
        return physical

    def get_att(self, name, attribute):
        kind = self.kind(name)
        ref = self.ref(name)
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{PARTITION}:s3:::{ref}"
        if kind == "AWS::DynamoDB::Table":
            table = self.arn("dynamodb", f"table/{ref}")
            return {"Arn": table, "StreamArn": f"{table}/stream/2026-12-01T00:00:00.000"}[attribute]
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return self.arn("lambda", f"function:{ref}")
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{ref}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return self.arn("kms", f"key/{ref}")
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return self.arn("logs", f"log-group:{ref}:*")
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return self.arn("sqs", self.physical(name))
        if kind == "AWS::Events::Rule" and attribute == "Arn":
            return self.arn("events", f"rule/{ref}")
        if kind == "AWS::ECS::Cluster" and attribute == "Arn":
            return self.arn("ecs", f"cluster/{ref}")
        if kind == "AWS::ECR::Repository":
            return {"Arn": self.arn("ecr", f"repository/{ref}"),
                    "RepositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.{URL_SUFFIX}/{ref}"}[attribute]
        if kind == "AWS::EC2::SecurityGroup" and attribute == "GroupId":
            return "sg-0123456789abcdef0"
        if kind == "AWS::StepFunctions::StateMachine" and attribute == "Arn":
            return ref
        if kind == "AWS::StepFunctions::StateMachine" and attribute == "Name":
            return self.physical(name)
        raise KeyError(f"no made-up value for {name}.{attribute} ({kind})")

    # -- conditions ----------------------------------------------------------------------------------
    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.template["Conditions"][name])
        return self.conditions[name]

    def truth(self, node):
        (function, args), = node.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            left, right = (self.resolve(a) for a in args)
            return left == right
        if function == "Fn::Not":
            return not self.truth(args[0])
        if function == "Fn::And":
            return all(self.truth(a) for a in args)
        if function == "Fn::Or":
            return any(self.truth(a) for a in args)
        raise ValueError(f"unknown condition function {function}")

    # -- values --------------------------------------------------------------------------------------
    def resolve(self, node):
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, args), = node.items()
            if key == "Ref":
                return NO_VALUE if args == "AWS::NoValue" else self.ref(args)
            if key == "Fn::GetAtt":
                name, attribute = args if isinstance(args, list) else args.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                text, variables = (args, {}) if isinstance(args, str) else (args[0], self.resolve(args[1]))
                return SUB.sub(lambda m: self.sub_value(m.group(1), variables), text)
            if key == "Fn::Join":
                separator, items = args
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::If":
                name, when_true, when_false = args
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Select":
                index, items = self.resolve(args)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = self.resolve(args)
                return text.split(separator)
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self.truth(node)
        resolved = {}
        for key, value in node.items():
            value = self.resolve(value)
            if value is not NO_VALUE:
                resolved[key] = value
        return resolved

    def sub_value(self, name, variables):
        if name in variables:
            return str(variables[name])
        if "." in name:
            logical, attribute = name.split(".", 1)
            return str(self.get_att(logical, attribute))
        value = self.ref(name)
        return ",".join(value) if isinstance(value, list) else str(value)


class _NoValue:
    def __repr__(self):
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def rule_failures(template, values):
    """The AssertDescription of every `Rules` assertion that fails with these parameter values."""
    resolver = Resolver({"Parameters": template.get("Parameters", {}), "Resources": {}}, values)
    failures = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not resolver.truth(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not resolver.truth(assertion["Assert"]):
                failures.append((name, assertion["AssertDescription"]))
    return failures


def binary_names(sam):
    """Logical id → binary (crate) name of every function of the SAM template."""
    return {
        name: resource["Metadata"]["BuildProperties"]["Binary"]
        for name, resource in sam["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def environments(sam=None, cfn=None, overrides=None):
    """Binary name → the environment the function gets; `scanner-task` → the Fargate container's."""
    sam = sam if sam is not None else sam_template()
    cfn = cfn if cfn is not None else translate(sam)
    resolver = Resolver(cfn, parameters(cfn, overrides))
    out = {}
    for logical, binary in binary_names(sam).items():
        props = cfn["Resources"][logical]["Properties"]
        out[binary] = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
    for container in resolver.resolve(cfn["Resources"]["ScannerTaskDefinition"]["Properties"]["ContainerDefinitions"]):
        out[f"{container['Name']}-task"] = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
    return out


def functions(sam=None):
    """Binary name → (logical id, CodeUri relative to the repository, layer logical ids) of every function."""
    sam = sam if sam is not None else sam_template()
    out = {}
    for logical, binary in binary_names(sam).items():
        props = sam["Resources"][logical]["Properties"]
        code_uri = os.path.relpath(os.path.normpath(os.path.join(INFRA, props["CodeUri"])), os.path.dirname(INFRA))
        layers = [layer["Ref"] for layer in props.get("Layers", [])]
        out[binary] = (logical, code_uri, layers)
    return out


def main(argv):
    if argv == ["--list-functions"]:
        for binary, (logical, code_uri, layers) in sorted(functions().items()):
            print(f"{binary}\t{logical}\t{code_uri}\t{','.join(layers)}")
        return 0
    if argv != ["--write-environments"]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(ENVIRONMENTS, "w", encoding="utf-8") as f:
        json.dump(environments(), f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {ENVIRONMENTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
