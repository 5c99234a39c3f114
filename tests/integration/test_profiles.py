"""Settings from profile files, layered with the environment and flags;
`config show`; OAuth2 logins (XOAUTH2, OAUTHBEARER) against a server that
checks the token."""

import json
import os
import unittest

from smtptest import SmtpTestCase


class Profiles(SmtpTestCase):
    def write_config(self, text, name="config.ini", mode=0o600):
        folder = os.path.join(self.tmp, ".config", "smtpsend")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def profile_text(self, server, password="s3cret"):
        return ("default = work\n"
                "timeout = 10\n"
                "[profile work]\n"
                "server = smtp://127.0.0.1:%d\n"
                "cafile = %s\n"
                "user = alice@example.com\n"
                "password = %s\n"
                "from = Work Robot <robot@example.com>\n" % (server.port, self.certs.cafile, password))

    def test_sends_with_a_profile_file_alone(self):
        server = self.aio()
        self.write_config(self.profile_text(server))
        r = self.run_smtpsend(["-s", "from a profile", "dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(server.messages[0]["mail_from"], "robot@example.com")
        self.assertTrue(server.messages[0]["authenticated"])

    def test_json_profile_and_the_environment_overrides_it(self):
        server = self.aio()
        self.write_config(json.dumps({
            "default": "work",
            "profiles": {"work": {"server": "smtp://127.0.0.1:%d" % server.port,
                                  "cafile": self.certs.cafile, "user": "alice@example.com",
                                  "password": "wrong", "from": "robot@example.com"}}}),
            name="config.json")
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 77)
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n", SMTPSEND_PASSWORD="s3cret",
                              SMTPSEND_FROM="env@example.com")
        self.assertExit(r, 0)
        self.assertEqual(server.messages[-1]["mail_from"], "env@example.com")

    def test_config_show_names_every_origin_and_masks_secrets(self):
        server = self.aio()
        path = self.write_config(self.profile_text(server, password="Very-Secret-42"))
        r = self.run_smtpsend(["config", "show", "--helo", "flag.example"], SMTPSEND_TIMEOUT="12")
        self.assertExit(r, 0)
        lines = {l.split("=")[0].strip(): l for l in r.stdout.splitlines()}
        self.assertIn("(%s:1)" % path, lines["profile"])
        self.assertIn('(profile "work", %s:4)' % path, lines["server"])
        self.assertIn("********", lines["password"])
        self.assertIn("(env SMTPSEND_TIMEOUT)", lines["timeout"])
        self.assertIn("(flag --helo)", lines["helo"])
        self.assertIn("(default)", lines["auth"])
        self.assertNotIn("Very-Secret-42", r.stdout + r.stderr)
        r = self.run_smtpsend(["config", "show", "--json"])
        j = r.json()
        self.assertEqual(j["profile"], "work")
        self.assertEqual(j["settings"]["password"]["value"], "********")
        self.assertEqual(j["settings"]["user"]["value"], "alice@example.com")

    def test_config_profiles_lists_them(self):
        self.write_config("default = b\n[profile a]\nhelo = a\n[profile b]\ninherit = a\n")
        r = self.run_smtpsend(["config", "profiles"])
        self.assertExit(r, 0)
        self.assertIn("  a  (", r.stdout)
        self.assertIn("* b  (", r.stdout)
        self.assertIn("inherits a", r.stdout)

    def test_bad_file_is_exit_78_with_file_line_and_key(self):
        path = self.write_config("[profile work]\nserver = smtp://h.example\ntls = maybe\n")
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 78)
        self.assertIn('%s:3: tls = "maybe" is not one of starttls, implicit, none' % path, r.stderr)

    def test_readable_secret_is_refused_with_chmod_hint(self):
        path = self.write_config("password = x\n", mode=0o644)
        r = self.run_smtpsend(["config", "show"])
        self.assertExit(r, 78)
        self.assertIn("chmod 600 " + path, r.stderr)

    def test_unknown_profile(self):
        self.write_config("[profile work]\n[profile home]\n")
        r = self.run_smtpsend(["--profile", "wrok", "dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 78)
        self.assertIn('unknown profile "wrok"', r.stderr)
        self.assertIn("profiles: home, work", r.stderr)


class OAuth2(SmtpTestCase):
    def oauth_env(self, server, mech, token_cmd):
        env = self.server_env(server, user=None)
        env.update(SMTPSEND_USER="me@example.com", SMTPSEND_AUTH=mech,
                   SMTPSEND_OAUTH2_TOKEN_CMD=token_cmd)
        return env

    def test_xoauth2_and_oauthbearer_logins(self):
        for mech in ("xoauth2", "oauthbearer"):
            server = self.aio(users={}, tokens={"me@example.com": "ya29.good-token"})
            r = self.run_smtpsend(["-v", "dev@example.com"], stdin=b"x\n",
                                  **self.oauth_env(server, mech, "echo ya29.good-token"))
            self.assertExit(r, 0)
            self.assertEqual(server.handler.oauth_attempts, [("me@example.com", "ya29.good-token")])
            self.assertEqual(server.messages[0]["login"], "me@example.com")
            self.assertNotIn("ya29.good-token", r.stderr)

    def test_rejected_token_says_expired_or_wrong_scope(self):
        for mech in ("xoauth2", "oauthbearer"):
            server = self.aio(users={}, tokens={"me@example.com": "ya29.good-token"})
            r = self.run_smtpsend(["--json", "dev@example.com"], stdin=b"x\n",
                                  **self.oauth_env(server, mech, "echo ya29.expired"))
            self.assertExit(r, 77)
            j = r.json()
            self.assertEqual(j["error"]["stage"], "auth")
            self.assertIn("token was rejected (expired or wrong scope)", j["error"]["summary"])
            self.assertIn("oauth2_token_cmd", " ".join(j["error"]["hints"]))
            self.assertEqual(server.messages, [])
            self.assertNotIn("ya29.expired", r.stdout + r.stderr)

    def test_token_from_the_environment(self):
        server = self.aio(users={}, tokens={"me@example.com": "tok-from-env"})
        env = self.server_env(server, user=None)
        env.update(SMTPSEND_USER="me@example.com", SMTPSEND_AUTH="xoauth2",
                   SMTPSEND_OAUTH2_TOKEN_ENV="CI_TOKEN", CI_TOKEN="tok-from-env")
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n", **env)
        self.assertExit(r, 0)

    def test_failing_token_command(self):
        server = self.aio(users={}, tokens={})
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n",
                              **self.oauth_env(server, "xoauth2", "exit 1"))
        self.assertExit(r, 78)
        self.assertIn("OAuth2 token command failed", r.stderr)


if __name__ == "__main__":
    unittest.main()
