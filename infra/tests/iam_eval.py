"""A small IAM evaluator for the identity policies of the translated template: does a role's inline policy
allow `action` on `resource` with a request context? It understands what the template uses — Allow and Deny
statements, Action/NotAction and Resource/NotResource lists with `*` and `?` wildcards (in actions, case
insensitive; in ARNs, within the whole ARN as IAM matches), and the condition operators StringEquals,
StringLike, StringNotEquals, StringNotLike, ArnEquals, ArnLike and Bool (a condition on a key the request does
not carry is false, as in IAM; `...IfExists` operators are true then). Anything else is refused loudly, so a
new construct in the template cannot be silently misread.

S3's rule for a missing object: GetObject (and HeadObject) of a key that does not exist answers 404 only when
the caller may also s3:ListBucket the bucket; otherwise 403. `reads_missing_key` models that check with the
key as `s3:prefix` (a prefix-scoped ListBucket grant covers its own keys; see docs/serverless.md "IAM").
"""
import re

OPERATORS = {
    "StringEquals", "StringLike", "StringNotEquals", "StringNotLike", "ArnEquals", "ArnLike", "Bool",
}


def as_list(value):
    return value if isinstance(value, list) else [value]


def wildcard(pattern, text, case_sensitive=True):
    """IAM's `*` (any run of characters) and `?` (one character); nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case_sensitive else re.IGNORECASE) is not None


def action_matches(patterns, action):
    return any(wildcard(p, action, case_sensitive=False) for p in as_list(patterns))


def resource_matches(patterns, resource):
    return any(wildcard(p, resource) for p in as_list(patterns))


def condition_holds(condition, context):
    for operator, keys in condition.items():
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        if base not in OPERATORS:
            raise ValueError(f"condition operator {operator} is not understood by this evaluator")
        for key, expected in keys.items():
            if key not in context:
                if if_exists:
                    continue
                return False
            actual = str(context[key])
            values = [str(v).lower() if base == "Bool" else str(v) for v in as_list(expected)]
            if base in ("StringEquals", "ArnEquals", "Bool"):
                ok = (actual.lower() if base == "Bool" else actual) in values
            elif base in ("StringLike", "ArnLike"):
                ok = any(wildcard(v, actual) for v in values)
            elif base == "StringNotEquals":
                ok = actual not in values
            else:  # StringNotLike
                ok = not any(wildcard(v, actual) for v in values)
            if not ok:
                return False
    return True


def statement_applies(statement, action, resource, context):
    if "Principal" in statement or "NotPrincipal" in statement:
        raise ValueError("a Principal in an identity policy is not understood by this evaluator")
    if "Action" in statement:
        if not action_matches(statement["Action"], action):
            return False
    elif "NotAction" in statement:
        if action_matches(statement["NotAction"], action):
            return False
    if "Resource" in statement:
        if not resource_matches(statement["Resource"], resource):
            return False
    elif "NotResource" in statement:
        if resource_matches(statement["NotResource"], resource):
            return False
    return condition_holds(statement.get("Condition", {}), context)


def allowed(statements, action, resource, context=None):
    """True when some Allow applies and no Deny does."""
    context = context or {}
    applies = [s for s in statements if statement_applies(s, action, resource, context)]
    return any(s["Effect"] == "Allow" for s in applies) and not any(s["Effect"] == "Deny" for s in applies)


def s3_object_arn(uri):
    bucket, key = uri[len("s3://"):].split("/", 1)
    return f"arn:aws:s3:::{bucket}/{key}", bucket, key


def reads_missing_key(statements, uri):
    """A GetObject of a key that may not exist gets a 404 (not a 403): GetObject on the key and ListBucket on
    the bucket for that key."""
    arn, bucket, key = s3_object_arn(uri)
    return allowed(statements, "s3:GetObject", arn) and allowed(
        statements, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key}
    )


def role_statements(resolved_role):
    """Every statement of a resolved AWS::IAM::Role's inline policies."""
    out = []
    for policy in resolved_role["Properties"].get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        out.extend(statements if isinstance(statements, list) else [statements])
    return out

