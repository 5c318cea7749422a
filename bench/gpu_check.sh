#!/usr/bin/env bash
# GPU check of the generative training path, for a rented machine with no network and
# the project not installed (it runs from PYTHONPATH=src). Prints the machine, probes
# every module the training path imports (bench/gpu_probe.py), then runs the checks of
# GPU_CHECKS, each under its own timeout:
#   generative   bench/gpu_generative.py (BENCH_TIMEOUT_S, default 240 s)
#   qwen3_lora   bench/qwen3_lora_cpu.py --device cuda: rankwright vs a plain transformers
#                + peft loop with full-vocabulary logits, LoRA on Qwen3-0.6B, bf16, bf16 +
#                gradient checkpointing and 4-bit QLoRA (QWEN_LORA_TIMEOUT_S, default 240 s;
#                it starts no new measurement after QWEN_LORA_TIMEOUT_S - 40 s)
#   faiss        bench/gpu_faiss.py: retriever.dense.index_device on the GPU (IVF-PQ copied
#                to the GPU, or why not; queries/s and agreement with the CPU index)
#                (FAISS_TIMEOUT_S, default 180 s). It needs a GPU build of FAISS: the
#                machine's own, else the faiss-gpu-cu12 wheel in bench/.gpu-faiss (made by
#                bench/prepare_gpu_faiss.sh for the GPU machine's Python, carried alone:
#                the wheel is 48 MiB), installed into a scratch folder.
# One check alone ends within 5 minutes, probes included; the first two take up to ~9
# minutes (GPU_CHECKS=qwen3_lora, generative or faiss to run one).
# The JSON results and a copy of this output (gpu_check.log) go to $OUT when set (the
# GPU runner collects it), else to bench/results/.
#
#   bash bench/gpu_check.sh                             # extra arguments go to gpu_generative.py
#   GPU_CHECKS=qwen3_lora bash bench/gpu_check.sh       # the LoRA comparison alone
#
# bench/.gpu-deps (made by bench/prepare_gpu_deps.sh, carried along) holds unzipped
# pure-Python wheels. By default only those the machine lacks are used (ir_measures,
# say): an installed peft, built against the installed transformers, is not shadowed.
# GPU_DEPS_FIRST=1 puts all of bench/.gpu-deps first on PYTHONPATH instead.
#
# bench/qwen3_lora_cpu.py reads the Qwen3 config and tokenizer from the shared data; the
# GPU machine has no ../shared, so prepare_gpu_deps.sh copies them into
# bench/.gpu-deps/shared-data, used when RANKWRIGHT_SHARED_DATA is unset.
#
# Environment: PYTHON (default python3), GPU_CHECKS (default "generative qwen3_lora"; add faiss),
# BENCH_TIMEOUT_S (default 240: gpu_generative.py's limit; the probes before it take well
# under a minute), QWEN_LORA_TIMEOUT_S (default 240), QWEN_LORA_ARGS (default
# "--points 8x512,4x256 --variants bf16,bf16-ckpt,4bit --steps 6"), GPU_DEPS_FIRST (0|1).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
BENCH_TIMEOUT_S=${BENCH_TIMEOUT_S:-240}
QWEN_LORA_TIMEOUT_S=${QWEN_LORA_TIMEOUT_S:-240}
QWEN_LORA_ARGS=${QWEN_LORA_ARGS:---points 8x512,4x256 --variants bf16,bf16-ckpt,4bit --steps 6}
GPU_CHECKS=${GPU_CHECKS:-generative qwen3_lora}
FAISS_TIMEOUT_S=${FAISS_TIMEOUT_S:-180}
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

    local status=0 check
    for check in $GPU_CHECKS; do
        case $check in
            generative) run_generative "$@" || status=$? ;;
            qwen3_lora) run_qwen3_lora || status=$? ;;
            faiss) run_faiss || status=$? ;;
            *)
                echo "unknown check in GPU_CHECKS: $check (generative, qwen3_lora, faiss)"
                status=2
                ;;
        esac
    done
    ls -la "$RESULTS"
    return "$status"
}

stopped() { # exit status of a `timeout` run, its name and limit
    if [[ $1 == 124 || $1 == 137 ]]; then echo "$2 ran past ${3}s and was stopped"; fi
}

run_generative() {
    echo "== benchmark gpu_generative.py (limit ${BENCH_TIMEOUT_S}s)"
    local status=0
    timeout --kill-after=15 "$BENCH_TIMEOUT_S" "$PYTHON" bench/gpu_generative.py --out "$RESULTS" "$@" || status=$?
    stopped "$status" gpu_generative.py "$BENCH_TIMEOUT_S"
    return "$status"
}

run_qwen3_lora() {
    echo "== benchmark qwen3_lora_cpu.py --device cuda (limit ${QWEN_LORA_TIMEOUT_S}s)"
    if [[ -z ${RANKWRIGHT_SHARED_DATA:-} && ! -d ../shared/data/qwen3-tokenizer && -d $DEPS/shared-data ]]; then
        export RANKWRIGHT_SHARED_DATA=$DEPS/shared-data
    fi
    local status=0
    # shellcheck disable=SC2086 # QWEN_LORA_ARGS is a list of arguments
    timeout --kill-after=15 "$QWEN_LORA_TIMEOUT_S" "$PYTHON" bench/qwen3_lora_cpu.py --device cuda --out "$RESULTS" \
        --budget-s $((QWEN_LORA_TIMEOUT_S - 40)) $QWEN_LORA_ARGS || status=$?
    stopped "$status" qwen3_lora_cpu.py "$QWEN_LORA_TIMEOUT_S"
    return "$status"
}

run_faiss() {
    echo "== benchmark gpu_faiss.py (limit ${FAISS_TIMEOUT_S}s)"
    local path=$PYTHONPATH wheel
    if ! "$PYTHON" -c "import faiss; faiss.StandardGpuResources" 2>/dev/null; then
        wheel=$(find bench/.gpu-faiss -name 'faiss_gpu*.whl' 2>/dev/null | head -1)
        if [[ -z $wheel ]]; then
            echo "no GPU build of FAISS here and no wheel in bench/.gpu-faiss (bench/prepare_gpu_faiss.sh)"
            return 1
        fi
        echo "installing $(basename "$wheel") into $FILL/faiss"
        "$PYTHON" -m pip install --quiet --no-deps --no-index --target "$FILL/faiss" "$wheel" || return 1
        path="$FILL/faiss:$PYTHONPATH"
    fi
    local status=0
    PYTHONPATH=$path timeout --kill-after=15 "$FAISS_TIMEOUT_S" "$PYTHON" bench/gpu_faiss.py --out "$RESULTS" ||
        status=$?
    stopped "$status" gpu_faiss.py "$FAISS_TIMEOUT_S"
    return "$status"
}

main "$@" 2>&1 | tee "$RESULTS/gpu_check.log"
