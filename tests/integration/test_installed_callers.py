"""Real callers through the installed sendmail link: mailx (s-nail) and mutt
with their built-in sendmail paths, PHP's mail() with its
built-in sendmail_path (/usr/sbin/sendmail -t -i) and git send-email with no
--smtp-server (it finds /usr/sbin/sendmail itself), against the package's
layout (/usr/bin/smtpsend, /usr/sbin/sendmail -> ../bin/smtpsend, as
packaging/debian/smtpsend-sendmail.links) and the system settings in
/etc/smtpsend/config.ini.

Nothing on the machine changes: overlays over /etc, /usr/bin and /usr/sbin in
a mount namespace (`unshare --mount`), as tests/integration/test_cron.py.
Needs root, unshare and overlayfs; each caller is skipped when it is not
installed (tests/setup.sh installs php-cli, git-email, s-nail, mutt)."""

import email
import email.policy
import os
import shutil
import subprocess
import unittest

from smtptest import BIN, SmtpTestCase, why_no_mount_namespace

PASSWORD = "relay-Pa55word"
HAVE_PHP = bool(shutil.which("php"))
HAVE_GIT_EMAIL = os.path.exists("/usr/lib/git-core/git-send-email")
HAVE_MAILX = bool(shutil.which("s-nail"))
HAVE_MUTT = bool(shutil.which("mutt"))


SKIP = why_no_mount_namespace()

PATCH = ("From 1234567890abcdef Mon Sep 17 00:00:00 2001\n"
         "From: Dev <dev@example.com>\nDate: Sat, 28 Nov 2026 01:00:00 +0000\n"
         "Subject: [PATCH] fix the frobnicator\n\nIt was broken.\n---\n"
         " a.txt | 2 +-\n\ndiff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n"
         "@@ -1 +1 @@\n-old\n+new\n-- \n2.39.5\n")


@unittest.skipIf(SKIP, SKIP or "")
class InstalledSendmail(SmtpTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.aio(users={"alice@example.com": PASSWORD})
        t = self.tmp
        for d in ("etc.u", "etc.w", "bin.u", "bin.w", "sbin.u", "sbin.w", "home", "queue"):
            os.makedirs(os.path.join(t, d))
        with open(os.path.join(t, "0001-fix.patch"), "w") as f:
            f.write(PATCH)

    def run_installed(self, commands, from_line="from = root@example.org\n"):
        """Runs shell `commands` as root in a namespace with the installed layout."""
        t = self.tmp
        config = ("server = smtp://127.0.0.1:%d\ncafile = %s\nuser = alice@example.com\n"
                  "password_file = /etc/smtpsend/password\n%sdomain = example.org\nqueue_dir = %s/queue\n"
                  "retries = 0\ntimeout = 10\n" % (self.server.port, self.certs.cafile, from_line, t))
        script = r"""
set -e
T=%(t)s
mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/etc.u,workdir=$T/etc.w /etc
mount -t overlay overlay -o lowerdir=/usr/bin,upperdir=$T/bin.u,workdir=$T/bin.w /usr/bin
mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir=$T/sbin.u,workdir=$T/sbin.w /usr/sbin
mkdir -p /etc/smtpsend
cat > /etc/smtpsend/config.ini <<'EOF'
%(config)s
EOF
printf '%%s\n' '%(password)s' > /etc/smtpsend/password
chmod 600 /etc/smtpsend/password
cp %(bin)s /usr/bin/smtpsend
rm -f /usr/sbin/sendmail
ln -s ../bin/smtpsend /usr/sbin/sendmail
cd $T
%(commands)s
""" % dict(t=t, config=config, password=PASSWORD, bin=BIN, commands=commands)
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": os.path.join(t, "home"), "LANG": "C.UTF-8"}
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
                              capture_output=True, text=True, env=env, timeout=60)

    def received(self):
        [m] = self.server.messages
        return m, email.message_from_bytes(m["content"], policy=email.policy.default)

    @unittest.skipUnless(HAVE_PHP, "php-cli is not installed (tests/setup.sh installs it)")
    def test_php_mail_with_its_built_in_sendmail_path(self):
        p = self.run_installed(
            "php -n -r 'exit(mail(\"lead@example.com\", \"PHP report\", \"line one\\nline two\\n\", "
            "\"From: PHP App <app@example.com>\") ? 0 : 1);'")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m, msg = self.received()
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertEqual(m["login"], "alice@example.com")
        self.assertEqual(msg["From"], "PHP App <app@example.com>")
        self.assertEqual(msg["Subject"], "PHP report")
        # (PHP ends the body with a line break of its own.)
        self.assertTrue(msg.get_content().replace("\r\n", "\n").startswith("line one\nline two\n"))

    @unittest.skipUnless(HAVE_GIT_EMAIL, "git-email is not installed (tests/setup.sh installs it)")
    def test_git_send_email_finds_usr_sbin_sendmail(self):
        p = self.run_installed(
            "GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev "
            "GIT_COMMITTER_EMAIL=dev@example.com git send-email --to=lead@example.com --from='Dev <dev@example.com>' "
            "--confirm=never --suppress-cc=all --no-validate 0001-fix.patch")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("Sendmail: /usr/sbin/sendmail", p.stdout)
        m, msg = self.received()
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertEqual(m["login"], "alice@example.com")
        self.assertEqual(msg["Subject"], "[PATCH] fix the frobnicator")
        self.assertIn("+new", msg.get_content())


    @unittest.skipUnless(HAVE_MAILX, "s-nail (mailx) is not installed (tests/setup.sh installs it)")
    def test_mailx_with_its_built_in_mta(self):
        p = self.run_installed("printf 'disk is full\\n' | s-nail -n -s 'mailx report' lead@example.com")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m, msg = self.received()
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertEqual(m["login"], "alice@example.com")
        self.assertEqual(m["mail_from"], "root@example.org")  # `from`: mailx writes no From: header
        self.assertEqual(msg["Subject"], "mailx report")
        self.assertIn("disk is full", msg.get_content())

    @unittest.skipUnless(HAVE_MAILX, "s-nail (mailx) is not installed (tests/setup.sh installs it)")
    def test_mailx_without_from_in_the_system_file_sends_as_login_at_domain(self):
        # As Postfix (login@myorigin): mailx gives neither a From: header nor -f.
        p = self.run_installed("printf 'disk is full\\n' | s-nail -n -s 'mailx report' lead@example.com",
                               from_line="")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m, msg = self.received()
        self.assertEqual(m["mail_from"], "root@example.org")
        self.assertEqual(msg["From"], "root@example.org")
        self.assertEqual(msg["Subject"], "mailx report")

    @unittest.skipUnless(HAVE_MUTT, "mutt is not installed (tests/setup.sh installs it)")
    def test_mutt_with_its_built_in_sendmail(self):
        p = self.run_installed("printf 'backup done\\n' | mutt -n -F /dev/null -s 'mutt report' lead@example.com")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m, msg = self.received()
        self.assertEqual(m["rcpt_tos"], ["lead@example.com"])
        self.assertEqual(m["login"], "alice@example.com")
        self.assertEqual(msg["Subject"], "mutt report")
        self.assertIn("backup done", msg.get_content())

if __name__ == "__main__":
    unittest.main()
