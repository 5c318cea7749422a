"""Which modules the training path needs are importable here, and from where.

Used by bench/gpu_check.sh before the benchmark, on a machine where the project is not
installed (PYTHONPATH=src). Exits 3 when ``rankwright.training.run`` cannot be
imported, so no time is spent on a run that cannot start.

    python bench/gpu_probe.py                                  # the report
    python bench/gpu_probe.py --link-missing DEPS FILL         # see link_missing

PYTHONPATH entries always come before site-packages, so a folder of carried packages
on it would shadow the machine's own; ``--link-missing`` makes FILL a folder of links
to only those distributions in DEPS (unzipped wheels) that this Python cannot import.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: module -> distribution. Imported by ``rankwright.training.run`` / the scoring path
#: (ir_measures only at import time: evaluation.ranking is imported by the trainer and
#: the training config; peft when LoRA is on; accelerate by transformers' Trainer).
NEEDED = {
    "numpy": "numpy",
    "pandas": "pandas",
    "yaml": "pyyaml",
    "tqdm": "tqdm",
    "torch": "torch",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "huggingface_hub": "huggingface-hub",
    "accelerate": "accelerate",
    "psutil": "psutil",
    "peft": "peft",
    "ir_measures": "ir-measures",
}
#: Used only by evaluation with metrics, BM25, classification reports or parquet files;
#: bitsandbytes only by QLoRA (lora.quantize 4bit; compiled, so it cannot be carried).
NOT_FOR_TRAINING = {
    "pyarrow": "pyarrow",
    "sklearn": "scikit-learn",
    "pytrec_eval": "pytrec-eval-terrier",
    "bm25s": "bm25s",
    "bitsandbytes": "bitsandbytes",
}
PROJECT_MODULES = ("rankwright.training.run", "rankwright.inference.reranker")


def probe(module: str, dist: str) -> str | None:
    """A line saying where ``module`` comes from, or None when it cannot be imported."""
    try:
        mod = importlib.import_module(module)
    except Exception as err:
        print(f"  MISSING {module:16s} {type(err).__name__}: {err}")
        return None
    try:
        ver = version(dist)
    except PackageNotFoundError:
        ver = getattr(mod, "__version__", "?")
    return f"  ok      {module:16s} {ver:12s} {getattr(mod, '__file__', '')}"


def importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False


def top_level_names(dist_info: Path) -> set[str]:
    """Top-level modules a distribution installs, from its RECORD."""
    names = set()
    for line in (dist_info / "RECORD").read_text(encoding="utf-8").splitlines():
        first = line.split(",", 1)[0].split("/", 1)[0]
        if first and not first.endswith((".dist-info", ".data")) and first != "..":
            names.add(first.removesuffix(".py"))
    return names


def link_missing(deps: Path, fill: Path) -> int:
    """Link into ``fill`` each distribution of ``deps`` none of whose modules this Python
    can import (one that is installed here, in any version, is left to the machine)."""
    fill.mkdir(parents=True, exist_ok=True)
    for dist_info in sorted(deps.glob("*.dist-info")):
        names = top_level_names(dist_info)
        present = sorted(n for n in names if importable(n))
        if present:
            print(f"  installed here, not linked: {dist_info.name} ({', '.join(present)})")
            continue
        for name in [*names, dist_info.name]:
            for source in (deps / name, deps / f"{name}.py"):
                target = fill / source.name
                if source.exists() and not target.exists():
                    target.symlink_to(source.resolve())
        print(f"  linked from {deps.name}: {dist_info.name} ({', '.join(sorted(names))})")
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--link-missing":
        return link_missing(Path(sys.argv[2]), Path(sys.argv[3]))
    print(f"python {platform.python_version()} ({sys.executable})")
    import torch

    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, available: {torch.cuda.is_available()}")
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        print(
            f"device {p.name}, {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs, sm_{p.major}{p.minor}"
        )
    missing = []
    for title, modules in (("needed by training", NEEDED), ("not needed by training", NOT_FOR_TRAINING)):
        print(f"-- {title}")
        for module, dist in modules.items():
            line = probe(module, dist)
            if line is None:
                if modules is NEEDED:
                    missing.append(module)
            else:
                print(line)
    print("missing and needed:", " ".join(missing) or "none")
    for module in PROJECT_MODULES:
        try:
            importlib.import_module(module)
        except Exception as err:
            print(f"import {module}: FAILED {type(err).__name__}: {err}")
            return 3
        print(f"import {module}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
