#!/usr/bin/env bash
# One-shot set-up on a fresh Debian/Ubuntu machine: system packages (when run as root or
# with sudo), a virtual environment in .venv, the Python requirements, the renderer, and the
# cnsr package itself (editable: `import cnsr` and the cnsr-* commands work from any folder).
# Safe to rerun: it installs only what is missing and rebuilds the renderer incrementally.
# PYTHON=python3.X picks the interpreter that creates .venv; VENV=path another environment folder.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES="build-essential cmake ninja-build pkg-config libembree-dev python3-venv python3-dev
  libegl1 libegl-mesa0 libgl1-mesa-dri xvfb"
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=$(command -v sudo || true); fi
  missing=""
  for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
      echo "setup: installing system packages:$missing"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
    else
      echo "setup: missing system packages (install them as root):$missing" >&2
    fi
  fi
  # Optional: LLVM lets Mitsuba 3 use its fast llvm_ad_rgb variant in benchmarks/render.py.
  # Dr.Jit loads the newest libLLVM; LLVM 15 and older abort on its kernels on x86-64 ("Cannot
  # select: fminimum"), so 16 or newer is needed.
  if ! ldconfig -p 2>/dev/null | grep -Eq 'libLLVM(-|\.so\.)(1[6-9]|[2-9][0-9])'; then
    ( [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ] ) && \
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libllvm19 >/dev/null 2>&1 || true
  fi
fi

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY=$VENV/bin/python
# Without an NVIDIA GPU a CPU build of torch is all that is useful; pin it so that pip does
# not fetch the multi-GB CUDA build. Override with TORCH_SPEC="torch==X" if needed.
if [ -z "${TORCH_SPEC:-}" ] && ! command -v nvidia-smi >/dev/null 2>&1; then TORCH_SPEC="torch==2.13.0"; fi
if ! $VPY -c "import torch" >/dev/null 2>&1; then
  $VPY -m pip install -q ${TORCH_SPEC:-torch}
fi
$VPY -m pip install -q -r requirements.txt
PYTHON=$VPY bash build_renderer.sh
# The package, editable (the sources in code/cnsr/ are what runs, edits need no reinstall). The
# renderer was just built into code/cnsr/ by build_renderer.sh, so scikit-build-core is told not
# to run CMake (wheel.cmake=false) rather than build the same extension a second time.
$VPY -m pip install -q --no-build-isolation --no-deps --config-settings=wheel.cmake=false -e .
echo "setup: done. Activate with: source $VENV/bin/activate"
