#!/usr/bin/env bash
# Builds the renderer of a git revision as a separate module file, for
# `benchmarks/render.py --baseline_module FILE`: the before/after comparison then runs in one
# process, interleaved. The copy gets a pybind11 registry of its own (PYBIND11_BUILD_ABI), so
# it loads beside cnsr._renderer.
#   bash benchmarks/build_renderer_baseline.sh [REV (default: main)] [OUT (default: build/baseline/_renderer_<rev>.so)]
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n 2,6p "$0"; exit 0; fi
cd "$(dirname "$0")/.."
REV=${1:-main}
SHA=$(git rev-parse --short "$REV")
OUT=${2:-build/baseline/_renderer_$SHA.so}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || command -v python3 )}
PYTHON_ABS="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# the C++ sources live in csrc/ (in renderer/ before the rename): take whichever the revision has
SRC=$(git ls-tree --name-only "$SHA" csrc renderer | head -n 1)
git archive "$SHA" CMakeLists.txt "$SRC" | tar -x -C "$TMP"
mkdir -p "$TMP/code/cnsr" "$(dirname "$OUT")"
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
cmake -S "$TMP" -B "$TMP/build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$PYTHON_ABS" \
    "-DCMAKE_CXX_FLAGS=-DPYBIND11_BUILD_ABI=\\\"_cnsr_baseline\\\"" >/dev/null
cmake --build "$TMP/build" --parallel "$(nproc 2>/dev/null || echo 2)" >/dev/null
cp "$TMP"/code/cnsr/_renderer*.so "$OUT"
echo "baseline renderer ($REV = $SHA): $OUT"
