"""The README's first command: a local aiosmtpd server with STARTTLS and
AUTH, one message sent through it by smtpsend, and the message as it
arrived. Everything stays on 127.0.0.1."""

import os
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from smtptest import AioServer, Certificates  # noqa: E402


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/smtpsend")
    with tempfile.TemporaryDirectory(prefix="smtpsend-demo-") as tmp:
        certs = Certificates(tmp)
        server = AioServer(certs, users={"demo@example.com": "demo password"})
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPSEND_")}
            settings = {
                "SMTPSEND_SERVER": "smtp://127.0.0.1:%d" % server.port,
                "SMTPSEND_CAFILE": certs.cafile,
                "SMTPSEND_USER": "demo@example.com",
                "SMTPSEND_PASSWORD": "demo password",
                "SMTPSEND_FROM": "CI Robot <robot@example.com>",
            }
            env.update(settings)
            args = [binary, "-s", "CI: main is green ✓", "--cc", "ops@example.com", "dev@example.com"]
            body = "Build 42 passed.\nThis message went through STARTTLS and AUTH PLAIN.\n"
            print("== local SMTP server: 127.0.0.1:%d (aiosmtpd, STARTTLS required, AUTH required)" % server.port)
            for k, v in settings.items():
                shown = "***" if k == "SMTPSEND_PASSWORD" else v
                print("   %s=%s" % (k, shlex.quote(shown)))
            print("== running: echo ... | %s" % " ".join(shlex.quote(a) for a in args[1:]).join(["smtpsend ", ""]))
            proc = subprocess.run(args + ["--json"], input=body.encode(), env=env, capture_output=True)
            sys.stderr.write(proc.stderr.decode())
            print("== smtpsend exited %d and reported:" % proc.returncode)
            print("   " + proc.stdout.decode().strip())
            if proc.returncode != 0 or not server.messages:
                print("== no message arrived", file=sys.stderr)
                return 1
            m = server.messages[0]
            print("== the server received (TLS: %s, login: %s, envelope %s -> %s):" % (
                m["tls"], m["login"], m["mail_from"], ", ".join(m["rcpt_tos"])))
            print(m["content"].decode("utf-8", "replace").replace("\r\n", "\n"))
            return 0
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
