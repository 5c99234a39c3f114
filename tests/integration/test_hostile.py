"""Hostile and extreme input: each is refused with a reason or handled, and
the process neither crashes nor hangs."""

import os
import unittest

from smtptest import SmtpTestCase


class Hostile(SmtpTestCase):
    def dry(self, args, stdin=b"", **env):
        return self.run_smtpsend(["--dry-run", "--from", "a@example.com"] + args, stdin=stdin, timeout=120, **env)

    def test_a_one_megabyte_header_line(self):
        r = self.dry(["-t"], stdin=b"To: a@example.com\nX-Big: " + b"y" * (1 << 20) + b"\n\nbody\n")
        self.assertEqual(r.code, 0, repr(r)[:300])  # the header block may be 16 MiB
        r = self.dry(["-H", "X-Big: " + "y" * 100000, "b@example.com"], stdin=b"x")
        self.assertExit(r, 0)

    def test_an_attachment_path_with_a_line_break_adds_no_header(self):
        # The name taken from the path went raw into Content-Type and
        # Content-Disposition: "X-Injected: yes" became a header of the part.
        server = self.aio()
        path = os.path.join(self.tmp, "a\r\nX-Injected: yes.txt")
        with open(path, "wb") as f:
            f.write(b"data\n")
        r = self.run_smtpsend(["--from", "a@example.com", "-s", "x", "--attach", path, "b@example.com"],
                              stdin=b"body\n", **self.server_env(server))
        self.assertExit(r, 0)
        raw = server.messages[0]["content"]
        self.assertNotIn(b"\r\nX-Injected", raw)
        self.assertIn(b'Content-Type: text/plain; name="a__X-Injected: yes.txt"\r\n'
                      b'Content-Disposition: attachment; filename="a__X-Injected: yes.txt"\r\n'
                      b"Content-Transfer-Encoding: base64\r\n\r\nZGF0YQo=\r\n", raw)

    def test_an_attachment_name_or_type_with_a_control_character_is_refused(self):
        data = os.path.join(self.tmp, "data.txt")
        with open(data, "wb") as f:
            f.write(b"x")
        for spec in (data + ";name=a\x1b[31mb", data + ";type=text/plain\x07"):
            with self.subTest(spec=spec):
                r = self.dry(["--attach", spec, "b@example.com"], stdin=b"x")
                self.assertExit(r, 65)
                self.assertIn("type= or name= contains a line break or control character", r.stderr)
                self.assertNotIn("\x1b", r.stderr)

    def test_a_hundred_thousand_recipients(self):
        rcpts = ",".join("r%d@example.com" % i for i in range(100000))
        path = os.path.join(self.tmp, "rcpts.eml")
        with open(path, "w") as f:
            f.write("To: %s\n\nbody\n" % rcpts)
        r = self.run_smtpsend(["--dry-run", "--from", "a@example.com", "-t", "--body-file", path], timeout=120)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.count("\nto: <"), 100000)

    def test_invalid_utf8_everywhere(self):
        r = self.dry(["-s", "bad \udcff".encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape"),
                      "b@example.com"], stdin=b"body \xff\xfe\n")
        self.assertExit(r, 0)
        self.assertIn("=FF=FE", r.stdout)  # the body's bad bytes go quoted-printable
        r = self.dry(["-t"], stdin=b"To: b@example.com\nSubject: \xff\xfe\xfd\n\n\xc3\x28\n")
        self.assertExit(r, 0)
        attach = os.path.join(self.tmp, "n\xe4me.bin".encode("latin-1").decode("utf-8", "surrogateescape"))
        with open(attach.encode("utf-8", "surrogateescape"), "wb") as f:
            f.write(b"\x00\x01")
        r = self.dry(["--attach", attach, "b@example.com"], stdin=b"x")
        self.assertExit(r, 0)
        self.assertIn("filename*=UTF-8''", r.stdout)  # the bad name is %-encoded

    def test_nul_bytes(self):
        r = self.dry(["-t"], stdin=b"To: b@example.com\n\nnul\x00byte\n")
        self.assertExit(r, 65)
        r = self.dry(["b@example.com"], stdin=b"nul\x00byte\n")
        self.assertExit(r, 0)
        self.assertIn("nul=00byte", r.stdout)

    def test_profile_file_that_is_a_directory_a_fifo_or_huge_garbage(self):
        folder = os.path.join(self.tmp, "dir.ini")
        os.makedirs(folder)
        fifo = os.path.join(self.tmp, "fifo.ini")
        os.mkfifo(fifo)
        huge = os.path.join(self.tmp, "huge.ini")
        with open(huge, "wb") as f:
            f.truncate(1 << 30)  # 1 GB (sparse)
        for path, words in ((folder, "directory"), (fifo, "not a regular file"), (huge, "larger than 1 MiB")):
            r = self.run_smtpsend(["--config", path, "config", "show"], timeout=30)
            self.assertExit(r, 78)
            self.assertIn(words, r.stderr)

    def test_password_commands_that_misbehave(self):
        server = self.aio()
        env = self.server_env(server, SMTPSEND_TIMEOUT="2")
        del env["SMTPSEND_PASSWORD"]
        for cmd, words in (("true", "empty"), ("exit 3", "status 3"), ("sleep 30", "did not finish"),
                           ("head -c 1048576 /dev/zero | tr '\\0' x", "more than")):
            r = self.run_smtpsend(["--password-cmd", cmd, "dev@example.com"], stdin=b"x", timeout=30, **env)
            self.assertExit(r, 78)
            self.assertIn(words, r.stderr)
            self.assertLess(r.elapsed, 10)
        self.assertEqual(server.auth_attempts, [])

    def test_an_alias_loop(self):
        aliases = os.path.join(self.tmp, "aliases")
        with open(aliases, "w") as f:
            f.write("a: b\nb: c\nc: a\n")
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        from smtptest import BIN
        os.symlink(os.path.abspath(BIN), os.path.join(bindir, "sendmail"))
        import subprocess
        p = subprocess.run([os.path.join(bindir, "sendmail"), "-i", "a"], input=b"Subject: x\n\nb\n",
                           capture_output=True, env=self.env(SMTPSEND_ALIASES=aliases, SMTPSEND_FROM="x@example.com",
                                                            SMTPSEND_SERVER="smtp://127.0.0.1:1"), timeout=30)
        self.assertEqual(p.returncode, 67)
        self.assertIn(b"alias loop", p.stderr)


class TerminalEscapes(SmtpTestCase):
    """A reply with terminal escape sequences is shown escaped on stderr and
    exact (JSON-escaped) with --json (issue 14)."""

    REPLY = "550 5.1.1 \x1b]0;pwned\x07 \x1b[31mred\x1b[0m unknown user"

    def test_a_reply_with_escape_sequences_is_escaped_on_stderr(self):
        server = self.responder({"rcpt": self.REPLY})
        r = self.run_smtpsend(["-s", "x", "dev@example.com"], stdin=b"b\n", **self.server_env(server))
        self.assertExit(r, 67)
        self.assertNotIn("\x1b", r.stderr)
        self.assertNotIn("\x07", r.stderr)
        self.assertIn("\\x1b]0;pwned\\x07 \\x1b[31mred\\x1b[0m unknown user", r.stderr)

    def test_verbose_dialogue_is_escaped_too(self):
        server = self.responder({"rcpt": self.REPLY})
        r = self.run_smtpsend(["-v", "-s", "x", "dev@example.com"], stdin=b"b\n", **self.server_env(server))
        self.assertNotIn("\x1b", r.stderr)
        self.assertIn("S: 550 5.1.1 \\x1b]0;pwned", r.stderr)

    def test_json_keeps_the_reply_exact(self):
        server = self.responder({"rcpt": self.REPLY})
        r = self.run_smtpsend(["--json", "-s", "x", "dev@example.com"], stdin=b"b\n", **self.server_env(server))
        self.assertExit(r, 67)
        self.assertEqual(r.json()["error"]["reply"], self.REPLY)


if __name__ == "__main__":
    unittest.main()
