#!/usr/bin/python3
"""Runs `smtpsend explain --json` over rows of tests/data/*.jsonl and prints the share
with an acceptable exit code, with a hint, and with every hint word of the row.

  SMTPSEND_BIN=build/smtpsend tests/data/measure_explain.py [--no-stage] FILE...

Reply rows are explained with their --stage unless --no-stage (text only, as pasted);
tool rows (`text`) never get one."""
import json, os, subprocess, sys

BIN = os.environ.get("SMTPSEND_BIN", "build/smtpsend")
no_stage = "--no-stage" in sys.argv
total = exit_ok = hinted = worded = 0
for name in [a for a in sys.argv[1:] if not a.startswith("--")]:
    for line in open(name, encoding="utf-8"):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row.get("reply") or row["text"]
        stage = [] if no_stage or "text" in row else ["--stage", row["stage"]]
        out = json.loads(subprocess.run([BIN, "explain", "--json"] + stage + ["--", text],
                                        capture_output=True, text=True).stdout)
        hints = " ".join(out.get("hints", []))
        total += 1
        exit_ok += out.get("exit_code") in row.get("accept", [row.get("sysexit")])
        hinted += bool(hints)
        worded += all(w in hints for w in row.get("hint", []))
        if out.get("exit_code") not in row.get("accept", [row.get("sysexit")]) or not hints:
            print("miss:", row["id"], out.get("exit_code"), out.get("class"))
print("rows %d: acceptable exit code %.1f%%, hint %.1f%%, hint words %.1f%%"
      % (total, 100.0 * exit_ok / total, 100.0 * hinted / total, 100.0 * worded / total))
