"""`smtpsend check` against a real server and the scripted responder: every
step passes, or the walk stops at the right step with the right exit code,
and no message is ever sent."""

import unittest

from smtptest import SmtpTestCase, free_port


def steps(r):
    return [(s["name"], s["ok"]) for s in r.json()["steps"]]


class Check(SmtpTestCase):
    def test_all_steps_pass(self):
        server = self.aio()
        r = self.run_smtpsend(["check"], **self.server_env(server))
        self.assertExit(r, 0)
        for name in ("settings", "dns", "connect", "greeting", "ehlo", "tls", "auth"):
            self.assertRegex(r.stdout, r"\n?  ok    %s " % name)
        self.assertIn("TLSv1.", r.stdout)
        self.assertIn("names localhost, 127.0.0.1", r.stdout)
        self.assertIn("PLAIN accepted for alice@example.com", r.stdout)
        self.assertIn("AUTH LOGIN", r.stdout)
        self.assertEqual(server.messages, [])
        j = self.run_smtpsend(["check", "--json"], **self.server_env(server)).json()
        self.assertEqual(j["exit_code"], 0)
        self.assertEqual([s["name"] for s in j["steps"]],
                         ["settings", "dns", "connect", "greeting", "ehlo", "tls", "ehlo", "auth"])
        self.assertTrue(all(s["ok"] and s["error"] is None for s in j["steps"]))

    def test_bad_password_fails_at_auth_with_77(self):
        server = self.aio()
        r = self.run_smtpsend(["check", "--json"], **self.server_env(server, password="wrong"))
        self.assertExit(r, 77)
        self.assertEqual(steps(r)[-1], ("auth", False))
        self.assertEqual(r.json()["steps"][-1]["error"]["reply_code"], 535)

    def test_wrong_tls_mode_fails_at_tls_with_the_port_hint(self):
        server = self.aio()
        r = self.run_smtpsend(["check", "--json"], **self.server_env(server, scheme="smtps"))
        self.assertExit(r, 78)
        last = r.json()["steps"][-1]
        self.assertEqual((last["name"], last["ok"]), ("tls", False))
        self.assertIn("--tls starttls", " ".join(last["error"]["hints"]))

    def test_port_and_mode_mismatch_is_warned_about(self):
        server = self.aio()
        env = self.server_env(server)
        env["SMTPSEND_SERVER"] = "smtps://127.0.0.1:587"
        env["SMTPSEND_TIMEOUT"] = "2"
        r = self.run_smtpsend(["check", "--json"], **env)
        self.assertIn("port 587 normally expects STARTTLS", " ".join(r.json()["steps"][0]["warnings"]))

    def test_untrusted_certificate_names_issuer_and_names(self):
        server = self.aio()
        env = self.server_env(server)
        del env["SMTPSEND_CAFILE"]
        r = self.run_smtpsend(["check"], **env)
        self.assertExit(r, 78)
        self.assertIn("  FAIL  tls", r.stdout)
        self.assertIn("issued by CN = smtpsend test CA", r.stderr)
        self.assertIn("localhost, 127.0.0.1", r.stderr)
        self.assertIn("--cafile", r.stderr)

    def test_closed_port_fails_at_connect_with_75(self):
        port = free_port()
        r = self.run_smtpsend(["check", "--json"], SMTPSEND_SERVER="smtp://127.0.0.1:%d" % port)
        self.assertExit(r, 75)
        self.assertEqual(steps(r)[-1], ("connect", False))
        self.assertEqual(r.json()["steps"][-1]["details"], "127.0.0.1 port %d" % port)

    def test_rcpt_rejected_reports_the_reply_and_67(self):
        server = self.aio(reject={"nobody@example.com": "550 5.1.1 <nobody@example.com>: user unknown"})
        r = self.run_smtpsend(["check", "--rcpt", "nobody@example.com", "--json"], **self.server_env(server))
        self.assertExit(r, 67)
        last = r.json()["steps"][-1]
        self.assertEqual((last["name"], last["ok"]), ("rcpt", False))
        self.assertEqual(last["error"]["reply"], "550 5.1.1 <nobody@example.com>: user unknown")
        r = self.run_smtpsend(["check", "--rcpt", "dev@example.com"], **self.server_env(server))
        self.assertExit(r, 0)
        self.assertIn("<dev@example.com> accepted", r.stdout)
        self.assertEqual(server.messages, [])

    def test_never_sends_data_and_resets_the_envelope(self):
        server = self.responder()
        r = self.run_smtpsend(["check", "--rcpt", "dev@example.com"], **self.server_env(server))
        self.assertExit(r, 0)
        cmds = server.log_commands()
        self.assertIn("RCPT", cmds)
        self.assertIn("RSET", cmds)
        self.assertNotIn("DATA", cmds)
        for env in (self.server_env(server, password="x"), self.server_env(server, user=None)):
            self.run_smtpsend(["check", "--rcpt", "dev@example.com"], **env)
        self.assertNotIn("DATA", server.log_commands())
        self.assertEqual(server.messages, [])

    def test_without_credentials_says_whether_the_server_demands_them(self):
        server = self.responder({"mail": "530 5.7.0 Authentication Required"})
        r = self.run_smtpsend(["check", "--json"], **self.server_env(server, user=None))
        self.assertExit(r, 77)
        last = r.json()["steps"][-1]
        self.assertEqual((last["name"], last["ok"]), ("auth", False))
        self.assertIn("none is configured", last["error"]["summary"])
        open_server = self.responder()
        r = self.run_smtpsend(["check"], **self.server_env(open_server, user=None))
        self.assertExit(r, 0)
        self.assertIn("accepts mail without one", r.stdout)
        self.assertIn("RSET", open_server.log_commands())

    def test_no_server_fails_at_settings(self):
        r = self.run_smtpsend(["check", "--json"])
        self.assertExit(r, 78)
        self.assertEqual(steps(r), [("settings", False)])


if __name__ == "__main__":
    unittest.main()
