#!/usr/bin/python3
"""Writes src/hot-text.ld: the functions one message runs, placed together
at the front of the binary's code (docs/performance.md, "Where one message's
pages go").

A page fault in the binary maps its neighbours too (the page-cache folio, or
the kernel's fault-around window), so code that one message runs, scattered
over all of the text, made all of it resident. This runs the usual one-message
cases under callgrind against a local aiosmtpd with STARTTLS and AUTH, maps
the instructions executed in the binary to its function symbols (nm) and
writes one input-section pattern per function, for the lean build's link
(-ffunction-sections, CMakeLists.txt). A function the list misses only costs
pages; rerun this after the send path changed much:

  tests/setup.sh
  cmake --build build --target smtpsend-unordered
  tests/bench/hot_text.py    # profiles build/smtpsend-unordered
  cmake --build build        # links smtpsend with the new list

It profiles smtpsend-unordered, the same binary linked without the list:
valgrind names no function outside the .text section, where the list puts
them.

Nothing here is part of the build or the tests."""

import argparse
import bisect
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import smtptest  # noqa: E402

MESSAGE = (b"From: bench@example.com\r\nTo: dev@example.com\r\nSubject: bench\r\n"
           b"Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\r\nhello\r\n")


def executed_addresses(profile, binary):
    """The instruction addresses callgrind counted in `binary` (--dump-instr=yes)."""
    names, current, addr, found = {}, None, 0, set()
    for line in open(profile):
        line = line.rstrip("\n")
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "ob":
                current = names.get(m.group(2))
            continue
        m = re.match(r"^(0x[0-9a-f]+|[+-]\d+|\*)(\s|$)", line)
        if not m:
            continue
        pos = m.group(1)
        if pos.startswith("0x"):
            addr = int(pos, 16)
        elif pos != "*":
            addr += int(pos)
        if current == binary:
            found.add(addr)
    return found


def functions(binary):
    out = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split(None, 3)
        if len(p) == 4 and p[2] in "tTwW":
            syms.append((int(p[0], 16), int(p[1], 16), p[3]))
    return sorted(syms)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "smtpsend-unordered"))
    ap.add_argument("--out", default=os.path.join(ROOT, "src", "hot-text.ld"))
    args = ap.parse_args()
    binary = os.path.realpath(args.binary)

    tmp = tempfile.mkdtemp(prefix="smtpsend-hot-")
    certs = smtptest.Certificates(tmp)
    server = smtptest.AioServer(certs, size_limit=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPSEND_")}
    env.update(SMTPSEND_SERVER="smtp://127.0.0.1:%d" % server.port, SMTPSEND_CAFILE=certs.cafile,
               SMTPSEND_USER="alice@example.com", SMTPSEND_PASSWORD="s3cret", SMTPSEND_FROM="bench@example.com",
               SMTPSEND_RETRIES="0", HOME=tmp)
    cases = [  # (arguments, standard input)
        (["-t"], MESSAGE),                                         # the benchmark's one message
        (["-s", "CI: main is red", "dev@example.com"], b"build failed\n"),  # a script's message
        (["sendmail", "-t", "-i"], MESSAGE),                       # as /usr/sbin/sendmail -t -i
        (["--dry-run", "-t"], MESSAGE),
    ]
    sendmail = os.path.join(tmp, "sendmail")  # the name that selects sendmail's arguments
    os.symlink(binary, sendmail)
    addrs = set()
    try:
        for i, (argv, stdin) in enumerate(cases):
            profile = os.path.join(tmp, "callgrind.%d" % i)
            program = [sendmail] + argv[1:] if argv[0] == "sendmail" else [binary] + argv
            r = subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes", "--callgrind-out-file=" + profile]
                               + program, input=stdin, env=env, capture_output=True)
            if r.returncode != 0:
                sys.exit("hot_text: %s failed (%d): %s" % (" ".join(argv), r.returncode, r.stderr.decode()[-500:]))
            found = executed_addresses(profile, binary) | executed_addresses(profile, program[0])
            if not found:
                sys.exit("hot_text: callgrind counted nothing in %s" % binary)
            addrs |= found
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    syms = functions(binary)
    starts = [s[0] for s in syms]
    aliases = {}  # a constructor's C1 and C2 share code, and their section has one of the names
    for start, _, name in syms:
        aliases.setdefault(start, []).append(name)
    ordered, seen = [], set()
    for a in sorted(addrs):
        i = bisect.bisect_right(starts, a) - 1
        if i < 0 or not syms[i][0] <= a < syms[i][0] + syms[i][1]:
            continue
        for full in aliases[syms[i][0]]:
            # A clone's suffix (.isra.0, .constprop.1, .lto_priv.0) is the
            # compiler's and may change: the pattern takes the name before it.
            name = full.split(".")[0]
            if name not in seen:
                seen.add(name)
                ordered.append(name)
    with open(args.out, "w") as f:
        f.write("/* Generated by tests/bench/hot_text.py: the %d functions one message runs\n"
                "   (smtpsend -t, -s, sendmail -t -i, --dry-run -t), first in the code, so the\n"
                "   pages it faults in hold little else. Used by the lean build's link. */\n" % len(ordered))
        f.write("SECTIONS\n{\n  .text.hot_path :\n  {\n")
        for name in ordered:
            f.write("    *(.text.%s .text.%s.*)\n" % (name, name))
        f.write("  }\n}\nINSERT BEFORE .text;\n\n")
        # Debian's libpugixml.a is one section; its static constructors run at
        # start: last in the code, beside .fini (run at exit), it shares
        # those pages instead of faulting in others in the middle.
        f.write("/* pugixml, one section, next to .fini: both are touched by every run. */\n"
                "SECTIONS\n{\n  .text.pugixml : { *libpugixml.a:*(.text .text.*) }\n}\nINSERT AFTER .text;\n")
    print("hot_text: %d functions of %d into %s" % (len(ordered), len(syms), os.path.relpath(args.out)))


if __name__ == "__main__":
    main()
