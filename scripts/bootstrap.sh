#!/usr/bin/env bash
# Make (or refresh) the project's virtual environment with pinned versions: ROS 2 Kilted wheels,
# colcon, numpy/scipy, torch 2.13.0 (CPU), onnx/onnxruntime, mavsdk, pymavlink, gymnasium,
# pettingzoo, pytest, ... (requirements/lock.txt). Idempotent: a no-op when nothing changed.
#   usage: scripts/bootstrap.sh            (venv in .venv, or $UAV_EDGE_VENV)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${UAV_EDGE_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.uav_edge-bootstrap"
want="$(cat requirements/lock.txt setup.py setup.cfg | sha256sum | cut -d' ' -f1)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/uav-edge" ]; then
  exit 0
fi

version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$version" != "3.11" ]; then
  echo "bootstrap: need Python 3.11 (ROS 2 Kilted wheels and requirements/lock.txt are for 3.11); $PYTHON is $version." >&2
  echo "bootstrap: set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

echo "bootstrap: creating $VENV with pinned dependencies (about 3 minutes the first time)..."
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# torch==2.13.0 resolves to the CPU wheel shipped on these machines (pip's find-links); an
# unpinned torch would pull GBs of CUDA packages.
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --no-input -r requirements/lock.txt 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --no-input --no-deps --no-build-isolation -e .
touch "$VENV/COLCON_IGNORE"          # colcon must not crawl the venv looking for packages
echo "$want" > "$STAMP"
echo "bootstrap: done in $(( $(date +%s) - start )) s ($VENV)"
