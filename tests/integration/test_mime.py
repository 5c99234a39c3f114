"""Messages composed from flags, delivered to a real server and read back
with Python's email package (policy.default): subjects and names decode to
the original, bodies match, attachments are byte-identical."""

import email
import email.policy
import os
import random
import unittest

from smtptest import SmtpTestCase


class RoundTrip(SmtpTestCase):
    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def deliver(self, args, body=b""):
        server = self.aio()
        r = self.run_smtpsend(args, stdin=body, **self.server_env(server))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        raw = server.messages[0]["content"]
        for line in raw.split(b"\r\n"):
            self.assertLessEqual(len(line), 998, "a line longer than 998 octets went out raw")
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""), "bare LF on the wire")
        return email.message_from_bytes(raw, policy=email.policy.default), raw

    def test_everything_at_once(self):
        rnd = random.Random(7)
        binary = bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024))
        long_lines = ("x" * 5000 + "\n" + "é" * 3000 + "\n").encode()
        html = "<html><body><p>Grüße, <b>Welt</b> <img src=\"cid:logo.png\"></p></body></html>\n"
        text = "Grüße aus dem Build-Server ☃\nZeile zwei\n.Punkt am Anfang\n"
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
        args = ["-s", "Bericht für März — ✓ naïve", "--from", "Jörg Müller <joerg@example.com>",
                "--cc", "Zoë Ærø <zoe@example.com>",
                "--html", self.file("body.html", html.encode()),
                "--inline", self.file("logo.png", png),
                "--attach", self.file("big.bin", binary),
                "--attach", self.file("long.txt", long_lines),
                "--attach", self.file("plain.dat", b"x") + ";type=text/csv;name=Überblick März.csv",
                "dev@example.com"]
        msg, raw = self.deliver(args, text.encode())
        self.assertEqual(msg["Subject"], "Bericht für März — ✓ naïve")
        self.assertEqual(msg["From"].addresses[0].display_name, "Jörg Müller")
        self.assertEqual(msg["Cc"].addresses[0].display_name, "Zoë Ærø")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        body = msg.get_body(preferencelist=("plain",))
        self.assertEqual(body.get_content().replace("\r\n", "\n"), text)
        html_part = msg.get_body(preferencelist=("html",))
        self.assertEqual(html_part.get_content().replace("\r\n", "\n"), html)
        related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
        self.assertEqual(len(related), 1)
        inline = [p for p in msg.walk() if p.get("Content-ID") == "<logo.png>"][0]
        self.assertEqual(inline.get_content_disposition(), "inline")
        self.assertEqual(inline.get_content(), png)
        attachments = {p.get_filename(): p for p in msg.iter_attachments()}
        self.assertEqual(set(attachments), {"big.bin", "long.txt", "Überblick März.csv"})
        self.assertEqual(attachments["big.bin"].get_payload(decode=True), binary)
        self.assertEqual(attachments["big.bin"].get_content_type(), "application/octet-stream")
        self.assertEqual(attachments["long.txt"].get_payload(decode=True), long_lines)
        self.assertEqual(attachments["long.txt"].get_content_type(), "text/plain")
        self.assertEqual(attachments["Überblick März.csv"].get_content_type(), "text/csv")
        self.assertEqual(attachments["Überblick März.csv"].get_payload(decode=True), b"x")

    def test_html_alone_and_long_lines_in_the_text(self):
        msg, _ = self.deliver(["--html", self.file("b.html", b"<p>only html</p>\n"), "dev@example.com"])
        self.assertEqual(msg.get_content_type(), "text/html")
        self.assertEqual(msg.get_content().strip(), "<p>only html</p>")
        text = "a" * 3000 + "\n"
        msg, raw = self.deliver(["-s", "long", "dev@example.com"], text.encode())
        self.assertEqual(msg["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(msg.get_content().replace("\r\n", "\n"), text)

    def test_a_text_line_over_78_characters_goes_quoted_printable(self):
        # Relays wrap long lines (Haraka at 992): 7bit is only for short lines.
        for text, cte in (("x" * 78 + "\nshort\n", "7bit"),
                          ("x" * 79 + "\nshort\n", "quoted-printable"),
                          ("word " * 200 + "\n" + "y" * 995 + " \n.dot\n", "quoted-printable")):
            with self.subTest(length=len(text.split("\n")[0]), cte=cte):
                msg, raw = self.deliver(["-s", "long", "dev@example.com"], text.encode())
                self.assertEqual(msg["Content-Transfer-Encoding"], cte)
                self.assertEqual(msg.get_content().replace("\r\n", "\n"), text)
                body = raw.split(b"\r\n\r\n", 1)[1]
                self.assertLessEqual(max(len(line) for line in body.split(b"\r\n")), 78)

    def test_subjects_arrive_literally_in_lines_of_at_most_78(self):
        for subject in ("Grüße aus dem Büro, " * 12,
                        "x" * 1100,
                        "=?UTF-8?B?SGk=?=",
                        "release notes for the build that failed last night on the nightly branch, again and again",
                        "☃" * 100):
            with self.subTest(subject=subject[:30]):
                msg, raw = self.deliver(["-s", subject, "--from", "Zoë Ærø-Long-Display-Name-Of-Someone <zoe@example.com>",
                                         "--cc", ", ".join("r%d@example.com" % i for i in range(12)),
                                         "dev@example.com"], b"x\n")
                self.assertEqual(msg["Subject"], subject)
                head = raw.split(b"\r\n\r\n", 1)[0]
                self.assertLessEqual(max(len(line) for line in head.split(b"\r\n")), 78, head)
                self.assertEqual(len(msg["Cc"].addresses), 12)

    def test_a_non_ascii_domain_goes_as_its_a_label_in_envelope_and_headers(self):
        server = self.aio()
        r = self.run_smtpsend(["-s", "idn", "--from", "Jörg <joerg@bücher.test>", "--cc", "c@münchen.example",
                               "Anna <anna@bücher.test>"], stdin=b"x\n", **self.server_env(server))
        self.assertExit(r, 0)
        m = server.messages[0]
        self.assertEqual(m["mail_from"], "joerg@xn--bcher-kva.test")
        self.assertEqual(m["rcpt_tos"], ["anna@xn--bcher-kva.test", "c@xn--mnchen-3ya.example"])
        msg = email.message_from_bytes(m["content"], policy=email.policy.default)
        self.assertEqual(msg["From"].addresses[0].addr_spec, "joerg@xn--bcher-kva.test")
        self.assertEqual(msg["From"].addresses[0].display_name, "Jörg")
        self.assertEqual(msg["To"].addresses[0].addr_spec, "anna@xn--bcher-kva.test")
        self.assertEqual(msg["Cc"].addresses[0].addr_spec, "c@xn--mnchen-3ya.example")
        self.assertTrue(m["content"].isascii())

    def test_attach_dash_reads_the_attachment_from_stdin(self):
        data = "name,count\nÄpfel,3\n".encode()
        msg, _ = self.deliver(["-s", "report", "--body-file", self.file("body.txt", b"see attached\n"),
                               "--attach", "-;name=report.csv", "dev@example.com"], data)
        self.assertEqual(msg.get_body(preferencelist=("plain",)).get_content().strip(), "see attached")
        att = list(msg.iter_attachments())
        self.assertEqual(len(att), 1)
        self.assertEqual(att[0].get_filename(), "report.csv")
        self.assertEqual(att[0].get_content_type(), "text/csv")
        self.assertEqual(att[0].get_payload(decode=True), data)
        # Without a name: "stdin", application/octet-stream, and an empty body.
        msg, _ = self.deliver(["-s", "raw", "--attach", "-", "dev@example.com"], b"\x00\x01\xff")
        att = list(msg.iter_attachments())
        self.assertEqual((att[0].get_filename(), att[0].get_content_type()), ("stdin", "application/octet-stream"))
        self.assertEqual(att[0].get_payload(decode=True), b"\x00\x01\xff")
        self.assertEqual(msg.get_body(preferencelist=("plain",)).get_content(), "")
        r = self.run_smtpsend(["--dry-run", "--from", "a@example.com", "--attach", "-", "--attach", "-;name=b",
                               "dev@example.com"], stdin=b"x")
        self.assertExit(r, 64)
        self.assertIn("only one --attach -", r.stderr)

    def test_empty_body_is_allowed(self):
        msg, _ = self.deliver(["-s", "subject only", "dev@example.com"], b"")
        self.assertEqual(msg["Subject"], "subject only")
        self.assertEqual(msg.get_content().strip(), "")

    def test_unreadable_attachment_is_66_and_names_the_file(self):
        r = self.run_smtpsend(["--dry-run", "--from", "a@example.com", "--attach", "/nonexistent/x.pdf",
                               "dev@example.com"], stdin=b"x")
        self.assertExit(r, 66)
        self.assertIn("/nonexistent/x.pdf", r.stderr)

    def test_header_injection_is_refused(self):
        for args in (["-s", "a\nBcc: evil@example.com"], ["-H", "X-A: b\r\nBcc: evil@example.com"],
                     ["--cc", "x@example.com\nBcc: evil@example.com"]):
            r = self.run_smtpsend(["--dry-run", "--from", "a@example.com"] + args + ["dev@example.com"],
                                  stdin=b"x")
            self.assertExit(r, 65)

    def test_invalid_address_is_65_and_quoted(self):
        r = self.run_smtpsend(["--dry-run", "--from", "a@example.com", "not an address"], stdin=b"x")
        self.assertExit(r, 65)
        self.assertIn('"not an address"', r.stderr)


if __name__ == "__main__":
    unittest.main()
