"""The documentation tells the truth about the command line: every long
option in --help is in the man page, and every exit code is documented."""

import os
import re
import subprocess
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
    def test_every_long_option_is_in_the_man_page(self):
        man = read("docs/smtpsend.1").replace("\\-", "-")
        options = long_options(["--help"]) + long_options(["explain", "--help"])
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


if __name__ == "__main__":
    unittest.main()
