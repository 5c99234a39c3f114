"""A real cron daemon (Debian's `cron -f`) mails the output of a root job
and of a non-root user's job through smtpsend as /usr/sbin/sendmail, with
system settings whose password file is root:mail 640 (docs/cron.md).

Nothing on the machine changes: the test runs in its own mount namespace
(`unshare --mount`) with overlays over /etc, /usr/sbin, /var/spool and a
tmpfs on /run; the user it adds exists only in that namespace's /etc. Its
writes land in the overlays' upper folders under a temporary folder, which
the test reads from outside (the incoming/ entry is gone afterwards).

Needs root, unshare, overlayfs and /usr/sbin/cron (tests/setup.sh installs
cron); skipped with the reason otherwise. Takes 60-130 s: cron starts jobs
on the minute."""

import email
import email.policy
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from smtptest import BIN, SmtpTestCase, why_no_mount_namespace

CRON = "/usr/sbin/cron"
PASSWORD = "relay-Pa55word"
WAIT = 200  # seconds: the next minute for the jobs, the one after for root's flush


def why_not():
    if not os.access(CRON, os.X_OK):
        return "needs Debian's cron (%s; tests/setup.sh installs it)" % CRON
    return why_no_mount_namespace()


SKIP = why_not()


def read(path):
    if not os.path.exists(path):
        return "(none)"
    with open(path) as f:
        return f.read()


@unittest.skipIf(SKIP, SKIP or "")
class RealCron(SmtpTestCase):
    def test_root_and_user_cron_mail_arrive_and_the_user_cannot_read_the_password(self):
        server = self.aio(users={"alice@example.com": PASSWORD})
        t = self.tmp
        # The user runs the binary and its job from here: every folder on the way must be searchable.
        os.chmod(self.class_tmp, 0o711)
        os.chmod(t, 0o755)
        for d in ("etc.u", "etc.w", "sbin.u", "sbin.w", "spool.u", "spool.w", "bin"):
            os.makedirs(os.path.join(t, d))
        # The binary where every user can run it (the build tree may not be).
        binary = os.path.join(t, "bin", "smtpsend")
        shutil.copy(BIN, binary)
        os.chmod(binary, 0o755)
        cafile = os.path.join(t, "ca.pem")
        shutil.copy(self.certs.cafile, cafile)
        os.chmod(cafile, 0o644)
        flush_log = os.path.join(t, "flush.log")
        config = ("server = smtp://127.0.0.1:%d\ncafile = %s\nuser = alice@example.com\n"
                  "password_file = /etc/smtpsend/password\nfrom = root@example.org\ndomain = example.org\n"
                  "retries = 0\ntimeout = 10\n" % (server.port, cafile))
        script = r"""
set -e
T=%(t)s
mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/etc.u,workdir=$T/etc.w /etc
mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir=$T/sbin.u,workdir=$T/sbin.w /usr/sbin
mount -t overlay overlay -o lowerdir=/var/spool,upperdir=$T/spool.u,workdir=$T/spool.w /var/spool
mount -t tmpfs tmpfs /run
# The system settings, as docs/cron.md sets them up: the password root:mail 640.
mkdir -p /etc/smtpsend
cat > /etc/smtpsend/config.ini <<'EOF'
%(config)s
EOF
chmod 644 /etc/smtpsend/config.ini
getent group mail >/dev/null || groupadd -r mail
printf '%%s\n' '%(password)s' > /etc/smtpsend/password
chown root:mail /etc/smtpsend/password
chmod 640 /etc/smtpsend/password
ln -sf $T/bin/smtpsend $T/bin/sendmail
# /usr/sbin/sendmail notes each call (for the failure report), then runs the link.
cat > /usr/sbin/sendmail <<EOF
#!/bin/sh
"$T/bin/sendmail" "\$@" 2>>$T/sendmail.log; rc=\$?
echo "\$(id -un): sendmail \$* -> \$rc" >> $T/sendmail.log
exit \$rc
EOF
chmod 755 /usr/sbin/sendmail
touch $T/sendmail.log; chmod 666 $T/sendmail.log
# A user of this namespace only.
id cronbob >/dev/null 2>&1 || useradd -M -d $T/home -s /bin/sh cronbob
mkdir -p $T/home && chown cronbob: $T/home
# Root's first flush makes incoming/ (the package's tmpfiles does the same).
$T/bin/smtpsend queue flush >$T/first-flush.log 2>&1 || true
# The jobs: each prints, so cron mails its output.
rm -f /etc/cron.d/* /var/spool/cron/crontabs/*
cat > /etc/crontab <<EOF
SHELL=/bin/sh
* * * * * root echo "root job ran"; id -un
* * * * * root $T/bin/smtpsend queue flush --bounce >>%(flush_log)s 2>&1
EOF
cat > /var/spool/cron/crontabs/cronbob <<EOF
* * * * * touch $T/home/bob-ran; echo "bob job ran"; id -un; cat /etc/smtpsend/password; echo "cat exit \$?"; ls -A /var/spool/smtpsend/incoming; echo "ls exit \$?"
EOF
chown cronbob:crontab /var/spool/cron/crontabs/cronbob
chmod 600 /var/spool/cron/crontabs/cronbob
exec %(cron)s -f -L 15
""" % dict(t=t, config=config, password=PASSWORD, flush_log=flush_log, cron=CRON)
        cron = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + WAIT
            wanted = {("root@example.org",), ("cronbob@example.org",)}
            # Root's job runs every minute: wait for both recipients, not for two messages.
            while time.time() < deadline and not wanted <= {tuple(m["rcpt_tos"]) for m in server.messages}:
                if cron.poll() is not None:
                    break
                time.sleep(1)
            got = {tuple(m["rcpt_tos"]): m for m in server.messages}
        finally:
            os.killpg(cron.pid, signal.SIGTERM)
            out = cron.communicate(timeout=20)[0].decode(errors="replace")
        context = "cron output:\n%s\nsendmail calls:\n%s\nbob's job ran: %s\nflush log:\n%s\nmessages: %r" % (
            out, read(os.path.join(t, "sendmail.log")), os.path.exists(os.path.join(t, "home", "bob-ran")), read(flush_log),
            [m["rcpt_tos"] for m in server.messages])
        self.assertIn(("root@example.org",), got, context)
        self.assertIn(("cronbob@example.org",), got, context)

        root = got[("root@example.org",)]
        self.assertEqual("root@example.org", root["mail_from"])
        self.assertEqual("alice@example.com", root["login"])
        root_msg = email.message_from_bytes(root["content"], policy=email.policy.compat32)
        self.assertEqual("root job ran\nroot\n", root_msg.get_payload().replace("\r\n", "\n"))

        bob = got[("cronbob@example.org",)]
        # The sender is the user, qualified with `domain`; the relay login is the system's.
        self.assertEqual("cronbob@example.org", bob["mail_from"])
        self.assertEqual("alice@example.com", bob["login"])
        self.assertTrue(bob["tls"])
        msg = email.message_from_bytes(bob["content"], policy=email.policy.compat32)
        # Debian cron writes "From: root (Cron Daemon)" for every user's job; it is qualified
        # as written (the envelope sender above is the user's, as with Postfix).
        self.assertEqual("Cron Daemon <root@example.org>", msg["From"])
        self.assertEqual("cronbob@example.org", msg["To"])
        body = msg.get_payload().replace("\r\n", "\n")
        self.assertTrue(body.startswith("bob job ran\ncronbob\n"), body)
        # The user could not read the password, nor list incoming/.
        self.assertNotIn(PASSWORD, body)
        self.assertIn("/etc/smtpsend/password: Permission denied", body)
        self.assertIn("cat exit 1", body)
        self.assertIn("ls exit 2", body)
        # The incoming/ entry was removed once it was queued; the flush delivered it.
        spool = os.path.join(t, "spool.u", "smtpsend")
        # (The job runs every minute: a later entry may be waiting for the next flush.)
        taken = re.findall(r"incoming/(\S+) from cronbob: queued as", read(flush_log))
        self.assertTrue(taken, context)
        for name in taken:
            self.assertNotIn(name, os.listdir(os.path.join(spool, "incoming")), context)
        self.assertEqual(0o1733, os.stat(os.path.join(spool, "incoming")).st_mode & 0o7777)
        self.assertEqual(0o711, os.stat(spool).st_mode & 0o7777)
        self.assertIn("delivered", read(flush_log))


if __name__ == "__main__":
    unittest.main()
