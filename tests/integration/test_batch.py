"""`smtpsend batch`: many messages over one authenticated connection,
surviving servers that close the connection every few messages."""

import email
import email.policy
import json
import os
import pty
import re
import subprocess
import threading
import tty
import unittest

from smtptest import BIN, SmtpTestCase, free_port

# One drawing of the progress line: "\r2/3 sent, 0 queued, 0 failed, 3.1 msg/s, 0:00 left" ESC [K
PROGRESS = re.compile(r"\r(\d+)(/\d+)? sent, (\d+) queued, (\d+) failed, [\d.]+ msg/s(, \d+:\d\d left)?\x1b\[K")


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

    def verbose_lines(self, r):
        return [l for l in r.stderr.splitlines() if re.match(r"(\[\d+\] )?[CS*]: ", l)]

    def test_verbose_lines_over_several_connections_name_their_connection(self):
        server = self.responder()
        r = self.run_smtpsend(["batch", "-v", "--connections", "2", "--no-progress"], stdin=self.lines(6),
                              **self.server_env(server))
        self.assertExit(r, 0)
        lines = self.verbose_lines(r)
        self.assertTrue(lines, r.stderr)
        prefixes = {re.match(r"\[(\d+)\] [CS*]: ", l).group(1) if re.match(r"\[\d+\] ", l) else None
                    for l in lines}
        self.assertEqual(prefixes, {"1", "2"}, r.stderr)
        self.assertEqual(sum(1 for l in lines if re.match(r"\[\d\] C: MAIL FROM:", l)), 6, r.stderr)

    def test_verbose_lines_over_one_connection_have_no_prefix(self):
        server = self.responder()
        r = self.run_smtpsend(["batch", "-v", "--connections", "1"], stdin=self.lines(2),
                              **self.server_env(server))
        self.assertExit(r, 0)
        lines = self.verbose_lines(r)
        self.assertTrue(lines, r.stderr)
        self.assertFalse([l for l in lines if l.startswith("[")], r.stderr)
        self.assertEqual(sum(1 for l in lines if l.startswith("C: MAIL FROM:")), 2, r.stderr)

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

    def test_a_connection_waiting_for_its_end_of_data_reply_holds_up_no_other(self):
        # The server answers the first final dot only once the second
        # message, on the other connection, has come in: only possible when
        # that connection moves while the first waits. (libcurl waits for
        # the reply after the final dot inside curl_multi_perform: with one
        # multi handle for all connections, the first message timed out.)
        lock, ends, second_in = threading.Lock(), [], threading.Event()

        def eod():
            with lock:
                ends.append(len(ends) + 1)
                first = ends[-1] == 1
            if first:
                held = second_in.wait(20)
                return "250 2.0.0 Ok: queued as 1" if held else "451 4.3.0 the second message never came"
            second_in.set()
            return "250 2.0.0 Ok: queued as 2"

        server = self.responder({"eod": eod})
        r = self.run_batch(server, self.lines(2), "--connections", "2", "--data-timeout", "5")
        self.assertExit(r, 0)
        self.assertEqual([x["status"] for x in self.results(r)], ["sent", "sent"])
        self.assertEqual(len(server.messages), 2)
        self.assertEqual(server.connections, 2)

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


class Progress(SmtpTestCase):
    """The progress line of `batch`: on a terminal only, never with --json or -v."""

    def input_file(self, n, bad=()):
        path = os.path.join(self.tmp, "in.jsonl")
        with open(path, "w") as f:
            for i in range(n):
                if i in bad:
                    f.write(json.dumps({"to": "dev%d@example.com" % i, "subject": "{{nope}}", "vars": {}}) + "\n")
                else:
                    f.write(json.dumps({"to": "dev%d@example.com" % i, "subject": "m%d" % i, "body": "b"}) + "\n")
        return path

    def on_terminal(self, server, args, stdin=subprocess.DEVNULL, server_url=None, connections=1, **env):
        """Runs batch with stderr on a pseudo-terminal (raw: no \\n to \\r\\n);
        returns (exit code, stdout, what the terminal showed)."""
        master, slave = pty.openpty()
        tty.setraw(slave)
        proc = subprocess.Popen([BIN, "batch", "--connections", str(connections)] + args, stdin=stdin,
                                stdout=subprocess.PIPE, stderr=slave,
                                env=self.env(**self.server_env(server, **({"SMTPSEND_SERVER": server_url}
                                                                          if server_url else {})), **env))
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        out = proc.stdout.read()
        code = proc.wait(timeout=60)
        proc.stdout.close()
        os.close(master)
        return code, out.decode(), shown.decode("utf-8", "replace")

    def slow(self):  # each message takes 0.3 s: every result redraws the line (at most 4 a second)
        return self.responder({"eod": ["SLEEP:0.3", "250 2.0.0 Ok: queued as 1"]})

    def test_on_a_terminal_the_line_counts_up_in_place_and_is_erased(self):
        server = self.slow()
        code, out, shown = self.on_terminal(server, [self.input_file(3)])
        self.assertEqual(code, 0, shown)
        drawn = [m.group(0) for m in PROGRESS.finditer(shown)]
        self.assertEqual([(m.group(1), m.group(2)) for m in PROGRESS.finditer(shown)],
                         [("0", "/3"), ("1", "/3"), ("2", "/3"), ("3", "/3")], repr(shown))
        self.assertEqual(drawn[0], "\r0/3 sent, 0 queued, 0 failed, 0 msg/s\x1b[K")
        self.assertRegex(drawn[-1], r"^\r3/3 sent, 0 queued, 0 failed, [\d.]+ msg/s, 0:00 left\x1b\[K$")
        # Nothing but the drawings, the erasing and the summary that stays.
        self.assertEqual(PROGRESS.sub("", shown), "\r\x1b[Ksmtpsend: batch: 3 of 3 sent or queued\n")
        self.assertEqual(len(server.messages), 3)

    def test_over_several_connections_a_slow_message_redraws_the_line_on_the_clock(self):
        # One message whose end of data takes 1.5 s: no result comes in, the line is drawn
        # again every 250 ms (the rate and time left move on); before, it was drawn once.
        server = self.responder({"eod": ["SLEEP:1.5", "250 2.0.0 Ok: queued as 1"]})
        code, out, shown = self.on_terminal(server, [self.input_file(1)], connections=2)
        self.assertEqual(code, 0, shown)
        counts = [m.group(1) for m in PROGRESS.finditer(shown)]
        self.assertGreaterEqual(counts.count("0"), 3, repr(shown))
        self.assertLessEqual(set(counts), {"0", "1"}, repr(shown))  # "1/1" is drawn when 250 ms have passed
        self.assertEqual(PROGRESS.sub("", shown), "\r\x1b[Ksmtpsend: batch: 1 of 1 sent or queued\n")

    def test_a_failure_line_erases_the_progress_line_first(self):
        server = self.slow()
        code, out, shown = self.on_terminal(server, [self.input_file(3, bad=(1,))])
        self.assertEqual(code, 65, shown)
        path = os.path.join(self.tmp, "in.jsonl")
        self.assertIn("\x1b[K\r\x1b[Ksmtpsend: %s:2: subject: unknown placeholder {{nope}}\n" % path, shown)
        self.assertRegex(shown, r"\r2/3 sent, 0 queued, 1 failed, [\d.]+ msg/s, 0:00 left\x1b\[K\r\x1b\[K"
                                r"smtpsend: batch: 2 of 3 sent or queued\n$")

    def test_a_fallback_line_erases_the_progress_line_first(self):
        server = self.slow()
        dead = "smtp://127.0.0.1:%d" % free_port()
        url = "%s,smtp://127.0.0.1:%d" % (dead, server.port)
        code, out, shown = self.on_terminal(server, [self.input_file(2)], server_url=url)
        self.assertEqual(code, 0, shown)
        self.assertIn("\x1b[K\r\x1b[Ksmtpsend: %s:1: %s failed (" % (os.path.join(self.tmp, "in.jsonl"), dead), shown)
        self.assertEqual(len(server.messages), 2)

    def test_standard_input_from_a_file_knows_the_total_a_pipe_does_not(self):
        server = self.slow()
        with open(self.input_file(2)) as f:
            code, _, shown = self.on_terminal(server, [], stdin=f)
        self.assertEqual(code, 0, shown)
        self.assertIn("\r0/2 sent, 0 queued, 0 failed, 0 msg/s\x1b[K", shown)
        master_r, master_w = os.pipe()
        with open(self.input_file(2), "rb") as f:
            os.write(master_w, f.read())
        os.close(master_w)
        code, _, shown = self.on_terminal(server, [], stdin=master_r)
        os.close(master_r)
        self.assertEqual(code, 0, shown)
        self.assertIn("\r0 sent, 0 queued, 0 failed, 0 msg/s\x1b[K", shown)
        self.assertRegex(shown, r"\r2 sent, 0 queued, 0 failed, [\d.]+ msg/s\x1b\[K")  # no "left" without a total
        self.assertEqual(len(server.messages), 4)

    def test_never_with_json_verbose_or_no_progress(self):
        server = self.responder()
        for args, env in ((["--json"], {}), (["-v"], {}), (["--no-progress"], {}), ([], {"SMTPSEND_PROGRESS": "never"}),
                          (["--json", "--progress"], {}), (["--dry-run"], {})):
            with self.subTest(args=args, env=env):
                code, out, shown = self.on_terminal(server, args + [self.input_file(2)], **env)
                self.assertEqual(code, 0, shown)
                self.assertNotIn("msg/s", shown)
                self.assertNotIn("\x1b[K", shown)
        self.assertEqual(len(server.messages), 10)  # the dry run sent nothing

    def test_not_when_stderr_is_piped_unless_forced(self):
        server = self.responder()
        r = self.run_smtpsend(["batch", self.input_file(2)], **self.server_env(server))
        self.assertExit(r, 0)
        self.assertEqual(r.stderr, "smtpsend: batch: 2 of 2 sent or queued\n")
        r = self.run_smtpsend(["batch", "--connections", "1", "--progress", self.input_file(2)],
                              **self.server_env(server))
        self.assertExit(r, 0)
        self.assertIn("\r0/2 sent, 0 queued, 0 failed, 0 msg/s\x1b[K", r.stderr)
        self.assertTrue(r.stderr.endswith("\r\x1b[Ksmtpsend: batch: 2 of 2 sent or queued\n"), repr(r))
        r = self.run_smtpsend(["batch", self.input_file(2)], **self.server_env(server, SMTPSEND_PROGRESS="always"))
        self.assertExit(r, 0)
        self.assertIn("\r0/2 sent", r.stderr)
        # The flag beats the variable.
        r = self.run_smtpsend(["batch", "--no-progress", self.input_file(2)],
                              **self.server_env(server, SMTPSEND_PROGRESS="always"))
        self.assertEqual(r.stderr, "smtpsend: batch: 2 of 2 sent or queued\n")

    def test_a_bad_progress_value_names_the_setting(self):
        server = self.responder()
        r = self.run_smtpsend(["batch", self.input_file(1)], **self.server_env(server, SMTPSEND_PROGRESS="sometimes"))
        self.assertExit(r, 78)
        self.assertIn('progress = "sometimes" is not one of auto, always, never', r.stderr)
        self.assertEqual(len(server.messages), 0)


class Merge(SmtpTestCase):
    """"vars" fill {{name}} placeholders in the subject and the bodies."""

    def run_lines(self, server, lines, *args):
        data = "".join(json.dumps(l) + "\n" for l in lines).encode()
        return self.run_smtpsend(["batch", "--json", "--connections", "1"] + list(args), stdin=data,
                                 **self.server_env(server))

    def parsed(self, raw):  # line ends as Python's own: \n
        return email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)

    def test_subject_and_body_are_filled_per_line(self):
        server = self.responder()
        r = self.run_lines(server, [
            {"to": "ann@example.com", "subject": "Hello {{ name }}", "body": "Dear {{name}}, you owe {{amount}}.\n",
             "vars": {"name": "Ann", "amount": 12.5}},
            {"to": "bob@example.com", "subject": "Hello {{ name }}", "body": "Dear {{name}}, you owe {{amount}}.\n",
             "vars": {"name": "Bob", "amount": 3}},
        ])
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 2)
        first, second = (self.parsed(m) for m in server.messages)
        self.assertIn(b"\r\nSubject: Hello Ann\r\n", server.messages[0])
        self.assertEqual(first.get_content(), "Dear Ann, you owe 12.5.\n")
        self.assertIn(b"\r\nSubject: Hello Bob\r\n", server.messages[1])
        self.assertEqual(second.get_content(), "Dear Bob, you owe 3.\n")

    def test_utf8_value_in_the_subject_is_encoded_like_any_subject(self):
        server = self.responder()
        r = self.run_lines(server, [{"to": "a@example.com", "subject": "Grüße, {{name}}", "body": "b",
                                     "vars": {"name": "Zoë"}}])
        self.assertExit(r, 0)
        raw = server.messages[0]
        headers = raw.split(b"\r\n\r\n", 1)[0]
        self.assertTrue(all(b < 0x80 for b in headers), headers)  # RFC 2047, as for -s
        self.assertEqual(self.parsed(raw)["subject"], "Grüße, Zoë")

    def test_body_file_and_html_file_contents_are_filled(self):
        server = self.responder()
        body = os.path.join(self.tmp, "body.txt")
        html = os.path.join(self.tmp, "body.html")
        with open(body, "w") as f:
            f.write("Hi {{name}}\n")
        with open(html, "w") as f:
            f.write("<p>Hi {{name}}</p>\n")
        r = self.run_lines(server, [{"to": "a@example.com", "subject": "s", "body_file": body, "html_file": html,
                                     "vars": {"name": "Ann"}},
                                    {"to": "a@example.com", "subject": "s", "body": "text {{name}}",
                                     "html": "<b>{{name}}</b>", "vars": {"name": "Bob"}}])
        self.assertExit(r, 0)
        first, second = (self.parsed(m) for m in server.messages)
        self.assertEqual(first.get_body(("plain",)).get_content(), "Hi Ann\n")
        self.assertEqual(first.get_body(("html",)).get_content(), "<p>Hi Ann</p>\n")
        self.assertEqual(second.get_body(("plain",)).get_content(), "text Bob")
        self.assertEqual(second.get_body(("html",)).get_content(), "<b>Bob</b>")
        with open(body) as f:
            self.assertEqual(f.read(), "Hi {{name}}\n")  # the template file is left alone

    def test_an_unknown_placeholder_fails_that_line_alone(self):
        server = self.responder()
        r = self.run_lines(server, [
            {"to": "a@example.com", "subject": "one {{name}}", "body": "b", "vars": {"name": "Ann"}},
            {"to": "b@example.com", "subject": "two", "body": "Dear {{nmae}}", "vars": {"name": "Bob"}},
            {"to": "c@example.com", "subject": "three {{name}}", "body": "b", "vars": {"name": "Cy"}},
        ])
        self.assertExit(r, 65)
        results = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([x["status"] for x in results], ["sent", "failed", "sent"])
        self.assertEqual(results[1]["input"], "stdin:2")
        self.assertEqual(results[1]["exit_code"], 65)
        self.assertEqual(results[1]["error"]["summary"], "body: unknown placeholder {{nmae}}")
        self.assertEqual(results[1]["error"]["hints"], ['the line\'s "vars" has name'])
        self.assertEqual([m.split(b"\r\nSubject: ")[1].split(b"\r\n")[0] for m in server.messages],
                         [b"one Ann", b"three Cy"])
        # In text: the line and the placeholder named on stderr.
        r = self.run_smtpsend(["batch", "--connections", "1"],
                              stdin=(json.dumps({"to": "b@example.com", "subject": "{{who}}", "vars": {}}) + "\n").encode(),
                              **self.server_env(server))
        self.assertExit(r, 65)
        self.assertIn("smtpsend: stdin:1: subject: unknown placeholder {{who}}\n", r.stderr)
        self.assertEqual(len(server.messages), 2)

    def test_values_must_be_strings_or_numbers_and_names_placeholder_names(self):
        server = self.responder()
        cases = [({"ok": True}, 'vars: "ok" must be a string or a number'),
                 ({"n": None}, 'vars: "n" must be a string or a number'),
                 ({"l": ["x"]}, 'vars: "l" must be a string or a number'),
                 ({"o": {"a": "b"}}, 'vars: "o" must be a string or a number'),
                 ({"first name": "Ann"}, 'vars: "first name" is not a placeholder name'),
                 ("Ann", 'vars: expected an object {"name": "value", ...}')]
        r = self.run_lines(server, [{"to": "a@example.com", "subject": "s", "body": "b", "vars": v} for v, _ in cases])
        self.assertExit(r, 65)
        results = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([x["error"]["summary"] for x in results], [want for _, want in cases])
        self.assertEqual(server.messages, [])

    def test_values_are_text_not_templates_and_addresses_are_not_filled(self):
        server = self.responder()
        r = self.run_lines(server, [{"to": "{{name}}@example.com", "subject": "{{open}}name}} {{x}}",
                                     "body": "{{{x}}} {{ }} {{2}}", "headers": ["X-Tag: {{name}}"],
                                     "vars": {"name": "ann", "open": "{{", "x": "{{name}}"}}])
        self.assertExit(r, 0)
        raw = server.messages[0]
        self.assertIn("RCPT TO:<{{name}}@example.com>", server.log)
        self.assertIn(b"\r\nTo: {{name}}@example.com\r\n", raw)
        self.assertIn(b"\r\nX-Tag: {{name}}\r\n", raw)
        self.assertIn(b"\r\nSubject: {{name}} {{name}}\r\n", raw)
        self.assertEqual(self.parsed(raw).get_content(), "{{{name}}} {{ }} {{2}}\n")

    def test_a_line_without_vars_is_sent_as_written(self):
        server = self.responder()
        r = self.run_lines(server, [{"to": "a@example.com", "subject": "{{name}}", "body": "{{name}}"}])
        self.assertExit(r, 0)
        self.assertIn(b"\r\nSubject: {{name}}\r\n", server.messages[0])

    def test_dry_run_shows_the_filled_message(self):
        server = self.responder()
        r = self.run_smtpsend(["batch", "--dry-run"],
                              stdin=(json.dumps({"to": "a@example.com", "subject": "Hi {{name}}",
                                                 "body": "Dear {{name}}", "vars": {"name": "Ann"}}) + "\n").encode(),
                              **self.server_env(server))
        self.assertExit(r, 0)
        self.assertIn("Subject: Hi Ann\r", r.stdout)
        self.assertIn("Dear Ann", r.stdout)
        self.assertNotIn("{{", r.stdout)
        self.assertEqual(server.connections, 0)


if __name__ == "__main__":
    unittest.main()
