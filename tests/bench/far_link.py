"""The far-link case of tests/bench/run: the same real server (aiosmtpd,
STARTTLS + AUTH PLAIN) behind latency_proxy.py, which adds a delay in each
direction (25 ms: a 50 ms round trip). In one run, back to back:

  - the server alone (no proxy): batch at 8 connections and nodemailer at 5,
    to show the server is not what limits the far-link figures, and the
    memory run (batch, 8 connections, --memory-count messages);
  - through the proxy: smtpsend batch at 1, 4, 5 and 8 connections,
    nodemailer's pool at 1 and 5, batch 5 against nodemailer 5 again
    (--far-repeat runs in all, the median counts), an msmtp loop and a curl
    loop (one process per message), and one message: smtpsend -t against
    curl -T.

Prints the results as Markdown tables, with ratios and the targets of issue 21."""

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import smtptest  # noqa: E402

USER, PASSWORD, FROM = "alice@example.com", "s3cret", "bench@example.com"


def add_arguments(ap):
    g = ap.add_argument_group("far link (--case far)")
    g.add_argument("--quick", action="store_true", help="smaller far case (the loopback case keeps its sizes): 100 messages and a 1000-message memory run (a few minutes)")
    g.add_argument("--far-count", type=int, help="messages in each far-link run (default 1000; --quick: 100)")
    g.add_argument("--loop-count", type=int,
                   help="messages the msmtp and curl loops send (default: --far-count); their time is "
                        "scaled to --far-count, one process per message costs the same each time")
    g.add_argument("--far-repeat", type=int, default=3, help="runs of batch 5 and nodemailer 5 (median; default 3)")
    g.add_argument("--one-repeat", type=int, default=7, help="runs of one message, smtpsend -t and curl -T")
    g.add_argument("--memory-count", type=int, help="messages in the memory run (default 10000; --quick: 1000)")
    g.add_argument("--delay-ms", type=float, default=25.0, help="delay each way (default 25: 50 ms round trip)")


def server_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)  # the server is a thread of this process
    return r.ru_utime + r.ru_stime


def start_proxy(upstream_port, delay_ms):
    proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "latency_proxy.py"), "--upstream",
                              "127.0.0.1:%d" % upstream_port, "--delay-ms", str(delay_ms)],
                             stdout=subprocess.PIPE, text=True)
    return proxy, int(proxy.stdout.readline())


def round_trip_ms(port, samples=5):
    """The time of a NOOP and its reply through the proxy: the round trip the
    benchmark really has (delay both ways plus the server's reply time)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        f.readline()
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            s.sendall(b"NOOP\r\n")
            f.readline()
            times.append(time.perf_counter() - t)
        s.sendall(b"QUIT\r\n")
        f.readline()
    return statistics.median(times) * 1000


def far(args, binary, run):
    n = args.far_count or (100 if args.quick else 1000)
    loop_n = min(args.loop_count or n, n)
    memory_n = args.memory_count or (1000 if args.quick else 10000)
    tmp = tempfile.mkdtemp(prefix="smtpsend-bench-far-")
    certs = smtptest.Certificates(tmp)
    server = smtptest.AioServer(certs, size_limit=None)
    proxy, proxy_port = start_proxy(server.port, args.delay_ms)
    try:
        return _far(args, binary, run, n, loop_n, memory_n, tmp, certs, server, proxy_port)
    finally:
        proxy.terminate()
        proxy.wait()
        server.stop()


def _far(args, binary, run, n, loop_n, memory_n, tmp, certs, server, proxy_port):
    load_before = os.getloadavg()
    node = "node"

    def batch_file(count):
        path = os.path.join(tmp, "batch-%d.jsonl" % count)
        with open(path, "w") as f:
            for i in range(count):
                f.write('{"to": "dev%d@example.com", "subject": "bench %d", "body": "hello"}\n' % (i, i))
        return path

    batch_n, batch_mem = batch_file(n), batch_file(memory_n)

    def env_for(port, connections=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPSEND_")}
        env.update(SMTPSEND_SERVER="smtp://127.0.0.1:%d" % port, SMTPSEND_CAFILE=certs.cafile,
                   SMTPSEND_USER=USER, SMTPSEND_PASSWORD=PASSWORD, SMTPSEND_FROM=FROM,
                   SMTPSEND_RETRIES="0", HOME=tmp)
        if connections:
            env["SMTPSEND_CONNECTIONS"] = str(connections)
        return env

    def checked(name, expect, measure):
        before = len(server.messages)
        cpu = server_cpu()
        m = measure()
        m.server_cpu = server_cpu() - cpu
        got = len(server.messages) - before
        if m.code != 0 or got != expect:
            sys.exit("bench: %s: exit %d, the server got %d of %d messages" % (name, m.code, got, expect))
        print("  %-36s %8.2f s  %6.1f MiB" % (name, m.wall, m.rss), flush=True)
        return m

    def batch(port, connections, path=batch_n, count=n):
        return checked("smtpsend batch --connections %d" % connections, count,
                       lambda: run([binary, "batch", "--connections", str(connections), path], None,
                                   env_for(port)))

    def nodemailer(port, connections):
        return checked("nodemailer pool maxConnections %d" % connections, n,
                       lambda: run([node, os.path.join(HERE, "nodemailer_pool.js"), str(port), USER, PASSWORD,
                                    certs.cafile, batch_n, str(connections)]))

    small = os.path.join(tmp, "small.eml")
    with open(small, "wb") as f:
        f.write(b"From: bench@example.com\r\nTo: dev@example.com\r\nSubject: bench\r\n"
                b"Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\r\nhello\r\n")
    curl = ["curl", "-s", "--url", "smtp://127.0.0.1:%d" % proxy_port, "--ssl-reqd", "--cacert", certs.cafile,
            "--user", "%s:%s" % (USER, PASSWORD), "--mail-from", FROM, "--mail-rcpt", "dev@example.com", "-T", small]
    msmtprc = os.path.join(tmp, "msmtprc")
    with open(msmtprc, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\ntls on\ntls_starttls on\ntls_trust_file %s\n"
                "auth plain\nuser %s\npassword %s\nfrom %s\n" % (proxy_port, certs.cafile, USER, PASSWORD, FROM))
    os.chmod(msmtprc, 0o600)
    msmtp = ["msmtp", "-C", msmtprc, "dev@example.com"]
    ours_one = [binary, "-t"]

    def loop(name, argv, stdin_path=None, env=None):
        def measure():
            t = time.perf_counter()
            rss = 0
            for _ in range(loop_n):
                r = run(argv, stdin_path, env)
                if r.code != 0:
                    return r
                rss = max(rss, r.rss)
            r.wall, r.rss = time.perf_counter() - t, rss
            return r
        m = checked("%s loop (%d)" % (name, loop_n), loop_n, measure)
        m.scaled = m.wall * n / loop_n
        return m

    print("far link: %d messages, %.0f ms each way" % (n, args.delay_ms), flush=True)
    rtt = round_trip_ms(proxy_port)
    print("  measured round trip (NOOP through the proxy): %.1f ms" % rtt, flush=True)

    # The server alone, no proxy: is it fast enough not to be what we measure?
    alone_batch8 = batch(server.port, 8)
    alone_node5 = nodemailer(server.port, 5)
    memory = batch(server.port, 8, batch_mem, memory_n)

    # Through the proxy, back to back.
    far_batch = {c: [batch(proxy_port, c)] for c in (1, 4, 5, 8)}
    far_node = {c: [nodemailer(proxy_port, c)] for c in (1, 5)}
    for _ in range(args.far_repeat - 1):
        far_batch[5].append(batch(proxy_port, 5))
        far_node[5].append(nodemailer(proxy_port, 5))
    msmtp_loop = loop("msmtp", msmtp, small)
    curl_loop = loop("curl", curl)
    one = {"smtpsend": [], "curl": []}
    for _ in range(args.one_repeat):
        one["curl"].append(checked("one message: curl -T", 1, lambda: run(curl)))
        one["smtpsend"].append(checked("one message: smtpsend -t", 1, lambda: run(ours_one, small,
                                                                                  env_for(proxy_port))))
    load_after = os.getloadavg()

    med = lambda ms, attr="wall": statistics.median(getattr(m, attr) for m in ms)  # noqa: E731
    b = {c: med(ms) for c, ms in far_batch.items()}
    nm = {c: med(ms) for c, ms in far_node.items()}
    msmtp_s, curl_s = msmtp_loop.scaled, curl_loop.scaled

    version = ", ".join(subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.splitlines()[:3])
    print()
    print("machine: %s, %d cores; %s; load average %.2f before, %.2f after (1 min)"
          % (os.uname().machine, os.cpu_count(), version, load_before[0], load_after[0]))
    print("server: aiosmtpd (Python) on 127.0.0.1, STARTTLS + AUTH PLAIN, behind latency_proxy.py "
          "(%.0f ms each way; measured round trip %.1f ms)" % (args.delay_ms, rtt))
    print()
    print("Server alone (no proxy), %d messages:" % n)
    print()
    print("| sender | seconds | msg/s | server CPU s |")
    print("|---|---:|---:|---:|")
    for name, m in (("smtpsend batch, 8 connections", alone_batch8), ("nodemailer pool, 5 connections", alone_node5)):
        print("| %s | %.2f | %.0f | %.2f |" % (name, m.wall, n / m.wall, m.server_cpu))
    print()
    print("Far link, %d messages (median of %d runs where marked):" % (n, args.far_repeat))
    print()
    print("| sender | seconds | msg/s | peak RSS MiB | vs batch 5 |")
    print("|---|---:|---:|---:|---:|")
    rows = [("smtpsend batch, 1 connection", b[1], far_batch[1]),
            ("smtpsend batch, 4 connections", b[4], far_batch[4]),
            ("smtpsend batch, 5 connections%s" % (" (median)" if args.far_repeat > 1 else ""), b[5], far_batch[5]),
            ("smtpsend batch, 8 connections", b[8], far_batch[8]),
            ("nodemailer pool, 1 connection", nm[1], far_node[1]),
            ("nodemailer pool, 5 connections%s" % (" (median)" if args.far_repeat > 1 else ""), nm[5], far_node[5])]
    for name, s, ms in rows:
        print("| %s | %.2f | %.1f | %.1f | %.2f× |" % (name, s, n / s, med(ms, "rss"), s / b[5]))
    scaled = "" if loop_n == n else " (%d sent, time × %g)" % (loop_n, n / loop_n)
    for name, m, s in (("msmtp, one process per message", msmtp_loop, msmtp_s),
                       ("curl, one process per message", curl_loop, curl_s)):
        print("| %s%s | %.1f | %.1f | %.1f | %.2f× |" % (name, scaled, s, n / s, m.rss, s / b[5]))
    if args.far_repeat > 1:
        print()
        print("batch 5 runs: %s s; nodemailer 5 runs: %s s" % (", ".join("%.2f" % m.wall for m in far_batch[5]),
                                                              ", ".join("%.2f" % m.wall for m in far_node[5])))
    o_wall, c_wall = med(one["smtpsend"]), med(one["curl"])
    o_rss, c_rss = med(one["smtpsend"], "rss"), med(one["curl"], "rss")
    print()
    print("| target (issue 21) | figure | verdict |")
    print("|---|---|---|")
    verdict = lambda ok: "met" if ok else "missed"  # noqa: E731
    print("| batch 5 ≤ 1.0× nodemailer pool 5 | %.2f s against %.2f s: %.2f× | %s |"
          % (b[5], nm[5], b[5] / nm[5], verdict(b[5] <= nm[5])))
    print("| batch 5 ≥ 8× faster than the msmtp loop | %.2f s against %.1f s: %.1f× | %s |"
          % (b[5], msmtp_s, msmtp_s / b[5], verdict(msmtp_s / b[5] >= 8)))
    print("| 8 connections ≥ 6× one | %.2f s against %.2f s: %.2f× | %s |"
          % (b[8], b[1], b[1] / b[8], verdict(b[1] / b[8] >= 6)))
    print("| %d messages, 8 connections: peak RSS < 32 MiB | %.1f MiB (%d messages through the proxy: %.1f MiB) | %s |"
          % (memory_n, memory.rss, n, med(far_batch[8], "rss"), verdict(memory.rss < 32)))
    print("| one message: wall ≤ 1.1× curl -T | %.0f ms against %.0f ms: %.2f× | %s |"
          % (o_wall * 1000, c_wall * 1000, o_wall / c_wall, verdict(o_wall / c_wall <= 1.1)))
    print("| one message: peak RSS ≤ 1.1× curl -T | %.1f MiB against %.1f MiB: %.2f× | %s |"
          % (o_rss, c_rss, o_rss / c_rss, verdict(o_rss / c_rss <= 1.1)))
    print()
    print("memory run: %d messages, 8 connections, straight to the server (%.1f s)" % (memory_n, memory.wall))
