"""Secrets never leak: with a recognisable password and OAuth2 token, every
command and mode runs (send, -v, --json, --dry-run, check, config show,
failures at each stage, the log, the queue files, sendmail -bs), and every
output and every file written is searched for the secret and for its base64
forms (PLAIN, LOGIN and XOAUTH2 payloads). None may appear."""

import base64
import os
import subprocess
import unittest

from smtptest import BIN, SmtpTestCase, free_port

PASSWORD = "Pw-7f3a9c-SECRET"
TOKEN = "ya29.TOKEN-9d2c1e-SECRET"
USER = "alice@example.com"


def forms():
    b64 = lambda b: base64.b64encode(b).decode()
    return {
        "password": PASSWORD,
        "token": TOKEN,
        "PLAIN payload": b64(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()),
        "LOGIN password": b64(PASSWORD.encode()),
        "XOAUTH2 payload": b64(("user=%s\x01auth=Bearer %s\x01\x01" % (USER, TOKEN)).encode()),
        "token base64": b64(TOKEN.encode()),
    }


class Secrets(SmtpTestCase):
    def setUp(self):
        super().setUp()
        self.outputs = []
        self.queue_dir = os.path.join(self.tmp, "queue")
        self.log = os.path.join(self.tmp, "smtpsend.log")

    def record(self, r):
        self.outputs.append(r.stdout + r.stderr)
        return r

    def base(self, server_port, **extra):
        env = dict(SMTPSEND_SERVER="smtp://127.0.0.1:%d" % server_port, SMTPSEND_CAFILE=self.certs.cafile,
                   SMTPSEND_FROM="robot@example.com", SMTPSEND_USER=USER, SMTPSEND_PASSWORD=PASSWORD,
                   SMTPSEND_LOG=self.log, SMTPSEND_QUEUE_DIR=self.queue_dir)
        env.update(extra)
        return env

    def test_no_output_or_file_holds_a_secret(self):
        good = self.aio(users={USER: PASSWORD}, tokens={USER: TOKEN})
        env = self.base(good.port)
        for args in (["-s", "x", "dev@example.com"], ["-v", "dev@example.com"], ["--json", "-v", "dev@example.com"],
                     ["--dry-run", "-v", "dev@example.com"], ["check", "-v"], ["check", "--json", "--rcpt", "dev@example.com"],
                     ["config", "show"], ["config", "show", "--json"]):
            self.record(self.run_smtpsend(args, stdin=b"body\n", **env))
        # OAuth2, accepted and refused.
        oauth = dict(env, SMTPSEND_AUTH="xoauth2", SMTPSEND_OAUTH2_TOKEN_CMD="echo " + TOKEN)
        del oauth["SMTPSEND_PASSWORD"]
        self.record(self.run_smtpsend(["-v", "--json", "dev@example.com"], stdin=b"x\n", **oauth))
        refused_token = dict(oauth, SMTPSEND_OAUTH2_TOKEN_CMD="echo " + TOKEN + "-old")
        self.record(self.run_smtpsend(["-v", "--json", "dev@example.com"], stdin=b"x\n", **refused_token))
        self.record(self.run_smtpsend(["check", "-v"], **oauth))
        # Failures at each stage, from the scripted responder.
        for script in ({"greeting": "421 4.3.2 busy"}, {"ehlo": ["421 4.7.0 bye", "CLOSE"]},
                       {"starttls": "454 4.7.0 TLS not available"},
                       {"auth": "535 5.7.8 Authentication credentials invalid"},
                       {"mail": "530 5.7.0 Authentication required"}, {"rcpt": "550 5.1.1 unknown"},
                       {"data": "554 5.5.1 no"}, {"eod": "552 5.3.4 too big"}, {"eod": "CLOSE"}):
            server = self.responder(script)
            for extra in ([], ["-v"], ["--json", "-v"]):
                self.record(self.run_smtpsend(extra + ["dev@example.com"], stdin=b"x\n",
                                              **self.base(server.port, SMTPSEND_QUEUE="true")))
            self.record(self.run_smtpsend(["check", "-v", "--rcpt", "dev@example.com"], **self.base(server.port)))
        # LOGIN mechanism, and the queue with a closed port, then a flush.
        self.record(self.run_smtpsend(["-v", "--auth", "login", "dev@example.com"], stdin=b"x\n", **env))
        closed = free_port()
        self.record(self.run_smtpsend(["--queue", "-v", "dev@example.com"], stdin=b"x\n", **self.base(closed)))
        self.record(self.run_smtpsend(["queue", "list", "--json"], **self.base(closed)))
        self.record(self.run_smtpsend(["queue", "flush", "--all", "-v"], **self.base(good.port)))
        # sendmail -bs.
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(BIN), os.path.join(bindir, "sendmail"))
        dialogue = "EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: s\r\n\r\nb\r\n.\r\nQUIT\r\n"
        for password in (PASSWORD, "wrong"):
            p = subprocess.run([os.path.join(bindir, "sendmail"), "-bs", "-v"], input=dialogue.encode(),
                               capture_output=True, env=self.env(**self.base(good.port, SMTPSEND_PASSWORD=password)))
            self.outputs.append(p.stdout.decode() + p.stderr.decode())

        self.assertTrue(os.path.exists(self.log))
        self.assertTrue(os.listdir(self.queue_dir))
        written = []
        for root, _, files in os.walk(self.tmp):
            for name in files:
                if name.endswith((".pem", ".key")):
                    continue
                with open(os.path.join(root, name), "rb") as f:
                    written.append((os.path.join(root, name), f.read().decode("utf-8", "replace")))
        self.assertGreater(len(self.outputs), 40)
        for label, secret in forms().items():
            for i, out in enumerate(self.outputs):
                self.assertNotIn(secret, out, "%s in output #%d:\n%s" % (label, i, out))
            for path, text in written:
                self.assertNotIn(secret, text, "%s in %s" % (label, path))


if __name__ == "__main__":
    unittest.main()
