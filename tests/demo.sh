#!/usr/bin/env bash
# Quick start, part one: set up, build, start a local SMTP server (aiosmtpd on
# 127.0.0.1 with STARTTLS and AUTH, certificate made on the spot), send a real
# message through it with smtpsend, and print the message as it arrived.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
exec /usr/bin/python3 tests/integration/demo.py build/smtpsend
