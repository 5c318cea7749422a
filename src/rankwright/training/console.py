"""What a training run prints: progress bars and one line per evaluation, not the
Trainer's raw metric dicts.

transformers' Trainer prints every ``logs`` dict to stdout (``{'eval_ndcg@1': '0.625',
...}``: its ``PrinterCallback`` without progress bars, its ``ProgressCallback``'s
``tqdm.write`` with them), before the command's own table. :func:`quiet_console`
replaces them on a Trainer: the progress bars stay (when enabled); each evaluation is
one ``rankwright`` log line (stderr) with the epoch, the step and the main validation
metrics; the raw dicts go to the debug log, and all of it is in
``train_summary.json`` and the training report."""

from __future__ import annotations

import logging
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

log = logging.getLogger("rankwright.training")

#: the validation metrics shown on an evaluation's line, in this order, when present
SHOWN = ("ndcg@10", "map", "mrr")
LABELS = {"ndcg@10": "nDCG@10", "map": "MAP", "mrr": "MRR"}


class BarsOnly(ProgressCallback):
    """The Trainer's progress bars, without its raw log dicts."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        log.debug("trainer log (step %d): %s", state.global_step, logs)


class EvaluationLine(TrainerCallback):
    """One log line per evaluation: epoch, step and the main validation metrics."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics:
            return
        log.info("%s", evaluation_line(state.epoch, state.global_step, metrics))


def evaluation_line(epoch: float | None, step: int, metrics: dict[str, Any]) -> str:
    """``validation at epoch 1.00 (step 37): nDCG@10 0.9195, MAP 0.7761, ...``."""
    values = {k.split("_", 1)[1]: v for k, v in metrics.items() if k.startswith("eval_")}
    cells = [f"{LABELS[name]} {values[name]:.4f}" for name in SHOWN if isinstance(values.get(name), int | float)]
    where = f"epoch {epoch:.2f} (step {step})" if epoch is not None else f"step {step}"
    return f"validation at {where}: " + (", ".join(cells) if cells else "no ranking metric")


def quiet_console(trainer) -> None:
    """Swap ``trainer``'s printing callbacks for :class:`BarsOnly` and add
    :class:`EvaluationLine` (works for ``transformers.Trainer`` and its subclasses,
    sentence-transformers' trainer included)."""
    handler = trainer.callback_handler
    had_bars = any(isinstance(c, ProgressCallback) for c in handler.callbacks)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if had_bars:
        trainer.add_callback(BarsOnly())
    trainer.add_callback(EvaluationLine())
