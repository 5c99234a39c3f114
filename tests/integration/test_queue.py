"""Never lose a message: retries within a run, the queue for temporary
failures, `queue flush`, the log, a crash test (SIGKILL during flush) and a
concurrency test (two flushes at once)."""

import email
import email.policy
import json
import os
import random
import signal
import subprocess
import time
import unittest

from smtptest import BIN, SmtpTestCase, free_port


def message_ids(contents):
    ids = []
    for c in contents:
        msg = email.message_from_bytes(c, policy=email.policy.compat32)
        ids.append(msg["Message-ID"])
    return ids


class QueueCase(SmtpTestCase):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.queue_dir = os.path.join(self.tmp, "queue")
        self.log = os.path.join(self.tmp, "smtpsend.log")

    def qenv(self, **extra):
        env = dict(SMTPSEND_SERVER="smtp://127.0.0.1:%d" % self.port, SMTPSEND_CAFILE=self.certs.cafile,
                   SMTPSEND_FROM="robot@example.com", SMTPSEND_USER="alice@example.com",
                   SMTPSEND_PASSWORD="s3cret", SMTPSEND_QUEUE_DIR=self.queue_dir, SMTPSEND_QUEUE="true",
                   SMTPSEND_LOG=self.log, SMTPSEND_TIMEOUT="5")
        env.update(extra)
        return env

    def send(self, *rcpts, body=b"body\n", **extra):
        return self.run_smtpsend(["--json", "-s", "queued"] + list(rcpts), stdin=body, **self.qenv(**extra))

    def flush(self, *args, **extra):
        return self.run_smtpsend(["queue", "flush", "--all"] + list(args), **self.qenv(**extra))

    def entries(self):
        return [f for f in os.listdir(self.queue_dir) if f.endswith(".json")] if os.path.isdir(self.queue_dir) else []


class Queue(QueueCase):
    def test_refused_connection_is_queued_then_flushed_exactly_once(self):
        r = self.send("dev@example.com")
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "queued")
        self.assertTrue(j["queue_id"])
        self.assertEqual(len(self.entries()), 1)
        listing = self.run_smtpsend(["queue", "list", "--json"], **self.qenv()).json()
        self.assertEqual(listing[0]["recipients"], ["dev@example.com"])
        self.assertIn("refused", listing[0]["first_failure"])
        server = self.aio(port=self.port)
        r = self.flush()
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(self.entries(), [])
        r = self.flush()
        self.assertEqual(len(server.messages), 1, "a second flush must not send again")
        with open(self.log) as f:
            lines = f.read().splitlines()
        self.assertTrue(any("outcome=queued" in l and "queue_id=" + j["queue_id"] in l for l in lines), lines)
        self.assertTrue(any("outcome=sent" in l and "queue_id=" + j["queue_id"] in l for l in lines), lines)
        self.assertFalse(any("s3cret" in l for l in lines))

    def test_421_greeting_is_queued_and_sent_when_the_server_recovers(self):
        server = self.responder({"greeting": "421 4.3.2 Service not available"}, port=self.port)
        r = self.send("dev@example.com", SMTPSEND_CAFILE=self.certs.cafile)
        self.assertExit(r, 0)
        self.assertEqual(r.json()["status"], "queued")
        server.script["greeting"] = "220 recovered ESMTP"
        r = self.flush()
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(self.entries(), [])

    def test_connection_dropped_after_the_message_is_queued_as_unconfirmed(self):
        server = self.responder({"eod": "CLOSE"}, port=self.port)
        r = self.send("dev@example.com")
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "queued")
        entry = self.run_smtpsend(["queue", "show", j["queue_id"]], **self.qenv()).json()
        self.assertTrue(entry["unconfirmed"])
        server.script["eod"] = "250 2.0.0 Ok: queued"
        r = self.flush()
        self.assertExit(r, 0)
        # At least once: the first copy may have been accepted before the drop.
        self.assertEqual(len(server.messages), 2)
        self.assertEqual(self.entries(), [])

    def test_permanent_failure_during_flush_moves_the_entry_to_failed(self):
        self.send("dev@example.com")
        server = self.responder({"rcpt": "550 5.1.1 <dev@example.com>: user unknown"}, port=self.port)
        r = self.flush()
        self.assertExit(r, 67)
        self.assertEqual(self.entries(), [])
        failed = [f for f in os.listdir(os.path.join(self.queue_dir, "failed")) if f.endswith(".json")]
        self.assertEqual(len(failed), 1)
        with open(os.path.join(self.queue_dir, "failed", failed[0])) as f:
            entry = json.load(f)
        self.assertIn("5.1.1", entry["failure"])
        self.assertEqual(entry["version"], 1)
        self.assertTrue(os.path.exists(os.path.join(self.queue_dir, "failed", failed[0][:-5] + ".eml")))

    def test_greylisting_one_recipient_resends_to_that_one_only(self):
        server = self.responder({"rcpt": {"grey@example.com": "450 4.2.0 <grey@example.com>: Greylisted"}},
                                port=self.port)
        r = self.send("a@example.com", "grey@example.com", "b@example.com")
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "queued")
        self.assertEqual(sorted(j["accepted"]), ["a@example.com", "b@example.com"])
        entry = self.run_smtpsend(["queue", "show", j["queue_id"]], **self.qenv()).json()
        self.assertEqual(entry["recipients"], ["grey@example.com"])
        server.script["rcpt"] = "250 2.1.5 Ok"
        before = len([l for l in server.log if l.upper().startswith("RCPT")])
        r = self.flush()
        self.assertExit(r, 0)
        rcpts = [l for l in server.log if l.upper().startswith("RCPT")][before:]
        self.assertEqual(rcpts, ["RCPT TO:<grey@example.com>"])
        self.assertEqual(len(server.messages), 2)

    def test_temporary_failure_during_flush_is_kept_and_backed_off(self):
        self.send("dev@example.com")
        server = self.responder({"mail": "451 4.3.0 try later"}, port=self.port)
        r = self.flush()
        self.assertExit(r, 75)
        self.assertEqual(len(self.entries()), 1)
        entry = self.run_smtpsend(["queue", "list", "--json"], **self.qenv()).json()[0]
        self.assertEqual(len(entry["attempts"]), 2)
        self.assertGreater(entry["next_attempt"], time.time() + 60)
        r = self.run_smtpsend(["queue", "flush"], **self.qenv())  # not due yet
        self.assertEqual(len(self.entries()), 1)
        self.assertEqual(server.messages, [])

    def test_expired_entries_fail(self):
        self.send("dev@example.com")
        self.aio(port=self.port)
        time.sleep(2.1)
        r = self.flush(SMTPSEND_MAX_AGE="1s")
        self.assertEqual(self.entries(), [])
        self.assertIn("expired", r.stdout)

    def test_without_the_queue_a_temporary_failure_is_75(self):
        r = self.send("dev@example.com", SMTPSEND_QUEUE="false")
        self.assertExit(r, 75)
        self.assertEqual(r.json()["status"], "failed")
        self.assertEqual(self.entries(), [])

    def test_unwritable_queue_is_75_never_0(self):
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        r = self.send("dev@example.com", SMTPSEND_QUEUE_DIR=os.path.join(blocker, "queue"))
        self.assertExit(r, 75)
        self.assertIn("could not queue", r.stderr)

    def test_retries_within_the_run(self):
        server = self.responder({"greeting": "421 4.3.2 busy"}, port=self.port)
        r = self.run_smtpsend(["--json", "-v", "dev@example.com"], stdin=b"x\n",
                              **self.qenv(SMTPSEND_QUEUE="false", SMTPSEND_RETRIES="2", SMTPSEND_RETRY_WAIT="0"))
        self.assertExit(r, 75)
        self.assertEqual(r.json()["attempts"], 3)
        self.assertEqual(server.connections, 3)
        self.assertEqual(r.stderr.count("retrying in"), 2)

    def test_drop(self):
        j = self.send("dev@example.com").json()
        r = self.run_smtpsend(["queue", "drop", j["queue_id"]], **self.qenv())
        self.assertExit(r, 0)
        self.assertEqual(self.entries(), [])
        r = self.run_smtpsend(["queue", "show", j["queue_id"]], **self.qenv())
        self.assertExit(r, 66)

    def test_flush_uses_one_connection_per_server(self):
        for i in range(5):
            self.send("dev%d@example.com" % i)
        server = self.responder(port=self.port)
        r = self.flush()
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 5)
        self.assertEqual(server.connections, 1)
        self.assertEqual(server.log_commands().count("AUTH"), 1)


class Durability(QueueCase):
    def fill(self, n):
        for i in range(n):
            r = self.send("dev%d@example.com" % i, body=("message %d\n" % i).encode())
            self.assertExit(r, 0)
        self.assertEqual(len(self.entries()), n)

    def test_sigkill_during_flush_loses_nothing(self):
        n = 50
        self.fill(n)
        queued_ids = {json.load(open(os.path.join(self.queue_dir, f)))["message_id"] for f in self.entries()}
        server = self.responder({"eod": ["SLEEP:0.05", "250 2.0.0 Ok: queued"]}, port=self.port)
        rnd = random.Random(42)
        kills = 0
        for _ in range(12):
            if not self.entries():
                break
            p = subprocess.Popen([BIN, "queue", "flush", "--all"], env=self.env(**self.qenv()),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.05, 0.6))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
        self.flush()
        self.assertEqual(self.entries(), [])
        delivered = message_ids(server.messages)
        self.assertEqual(set(delivered), queued_ids, "every message delivered at least once")
        duplicates = len(delivered) - len(set(delivered))
        print("\ncrash test: %d entries, %d SIGKILLs, %d deliveries, %d duplicates" %
              (n, kills, len(delivered), duplicates))
        self.assertLessEqual(duplicates, kills)

    def test_two_flushes_at_once_deliver_each_exactly_once(self):
        n = 200
        self.fill(n)
        server = self.aio(port=self.port)
        procs = [subprocess.Popen([BIN, "queue", "flush", "--all"], env=self.env(**self.qenv()),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        for p in procs:
            p.wait(timeout=300)
        self.assertEqual(self.entries(), [])
        delivered = message_ids([m["content"] for m in server.messages])
        self.assertEqual(len(delivered), n)
        self.assertEqual(len(set(delivered)), n, "no message twice")


if __name__ == "__main__":
    unittest.main()
