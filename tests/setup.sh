#!/usr/bin/env bash
# Sets up a Debian 12 machine for smtpsend: installs the missing Debian
# packages (when run as root) and builds into ./build.
# Usage: tests/setup.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake make pkg-config ca-certificates
          libcurl4-openssl-dev libssl-dev libcli11-dev nlohmann-json3-dev libpugixml-dev libidn2-dev catch2
          python3 python3-aiosmtpd python3-cryptography
          dante-server tinyproxy                    # the proxies in tests/integration/test_network.py
          git git-email libmailtools-perl php-cli   # real sendmail callers in tests
          clang libclang-rt-14-dev                  # the fuzz targets (tests/fuzz/run)
          valgrind
          groff-base mandoc                         # the man pages render without warnings
          bash-completion zsh fish                  # the completion scripts load and complete
          debhelper dpkg-dev fakeroot lintian)      # the Debian packages build (packaging/debian)
missing=()
# Node.js for the npm test peers (tests/node); a machine's own Node.js with its bundled npm will do.
command -v npm >/dev/null || missing+=(nodejs npm)
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "setup: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "setup: missing Debian packages: ${missing[*]}" >&2
        echo "hint: run as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

# The npm test peers (tests/node/package.json, exact versions in its lock file) go into
# tests/node/node_modules, never globally; reinstalled only when the lock file changes.
if ! cmp -s tests/node/package-lock.json tests/node/node_modules/.installed-lock.json; then
    echo "setup: installing the npm test peers into tests/node/node_modules"
    npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
    cp tests/node/package-lock.json tests/node/node_modules/.installed-lock.json
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j"$(nproc)"
