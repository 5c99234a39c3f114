"""Fitting in: provider presets, `config import` of msmtp and .NET files
(then `check` on the imported profile against a real server), --version."""

import json
import os
import pty
import subprocess
import unittest

from smtptest import BIN, SmtpTestCase


class Ecosystem(SmtpTestCase):
    def write(self, name, text, mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_config_providers_lists_every_preset(self):
        r = self.run_smtpsend(["config", "providers", "--names"])
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.split(), [
            "gmail", "google-workspace-relay", "outlook", "office365", "yahoo", "icloud",
            "fastmail", "zoho", "ses", "sendgrid", "mailgun", "postmark", "brevo", "mailjet"])
        presets = {p["name"]: p for p in self.run_smtpsend(["config", "providers", "--json"]).json()}
        self.assertEqual((presets["office365"]["host"], presets["office365"]["port"],
                          presets["office365"]["tls"]), ("smtp.office365.com", 587, "starttls"))
        self.assertEqual(presets["mailgun"]["regions"]["eu"], "smtp.eu.mailgun.org")
        text = self.run_smtpsend(["config", "providers"]).stdout
        self.assertIn("you supply: password = an API key", text)

    def test_a_preset_fills_the_server_and_explicit_settings_win(self):
        r = self.run_smtpsend(["config", "show", "--json", "--provider", "sendgrid"])
        self.assertExit(r, 0)
        s = r.json()["settings"]
        self.assertEqual(s["server"]["value"], "smtp://smtp.sendgrid.net")
        self.assertEqual(s["user"]["value"], "apikey")
        self.assertEqual(s["server"]["origin"], "provider sendgrid (flag --provider)")
        # The preset sits at the layer where `provider` is set: the environment
        # here, so a flag overrides it, and so does a later key in the same layer.
        r = self.run_smtpsend(["config", "show", "--json", "--port", "2587"],
                              SMTPSEND_PROVIDER="ses", SMTPSEND_REGION="eu-central-1")
        s = r.json()["settings"]
        self.assertEqual(s["server"]["value"], "smtp://email-smtp.eu-central-1.amazonaws.com")
        self.assertEqual(s["port"]["value"], "2587")
        self.assertEqual(s["tls"]["origin"], "provider ses (env SMTPSEND_PROVIDER)")
        r = self.run_smtpsend(["config", "show", "--provider", "gmial"])
        self.assertExit(r, 64)
        self.assertIn('did you mean "gmail"?', r.stderr)

    def test_the_outlook_preset_asks_for_a_token_not_a_password(self):
        r = self.run_smtpsend(["--provider", "outlook", "--user", "me@outlook.com", "--from",
                               "me@outlook.com", "dev@example.com"], stdin=b"x\n",
                              SMTPSEND_PASSWORD="not used")
        self.assertExit(r, 78)
        self.assertIn("auth = xoauth2 (provider outlook (flag --provider)) needs a token source",
                      r.stderr)
        self.assertIn("the outlook preset logs in with OAuth2", r.stderr)

    def test_a_preset_turns_on_the_providers_hints(self):
        # The server is local, so only the preset can tell smtpsend it is Gmail.
        server = self.responder({"auth": "535 5.7.8 Username and Password not accepted"})
        env = self.server_env(server, user="me@gmail.com")
        r = self.run_smtpsend(["--provider", "gmail", "--server", env.pop("SMTPSEND_SERVER"),
                               "--port", str(server.port), "dev@example.com"],
                              stdin=b"x\n", **env)
        self.assertExit(r, 77)
        self.assertIn("app password", r.stderr)

    def test_import_a_dotnet_config_then_check_reproduces_its_failure(self):
        server = self.aio()
        web = self.write("Web.config", """<?xml version="1.0"?>
<configuration>
  <system.net>
    <mailSettings>
      <smtp from="app@example.com">
        <network host="127.0.0.1" port="%d" userName="alice@example.com" password="s3cret"
                 enableSsl="false" defaultCredentials="true" />
      </smtp>
    </mailSettings>
  </system.net>
</configuration>
""" % server.port)
        r = self.run_smtpsend(["config", "import", web])
        self.assertExit(r, 0)
        self.assertNotIn("s3cret", r.stdout + r.stderr)
        self.assertIn('defaultCredentials="true" next to userName="alice@example.com"', r.stderr)
        self.assertIn("smtpsend check --profile dotnet", r.stderr)
        config = self.write("config.ini", r.stdout + "cafile = %s\n" % self.certs.cafile)
        # The profile is what the application does: no STARTTLS, no login,
        # and the server's refusal is the one the application gets.
        r = self.run_smtpsend(["--config", config, "check", "--json"])
        self.assertExit(r, 78)
        last = r.json()["steps"][-1]
        self.assertEqual((last["name"], last["ok"]), ("auth", False))
        self.assertEqual(last["error"]["reply"], "530 Must issue a STARTTLS command first")
        self.assertIn("remove --tls none", last["error"]["hints"][0])
        # With the fixes the warnings name, the same profile passes.
        secret = self.write("password", "s3cret\n")
        r = self.run_smtpsend(["--config", config, "--profile", "dotnet", "--tls", "starttls",
                               "--user", "alice@example.com", "--password-file", secret, "check"])
        self.assertExit(r, 0)

    def test_import_an_msmtprc_and_send_with_it(self):
        server = self.aio()
        rc = self.write("msmtprc", """# ~/.msmtprc
defaults
auth on
tls on
tls_trust_file %s
timeout 10

account local
host 127.0.0.1
port %d
from robot@example.com
user alice@example.com
passwordeval "echo s3cret"

account other : local
from other@example.com
password hunter2

account default : other
""" % (self.certs.cafile, server.port))
        r = self.run_smtpsend(["config", "import", rc])
        self.assertExit(r, 0)
        self.assertNotIn("hunter2", r.stdout + r.stderr)
        self.assertIn("msmtprc:17: account other: the password was not copied", r.stderr)
        config = self.write("config.ini", r.stdout)
        r = self.run_smtpsend(["--config", config, "--profile", "local", "-s", "imported",
                               "dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 0)
        self.assertEqual(server.messages[-1]["mail_from"], "robot@example.com")
        r = self.run_smtpsend(["--config", config, "config", "show", "--json"])
        s = r.json()
        self.assertEqual(s["profile"], "default")
        self.assertEqual(s["settings"]["from"]["value"], "other@example.com")
        # `other` has its own password (not copied): it must not inherit
        # local's password_cmd, or its login would go out with local's password.
        self.assertNotIn("password_cmd", {k for k, v in s["settings"].items() if v.get("value")})
        r = self.run_smtpsend(["--config", config, "--profile", "other", "-s", "imported",
                               "dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 78)
        self.assertIn('user "alice@example.com"', r.stderr)
        self.assertIn("has no password source", r.stderr)
        self.assertEqual(len(server.messages), 1)
        r = self.run_smtpsend(["config", "import", "--json", rc])
        j = r.json()
        self.assertNotIn("inherit", j["profiles"]["other"])
        self.assertNotIn("password_cmd", j["profiles"]["other"])
        self.assertEqual(j["profiles"]["other"]["server"], "127.0.0.1")
        self.assertEqual(j["profiles"]["default"]["inherit"], "other")
        self.assertEqual(j["profiles"]["local"]["password_cmd"], "echo s3cret")
        self.assertEqual(j["profiles"]["local"]["port"], server.port)

    def test_import_a_web_config_whose_attribute_holds_a_line_break(self):
        # &#10; in an attribute wrote "password_cmd = touch ..." as a line of its own.
        pwned = os.path.join(self.tmp, "PWNED")
        cfg = self.write("Web.config", """<configuration><system.net><mailSettings>
<smtp from="app@example.com">
<network host="smtp.example.com&#10;password_cmd = touch %s" port="587" enableSsl="true"/>
</smtp></mailSettings></system.net></configuration>
""" % pwned)
        for args in (["config", "import", cfg], ["config", "import", "--json", cfg]):
            with self.subTest(args=args):
                r = self.run_smtpsend(args)
                self.assertExit(r, 0)
                self.assertNotIn("PWNED", r.stdout)
                self.assertIn("Web.config:3: host holds a line break or control character; it was "
                              "left out", r.stderr)
        r = self.run_smtpsend(["config", "import", cfg])
        config = self.write("config.ini", r.stdout)
        self.assertIn("# host: left out (%s:3 holds a line break or control character)\n" % cfg,
                      r.stdout)
        r = self.run_smtpsend(["--config", config, "--profile", "dotnet", "config", "show", "--json"])
        self.assertExit(r, 0)
        self.assertFalse(r.json()["settings"].get("password_cmd", {}).get("value"))
        self.assertFalse(os.path.exists(pwned))

    def test_import_errors_name_the_file_and_line(self):
        r = self.run_smtpsend(["config", "import", os.path.join(self.tmp, "missing")])
        self.assertExit(r, 66)
        bad = self.write("App.config", "<configuration>\n<system.net>\n</configuration>\n")
        r = self.run_smtpsend(["config", "import", bad])
        self.assertExit(r, 65)
        self.assertIn("App.config:3: not well-formed XML", r.stderr)

    def send_with_terminal(self, server, args, size):
        """Sends a `size`-byte attachment with stderr on a pseudo-terminal;
        returns (exit code, what the terminal showed)."""
        attachment = os.path.join(self.tmp, "big.bin")
        with open(attachment, "wb") as f:
            f.write(os.urandom(size))
        master, slave = pty.openpty()
        proc = subprocess.Popen([BIN, "-s", "big", "--attach", attachment] + args + ["dev@example.com"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                env=self.env(**self.server_env(server)))
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        code = proc.wait(timeout=120)
        proc.stdout.close()
        os.close(master)
        return code, shown.decode("utf-8", "replace")

    def test_a_large_upload_shows_a_progress_bar_on_a_terminal_only(self):
        server = self.aio(size_limit=64 << 20)
        code, shown = self.send_with_terminal(server, [], 12 << 20)
        self.assertEqual(code, 0, shown)
        self.assertRegex(shown, r"\r\[#*\.*\] \d+\.\d MiB of 16\.\d MiB  \d+%  [\d.]+ [KM]iB/s")
        self.assertRegex(shown, r"\r\[#{24}\] 16\.\d MiB of 16\.\d MiB  100%")  # at the end
        self.assertTrue(shown.endswith("\r\n") or shown.endswith("\n"), repr(shown[-40:]))
        # Never with --json, never when stderr is not a terminal, never for a small message.
        code, shown = self.send_with_terminal(server, ["--json"], 12 << 20)
        self.assertEqual((code, shown), (0, ""))
        code, shown = self.send_with_terminal(server, [], 1 << 20)
        self.assertEqual((code, shown), (0, ""))
        attachment = os.path.join(self.tmp, "big.bin")
        r = self.run_smtpsend(["-s", "big", "--attach", attachment, "dev@example.com"],
                              **self.server_env(server))
        self.assertExit(r, 0)
        self.assertNotIn("MiB/s", r.stderr)
        self.assertEqual(len(server.messages), 4)

    def test_version_names_libcurl_and_its_tls_library(self):
        r = self.run_smtpsend(["--version"])
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"^smtpsend \d+\.\d+\.\d+\nlibcurl 7\.\d+\.\d+\nTLS: OpenSSL/3")


if __name__ == "__main__":
    unittest.main()
