"""The shell completions load in bash, zsh and fish without an error, and
complete a profile name read from the settings files, a provider name, and
the subcommands. Each shell runs the real binary, as a user's shell would."""

import os
import re
import shutil
import subprocess
import unittest

from smtptest import BIN, SmtpTestCase

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
COMPLETIONS = os.path.join(ROOT, "packaging", "completions")


class Completions(SmtpTestCase):
    def setUp(self):
        super().setUp()
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        os.symlink(BIN, os.path.join(bindir, "smtpsend"))
        folder = os.path.join(self.tmp, ".config", "smtpsend")
        os.makedirs(folder)
        with open(os.path.join(folder, "config.ini"), "w") as f:
            f.write("default = work\n[profile work]\nhelo = w\n[profile gmail-alerts]\nprovider = gmail\n")
        other = os.path.join(self.tmp, "other.ini")
        with open(other, "w") as f:
            f.write("[profile elsewhere]\nhelo = e\n")
        self.shell_env = {"HOME": self.tmp, "PATH": bindir + ":/usr/bin:/bin", "TERM": "dumb",
                          "XDG_CONFIG_HOME": os.path.join(self.tmp, ".config")}

    def shell(self, argv, script):
        r = subprocess.run(argv + [script], capture_output=True, text=True, timeout=60,
                           env=self.shell_env, cwd=self.tmp)
        return r.returncode, [l.split("\t")[0] for l in r.stdout.splitlines()], r.stderr

    def bash(self, line):
        """COMPREPLY for the cursor at the end of `line`."""
        words = line.split(" ")
        script = """
source /usr/share/bash-completion/bash_completion
source %s/smtpsend.bash
COMP_LINE=%r; COMP_POINT=${#COMP_LINE}
COMP_WORDS=(%s); COMP_CWORD=%d
_smtpsend
printf '%%s\\n' "${COMPREPLY[@]}"
""" % (COMPLETIONS, line, " ".join("'%s'" % w for w in words), len(words) - 1)
        code, out, err = self.shell(["bash", "-c"], script)
        self.assertEqual((code, err), (0, ""))
        return out

    def test_bash_completes_profiles_providers_and_subcommands(self):
        self.assertEqual(self.bash("smtpsend --profile "), ["gmail-alerts", "work"])
        self.assertEqual(self.bash("smtpsend --profile gm"), ["gmail-alerts"])
        self.assertEqual(self.bash("smtpsend --config other.ini --profile "), ["elsewhere"])
        self.assertEqual(self.bash("smtpsend --provider mail"), ["mailgun", "mailjet"])
        self.assertEqual(self.bash("smtpsend config "), ["show", "profiles", "providers", "import"])
        self.assertEqual(self.bash("smtpsend queue f"), ["flush"])
        self.assertEqual(self.bash("smtpsend --tls i"), ["implicit"])
        self.assertIn("--password-cmd", self.bash("smtpsend --pass"))

    def test_every_completion_knows_every_long_option_in_help(self):
        for script in ("smtpsend.bash", "_smtpsend", "smtpsend.fish"):
            text = open(os.path.join(COMPLETIONS, script)).read()
            help_text = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
            for option in set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]+)", help_text)):
                self.assertTrue(("--" + option) in text or ("-l " + option + " ") in text,
                                "%s lacks --%s" % (script, option))

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed (tests/setup.sh installs it)")
    def test_zsh_loads_it_and_completes_a_profile(self):
        script = """
fpath=(%s $fpath)
autoload -U compinit && compinit -u -d %s/zcompdump
print -r -- "registered:$_comps[smtpsend]"
# Load the file's functions without a completion context, then ask the
# profile helper with the words of "smtpsend --profile <TAB>".
_arguments() { return 1 }
source %s/_smtpsend
_describe() { print -rl -- ${(P)${@[-1]}} }
words=(smtpsend --profile ''); CURRENT=3
_smtpsend_profiles
words=(smtpsend --provider ''); CURRENT=3
_smtpsend_providers | head -2
""" % (COMPLETIONS, self.tmp, COMPLETIONS)
        code, out, err = self.shell(["zsh", "-f", "-c"], script)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, ["registered:_smtpsend", "gmail-alerts", "work", "gmail",
                               "google-workspace-relay"])

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed (tests/setup.sh installs it)")
    def test_fish_loads_it_and_completes_a_profile(self):
        script = """
source %s/smtpsend.fish
complete -C 'smtpsend --profile '
complete -C 'smtpsend --provider sen'
complete -C 'smtpsend config p'
""" % COMPLETIONS
        code, out, err = self.shell(["fish", "--no-config", "-c"], script)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, ["gmail-alerts", "work", "sendgrid", "profiles", "providers"])


if __name__ == "__main__":
    unittest.main()
