#!/usr/bin/env bash
# GPU check of the generative training path, for a rented machine with no network and
# the project not installed (it runs from PYTHONPATH=src). Prints the machine, probes
# every module the training path imports (bench/gpu_probe.py), then runs
# bench/gpu_generative.py under a timeout so the whole script ends within 5 minutes.
# The JSON results and a copy of this output (gpu_check.log) go to $OUT when set (the
# GPU runner collects it), else to bench/results/.
#
#   bash bench/gpu_check.sh            # extra arguments go to gpu_generative.py
#
# bench/.gpu-deps (made by bench/prepare_gpu_deps.sh, carried along) holds unzipped
# pure-Python wheels. By default only those the machine lacks are used (ir_measures,
# say): an installed peft, built against the installed transformers, is not shadowed.
# GPU_DEPS_FIRST=1 puts all of bench/.gpu-deps first on PYTHONPATH instead.
#
# Environment: PYTHON (default python3), BENCH_TIMEOUT_S (default 240: the benchmark's
# own limit; the probes before it take well under a minute), GPU_DEPS_FIRST (0|1).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
BENCH_TIMEOUT_S=${BENCH_TIMEOUT_S:-240}
RESULTS=${OUT:-bench/results}
DEPS="$PWD/bench/.gpu-deps"
mkdir -p "$RESULTS"

export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
FILL=$(mktemp -d -t rw-gpu-deps-XXXX)
trap 'rm -rf "$FILL"' EXIT

join_path() {
    local IFS=:
    echo "$*"
}

set_pythonpath() {
    local paths=(src)
    if [[ -d $DEPS && ${GPU_DEPS_FIRST:-0} == 1 ]]; then paths+=("$DEPS"); fi
    if [[ -n ${PYTHONPATH:-} ]]; then paths+=("$PYTHONPATH"); fi
    if [[ -d $DEPS && ${GPU_DEPS_FIRST:-0} != 1 ]]; then
        # Only what this Python lacks: on PYTHONPATH all of DEPS would come before site-packages.
        echo "bench/.gpu-deps ($(du -sh "$DEPS" | cut -f1)): linking what this Python lacks into $FILL"
        PYTHONPATH=$(join_path "${paths[@]}") "$PYTHON" bench/gpu_probe.py --link-missing "$DEPS" "$FILL"
        paths+=("$FILL")
    fi
    PYTHONPATH=$(join_path "${paths[@]}")
    export PYTHONPATH
}

main() {
    set_pythonpath
    echo "== machine ($(date -u +%FT%TZ))"
    nvidia-smi -L || echo "nvidia-smi failed"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true
    echo "PYTHONPATH=$PYTHONPATH"

    echo "== imports of the training path"
    "$PYTHON" bench/gpu_probe.py

    echo "== benchmark (limit ${BENCH_TIMEOUT_S}s)"
    local status=0
    timeout --kill-after=15 "$BENCH_TIMEOUT_S" "$PYTHON" bench/gpu_generative.py --out "$RESULTS" "$@" || status=$?
    if [[ $status == 124 || $status == 137 ]]; then
        echo "gpu_generative.py ran past ${BENCH_TIMEOUT_S}s and was stopped"
    fi
    ls -la "$RESULTS"
    return "$status"
}

main "$@" 2>&1 | tee "$RESULTS/gpu_check.log"
