"""The core send path against a real aiosmtpd server and the scripted
responder: TLS modes, login, recipients, exit codes, --json, -v, -t."""

import base64
import email
import email.policy
import os
import resource
import subprocess
import unittest

from smtptest import BIN, SmtpTestCase


def parse(content):
    return email.message_from_bytes(content, policy=email.policy.default)


class StartTlsAndAuth(SmtpTestCase):
    def test_sends_over_starttls_with_login(self):
        server = self.aio()
        body = "Build 42 failed.\nSee the log.\n.leading dot stays\n"
        r = self.run_smtpsend(["-s", "CI: main is red — ünïcode", "--cc", "Ops Team <ops@example.com>",
                               "--bcc", "audit@example.com", "dev@example.com"],
                              stdin=body.encode(), **self.server_env(server))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        m = server.messages[0]
        self.assertTrue(m["tls"])
        self.assertTrue(m["authenticated"])
        self.assertEqual(m["login"], "alice@example.com")
        self.assertEqual(m["mail_from"], "sender@example.com")
        self.assertEqual(sorted(m["rcpt_tos"]), ["audit@example.com", "dev@example.com", "ops@example.com"])
        msg = parse(m["content"])
        self.assertEqual(msg["Subject"], "CI: main is red — ünïcode")
        self.assertEqual(msg["To"], "dev@example.com")
        self.assertEqual(msg["Cc"], "Ops Team <ops@example.com>")
        self.assertIsNone(msg["Bcc"])
        self.assertNotIn(b"audit@example.com", m["content"])
        self.assertIsNotNone(msg["Date"])
        self.assertIsNotNone(msg["Message-ID"])
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertEqual(msg.get_content().replace("\r\n", "\n"), body)
        self.assertIn(b"\r\n", m["content"])
        self.assertNotIn(b"\n\n", m["content"].replace(b"\r\n", b""))

    def test_implicit_tls_with_login(self):
        server = self.aio(implicit_tls=True)
        r = self.run_smtpsend(["-s", "hi", "dev@example.com"], stdin=b"body\n",
                              **self.server_env(server, scheme="smtps"))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        self.assertTrue(server.messages[0]["tls"])
        self.assertTrue(server.messages[0]["authenticated"])

    def test_tls_flag_overrides_url_scheme(self):
        server = self.aio(implicit_tls=True)
        env = self.server_env(server)
        r = self.run_smtpsend(["--tls", "implicit", "dev@example.com"], stdin=b"x\n", **env)
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)

    def test_password_with_special_characters(self):
        password = 'p a:s;s"w@rd'
        server = self.aio(users={"bob@example.com": password})
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n",
                              **self.server_env(server, user="bob@example.com", password=password))
        self.assertExit(r, 0)
        self.assertEqual(server.auth_attempts[-1][2], password)

    def test_password_file_and_command(self):
        server = self.aio()
        path = os.path.join(self.tmp, "pw")
        with open(path, "w") as f:
            f.write("s3cret\nsecond line ignored\n")
        env = self.server_env(server)
        del env["SMTPSEND_PASSWORD"]
        r = self.run_smtpsend(["--password-file", path, "dev@example.com"], stdin=b"x\n", **env)
        self.assertExit(r, 0)
        r = self.run_smtpsend(["--password-cmd", "printf 's3cret\\n'", "dev@example.com"], stdin=b"x\n", **env)
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 2)

    def test_failing_password_command_is_an_error_not_an_empty_password(self):
        server = self.aio()
        env = self.server_env(server)
        del env["SMTPSEND_PASSWORD"]
        r = self.run_smtpsend(["--password-cmd", "exit 3", "dev@example.com"], stdin=b"x\n", **env)
        self.assertExit(r, 78)
        self.assertIn("password command failed", r.stderr)
        self.assertIn("exited with status 3", r.stderr)
        self.assertEqual(server.auth_attempts, [])

    def test_refused_login_exits_77(self):
        server = self.aio()
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n",
                              **self.server_env(server, password="wrong"))
        self.assertExit(r, 77)
        self.assertIn("refused the login", r.stderr)
        self.assertIn("535", r.stderr)
        self.assertEqual(server.messages, [])

    def test_untrusted_certificate_exits_78(self):
        server = self.aio()
        env = self.server_env(server)
        del env["SMTPSEND_CAFILE"]
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n", **env)
        self.assertExit(r, 78)
        self.assertIn("certificate", r.stderr)
        self.assertIn("--cafile", r.stderr)
        self.assertEqual(server.auth_attempts, [])
        self.assertEqual(server.messages, [])

    def test_rejected_recipient_is_partial_and_others_get_the_message(self):
        server = self.aio(reject={"nobody@example.com": "550 5.1.1 <nobody@example.com>: user unknown"})
        r = self.run_smtpsend(["--json", "a@example.com", "nobody@example.com", "b@example.com"],
                              stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 67)
        j = r.json()
        self.assertEqual(j["status"], "partial")
        self.assertEqual(j["exit_code"], 67)
        self.assertEqual(sorted(j["accepted"]), ["a@example.com", "b@example.com"])
        self.assertEqual(j["rejected"], [{"address": "nobody@example.com",
                                          "reply": "550 5.1.1 <nobody@example.com>: user unknown"}])
        self.assertEqual(j["error"]["class"], "recipient")
        self.assertEqual(j["error"]["stage"], "rcpt")
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(sorted(server.messages[0]["rcpt_tos"]), ["a@example.com", "b@example.com"])

    def test_json_on_success(self):
        server = self.aio()
        r = self.run_smtpsend(["--json", "-s", "x", "dev@example.com"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "sent")
        self.assertEqual(j["exit_code"], 0)
        self.assertEqual(j["from"], "sender@example.com")
        self.assertEqual(j["accepted"], ["dev@example.com"])
        self.assertEqual(j["rejected"], [])
        self.assertTrue(j["server"].startswith("smtp://127.0.0.1:"))
        self.assertIn("elapsed_ms", j)
        self.assertNotIn("error", j)
        msg = parse(server.messages[0]["content"])
        self.assertEqual(msg["Message-ID"], j["message_id"])

    def test_verbose_shows_dialogue_and_masks_the_login(self):
        password = "Very-Secret-42"
        server = self.aio(users={"alice@example.com": password})
        r = self.run_smtpsend(["-v", "dev@example.com"], stdin=b"x\n",
                              **self.server_env(server, password=password))
        self.assertExit(r, 0)
        self.assertIn("C: EHLO", r.stderr)
        self.assertIn("C: STARTTLS", r.stderr)
        self.assertIn("C: AUTH PLAIN ***", r.stderr)  # initial response, masked
        self.assertIn("C: MAIL FROM:<sender@example.com>", r.stderr)
        self.assertIn("S: 250 2.0.0 Ok: queued", r.stderr)
        plain = base64.b64encode(b"\0alice@example.com\0" + password.encode()).decode()
        for secret in (password, plain, base64.b64encode(password.encode()).decode()):
            self.assertNotIn(secret, r.stderr)
            self.assertNotIn(secret, r.stdout)

    def test_dry_run_sends_nothing_and_shows_no_password(self):
        server = self.aio()
        r = self.run_smtpsend(["--dry-run", "-s", "subj", "--bcc", "hidden@example.com", "dev@example.com"],
                              stdin=b"hello\n", **self.server_env(server, password="Very-Secret-42"))
        self.assertExit(r, 0)
        self.assertIn("to: <hidden@example.com>", r.stdout)
        self.assertIn("Subject: subj", r.stdout)
        self.assertNotIn("Bcc:", r.stdout)
        self.assertNotIn("Very-Secret-42", r.stdout + r.stderr)
        self.assertEqual(server.messages, [])
        self.assertEqual(server.auth_attempts, [])

    @unittest.skipIf(os.environ.get("ASAN_OPTIONS") or os.environ.get("SMTPSEND_TEST_WRAPPER"),
                     "a sanitizer or valgrind reserves address space a data limit refuses")
    def test_dry_run_prints_a_large_attachment_without_holding_it(self):
        # 96 MiB of zeros (a sparse file) are 130 MiB of base64: more than a
        # 64 MiB data limit lets the process hold at once. It held the whole
        # message in a string and ended in std::bad_alloc.
        attachment = os.path.join(self.tmp, "zeros.bin")
        with open(attachment, "wb") as f:
            f.truncate(96 << 20)
        out_path = os.path.join(self.tmp, "dry-run.out")
        limit = lambda: resource.setrlimit(resource.RLIMIT_DATA, (64 << 20, 64 << 20))  # noqa: E731
        with open(out_path, "wb") as out:
            proc = subprocess.run([BIN, "--dry-run", "-s", "big", "--attach", attachment, "dev@example.com"],
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                                  env=self.env(SMTPSEND_FROM="sender@example.com"), preexec_fn=limit,
                                  timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out_path, "rb") as f:
            head = f.read(4096)
            f.seek(-64, os.SEEK_END)
            tail = f.read()
        marker = b"--- message ("
        start = head.index(marker)
        size = int(head[start + len(marker):head.index(b" bytes) ---\n", start)])
        body_at = head.index(b"\n", start) + 1
        self.assertEqual(os.path.getsize(out_path) - body_at, size)
        self.assertGreater(size, 130 << 20)
        self.assertTrue(tail.endswith(b"--\r\n"), tail)


class ReadRecipientsFromMessage(SmtpTestCase):
    def test_t_takes_recipients_from_headers_and_strips_bcc(self):
        server = self.aio()
        message = (b"From: Cron Daemon <cron@example.com>\n"
                   b"To: root@example.com, \"Doe, Jane\" <jane@example.com>\n"
                   b"Cc: ops@example.com\n"
                   b"Bcc: secret@example.com\n"
                   b"Subject: nightly\n"
                   b"\n"
                   b"all good\n")
        r = self.run_smtpsend(["-t", "extra@example.com"], stdin=message, **self.server_env(server))
        self.assertExit(r, 0)
        m = server.messages[0]
        self.assertEqual(sorted(m["rcpt_tos"]), ["extra@example.com", "jane@example.com", "ops@example.com",
                                                 "root@example.com", "secret@example.com"])
        self.assertNotIn(b"secret@example.com", m["content"])
        self.assertNotIn(b"Bcc", m["content"])
        msg = parse(m["content"])
        self.assertEqual(msg["Subject"], "nightly")
        self.assertIsNotNone(msg["Date"])
        self.assertIsNotNone(msg["Message-ID"])
        self.assertEqual(msg.get_content().replace("\r\n", "\n"), "all good\n")

    def test_t_without_recipients_is_an_input_error(self):
        r = self.run_smtpsend(["-t", "--dry-run", "--from", "a@example.com"],
                              stdin=b"Subject: none\n\nbody\n")
        self.assertExit(r, 65)
        self.assertIn("names no recipients", r.stderr)
        self.assertIn("Bcc", r.stderr)


class TlsSafety(SmtpTestCase):
    def test_refuses_when_starttls_is_not_offered(self):
        ehlo = ["250-responder.test", "250-AUTH PLAIN LOGIN", "250 8BITMIME"]
        server = self.responder({"ehlo": ehlo})
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 78)
        self.assertIn("does not offer STARTTLS", r.stderr)
        cmds = server.log_commands()
        self.assertNotIn("AUTH", cmds)
        self.assertNotIn("MAIL", cmds)
        self.assertNotIn("<auth-data>", server.log)

    def test_never_sends_a_password_without_tls(self):
        server = self.responder({"ehlo": ["250-responder.test", "250 AUTH PLAIN LOGIN"]})
        r = self.run_smtpsend(["--tls", "none", "dev@example.com"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 78)
        self.assertIn("unencrypted", r.stderr)
        self.assertEqual(server.connections, 0)

    def test_plain_relay_without_login_works_with_explicit_tls_none(self):
        server = self.responder({"ehlo": ["250-responder.test", "250 8BITMIME"]})
        r = self.run_smtpsend(["--tls", "none", "dev@example.com"], stdin=b"x\n",
                              **self.server_env(server, user=None))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)

    def test_configured_login_is_never_silently_dropped(self):
        # STARTTLS works, but after TLS the server offers no AUTH and accepts mail.
        server = self.responder({"ehlo_tls": ["250-responder.test", "250 8BITMIME"]})
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 78)
        self.assertIn("offered no AUTH on this connection; credentials were not sent", r.stderr)
        self.assertEqual(server.messages, [], "the message must not be delivered without the login")


class ConnectionFailures(SmtpTestCase):
    def test_refused_connection_exits_75(self):
        from smtptest import free_port
        port = free_port()
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n",
                              SMTPSEND_SERVER="smtp://127.0.0.1:%d" % port, SMTPSEND_FROM="a@example.com")
        self.assertExit(r, 75)
        self.assertIn("refused", r.stderr)

    def test_421_greeting_exits_75(self):
        server = self.responder({"greeting": "421 4.3.2 Service not available, closing channel"})
        r = self.run_smtpsend(["--json", "dev@example.com"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 75)
        j = r.json()
        self.assertEqual(j["status"], "failed")
        self.assertEqual(j["error"]["stage"], "greeting")
        self.assertEqual(j["error"]["reply_code"], 421)
        self.assertEqual(j["error"]["enhanced_code"], "4.3.2")
        self.assertEqual(j["error"]["reply"], "421 4.3.2 Service not available, closing channel")

    def test_no_server_is_a_config_error(self):
        r = self.run_smtpsend(["--from", "a@example.com", "dev@example.com"], stdin=b"x\n")
        self.assertExit(r, 78)
        self.assertIn("no server is set", r.stderr)
        self.assertIn("SMTPSEND_SERVER", r.stderr)


if __name__ == "__main__":
    unittest.main()
