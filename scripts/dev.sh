#!/usr/bin/env bash
# The project's entry points, each installing what it needs first (idempotent, offline-safe once
# installed):
#   bash scripts/dev.sh run     embedded Temporal dev server + UI, workers, sandbox CRM/ERP, demo
#   bash scripts/dev.sh test    lint, types and the whole test suite
#   bash scripts/dev.sh bench   the order-to-cash benchmark (see bench/order_to_cash.py --help)
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
  local py
  py=$(command -v python3.11 || command -v python3)
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  local want have
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  have=$(cat .venv/.install-stamp 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    # Dependencies only: the code runs from the checkout, so nothing of ours is copied into
    # site-packages where it could shadow the working tree.
    .venv/bin/python - <<'PY' > .venv/requirements.txt
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["dev"]))
PY
    .venv/bin/python -m pip install --quiet -r .venv/requirements.txt
    echo "$want" > .venv/.install-stamp
  fi
}

# The Temporal Web UI test drives Debian's Chromium, never a browser downloaded by Playwright.
# Installed when missing and possible (root, apt-get); otherwise that test is skipped, saying why.
install_chromium() {
  [ -e /usr/bin/chromium ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing (installing it needs root and apt-get): the Web UI test is skipped" >&2
    return 0
  fi
  echo "installing chromium (apt-get) for the Temporal Web UI test" >&2
  local log
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >"$log" 2>&1; then
    # Stale or missing package lists: update them once, then try again.
    if ! { apt-get update -q >"$log" 2>&1 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >"$log" 2>&1; }; then
      tail -n 5 "$log" >&2
      echo "could not install chromium: the Temporal Web UI test is skipped" >&2
    fi
  fi
  rm -f "$log"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install
    exec .venv/bin/python worker.py --embedded --demo "$@"
    ;;
  test)
    install
    install_chromium
    .venv/bin/python -m ruff check .
    .venv/bin/python -m ruff format --check .
    .venv/bin/python -m mypy .
    set +e
    .venv/bin/python -m pytest "$@"
    rc=$?
    set -e
    # 5 = no tests collected: a selection that matched nothing is not a failure of the suite.
    if [ $rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi
    exit $rc
    ;;
  bench)
    install
    exec .venv/bin/python -m bench.order_to_cash "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh run|test|bench [args]" >&2
    exit 2
    ;;
esac
