"""Rerunning a recipe on the same output folder continues where it stopped.

The expensive steps are the training phases; everything else (split, first stage,
dense scores, mined pairs, scoring, selection, test table) is deterministic and is
recomputed. So:

- ``recipe_state.json`` holds the fingerprint of the configuration (every key but the
  output folder and progress bars) and of the data files (path, size, modification
  time). A rerun whose fingerprint differs is refused with the keys that differ
  (``--overwrite true`` starts over instead).
- Each training phase, once finished, writes ``phase.json`` into its folder with the
  fingerprint of its own ``train`` configuration and of its input files (their bytes).
  A rerun finds it and reuses the phase's models; a phase killed part-way resumes from
  its last complete checkpoint (``training.resume``); a phase killed before its first
  checkpoint starts again in an emptied folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rankwright.training.config import TrainConfig
from rankwright.training.result import TrainResult

log = logging.getLogger(__name__)

STATE = "recipe_state.json"
PHASE = "phase.json"
#: configuration keys that do not change what a recipe computes
IGNORED = ("output_dir", "progress", "overwrite")
#: nor do these (flattened) keys, of the recipe and of its phases (a run continued with
#: another budget, or a phase given another share of one, reuses what finished)
IGNORED_KEYS = ("training.resume", "budget", "training.budget", "training.budget_min_epochs")


class RecipeMismatchError(ValueError):
    """A rerun into a folder that holds a recipe with another configuration or data."""


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out |= _flatten(inner, f"{prefix}{key}.")
        return out
    return {prefix[:-1]: value}


def _file_stamp(path: str | None) -> list[Any] | None:
    if not path:
        return None
    p = Path(path)
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p] if p.exists() else []
    return [[str(q), q.stat().st_size, q.stat().st_mtime_ns] for q in files]


def recipe_fingerprint(config: Any) -> dict[str, Any]:
    """Every configuration key (flattened, ``a.b``) but :data:`IGNORED`, and a stamp of
    each data file the configuration names."""
    keys = {
        k: v for k, v in _flatten(asdict(config)).items() if k.split(".")[0] not in IGNORED and k not in IGNORED_KEYS
    }
    data = asdict(config).get("data") or {}
    stamps = {f"file {k}": _file_stamp(v) for k, v in sorted(data.items()) if isinstance(v, str) and v}
    return {**keys, **{k: v for k, v in stamps.items() if v}}


def continues(config: Any, out: Path, overwrite: bool = False) -> bool:
    """True when ``out`` holds an earlier run of this same recipe (same fingerprint),
    which a rerun continues; a different fingerprint is a :class:`RecipeMismatchError`
    naming the keys, unless ``overwrite``; False when there is no earlier run."""
    path = out / STATE
    if overwrite or not path.is_file():
        return False
    current = json.loads(json.dumps(recipe_fingerprint(config), default=str))
    stored = json.loads(path.read_text(encoding="utf-8"))
    differ = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
    if differ:
        shown = "; ".join(f"{k}: {stored.get(k)!r} then, {current.get(k)!r} now" for k in differ[:8])
        more = f" (and {len(differ) - 8} more)" if len(differ) > 8 else ""
        raise RecipeMismatchError(
            f"{out} holds a recipe run with another configuration or data: {shown}{more}. "
            f"Rerun with the same settings to continue it, or pass --overwrite true (or another "
            f"--output_dir) to start over"
        )
    return True


def check_or_record(config: Any, out: Path, overwrite: bool = False) -> bool:
    """Record the recipe's fingerprint in ``out``; returns True when an earlier run of the
    same recipe is there, which this run continues (:func:`continues`: a different one is
    refused unless ``overwrite``, which also stops any phase from being reused)."""
    if continues(config, out, overwrite):
        log.info("continuing the recipe run in %s (same configuration and data): finished phases are reused", out)
        return True
    if overwrite:
        for marker in out.glob(f"*/{PHASE}"):  # start over: no phase is reused
            marker.unlink()
    out.mkdir(parents=True, exist_ok=True)
    current = json.loads(json.dumps(recipe_fingerprint(config), default=str))
    (out / STATE).write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    return False


def _digest(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def phase_fingerprint(config: TrainConfig) -> str:
    """The phase's ``train`` configuration (but progress) and its input files' bytes."""
    keys = {k: v for k, v in _flatten(asdict(config)).items() if k not in ("progress", "overwrite", *IGNORED_KEYS)}
    keys["train bytes"] = _digest(config.data.path)
    keys["val bytes"] = _digest(config.val_path)
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()


def run_phase(config: TrainConfig, train) -> TrainResult:
    """``train(config)`` unless the phase already finished with this fingerprint (its
    models are reused), resuming from a checkpoint left by an interrupted run."""
    out = Path(config.output_dir)
    fingerprint = phase_fingerprint(config)
    marker = out / PHASE
    if marker.is_file():
        stored = json.loads(marker.read_text(encoding="utf-8"))
        if stored.get("fingerprint") == fingerprint:
            log.info("phase %s: finished in an earlier run with the same inputs; reusing its models", out.name)
            r = stored["result"]
            return TrainResult(r["output_dir"], r["best_dir"], r["final_dir"], stored["metrics"])
    from rankwright.training.run import last_complete_checkpoint

    if out.exists() and not marker.is_file() and last_complete_checkpoint(out) is not None:
        log.info("phase %s: resuming from its last checkpoint", out.name)
        config = replace(config, training=replace(config.training, resume=True))
    elif out.exists():
        shutil.rmtree(out)  # the recipe's own phase folder: unfinished, or finished with other inputs
    result = train(config)
    record = {
        "fingerprint": fingerprint,
        "result": {"output_dir": result.output_dir, "best_dir": result.best_dir, "final_dir": result.final_dir},
        "metrics": result.metrics,
    }
    marker.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return result
