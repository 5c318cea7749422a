#!/usr/bin/env bash
# Run HERE (a machine with PyPI), before a GPU run of the "faiss" check: downloads the
# faiss-gpu-cu12 wheel for the GPU machine's Python into bench/.gpu-faiss, a folder to
# carry (alone: the wheel is about 48 MiB of the 64 MiB a run carries), where
# bench/gpu_check.sh installs it into a scratch folder when that machine's Python has no
# GPU build of FAISS. The wheel loads CUDA 12 libraries (cuBLAS, the CUDA runtime) from
# the machine's nvidia-*-cu12 packages, which a CUDA 12 build of torch brings.
#
#   bash bench/prepare_gpu_faiss.sh 3.12     # the GPU machine's Python version (x.y)
#   GPU_CHECKS=faiss bash bench/gpu_check.sh # there, with carry=["bench/.gpu-faiss"]
#
# Environment: PYTHON (default python3), FAISS_GPU (default faiss-gpu-cu12).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $# -ne 1 || ! $1 =~ ^3\.[0-9]+$ ]]; then
    echo "usage: bash bench/prepare_gpu_faiss.sh PYTHON_VERSION (the GPU machine's, e.g. 3.12)" >&2
    exit 2
fi
PYTHON=${PYTHON:-python3}
DEST=bench/.gpu-faiss
rm -rf "$DEST"
mkdir -p "$DEST"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$1" \
    --platform manylinux2014_x86_64 --dest "$DEST" "${FAISS_GPU:-faiss-gpu-cu12}"
ls -la "$DEST"
echo "carry it: run(..., carry=[\"bench/.gpu-faiss\"]) with GPU_CHECKS=faiss bash bench/gpu_check.sh"
