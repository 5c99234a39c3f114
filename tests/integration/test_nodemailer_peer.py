"""The real binary against a second, independent server implementation:
nodemailer's smtp-server (tests/node/server.js), with mailparser parsing what
arrived. Each test compares mailparser's view with what was sent, exactly,
and checks the raw bytes obey SMTP (no line over 998 octets, no 8-bit byte
without BODY=8BITMIME or SMTPUTF8).

The peers are npm packages that tests/setup.sh installs into
tests/node/node_modules. Without node or those modules the suite is
skipped, unless SMTPSEND_REQUIRE_NODE_PEERS=1 (tests/run-all.sh, so CI),
where it fails."""

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
import unittest

from smtptest import SmtpTestCase

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
SERVER_JS = os.path.join(NODE_DIR, "server.js")
NODE = shutil.which("node")
MISSING = None
if not NODE:
    MISSING = "node is not installed (tests/setup.sh installs nodejs)"
elif not all(os.path.isdir(os.path.join(NODE_DIR, "node_modules", m))
             for m in ("smtp-server", "mailparser")):
    MISSING = "tests/node/node_modules lacks smtp-server/mailparser (tests/setup.sh installs them)"
REQUIRED = os.environ.get("SMTPSEND_REQUIRE_NODE_PEERS") == "1"


class NodePeer:
    """tests/node/server.js on 127.0.0.1, port 0: smtp-server + mailparser.
    `messages` are its JSON records, in arrival order."""

    def __init__(self, certs=None, users=None, hide8bitmime=False, hidesmtputf8=False):
        opts = {"hide8BITMIME": hide8bitmime, "hideSMTPUTF8": hidesmtputf8, "users": users or {}}
        if certs is not None:
            opts["cert"], opts["key"] = certs.good
        self.proc = subprocess.Popen([NODE, SERVER_JS, json.dumps(opts)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.log = ""
        threading.Thread(target=self._read, daemon=True).start()
        first = self.lines.get(timeout=20)
        if first is None:
            raise RuntimeError("tests/node/server.js did not start: " + self.proc.stderr.read().decode())
        self.port = first["port"]
        self._messages = []

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    @property
    def messages(self):
        while True:
            try:
                item = self.lines.get_nowait()
            except queue.Empty:
                return self._messages
            if item is not None:
                self._messages.append(item)

    def wait_for(self, count, timeout=20):
        """The records once `count` have arrived (the server prints a record
        before its 250, but the reader thread may not have it yet)."""
        while len(self.messages) < count:
            try:
                item = self.lines.get(timeout=timeout)
            except queue.Empty:
                break
            if item is None:
                break
            self._messages.append(item)
        return self._messages

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.stdout.close()
        self.proc.stderr.close()


@unittest.skipIf(MISSING and not REQUIRED, MISSING or "")
class NodemailerPeer(SmtpTestCase):
    def setUp(self):
        super().setUp()
        if MISSING:
            self.fail(MISSING + "; SMTPSEND_REQUIRE_NODE_PEERS=1 requires them")

    def peer(self, **kw):
        p = NodePeer(**kw)
        self.servers.append(p)
        return p

    def plain(self, peer, **extra):
        env = dict(SMTPSEND_SERVER="smtp://127.0.0.1:%d" % peer.port, SMTPSEND_TLS="none",
                   SMTPSEND_FROM="sender@example.com", SMTPSEND_TIMEOUT="10")
        env.update(extra)
        return env

    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def deliver(self, args, stdin=b"", peer=None, **env):
        """Sends once and returns the one record that arrived, after checking
        its raw bytes obey SMTP."""
        peer = peer or self.peer()
        r = self.run_smtpsend(args, stdin=stdin, **(env or self.plain(peer)))
        self.assertExit(r, 0)
        self.assertEqual(len(peer.wait_for(1)), 1)
        m = peer.messages[0]
        self.assertNotIn("parse_error", m)
        self.assertLessEqual(m["max_line"], 998, "a line over 998 octets arrived")
        self.assertFalse(m["undeclared_8bit"], "8-bit bytes arrived without BODY=8BITMIME or SMTPUTF8")
        m["raw_bytes"] = base64.b64decode(m["raw"])
        self.assertNotIn(b"\n", m["raw_bytes"].replace(b"\r\n", b""), "bare LF on the wire")
        return m

    def head(self, m):
        return m["raw_bytes"].split(b"\r\n\r\n", 1)[0]

    def assertHeadLinesAtMost(self, m, limit):
        lines = self.head(m).split(b"\r\n")
        self.assertLessEqual(max(len(l) for l in lines), limit, self.head(m))

    def text(self, m):
        return m["parsed"]["text"]

    # --- subjects and names -----------------------------------------------------

    def test_a_short_utf8_subject(self):
        m = self.deliver(["-s", "Grüße ☃ — naïve", "dev@example.com"], b"x\n")
        self.assertEqual(m["parsed"]["subject"], "Grüße ☃ — naïve")
        self.assertTrue(m["raw_bytes"].isascii())
        self.assertHeadLinesAtMost(m, 78)

    def test_a_utf8_subject_of_over_300_characters(self):
        subject = "Bericht für März: Größenänderung übernommen, " * 8
        self.assertGreater(len(subject), 300)
        m = self.deliver(["-s", subject, "dev@example.com"], b"x\n")
        self.assertEqual(m["parsed"]["subject"], subject)
        self.assertHeadLinesAtMost(m, 78)

    def test_a_subject_of_1100_characters_without_spaces(self):
        subject = "x" * 1100
        m = self.deliver(["-s", subject, "dev@example.com"], b"x\n")
        self.assertEqual(m["parsed"]["subject"], subject)
        self.assertHeadLinesAtMost(m, 78)

    def test_a_utf8_subject_of_1100_characters_without_spaces(self):
        subject = "☃ü" * 550
        m = self.deliver(["-s", subject, "dev@example.com"], b"x\n")
        self.assertEqual(m["parsed"]["subject"], subject)
        self.assertHeadLinesAtMost(m, 78)

    def test_a_subject_that_looks_like_an_encoded_word_arrives_literally(self):
        subject = "=?UTF-8?B?SGVsbG8=?= and =?ISO-8859-1?Q?caf=E9?="
        m = self.deliver(["-s", subject, "dev@example.com"], b"x\n")
        self.assertEqual(m["parsed"]["subject"], subject)

    def test_utf8_display_names_in_from_to_and_cc(self):
        m = self.deliver(["-s", "names", "--from", "Jörg Müller <joerg@example.com>",
                          "--cc", "Zoë Ærø <zoe@example.com>", "Ånna „Quote“ Šimek <anna@example.com>"], b"x\n")
        p = m["parsed"]
        self.assertEqual(p["from"], [{"name": "Jörg Müller", "address": "joerg@example.com"}])
        self.assertEqual(p["to"], [{"name": "Ånna „Quote“ Šimek", "address": "anna@example.com"}])
        self.assertEqual(p["cc"], [{"name": "Zoë Ærø", "address": "zoe@example.com"}])
        self.assertEqual(m["mail_from"], "joerg@example.com")
        self.assertEqual(sorted(m["rcpt_to"]), ["anna@example.com", "zoe@example.com"])

    # --- bodies -------------------------------------------------------------------

    def test_a_utf8_body(self):
        body = "Grüße aus dem Büro ☃\nЗдравствуйте, 你好, مرحبا\n"
        m = self.deliver(["-s", "body", "dev@example.com"], body.encode())
        self.assertEqual(self.text(m), body)

    def test_dot_lines_arrive_as_sent(self):
        body = ".starts with a dot\n.\n..two dots\nend\n.\n"
        m = self.deliver(["-s", "dots", "dev@example.com"], body.encode())
        self.assertEqual(self.text(m), body)

    def test_a_body_line_of_2000_characters_arrives_intact(self):
        body = "a" * 2000 + "\nshort\n"
        m = self.deliver(["-s", "long", "dev@example.com"], body.encode())
        self.assertEqual(self.text(m), body)
        body_raw = m["raw_bytes"].split(b"\r\n\r\n", 1)[1]
        self.assertLessEqual(max(len(l) for l in body_raw.split(b"\r\n")), 76)  # RFC 2045 QP lines

    def test_a_composed_line_over_78_characters_goes_quoted_printable(self):
        body = "word " * 20 + "\n"
        m = self.deliver(["-s", "qp", "dev@example.com"], body.encode())
        self.assertEqual(self.text(m), body)
        self.assertIn(b"Content-Transfer-Encoding: quoted-printable", self.head(m))

    # --- -t pass-through ------------------------------------------------------------

    def test_t_with_8bit_body_to_a_server_without_8bitmime_or_smtputf8(self):
        peer = self.peer(hide8bitmime=True, hidesmtputf8=True)
        body = "Grüße, Zoë ☃\n" + "é" * 600 + "\n.dot\n"
        message = ("From: Cron <cron@example.com>\nTo: dev@example.com\nSubject: nightly\n"
                   "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: 8bit\n\n" + body).encode()
        m = self.deliver(["-t"], message, peer=peer)
        self.assertTrue(m["raw_bytes"].isascii())
        self.assertNotIn("BODY", m["mail_params"])
        self.assertEqual(self.text(m), body)
        self.assertEqual(m["parsed"]["subject"], "nightly")

    def test_t_with_a_raw_utf8_subject_and_names_to_a_server_without_8bitmime(self):
        peer = self.peer(hide8bitmime=True, hidesmtputf8=True)
        message = ("From: Jörg Müller <cron@example.com>\nTo: Zoë <dev@example.com>\n"
                   "Subject: Grüße aus dem Büro ☃\n\nplain body\n").encode()
        m = self.deliver(["-t"], message, peer=peer)
        self.assertTrue(m["raw_bytes"].isascii(), self.head(m))
        p = m["parsed"]
        self.assertEqual(p["subject"], "Grüße aus dem Büro ☃")
        self.assertEqual(p["from"], [{"name": "Jörg Müller", "address": "cron@example.com"}])
        self.assertEqual(p["to"], [{"name": "Zoë", "address": "dev@example.com"}])
        self.assertEqual(self.text(m), "plain body\n")

    def test_t_with_a_non_ascii_domain_in_the_headers_to_a_server_without_smtputf8(self):
        peer = self.peer(hide8bitmime=True, hidesmtputf8=True)
        message = "From: Jörg <joerg@bücher.test>\nTo: anna@münchen.example\nSubject: idn\n\nx\n".encode()
        env = self.plain(peer)
        del env["SMTPSEND_FROM"]  # the envelope sender comes from the From field
        m = self.deliver(["-t"], message, peer=peer, **env)
        self.assertEqual([c[:c.index(">") + 1] for c in m["commands"]],
                         ["MAIL FROM:<joerg@xn--bcher-kva.test>", "RCPT TO:<anna@xn--mnchen-3ya.example>"])
        self.assertTrue(m["raw_bytes"].isascii(), self.head(m))
        self.assertIn(b"<joerg@xn--bcher-kva.test>", self.head(m))
        self.assertIn(b"To: anna@xn--mnchen-3ya.example\r\n", self.head(m))
        self.assertEqual(m["parsed"]["from"], [{"name": "Jörg", "address": "joerg@bücher.test"}])

    def test_t_with_a_header_field_over_998_characters(self):
        subject = "y" * 1500
        message = ("From: cron@example.com\nTo: dev@example.com\nSubject: " + subject +
                   "\n\nbody\n").encode()
        m = self.deliver(["-t"], message)
        self.assertEqual(m["parsed"]["subject"], subject)

    def test_t_with_a_2000_character_line_and_dot_lines(self):
        body = "z" * 2000 + "\n.\n.leading dot\n..\nend\n"
        message = ("From: cron@example.com\nTo: dev@example.com\nSubject: long\n\n" + body).encode()
        m = self.deliver(["-t"], message)
        self.assertEqual(self.text(m), body)
        self.assertIn(b"Content-Transfer-Encoding: quoted-printable", self.head(m))

    def test_t_multipart_with_a_utf8_file_name_to_a_server_without_8bitmime(self):
        peer = self.peer(hide8bitmime=True, hidesmtputf8=True)
        message = ("From: cron@example.com\nTo: dev@example.com\nSubject: report\nMIME-Version: 1.0\n"
                   "Content-Type: multipart/mixed; boundary=\"BB\"\n\n"
                   "--BB\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nGrüße\n"
                   "--BB\nContent-Type: text/csv; name=\"Überblick März.csv\"\n"
                   "Content-Disposition: attachment; filename=\"Überblick März.csv\"\n"
                   "Content-Transfer-Encoding: base64\n\nYSxiCg==\n"
                   "--BB--\n").encode()
        m = self.deliver(["-t"], message, peer=peer)
        self.assertTrue(m["raw_bytes"].isascii(), self.head(m))
        self.assertEqual(self.text(m), "Grüße")  # the line break before "--BB" is the delimiter's
        got = {a["filename"]: a for a in m["parsed"]["attachments"]}
        self.assertEqual(list(got), ["Überblick März.csv"])
        self.assertEqual(base64.b64decode(got["Überblick März.csv"]["content"]), b"a,b\n")

    def test_t_with_bcc(self):
        message = (b"From: Cron <cron@example.com>\nTo: dev@example.com\nCc: ops@example.com\n"
                   b"Bcc: hidden@example.com, Secret Person <secret@example.com>\nSubject: bcc\n\nbody\n")
        m = self.deliver(["-t"], message)
        self.assertEqual(sorted(m["rcpt_to"]), ["dev@example.com", "hidden@example.com", "ops@example.com",
                                                "secret@example.com"])
        self.assertNotIn("bcc", m["parsed"]["header_names"])
        self.assertIsNone(m["parsed"]["bcc"])
        self.assertNotIn(b"hidden@example.com", m["raw_bytes"])
        self.assertNotIn(b"secret@example.com", m["raw_bytes"])
        self.assertEqual(self.text(m), "body\n")

    # --- international addresses --------------------------------------------------------

    def test_a_non_ascii_domain_to_a_server_without_smtputf8(self):
        peer = self.peer(hidesmtputf8=True)
        m = self.deliver(["-s", "idn", "--from", "Jörg <joerg@bücher.test>", "Anna <anna@münchen.example>"],
                         b"x\n", peer=peer)
        # smtp-server shows A-labels as Unicode in its envelope: the lines as sent.
        self.assertEqual([c[:c.index(">") + 1] for c in m["commands"]],
                         ["MAIL FROM:<joerg@xn--bcher-kva.test>",
                          "RCPT TO:<anna@xn--mnchen-3ya.example>"])
        self.assertNotIn("SMTPUTF8", m["mail_params"])
        self.assertTrue(m["raw_bytes"].isascii())
        self.assertIn(b"<joerg@xn--bcher-kva.test>", self.head(m))
        self.assertIn(b"<anna@xn--mnchen-3ya.example>", self.head(m))
        # mailparser, too, shows A-labels as Unicode: it reads back what was given.
        p = m["parsed"]
        self.assertEqual(p["from"], [{"name": "Jörg", "address": "joerg@bücher.test"}])
        self.assertEqual(p["to"], [{"name": "Anna", "address": "anna@münchen.example"}])

    def test_a_non_ascii_local_part_without_smtputf8_is_65_and_nothing_is_sent(self):
        peer = self.peer(hidesmtputf8=True)
        r = self.run_smtpsend(["--json", "-s", "x", "jörg@example.com"], stdin=b"x\n", **self.plain(peer))
        self.assertExit(r, 65)
        self.assertEqual(r.json()["error"]["class"], "input")
        self.assertEqual(peer.messages, [])

    def test_a_non_ascii_local_part_with_smtputf8(self):
        m = self.deliver(["-s", "utf8", "--from", "Jörg <jörg@example.com>", "zoë@bücher.test"], b"x\n")
        self.assertEqual(m["mail_params"].get("SMTPUTF8"), True)
        self.assertTrue(m["commands"][0].startswith("MAIL FROM:<jörg@example.com>"), m["commands"])
        self.assertIn(" SMTPUTF8", m["commands"][0])
        self.assertEqual(m["mail_from"], "jörg@example.com")
        self.assertEqual(m["rcpt_to"], ["zoë@bücher.test"])
        self.assertEqual(m["parsed"]["from"], [{"name": "Jörg", "address": "jörg@example.com"}])
        self.assertEqual(m["parsed"]["to"], [{"name": "", "address": "zoë@bücher.test"}])

    # --- attachments ------------------------------------------------------------------------

    def attachments(self, m):
        return {a["filename"]: a for a in m["parsed"]["attachments"]}

    def test_attachments_with_odd_names(self):
        names = ["with spaces.txt", 'say "hi".txt', "it's.txt", "Überblick März ☃.csv",
                 "n" * 200 + ".txt", "Überlänge " * 20 + ".txt", "semi;colon; name=x.txt", "back\\slash.txt", "(paren) [b] =?x?=.txt"]
        args = ["-s", "odd names"]
        for i, n in enumerate(names):
            args += ["--attach", self.file(n, ("content %d\n" % i).encode())]
        given = "Bericht-" + "ü" * 400 + ".pdf"  # longer than a file name may be: ;name=
        args += ["--attach", self.file("sub/dir/in-a-folder.txt", b"folder\n"),
                 "--attach", self.file("plain.dat", b"given\n") + ";name=" + given, "dev@example.com"]
        m = self.deliver(args, b"see attached\n")
        got = self.attachments(m)
        self.assertEqual(sorted(got), sorted(names + ["in-a-folder.txt", given]))
        self.assertEqual(got[given]["contentType"], "application/pdf")
        self.assertEqual(base64.b64decode(got[given]["content"]), b"given\n")
        for i, n in enumerate(names):
            self.assertEqual(base64.b64decode(got[n]["content"]), ("content %d\n" % i).encode(), n)
        self.assertEqual(base64.b64decode(got["in-a-folder.txt"]["content"]), b"folder\n")
        self.assertEqual(got["Überblick März ☃.csv"]["contentType"], "text/csv")
        self.assertEqual(self.text(m), "see attached\n")
        self.assertLessEqual(max(len(l) for l in m["raw_bytes"].split(b"\r\n")), 78)

    def test_attach_dash_from_stdin_with_a_name(self):
        data = "name,count\nÄpfel,3\n".encode()
        m = self.deliver(["-s", "stdin", "--body-file", self.file("body.txt", b"see attached\n"),
                          "--attach", "-;name=Bericht für März.csv", "dev@example.com"], data)
        got = self.attachments(m)
        self.assertEqual(list(got), ["Bericht für März.csv"])
        self.assertEqual(got["Bericht für März.csv"]["contentType"], "text/csv")
        self.assertEqual(base64.b64decode(got["Bericht für März.csv"]["content"]), data)
        self.assertEqual(self.text(m), "see attached\n")

    def test_a_binary_attachment_arrives_byte_for_byte(self):
        import random
        rnd = random.Random(19)
        data = bytes(range(256)) + b"\r\n.\r\n\x00\n.\n" + bytes(rnd.getrandbits(8) for _ in range(300000))
        m = self.deliver(["-s", "bin", "--attach", self.file("blob.bin", data), "dev@example.com"], b"")
        got = self.attachments(m)
        self.assertEqual(got["blob.bin"]["contentType"], "application/octet-stream")
        self.assertEqual(base64.b64decode(got["blob.bin"]["content"]), data)

    def test_several_attachments_and_html(self):
        html = "<html><body><p>Grüße, <b>Welt</b> ☃</p></body></html>\n"
        text = "Grüße, Welt ☃\n"
        files = {"a.txt": b"alpha\n", "b.pdf": b"%PDF-1.4\n\xe2\xe3\xcf\xd3\n", "c.png": b"\x89PNG\r\n\x1a\n" * 40}
        args = ["-s", "several", "--html", self.file("body.html", html.encode())]
        for n, d in files.items():
            args += ["--attach", self.file(n, d)]
        m = self.deliver(args + ["dev@example.com"], text.encode())
        self.assertEqual(self.text(m), text)
        self.assertEqual(m["parsed"]["html"], html)
        got = self.attachments(m)
        self.assertEqual(sorted(got), sorted(files))
        for n, d in files.items():
            self.assertEqual(base64.b64decode(got[n]["content"]), d, n)
        self.assertEqual(got["b.pdf"]["contentType"], "application/pdf")
        self.assertEqual(got["c.png"]["contentType"], "image/png")

    # --- the reply, TLS and login ---------------------------------------------------------------

    def test_json_carries_the_reply_and_the_server_queue_id(self):
        peer = self.peer()
        r = self.run_smtpsend(["--json", "-s", "x", "dev@example.com"], stdin=b"x\n", **self.plain(peer))
        self.assertExit(r, 0)
        j = r.json()
        queue_id = peer.wait_for(1)[0]["queue_id"]
        self.assertEqual(j["server_queue_id"], queue_id)
        self.assertEqual(j["reply"], "250 Ok: queued as " + queue_id)

    def test_starttls_and_auth(self):
        for mechanism in ("PLAIN", "LOGIN"):
            with self.subTest(mechanism=mechanism):
                peer = self.peer(certs=self.certs, users={"alice@example.com": "s3cret:é"})
                m = self.deliver(["-s", "tls ✓", "dev@example.com"], "über TLS\n".encode(), peer=peer,
                                 **self.server_env(peer, password="s3cret:é", SMTPSEND_AUTH=mechanism))
                self.assertTrue(m["tls"])
                self.assertEqual(m["login"], "alice@example.com")
                self.assertEqual(m["auth_method"], mechanism)
                self.assertEqual(m["parsed"]["subject"], "tls ✓")
                self.assertEqual(self.text(m), "über TLS\n")

    def test_a_wrong_password_is_refused_with_77(self):
        peer = self.peer(certs=self.certs, users={"alice@example.com": "s3cret"})
        r = self.run_smtpsend(["-s", "x", "dev@example.com"], stdin=b"x\n",
                              **self.server_env(peer, password="wrong"))
        self.assertExit(r, 77)
        self.assertEqual(peer.messages, [])


if __name__ == "__main__":
    unittest.main()
