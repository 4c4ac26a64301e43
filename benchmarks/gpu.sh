#!/usr/bin/env bash
# One prepared run of everything that needs a GPU, for a bare GPU machine without network:
# set up, run the CUDA tests, measure the loader and the training speed. See README.md
# ("Benchmarks" > "Training" > "GPU").
#
#   bash benchmarks/gpu.sh                          # on the GPU machine (all stages end by 540 s)
#   bash benchmarks/gpu.sh --device cpu --tiny      # dry run on any machine (about a minute)
#
# Missing pure-Python dependencies travel as wheels in .whl/ (git ignores it), downloaded
# beforehand on a machine with network for the GPU machine's Python (3.12 in this example):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl OpenEXR==3.5.3 pytorch-msssim==1.0.0
#
# They are installed into a temporary folder put on PYTHONPATH (nothing is installed system-wide).
# Results and logs go to $OUT if it is set, else to --out (default out/gpu/); at most 8 files.
set -uo pipefail

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
options:
  --device D        cuda (default), cuda:1, or cpu for a dry run
  --tiny            shrink configs and counts (dry runs)
  --out DIR         where results go when $OUT is not set (default out/gpu)
  --skip STAGES     comma-separated stages to leave out: tests, loader, train
  --python PY       the interpreter (default: $PYTHON, else .venv/bin/python, else python3)
  --budget S        seconds the second training run may start configs in (default 120)
  --total S         every stage ends by this many seconds after the start (default 540)
  -h, --help        this text
EOF
}

DEVICE=cuda
TINY=0
OUT_DIR="${OUT:-}"
SKIP=""
PY="${PYTHON:-}"
BUDGET=120
TOTAL=540
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE="$2"; shift 2 ;;
        --tiny) TINY=1; shift ;;
        --out) [ -n "${OUT:-}" ] || OUT_DIR="$2"; shift 2 ;;
        --skip) SKIP="$2"; shift 2 ;;
        --python) PY="$2"; shift 2 ;;
        --budget) BUDGET="$2"; shift 2 ;;
        --total) TOTAL="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
OUT_DIR="${OUT_DIR:-$ROOT/out/gpu}"
mkdir -p "$OUT_DIR" || exit 1
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONUNBUFFERED=1
SUMMARY="$OUT_DIR/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
skipped() { [[ ",$SKIP," == *",$1,"* ]]; }
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
# a stage's time limit: at most $1 seconds, and no later than --total after the start
limit() { local left=$(( TOTAL - $(elapsed) )); [ "$left" -lt "$1" ] && set -- "$left"; [ "$1" -lt 10 ] && set -- 10; echo "$1"; }
STATUS=0

# ---- set up: carried wheels into a temporary site folder
if compgen -G ".whl/*.whl" > /dev/null; then
    SITE="$(mktemp -d)"
    trap 'rm -rf "$SITE"' EXIT
    if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" .whl/*.whl; then
        say "setup: installing the wheels in .whl/ failed"; exit 1
    fi
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    say "setup: $(ls .whl/*.whl | wc -l) wheel(s) from .whl/ installed into $SITE"
fi
if ! "$PY" - "$DEVICE" <<'EOF' 2>&1 | tee -a "$SUMMARY"; then
import importlib, os, platform, sys
missing = []
for m in ("numpy", "torch", "tqdm", "OpenEXR", "pytorch_msssim", "pytest"):
    try:
        importlib.import_module(m)
    except ImportError:
        missing.append(m)
if missing:
    print(f"setup: missing Python packages: {', '.join(missing)}; carry them as wheels in .whl/ "
          "(see the head of benchmarks/gpu.sh)")
    sys.exit(1)
import torch
print(f"setup: Python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"{os.cpu_count()} cores")
device = sys.argv[1]
if device.startswith("cuda"):
    if not torch.cuda.is_available():
        print(f"setup: --device {device}, but torch sees no CUDA device"); sys.exit(1)
    p = torch.cuda.get_device_properties(device)
    print(f"setup: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, "
          f"compute capability {p.major}.{p.minor}")
EOF
    exit 1
fi
df -h /dev/shm 2>/dev/null | tail -n 1 | sed 's/^/shared memory (\/dev\/shm): /' | tee -a "$SUMMARY"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit \
    --format=csv 2>&1 | sed 's/^/nvidia-smi: /' | tee -a "$SUMMARY"

if [ "$TINY" = 1 ]; then
    LOADER_ARGS=(--tiny --workers 1,2 --batches 20 --warmup 2 --files 2 --epoch 40)
    LOADER_CONFIGS="room_beauty"
    TRAIN_ROOM=(--tiny --configs room_beauty --iterations 2 --warmup 1 --num_workers 1
                --settings eager,tf32+channels_last,bf16+fused_adam+on_device --sustained 3)
    TRAIN_OTHERS=()
else
    CORES=$(nproc)
    WORKERS="1,2,4,8"
    [ "$CORES" -gt 9 ] && WORKERS="$WORKERS,$((CORES - 1))"
    LOADER_ARGS=(--workers "$WORKERS" --batches 300 --warmup 10 --files 8 --epoch 600 --cores "$CORES")
    LOADER_CONFIGS="room_beauty archviz_beauty"
    NW=$(( CORES > 8 ? 6 : 2 ))
    TRAIN_ROOM=(--configs room_beauty --iterations 40 --warmup 3 --num_workers "$NW" --files 8 --epoch 400
                --settings eager,tf32,bf16,channels_last,fused_adam,on_device,compile,bf16+fused_adam,bf16+fused_adam+channels_last,bf16+fused_adam+on_device,bf16+fused_adam+cudagraphs+on_device
                --sustained 300)
    TRAIN_OTHERS=(--configs archviz_beauty,room_beauty_unet,room_beauty_gqn_buffers --iterations 20 --warmup 3
                  --num_workers "$NW" --files 8 --epoch 400 --budget_s "$BUDGET"
                  --settings eager,tf32,bf16,channels_last,fused_adam,on_device,bf16+fused_adam,bf16+fused_adam+channels_last
                  --sustained 100)
fi
TEST_ENV=()
[[ "$DEVICE" == cpu ]] && TEST_ENV=(CNSR_TEST_DEVICE=cpu)   # the CUDA tests' code, run on the CPU

# ---- 1. the tests that need CUDA
if ! skipped tests; then
    mapfile -t TESTS < <(grep -rl --include='test_*.py' 'pytest.mark.cuda' tests | sort)
    env "${TEST_ENV[@]}" timeout "$(limit 150)" "$PY" -m pytest -q -p no:cacheprovider -m cuda "${TESTS[@]}" \
        > "$OUT_DIR/tests.log" 2>&1
    rc=$?
    say "tests: exit $rc after $(elapsed) s: $(tail -n 1 "$OUT_DIR/tests.log")"
    [ $rc -eq 0 ] || STATUS=1
fi

# ---- 2. data at rate: the loader from batch files, by worker count
if ! skipped loader; then
    : > "$OUT_DIR/loader.log"
    for c in $LOADER_CONFIGS; do
        timeout "$(limit 90)" "$PY" benchmarks/loader.py --config "configs/$c.json" --device "$DEVICE" "${LOADER_ARGS[@]}" \
            --json "$OUT_DIR/loader_$c.json" 2>&1 | tee -a "$OUT_DIR/loader.log"
        rc=$?
        say "loader $c: exit $rc after $(elapsed) s"
        [ $rc -eq 0 ] || STATUS=1
    done
fi

# ---- 3. training speed
if ! skipped train; then
    : > "$OUT_DIR/train.log"
    timeout "$(limit 300)" "$PY" benchmarks/train.py --device "$DEVICE" "${TRAIN_ROOM[@]}" \
        --json "$OUT_DIR/train_room_beauty.json" 2>&1 | tee -a "$OUT_DIR/train.log"
    rc=$?
    say "train room_beauty: exit $rc after $(elapsed) s"
    [ $rc -eq 0 ] || STATUS=1
    if [ ${#TRAIN_OTHERS[@]} -gt 0 ]; then
        timeout "$(limit 300)" "$PY" benchmarks/train.py --device "$DEVICE" "${TRAIN_OTHERS[@]}" \
            --json "$OUT_DIR/train_others.json" 2>&1 | tee -a "$OUT_DIR/train.log"
        rc=$?
        say "train other configs: exit $rc after $(elapsed) s"
        [ $rc -eq 0 ] || STATUS=1
    fi
fi

say "done in $(elapsed) s, status $STATUS; results in $OUT_DIR"
exit $STATUS
