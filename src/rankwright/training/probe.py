"""A short throughput probe on the real model and batches, before training: what a
time budget is planned from (:mod:`rankwright.training.budget`).

The probe runs forward and backward passes on the epoch's first batches (the order
the Trainer will use: iterating the sampler changes nothing) and scores a sample of
the validation pairs, then drops the gradients: the weights, the optimizer (not built
yet), the random generators and the pairs-seen count are left as they were: a budget
that needs no cut trains exactly as no budget does.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from rankwright.data.records import DOC, QUERY
from rankwright.inference.reranker import Reranker
from rankwright.training.budget import Probe

#: the optimizer step and the Trainer's bookkeeping, on top of forward + backward
STEP_OVERHEAD = 1.1
WARM_BATCHES = 1  # not timed: the first pass allocates
TIMED_BATCHES = 3


def probe_trainer(trainer, grad_accum: int, seed: int) -> Probe:
    """Seconds per optimizer step and per validation of ``trainer`` (a ``RerankTrainer``
    built but not trained yet)."""
    started = time.perf_counter()
    with torch.random.fork_rng():  # dropout's draws here leave training's as they were
        step_s = _batch_seconds(trainer) * grad_accum * STEP_OVERHEAD
        validation_s = _validation_seconds(trainer, seed)
    return Probe(step_s=step_s, validation_s=validation_s, probe_s=time.perf_counter() - started)


def _batch_seconds(trainer) -> float:
    loader = DataLoader(trainer.train_dataset, batch_sampler=trainer.train_batches, collate_fn=trainer.data_collator)
    model = trainer.model
    model.train()
    kept = trainer.progress.pairs_seen
    times: list[float] = []
    try:
        for i, batch in enumerate(loader):
            if i >= WARM_BATCHES + TIMED_BATCHES:
                break
            start = time.perf_counter()
            inputs = trainer._prepare_inputs(batch)
            with trainer.compute_loss_context_manager():
                loss = trainer.compute_loss(model, inputs)
            loss.backward()
            model.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - start)
    finally:
        trainer.progress.pairs_seen = kept
        model.zero_grad(set_to_none=True)
    timed = times[WARM_BATCHES:] or times
    return float(np.mean(timed)) if timed else 0.0


def _validation_seconds(trainer, seed: int) -> float:
    """One validation's seconds, from scoring a seeded sample of its pairs."""
    validation = trainer.validation
    if validation is None:
        return 0.0
    pairs = validation.pairs
    batch_size = trainer.args.per_device_eval_batch_size
    n = min(len(pairs), 2 * batch_size)
    sample = pairs.sample(n=n, random_state=seed) if n < len(pairs) else pairs
    reranker = Reranker(trainer.model, trainer.head, trainer.metadata, device=str(trainer.args.device))
    start = time.perf_counter()
    with torch.no_grad():
        reranker.score(sample[QUERY].tolist(), sample[DOC].tolist(), batch_size=batch_size)
    trainer.model.train()
    return (time.perf_counter() - start) * len(pairs) / max(n, 1)
