"""`smtpsend batch`: many messages over one authenticated connection,
surviving servers that close the connection every few messages."""

import json
import os
import unittest

from smtptest import SmtpTestCase


class Batch(SmtpTestCase):
    def lines(self, n):
        return "".join(json.dumps({"to": "dev%d@example.com" % i, "subject": "message %d" % i,
                                   "body": "body %d\n" % i}) + "\n" for i in range(n)).encode()

    def run_batch(self, server, data, *args):
        return self.run_smtpsend(["batch", "--json"] + list(args), stdin=data, **self.server_env(server))

    def results(self, r):
        return [json.loads(l) for l in r.stdout.splitlines()]

    def test_fifty_messages_use_one_connection_and_one_login(self):
        server = self.responder()
        r = self.run_batch(server, self.lines(50), "--connections", "1")
        self.assertExit(r, 0)
        results = self.results(r)
        self.assertEqual(len(results), 50)
        self.assertTrue(all(x["status"] == "sent" for x in results))
        self.assertEqual(len(server.messages), 50)
        self.assertEqual(server.connections, 1)
        self.assertEqual(server.log_commands().count("AUTH"), 1)
        self.assertEqual(len({x["message_id"] for x in results}), 50)

    def test_a_server_that_closes_every_ten_messages(self):
        server = self.responder({"close_after": 10})
        r = self.run_batch(server, self.lines(50), "--connections", "1")
        self.assertExit(r, 0)
        self.assertTrue(all(x["status"] == "sent" for x in self.results(r)))
        self.assertEqual(len(server.messages), 50)
        self.assertEqual(server.connections, 5)

    def test_a_server_that_says_421_closing_every_ten_messages(self):
        # A per-connection limit (an unsolicited 421 after the tenth message, read as the
        # next MAIL's reply): without retries (SMTPSEND_RETRIES=0) every message is sent,
        # on a new connection each ten, with no slow-down.
        server = self.responder({"close_after": 10,
                                 "close_with": "421 4.7.0 Max message per connection reached, closing"})
        r = self.run_batch(server, self.lines(30), "--connections", "1")
        self.assertExit(r, 0)
        results = self.results(r)
        self.assertEqual([x["status"] for x in results], ["sent"] * 30, r.stdout)
        self.assertEqual(len(server.messages), 30)
        self.assertEqual(server.connections, 3)
        self.assertTrue(all(x["attempts"] <= 2 for x in results), r.stdout)
        self.assertNotIn("slow down", r.stderr)

    def test_a_per_connection_421_at_mail_reconnects_on_every_connection(self):
        # The same limit as a reply to MAIL, over four connections: all sent, none slowed.
        server = self.responder({"mail_nth": {6: "421 4.7.0 Max message per connection reached, closing"}})
        r = self.run_batch(server, self.lines(40), "--connections", "4")
        self.assertExit(r, 0)
        results = self.results(r)
        self.assertEqual([x["status"] for x in results], ["sent"] * 40, r.stdout)
        self.assertEqual(len(server.messages), 40)
        self.assertGreaterEqual(sum(1 for x in results if x["attempts"] == 2), 1, r.stdout)
        self.assertNotIn("slow down", r.stderr)

    def test_real_server_with_starttls_and_auth(self):
        server = self.aio()
        r = self.run_batch(server, self.lines(20))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 20)
        self.assertTrue(all(m["authenticated"] and m["tls"] for m in server.messages))

    def test_a_bad_line_fails_alone(self):
        server = self.responder()
        data = self.lines(2) + b"{not json\n" + json.dumps({"to": "x@example.com", "colour": "red"}).encode() + b"\n"
        r = self.run_batch(server, data)
        self.assertExit(r, 65)
        results = self.results(r)
        self.assertEqual([x["status"] for x in results], ["sent", "sent", "failed", "failed"])
        self.assertIn("stdin:3", results[2]["input"])
        self.assertIn("unknown field \"colour\"", results[3]["error"]["summary"])
        self.assertEqual(len(server.messages), 2)

    def test_rejections_and_per_message_from(self):
        server = self.responder({"rcpt": {"nobody@example.com": "550 5.1.1 user unknown"}})
        data = (json.dumps({"to": ["a@example.com", "nobody@example.com"], "from": "other@example.com",
                            "subject": "s", "body": "b"}) + "\n").encode()
        r = self.run_batch(server, data)
        self.assertExit(r, 67)
        result = self.results(r)[0]
        self.assertEqual(result["status"], "partial")
        self.assertEqual(result["rejected"][0]["address"], "nobody@example.com")
        self.assertIn("MAIL FROM:<other@example.com> SIZE=%d" % len(server.messages[0]), server.log)

    def test_eml_files(self):
        server = self.responder()
        paths = []
        for i in range(3):
            p = os.path.join(self.tmp, "m%d.eml" % i)
            with open(p, "w") as f:
                f.write("From: a@example.com\nTo: r%d@example.com\nBcc: hidden@example.com\nSubject: %d\n\nbody\n" % (i, i))
            paths.append(p)
        r = self.run_smtpsend(["batch", "--connections", "1", "--eml"] + paths, **self.server_env(server))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 3)
        self.assertEqual(server.connections, 1)
        self.assertFalse(any(b"hidden" in m for m in server.messages))

    def test_three_connections_nine_messages_three_logins_in_input_order(self):
        server = self.responder()
        r = self.run_batch(server, self.lines(9), "--connections", "3")
        self.assertExit(r, 0)
        results = self.results(r)
        self.assertEqual([x["input"] for x in results], ["stdin:%d" % i for i in range(1, 10)])
        self.assertTrue(all(x["status"] == "sent" for x in results), r.stdout)
        self.assertEqual(len(server.messages), 9)
        self.assertEqual(server.connections, 3)
        self.assertEqual(server.log_commands().count("AUTH"), 3)
        self.assertEqual(sorted(m.split(b"Subject: message ")[1].split(b"\r\n")[0] for m in server.messages),
                         [b"%d" % i for i in range(9)])

    def test_connections_1_gives_one_connection(self):
        server = self.responder()
        r = self.run_batch(server, self.lines(9), "--connections", "1")
        self.assertExit(r, 0)
        self.assertEqual(server.connections, 1)
        self.assertEqual(server.log_commands().count("AUTH"), 1)

    def test_the_environment_sets_connections(self):
        server = self.responder()
        r = self.run_smtpsend(["batch", "--json"], stdin=self.lines(6),
                              **self.server_env(server, SMTPSEND_CONNECTIONS="2"))
        self.assertExit(r, 0)
        self.assertEqual(server.connections, 2)

    def test_a_refusal_on_one_connection_fails_that_message_alone(self):
        server = self.responder({"rcpt": {"dev4@example.com": "550 5.1.1 user unknown"}})
        r = self.run_batch(server, self.lines(8), "--connections", "3")
        self.assertExit(r, 67)
        results = self.results(r)
        self.assertEqual([x["status"] for x in results],
                         ["sent"] * 4 + ["failed"] + ["sent"] * 3)
        self.assertEqual(len(server.messages), 7)

    def test_limit_sends_only_the_first_messages(self):
        server = self.responder()
        r = self.run_batch(server, self.lines(5), "--limit", "2")
        self.assertExit(r, 0)
        self.assertEqual([x["input"] for x in self.results(r)], ["stdin:1", "stdin:2"])
        self.assertEqual(len(server.messages), 2)

    def test_limit_with_dry_run_shows_them_and_sends_nothing(self):
        server = self.responder()
        r = self.run_smtpsend(["batch", "--dry-run", "--limit", "3"], stdin=self.lines(5),
                              **self.server_env(server))
        self.assertExit(r, 0)
        self.assertEqual(server.connections, 0)
        self.assertEqual(r.stdout.count("Subject: message "), 3, r.stdout)
        self.assertNotIn("Subject: message 3", r.stdout)
        self.assertIn("3 of 3 shown", r.stderr)

    def test_max_per_connection_reconnects_with_a_new_login(self):
        server = self.responder()
        r = self.run_batch(server, self.lines(6), "--connections", "1", "--max-per-connection", "2")
        self.assertExit(r, 0)
        self.assertTrue(all(x["status"] == "sent" for x in self.results(r)), r.stdout)
        self.assertEqual(len(server.messages), 6)
        self.assertEqual(server.connections, 3)
        self.assertEqual(server.log_commands().count("AUTH"), 3)

    def test_rate_spaces_the_messages(self):
        server = self.responder()
        r = self.run_batch(server, self.lines(3), "--rate", "10/s")
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 3)
        self.assertGreaterEqual(self.last.elapsed, 0.2)  # starts at 0, 100 and 200 ms

    def test_a_bad_rate_is_an_error_naming_the_setting(self):
        server = self.responder()
        r = self.run_batch(server, self.lines(1), "--rate", "10/h")
        self.assertExit(r, 64)
        self.assertEqual(json.loads(r.stdout)["error"]["summary"],
                         '--rate: rate = "10/h" is not N/s or N/min (e.g. 10/s, 300/min)')
        self.assertEqual(json.loads(r.stdout)["error"]["hints"],
                         ["set rate (--rate) to N/s or N/min, a whole number of messages per second "
                          "or minute: --rate 10/s, rate = 300/min"])
        self.assertEqual(server.connections, 0)

    def test_a_bad_rate_prints_its_hint_on_stderr(self):
        r = self.run_smtpsend(["batch", "--rate", "fast"], stdin=b"")
        self.assertExit(r, 64)
        self.assertIn("hint: set rate (--rate) to N/s or N/min", r.stderr)

    def test_a_rate_reply_slows_the_whole_batch_and_every_message_ends_sent(self):
        server = self.responder({"mail_nth": {3: "421 4.7.0 rate limit exceeded, try again later"}})
        r = self.run_batch(server, self.lines(12), "--connections", "4", "--retries", "2", "--retry-wait", "1")
        self.assertExit(r, 0)
        results = self.results(r)
        self.assertEqual([x["status"] for x in results], ["sent"] * 12, r.stdout)
        self.assertEqual([x["input"] for x in results], ["stdin:%d" % i for i in range(1, 13)])
        self.assertEqual(len(server.messages), 12)
        self.assertEqual(sum(1 for x in results if x["attempts"] == 2) >= 1, True, r.stdout)
        notices = [l for l in r.stderr.splitlines() if "slow down" in l]
        self.assertTrue(notices, r.stderr)
        self.assertRegex(notices[0], r"^smtpsend: batch: server asked to slow down: "
                                     r"421 4\.7\.0 rate limit exceeded, try again later; "
                                     r"now 2 connections, pausing 1s$")

    def test_a_rate_reply_without_retries_fails_that_message_alone_75(self):
        # One recipient's RCPT is refused for the rate: only its message, whatever connection has it.
        server = self.responder({"rcpt": {"dev3@example.com": "421 4.7.0 rate limit exceeded, try again later"}})
        r = self.run_batch(server, self.lines(8), "--connections", "2", "--retry-wait", "1")
        self.assertExit(r, 75)
        statuses = [x["status"] for x in self.results(r)]
        self.assertEqual(statuses, ["sent"] * 3 + ["failed"] + ["sent"] * 4, r.stdout)
        self.assertEqual(self.results(r)[3]["attempts"], 1)
        self.assertEqual(len(server.messages), 7)
        self.assertIn("now 1 connection, pausing 1s", r.stderr)

    def test_a_rate_reply_at_mail_on_a_reused_connection_is_heard_not_absorbed(self):
        # The third MAIL on each connection is refused for the rate: without retries that
        # message fails (one connection: messages 3 and 6); it is not sent again on a new
        # connection as a stale one would be.
        server = self.responder({"mail_nth": {3: "421 4.7.0 rate limit exceeded, try again later"}})
        r = self.run_batch(server, self.lines(8), "--connections", "1", "--retry-wait", "1")
        self.assertExit(r, 75)
        results = self.results(r)
        self.assertEqual([x["status"] for x in results], ["sent", "sent", "failed"] * 2 + ["sent", "sent"],
                         r.stdout)
        self.assertEqual([x["attempts"] for x in results], [1] * 8)
        self.assertEqual(results[2]["error"]["class"], "rate")
        self.assertEqual(len(server.messages), 6)
        self.assertEqual(server.connections, 3)
        self.assertEqual(server.log_commands().count("MAIL"), 8)

    def test_a_non_ascii_local_part_without_smtputf8_is_refused_before_mail_over_the_pool(self):
        server = self.responder()  # offers no SMTPUTF8
        data = (json.dumps({"to": "a@example.com", "subject": "s", "body": "b"}) + "\n" +
                json.dumps({"to": "j\u00f6rg@example.com", "subject": "s", "body": "b"}) + "\n" +
                json.dumps({"to": "b@example.com", "subject": "s", "body": "b"}) + "\n").encode()
        r = self.run_batch(server, data, "--connections", "2")
        self.assertExit(r, 65)
        results = self.results(r)
        self.assertEqual([x["status"] for x in results], ["sent", "failed", "sent"], r.stdout)
        self.assertEqual(results[1]["error"]["class"], "input")
        self.assertEqual(results[1]["error"]["stage"], "mail")
        self.assertTrue(any("SMTPUTF8" in h for h in results[1]["error"]["hints"]), results[1])
        self.assertNotIn("RCPT TO:<j\u00f6rg@example.com>", server.log)
        self.assertEqual(len(server.messages), 2)

    def test_a_plain_refusal_does_not_slow_the_batch(self):
        server = self.responder({"rcpt": {"dev1@example.com": "550 5.1.1 user unknown"}})
        r = self.run_batch(server, self.lines(4), "--connections", "2")
        self.assertExit(r, 67)
        self.assertNotIn("slow down", r.stderr)


if __name__ == "__main__":
    unittest.main()
