#!/usr/bin/env bash
# Creates .venv with the locked dependencies, installing the Debian libraries the build needs first.
# Idempotent: a stamp keyed on the lock file's and pyproject.toml's hashes makes a second run a no-op.
#   scripts/bootstrap.sh            runtime + development packages
#   scripts/bootstrap.sh --system-test-deps   also the Debian packages the test suite uses (PostgreSQL, Redis, Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
LOCK=requirements/lock.txt
BUILD_DEBS=(libfreetype-dev libqhull-dev pkg-config)   # matplotlib 3.5 builds from source on 3.11
TEST_DEBS=(postgresql redis-server chromium)
NODE_DEBS=(nodejs npm)                                 # only when the machine has no node/npm of its own
JS_TEST_CLIENTS=tests/js                               # npm clients the tests drive (socket.io-client, rasa-webchat, axe-core)

missing_debs() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

ensure_debs() {
  local missing
  missing=$(missing_debs "$@" | xargs)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian packages: $missing"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "Missing Debian packages: $missing" >&2
    echo "Install them with:  sudo apt-get install -y $missing" >&2
    return 1
  fi
}

# The outside JavaScript clients the tests drive, from package-lock.json (npm ci), stamped on its hash.
install_js_test_clients() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    ensure_debs "${NODE_DEBS[@]}" || return 1
  fi
  local js_stamp="$JS_TEST_CLIENTS/node_modules/.installed-$(sha256sum "$JS_TEST_CLIENTS/package-lock.json" | cut -c1-16)"
  [ -f "$js_stamp" ] && return 0
  echo "Installing the JavaScript test clients into $JS_TEST_CLIENTS/node_modules (npm ci)…"
  (cd "$JS_TEST_CLIENTS" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) || return 1
  touch "$js_stamp"
}

if [ "${1:-}" = "--system-test-deps" ]; then
  ensure_debs "${TEST_DEBS[@]}" || echo "(tests that need them will be skipped with a reason)" >&2
  install_js_test_clients || echo "(tests that drive the npm clients will be skipped with a reason)" >&2
  exit 0
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "Haven needs CPython 3.11 (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

# keyed on the lock, pyproject.toml (the package and its declared needs) and the interpreter
stamp="$VENV/.installed-$( (cat "$LOCK" pyproject.toml; "$PYTHON" --version) | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  exit 0
fi

ensure_debs "${BUILD_DEBS[@]}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade "pip==24.0" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
echo "Installing Haven's locked Python packages into $VENV (the first time takes several minutes)…"
# (pip's notes about local index folders this machine's pip.conf names but lacks are filtered out)
MPLSETUPCFG="$PWD/requirements/mplsetup.cfg" \
  "$VENV/bin/python" -m pip install --quiet --no-deps --ignore-requires-python -r "$LOCK" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
# Haven itself, editable: its packages (pyproject.toml) importable from any folder, no PYTHONPATH.
# Its needs are all in the lock, installed above; --no-build-isolation builds with the lock's setuptools
# (nothing fetched).
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation --editable . 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
# The sentence encoder's model files must be the pinned revision (haven/encoder/pins.py): a damaged or
# substituted download stops the install here with the file, the expected and the found sha256.
if ! "$VENV/bin/python" -m haven.encoder --verify; then
  echo "The sentence encoder's model files failed verification (above); not marking the install done." >&2
  exit 1
fi
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "Python environment ready."
