#!/usr/bin/env bash
# Run HERE (a machine with PyPI), before a GPU run: downloads the pure-Python wheels the
# training path imports and unzips them into bench/.gpu-deps, a folder to carry to the
# GPU machine (no network there), where bench/gpu_check.sh puts it on PYTHONPATH; and
# copies the shared Qwen3 tokenizer and config (bench/qwen3_lora_cpu.py) beside them.
#
#   bash bench/prepare_gpu_deps.sh              # versions pinned to the project's venv
#   bash bench/prepare_gpu_deps.sh peft==0.17.1 # other/extra requirements instead
#
# Only py3-none-any wheels are accepted: compiled packages (numpy, pandas, pyarrow,
# pytrec_eval, psutil, pyyaml, tokenizers, ...) depend on the GPU machine's Python and
# cannot travel this way; that machine's image already has all of them except
# pytrec_eval (only needed to compute metrics, not to train or score).
#
# Environment: PYTHON (default /work/venv/bin/python, else python3; pins are read from
# it), WHEEL_CACHE (default ~/.cache/rankwright-gpu-wheels), MAX_MIB (default 48: the
# GPU runner carries 64 MiB in all, repository included).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z ${PYTHON:-} ]]; then
    PYTHON=/work/venv/bin/python
    [[ -x $PYTHON ]] || PYTHON=python3
fi
CACHE=${WHEEL_CACHE:-$HOME/.cache/rankwright-gpu-wheels}
MAX_MIB=${MAX_MIB:-48}
DEST=bench/.gpu-deps

# peft: LoRA (training.run, loading.load_adapter_model); ir_measures: imported with the
# trainer and the training config (metrics only run at evaluation; it needs pytrec_eval
# then, not at import); accelerate: transformers' Trainer; tqdm: the Reranker.
PACKAGES=(peft ir_measures accelerate tqdm)

pin() { # name==version of the package in $PYTHON's environment, else the bare name
    "$PYTHON" - "$1" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

try:
    print(f"{sys.argv[1]}=={version(sys.argv[1])}")
except PackageNotFoundError:
    print(sys.argv[1])
EOF
}

if [[ $# -gt 0 ]]; then
    requirements=("$@")
else
    requirements=()
    for name in "${PACKAGES[@]}"; do requirements+=("$(pin "$name")"); done
fi
echo "requirements: ${requirements[*]}"

mkdir -p "$CACHE"
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$download" \
    --find-links "$CACHE" "${requirements[@]}"
cp -n "$download"/*.whl "$CACHE"/ 2>/dev/null || true

for wheel in "$download"/*.whl; do
    if [[ $wheel != *-py3-none-any.whl && $wheel != *-py2.py3-none-any.whl ]]; then
        echo "not pure Python, cannot be carried: $(basename "$wheel")" >&2
        exit 1
    fi
done

rm -rf "$DEST"
mkdir -p "$DEST"
for wheel in "$download"/*.whl; do
    "$PYTHON" -m zipfile -e "$wheel" "$DEST"
    echo "unzipped $(basename "$wheel")"
done

# bench/qwen3_lora_cpu.py needs the Qwen3 config and tokenizer of the shared data, which
# the GPU machine lacks (../shared does not travel): a copy goes in the carried (ignored)
# folder, never in the repository; bench/gpu_check.sh points RANKWRIGHT_SHARED_DATA at it.
SHARED=${RANKWRIGHT_SHARED_DATA:-../shared/data}
for name in qwen3-tokenizer qwen3-0.6b-config; do
    if [[ -d $SHARED/$name ]]; then
        mkdir -p "$DEST/shared-data/$name"
        cp "$SHARED/$name"/*.json "$DEST/shared-data/$name/"
        chmod u+w "$DEST/shared-data/$name"/*.json
        echo "copied $SHARED/$name (for bench/qwen3_lora_cpu.py)"
    else
        echo "no $SHARED/$name: bench/qwen3_lora_cpu.py will not run on the GPU machine" >&2
    fi
done

kib=$(du -sk "$DEST" | cut -f1)
echo "$DEST: $((kib / 1024)) MiB ($kib KiB), $(find "$DEST" -type f | wc -l) files"
if ((kib > MAX_MIB * 1024)); then
    echo "larger than ${MAX_MIB} MiB: too much to carry with the repository (64 MiB in all)" >&2
    exit 1
fi
echo "carry it: run(..., carry=[\"bench/.gpu-deps\"])"
