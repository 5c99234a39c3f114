"""smtpsend as /usr/sbin/sendmail: the exact command lines of cron (Debian,
cronie, vixie), git send-email, PHP's mail(), mutt and mailx, each
delivering to a real local server; git send-email and PHP run for real.
Also -bs (SMTP on stdin/stdout), aliases for local recipients, and the
"." line that ends input without -i."""

import email
import email.policy
import os
import shutil
import subprocess
import unittest

from smtptest import BIN, SmtpTestCase

CRON_MESSAGE = (b"From: root (Cron Daemon)\n"
                b"To: root\n"
                b"Subject: Cron <root@host> /usr/local/bin/backup\n"
                b"MIME-Version: 1.0\n"
                b"Content-Type: text/plain; charset=UTF-8\n"
                b"Content-Transfer-Encoding: 8bit\n"
                b"X-Cron-Env: <SHELL=/bin/sh>\n"
                b"\n"
                b"backup: 3 files failed\n")


class SendmailCase(SmtpTestCase):
    """A `sendmail` link to the binary, an aliases file and a real server."""

    def setUp(self):
        super().setUp()
        self.bindir = os.path.join(self.tmp, "bin")
        os.makedirs(self.bindir)
        self.sendmail = os.path.join(self.bindir, "sendmail")
        os.symlink(os.path.abspath(BIN), self.sendmail)
        self.aliases = os.path.join(self.tmp, "aliases")
        with open(self.aliases, "w") as f:
            f.write("# test aliases\npostmaster: root\nroot: admin@example.com,\n  ops@example.com\n"
                    "loop1: loop2\nloop2: loop1\n")
        self.server = self.aio()
        self.base_env = self.env(**self.server_env(self.server, SMTPSEND_FROM="cron@example.com",
                                                   SMTPSEND_ALIASES=self.aliases))

    def run_sendmail(self, args, stdin, env=None):
        proc = subprocess.run([self.sendmail] + args, input=stdin, capture_output=True,
                              env=env or self.base_env, timeout=60)
        return proc

    def received(self):
        self.assertEqual(len(self.server.messages), 1, "exactly one message should arrive")
        m = self.server.messages[0]
        return m, email.message_from_bytes(m["content"], policy=email.policy.default)


class Sendmail(SendmailCase):
    def test_debian_cron(self):
        p = self.run_sendmail(["-i", "-FCronDaemon", "-B8BITMIME", "-oem", "root"], CRON_MESSAGE)
        self.assertEqual(p.returncode, 0, p.stderr)
        m, msg = self.received()
        self.assertEqual(sorted(m["rcpt_tos"]), ["admin@example.com", "ops@example.com"])
        self.assertEqual(m["mail_from"], "cron@example.com")
        self.assertEqual(msg["Subject"], "Cron <root@host> /usr/local/bin/backup")
        self.assertIn("3 files failed", msg.get_content())

    def test_cronie(self):
        p = self.run_sendmail(["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"], CRON_MESSAGE)
        self.assertEqual(p.returncode, 0, p.stderr)
        m, _ = self.received()
        self.assertEqual(sorted(m["rcpt_tos"]), ["admin@example.com", "ops@example.com"])
        self.assertEqual(m["mail_from"], "cron@example.com")

    def test_vixie_cron(self):
        p = self.run_sendmail(["-FCronDaemon", "-odi", "-oem", "-oi", "-t"], CRON_MESSAGE)
        self.assertEqual(p.returncode, 0, p.stderr)
        m, _ = self.received()
        self.assertEqual(sorted(m["rcpt_tos"]), ["admin@example.com", "ops@example.com"])

    def test_mutt(self):
        message = (b"From: Dev <dev@example.com>\nTo: Lead <lead@example.com>\nSubject: review\n"
                   b"Date: Sat, 28 Nov 2026 01:00:00 +0000\n\nplease look\n.\nthe dot stays\n")
        p = self.run_sendmail(["-oem", "-oi", "--", "lead@example.com"], message)
        self.assertEqual(p.returncode, 0, p.stderr)
        m, msg = self.received()
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertIn("the dot stays", msg.get_content())
        self.assertEqual(msg["Date"], "Sat, 28 Nov 2026 01:00:00 +0000")

    def test_mailx(self):
        p = self.run_sendmail(["-i", "--", "lead@example.com"], b"Subject: hi\n\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        m, msg = self.received()
        self.assertEqual(msg["From"], "cron@example.com")
        self.assertIsNotNone(msg["Message-ID"])

    def test_without_i_a_dot_line_ends_the_message(self):
        p = self.run_sendmail(["lead@example.com"], b"Subject: dot\n\nkept\n.\nnot sent\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        _, msg = self.received()
        self.assertIn("kept", msg.get_content())
        self.assertNotIn("not sent", msg.get_content())

    def test_f_and_F_make_the_from_header(self):
        p = self.run_sendmail(["-i", "-f", "robot@example.com", "-F", "Build Robot", "lead@example.com"],
                              b"Subject: x\n\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        m, msg = self.received()
        self.assertEqual(m["mail_from"], "robot@example.com")
        self.assertEqual(msg["From"], "Build Robot <robot@example.com>")

    def test_F_with_a_line_break_is_refused_and_nothing_reaches_the_server(self):
        # Today's code put the name raw into From: a Bcc field, or (bare LF)
        # a second, forged message for a lenient server.
        for name in ("Cron\r\nBcc: hidden@evil.test",
                     "Cron\n.\nMAIL FROM:<s@evil.test>\nRCPT TO:<v@evil.test>\nDATA\nforged"):
            with self.subTest(name=name):
                p = self.run_sendmail(["-i", "-F", name, "lead@example.com"], b"Subject: x\n\nbody\n")
                self.assertEqual(p.returncode, 64, p.stderr)
                self.assertIn(b"sendmail mode: -F \"Cron\\", p.stderr)
                self.assertIn(b"the full name contains a line break or control character", p.stderr)
                self.assertEqual(self.server.messages, [])

    def test_F_names_are_quoted_or_encoded_in_the_from_header(self):
        for name, line in (("Doe, John", b'From: "Doe, John" <robot@example.com>\r\n'),
                           ("J\u00f6rg M\u00fcller", b"From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <robot@example.com>\r\n"),
                           ('say "hi"', b'From: "say \\"hi\\"" <robot@example.com>\r\n')):
            with self.subTest(name=name):
                self.server.messages.clear()
                p = self.run_sendmail(["-i", "-f", "robot@example.com", "-F", name, "lead@example.com"],
                                      b"Subject: x\n\nbody\n")
                self.assertEqual(p.returncode, 0, p.stderr)
                m, msg = self.received()
                self.assertIn(line, m["content"])
                self.assertEqual(msg["From"].addresses[0].display_name, name)

    def test_8bit_and_long_lines_are_re_encoded_keeping_the_structure(self):
        text = "Grüße aus dem Cron ☃\n" + "x" * 2000 + "\n.dot line\n"
        binary = bytes(b for b in range(1, 256) if b not in (10, 13)) * 8  # no NUL, CR or LF in a message
        message = (b"From: cron@example.com\nTo: lead@example.com\nSubject: report\nMIME-Version: 1.0\n"
                   b"Content-Type: multipart/mixed; boundary=\"XYZ\"\n\n"
                   b"--XYZ\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
                   + text.encode() +
                   b"--XYZ\nContent-Type: text/plain; charset=us-ascii\n\nshort ascii\n"
                   b"--XYZ\nContent-Type: application/octet-stream\nContent-Disposition: attachment; "
                   b"filename=\"b.bin\"\nContent-Transfer-Encoding: binary\n\n" + binary +
                   b"\n--XYZ--\n")
        dry = self.run_smtpsend(["--dry-run", "-t"], stdin=message, env=self.base_env)
        self.assertExit(dry, 0)
        self.assertIn("Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe", dry.stdout)
        p = self.run_sendmail(["-t", "-i"], message)
        self.assertEqual(p.returncode, 0, p.stderr)
        m, msg = self.received()
        raw = m["content"]
        self.assertTrue(raw.isascii())
        self.assertLessEqual(max(len(line) for line in raw.split(b"\r\n")), 998)
        parts = list(msg.walk())[1:]
        self.assertEqual([pt.get_content_type() for pt in parts],
                         ["text/plain", "text/plain", "application/octet-stream"])
        self.assertEqual([pt["Content-Transfer-Encoding"] for pt in parts],
                         ["quoted-printable", None, "base64"])
        # The line break before a boundary belongs to the boundary (RFC 2046).
        self.assertEqual(parts[0].get_content().replace("\r\n", "\n"), text[:-1])
        self.assertEqual(parts[1].get_content().replace("\r\n", "\n"), "short ascii")
        self.assertEqual(parts[2].get_payload(decode=True), binary)

    def test_unresolvable_local_name_is_67_with_the_alias_hint(self):
        p = self.run_sendmail(["-i", "nobody"], b"Subject: x\n\nbody\n")
        self.assertEqual(p.returncode, 67, p.stderr)
        self.assertIn(b'cannot resolve the local recipient "nobody"', p.stderr)
        self.assertIn(b"aliases", p.stderr)
        p = self.run_sendmail(["-i", "loop1"], b"Subject: x\n\nbody\n")
        self.assertEqual(p.returncode, 67, p.stderr)
        self.assertIn(b"alias loop: loop1 -> loop2 -> loop1", p.stderr)
        self.assertEqual(self.server.messages, [])

    def test_domain_qualifies_names_without_alias(self):
        env = dict(self.base_env, SMTPSEND_DOMAIN="example.org")
        del env["SMTPSEND_ALIASES"]
        p = self.run_sendmail(["-i", "alice"], b"Subject: x\n\nbody\n", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        m, _ = self.received()
        self.assertEqual(m["rcpt_tos"], ["alice@example.org"])

    def test_t_without_recipients_names_the_headers(self):
        p = self.run_sendmail(["-t", "-i"], b"Subject: nobody\n\nbody\n")
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertIn(b"Resent-Bcc", p.stderr)

    def test_unknown_o_options_are_ignored_and_bp_answers(self):
        p = self.run_sendmail(["-oQ/var/spool", "-oXyz", "-i", "lead@example.com"], b"Subject: x\n\nb\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_sendmail(["-bp"], b"")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"queue", p.stdout)

    @unittest.skipUnless(shutil.which("git") and os.path.exists("/usr/lib/git-core/git-send-email"),
                         "git-email is not installed (tests/setup.sh installs it)")
    def test_git_send_email_for_real(self):
        patch = os.path.join(self.tmp, "0001-fix.patch")
        with open(patch, "w") as f:
            f.write("From 1234567890abcdef Mon Sep 17 00:00:00 2001\n"
                    "From: Dev <dev@example.com>\nDate: Sat, 28 Nov 2026 01:00:00 +0000\n"
                    "Subject: [PATCH] fix the frobnicator\n\nIt was broken.\n---\n"
                    " a.txt | 2 +-\n\ndiff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n"
                    "@@ -1 +1 @@\n-old\n+new\n-- \n2.39.5\n")
        env = dict(self.base_env, GIT_CONFIG_NOSYSTEM="1", HOME=self.tmp, GIT_AUTHOR_NAME="Dev",
                   GIT_AUTHOR_EMAIL="dev@example.com", GIT_COMMITTER_NAME="Dev",
                   GIT_COMMITTER_EMAIL="dev@example.com")
        p = subprocess.run(["git", "send-email", "--smtp-server=" + self.sendmail, "--to=lead@example.com",
                            "--from=Dev <dev@example.com>", "--confirm=never", "--suppress-cc=all",
                            "--no-validate", patch],
                           capture_output=True, env=env, timeout=60, cwd=self.tmp)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m, msg = self.received()
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertEqual(msg["Subject"], "[PATCH] fix the frobnicator")
        self.assertIn("+new", msg.get_content())

    @unittest.skipUnless(shutil.which("php"), "php-cli is not installed (tests/setup.sh installs it)")
    def test_php_mail_for_real(self):
        code = ('exit(mail("lead@example.com", "PHP ✓ report", "line one\\nline two\\n", '
                '"From: PHP App <app@example.com>") ? 0 : 1);')
        p = subprocess.run(["php", "-n", "-d", "sendmail_path=%s -t -i" % self.sendmail, "-r", code],
                           capture_output=True, env=self.base_env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m, msg = self.received()
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertEqual(msg["From"], "PHP App <app@example.com>")
        self.assertIn("line two", msg.get_content())


class SmtpOnStdio(SendmailCase):
    """sendmail -bs, as Symfony Mailer and SwiftMailer use it."""

    def dialogue(self, lines, env=None):
        p = subprocess.run([self.sendmail, "-bs"], input="".join(l + "\r\n" for l in lines).encode(),
                           capture_output=True, env=env or self.base_env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [l for l in p.stdout.decode().split("\r\n") if l]

    def test_bs_relays_and_answers_with_the_real_outcome(self):
        replies = self.dialogue(["EHLO app.example", "MAIL FROM:<app@example.com>", "RCPT TO:<lead@example.com>",
                                 "DATA", "From: App <app@example.com>", "Subject: via -bs", "",
                                 "..leading dot", "body", ".", "QUIT"])
        self.assertTrue(replies[0].startswith("220 "))
        self.assertIn("354 End data with <CR><LF>.<CR><LF>", replies)
        self.assertTrue(any(r.startswith("250 2.0.0 Ok: relayed as <") for r in replies), replies)
        self.assertEqual(replies[-1], "221 2.0.0 Bye")
        m, msg = self.received()
        self.assertEqual(m["mail_from"], "app@example.com")
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertIn(".leading dot", msg.get_content())

    def test_bs_reports_a_failed_relay(self):
        env = dict(self.base_env, SMTPSEND_PASSWORD="wrong")
        replies = self.dialogue(["HELO app", "MAIL FROM:<app@example.com>", "RCPT TO:<lead@example.com>",
                                 "DATA", "Subject: x", "", "body", ".", "QUIT"], env=env)
        failure = [r for r in replies if r.startswith("554 ")]
        self.assertEqual(len(failure), 1, replies)
        self.assertIn("5.7.8", failure[0])
        self.assertIn("refused the login", failure[0])
        self.assertNotIn("wrong", "\n".join(replies))

    def test_bs_sequence_errors(self):
        replies = self.dialogue(["HELO x", "RCPT TO:<a@example.com>", "DATA", "NOOP", "RSET", "FOO", "QUIT"])
        self.assertEqual([r[:3] for r in replies], ["220", "250", "503", "503", "250", "250", "502", "221"])


if __name__ == "__main__":
    unittest.main()
