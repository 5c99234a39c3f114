"""How smtpsend reaches the server: only the `proxy` setting routes mail,
never the environment's proxy variables."""

import os
import shutil
import subprocess
import tempfile
import unittest

from smtptest import SmtpTestCase, free_port, wait_for_port


class EnvironmentProxiesIgnored(SmtpTestCase):
    def dead_proxy(self, scheme):
        # A port nobody listens on: a connection through it is refused.
        return "%s://127.0.0.1:%d" % (scheme, free_port())

    def assert_direct(self, **proxy_env):
        server = self.aio()
        r = self.run_smtpsend(["-s", "hi", "dev@example.com"], stdin=b"body\n",
                              **self.server_env(server, **proxy_env))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(server.messages[0]["rcpt_tos"], ["dev@example.com"])

    def test_ALL_PROXY_is_ignored(self):
        self.assert_direct(ALL_PROXY=self.dead_proxy("socks5h"))

    def test_all_proxy_is_ignored(self):
        self.assert_direct(all_proxy=self.dead_proxy("http"))

    def test_http_proxy_and_smtp_proxy_are_ignored(self):
        self.assert_direct(http_proxy=self.dead_proxy("http"), smtp_proxy=self.dead_proxy("http"),
                           smtps_proxy=self.dead_proxy("http"))

    def test_check_ignores_ALL_PROXY(self):
        server = self.aio()
        r = self.run_smtpsend(["check"], **self.server_env(server, ALL_PROXY=self.dead_proxy("socks5h")))
        self.assertExit(r, 0)


DANTED = shutil.which("danted") or "/usr/sbin/danted"
TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
PROXY_USER, PROXY_PASSWORD = "pxuser", "px-s3cret"


class Daemon:
    """A proxy daemon on 127.0.0.1 with a config file in the test's folder."""

    def __init__(self, argv, port, log):
        self.port = port
        self.log_path = log
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(port)

    @property
    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ProxyCase(SmtpTestCase):
    def dante(self, login=False):
        port = free_port()
        folder = tempfile.mkdtemp(prefix="dante-", dir=self.tmp)
        conf = os.path.join(folder, "danted.conf")
        log = os.path.join(folder, "danted.log")
        with open(conf, "w") as f:
            f.write("logoutput: %s\ninternal: 127.0.0.1 port = %d\nexternal: 127.0.0.1\n"
                    "socksmethod: %s\nclientmethod: none\nuser.privileged: root\n"
                    "user.unprivileged: nobody\n"
                    "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n"
                    "socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 command: connect\n log: connect }\n"
                    "socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n"
                    % (log, port, "username" if login else "none"))
        argv = [DANTED, "-f", conf, "-p", os.path.join(folder, "pid"), "-N", "1"]
        if login:
            # dante's username method checks the system's password database:
            # the test's own passwd and shadow, in a private mount namespace.
            import crypt
            passwd, shadow = os.path.join(folder, "passwd"), os.path.join(folder, "shadow")
            shutil.copy("/etc/passwd", passwd)
            shutil.copy("/etc/shadow", shadow)
            with open(passwd, "a") as f:
                f.write("%s:x:64999:64999::/nonexistent:/usr/sbin/nologin\n" % PROXY_USER)
            with open(shadow, "a") as f:
                f.write("%s:%s:19000:0:99999:7:::\n"
                        % (PROXY_USER, crypt.crypt(PROXY_PASSWORD, crypt.mksalt(crypt.METHOD_SHA512))))
            argv = ["unshare", "-m", "sh", "-c",
                    'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && shift 2 && exec "$@"',
                    "sh", passwd, shadow] + argv
        d = Daemon(argv, port, log)
        self.servers.append(d)
        return d

    def tinyproxy(self, target_port, login=False):
        port = free_port()
        folder = tempfile.mkdtemp(prefix="tinyproxy-", dir=self.tmp)
        conf = os.path.join(folder, "tinyproxy.conf")
        log = os.path.join(folder, "tinyproxy.log")
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 60\nLogFile \"%s\"\nLogLevel Info\n"
                    "MaxClients 10\nAllow 127.0.0.1\nConnectPort %d\n" % (port, log, target_port))
            if login:
                f.write("BasicAuth %s %s\n" % (PROXY_USER, PROXY_PASSWORD))
        d = Daemon([TINYPROXY, "-d", "-c", conf], port, log)
        self.servers.append(d)
        return d

    def send(self, server, proxy, **extra):
        return self.run_smtpsend(["-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, SMTPSEND_PROXY=proxy, **extra))

    def assert_delivered(self, r, server):
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(server.messages[0]["rcpt_tos"], ["dev@example.com"])
        self.assertTrue(server.messages[0]["tls"])


@unittest.skipUnless(os.path.exists(DANTED), "danted missing (tests/setup.sh installs dante-server)")
class Socks5Proxy(ProxyCase):
    def test_socks5h_without_login(self):
        proxy = self.dante()
        server = self.aio()
        r = self.send(server, "socks5h://127.0.0.1:%d" % proxy.port)
        self.assert_delivered(r, server)
        self.assertIn("127.0.0.1.%d" % server.port, proxy.log)

    def test_socks5_without_login_ignores_ALL_PROXY(self):
        proxy = self.dante()
        server = self.aio()
        r = self.send(server, "socks5://127.0.0.1:%d" % proxy.port,
                      ALL_PROXY="http://127.0.0.1:%d" % free_port())
        self.assert_delivered(r, server)

    def test_socks5h_with_user_in_url_and_password_env(self):
        proxy = self.dante(login=True)
        server = self.aio()
        r = self.send(server, "socks5h://%s@127.0.0.1:%d" % (PROXY_USER, proxy.port),
                      SMTPSEND_PROXY_PASSWORD_ENV="PX_PW", PX_PW=PROXY_PASSWORD)
        self.assert_delivered(r, server)

    def test_socks5h_with_proxy_user_and_password_cmd(self):
        proxy = self.dante(login=True)
        server = self.aio()
        r = self.send(server, "socks5h://127.0.0.1:%d" % proxy.port, SMTPSEND_PROXY_USER=PROXY_USER,
                      SMTPSEND_PROXY_PASSWORD_CMD="echo %s" % PROXY_PASSWORD)
        self.assert_delivered(r, server)

    def test_wrong_proxy_password_blames_the_proxy(self):
        proxy = self.dante(login=True)
        server = self.aio()
        r = self.send(server, "socks5h://127.0.0.1:%d" % proxy.port, SMTPSEND_PROXY_USER=PROXY_USER,
                      SMTPSEND_PROXY_PASSWORD="wrong")
        self.assertExit(r, 77)
        self.assertIn("smtpsend: the proxy refused its login", r.stderr)
        self.assertIn("proxy_user", r.stderr)
        self.assertNotIn("wrong", r.stderr)
        self.assertEqual(server.messages, [])

    def test_proxy_that_cannot_reach_the_server_blames_the_proxy(self):
        proxy = self.dante()
        dead = free_port()
        r = self.run_smtpsend(["dev@example.com"], stdin=b"x\n",
                              SMTPSEND_SERVER="smtp://127.0.0.1:%d" % dead, SMTPSEND_FROM="s@example.com",
                              SMTPSEND_PROXY="socks5h://127.0.0.1:%d" % proxy.port)
        self.assertExit(r, 75)
        self.assertIn("smtpsend: the proxy did not connect to 127.0.0.1:%d" % dead, r.stderr)
        self.assertIn("hint: the proxy socks5h://127.0.0.1:%d (env SMTPSEND_PROXY)" % proxy.port, r.stderr)

    def test_check_shows_the_proxy_as_its_own_step(self):
        proxy = self.dante()
        server = self.aio()
        url = "socks5h://127.0.0.1:%d" % proxy.port
        j = self.run_smtpsend(["check", "--json"], **self.server_env(server, SMTPSEND_PROXY=url)).json()
        self.assertEqual(j["exit_code"], 0, j)
        self.assertEqual([s["name"] for s in j["steps"]],
                         ["settings", "proxy", "connect", "greeting", "ehlo", "tls", "ehlo", "auth"])
        self.assertEqual(j["steps"][1]["details"], url)
        self.assertIn("proxy %s (env SMTPSEND_PROXY)" % url, j["steps"][0]["details"])

    def test_check_fails_at_the_proxy_step_when_its_login_is_refused(self):
        proxy = self.dante(login=True)
        server = self.aio()
        r = self.run_smtpsend(["check", "--json"], **self.server_env(
            server, SMTPSEND_PROXY="socks5h://%s@127.0.0.1:%d" % (PROXY_USER, proxy.port),
            SMTPSEND_PROXY_PASSWORD="wrong"))
        self.assertExit(r, 77)
        last = r.json()["steps"][-1]
        self.assertEqual((last["name"], last["ok"]), ("proxy", False))
        self.assertEqual(last["details"], "socks5h://127.0.0.1:%d, login as %s" % (proxy.port, PROXY_USER))
        self.assertEqual(last["error"]["summary"], "the proxy refused its login")


class DeadProxy(ProxyCase):
    def test_refused_proxy_is_named(self):
        server = self.aio()
        port = free_port()
        r = self.send(server, "socks5h://127.0.0.1:%d" % port)
        self.assertExit(r, 75)
        self.assertIn("smtpsend: the connection to the proxy failed; nothing reached 127.0.0.1:%d"
                      % server.port, r.stderr)
        self.assertIn("hint: is the proxy running? check proxy = socks5h://127.0.0.1:%d (env SMTPSEND_PROXY)"
                      % port, r.stderr)
        self.assertEqual(server.messages, [])

    def test_password_in_proxy_url_is_refused_and_not_shown(self):
        server = self.aio()
        r = self.send(server, "socks5h://u:hunter2@127.0.0.1:1080")
        self.assertExit(r, 78)
        self.assertIn("proxy: the URL holds a password (not shown)", r.stderr)
        self.assertNotIn("hunter2", r.stderr)


@unittest.skipUnless(os.path.exists(TINYPROXY), "tinyproxy missing (tests/setup.sh installs it)")
class HttpConnectProxy(ProxyCase):
    def test_connect_tunnel_without_login(self):
        server = self.aio()
        proxy = self.tinyproxy(server.port)
        r = self.send(server, "http://127.0.0.1:%d" % proxy.port)
        self.assert_delivered(r, server)
        self.assertIn("CONNECT 127.0.0.1:%d" % server.port, proxy.log)

    def test_connect_tunnel_with_login_not_shown_in_verbose(self):
        server = self.aio()
        proxy = self.tinyproxy(server.port, login=True)
        r = self.run_smtpsend(["-v", "-s", "hi", "dev@example.com"], stdin=b"body\n",
                              **self.server_env(server, SMTPSEND_PROXY="http://%s@127.0.0.1:%d"
                                                % (PROXY_USER, proxy.port),
                                                SMTPSEND_PROXY_PASSWORD=PROXY_PASSWORD))
        self.assert_delivered(r, server)
        self.assertIn("proxy: CONNECT 127.0.0.1:%d HTTP/1.1" % server.port, r.stderr)
        self.assertNotIn("Proxy-Authorization", r.stderr)
        self.assertNotIn(PROXY_PASSWORD, r.stderr)

    def test_connect_without_login_is_407_and_blames_the_proxy(self):
        server = self.aio()
        proxy = self.tinyproxy(server.port, login=True)
        r = self.send(server, "http://127.0.0.1:%d" % proxy.port)
        self.assertExit(r, 77)
        self.assertIn("smtpsend: the proxy refused its login", r.stderr)
        self.assertEqual(server.messages, [])

    def test_port_not_allowed_is_tunnel_refused(self):
        server = self.aio()
        proxy = self.tinyproxy(server.port + 1 if server.port < 65535 else server.port - 1)
        r = self.send(server, "http://127.0.0.1:%d" % proxy.port)
        self.assertExit(r, 75)
        self.assertIn("smtpsend: the proxy did not connect to 127.0.0.1:%d" % server.port, r.stderr)
        self.assertEqual(server.messages, [])


class ClientCertificate(SmtpTestCase):
    def send(self, server, **extra):
        return self.run_smtpsend(["-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, scheme="smtps", **extra))

    def test_client_certificate_from_the_ca_is_accepted(self):
        server = self.aio(implicit_tls=True, require_client_cert=True)
        cert, key = self.certs.client()
        r = self.send(server, SMTPSEND_CLIENT_CERT=cert, SMTPSEND_CLIENT_KEY=key)
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)

    def test_unreadable_client_certificate_is_a_config_error(self):
        server = self.aio(implicit_tls=True, require_client_cert=True)
        missing = os.path.join(self.tmp, "missing.pem")
        r = self.send(server, SMTPSEND_CLIENT_CERT=missing)
        self.assertExit(r, 78)
        self.assertIn("smtpsend: the client certificate or its key cannot be loaded", r.stderr)
        self.assertIn("hint: check client_cert = %s" % missing, r.stderr)


class ClientCertificateRefused(SmtpTestCase):
    """A Python ssl server with CERT_REQUIRED (Responder): libcurl reports
    only a failed connection; the server's TLS alert gives the class."""

    def send(self, server, **extra):
        return self.run_smtpsend(["--json", "-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, scheme="smtps", **extra))

    def check_refused(self, r, server, hint):
        self.assertExit(r, 78)
        e = r.json()["error"]
        self.assertEqual(e["class"], "tls")
        self.assertEqual(e["stage"], "tls")
        self.assertEqual(e["summary"], "127.0.0.1:%d refused the TLS connection: it requires a client "
                                       "certificate it trusts" % server.port)
        self.assertTrue(any(hint in h for h in e["hints"]), e["hints"])
        self.assertEqual(server.messages, [])

    def test_no_client_certificate_tls13(self):
        server = self.responder(implicit_tls=True, require_client_cert=True)
        self.check_refused(self.send(server), server, "set client_cert and client_key (--client-cert, --client-key)")

    def test_certificate_of_another_ca_tls12(self):
        import tempfile
        from smtptest import Certificates
        other = Certificates(tempfile.mkdtemp(dir=self.tmp))
        cert, key = other.client()
        server = self.responder(implicit_tls=True, require_client_cert=True, tls_max="TLSv1_2")
        r = self.send(server, SMTPSEND_CLIENT_CERT=cert, SMTPSEND_CLIENT_KEY=key)
        self.check_refused(r, server, "client_cert = %s (env SMTPSEND_CLIENT_CERT) was not accepted" % cert)

    def test_certificate_of_another_ca_tls13(self):
        import tempfile
        from smtptest import Certificates
        other = Certificates(tempfile.mkdtemp(dir=self.tmp))
        cert, key = other.client()
        server = self.responder(implicit_tls=True, require_client_cert=True)
        r = self.send(server, SMTPSEND_CLIENT_CERT=cert, SMTPSEND_CLIENT_KEY=key)
        self.check_refused(r, server, "client_cert = %s (env SMTPSEND_CLIENT_CERT) was not accepted" % cert)


class ClientCertificateClosed(SmtpTestCase):
    """aiosmtpd (asyncio's TLS) drops the connection after a failed
    certificate check without sending the alert, as servers that close at
    once do (the alert, if any, is destroyed by the reset): with TLS 1.3 the
    client's handshake has already ended, so libcurl sees only a closed
    connection at its first read. The server had asked for a certificate:
    75 (it may be transient), with a hint naming client_cert."""

    def send(self, server, scheme="smtp", **extra):
        return self.run_smtpsend(["--json", "-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, scheme=scheme, **extra))

    def check_closed(self, r, server, stage, hint):
        self.assertExit(r, 75)
        e = r.json()["error"]
        self.assertEqual((e["class"], e["stage"], e["temporary"]), ("network", stage, True))
        self.assertEqual(e["summary"], "127.0.0.1:%d closed the connection right after the TLS handshake, "
                                       "in which it asked for a client certificate" % server.port)
        self.assertEqual(e["hints"][0], hint)
        self.assertEqual(server.messages, [])

    def test_none_over_starttls(self):
        server = self.aio(require_client_cert=True)
        self.check_closed(self.send(server), server, "ehlo",
                          "if the server requires a client certificate, set client_cert and client_key "
                          "(--client-cert, --client-key): PEM files of a certificate the server's CA issued")

    def test_none_over_implicit_tls(self):
        server = self.aio(implicit_tls=True, require_client_cert=True)
        self.check_closed(self.send(server, scheme="smtps"), server, "greeting",
                          "if the server requires a client certificate, set client_cert and client_key "
                          "(--client-cert, --client-key): PEM files of a certificate the server's CA issued")

    def test_certificate_of_another_ca_over_starttls(self):
        import tempfile
        from smtptest import Certificates
        cert, key = Certificates(tempfile.mkdtemp(dir=self.tmp)).client()
        server = self.aio(require_client_cert=True)
        r = self.send(server, SMTPSEND_CLIENT_CERT=cert, SMTPSEND_CLIENT_KEY=key)
        self.check_closed(r, server, "ehlo",
                          "the server may not accept client_cert = %s (env SMTPSEND_CLIENT_CERT): give "
                          "client_cert and client_key of a certificate the server's CA issued" % cert)

    def test_a_server_that_asks_for_none_and_closes_is_a_plain_close(self):
        server = self.responder({"ehlo_tls": "CLOSE"})
        r = self.send(server)
        self.assertExit(r, 75)
        self.assertEqual(r.json()["error"]["summary"], "the server closed the connection at stage ehlo")

    def test_the_right_certificate_over_starttls_is_accepted(self):
        server = self.aio(require_client_cert=True)
        cert, key = self.certs.client()
        r = self.send(server, SMTPSEND_CLIENT_CERT=cert, SMTPSEND_CLIENT_KEY=key)
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)


class HandshakeFailureAlert(SmtpTestCase):
    """TLS 1.2's generic alert "handshake failure" (OpenSSL: "sslv3 alert
    handshake failure"): no cipher in common, or a client certificate the
    server requires (TLS 1.2 has no alert of its own for that)."""

    # A TLS 1.2 server whose only cipher has no encryption: no client offers it.
    NO_SHARED_CIPHER = dict(tls_max="TLSv1_2", ciphers="ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0")

    def send(self, server, scheme):
        return self.run_smtpsend(["--json", "-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, scheme=scheme))

    def check_refused(self, r, server):
        self.assertExit(r, 78)
        e = r.json()["error"]
        self.assertEqual((e["class"], e["stage"], e["temporary"]), ("tls", "tls", False))
        self.assertEqual(e["summary"], "127.0.0.1:%d refused the TLS handshake (alert \"handshake failure\"): "
                                       "no TLS version or cipher in common, or it requires a client "
                                       "certificate" % server.port)
        self.assertEqual(e["hints"], [
            "check tls_min = 1.2 (default): the server may allow only other TLS versions or ciphers; "
            "smtpsend check shows the handshake",
            "if the server requires a client certificate, set client_cert and client_key "
            "(--client-cert, --client-key): PEM files of a certificate the server's CA issued"])
        self.assertEqual(server.messages, [])

    def test_no_shared_cipher_over_smtps(self):
        server = self.responder(implicit_tls=True, **self.NO_SHARED_CIPHER)
        self.check_refused(self.send(server, "smtps"), server)
        self.assertEqual(server.log, [])

    def test_no_shared_cipher_over_starttls(self):
        server = self.responder(**self.NO_SHARED_CIPHER)
        self.check_refused(self.send(server, "smtp"), server)
        self.assertEqual(server.log_commands(), ["EHLO", "STARTTLS"])

    def test_no_client_certificate_tls12(self):
        server = self.responder(implicit_tls=True, require_client_cert=True, tls_max="TLSv1_2")
        self.check_refused(self.send(server, "smtps"), server)


class TlsMinimum(SmtpTestCase):
    def send(self, server, *args, **extra):
        return self.run_smtpsend(list(args) + ["-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, scheme="smtps", **extra))

    def test_tls_min_13_against_a_server_with_only_tls_12_fails_naming_tls_min(self):
        # Python's ssl (blocking) answers with the protocol_version alert.
        server = self.responder(implicit_tls=True, tls_max="TLSv1_2")
        r = self.send(server, "--json", SMTPSEND_TLS_MIN="1.3")
        self.assertExit(r, 78)
        j = r.json()["error"]
        self.assertEqual((j["class"], j["stage"]), ("tls", "tls"))
        self.assertEqual(j["summary"], "127.0.0.1:%d does not speak TLS 1.3 or newer (tls_min = 1.3)" % server.port)
        self.assertIn("the server offers an older TLS version only: set tls_min = 1.2 "
                      "(tls_min = 1.3 from env SMTPSEND_TLS_MIN)", j["hints"])
        self.assertEqual(server.log, [])  # not one SMTP command

    def test_tls_min_13_against_a_tls_12_server_that_just_closes_names_tls_min(self):
        # aiosmtpd (asyncio) closes without the alert: a plain handshake failure.
        server = self.aio(implicit_tls=True, tls_max="TLSv1_2")
        r = self.send(server, SMTPSEND_TLS_MIN="1.3")
        self.assertExit(r, 78)
        self.assertIn("hint: if the server speaks only TLS 1.2, set tls_min = 1.2 "
                      "(tls_min = 1.3 from env SMTPSEND_TLS_MIN)", r.stderr)
        self.assertEqual(server.messages, [])

    def test_tls_min_12_sends_to_a_server_with_only_tls_12(self):
        server = self.aio(implicit_tls=True, tls_max="TLSv1_2")
        r = self.send(server, SMTPSEND_TLS_MIN="1.2")
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)

    def test_tls_min_13_sends_to_a_server_with_tls_13_over_starttls(self):
        server = self.aio()
        r = self.run_smtpsend(["--tls-min", "1.3", "-s", "hi", "dev@example.com"], stdin=b"body\n",
                              **self.server_env(server))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)

    def test_config_show_gives_tls_min_with_its_origin(self):
        r = self.run_smtpsend(["config", "show", "--json"])
        self.assertEqual(r.json()["settings"]["tls_min"]["value"], "1.2")
        r = self.run_smtpsend(["config", "show", "--json"], SMTPSEND_TLS_MIN="1.3")
        s = r.json()["settings"]["tls_min"]
        self.assertEqual((s["value"], s["origin"]), ("1.3", "env SMTPSEND_TLS_MIN"))

    def test_a_bad_tls_min_is_a_config_error_naming_the_key(self):
        r = self.run_smtpsend(["config", "show"], SMTPSEND_TLS_MIN="1.1")
        self.assertExit(r, 78)
        self.assertIn('SMTPSEND_TLS_MIN: tls_min = "1.1" is not one of 1.2, 1.3', r.stderr)
        r = self.run_smtpsend(["config", "show", "--tls-min", "1.0"])
        self.assertExit(r, 64)
        self.assertIn('tls_min = "1.0" is not one of 1.2, 1.3', r.stderr)


def key_pin(cert_path):
    """The certificate's public key as curl pins it: sha256//BASE64 of its SubjectPublicKeyInfo."""
    import base64
    import hashlib
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


OTHER_PIN = "sha256//" + "A" * 43 + "="


class PinnedPublicKey(SmtpTestCase):
    def send(self, server, *args, **extra):
        return self.run_smtpsend(list(args) + ["-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, scheme="smtps", **extra))

    def test_the_right_pin_alone_trusts_a_self_signed_server(self):
        server = self.aio(implicit_tls=True, cert="self_signed")
        pin = key_pin(self.certs.self_signed[0])
        r = self.send(server, SMTPSEND_CAFILE="", SMTPSEND_PINNED_PUBKEY=OTHER_PIN + ";" + pin)
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)

    def test_without_a_pin_the_self_signed_server_is_refused(self):
        server = self.aio(implicit_tls=True, cert="self_signed")
        r = self.send(server, "--json", SMTPSEND_CAFILE="")
        self.assertExit(r, 78)
        self.assertEqual(server.messages, [])

    def test_a_pin_beside_a_cafile_is_checked_on_top_of_the_ca(self):
        server = self.aio(implicit_tls=True, cert="self_signed")
        r = self.send(server, "--json", SMTPSEND_PINNED_PUBKEY=key_pin(self.certs.self_signed[0]))
        self.assertExit(r, 78)
        self.assertEqual(r.json()["error"]["summary"].split(" (")[0],
                         "the server's certificate is not signed by a trusted authority")
        good = self.aio(implicit_tls=True)
        r = self.send(good, SMTPSEND_PINNED_PUBKEY=key_pin(self.certs.good[0]))
        self.assertExit(r, 0)
        self.assertEqual(len(good.messages), 1)

    def test_a_wrong_pin_is_78_with_both_keys_and_nothing_sent(self):
        server = self.aio(implicit_tls=True)
        actual = key_pin(self.certs.good[0])
        r = self.send(server, "--json", SMTPSEND_PINNED_PUBKEY=OTHER_PIN)
        self.assertExit(r, 78)
        e = r.json()["error"]
        self.assertEqual((e["class"], e["stage"]), ("tls", "tls"))
        self.assertEqual(e["summary"], "the server's key is not one pinned_pubkey trusts: the server's is "
                         "%s, pinned_pubkey = %s (env SMTPSEND_PINNED_PUBKEY); nothing was sent"
                         % (actual, OTHER_PIN))
        self.assertIn("if the server's key changed on purpose, pin the new one: pinned_pubkey = %s; "
                      "otherwise the connection may be intercepted" % actual, e["hints"])
        self.assertEqual(server.messages, [])
        self.assertEqual(server.auth_attempts, [])

    def test_a_wrong_pin_over_starttls_sends_no_login(self):
        server = self.aio()
        r = self.run_smtpsend(["-s", "hi", "dev@example.com"], stdin=b"body\n",
                              **self.server_env(server, SMTPSEND_PINNED_PUBKEY=OTHER_PIN))
        self.assertExit(r, 78)
        self.assertIn("the server's is %s" % key_pin(self.certs.good[0]), r.stderr)
        self.assertEqual((server.messages, server.auth_attempts), ([], []))

    def test_check_prints_the_server_key_to_pin(self):
        server = self.aio(implicit_tls=True)
        r = self.run_smtpsend(["check"], **self.server_env(server, scheme="smtps"))
        self.assertExit(r, 0)
        tls = [l for l in r.stdout.splitlines() if "tls" in l and "verified" in l]
        self.assertEqual(len(tls), 1, r.stdout)
        self.assertIn("; key %s" % key_pin(self.certs.good[0]), tls[0])

    def test_check_with_a_wrong_pin_fails_its_tls_step_with_both_keys(self):
        server = self.aio(implicit_tls=True)
        r = self.run_smtpsend(["check"], **self.server_env(server, scheme="smtps",
                                                             SMTPSEND_PINNED_PUBKEY=OTHER_PIN))
        self.assertExit(r, 78)
        self.assertIn("the server's is %s, pinned_pubkey = %s" % (key_pin(self.certs.good[0]), OTHER_PIN),
                      r.stdout + r.stderr)

    def test_a_malformed_pin_is_a_config_error_naming_the_key(self):
        for bad in ("sha256//tooshort=", "md5//" + "A" * 43 + "=", OTHER_PIN + ";junk"):
            with self.subTest(pin=bad):
                r = self.run_smtpsend(["config", "show"], SMTPSEND_PINNED_PUBKEY=bad)
                self.assertExit(r, 78)
                self.assertIn('SMTPSEND_PINNED_PUBKEY: pinned_pubkey = "%s" is not sha256//BASE64' % bad,
                              r.stderr)
        r = self.run_smtpsend(["config", "show", "--pinned-pubkey", "sha256//x"])
        self.assertExit(r, 64)
        self.assertIn("pinned_pubkey", r.stderr)

    def test_config_show_gives_the_pin_with_its_origin(self):
        r = self.run_smtpsend(["config", "show", "--json", "--pinned-pubkey", OTHER_PIN])
        s = r.json()["settings"]["pinned_pubkey"]
        self.assertEqual((s["value"], s["origin"]), (OTHER_PIN, "flag --pinned-pubkey"))


def has_ipv6_loopback():
    import socket
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class SourceAddressAndIpVersion(SmtpTestCase):
    def send(self, server, *args, **extra):
        return self.run_smtpsend(list(args) + ["-s", "hi", "dev@example.com"], stdin=b"body\n",
                                 **self.server_env(server, **extra))

    def test_source_address_is_the_address_the_server_sees(self):
        server = self.aio()
        r = self.send(server, SMTPSEND_SOURCE_ADDRESS="127.0.0.2")
        self.assertExit(r, 0)
        self.assertEqual(server.messages[0]["peer"], "127.0.0.2")
        r = self.send(server, "--source-address", "127.0.0.3")
        self.assertExit(r, 0)
        self.assertEqual(server.messages[1]["peer"], "127.0.0.3")

    def test_an_address_not_of_this_machine_is_config_78_naming_source_address(self):
        server = self.aio()
        for bad in ("192.0.2.1", "if!nosuchif0"):
            with self.subTest(source=bad):
                r = self.send(server, "--json", SMTPSEND_SOURCE_ADDRESS=bad)
                self.assertExit(r, 78)
                e = r.json()["error"]
                self.assertEqual((e["class"], e["stage"]), ("config", "connect"))
                self.assertEqual(e["summary"], "cannot send from source_address %s (env SMTPSEND_SOURCE_ADDRESS): "
                                 "no such local address or interface" % bad)
                self.assertIn("unset source_address", e["hints"][0])
        self.assertEqual(server.messages, [])

    def test_ip_version_flags_and_config_show(self):
        s = self.run_smtpsend(["config", "show", "--json"]).json()["settings"]["ip_version"]
        self.assertEqual(s["value"], "any")
        s = self.run_smtpsend(["config", "show", "--json"], SMTPSEND_IP_VERSION="4").json()["settings"]["ip_version"]
        self.assertEqual((s["value"], s["origin"]), ("4", "env SMTPSEND_IP_VERSION"))
        r = self.run_smtpsend(["config", "show"], SMTPSEND_IP_VERSION="5")
        self.assertExit(r, 78)
        self.assertIn('ip_version = "5" is not one of any, 4, 6', r.stderr)

    @unittest.skipUnless(has_ipv6_loopback(), "no ::1 here")
    def test_ip_version_reaches_the_connection(self):
        server = self.aio()  # listens on 127.0.0.1 only
        url = "smtp://localhost:%d" % server.port
        r = self.send(server, "-6", SMTPSEND_SERVER=url)
        self.assertExit(r, 75)  # ::1 refuses: IPv4 was not tried
        self.assertEqual(server.messages, [])
        r = self.send(server, "-4", SMTPSEND_SERVER=url)
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)


if __name__ == "__main__":
    unittest.main()
