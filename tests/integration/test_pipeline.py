"""One delivery pipeline: send, batch, queue flush and sendmail -bs decide
alike what is delivered, retried, queued or failed, and which exit code wins
(issue 15). Each test names the behaviour that was wrong before."""

import json
import os
import shutil
import unittest

from smtptest import BIN, SmtpTestCase, free_port


class Fake:
    """A server that is not running: only its port."""

    def __init__(self, port):
        self.port = port


class Pipeline(SmtpTestCase):
    def setUp(self):
        super().setUp()
        self.queue_dir = os.path.join(self.tmp, "queue")
        self.log = os.path.join(self.tmp, "smtpsend.log")

    def plain(self, server, **extra):
        """Settings for a plain-text relay with no login (the Responder)."""
        env = dict(SMTPSEND_SERVER="smtp://127.0.0.1:%d" % server.port, SMTPSEND_TLS="none",
                   SMTPSEND_FROM="robot@example.com", SMTPSEND_TIMEOUT="5")
        env.update(extra)
        return env

    def entries(self):
        if not os.path.isdir(self.queue_dir):
            return []
        return sorted(f[:-5] for f in os.listdir(self.queue_dir) if f.endswith(".json"))

    def batch_file(self, *lines):
        path = os.path.join(self.tmp, "batch.jsonl")
        with open(path, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        return path

    # --- batch --dry-run ---------------------------------------------------------

    def test_batch_dry_run_connects_to_nothing(self):
        server = self.responder()
        path = self.batch_file({"to": "a@example.com", "subject": "one", "body": "1"},
                               {"to": "b@example.com", "subject": "two", "body": "2"})
        r = self.run_smtpsend(["batch", "--dry-run", path], **self.plain(server))
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.count("--- envelope (dry run: nothing was sent) ---"), 2)
        self.assertIn("to: <a@example.com>", r.stdout)
        self.assertIn("Subject: two", r.stdout)
        self.assertEqual(server.connections, 0)
        self.assertEqual(server.messages, [])

    def test_batch_dry_run_json_says_dry_run(self):
        server = self.responder()
        path = self.batch_file({"to": "a@example.com", "subject": "one", "body": "1"})
        r = self.run_smtpsend(["batch", "--dry-run", "--json", path], **self.plain(server))
        self.assertExit(r, 0)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertEqual([l["status"] for l in lines], ["dry-run"])
        self.assertEqual(server.connections, 0)

    # --- greylisting with nothing accepted ----------------------------------------

    def test_greylisted_recipient_is_queued_when_none_was_accepted(self):
        server = self.responder({"rcpt": {"grey@example.com": "450 4.2.0 <grey@example.com>: Greylisted",
                                          "bad@example.com": "550 5.1.1 <bad@example.com>: User unknown"}})
        r = self.run_smtpsend(["--json", "-s", "x", "grey@example.com", "bad@example.com"], stdin=b"b\n",
                              **self.plain(server, SMTPSEND_QUEUE="true", SMTPSEND_QUEUE_DIR=self.queue_dir))
        self.assertExit(r, 67)
        j = r.json()
        self.assertEqual(j["status"], "queued")
        self.assertEqual(j["rejected"], [{"address": "bad@example.com",
                                          "reply": "550 5.1.1 <bad@example.com>: User unknown"}])
        ids = self.entries()
        self.assertEqual(ids, [j["queue_id"]])
        listing = self.run_smtpsend(["queue", "list", "--json"], SMTPSEND_QUEUE_DIR=self.queue_dir).json()
        self.assertEqual(listing[0]["recipients"], ["grey@example.com"])

    # --- flush replays what an entry was queued with -------------------------------

    def queue_for(self, port, rcpt="dev@example.com"):
        r = self.run_smtpsend(["--json", "--queue", "--queue-dir", self.queue_dir, "--server",
                               "smtp://127.0.0.1:%d" % port, "--tls", "none", "--from", "robot@example.com",
                               "--timeout", "3", "-s", "queued", rcpt], stdin=b"body\n")
        self.assertExit(r, 0)
        self.assertEqual(r.json()["status"], "queued")
        return r.json()["queue_id"]

    def test_flush_without_settings_uses_the_entrys_flags(self):
        port = free_port()
        self.queue_for(port)
        server = self.responder(port=port)
        r = self.run_smtpsend(["queue", "flush", "--all", "--queue-dir", self.queue_dir])
        self.assertExit(r, 0)
        self.assertIn("delivered", r.stdout)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(self.entries(), [])

    def test_entries_for_two_servers_go_to_their_own_servers(self):
        port_a, port_b = free_port(), free_port()
        self.queue_for(port_a, "a@example.com")
        self.queue_for(port_b, "b@example.com")
        a = self.responder(port=port_a)
        b = self.responder(port=port_b)
        r = self.run_smtpsend(["queue", "flush", "--all", "--queue-dir", self.queue_dir])
        self.assertExit(r, 0)
        self.assertEqual(len(a.messages), 1)
        self.assertEqual(len(b.messages), 1)
        self.assertIn("RCPT TO:<a@example.com>", a.log)
        self.assertIn("RCPT TO:<b@example.com>", b.log)

    def test_a_password_from_the_environment_missing_at_flush_names_the_entry_and_the_variable(self):
        port = free_port()
        r = self.run_smtpsend(["--json", "--queue", "--queue-dir", self.queue_dir, "--server",
                               "smtp://127.0.0.1:%d" % port, "--from", "robot@example.com", "--timeout", "3",
                               "-s", "x", "dev@example.com"], stdin=b"b\n",
                              SMTPSEND_USER="alice@example.com", SMTPSEND_PASSWORD="s3cret",
                              SMTPSEND_CAFILE=self.certs.cafile)
        self.assertExit(r, 0)
        entry = r.json()["queue_id"]
        other = self.queue_for(port, "b@example.com")  # no login: goes on
        server = self.responder(port=port)
        r = self.run_smtpsend(["queue", "flush", "--all", "--queue-dir", self.queue_dir])
        self.assertExit(r, 78)
        self.assertIn("smtpsend: %s: " % entry, r.stderr)
        self.assertIn("password (env SMTPSEND_PASSWORD)", r.stderr)
        self.assertIn(other + "  delivered", r.stdout)
        self.assertEqual(len(server.messages), 1)
        self.assertIn(entry, self.entries())

    def test_flush_verbose_prints_the_dialogue(self):
        port = free_port()
        self.queue_for(port)
        self.responder(port=port)
        r = self.run_smtpsend(["queue", "flush", "--all", "-v", "--queue-dir", self.queue_dir])
        self.assertExit(r, 0)
        self.assertIn("C: MAIL FROM:<robot@example.com>", r.stderr)

    def test_flush_retries_within_the_run(self):
        port = free_port()
        self.queue_for(port)
        server = self.responder({"mail": "451 4.3.0 try later"}, port=port)
        r = self.run_smtpsend(["queue", "flush", "--all", "--queue-dir", self.queue_dir, "--retries", "1",
                               "--retry-wait", "1"])
        self.assertExit(r, 75)
        self.assertEqual(server.log_commands().count("MAIL"), 2)
        self.assertIn("attempt 1 of 2 failed", r.stderr)

    def test_a_renamed_profile_is_reported_by_entry_and_the_rest_go_on(self):
        port = free_port()
        config = os.path.join(self.tmp, "config.ini")
        with open(config, "w") as f:
            f.write("[profile old]\nserver = smtp://127.0.0.1:%d\ntls = none\nfrom = robot@example.com\n" % port)
        r = self.run_smtpsend(["--json", "--config", config, "--profile", "old", "--queue", "--queue-dir",
                               self.queue_dir, "-s", "x", "a@example.com"], stdin=b"b\n")
        self.assertExit(r, 0)
        stale = r.json()["queue_id"]
        good = self.queue_for(port, "b@example.com")
        with open(config, "w") as f:
            f.write("[profile new]\nserver = smtp://127.0.0.1:%d\ntls = none\n" % port)
        server = self.responder(port=port)
        r = self.run_smtpsend(["queue", "flush", "--all", "--config", config, "--queue-dir", self.queue_dir])
        self.assertExit(r, 78)
        self.assertIn(stale, r.stderr)
        self.assertIn('unknown profile "old"', r.stderr)
        self.assertIn(good + "  delivered", r.stdout)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(self.entries(), [stale])

    # --- bad entries never stop or hide the queue ---------------------------------

    def damage(self, how):
        port = free_port()
        bad = self.queue_for(port, "bad@example.com")
        good = self.queue_for(port, "good@example.com")
        path = os.path.join(self.queue_dir, bad)
        if how == "truncated":
            with open(path + ".json", "r+") as f:
                f.truncate(20)
        elif how == "empty":
            open(path + ".json", "w").close()
        elif how == "version":
            with open(path + ".json") as f:
                j = json.load(f)
            j["version"] = 99
            with open(path + ".json", "w") as f:
                json.dump(j, f)
        elif how == "eml-folder":
            os.unlink(path + ".eml")
            os.mkdir(path + ".eml")
        elif how == "resized":
            with open(path + ".eml", "ab") as f:
                f.write(b"more\r\n")
        elif how == "rset":
            with open(path + ".json") as f:
                j = json.load(f)
            j["recipients"] = ["b@example.com>\r\nRSET"]
            with open(path + ".json", "w") as f:
                json.dump(j, f)
        return port, bad, good

    def test_a_bad_entry_is_reported_and_the_good_one_delivered(self):
        for how in ("truncated", "empty", "version", "eml-folder", "resized", "rset"):
            with self.subTest(how=how):
                shutil.rmtree(self.queue_dir, ignore_errors=True)
                port, bad, good = self.damage(how)
                listing = self.run_smtpsend(["queue", "list"], SMTPSEND_QUEUE_DIR=self.queue_dir)
                self.assertExit(listing, 0)
                self.assertIn(bad + "  damaged", listing.stdout)
                self.assertIn(good, listing.stdout)
                server = self.responder(port=port)
                r = self.run_smtpsend(["queue", "flush", "--all", "--queue-dir", self.queue_dir])
                server.stop()
                self.assertIn(good + "  delivered", r.stdout)
                self.assertEqual(len(server.messages), 1)
                self.assertNotIn("RSET", " ".join(server.log))
                self.assertEqual(self.entries(), [])
                drop = self.run_smtpsend(["queue", "drop", bad], SMTPSEND_QUEUE_DIR=self.queue_dir)
                self.assertExit(drop, 0)

    def test_drop_removes_a_damaged_entry(self):
        port = free_port()
        bad = self.queue_for(port)
        with open(os.path.join(self.queue_dir, bad + ".json"), "w") as f:
            f.write("{")
        r = self.run_smtpsend(["queue", "drop", bad], SMTPSEND_QUEUE_DIR=self.queue_dir)
        self.assertExit(r, 0)
        self.assertFalse(any(n.startswith(bad) for n in os.listdir(self.queue_dir)))

    def test_an_address_that_is_not_utf8_stays_byte_exact_in_the_queue(self):
        port = free_port()
        rcpt = b"j\xf6rg@example.com"
        env = self.env(SMTPSEND_QUEUE="true", SMTPSEND_QUEUE_DIR=self.queue_dir)
        env.update(self.plain(Fake(port)))
        import subprocess
        p = subprocess.run([BIN, "--json", "-s", "x", rcpt], input=b"b\n", capture_output=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p)
        server = self.responder({"ehlo": ["250-responder.test", "250-SMTPUTF8", "250 8BITMIME"]}, port=port)
        r = self.run_smtpsend(["queue", "flush", "--all", "--queue-dir", self.queue_dir] +
                              ["--server", "smtp://127.0.0.1:%d" % port, "--tls", "none"])
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
    def test_a_read_only_queue_folder_sends_nothing(self):
        port = free_port()
        self.queue_for(port, "a@example.com")
        self.queue_for(port, "b@example.com")
        for root, dirs, files in os.walk(self.queue_dir):
            for n in dirs + files:
                os.chown(os.path.join(root, n), 65534, 65534)
        os.chown(self.queue_dir, 65534, 65534)
        os.chmod(self.queue_dir, 0o500)
        server = self.responder(port=port)
        import subprocess
        env = self.env(HOME="/nonexistent")
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, "queue", "flush",
                            "--all", "--queue-dir", self.queue_dir], capture_output=True, env=env, timeout=60)
        os.chmod(self.queue_dir, 0o700)
        self.assertEqual(server.messages, [], p)
        self.assertEqual(p.returncode, 74, p)
        self.assertEqual(len(self.entries()), 2)

    # --- SMTPUTF8 ------------------------------------------------------------------

    def test_a_non_ascii_local_part_is_refused_before_mail_without_smtputf8(self):
        server = self.responder()  # offers no SMTPUTF8
        r = self.run_smtpsend(["--json", "-s", "x", "j\u00f6rg@example.com"], stdin=b"b\n", **self.plain(server))
        self.assertExit(r, 65)
        self.assertEqual(r.json()["error"]["class"], "input")
        self.assertNotIn("MAIL", server.log_commands())
        self.assertEqual(server.messages, [])

    # --- 452 too many recipients ---------------------------------------------------

    def test_too_many_recipients_go_in_a_further_transaction(self):
        server = self.responder({"rcpt_limit": 2})
        rcpts = ["r%d@example.com" % i for i in range(5)]
        r = self.run_smtpsend(["--json", "-s", "x"] + rcpts, stdin=b"b\n", **self.plain(server))
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "sent")
        self.assertEqual(sorted(j["accepted"]), rcpts)
        self.assertEqual(len(server.messages), 3)
        self.assertEqual(server.connections, 1)

    # --- -bs: one connection, the policy --------------------------------------------

    def sendmail_link(self):
        link = os.path.join(self.tmp, "sendmail")
        os.symlink(BIN, link)
        return link

    def bs_session(self, messages):
        lines = ["EHLO client.example.com"]
        for i in range(messages):
            lines += ["MAIL FROM:<app@example.com>", "RCPT TO:<dev@example.com>", "DATA",
                      "From: App <app@example.com>", "Subject: bs %d" % i, "", "body %d" % i, "."]
        lines.append("QUIT")
        return "".join(l + "\r\n" for l in lines).encode()

    def run_bs(self, messages, env):
        import subprocess
        p = subprocess.run([self.sendmail_link(), "-bs"], input=self.bs_session(messages), capture_output=True,
                           env=env, timeout=60)
        return p.stdout.decode()

    def test_bs_three_messages_one_connection_one_login_three_log_lines(self):
        server = self.responder()
        out = self.run_bs(3, self.env(**self.server_env(server, SMTPSEND_LOG=self.log)))
        self.assertEqual(out.count("250 2.0.0 Ok: relayed as"), 3, out)
        self.assertEqual(len(server.messages), 3)
        with open(self.log) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertTrue(all("outcome=sent" in l for l in lines), lines)
        self.assertEqual(server.connections, 1)
        self.assertEqual(server.log_commands().count("AUTH"), 1)

    def test_bs_queues_on_a_temporary_failure(self):
        port = free_port()
        out = self.run_bs(1, self.env(SMTPSEND_SERVER="smtp://127.0.0.1:%d" % port, SMTPSEND_TLS="none",
                                      SMTPSEND_QUEUE_DIR=self.queue_dir, SMTPSEND_TIMEOUT="3"))
        self.assertIn("250 2.0.0 Ok: queued as", out)
        self.assertEqual(len(self.entries()), 1)

    # --- one exit code per mistake, one error path per command ------------------------

    def test_timeout_zero_is_the_same_usage_error_in_every_command(self):
        for args in (["--timeout", "0", "-s", "x", "a@example.com"], ["batch", "--timeout", "0", os.devnull],
                     ["queue", "list", "--timeout", "0"], ["queue", "flush", "--timeout", "0"],
                     ["check", "--timeout", "0"]):
            with self.subTest(args=args):
                r = self.run_smtpsend(args, stdin=b"b\n")
                self.assertExit(r, 64)

    def test_usage_error_with_json_prints_json(self):
        r = self.run_smtpsend(["--json", "--no-such-flag", "a@example.com"])
        self.assertExit(r, 64)
        j = json.loads(r.stdout)
        self.assertEqual(j["exit_code"], 64)
        self.assertEqual(j["error"]["class"], "usage")

    def test_flush_errors_are_json_with_json(self):
        r = self.run_smtpsend(["queue", "flush", "--json", "--timeout", "0"])
        self.assertExit(r, 64)
        j = json.loads(r.stdout)
        self.assertEqual(j["outcome"], "failed")
        self.assertEqual(j["error"]["class"], "usage")

    def test_check_local_errors_use_the_check_schema(self):
        r = self.run_smtpsend(["check", "--json"])  # no server set
        self.assertExit(r, 78)
        j = json.loads(r.stdout)
        self.assertEqual(j["steps"][0]["name"], "settings")
        self.assertFalse(j["steps"][0]["ok"])
        self.assertEqual(j["exit_code"], 78)

    def test_batch_text_names_the_line_once(self):
        server = self.responder({"rcpt": "550 5.1.1 User unknown"})
        path = self.batch_file({"to": "a@example.com", "subject": "one", "body": "1"})
        r = self.run_smtpsend(["batch", path], **self.plain(server))
        self.assertExit(r, 67)
        self.assertIn("smtpsend: %s:1: " % path, r.stderr)
        self.assertNotIn("smtpsend: %s:1: smtpsend:" % path, r.stderr)

    def test_json_success_carries_the_servers_reply_and_queue_id(self):
        server = self.responder({"eod": "250 2.0.0 Ok: queued as 86F1EF484EC"})
        r = self.run_smtpsend(["--json", "-s", "x", "a@example.com"], stdin=b"b\n", **self.plain(server))
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["reply"], "250 2.0.0 Ok: queued as 86F1EF484EC")
        self.assertEqual(j["server_queue_id"], "86F1EF484EC")


if __name__ == "__main__":
    unittest.main()
