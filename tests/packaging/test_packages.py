"""The packages: the Debian packages build from a clean copy of the tree
(packaging/build-deb), hold every file where it belongs, run from a fresh
root, and lintian reports no error or warning; `cmake --install` and CPack
place everything under the prefix; the RPM spec parses.

Run by tests/run-all.sh (it takes a full build); by hand:
    SMTPSEND_BUILD=build /usr/bin/python3 tests/packaging/test_packages.py -v
"""

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import unittest

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.realpath(os.environ.get("SMTPSEND_BUILD", os.path.join(ROOT, "build")))

# Where each file belongs, in the package that holds it.
SMTPSEND_FILES = [
    "./usr/bin/smtpsend",
    "./usr/share/man/man1/smtpsend.1.gz",
    "./usr/share/man/man5/smtpsend.conf.5.gz",
    "./usr/share/bash-completion/completions/smtpsend",
    "./usr/share/zsh/vendor-completions/_smtpsend",
    "./usr/share/fish/vendor_completions.d/smtpsend.fish",
    "./usr/share/doc/smtpsend/copyright",
    "./usr/share/doc/smtpsend/examples/config.ini",
    "./usr/share/doc/smtpsend/providers.md",
    "./usr/share/doc/smtpsend/queue.md",
    "./lib/systemd/system/smtpsend-queue.service",
    "./lib/systemd/system/smtpsend-queue.timer",
    "./lib/systemd/system/smtpsend-queue.path",
    "./usr/lib/tmpfiles.d/smtpsend.conf",
]
SENDMAIL_LINKS = {
    "./usr/sbin/sendmail": "../bin/smtpsend",
    "./usr/lib/sendmail": "../bin/smtpsend",
    "./usr/bin/mailq": "smtpsend",
}


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kw).stdout


def contents(deb):
    """{path: link target or None} from dpkg -c."""
    out = {}
    for line in run(["dpkg", "-c", deb]).splitlines():
        fields = line.split(None, 5)
        name, _, target = fields[5].partition(" -> ")
        out[name] = target or None
    return out


class DebianPackages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.mkdtemp(prefix="smtpsend-deb-")
        build = subprocess.run([os.path.join(ROOT, "packaging", "build-deb"), cls.out],
                               capture_output=True, text=True, timeout=1800)
        if build.returncode != 0:
            raise AssertionError("packaging/build-deb failed:\n" + build.stdout + build.stderr)
        cls.main = os.path.join(cls.out, "smtpsend_0.1.0_amd64.deb")
        cls.sendmail = os.path.join(cls.out, "smtpsend-sendmail_0.1.0_all.deb")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_every_file_is_where_it_belongs(self):
        main = contents(self.main)
        for path in SMTPSEND_FILES:
            self.assertIn(path, main)
        links = contents(self.sendmail)
        for path, target in SENDMAIL_LINKS.items():
            self.assertEqual(links.get(path), target, path)
        self.assertNotIn("./usr/sbin/sendmail", main)

    def test_the_sendmail_package_is_an_mta_like_msmtp_mta(self):
        fields = run(["dpkg-deb", "-f", self.sendmail, "Provides", "Conflicts", "Replaces",
                      "Depends"])
        self.assertIn("Provides: mail-transport-agent", fields)
        self.assertIn("Conflicts: mail-transport-agent", fields)
        self.assertIn("Depends: smtpsend (>= 0.1.0)", fields)
        depends = run(["dpkg-deb", "-f", self.main, "Depends"])
        self.assertIn("libcurl4", depends)

    def test_the_path_unit_and_the_timer_are_enabled_the_service_is_not(self):
        # The timer is what retries other users' mail in root's queue (docs/queue.md, Units).
        control = tempfile.mkdtemp(prefix="smtpsend-control-")
        try:
            run(["dpkg-deb", "-e", self.main, control])
            with open(os.path.join(control, "postinst")) as f:
                postinst = f.read()
        finally:
            shutil.rmtree(control, ignore_errors=True)
        for unit in ("smtpsend-queue.path", "smtpsend-queue.timer"):
            self.assertIn("deb-systemd-helper enable '%s'" % unit, postinst)
        self.assertNotIn("deb-systemd-helper enable 'smtpsend-queue.service'", postinst)

    def test_it_runs_from_a_fresh_root(self):
        root = tempfile.mkdtemp(prefix="smtpsend-root-")
        try:
            for deb in (self.main, self.sendmail):
                run(["dpkg-deb", "-x", deb, root])
            version = run([os.path.join(root, "usr/bin/smtpsend"), "--version"])
            self.assertTrue(version.startswith("smtpsend 0.1.0\nlibcurl "))
            # Through the link, the sendmail command line: -bp lists the queue.
            queue = os.path.join(root, "queue")
            r = subprocess.run([os.path.join(root, "usr/sbin/sendmail"), "-bp"], capture_output=True,
                               text=True, env={"SMTPSEND_QUEUE_DIR": queue, "HOME": root,
                                               "PATH": "/usr/bin:/bin"})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("queue is empty", r.stdout.lower())
            page = run(["man", "-l", os.path.join(root, "usr/share/man/man5/smtpsend.conf.5.gz")],
                       env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin"})
            self.assertIn("smtpsend.conf - settings and profiles for smtpsend", page)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def test_the_unit_and_the_documents_link_only_files_the_package_ships(self):
        root = tempfile.mkdtemp(prefix="smtpsend-links-")
        try:
            run(["dpkg-deb", "-x", self.main, root])
            unit_dir = os.path.join(root, "lib/systemd/system")
            for unit in sorted(os.listdir(unit_dir)):
                with open(os.path.join(unit_dir, unit)) as f:
                    for line in f:
                        if line.startswith("Documentation="):
                            for url in line.split("=", 1)[1].split():
                                if url.startswith("file://"):
                                    self.assertTrue(os.path.isfile(root + url[len("file://"):]),
                                                    "%s links %s" % (unit, url))
            # The documents from docs/ (README.md is the source tree's front page, for the tree).
            doc = os.path.join(root, "usr/share/doc/smtpsend")
            for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
                if not name.endswith(".md"):
                    continue
                self.assertTrue(os.path.isfile(os.path.join(doc, name)), name + " is not shipped uncompressed")
                with open(os.path.join(doc, name), encoding="utf-8") as f:
                    text = f.read()
                for target in re.findall(r"\]\(([^)\s]+)\)", text):
                    if "://" in target or target.startswith(("#", "mailto:")):
                        continue
                    path = os.path.normpath(os.path.join(doc, target.split("#", 1)[0]))
                    self.assertTrue(os.path.exists(path), "%s links %s, not shipped" % (name, target))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def test_lintian_reports_no_error_or_warning(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian is not installed (tests/setup.sh installs it)")
        changes = os.path.join(self.out, "smtpsend_0.1.0_amd64.changes")
        r = subprocess.run(["lintian", "--allow-root", "--fail-on", "error,warning", "--display-info",
                            "--pedantic", changes], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # What it still reports (info and pedantic tags) is in packaging/README.md.
        tags = sorted(l for l in r.stdout.splitlines() if l[:2] in ("I:", "P:"))
        self.assertEqual(tags, ["I: smtpsend-sendmail: ldconfig-escape usr/bin/smtpsend [usr/lib/sendmail]",
                                "I: smtpsend: spelling-error-in-binary invalide invalid [usr/bin/smtpsend]"])


class CronExample(unittest.TestCase):
    """packaging/cron/smtpsend: quiet for 0 and 75, the report for any other code (cron mails
    what a job prints). Fast: no package is built."""

    def run_line(self, code):
        with open(os.path.join(ROOT, "packaging", "cron", "smtpsend")) as f:
            [line] = [l for l in f if l.strip() and not l.startswith("#")]
        command = line.split(None, 6)[6].strip()  # after minute hour day month weekday user
        self.assertNotIn("%", command)  # cron would turn it into a newline
        tmp = tempfile.mkdtemp(prefix="smtpsend-cron-")
        self.addCleanup(shutil.rmtree, tmp, True)
        stub = os.path.join(tmp, "smtpsend")
        with open(stub, "w") as f:
            f.write("#!/bin/sh\necho 'smtpsend: queue flush: 0 delivered, 0 kept, 1 failed' >&2\nexit %d\n" % code)
        os.chmod(stub, 0o755)
        return subprocess.run(["/bin/sh", "-c", command.replace("/usr/bin/smtpsend", stub)],
                              capture_output=True, text=True)

    def test_0_and_75_print_nothing(self):
        for code in (0, 75):
            with self.subTest(code=code):
                r = self.run_line(code)
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))

    def test_another_code_prints_the_report_for_cron_to_mail(self):
        r = self.run_line(67)
        self.assertEqual(r.stdout, "smtpsend: queue flush: 0 delivered, 0 kept, 1 failed\n")


class Units(unittest.TestCase):
    """The queue units (docs/queue.md, "Units"): a start limit on the service, so a path unit
    that starts it while incoming/ stays non-empty cannot spin; the folders in tmpfiles. Fast."""

    def read(self, name):
        with open(os.path.join(ROOT, "packaging", "systemd", name)) as f:
            return [l.strip() for l in f if l.strip() and not l.startswith("#")]

    def test_the_service_has_a_start_limit(self):
        lines = self.read("smtpsend-queue.service")
        unit = lines[:lines.index("[Service]")]
        self.assertIn("StartLimitIntervalSec=60s", unit)
        self.assertIn("StartLimitBurst=10", unit)

    def test_tmpfiles_makes_every_spool_folder(self):
        lines = self.read("smtpsend.tmpfiles")
        for line in ("d /var/spool/smtpsend/incoming 1733 root root -",
                     "d /var/spool/smtpsend/incoming.tmp 1733 root root -",
                     "d /var/spool/smtpsend/claimed 0700 root root -"):
            self.assertIn(line, lines)


class CmakeInstall(unittest.TestCase):
    def test_cmake_install_places_everything_under_the_prefix(self):
        dest = tempfile.mkdtemp(prefix="smtpsend-install-")
        try:
            run(["cmake", "--install", BUILD, "--prefix", "/opt/smtpsend"],
                env=dict(os.environ, DESTDIR=dest))
            files = sorted(os.path.relpath(os.path.join(d, f), dest)
                           for d, _, names in os.walk(dest) for f in names)
            self.assertTrue(all(f.startswith("opt/smtpsend/") for f in files), files)
            for f in ("bin/smtpsend", "share/man/man1/smtpsend.1", "share/man/man5/smtpsend.conf.5",
                      "share/bash-completion/completions/smtpsend",
                      "share/zsh/vendor-completions/_smtpsend",
                      "share/fish/vendor_completions.d/smtpsend.fish",
                      "share/doc/smtpsend/providers.md", "share/doc/smtpsend/examples/config.ini",
                      "lib/systemd/system/smtpsend-queue.timer"):
                self.assertIn("opt/smtpsend/" + f, files)
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def test_cpack_makes_a_deb_and_a_tarball(self):
        out = tempfile.mkdtemp(prefix="smtpsend-cpack-")
        try:
            run(["cpack", "-G", "DEB;TGZ", "-B", out], cwd=BUILD)
            tgz = os.path.join(out, "smtpsend-0.1.0-x86_64.tar.gz")
            with tarfile.open(tgz) as t:
                names = t.getnames()
            self.assertIn("smtpsend-0.1.0-x86_64/bin/smtpsend", names)
            self.assertIn("smtpsend-0.1.0-x86_64/share/man/man5/smtpsend.conf.5", names)
            deb = contents(os.path.join(out, "smtpsend_0.1.0_amd64.deb"))
            self.assertIn("./usr/bin/smtpsend", deb)
            self.assertIn("./usr/share/bash-completion/completions/smtpsend", deb)
        finally:
            shutil.rmtree(out, ignore_errors=True)


class RpmSpec(unittest.TestCase):
    def test_the_spec_parses_and_names_both_packages(self):
        if not shutil.which("rpmspec"):
            self.skipTest("rpmspec is not installed")
        names = run(["rpmspec", "-q", "--qf", "%{name}\\n",
                     os.path.join(ROOT, "packaging", "rpm", "smtpsend.spec")]).split()
        self.assertEqual(names, ["smtpsend", "smtpsend-sendmail"])


if __name__ == "__main__":
    unittest.main()
