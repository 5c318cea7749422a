"""A finished training run keeps one copy of each model it reports.

While training, ``checkpoint-*`` folders (weights, optimizer and scheduler states, RNG
states) make a run resumable. Once the run has finished, ``final/`` and ``best/`` hold
the models it reports, so the checkpoints are removed (the optimizer state alone is
twice the model) unless ``training.keep_checkpoints`` is set. When ``best/`` is the
last evaluated model, its weights are byte-identical to ``final/``'s: each identical
file of ``best/`` becomes a hard link to ``final/``'s (both folders stay complete and
loadable; the disk holds one copy). The folder's size (a linked file counted once) and
what was done go into ``train_summary.json`` as ``output_folder``.
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUMMARY = "train_summary.json"


def folder_bytes(folder: Path) -> int:
    """Bytes under ``folder``, each hard-linked file counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def link_identical(source: Path, target: Path) -> list[str]:
    """Replace each file of ``target`` whose content equals the file at the same
    relative path in ``source`` by a hard link to it; returns the linked paths."""
    linked = []
    for path in sorted(p for p in target.rglob("*") if p.is_file() and not p.is_symlink()):
        twin = source / path.relative_to(target)
        if not twin.is_file() or os.path.samefile(path, twin) or not filecmp.cmp(path, twin, shallow=False):
            continue
        temporary = path.with_name(path.name + ".link")
        os.link(twin, temporary)
        os.replace(temporary, path)
        linked.append(str(path.relative_to(target.parent)))
    return linked


def slim_output(out: Path, keep_checkpoints: bool) -> dict[str, Any]:
    """Remove the checkpoints (unless kept) and link ``best/``'s files identical to
    ``final/``'s; record the result in ``train_summary.json`` and return it."""
    before = folder_bytes(out)
    removed = []
    if not keep_checkpoints:
        for checkpoint in sorted(out.glob("checkpoint-*")):
            if checkpoint.is_dir():
                shutil.rmtree(checkpoint)
                removed.append(checkpoint.name)
    linked = []
    if (out / "best").is_dir() and (out / "final").is_dir():
        linked = link_identical(out / "final", out / "best")
    record = {
        "bytes": folder_bytes(out),
        "bytes_before_cleanup": before,
        "checkpoints_removed": removed,
        "linked_to_final": linked,
    }
    summary = out / SUMMARY
    if summary.is_file():
        data = json.loads(summary.read_text(encoding="utf-8"))
        data["output_folder"] = record
        summary.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    log.info(
        "output folder %s: %.1f MB (%.1f MB before removing %d checkpoint(s) and linking %d file(s) of best/ "
        "to final/)",
        out,
        record["bytes"] / 1e6,
        before / 1e6,
        len(removed),
        len(linked),
    )
    return record
