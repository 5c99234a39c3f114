"""The documentation tells the truth about the command line: every long
option in --help is in smtpsend(1), every profile key in smtpsend.conf(5),
every exit code is documented, and both pages render without a warning."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from smtptest import BIN

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def long_options(args):
    out = subprocess.run([BIN] + args, capture_output=True, text=True, check=True).stdout
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", out)))


class Docs(unittest.TestCase):
    def test_the_gitlab_recipe_fails_with_smtpsends_exit_code(self):
        # ci.md: "the job fails with smtpsend's exit code", although it pipes into tee.
        text = read("docs/ci.md")
        recipe = text[text.index("## GitLab CI"):]
        recipe = recipe[recipe.index("```yaml"):recipe.index("```", recipe.index("```yaml") + 3)]
        lines = recipe.split("  script:\n", 1)[1].split("  artifacts:", 1)[0]
        script = "\n".join(l.strip()[2:] for l in lines.splitlines() if l.strip().startswith("- "))
        tmp = tempfile.mkdtemp(prefix="smtpsend-ci-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(os.path.join(tmp, "smtpsend"), "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\necho '{\"exit_code\": 75}'\nexit 75\n")
        os.chmod(os.path.join(tmp, "smtpsend"), 0o755)
        # GitLab runs a job's script lines in one shell that stops at the first failing line.
        r = subprocess.run(["bash", "-e", "-c", script], cwd=tmp, capture_output=True, text=True,
                           env={"PATH": tmp + ":/usr/bin:/bin", "CI_PIPELINE_URL": "https://ci.invalid/1",
                                "CI_PIPELINE_ID": "1"})
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)


    def test_every_long_option_is_in_the_man_page(self):
        man = read("docs/smtpsend.1").replace("\\-", "-")
        options = long_options(["--help"])
        for sub in (["explain"], ["check"], ["batch"], ["queue", "flush"], ["config", "profiles"],
                    ["config", "providers"], ["config", "import"]):
            options += long_options(sub + ["--help"])
        self.assertIn("--server", options)
        missing = [o for o in options if o not in man]
        self.assertEqual(missing, [], "long options missing from docs/smtpsend.1")

    def test_every_exit_code_is_documented(self):
        codes = [0, 64, 65, 66, 67, 68, 69, 70, 74, 75, 76, 77, 78]
        table = read("docs/exit-codes.md")
        man = read("docs/smtpsend.1")
        for c in codes:
            self.assertRegex(table, r"\| %d \|" % c)
            self.assertIn(".B %d\n" % c, man)

    def test_every_environment_variable_is_in_the_man_page(self):
        man = read("docs/smtpsend.1")
        out = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
        for var in set(re.findall(r"SMTPSEND_[A-Z0-9_]+", out)):
            self.assertTrue(var in man, var + " is missing from docs/smtpsend.1")


    def test_every_profile_key_is_in_smtpsend_conf_5(self):
        conf = read("docs/smtpsend.conf.5")
        out = subprocess.run([BIN, "config", "show", "--json"], capture_output=True, text=True,
                             check=True, env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]})
        keys = list(__import__("json").loads(out.stdout)["settings"])
        self.assertIn("password_cmd", keys)
        missing = [k for k in keys if ".B %s\n" % k not in conf]
        self.assertEqual(missing, [], "profile keys missing from docs/smtpsend.conf.5")
        for entry in ("default", "inherit"):
            self.assertIn(".B %s\n" % entry, conf)

    def test_every_provider_is_in_the_pages_and_docs(self):
        out = subprocess.run([BIN, "config", "providers", "--names"], capture_output=True,
                             text=True, check=True).stdout.split()
        conf = read("docs/smtpsend.conf.5").replace("\\-", "-")
        providers_md = read("docs/providers.md")
        for name in out:
            self.assertIn(name, conf)
            self.assertIn("## `%s`" % name, providers_md)

    def test_the_man_pages_render_without_warnings(self):
        for page in ("docs/smtpsend.1", "docs/smtpsend.conf.5"):
            groff = subprocess.run(["groff", "-ww", "-z", "-man", os.path.join(ROOT, page)],
                                   capture_output=True, text=True)
            self.assertEqual((groff.returncode, groff.stderr), (0, ""), page)
            if shutil.which("mandoc"):
                lint = subprocess.run(["mandoc", "-T", "lint", os.path.join(ROOT, page)],
                                      capture_output=True, text=True)
                self.assertEqual(lint.stdout + lint.stderr, "", page)


if __name__ == "__main__":
    unittest.main()
