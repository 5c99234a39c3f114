"""Root's flush takes other users' mail from QUEUE/incoming/ (docs/sendmail.md,
"Other users' mail"): a valid entry is sent from its owner, with root's
settings only; hostile entries are refused, each with its outcome, and
never stop the rest. Needs root (entries owned by another uid)."""

import os
import stat
import subprocess
import unittest

from smtptest import SmtpTestCase

NOBODY = 65534


def entry(uid, rcpts=("dest@example.net",), message=b"Subject: cron\r\n\r\nhello\r\n", extra=b""):
    head = b"smtpsend-incoming 1\nuid %d\nflags i\n" % uid
    head += b"".join(b"rcpt %s\n" % r.encode() for r in rcpts) + extra
    return head + b"size %d\n\n" % len(message) + message


@unittest.skipIf(os.geteuid() != 0, "needs root: entries owned by another uid")
class Incoming(SmtpTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.aio()
        self.queue = os.path.join(self.tmp, "queue")
        self.incoming = os.path.join(self.queue, "incoming")
        os.makedirs(self.incoming)
        os.chmod(self.queue, 0o700)
        os.chmod(self.incoming, 0o1733)

    def plant(self, name, data, uid=NOBODY, mode=0o600):
        path = os.path.join(self.incoming, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, uid, uid)
        os.chmod(path, mode)
        return path

    def flush(self, *extra):
        return self.run_smtpsend(["queue", "flush"] + list(extra), SMTPSEND_SERVER="smtp://127.0.0.1:%d" % self.server.port,
                                 SMTPSEND_CAFILE=self.certs.cafile, SMTPSEND_USER="alice@example.com",
                                 SMTPSEND_PASSWORD="s3cret", SMTPSEND_QUEUE_DIR=self.queue,
                                 SMTPSEND_DOMAIN="example.org", SMTPSEND_LOG="none")

    def test_a_valid_entry_is_sent_from_its_owner_and_removed(self):
        self.plant("0001-good", entry(NOBODY))
        r = self.flush()
        self.assertEqual(0, r.code, r)
        [m] = self.server.messages
        self.assertEqual("nobody@example.org", m["mail_from"])
        self.assertEqual(["dest@example.net"], m["rcpt_tos"])
        self.assertEqual("alice@example.com", m["login"])
        self.assertIn(b"hello", m["content"])
        self.assertEqual([], os.listdir(self.incoming))
        self.assertIn("incoming/0001-good from nobody: queued as", r.stderr)
        # The flush made the queue folder searchable for other users, and kept incoming/ 1733.
        self.assertEqual(0o711, stat.S_IMODE(os.stat(self.queue).st_mode))
        self.assertEqual(0o1733, stat.S_IMODE(os.stat(self.incoming).st_mode))

    def test_a_setting_line_is_refused_and_nothing_is_sent(self):
        self.plant("0001-evil", entry(NOBODY, extra=b"server smtp://127.0.0.1:1\n"))
        r = self.flush()
        self.assertEqual(74, r.code, r)
        self.assertEqual([], self.server.messages)
        self.assertIn("refused: damaged: an unknown or repeated line \"server smtp://127.0.0.1:1\"", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.queue, "failed", "incoming-0001-evil.bad")))

    def test_an_entry_others_could_write_is_refused(self):
        # Another user's group-writable file, renamed in from a shared folder: its owner is
        # not the only one who could have written it.
        self.plant("0001-shared", entry(NOBODY), mode=0o660)
        r = self.flush()
        self.assertEqual(74, r.code, r)
        self.assertEqual([], self.server.messages)
        self.assertIn("incoming/0001-shared: refused: mode 0660: others may have written it (an entry is 0600); "
                      "moved to", r.stderr)

    def test_a_name_with_control_characters_is_printed_escaped(self):
        # The user chooses the name: root's terminal and the flush log must not get its bytes.
        self.plant("0001-\x1b]0;owned\x07\nsmtpsend: all delivered", entry(NOBODY))
        r = self.flush()
        self.assertEqual(0, r.code, r)
        self.assertEqual(1, len(self.server.messages))
        self.assertNotIn("\x1b", r.stderr)
        self.assertIn("smtpsend: incoming/0001-\\x1b]0;owned\\x07\\x0asmtpsend: all delivered from nobody: "
                      "queued as", r.stderr)

    def test_hostile_entries_each_with_its_outcome_and_the_good_one_still_goes(self):
        secret = os.path.join(self.tmp, "secret")
        with open(secret, "wb") as f:
            f.write(entry(NOBODY, rcpts=("thief@example.net",), message=b"Subject: s\r\n\r\nTOPSECRET\r\n"))
        os.chown(secret, NOBODY, NOBODY)
        os.symlink(secret, os.path.join(self.incoming, "0001-symlink"))
        os.link(secret, os.path.join(self.incoming, "0002-hardlink"))
        os.mkfifo(os.path.join(self.incoming, "0003-fifo"))
        self.plant("0004-claims-root", entry(0))
        self.plant("0005-garbage", b"\x00\xff garbage\n")
        good = entry(NOBODY)
        self.plant("0006-truncated", good[:-4])
        self.plant("0007-root-owned", entry(0), uid=0)
        big = self.plant("0008-oversized", good)
        with open(big, "r+b") as f:
            f.truncate(32 * 1024 * 1024 + 1)
        self.plant("0009-good", good)
        r = self.flush()
        self.assertEqual(74, r.code, r)
        # Only the good one went; the link target was never read.
        self.assertEqual([["dest@example.net"]], [m["rcpt_tos"] for m in self.server.messages])
        self.assertNotIn(b"TOPSECRET", b"".join(m["content"] for m in self.server.messages))
        expected = [
            "incoming/0001-symlink: refused: a symbolic link (never followed); removed",
            "incoming/0002-hardlink: refused: 2 hard links (never read); removed",
            "incoming/0003-fifo: refused: a fifo, not a regular file; removed",
            "incoming/0004-claims-root: refused: owned by uid 65534 but it says uid 0; moved to",
            "incoming/0005-garbage: refused: damaged: not an entry",
            "incoming/0006-truncated: refused: damaged: the message is 20 bytes, the entry says 24: truncated",
            "incoming/0007-root-owned: refused: owned by root: root never submits through incoming/",
            "incoming/0008-oversized: refused: 33554433 bytes, more than the limit of 33554432 bytes",
        ]
        for line in expected:
            self.assertIn(line, r.stderr)
        self.assertEqual([], os.listdir(self.incoming))
        self.assertTrue(os.path.isfile(secret))
        self.assertEqual(1, os.stat(secret).st_nlink)
        failed = sorted(n for n in os.listdir(os.path.join(self.queue, "failed")) if n.endswith(".bad"))
        self.assertEqual(["incoming-0004-claims-root.bad", "incoming-0005-garbage.bad",
                          "incoming-0006-truncated.bad", "incoming-0007-root-owned.bad",
                          "incoming-0008-oversized.bad"], failed)

    def chattr(self, flag, path):
        r = subprocess.run(["chattr", flag, path], capture_output=True)
        if r.returncode != 0:
            self.skipTest("chattr %s not supported here: %s" % (flag, r.stderr.decode(errors="replace").strip()))
        if flag.startswith("+"):
            self.addCleanup(subprocess.run, ["chattr", "-" + flag[1:], path])

    def test_an_entry_that_cannot_leave_incoming_is_never_sent_twice(self):
        # Removal from incoming/ fails (an append-only folder): before, each flush queued and sent it again.
        self.plant("0001-good", entry(NOBODY))
        self.chattr("+a", self.incoming)
        self.flush()
        self.flush()
        self.assertEqual(0, len(self.server.messages))
        subprocess.run(["chattr", "-a", self.incoming], check=True)
        r = self.flush()
        self.assertEqual(0, r.code, r)
        self.assertEqual(1, len(self.server.messages))
        self.assertEqual([], os.listdir(self.incoming))

    def test_a_claim_that_cannot_be_removed_holds_its_entry_and_it_goes_once(self):
        self.plant("0001-good", entry(NOBODY))
        claimed = os.path.join(self.queue, "claimed")
        os.makedirs(claimed, mode=0o700, exist_ok=True)
        self.chattr("+a", claimed)
        r = self.flush()
        self.assertEqual(0, len(self.server.messages), r)
        self.assertEqual([], os.listdir(self.incoming))
        self.assertIn("held: its claim", r.stderr)
        self.flush()
        self.assertEqual(0, len(self.server.messages))
        subprocess.run(["chattr", "-a", claimed], check=True)
        r = self.flush()
        self.assertEqual(0, r.code, r)
        self.assertEqual(1, len(self.server.messages))
        self.assertEqual([], os.listdir(claimed))

    def test_a_queue_add_that_fails_leaves_incoming_empty_and_the_next_flush_sends_it_once(self):
        # Before, the entry stayed in incoming/: the path unit started the flush again and again.
        self.plant("0001-good", entry(NOBODY))
        self.flush()  # makes the queue's tmp/
        self.assertEqual(1, len(self.server.messages))
        self.plant("0002-good", entry(NOBODY))
        self.chattr("+i", os.path.join(self.queue, "tmp"))
        r = self.flush()
        self.assertNotEqual(0, r.code, r)
        self.assertEqual([], os.listdir(self.incoming))
        self.assertEqual(1, len(self.server.messages))
        subprocess.run(["chattr", "-i", os.path.join(self.queue, "tmp")], check=True)
        r = self.flush()
        self.assertEqual(0, r.code, r)
        self.assertEqual(2, len(self.server.messages))
        self.assertEqual([], os.listdir(os.path.join(self.queue, "claimed")))

    def test_a_hidden_name_in_incoming_is_dealt_with_and_the_folder_left_empty(self):
        # Before, a hidden name was "being written" and kept incoming/ non-empty for an hour.
        self.plant(".dotfile", b"junk")
        self.plant(".hidden-good", entry(NOBODY))
        r = self.flush()
        self.assertEqual(74, r.code, r)
        self.assertEqual(1, len(self.server.messages))
        self.assertEqual([], os.listdir(self.incoming))


if __name__ == "__main__":
    unittest.main()
