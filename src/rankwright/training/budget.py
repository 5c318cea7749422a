"""Time budgets (``train --training.budget``, ``recipe --budget``): parsing, the plan
made from a measured probe, and the callback that stops training before the time is up.

Without torch or transformers at import time: the command line parses budgets too.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

BUDGET_FORMS = "seconds (900), or hours, minutes and seconds such as 90s, 15m, 1h, 1h30m, 2.5h"
_BUDGET = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")

#: of a budget, this share is kept free for what the plan does not see (saving, noise)
MARGIN = 0.05


class BudgetError(ValueError):
    """A budget that does not parse, or that cannot fit the smallest plan."""


def parse_budget(text: str | float | int, setting: str = "budget") -> float:
    """Seconds of a budget string; a :class:`BudgetError` naming ``setting`` and the forms
    accepted when it does not parse or is not above zero."""
    raw = str(text).strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    else:
        match = _BUDGET.fullmatch(raw)
        if not raw or match is None:
            raise BudgetError(f"{setting} {text!r} does not parse: use {BUDGET_FORMS}")
        hours, minutes, secs = (float(part) if part else 0.0 for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not seconds > 0:
        raise BudgetError(f"{setting} {text!r} must be above zero: use {BUDGET_FORMS}")
    return seconds


def format_seconds(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``3700`` -> ``1h01m40s``; ``9.4`` -> ``9.4s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


@dataclass
class Probe:
    """Seconds measured on the real model and data before training: one optimizer step
    (forward, backward and the optimizer's share) and one validation."""

    step_s: float
    validation_s: float
    probe_s: float  # what measuring took


@dataclass
class TrainPlan:
    """How a training run fits its budget: the optimizer steps and validations it runs."""

    budget_s: float
    elapsed_s: float  # before training: reading, the model, the probe
    step_s: float
    validation_s: float
    steps_per_epoch: int
    steps: int
    validations: int
    epochs: float
    asked_epochs: float
    tail_s: float  # after training: the last validation, saving, the baseline check

    @property
    def estimate_s(self) -> float:
        return self.elapsed_s + self.steps * self.step_s + self.validations * self.validation_s + self.tail_s

    @property
    def shortened(self) -> bool:
        return self.epochs < self.asked_epochs - 1e-9

    def describe(self) -> str:
        cut = f" (of {self.asked_epochs:g} asked: the budget allows no more)" if self.shortened else ""
        return (
            f"budget {format_seconds(self.budget_s)}: {format_seconds(self.elapsed_s)} spent setting up; measured "
            f"{self.step_s:.2f} s per step and {format_seconds(self.validation_s)} per validation; plan: "
            f"{self.epochs:.2f} epochs{cut} = {self.steps} steps, {self.validations} validations, about "
            f"{format_seconds(self.estimate_s)} in all"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "estimate_s": self.estimate_s, "shortened": self.shortened}


def validations_for(steps: int, steps_per_epoch: int, eval_strategy: str, eval_steps: int | None) -> int:
    """How many validations a run of ``steps`` optimizer steps makes during training."""
    if eval_strategy == "steps" and eval_steps:
        return steps // eval_steps
    if eval_strategy == "epoch":
        return steps // max(steps_per_epoch, 1)
    return 0


def plan_training(
    budget_s: float,
    elapsed_s: float,
    probe: Probe,
    steps_per_epoch: int,
    epochs: float,
    max_steps: int,
    eval_strategy: str,
    eval_steps: int | None,
    min_epochs: float = 1.0,
    setting: str = "training.budget",
) -> TrainPlan:
    """The most steps (up to what ``epochs`` / ``max_steps`` ask) whose training and
    validation fit in the budget left after ``elapsed_s``, keeping one validation and a
    margin for the end. Fewer than ``min_epochs`` of a pass over the data (or than the
    ``max_steps`` asked, if fewer) is a :class:`BudgetError` that says the minimum."""
    asked = max_steps if max_steps > 0 else math.ceil(epochs * steps_per_epoch)
    tail = probe.validation_s + MARGIN * budget_s
    needed = max(1, min(asked, math.ceil(min_epochs * steps_per_epoch)))

    def cost(steps: int) -> float:
        n_val = validations_for(steps, steps_per_epoch, eval_strategy, eval_steps)
        return steps * probe.step_s + n_val * probe.validation_s

    left = budget_s - elapsed_s - tail
    if min_epochs > 0 and cost(needed) > left:  # with min_epochs 0, whatever fits (one step at least)
        minimum = elapsed_s + cost(needed) + probe.validation_s
        minimum /= 1 - MARGIN
        raise BudgetError(
            f"{setting} {format_seconds(budget_s)} is too small for one pass over the training data: setting up "
            f"took {format_seconds(elapsed_s)}, and {needed} steps at the measured {probe.step_s:.2f} s each with "
            f"their validation ({format_seconds(probe.validation_s)} each) need {format_seconds(cost(needed))} more; "
            f"the minimum is about {format_seconds(minimum)}. Raise the budget, or train on fewer pairs "
            "(sampling.max_pairs) or with a shorter model.max_length"
        )
    steps, most = needed, asked  # the most steps that fit, at least needed (cost grows with steps)
    while steps < most:
        mid = (steps + most + 1) // 2
        steps, most = (mid, most) if cost(mid) <= left else (steps, mid - 1)
    n_val = validations_for(steps, steps_per_epoch, eval_strategy, eval_steps)
    return TrainPlan(
        budget_s=budget_s,
        elapsed_s=elapsed_s,
        step_s=probe.step_s,
        validation_s=probe.validation_s,
        steps_per_epoch=steps_per_epoch,
        steps=steps,
        validations=n_val,
        epochs=steps / max(steps_per_epoch, 1),
        asked_epochs=asked / max(steps_per_epoch, 1),
        tail_s=tail,
    )


def make_time_stop(deadline: float, tail_s: float):
    """A ``TrainerCallback`` that stops training when one more step (at the mean step
    time so far) and ``tail_s`` would pass ``deadline`` (a ``time.perf_counter()`` value);
    built here so that this module imports no transformers."""
    from transformers import TrainerCallback

    class TimeStop(TrainerCallback):
        """Stops training at the step after which the budget's end would be passed."""

        def __init__(self) -> None:
            self.stopped_step: int | None = None
            self._started: float | None = None
            self._steps = 0
            self._paused = 0.0
            self._since: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self._started = time.perf_counter()
            self._steps = 0

        def on_step_end(self, args, state, control, **kwargs):
            self._steps += 1
            self._since = time.perf_counter()
            now = self._since
            step_s = (now - (self._started or now) - self._paused) / self._steps
            if now + step_s + tail_s > deadline and not control.should_training_stop:
                control.should_training_stop = True
                self.stopped_step = state.global_step
                log.warning(
                    "stopping at step %d of %d: the time budget ends in %s",
                    state.global_step,
                    state.max_steps,
                    format_seconds(max(deadline - now, 0.0)),
                )

        def on_evaluate(self, args, state, control, **kwargs):
            if self._since is not None:  # validation time is not step time
                self._paused += time.perf_counter() - self._since
                self._since = None

    return TimeStop()
