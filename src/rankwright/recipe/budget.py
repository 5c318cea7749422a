"""``recipe --budget``: which training phases run and how long each may take, planned
from a short probe after the data is ready; without a budget, the estimated total.

The probe times the base cross-encoder scoring a sample of validation candidates
(seconds per pair) and the dense model encoding their texts (seconds per text). A
phase's full cost is estimated from those (a training pair costs about
:data:`TRAIN_FACTOR` forward passes, plus each epoch's validation), and so is the
scoring after training. With a budget, what does not fit goes in this order: the test
rows of the cross-encoders not kept (ablations), then (when the whole plan does not
fit) the second supervised run of ``warmup.choose`` and the supervised run from the
bi-encoder, then (while one epoch of each phase left does not fit) the warm-up and the
bi-encoder phase. Each phase, as it starts, gets one epoch's cost of what is left and a
share of the rest by what its further epochs cost (``training.budget``: its own probe
cuts its epochs to fit, and it stops before its time is up). The estimates are rough (the
probe's model has no trained head and the lengths of a sample); the per-phase budgets
are what keeps the total within the budget.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rankwright.data.records import DOC, LABEL, QUERY, QUERY_ID
from rankwright.training.budget import MARGIN, BudgetError, format_seconds, parse_budget

log = logging.getLogger(__name__)

#: a training pair costs about this many scoring passes: forward, backward, the optimizer,
#: random batches padded to their longest pair (Cranfield, MiniLM at 128 tokens, 2 cores:
#: 1.30 s a step of 16 pairs, against 15.4 ms a pair scored)
TRAIN_FACTOR = 5.0
#: a bi-encoder's training text costs about this many encodings of the probe's: random
#: batches padded to their longest text, against length-sorted encoding (Cranfield on 2
#: cores: about 15 s a step of 32 rows of 3 texts, against about 20 ms a text encoded)
BI_TRAIN_FACTOR = 8.0
PROBE_PAIRS = 96
#: the phases in the order they run; the optional ones first to go
PHASES = ("bi_encoder", "warmup", "supervised", "supervised_without_warmup", "from_biencoder")
DROP_ORDER = ("supervised_without_warmup", "from_biencoder", "warmup", "bi_encoder")
LABELS = {
    "bi_encoder": "bi-encoder",
    "warmup": "warm-up",
    "supervised": "supervised",
    "supervised_without_warmup": "supervised without warm-up (warmup.choose)",
    "from_biencoder": "supervised from the bi-encoder",
}


@dataclass
class Units:
    """Measured seconds: the cross-encoder scoring a pair, the dense model encoding a text."""

    pair_s: float
    text_s: float
    probe_s: float


def _share(phase: str, waiting: list[str], left: float, one_pass: dict[str, float], full: dict[str, float]) -> float:
    """``phase``'s seconds of ``left`` among the ``waiting`` phases (see :meth:`RecipePlan.phase_budget`)."""
    passes = sum(one_pass[p] for p in waiting)
    slack = left - passes
    if slack < 0:
        return left * one_pass[phase] / max(passes, 1e-9)
    more = {p: max(full[p] - one_pass[p], 0.0) for p in waiting}
    total_more = sum(more.values())
    extra = slack * more[phase] / total_more if total_more > 0 else slack / len(waiting)
    return one_pass[phase] + extra


@dataclass
class RecipePlan:
    budget_s: float | None
    started: float  # time.perf_counter() at the recipe's start
    elapsed_s: float  # before training: split, first stage, dense scores, pairs, probe
    units: Units
    estimates: dict[str, float]  # phase -> full cost (seconds)
    one_pass: dict[str, float]  # phase -> the cost of one epoch (its full cost if it asks for less)
    scoring: dict[str, float]  # after training: "base" (the kept reranker), and what each phase adds
    skipped: dict[str, str] = field(default_factory=dict)  # phase -> why
    done: set[str] = field(default_factory=set)
    #: the cross-encoders not kept are scored on the test queries for their ablation rows
    rows_not_kept: bool = True

    def runs(self, phase: str) -> bool:
        return phase in self.estimates and phase not in self.skipped

    def running(self) -> list[str]:
        return [p for p in PHASES if self.runs(p)]

    @property
    def scoring_s(self) -> float:
        """Scoring, selection and test after training, for the phases that run (a phase's
        ablation row only with ``rows_not_kept``)."""
        extra = sum(v for p, v in self.scoring.items() if self.runs(p) and (self.rows_not_kept or p == "bi_encoder"))
        return self.scoring.get("base", 0.0) + extra

    def phase_budget(self, phase: str) -> float | None:
        """Seconds for ``phase`` as it starts (None without a budget): of what is left, each
        phase still to run gets one epoch, then the rest in proportion to what its further
        epochs cost; when even one epoch each does not fit, shares in proportion to those."""
        self.done.add(phase)
        if self.budget_s is None:
            return None
        left = self.started + self.budget_s - time.perf_counter() - self.scoring_s - MARGIN * self.budget_s
        waiting = [p for p in PHASES if self.runs(p) and (p == phase or p not in self.done)]
        return max(_share(phase, waiting, left, self.one_pass, self.estimates), 1.0)

    @property
    def estimate_s(self) -> float:
        return self.elapsed_s + sum(self.estimates[p] for p in self.running()) + self.scoring_s

    def describe(self) -> str:
        phases = ", ".join(f"{LABELS[p]} ~{format_seconds(self.estimates[p])}" for p in self.running())
        skipped = "".join(f"; skipped: {LABELS[p]} ({why})" for p, why in self.skipped.items())
        if not self.rows_not_kept:
            skipped = "; skipped: the test rows of the cross-encoders not kept" + skipped
        head = f"budget {format_seconds(self.budget_s)}: " if self.budget_s is not None else ""
        fits = ""
        if self.budget_s is not None and self.estimate_s > self.budget_s:
            fits = f" in full; each phase's epochs are cut to its share of the {format_seconds(self.budget_s)}"
        return (
            f"{head}{format_seconds(self.elapsed_s)} to prepare the data; measured {1000 * self.units.pair_s:.1f} ms "
            f"a pair scored (cross-encoder), {1000 * self.units.text_s:.1f} ms a text encoded (dense); estimated: "
            f"{phases}, scoring and test ~{format_seconds(self.scoring_s)}{skipped}; about "
            f"{format_seconds(self.estimate_s)} in all{fits}"
        )

    def outcome(self, total_s: float) -> str:
        """The line the recipe ends with: its time against the budget or the estimate."""
        took = f"recipe: finished in {format_seconds(total_s)}"
        if self.budget_s is not None:
            return f"{took}, {100 * total_s / self.budget_s:.0f}% of the budget of {format_seconds(self.budget_s)}"
        return f"{took} (estimated {format_seconds(self.estimate_s)} after the probe)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_s": self.budget_s,
            "elapsed_s": self.elapsed_s,
            "pair_s": self.units.pair_s,
            "text_s": self.units.text_s,
            "probe_s": self.units.probe_s,
            "estimates_s": self.estimates,
            "scoring_s": self.scoring_s,
            "scoring_parts_s": self.scoring,
            "skipped": self.skipped,
            "rows_not_kept": self.rows_not_kept,
            "estimate_s": self.estimate_s,
        }


def measure_units(model_name: str, max_length: int, encoder: Any, val: pd.DataFrame, seed: int) -> Units:
    """Time the base cross-encoder and the dense model on a sample of validation candidates."""
    from rankwright.inference.reranker import Reranker

    started = time.perf_counter()
    sample = val.sample(n=min(PROBE_PAIRS, len(val)), random_state=seed)
    queries, docs = sample[QUERY].tolist(), sample[DOC].tolist()
    reranker = Reranker.from_pretrained(model_name, max_length=max_length)
    reranker.score(queries[:8], docs[:8], batch_size=8)  # the first batch allocates
    start = time.perf_counter()
    reranker.score(queries, docs, batch_size=32)
    pair_s = (time.perf_counter() - start) / max(len(queries), 1)
    text_s = 0.0
    if encoder is not None:
        encoder.model.encode(docs[:8], batch_size=8, show_progress_bar=False)
        start = time.perf_counter()
        encoder.model.encode(queries + docs, batch_size=32, show_progress_bar=False)  # no embedding cache
        text_s = (time.perf_counter() - start) / max(2 * len(queries), 1)
    return Units(pair_s, text_s, time.perf_counter() - started)


def _validation_pairs(val: pd.DataFrame, depth: int | None) -> int:
    sizes = val.groupby(QUERY_ID, sort=False).size()
    return int(sizes.clip(upper=depth).sum() if depth else sizes.sum())


def _texts(*frames: pd.DataFrame) -> int:
    """Distinct texts (queries and documents) of candidate frames: what a bi-encoder encodes."""
    both = pd.concat(frames)
    return int(both[QUERY].nunique() + both[DOC].nunique())


def estimate_phases(
    config,
    pairs: pd.DataFrame,
    ranked: dict[str, pd.DataFrame],
    relevant_gain: int,
    units: Units,
    teacher: bool,
    corpus_size: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Each phase's full cost, its cost for one epoch, and the scoring after
    training: ``base`` (the kept reranker on the validation and test candidates) and what
    a phase adds (a cross-encoder not kept is scored on the test candidates for its row;
    the bi-encoder encodes each distinct query and document once, the corpus's documents
    when it retrieves from one)."""
    pair_s, text_s = units.pair_s, units.text_s
    n_val = _validation_pairs(ranked["val"], config.validation_depth)
    max_pairs = config.sampling.max_pairs
    sup_pairs = min(len(pairs), max_pairs) if max_pairs else len(pairs)
    sup_epoch = sup_pairs * TRAIN_FACTOR * pair_s + n_val * pair_s
    estimates = {"supervised": config.training.epochs * sup_epoch}
    epochs = {"supervised": config.training.epochs}
    n_queries = pairs[QUERY_ID].nunique()
    if config.warmup.enabled and teacher:
        group = 1 + config.sampling.negatives_per_group
        warm_pairs = min(len(pairs), n_queries * group)
        estimates["warmup"] = config.warmup.epochs * (warm_pairs * TRAIN_FACTOR * pair_s + n_val * pair_s)
        epochs["warmup"] = config.warmup.epochs
        if config.warmup.choose:
            estimates["supervised_without_warmup"] = estimates["supervised"]
            epochs["supervised_without_warmup"] = config.training.epochs
    scoring = {"base": (len(ranked["val"]) + len(ranked["test"])) * pair_s}
    test_row = len(ranked["test"]) * pair_s
    if config.bi_encoder.enabled and config.dense_enabled:
        rows = int((pairs[LABEL] >= relevant_gain).sum())  # the pairs' labels are gains
        texts = rows * (2 + config.bi_encoder.negatives)
        depth = config.validation_depth
        val = ranked["val"].groupby(QUERY_ID, sort=False).head(depth) if depth else ranked["val"]
        per_epoch = texts * BI_TRAIN_FACTOR * text_s + _texts(val) * text_s
        estimates["bi_encoder"] = config.bi_encoder.epochs * per_epoch
        epochs["bi_encoder"] = config.bi_encoder.epochs
        if config.bi_encoder.warm_start:
            estimates["from_biencoder"] = estimates["supervised"]
            epochs["from_biencoder"] = config.training.epochs
        # each distinct text once (its embeddings are kept): with a corpus, the candidates are corpus documents
        candidates = pd.concat([ranked["val"], ranked["test"]])
        documents = corpus_size or candidates[DOC].nunique()
        scoring["bi_encoder"] = (candidates[QUERY].nunique() + documents) * text_s
    scoring |= {p: test_row for p in ("warmup", "supervised_without_warmup", "from_biencoder") if p in estimates}
    one_pass = {p: estimates[p] / max(epochs[p], 1.0) for p in estimates}
    return {p: estimates[p] for p in PHASES if p in estimates}, one_pass, scoring


def make_plan(
    config,
    estimates: dict[str, float],
    one_pass: dict[str, float],
    scoring: dict[str, float],
    units: Units,
    started: float,
) -> RecipePlan:
    """The plan; with a budget, what does not fit is skipped in :data:`DROP_ORDER`: the
    optional supervised runs when the whole plan does not fit, the warm-up and the
    bi-encoder when one epoch of every phase left does not; a budget that cannot give the
    supervised phase one epoch is a :class:`BudgetError` naming the minimum."""
    budget_s = parse_budget(config.budget, "budget") if config.budget else None
    plan = RecipePlan(budget_s, started, time.perf_counter() - started, units, estimates, one_pass, scoring)
    if budget_s is None:
        return plan
    usable = budget_s * (1 - MARGIN) - plan.elapsed_s
    plan.rows_not_kept = plan.estimate_s <= budget_s * (1 - MARGIN)  # the ablation rows go first
    for phase in DROP_ORDER:
        if not plan.runs(phase):
            continue
        left = usable - plan.scoring_s
        optional = phase in ("supervised_without_warmup", "from_biencoder")
        needed = sum((estimates if optional else one_pass)[p] for p in plan.running())
        if needed > left:
            plan.skipped[phase] = "no time in the budget"
    left = usable - plan.scoring_s
    if sum(one_pass[p] for p in plan.running()) > left:
        scoring = plan.scoring_s
        minimum = (plan.elapsed_s + scoring + one_pass["supervised"]) / (1 - MARGIN)
        raise BudgetError(
            f"budget {format_seconds(budget_s)} is too small for one pass over the training pairs: preparing took "
            f"{format_seconds(plan.elapsed_s)}, one supervised epoch is estimated at "
            f"{format_seconds(one_pass['supervised'])} and scoring and testing at {format_seconds(scoring)}; the "
            f"minimum is about {format_seconds(minimum)}. Raise the budget, or use fewer pairs (sampling.max_pairs, "
            "train_queries) or a shorter model.max_length"
        )
    return plan
