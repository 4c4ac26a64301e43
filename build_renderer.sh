#!/usr/bin/env bash
# Builds the C++ path tracer (cnsr._renderer) into code/cnsr/.
# Needs CMake >= 3.18, a C++17 compiler, Embree 3.13+ or 4 (see ext/README.md) and pybind11
# (pip install pybind11). Uses the Python found first on PATH, or $PYTHON.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || command -v python3 )}
# Absolute path WITHOUT resolving symlinks: a venv's python is a symlink to the base interpreter,
# and resolving it would lose the venv's site-packages (pybind11).
PYTHON_ABS="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
cmake -S . -B build "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$PYTHON_ABS" ${CMAKE_ARGS:-}
cmake --build build --parallel "$(nproc 2>/dev/null || echo 2)"
echo "renderer built: $(ls code/cnsr/_renderer*.so)"
