"""Helpers for the integration suites: certificates, a real aiosmtpd server
with STARTTLS/implicit TLS and AUTH, a scripted responder for exact failure
replies and faults, and a runner for the real smtpsend binary.

Everything listens on 127.0.0.1 only. Each suite starts its servers and
always stops them (tearDown), and on failure prints the transcript."""

import asyncio
import base64
import datetime
import json
import logging
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BIN = os.environ.get("SMTPSEND_BIN", os.path.join(os.path.dirname(__file__), "../../build/smtpsend"))
TESTDATA = os.environ.get("SMTPSEND_TESTDATA", os.path.join(os.path.dirname(__file__), "../data"))
LOOPBACK = "127.0.0.1"

# aiosmtpd 1.4 warns about its own deprecated attribute and about AUTH on
# implicit TLS, which it does not count as TLS; neither concerns the tests.
warnings.filterwarnings("ignore", message="Session.login_data")
# aiosmtpd logs expected failures (refused certificates, dropped sessions) as
# tracebacks; the tests assert on outcomes instead.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


def free_port():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --- Certificates -------------------------------------------------------------

class Certificates:
    """A private CA and server certificates made for this run: a good one for
    127.0.0.1 and localhost, one for the wrong name, one expired, and a
    self-signed one."""

    def __init__(self, directory):
        self.dir = directory
        now = datetime.datetime.now(datetime.timezone.utc)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtpsend test CA")])
        self.ca_cert = (x509.CertificateBuilder()
                        .subject_name(ca_name).issuer_name(ca_name)
                        .public_key(self.ca_key.public_key())
                        .serial_number(x509.random_serial_number())
                        .not_valid_before(now - datetime.timedelta(days=1))
                        .not_valid_after(now + datetime.timedelta(days=30))
                        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                        .sign(self.ca_key, hashes.SHA256()))
        self.cafile = self._write("ca.pem", self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.good = self._leaf("good", ["localhost"], ["127.0.0.1"], now - datetime.timedelta(days=1),
                               now + datetime.timedelta(days=30))
        self.wrong_name = self._leaf("wrongname", ["mail.example.net"], [],
                                     now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
        self.expired = self._leaf("expired", ["localhost"], ["127.0.0.1"],
                                  now - datetime.timedelta(days=30), now - datetime.timedelta(days=2))
        self.self_signed = self._leaf("selfsigned", ["localhost"], ["127.0.0.1"],
                                      now - datetime.timedelta(days=1), now + datetime.timedelta(days=30),
                                      self_signed=True)

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _leaf(self, name, dns_names, ips, not_before, not_after, self_signed=False):
        import ipaddress
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns_names or ips)[0])])
        sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(subject if self_signed else self.ca_cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.SubjectAlternativeName(sans), critical=False))
        cert = builder.sign(key if self_signed else self.ca_key, hashes.SHA256())
        cert_path = self._write(name + ".pem", cert.public_bytes(serialization.Encoding.PEM))
        key_path = self._write(name + ".key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return (cert_path, key_path)

    def server_context(self, which="good", require_client_cert=False, tls_max=None, ciphers=None):
        cert, key = getattr(self, which)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        if ciphers:  # OpenSSL's cipher list for TLS 1.2 (TLS 1.3's suites are not affected)
            ctx.set_ciphers(ciphers)
        if tls_max:  # "TLSv1_2": the newest version this server speaks
            ctx.maximum_version = getattr(ssl.TLSVersion, tls_max)
        if require_client_cert:
            # Only certificates made by this CA are accepted.
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.cafile)
        return ctx

    def client(self):
        """A client certificate made by this CA: (cert path, key path)."""
        if not hasattr(self, "_client"):
            now = datetime.datetime.now(datetime.timezone.utc)
            self._client = self._leaf("client", ["client.example.com"], [],
                                      now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
        return self._client


# --- A real server: aiosmtpd ----------------------------------------------------

class RecordingHandler:
    """Keeps every message that arrived; rejects chosen recipients; checks
    OAuth2 bearer tokens for XOAUTH2 and OAUTHBEARER (Gmail-style: a refused
    XOAUTH2 token gets a 334 challenge with a JSON error, then 535)."""

    def __init__(self, reject=None, tokens=None):
        self.messages = []
        self.reject = reject or {}  # address -> reply
        self.tokens = tokens or {}  # user -> valid token
        self.oauth_attempts = []

    def _check_bearer(self, user, token):
        self.oauth_attempts.append((user, token))
        return self.tokens.get(user) == token

    async def auth_XOAUTH2(self, server, args):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        fields = dict(f.split("=", 1) for f in blob.decode().split("\x01") if "=" in f)
        user, token = fields.get("user", ""), fields.get("auth", "").replace("Bearer ", "", 1)
        if self._check_bearer(user, token):
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        error = json.dumps({"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"})
        await server.challenge_auth(error)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")

    async def auth_OAUTHBEARER(self, server, args):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        parts = blob.decode().split("\x01")
        gs2 = parts[0].split(",")
        user = next((p[2:] for p in gs2 if p.startswith("a=")), "")
        token = next((p[len("auth=Bearer "):] for p in parts if p.startswith("auth=Bearer ")), "")
        if self._check_bearer(user, token):
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        return AuthResult(success=False, handled=False, message="535 5.7.8 Invalid token")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "content": envelope.original_content,
            "authenticated": bool(session.authenticated),
            "login": session.auth_data.login.decode() if session.auth_data else None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "peer": session.peer[0] if session.peer else None,
        })
        return "250 2.0.0 Ok: queued"


class AioServer:
    """aiosmtpd on 127.0.0.1 with STARTTLS (or implicit TLS) and AUTH."""

    def __init__(self, certs, implicit_tls=False, users=None, reject=None, cert="good", tokens=None,
                 port=None, size_limit=33554432, require_client_cert=False, tls_max=None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
        self.users = users if users is not None else {"alice@example.com": "s3cret"}
        self.handler = RecordingHandler(reject, tokens)
        self.auth_attempts = []
        self.port = port or free_port()

        def authenticator(server, session, envelope, mechanism, auth_data):
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            self.auth_attempts.append((mechanism, login, password))
            ok = self.users.get(login) == password
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        ctx = certs.server_context(cert, require_client_cert, tls_max)
        # aiosmtpd 1.4 does not count implicit TLS as TLS for auth_require_tls.
        kwargs = dict(hostname=LOOPBACK, port=self.port, authenticator=authenticator,
                      auth_require_tls=not implicit_tls, auth_required=bool(self.users),
                      data_size_limit=size_limit)
        if implicit_tls:
            kwargs["ssl_context"] = ctx
        else:
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = True
        self.controller = Controller(self.handler, ready_timeout=10, **kwargs)
        self.controller.start()
        wait_for_port(self.port)

    @property
    def messages(self):
        return self.handler.messages

    def stop(self):
        self.controller.stop()



def why_no_mount_namespace():
    """Why a test that builds an installed layout in a private mount
    namespace (root, unshare, a tmpfs mount) cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (a mount namespace)"
    if not shutil.which("unshare"):
        return "needs unshare (util-linux)"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "mount", "-t", "tmpfs",
                            "tmpfs", "/mnt"], capture_output=True)
    if probe.returncode != 0:
        return "cannot make a mount namespace: %s" % probe.stderr.decode(errors="replace").strip()
    return None


def lingering_close(conn):
    """Closes a socket whose TLS handshake failed as a careful server does:
    its alert was sent; the client's last handshake bytes are read and
    dropped first, so the close is a FIN, not a reset that could destroy the
    alert before the client read it (TLS 1.3 clients read it after their
    Finished)."""
    try:
        socket.socket.shutdown(conn, socket.SHUT_WR)
        conn.settimeout(1)
        while socket.socket.recv(conn, 4096):
            pass
    except OSError:
        pass

def wait_for_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server on port %d did not start" % port)


# --- A scripted responder ---------------------------------------------------------

DEFAULT_EHLO = ["250-responder.test", "250-PIPELINING", "250-SIZE 10240000", "250-8BITMIME",
                "250-STARTTLS", "250-AUTH PLAIN LOGIN", "250 ENHANCEDSTATUSCODES"]


class Responder:
    """A small SMTP server that answers from a script, for replies a real
    server will not give on demand. `script` maps a stage to a reply (a
    string, a list of lines, or an action):

      greeting, ehlo, ehlo_tls, starttls, auth, mail, rcpt, data, body, eod, quit

    `size_limit: N` refuses a MAIL FROM that declares SIZE= over N (552).
    `close_after: N` closes each connection after N messages (sending
    `close_with` first when given, e.g. an unsolicited 421).
    `rcpt_limit: N` takes N recipients per transaction and answers the rest
    with "452 4.5.3 Error: too many recipients".
    Actions: "CLOSE" (close the connection), "HANG" (never answer),
    "SLEEP:n" (wait n seconds, then the reply in `after`), raw bytes,
    "FLOOD:n" / "NOEOL:n" (an endless multi-line reply / line without a
    line break, as fast as it is read, for n seconds or 256 MB).
    `mail_nth: {N: reply}` answers the Nth MAIL on each connection with
    `reply` (a 421 then closes the connection).
    `rcpt` may be a dict address -> reply. It records every line received
    in `log`; `log_commands()` gives just the command verbs."""

    def __init__(self, certs=None, script=None, implicit_tls=False, cert="good", port=None,
                 rcvbuf=None, tls_max=None, require_client_cert=False, ciphers=None):
        self.script = dict(script or {})
        self.tls_options = (require_client_cert, tls_max, ciphers)
        self.certs = certs
        self.cert = cert
        self.implicit_tls = implicit_tls
        self.log = []
        self.messages = []
        self.connections = 0
        self.port = port or free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:  # a small receive window: a server that stops reading stops the upload soon
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((LOOPBACK, self.port))
        self.sock.listen(16)
        self.stopping = False
        self.sessions = 0  # connections whose dialogue is still running
        self.settled = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    def log_commands(self, settle=2.0):
        """The command verbs received. Waits (at most `settle` seconds) for the
        dialogues still running to end: a client that has exited may have
        sent its last command (QUIT) before this thread read it."""
        with self.settled:
            self.settled.wait_for(lambda: self.sessions == 0, timeout=settle)
        return [l.split(" ")[0].split(":")[0].upper() for l in self.log if not l.startswith("<")]

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with self.settled:
                self.sessions += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _send(self, conn, reply):
        """Sends a reply; returns False when the connection is to be closed."""
        if callable(reply):  # decided when it is due (e.g. held until another connection moves)
            reply = reply()
        if reply is None:
            return True
        if reply == "CLOSE":
            conn.close()
            return False
        if reply == "HANG":
            time.sleep(3600)
            return False
        if isinstance(reply, bytes):
            conn.sendall(reply)
            return True
        if isinstance(reply, str) and reply.startswith("SLEEP:"):
            time.sleep(float(reply.split(":", 1)[1]))
            return True
        if reply == "LONGLINE":  # a 10 MB reply line
            conn.sendall(b"250 " + b"x" * (10 << 20) + b"\r\n")
            return True
        if reply == "ENDLESS":  # a multi-line reply that never ends
            deadline = time.time() + 60
            while not self.stopping and time.time() < deadline:
                conn.sendall(b"250-more\r\n" * 100)
                time.sleep(0.01)
            return False
        if isinstance(reply, str) and reply.startswith(("FLOOD:", "NOEOL:")):
            # As fast as the client reads, for n seconds or 256 MB, then close:
            # FLOOD is an endless multi-line reply, NOEOL one endless line.
            deadline = time.time() + float(reply.split(":", 1)[1])
            chunk = b"250-more\r\n" * 6554 if reply.startswith("FLOOD") else b"x" * 65536
            sent = 0
            if reply.startswith("NOEOL"):
                conn.sendall(b"250 ")
            while not self.stopping and time.time() < deadline and sent < (256 << 20):
                conn.sendall(chunk)
                sent += len(chunk)
            return False
        if isinstance(reply, str) and reply.startswith("TRICKLE:"):  # one byte a second
            for ch in (reply[8:] + "\r\n").encode():
                conn.sendall(bytes([ch]))
                time.sleep(1)
            return True
        if isinstance(reply, list):
            if any(isinstance(l, bytes) or l in ("CLOSE", "HANG", "LONGLINE", "ENDLESS") or
                   l.startswith(("SLEEP:", "TRICKLE:", "FLOOD:", "NOEOL:")) for l in reply):
                return all(self._send(conn, l) for l in reply)
            conn.sendall(("".join(l + "\r\n" for l in reply)).encode())
            return True
        conn.sendall((reply + "\r\n").encode())
        return True

    def _readline(self, f):
        line = f.readline()
        if not line:
            return None
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def _session(self, conn):
        try:
            self._dialogue(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self.settled:
                self.sessions -= 1
                self.settled.notify_all()

    def _start_tls(self, conn):
        conn = self.certs.server_context(self.cert, *self.tls_options).wrap_socket(
            conn, server_side=True, do_handshake_on_connect=False)
        try:
            conn.do_handshake()
        except ssl.SSLError:
            lingering_close(conn)
            raise
        return conn

    def _dialogue(self, conn):
        s = self.script
        tls = False
        if self.implicit_tls:
            conn = self._start_tls(conn)
            tls = True
        if not self._send(conn, s.get("greeting", "220 responder.test ESMTP")):
            return
        f = conn.makefile("rb")
        in_auth = False
        on_this_connection = 0
        mails_on_connection = 0
        rcpts_in_transaction = 0
        while True:
            line = self._readline(f)
            if line is None:
                return
            upper = line.upper()
            if in_auth:
                self.log.append("<auth-data>")
                in_auth = False
                if not self._send(conn, s.get("auth", "235 2.7.0 Authentication successful")):
                    return
                continue
            self.log.append(line)
            if upper.startswith("EHLO") or upper.startswith("HELO"):
                default = DEFAULT_EHLO if not tls else [l for l in DEFAULT_EHLO if "STARTTLS" not in l]
                reply = s.get("ehlo_tls", s.get("ehlo", default)) if tls else s.get("ehlo", default)
                if not self._send(conn, reply):
                    return
            elif upper == "STARTTLS":
                reply = s.get("starttls", "220 2.0.0 Ready to start TLS")
                if not self._send(conn, reply):
                    return
                if isinstance(reply, str) and reply.startswith("220"):
                    f.close()
                    conn = self._start_tls(conn)
                    f = conn.makefile("rb")
                    tls = True
            elif upper.startswith("AUTH"):
                parts = line.split(" ")
                self.log[-1] = " ".join(parts[:2]) + (" <initial-response>" if len(parts) > 2 else "")
                if len(parts) > 2:
                    reply = s.get("auth", "235 2.7.0 Authentication successful")
                else:
                    reply = "334 "
                    in_auth = True
                if not self._send(conn, reply):
                    return
            elif upper.startswith("MAIL FROM"):
                rcpts_in_transaction = 0
                mails_on_connection += 1
                nth = s.get("mail_nth", {}).get(mails_on_connection)
                if nth:
                    self._send(conn, nth)
                    if nth.startswith("421"):
                        return
                    continue
                declared = [p[5:] for p in upper.split(" ") if p.startswith("SIZE=")]
                if s.get("size_limit") and declared and int(declared[0]) > s["size_limit"]:
                    reply = "552 5.3.4 Message size exceeds fixed maximum message size"
                else:
                    reply = s.get("mail", "250 2.1.0 Ok")
                if not self._send(conn, reply):
                    return
            elif upper.startswith("RCPT TO"):
                rcpts_in_transaction += 1
                reply = s.get("rcpt", "250 2.1.5 Ok")
                if s.get("rcpt_limit") and rcpts_in_transaction > s["rcpt_limit"]:
                    reply = "452 4.5.3 Error: too many recipients"
                if isinstance(reply, dict):
                    addr = line[line.find("<") + 1:line.rfind(">")]
                    reply = reply.get(addr, "250 2.1.5 Ok")
                if not self._send(conn, reply):
                    return
            elif upper == "DATA":
                reply = s.get("data", "354 End data with <CR><LF>.<CR><LF>")
                if not self._send(conn, reply):
                    return
                if not (isinstance(reply, str) and reply.startswith("354")):
                    continue
                body = []
                while True:
                    raw = f.readline()
                    if not raw:
                        return
                    if raw == b".\r\n":
                        break
                    body.append(raw)
                    if "body" in s and len(body) == 1:
                        if not self._send(conn, s["body"]):
                            return
                self.messages.append(b"".join(body))
                if not self._send(conn, s.get("eod", "250 2.0.0 Ok: queued as 1")):
                    return
                on_this_connection += 1
                if s.get("close_after") and on_this_connection >= s["close_after"]:
                    if s.get("close_with"):
                        self._send(conn, s["close_with"])
                    return
            elif upper == "QUIT":
                self._send(conn, s.get("quit", "221 2.0.0 Bye"))
                return
            elif upper == "RSET":
                self._send(conn, "250 2.0.0 Ok")
            elif upper == "NOOP":
                self._send(conn, "250 2.0.0 Ok")
            else:
                self._send(conn, "502 5.5.2 Command not recognized")


class ThrottleProxy:
    """A TCP proxy on 127.0.0.1 in front of a test server that passes the
    client's bytes at `rate` bytes a second (the server's replies pass at
    once): a slow uplink. Bounded: it only forwards to 127.0.0.1, stops
    accepting after `lifetime` seconds and drops a connection that has
    passed `max_bytes`. Small socket buffers on both sides keep the client's
    view close to the link's pace."""

    def __init__(self, target_port, rate, lifetime=120, max_bytes=64 << 20, chunk=8192):
        self.target_port = target_port
        self.rate = rate
        self.chunk = chunk
        self.max_bytes = max_bytes
        self.deadline = time.time() + lifetime
        self.connections = 0
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        self.sock.bind((LOOPBACK, self.port))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.stopping = False
        threading.Thread(target=self._serve, daemon=True).start()

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _serve(self):
        while not self.stopping and time.time() < self.deadline:
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection((LOOPBACK, self.target_port), timeout=10)
            client.settimeout(1)
            upstream.settimeout(1)
            threading.Thread(target=self._pump, args=(client, upstream, self.rate),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None),
                             daemon=True).start()

    def _pump(self, src, dst, rate):
        passed = 0
        started = time.time()
        try:
            while not self.stopping and time.time() < self.deadline + 60 and passed < self.max_bytes:
                try:
                    data = src.recv(self.chunk if rate else 65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                dst.sendall(data)
                passed += len(data)
                if rate:
                    ahead = passed / rate - (time.time() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# --- Running the binary -----------------------------------------------------------

class Result:
    def __init__(self, proc, elapsed):
        self.code = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.elapsed = elapsed

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return "exit %d after %.2fs\n--- stdout\n%s--- stderr\n%s" % (
            self.code, self.elapsed, self.stdout, self.stderr)


class SmtpTestCase(unittest.TestCase):
    """Gives each test a clean environment (no SMTPSEND_*, HOME in a temp
    folder), certificates, and servers that are always stopped."""

    @classmethod
    def setUpClass(cls):
        cls.class_tmp = tempfile.mkdtemp(prefix="smtpsend-test-")
        cls.certs = Certificates(cls.class_tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.class_tmp, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smtpsend-case-", dir=self.class_tmp)
        self.servers = []
        self.last = None

    def tearDown(self):
        for s in self.servers:
            s.stop()
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and any(err for _, err in getattr(outcome, "errors", []) if err)
        if outcome is not None and hasattr(outcome, "result"):
            failed = failed or bool(outcome.result.failures or outcome.result.errors)
        if failed and self.last is not None:
            print("\n=== last smtpsend run:\n%r" % self.last)
            for s in self.servers:
                print("=== server log (%s): %s" % (type(s).__name__, getattr(s, "log", "")))

    def aio(self, **kw):
        s = AioServer(self.certs, **kw)
        self.servers.append(s)
        return s

    def responder(self, script=None, **kw):
        s = Responder(self.certs, script, **kw)
        self.servers.append(s)
        return s

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPSEND_")}
        env["HOME"] = self.tmp
        env["XDG_CONFIG_HOME"] = os.path.join(self.tmp, ".config")
        env["TMPDIR"] = self.tmp
        # One attempt per run unless a test asks for retries: keeps timings and
        # server logs exact. The queue tests set their own.
        env["SMTPSEND_RETRIES"] = "0"
        env.update(extra)
        return env

    def run_smtpsend(self, args, stdin=b"", env=None, timeout=60, **extra_env):
        started = time.time()
        # SMTPSEND_TEST_WRAPPER runs the binary under a tool (valgrind in CI).
        wrapper = shlex.split(os.environ.get("SMTPSEND_TEST_WRAPPER", ""))
        if wrapper:
            timeout *= 10
        proc = subprocess.run(wrapper + [BIN] + list(args), input=stdin, capture_output=True,
                              env=env if env is not None else self.env(**extra_env), timeout=timeout)
        self.last = Result(proc, time.time() - started)
        return self.last

    def server_env(self, server, scheme="smtp", user="alice@example.com", password="s3cret", **extra):
        env = dict(SMTPSEND_SERVER="%s://127.0.0.1:%d" % (scheme, server.port),
                   SMTPSEND_CAFILE=self.certs.cafile,
                   SMTPSEND_FROM="sender@example.com")
        if user:
            env["SMTPSEND_USER"] = user
            env["SMTPSEND_PASSWORD"] = password
        env.update(extra)
        return env

    def assertExit(self, result, code):
        self.assertEqual(result.code, code, repr(result))
