"""Settings a user can trust (issue 16) and values that cannot reach the
wire (issue 14): every settings example in the docs loads with the values it
shows, a server URL wins over a provider preset, one exit-code rule per
layer, did-you-mean for typos, and the terminal hint for the body."""

import json
import os
import pty
import re
import subprocess
import time
import unittest

from smtptest import BIN, SmtpTestCase

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Every settings example (an ```ini fence, or a ```json fence with
# "profiles") in README.md, docs/*.md and packaging/examples, keyed by its
# file and first line, with the values it must yield: {profile: {key: value}}
# ("" = the top level). "~" stands for the home folder.
EXPECTED = {
    ("README.md", "default = work"): {
        "work": {"provider": "office365", "server": "smtp://smtp.office365.com", "port": "587",
                 "tls": "starttls", "user": "robot@example.com",
                 "password_cmd": "pass show smtp/office365", "from": "CI Robot <robot@example.com>"},
        "alerts": {"provider": "gmail", "server": "smtp://smtp.gmail.com", "user": "me@gmail.com",
                   "password_file": "~/.config/smtpsend/gmail-app-password"},
        "gmail-oauth": {"server": "smtps://smtp.gmail.com:465", "auth": "xoauth2",
                        "oauth2_token_cmd": "mutt_oauth2.py ~/.config/smtpsend/gmail.tokens"},
    },
    ("docs/configuration.md", "# ~/.config/smtpsend/config.ini  (chmod 600: it names a password command)"): {
        "work": {"server": "smtp://smtp.office365.com:587", "timeout": "20",
                 "from": "CI Robot <robot@example.com>", "password_cmd": "pass show smtp/office365",
                 "cafile": "/etc/ssl/certs/ca-certificates.crt"},
        "gmail": {"server": "smtps://smtp.gmail.com:465",
                  "password_cmd": "secret-tool lookup service smtp user me@gmail.com"},
        "gmail-oauth": {"server": "smtps://smtp.gmail.com:465", "auth": "xoauth2", "user": "me@gmail.com"},
        "relay": {"server": "smtp://relay.internal.example:25", "tls": "none"},
    },
    ("docs/configuration.md", "{"): {
        "work": {"server": "smtp://smtp.office365.com:587", "timeout": "20",
                 "password_cmd": "pass show smtp/office365"},
        "gmail-oauth": {"server": "smtps://smtp.gmail.com:465", "auth": "xoauth2",
                        "oauth2_token_cmd": "mutt_oauth2.py ~/.config/smtpsend/gmail.tokens"},
    },
    ("docs/cron.md", "# /etc/smtpsend/config.ini  (root-owned, mode 640: it names a password file)"): {
        "": {"provider": "fastmail", "server": "smtps://smtp.fastmail.com", "port": "465",
             "tls": "implicit", "user": "alerts@example.com", "password_file": "/etc/smtpsend/password",
             "from": "cron on host1 <alerts@example.com>", "domain": "example.com",
             "aliases": "/etc/aliases", "queue": "true"},
    },
    ("docs/getting-started.md", "default = gmail"): {
        "gmail": {"provider": "gmail", "server": "smtp://smtp.gmail.com", "user": "me@gmail.com",
                  "from": "Me <me@gmail.com>",
                  "password_file": "~/.config/smtpsend/gmail-app-password"},
    },
    ("docs/providers.md", "[profile gmail]"): {
        "gmail": {"server": "smtp://smtp.gmail.com", "password_file": "~/.config/smtpsend/gmail-app-password"},
        "mail-eu": {"server": "smtp://smtp.eu.mailgun.org", "region": "eu",
                    "password_env": "MAILGUN_SMTP_PASSWORD"},
    },
    ("packaging/examples/config.ini", ""): {
        "gmail": {"server": "smtp://smtp.gmail.com", "timeout": "20",
                  "from": "Backup Robot <robot@example.com>", "user": "robot@gmail.com"},
        "work": {"server": "smtp://smtp.office365.com", "auth": "xoauth2",
                 "oauth2_token_cmd": "~/.local/bin/m365-token"},
        "ses": {"server": "smtp://email-smtp.eu-west-1.amazonaws.com", "region": "eu-west-1",
                "password_env": "SES_SMTP_PASSWORD"},
        "relay": {"server": "smtp://relay.internal.example:25", "tls": "none", "queue": "true"},
    },
    ("packaging/examples/config.json", ""): {
        "gmail": {"server": "smtp://smtp.gmail.com", "timeout": "20", "user": "robot@gmail.com"},
        "ses": {"server": "smtp://email-smtp.eu-west-1.amazonaws.com", "user": "AKIAEXAMPLEEXAMPLE"},
    },
}


def settings_examples():
    """(file, first line, format, text) of every settings example."""
    found = []
    docs = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(ROOT, "docs"))
                                  if f.endswith(".md"))
    for rel in docs:
        with open(os.path.join(ROOT, rel)) as f:
            text = f.read()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            lang, body = m.group(1), m.group(2)
            if lang == "ini" or re.search(r"^\s*\[profile ", body, re.M):
                found.append((rel, body.split("\n")[0], "ini", body))
            elif lang == "json" and '"profiles"' in body:
                found.append((rel, body.split("\n")[0], "json", body))
    folder = os.path.join(ROOT, "packaging", "examples")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as f:
            found.append(("packaging/examples/" + name, "", name.rsplit(".", 1)[1], f.read()))
    return found


class Settings(SmtpTestCase):
    def write_config(self, text, name="config.ini"):
        folder = os.path.join(self.tmp, ".config", "smtpsend")
        os.makedirs(folder, exist_ok=True)
        for old in ("config.ini", "config.json"):
            if os.path.exists(os.path.join(folder, old)):
                os.remove(os.path.join(folder, old))
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def show(self, *args, **env):
        r = self.run_smtpsend(["config", "show", "--json"] + list(args), **env)
        self.assertExit(r, 0)
        return r.json()["settings"]

    # --- every example in the docs

    def test_every_settings_example_in_the_docs_loads_with_the_values_it_shows(self):
        examples = settings_examples()
        self.assertGreaterEqual(len(examples), 8)
        for rel, first, fmt, text in examples:
            with self.subTest(example=rel, first_line=first):
                expected = EXPECTED.get((rel, first))
                self.assertIsNotNone(expected, "a new settings example: add its values to EXPECTED")
                self.write_config(text, "config." + fmt)
                for profile, values in expected.items():
                    args = ["--profile", profile] if profile else []
                    r = self.run_smtpsend(["config", "show", "--json"] + args)
                    self.assertExit(r, 0)
                    self.assertEqual(r.stderr, "")  # no warning either
                    s = r.json()["settings"]
                    for key, value in values.items():
                        self.assertEqual(s[key]["value"], value.replace("~", self.tmp, 1)
                                         if key in ("password_file",) else value, key)
                    for key, v in s.items():
                        self.assertNotIn("#", v["value"], key)  # no comment kept in a value

    # --- a server URL wins over a preset

    def test_a_server_url_beside_a_preset_is_where_the_mail_goes(self):
        server = self.aio()
        path = self.write_config(
            "[profile g]\n"
            "provider = gmail   # a preset\n"
            "server = smtp://127.0.0.1:%d\n"
            "cafile = %s\n"
            "user = alice@example.com\n"
            "password = s3cret\n"
            "from = me@example.com\n" % (server.port, self.certs.cafile))
        r = self.run_smtpsend(["--profile", "g", "-s", "x", "dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        r = self.run_smtpsend(["config", "show", "--profile", "g"])
        lines = {l.split("=")[0].strip(): l for l in r.stdout.splitlines()}
        self.assertIn("= %d  (profile \"g\", %s:3)" % (server.port, path), lines["port"])
        self.assertIn("= starttls  (profile \"g\", %s:3)" % path, lines["tls"])

    def test_a_server_flag_over_a_preset_gives_its_port_and_tls_mode(self):
        s = self.show("--server", "smtps://host.example:2465", SMTPSEND_PROVIDER="gmail")
        self.assertEqual((s["port"]["value"], s["port"]["origin"]), ("2465", "flag --server"))
        self.assertEqual((s["tls"]["value"], s["tls"]["origin"]), ("implicit", "flag --server"))
        self.assertEqual(s["auth"]["origin"], "provider gmail (env SMTPSEND_PROVIDER)")

    # --- one exit-code rule: a bad value from a flag is 64, from a file or env 78

    def test_a_bad_value_is_64_from_a_flag_and_78_from_the_environment_or_a_file(self):
        rows = [("provider", "gmial"), ("helo", "my host"), ("domain", "exa mple.com"),
                ("server", "ftp://x"), ("timeout", "soon"), ("tls", "maybe")]
        for key, value in rows:
            with self.subTest(key=key):
                r = self.run_smtpsend(["config", "show", "--" + key.replace("_", "-"), value])
                self.assertExit(r, 64)
                self.assertIn(key, r.stderr)
                r = self.run_smtpsend(["config", "show"], **{"SMTPSEND_" + key.upper(): value})
                self.assertExit(r, 78)
                self.assertIn("SMTPSEND_" + key.upper(), r.stderr)
                path = self.write_config("%s = %s\n" % (key, value))
                r = self.run_smtpsend(["config", "show"])
                self.assertExit(r, 78)
                self.assertIn(path + ":1: ", r.stderr)
                os.remove(path)

    def test_a_bad_from_is_64_as_a_flag_and_78_from_the_environment(self):
        server = self.responder()
        env = self.server_env(server)
        del env["SMTPSEND_FROM"]
        r = self.run_smtpsend(["--from", "bad", "-s", "x", "a@example.com"], stdin=b"x\n", **env)
        self.assertExit(r, 64)
        self.assertIn("from (flag --from): ", r.stderr)
        r = self.run_smtpsend(["-s", "x", "a@example.com"], stdin=b"x\n", SMTPSEND_FROM="bad", **env)
        self.assertExit(r, 78)
        self.assertIn("from (env SMTPSEND_FROM): ", r.stderr)
        self.assertEqual(server.connections, 0)

    def test_ses_without_a_region_or_with_a_mistyped_one_is_refused(self):
        r = self.run_smtpsend(["config", "show", "--provider", "ses"])
        self.assertExit(r, 64)
        self.assertIn("provider ses needs region (flag --provider)", r.stderr)
        r = self.run_smtpsend(["config", "show"], SMTPSEND_PROVIDER="ses")
        self.assertExit(r, 78)
        r = self.run_smtpsend(["config", "show"], SMTPSEND_PROVIDER="ses", SMTPSEND_REGION="eu-west1")
        self.assertExit(r, 78)
        self.assertIn('region = "eu-west1" is not an AWS region with SES (env SMTPSEND_REGION)', r.stderr)
        self.assertIn('hint: did you mean "eu-west-1"?', r.stderr)

    # --- values that would become SMTP commands

    def test_a_domain_with_crlf_is_refused_before_any_connection(self):
        server = self.responder()
        sendmail = os.path.join(self.tmp, "sendmail")
        os.symlink(os.path.abspath(BIN), sendmail)
        env = self.env(**self.server_env(server, SMTPSEND_DOMAIN="example.com\r\nRCPT TO:<x@evil.test>"))
        started = time.time()
        proc = subprocess.run([sendmail, "-f", "root", "-t"], input=b"To: a@example.com\n\nx\n",
                              capture_output=True, env=env, timeout=30)
        self.assertEqual(proc.returncode, 78, proc.stderr)
        err = proc.stderr.decode()
        self.assertIn("SMTPSEND_DOMAIN: domain contains a line break or control character", err)
        self.assertNotIn("evil", err)
        self.assertLess(time.time() - started, 10)
        self.assertEqual(server.connections, 0)
        self.assertEqual(server.log, [])

    def test_helo_with_a_space_is_refused_naming_the_key(self):
        server = self.responder()
        r = self.run_smtpsend(["-s", "x", "a@example.com"], stdin=b"x\n",
                              **self.server_env(server, SMTPSEND_HELO="my host"))
        self.assertExit(r, 78)
        self.assertIn('SMTPSEND_HELO: helo = "my host" is not a host name', r.stderr)
        r = self.run_smtpsend(["--helo", "my host", "-s", "x", "a@example.com"], stdin=b"x\n",
                              **self.server_env(server))
        self.assertExit(r, 64)
        self.assertEqual(server.connections, 0)

    # --- domain in every mode

    def test_domain_qualifies_a_local_recipient_outside_sendmail_mode(self):
        server = self.aio()
        r = self.run_smtpsend(["--domain", "example.com", "-s", "x", "root"], stdin=b"x\n",
                              **self.server_env(server))
        self.assertExit(r, 0)
        self.assertEqual(server.messages[0]["rcpt_tos"], ["root@example.com"])
        self.assertIn(b"To: root@example.com\r\n", server.messages[0]["content"])

    # --- typos

    def test_typos_get_the_nearest_name_and_exit_64(self):
        rows = [(["--subjet", "x", "a@example.com"], "did you mean --subject?"),
                (["chekc"], 'did you mean "check"?'),
                (["config", "shwo"], 'did you mean "show"?')]
        for args, text in rows:
            with self.subTest(args=args):
                r = self.run_smtpsend(args)
                self.assertExit(r, 64)
                self.assertIn(text, r.stderr)

    def test_help_for_a_command_and_dash_capital_v(self):
        r = self.run_smtpsend(["help", "check"])
        self.assertExit(r, 0)
        self.assertIn("--rcpt", r.stdout)
        r = self.run_smtpsend(["-V"])
        self.assertExit(r, 0)
        self.assertTrue(r.stdout.startswith("smtpsend "), r.stdout)

    def test_warnings_for_a_duplicate_key_and_an_unknown_variable(self):
        path = self.write_config("[profile a]\nhelo = one\nhelo = two\n")
        r = self.run_smtpsend(["config", "show", "--profile", "a"], SMTPSEND_PASWORD="x")
        self.assertExit(r, 0)
        self.assertIn("smtpsend: warning: %s:3: helo is set twice in [profile a] (line 2 and here); "
                      "the last one wins" % path, r.stderr)
        self.assertIn("smtpsend: warning: env SMTPSEND_PASWORD is not a setting and is ignored; "
                      "did you mean SMTPSEND_PASSWORD?", r.stderr)
        self.assertNotIn(" x", r.stderr)

    # --- durations

    def test_every_duration_key_takes_units_and_is_shown_as_written(self):
        s = self.show(SMTPSEND_TIMEOUT="30s", SMTPSEND_RETRY_WAIT="1m", SMTPSEND_MAX_TIME="2h")
        self.assertEqual(s["timeout"]["value"], "30s")
        self.assertEqual(s["retry_wait"]["value"], "1m")
        self.assertEqual(s["max_time"]["value"], "2h")
        self.assertEqual(s["max_age"]["value"], "5d")  # the default, not 432000s
        self.write_config("timeout = 2m   # two minutes\nmax_age = 12h\n")
        s = self.show()
        self.assertEqual((s["timeout"]["value"], s["max_age"]["value"]), ("2m", "12h"))

    # --- the body at a terminal, a missing attachment

    def test_at_a_terminal_the_user_is_told_how_to_end_the_body(self):
        server = self.aio()
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([BIN, "-s", "tty", "dev@example.com"], stdin=slave,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=self.env(**self.server_env(server)))
            os.close(slave)
            slave = None
            os.write(master, b"hello from a terminal\n\x04")
            out, err = proc.communicate(timeout=30)
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(b"press Ctrl-D at the start of a line to send it", err)
        self.assertIn(b"hello from a terminal", server.messages[0]["content"])
        # Not a terminal: nothing is said.
        r = self.run_smtpsend(["-s", "pipe", "dev@example.com"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 0)
        self.assertNotIn("Ctrl-D", r.stderr)

    def test_a_missing_attachment_names_the_option(self):
        server = self.aio()
        r = self.run_smtpsend(["--attach", os.path.join(self.tmp, "nope.pdf"), "-s", "x",
                               "dev@example.com"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 66)
        self.assertIn("smtpsend: --attach: cannot open %s/nope.pdf" % self.tmp, r.stderr)
        self.assertEqual(server.messages, [])


if __name__ == "__main__":
    unittest.main()
