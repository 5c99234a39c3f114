"""Fault injection: at each stage the scripted server closes the connection,
stalls, answers after the timeout, sends garbage, a 10 MB line, a
multi-line reply that never ends, or trickles a byte a second. Every case
must end within the timeout plus a margin, with a non-zero exit code (75
where a retry can help), the stage named, the message never reported as
sent, and with the queue on, kept (exit 0, queued). A QUIT that fails after
the message's 250 still counts as sent.

Prints the table that docs/reliability.md shows."""

import concurrent.futures
import json
import os
import time
import unittest

from smtptest import SmtpTestCase

TIMEOUT = 2
MARGIN = 4  # process start, TLS handshakes, the scripted server's own pace

FAULTS = {
    "close": lambda ok: "CLOSE",
    "stall": lambda ok: "HANG",
    "late answer": lambda ok: ["SLEEP:%d" % (TIMEOUT + 2), ok],
    "garbage": lambda ok: [b"\x16\x03\x01garbage\xff\xfe\r\n", "CLOSE"],
    "10 MB line": lambda ok: ["LONGLINE", "CLOSE"],
    "endless reply": lambda ok: "ENDLESS",
    "trickle": lambda ok: "TRICKLE:" + (ok if isinstance(ok, str) else ok[-1]),
}

# stage -> (script key, the normal reply that the fault replaces)
STAGES = {
    "greeting": ("greeting", "220 responder.test ESMTP"),
    "ehlo": ("ehlo", ["250-responder.test", "250-STARTTLS", "250 AUTH PLAIN LOGIN"]),
    "starttls": ("starttls", "220 2.0.0 Ready to start TLS"),
    "auth": ("auth", "235 2.7.0 Authentication successful"),
    "mail": ("mail", "250 2.1.0 Ok"),
    "rcpt": ("rcpt", "250 2.1.5 Ok"),
    "data": ("data", "354 go ahead"),
    "body": ("body", None),
    "end-of-data": ("eod", "250 2.0.0 Ok: queued"),
    "quit": ("quit", "221 2.0.0 Bye"),
}


class Faults(SmtpTestCase):
    def one(self, stage, fault):
        key, ok = STAGES[stage]
        if stage == "body":
            script = {"body": {"close": "CLOSE", "stall": "HANG"}.get(fault)}
            if script["body"] is None:
                return None
        else:
            script = {key: FAULTS[fault](ok)}
            if stage == "ehlo" and fault in ("late answer", "trickle"):
                return None  # a multi-line EHLO reply cannot be trickled as one line; covered by greeting
        server = self.responder(script)
        big = b"x" * 998 + b"\n"
        body = big * 3000 if stage == "body" else b"hello\n"
        env = self.server_env(server, SMTPSEND_TIMEOUT=str(TIMEOUT))
        queue_dir = os.path.join(self.tmp, "q-%s-%s" % (stage, fault.replace(" ", "")))
        r = self.run_smtpsend(["--json", "dev@example.com"], stdin=body, timeout=120, **env)
        q = self.run_smtpsend(["--json", "--queue", "dev@example.com"], stdin=body, timeout=120,
                              SMTPSEND_QUEUE_DIR=queue_dir, **env)
        server.stop()
        self.servers.remove(server)
        return stage, fault, r, q, queue_dir

    def test_every_stage_and_fault(self):
        cases = [(s, f) for s in STAGES for f in FAULTS]
        rows = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            for result in pool.map(lambda c: self.one(*c), cases):
                if result:
                    rows.append(result)
        table = ["| stage | fault | exit | status | stage reported | seconds | with --queue |",
                 "|---|---|---|---|---|---|---|"]
        problems = []
        for stage, fault, r, q, queue_dir in rows:
            try:
                j = json.loads(r.stdout)
                jq = json.loads(q.stdout)
            except ValueError:
                problems.append("%s/%s: no JSON result: exit %d / %d, stderr %r / %r" %
                                (stage, fault, r.code, q.code, r.stderr[-300:], q.stderr[-300:]))
                continue
            queued = jq["status"] == "queued"
            kept = queued and any(n.endswith(".eml") for n in os.listdir(queue_dir))
            table.append("| %s | %s | %d | %s | %s | %.1f | %s |" % (
                stage, fault, r.code, j["status"], (j.get("error") or {}).get("stage", "-"), r.elapsed,
                "queued (exit %d)" % q.code if queued else "%s (exit %d)" % (jq["status"], q.code)))
            # At most three waits: the fault itself, libcurl 7.88's QUIT on the failed
            # connection, and the low-speed bound when the server stops reading the body.
            if r.elapsed > TIMEOUT * 3 + MARGIN:
                problems.append("%s/%s took %.1fs" % (stage, fault, r.elapsed))
            if stage == "quit":
                if r.code != 0 or j["status"] != "sent":
                    problems.append("%s/%s: a failing QUIT after 250 must count as sent" % (stage, fault))
                continue
            if r.code == 0 or j["status"] == "sent":
                problems.append("%s/%s reported as sent" % (stage, fault))
            if "error" not in j or not j["error"]["stage"]:
                problems.append("%s/%s: no stage" % (stage, fault))
            if r.code == 75 and not (kept and q.code == 0):
                problems.append("%s/%s: exit 75 but not kept in the queue (%s)" % (stage, fault, q.stdout))
        print("\n" + "\n".join(table))
        self.assertEqual(problems, [])
        self.assertGreater(len(rows), 55)


if __name__ == "__main__":
    unittest.main()
