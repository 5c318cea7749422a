"""``rankwright train``: fine-tune a reranker from a YAML config and flag overrides.

Under a multi-process launch (``torchrun``, ``accelerate launch``) every process runs
this; only rank 0 (``RANK`` 0) logs at info level, the others warnings and errors.

An ``output_dir`` that holds an earlier run's checkpoints or model folders is refused
unless ``overwrite`` (start again) or ``training.resume`` (continue from its last
checkpoint); Ctrl-C keeps the folder when it holds a checkpoint to resume from (or
best/ so far), and otherwise removes what the run had written."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rankwright.models.metadata import ModelMetadata
from rankwright.output_guard import Claim, claim_folder, writes_output
from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainResult, last_complete_checkpoint, train

#: what train writes into output_dir (``runs``: transformers' TensorBoard logs; ``eval``: sentence-transformers')
OUTPUTS = (
    "checkpoint-*",
    "best",
    "final",
    "train_summary.json",
    "training_curves.png",
    "training_report.html",
    "runs",
    "eval",
)
RESUME_HINT = "--training.resume true continues from its last checkpoint"


def quiet_replicas() -> None:
    """Log rankwright's progress once: warnings only on ranks other than 0."""
    if int(os.environ.get("RANK", "0")) > 0:
        logging.getLogger("rankwright").setLevel(logging.WARNING)


def _claim(config: TrainConfig) -> Claim:
    folder = Path(config.output_dir)
    resumable = folder.is_dir() and last_complete_checkpoint(folder) is not None
    return claim_folder(
        folder,
        OUTPUTS,
        overwrite=config.overwrite,
        resume=config.training.resume,
        resume_hint=RESUME_HINT if resumable else None,
    )


def kept_after_interrupt(claim: Claim) -> str | None:
    """What an interrupted run keeps: its last complete checkpoint, or best/ so far (None: nothing worth keeping)."""
    checkpoint = last_complete_checkpoint(claim.folder) if claim.folder.is_dir() else None
    if checkpoint is not None:
        return f"checkpoint left at {checkpoint}; resume with --training.resume true"
    best = claim.folder / "best"
    if ModelMetadata.exists(best):  # rankwright.json: a saved model folder
        return f"no checkpoint to resume from yet; the best model so far is in {best}"
    return None


@writes_output(_claim, kept_after_interrupt)
def main(config: TrainConfig) -> TrainResult:
    quiet_replicas()
    return train(config)
