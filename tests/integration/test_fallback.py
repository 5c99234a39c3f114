#!/usr/bin/env python3
"""Fallback servers: `server = URL1, URL2, ...`. A connection-level or
temporary failure before any recipient was accepted tries the next server;
a permanent refusal, or anything after a recipient was accepted, does not
(never a duplicate). The result, --json, -v and the log name the server
that took the message; `check` walks each server; the queue retries walk
the list again. Every server listens on 127.0.0.1; a refused one is a free
port nobody listens on."""
import json
import os
import re
import subprocess
import unittest

from smtptest import BIN, SmtpTestCase, free_port


def url(port):
    return "smtp://127.0.0.1:%d" % port


class FallbackCase(SmtpTestCase):
    def setUp(self):
        super().setUp()
        self.queue_dir = os.path.join(self.tmp, "queue")
        self.log = os.path.join(self.tmp, "smtpsend.log")

    def fenv(self, ports, **extra):
        env = dict(SMTPSEND_SERVER=",".join(url(p) for p in ports), SMTPSEND_CAFILE=self.certs.cafile,
                   SMTPSEND_FROM="sender@example.com", SMTPSEND_USER="alice@example.com",
                   SMTPSEND_PASSWORD="s3cret", SMTPSEND_TIMEOUT="5", SMTPSEND_LOG=self.log,
                   SMTPSEND_QUEUE_DIR=self.queue_dir)
        env.update(extra)
        return env

    def send(self, ports, *args, **extra):
        return self.run_smtpsend(list(args) + ["-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.fenv(ports, **extra))

    def log_lines(self):
        with open(self.log) as f:
            return f.read().splitlines()


class Fallback(FallbackCase):
    def test_refused_first_server_then_the_second_takes_it(self):
        closed = free_port()
        second = self.aio()
        r = self.send([closed, second.port], "--json")
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "sent")
        self.assertEqual(j["server"], url(second.port))
        self.assertEqual(j["attempts"], 2)
        self.assertEqual(len(second.messages), 1)
        self.assertIn("smtpsend: %s failed (" % url(closed), r.stderr)
        self.assertIn("): trying %s\n" % url(second.port), r.stderr)
        lines = self.log_lines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("host=%s" % url(closed), lines[0])
        self.assertIn("outcome=failed", lines[0])
        self.assertIn("host=%s" % url(second.port), lines[1])
        self.assertIn("outcome=sent", lines[1])

    def test_verbose_text_names_the_server_that_took_it(self):
        closed = free_port()
        second = self.aio()
        r = self.send([closed, second.port], "-v")
        self.assertExit(r, 0)
        self.assertRegex(r.stderr, r"smtpsend: sent <[^>]+> to 1 recipient\(s\) via %s \(250 " % url(second.port))

    def test_a_working_first_server_is_the_only_one_asked(self):
        first = self.aio()
        second = self.aio()
        r = self.send([first.port, second.port], "--json")
        self.assertExit(r, 0)
        self.assertEqual(r.json()["server"], url(first.port))
        self.assertEqual((len(first.messages), len(second.messages)), (1, 0))
        self.assertNotIn("trying", r.stderr)

    def test_421_greeting_then_the_second_server(self):
        busy = self.responder({"greeting": "421 4.3.2 responder.test busy, try later"})
        second = self.aio()
        r = self.send([busy.port, second.port], "--json")
        self.assertExit(r, 0)
        self.assertEqual(r.json()["server"], url(second.port))
        self.assertEqual(busy.messages, [])
        self.assertEqual(len(second.messages), 1)
        self.assertIn("421 4.3.2 responder.test busy, try later): trying %s" % url(second.port), r.stderr)

    def test_550_at_rcpt_does_not_fall_back(self):
        first = self.responder({"rcpt": "550 5.1.1 <dev@example.com>: Recipient address rejected: User unknown"})
        second = self.aio()
        r = self.send([first.port, second.port], "--json")
        self.assertExit(r, 67)
        j = r.json()
        self.assertEqual(j["status"], "failed")
        self.assertEqual(j["server"], url(first.port))
        self.assertEqual(j["error"]["class"], "recipient")
        self.assertNotIn("servers", j)
        self.assertEqual(second.messages, [])
        self.assertNotIn("trying", r.stderr)
        self.assertEqual(len(self.log_lines()), 1)

    def test_451_at_data_after_rcpt_was_accepted_is_never_sent_to_the_second(self):
        first = self.responder({"data": "451 4.3.0 Temporary local problem, try later"})
        second = self.aio()
        r = self.send([first.port, second.port], "--json")
        self.assertExit(r, 75)
        j = r.json()
        self.assertEqual(j["status"], "failed")
        self.assertEqual(j["server"], url(first.port))
        self.assertEqual(j["error"]["reply_code"], 451)
        self.assertEqual(second.messages, [])
        self.assertNotIn("trying", r.stderr)

    def test_451_at_data_with_the_queue_on_is_queued_and_not_sent_to_the_second(self):
        first = self.responder({"data": "451 4.3.0 Temporary local problem, try later"})
        second = self.aio()
        r = self.send([first.port, second.port], "--json", SMTPSEND_QUEUE="true")
        self.assertExit(r, 0)
        self.assertEqual(r.json()["status"], "queued")
        self.assertEqual(second.messages, [])
        self.assertEqual(first.log_commands().count("RCPT"), 1)

    def test_three_servers_refused_then_421_then_the_third(self):
        closed = free_port()
        busy = self.responder({"greeting": "421 4.3.2 shutting down"})
        third = self.aio()
        r = self.send([closed, busy.port, third.port], "--json")
        self.assertExit(r, 0)
        j = r.json()
        self.assertEqual(j["server"], url(third.port))
        self.assertEqual(j["attempts"], 3)
        self.assertEqual(len(third.messages), 1)
        self.assertEqual(r.stderr.count("): trying "), 2)

    def test_every_server_failing_shows_each_failure_and_exits_75(self):
        a, b = free_port(), free_port()
        r = self.send([a, b])
        self.assertExit(r, 75)
        self.assertIn("smtpsend: no server took the message (2 tried):\n", r.stderr)
        self.assertIn("smtpsend:   %s: " % url(a), r.stderr)
        self.assertIn("smtpsend:   %s: " % url(b), r.stderr)
        r = self.send([a, b], "--json")
        j = r.json()
        self.assertEqual(j["status"], "failed")
        self.assertEqual([s["server"] for s in j["servers"]], [url(a), url(b)])
        self.assertEqual([s["error"]["class"] for s in j["servers"]], ["network", "network"])
        self.assertEqual(j["exit_code"], 75)

    def test_one_server_failing_for_now_makes_the_message_wait(self):
        # The first one's certificate is not trusted (78); the second is refused (75): as
        # with MX hosts, a temporary failure of any server defers the mail (75), and the
        # certificate's failure is still listed.
        untrusted = self.aio(cert="self_signed")
        closed = free_port()
        r = self.send([untrusted.port, closed], "--json")
        self.assertExit(r, 75)
        j = r.json()
        self.assertEqual(j["error"]["class"], "network")
        self.assertEqual([s["error"]["class"] for s in j["servers"]], ["tls", "network"])
        self.assertEqual(untrusted.messages, [])

    def test_every_server_failing_for_good_the_worst_decides(self):
        first, second = self.aio(cert="self_signed"), self.aio(cert="self_signed")
        r = self.send([first.port, second.port], "--json")
        self.assertExit(r, 78)
        j = r.json()
        self.assertEqual(j["error"]["class"], "tls")
        self.assertEqual([s["error"]["class"] for s in j["servers"]], ["tls", "tls"])

    def test_queue_flush_walks_the_list_again(self):
        closed, later = free_port(), free_port()
        r = self.send([closed, later], "--json", SMTPSEND_QUEUE="true")
        self.assertExit(r, 0)
        self.assertEqual(r.json()["status"], "queued")
        second = self.aio(port=later)
        r = self.run_smtpsend(["queue", "flush", "--all"], **self.fenv([closed, later], SMTPSEND_QUEUE="true"))
        self.assertExit(r, 0)
        self.assertEqual(len(second.messages), 1)
        self.assertEqual(os.listdir(self.queue_dir) if os.path.isdir(self.queue_dir) else [],
                         [n for n in os.listdir(self.queue_dir) if not n.endswith(".json")])
        sent = [l for l in self.log_lines() if "outcome=sent" in l]
        self.assertEqual(len(sent), 1)
        self.assertIn("host=%s" % url(later), sent[0])

    def test_batch_falls_back_too(self):
        closed = free_port()
        second = self.aio()
        jobs = os.path.join(self.tmp, "jobs.jsonl")
        with open(jobs, "w") as f:
            for i in range(2):
                f.write(json.dumps({"to": ["dev%d@example.com" % i], "subject": "s%d" % i, "body": "b\n"}) + "\n")
        r = self.run_smtpsend(["batch", "--json", jobs], **self.fenv([closed, second.port]))
        self.assertExit(r, 0)
        servers = [json.loads(l)["server"] for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertEqual(servers, [url(second.port)] * 2)
        self.assertEqual(len(second.messages), 2)

    def test_batch_a_first_server_that_rate_limits_everything_leaves_the_rest_to_the_second(self):
        # The first server answers every MAIL with a rate reply. The two messages on its two
        # connections when it says so fall back at once; its lane pauses (retry_wait 30 s),
        # and while it does the other messages go straight to the second server, which keeps
        # both its connections: nobody waits for the pause.
        limited = self.responder({"mail": "421 4.7.0 rate limit exceeded, try again later"})
        second = self.responder()
        jobs = os.path.join(self.tmp, "jobs.jsonl")
        with open(jobs, "w") as f:
            for i in range(10):
                f.write(json.dumps({"to": ["dev%d@example.com" % i], "subject": "s%d" % i, "body": "b\n"}) + "\n")
        r = self.run_smtpsend(["batch", "--json", "--connections", "2", jobs], timeout=20,
                              **self.fenv([limited.port, second.port], SMTPSEND_RETRY_WAIT="30"))
        self.assertExit(r, 0)
        results = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([x["status"] for x in results], ["sent"] * 10, r.stdout)
        self.assertEqual([x["server"] for x in results], [url(second.port)] * 10)
        self.assertEqual([x["attempts"] for x in results], [2, 2] + [1] * 8)
        self.assertEqual(len(second.messages), 10)
        self.assertEqual(limited.messages, [])
        self.assertEqual(limited.log_commands().count("MAIL"), 2)
        notices = [l for l in r.stderr.splitlines() if "slow down" in l]
        self.assertEqual(len(notices), 1, r.stderr)
        self.assertRegex(notices[0], r"^smtpsend: batch: %s asked to slow down: "
                                     r"421 4\.7\.0 rate limit exceeded, try again later; now 1 connection "
                                     r"to it, pausing \d+s; meanwhile messages go on to %s$"
                         % (re.escape(url(limited.port)), re.escape(url(second.port))))
        self.assertEqual(r.stderr.count("): trying %s\n" % url(second.port)), 2, r.stderr)

    def test_sendmail_mode_falls_back_too(self):
        closed = free_port()
        second = self.aio()
        link = os.path.join(self.tmp, "sendmail")
        os.symlink(os.path.abspath(BIN), link)
        p = subprocess.run([link, "-i", "dev@example.com"], input=b"Subject: sm\n\nbody\n",
                           capture_output=True, env=self.env(**self.fenv([closed, second.port])), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(second.messages), 1)
        sent = [l for l in self.log_lines() if "outcome=sent" in l]
        self.assertEqual(len(sent), 1)
        self.assertIn("host=%s" % url(second.port), sent[0])


class FallbackSettings(FallbackCase):
    def test_config_show_gives_the_list_with_its_origin(self):
        r = self.run_smtpsend(["config", "show"], **self.fenv([2525, 2526]))
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"\nserver +=  ?smtp://127\.0\.0\.1:2525,smtp://127\.0\.0\.1:2526  \(env SMTPSEND_SERVER\)\n")

    def test_a_bad_item_is_an_error_naming_the_item(self):
        r = self.run_smtpsend(["--server", "smtp://127.0.0.1:2525,http://127.0.0.1:2526", "-s", "x",
                               "dev@example.com"], stdin=b"b\n")
        self.assertExit(r, 64)
        self.assertIn('server item 2 of 2: server = "http://127.0.0.1:2526": unknown scheme', r.stderr)

    def test_an_empty_item_is_an_error_naming_the_item(self):
        r = self.send([2525], SMTPSEND_SERVER="smtp://127.0.0.1:2525,,smtp://127.0.0.1:2526")
        self.assertExit(r, 78)
        self.assertIn("server item 2 of 3: empty", r.stderr)

    def test_check_walks_each_server(self):
        closed = free_port()
        second = self.aio()
        r = self.run_smtpsend(["check"], **self.fenv([closed, second.port]))
        self.assertIn("server 1 of 2: %s\n" % url(closed), r.stdout)
        self.assertIn("server 2 of 2: %s\n" % url(second.port), r.stdout)
        self.assertExit(r, 75)
        r = self.run_smtpsend(["check", "--json"], **self.fenv([closed, second.port]))
        j = r.json()
        self.assertEqual([s["server"] for s in j["servers"]], [url(closed), url(second.port)])
        self.assertEqual([s["exit_code"] for s in j["servers"]], [75, 0])
        self.assertEqual(j["exit_code"], 75)
        self.assertEqual(second.messages, [])


if __name__ == "__main__":
    unittest.main()
