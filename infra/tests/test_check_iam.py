"""Tests of check_iam.py: the real template passes, the bad fixture is rejected on every rule it breaks."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_iam.py")
TEMPLATE = os.path.join(HERE, "..", "template.yaml")
BAD = os.path.join(HERE, "fixtures", "bad-template.yaml")

sys.path.insert(0, HERE)
from check_iam import Checker  # noqa: E402


def run(*paths):
    return subprocess.run([sys.executable, CHECK, *paths], capture_output=True, text=True, check=False)


class CheckIamTest(unittest.TestCase):
    def test_the_template_is_least_privilege(self):
        out = run(TEMPLATE)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("least privilege ok", out.stdout)

    def test_the_bad_fixture_is_rejected_on_every_rule(self):
        violations = [v[len(BAD) + 1 :] for v in Checker(BAD).run()]
        lines = sorted(int(v.split(":", 1)[0]) for v in violations)
        self.assertEqual(lines, [16, 23, 28, 39, 46, 54, 58], violations)
        text = "\n".join(violations)
        self.assertIn("managed policy 'arn:aws:iam::aws:policy/AdministratorAccess' cannot be checked", text)
        self.assertIn("Action 's3:*' has a wildcard", text)
        self.assertIn("table/*' has a wildcard", text)
        self.assertIn("SAM policy template S3CrudPolicy cannot be checked", text)
        self.assertIn("Action 'kms:*' has a wildcard", text)
        self.assertIn("FirstFunction: shares its role", text)
        self.assertIn("SecondFunction: shares its role", text)
        self.assertNotIn("sqs", text)

    def test_the_command_fails_with_one_line_per_violation(self):
        out = run(BAD)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(len(out.stdout.strip().splitlines()), 7, out.stdout)

    def test_a_removed_justification_is_caught(self):
        with open(TEMPLATE, encoding="utf-8") as f:
            text = f.read()
        stripped = text.replace("# wildcard: X-Ray trace segments have no resource-level permissions", "# X-Ray")
        self.assertNotEqual(text, stripped)
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"certus-check-iam-{os.getpid()}.yaml")
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(stripped)
            violations = Checker(path).run()
        finally:
            os.remove(path)
        self.assertTrue(violations)
        self.assertTrue(all("Resource '*' has a wildcard" in v for v in violations), violations)

    def test_an_unreadable_template_is_an_error_not_a_pass(self):
        out = run(os.path.join(HERE, "fixtures", "missing.yaml"))
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    unittest.main()
