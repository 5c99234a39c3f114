"""Failures at every stage, from a scripted responder on 127.0.0.1: each case
asserts the exit code, the stage, and that the hint names the setting to
change. Certificates that are untrusted, for the wrong name, and expired
come from a real TLS handshake."""

import unittest

from smtptest import SmtpTestCase

NO_TLS_EHLO = ["250-responder.test", "250-AUTH PLAIN LOGIN", "250 8BITMIME"]


class StageFailures(SmtpTestCase):
    def send(self, script, args=(), user="alice@example.com", timeout_s="5", **kw):
        server = self.responder(script, **kw)
        env = self.server_env(server, user=user)
        r = self.run_smtpsend(["--json", "--timeout", timeout_s] + list(args) + ["dev@example.com"],
                              stdin=b"hello\n", **env)
        return server, r, r.json()

    def expect(self, r, j, code, stage, hint_words=(), status="failed"):
        self.assertExit(r, code)
        self.assertEqual(j["status"], status, repr(r))
        self.assertEqual(j["error"]["stage"], stage, repr(r))
        hints = " ".join(j["error"]["hints"])
        for w in hint_words:
            self.assertIn(w, hints, repr(r))

    def test_greeting_421(self):
        _, r, j = self.send({"greeting": "421 4.3.2 Service not available"})
        self.expect(r, j, 75, "greeting", ["retry"])

    def test_ehlo_421(self):
        _, r, j = self.send({"ehlo": ["421 4.7.0 Try again later, closing connection. (EHLO)", "CLOSE"]})
        self.expect(r, j, 75, "ehlo")
        self.assertEqual(j["error"]["reply_code"], 421)

    def test_starttls_refused_temporarily(self):
        _, r, j = self.send({"starttls": "454 4.7.0 TLS not available due to temporary reason"})
        self.expect(r, j, 75, "starttls")

    def test_starttls_refused_permanently(self):
        _, r, j = self.send({"starttls": "554 5.7.3 TLS is switched off here"})
        self.expect(r, j, 78, "starttls", ["smtps://"])

    def test_auth_535(self):
        server, r, j = self.send({"auth": ["535-5.7.8 Username and Password not accepted.",
                                           "535 5.7.8 https://support.google.com/mail/?p=BadCredentials"]})
        self.expect(r, j, 77, "auth", ["password source"])
        self.assertEqual(j["error"]["enhanced_code"], "5.7.8")
        self.assertEqual(j["error"]["reply"].count("\n"), 1, "both reply lines are kept")
        self.assertNotIn("MAIL", server.log_commands())

    def test_auth_534_app_password(self):
        _, r, j = self.send({"auth": ["534-5.7.9 Application-specific password required.",
                                      "534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor"]})
        self.expect(r, j, 77, "auth")
        self.assertIn("app password", j["error"]["summary"])

    def test_mail_530_without_credentials(self):
        _, r, j = self.send({"mail": "530 5.7.0 Authentication Required"}, user=None)
        self.expect(r, j, 77, "mail", ["--user", "SMTPSEND_PASSWORD"])
        self.assertIn("none is configured", j["error"]["summary"])

    def test_mail_530_with_credentials_the_server_never_asked_for(self):
        # Credentials configured, AUTH only offered before TLS: never sent.
        server, r, j = self.send({"ehlo_tls": ["250-responder.test", "250 8BITMIME"],
                                  "mail": "530 5.7.0 Authentication Required"})
        self.assertExit(r, 77)  # the server's 530 decides; the summary says why
        self.assertIn("credentials were not sent", j["error"]["summary"])
        self.assertNotIn("AUTH", server.log_commands())
        self.assertEqual(server.messages, [])

    def test_rcpt_550(self):
        _, r, j = self.send({"rcpt": "550 5.1.1 <dev@example.com>: Recipient address rejected: User unknown"})
        self.expect(r, j, 67, "rcpt", ["typos"])
        self.assertEqual(j["rejected"][0]["address"], "dev@example.com")

    def test_rcpt_450(self):
        _, r, j = self.send({"rcpt": "450 4.2.0 <dev@example.com>: Recipient address rejected: Greylisted"})
        self.expect(r, j, 75, "rcpt", ["retry"])

    def test_data_554(self):
        _, r, j = self.send({"data": "554 5.5.1 Error: no valid recipients"})
        self.expect(r, j, 69, "data")

    def test_end_of_data_552_names_the_size_limit(self):
        _, r, j = self.send({"eod": "552 5.3.4 Message size exceeds fixed maximum message size"})
        self.expect(r, j, 65, "end-of-data", ["10240000 bytes"])

    def test_end_of_data_451(self):
        _, r, j = self.send({"eod": "451 4.3.0 Temporary error, try again"})
        self.expect(r, j, 75, "end-of-data")

    def test_connection_dropped_while_sending_the_body(self):
        server = self.responder({"body": "CLOSE"})
        big = (b"x" * 999 + b"\n") * 5000
        r = self.run_smtpsend(["--json", "--timeout", "5", "dev@example.com"], stdin=big,
                              **self.server_env(server))
        self.assertExit(r, 75)
        j = r.json()
        self.assertEqual(j["status"], "failed")
        self.assertEqual(j["error"]["stage"], "data")

    def test_connection_dropped_after_the_whole_message_is_unconfirmed(self):
        _, r, j = self.send({"eod": "CLOSE"})
        self.assertExit(r, 75)
        self.assertEqual(j["status"], "unconfirmed")
        self.assertEqual(j["error"]["stage"], "end-of-data")
        self.assertIn("may or may not", j["error"]["summary"])

    def test_no_greeting_at_all_times_out_at_the_greeting(self):
        _, r, j = self.send({"greeting": "HANG"}, timeout_s="2")
        self.expect(r, j, 75, "greeting", ["smtps://", "--timeout"])
        self.assertLess(r.elapsed, 10)

    def test_non_ascii_local_part_without_smtputf8(self):
        server = self.responder({"rcpt": "553 5.6.7 Non-ASCII addresses are not supported"})
        env = self.server_env(server)
        r = self.run_smtpsend(["--json", "jörg@example.com"], stdin=b"x\n", **env)
        self.assertNotEqual(r.code, 0)
        self.assertIn("SMTPUTF8", " ".join(r.json()["error"]["hints"]))

    def test_garbage_is_a_protocol_error(self):
        _, r, j = self.send({"greeting": [b"HTTP/1.1 400 Bad Request\r\n\r\n", "CLOSE"]})
        self.assertExit(r, 76)
        self.assertEqual(j["error"]["class"], "protocol")


class TlsModeMismatch(SmtpTestCase):
    def test_implicit_tls_to_a_starttls_port(self):
        server = self.responder()
        r = self.run_smtpsend(["--json", "dev@example.com"], stdin=b"x\n",
                              **self.server_env(server, scheme="smtps"))
        self.assertExit(r, 78)
        j = r.json()
        self.assertEqual(j["error"]["stage"], "tls")
        self.assertIn("--tls starttls", " ".join(j["error"]["hints"]))

    def test_plain_smtp_to_an_implicit_tls_port(self):
        server = self.responder(implicit_tls=True)
        r = self.run_smtpsend(["--json", "--timeout", "2", "dev@example.com"], stdin=b"x\n",
                              **self.server_env(server))
        self.assertExit(r, 75)
        j = r.json()
        self.assertEqual(j["error"]["stage"], "greeting")
        self.assertIn("smtps://", " ".join(j["error"]["hints"]))
        self.assertLess(r.elapsed, 10)


class Certificates(SmtpTestCase):
    def check_cert(self, cert, implicit, words):
        server = self.responder(cert=cert, implicit_tls=implicit)
        r = self.run_smtpsend(["--json", "dev@example.com"], stdin=b"x\n",
                              **self.server_env(server, scheme="smtps" if implicit else "smtp"))
        self.assertExit(r, 78)
        j = r.json()
        self.assertEqual(j["error"]["class"], "tls")
        self.assertEqual(j["error"]["stage"], "tls")
        text = j["error"]["summary"] + " " + " ".join(j["error"]["hints"])
        for w in words:
            self.assertIn(w, text, repr(r))
        self.assertNotIn("<auth-data>", server.log)
        self.assertNotIn("AUTH", server.log_commands())

    def test_untrusted(self):
        self.check_cert("self_signed", False, ["not signed by a trusted", "--cafile"])

    def test_untrusted_implicit(self):
        self.check_cert("self_signed", True, ["--cafile"])

    def test_wrong_name(self):
        self.check_cert("wrong_name", False, ["not valid for the name", "127.0.0.1"])

    def test_expired(self):
        self.check_cert("expired", True, ["expired"])


if __name__ == "__main__":
    unittest.main()
