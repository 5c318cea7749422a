"""Data-parallel training: each rank trains on its share of every global batch, the
loss and gradient are those of the global batch, and ``torchrun`` on 2 CPU processes
ends with the weights and validation metrics of one process with the same global batch."""

from __future__ import annotations

import gc
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import yaml
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from rankwright.config import from_dict
from rankwright.data.labels import LabelConfig, LabelScheme
from rankwright.losses import BinaryCrossEntropyLoss, ListwiseSoftmaxCELoss
from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.training.arguments import launch_args, training_kwargs
from rankwright.training.config import TrainConfig
from rankwright.training.sampling import EpochExamples, LengthGroupedSampler, Pool, SamplingConfig, collate_examples
from rankwright.training.sharding import RankBatchSampler, shard_bounds
from rankwright.training.trainer import RerankTrainer, TrainingProgress

needs_gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed has no gloo backend here"
)

BINARY = LabelScheme(LabelConfig(scheme="binary", threshold=1))


def _examples(n_queries: int, seed: int = 5) -> EpochExamples:
    """Groups of 1 positive and 3 negatives re-drawn per epoch (half of them random)."""
    rows = []
    for q in range(n_queries):
        rows.append((f"q{q}", f"query {q}", f"q{q}p", "pos " * (1 + q % 7), 1))
        rows += [(f"q{q}", f"query {q}", f"q{q}n{k}", f"neg {q} {k}", 0) for k in range(6)]
    pairs = pd.DataFrame(rows, columns=["query_id", "query", "doc_id", "doc", "label"])
    pool = Pool.build(pairs, BINARY, "binary")
    config = SamplingConfig(negatives_per_group=3, hard_ratio=0.5)
    return EpochExamples(pool, config, grouped=True, label_kind="binary", seed=seed)


def _batches(examples: EpochExamples, per_device: int, rank: int, world: int, group: bool) -> RankBatchSampler:
    lengths = np.array([len(e.docs) * 10 + e.query % 7 for e in examples.examples])
    sampler = LengthGroupedSampler(examples, lambda: lengths, per_device * world, seed=3, group=group)
    return RankBatchSampler(sampler, per_device, rank, world)


@pytest.mark.parametrize("group", [False, True])
@pytest.mark.parametrize("n_queries", [24, 25, 27])
def test_rank_shares_are_disjoint_cover_each_epoch_once_and_make_the_single_process_batches(n_queries, group):
    # One "process" each: its own examples, drawn from the same seed.
    single = _batches(_examples(n_queries), 4, 0, 1, group)
    ranks = [_batches(_examples(n_queries), 2, r, 2, group) for r in range(2)]
    drawn = []
    for epoch in (0, 1):
        for s in (single, *ranks):
            s.set_epoch(epoch)
        expected = list(single)
        shares = [list(r) for r in ranks]
        assert len(ranks[0]) == len(ranks[1]) == len(single) == len(expected) == len(shares[0]) == len(shares[1])
        for step, batch in enumerate(expected):
            first, second = shares[0][step], shares[1][step]
            assert not set(first) & set(second)
            assert sorted(first + second) == sorted(batch)  # the step's examples are the single process's
            assert abs(len(first) - len(second)) <= 1
        seen = [i for share in shares for batch in share for i in batch]
        assert sorted(seen) == list(range(n_queries))  # every group exactly once per epoch
        # The same epoch draws the same negatives everywhere.
        draws = [[(e.query, e.docs) for e in s.sampler.dataset.examples] for s in (single, *ranks)]
        assert draws[0] == draws[1] == draws[2]
        drawn.append((expected, draws[0]))
    assert drawn[0][0] != drawn[1][0]  # a new order each epoch
    assert drawn[0][1] != drawn[1][1]  # and new negatives
    if n_queries % 4 == 1:  # the last global batch has 1 group: rank 1's share is empty (a placeholder)
        assert len(shares[0][-1]) == 1 and shares[1][-1] == []
    else:
        assert shares[0][-1] and shares[1][-1]


def test_shard_bounds_split_contiguously_and_completely():
    for n in (0, 1, 5, 40):
        bounds = [shard_bounds(n, r, 3) for r in range(3)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        assert max(hi - lo for lo, hi in bounds) - min(hi - lo for lo, hi in bounds) <= 1
    with pytest.raises(ValueError):
        shard_bounds(10, 2, 2)


def test_an_empty_share_collates_to_one_fully_masked_pair(tiny_bert):
    examples = _examples(3)
    head = CrossEncoderHead(AutoTokenizer.from_pretrained(tiny_bert), max_length=16)
    batch = collate_examples([], examples.pool, head, torch.float32, buckets=4)
    assert batch["index"].shape == (1, 1) and not batch["mask"].any()
    assert len(batch["features"]) == 1 and batch["features"][0]["input_ids"].shape[0] == 1
    real = collate_examples(examples.examples[:2], examples.pool, head, torch.float32, buckets=4)
    assert real["mask"].all()


def test_launch_settings_are_passed_to_the_training_arguments(tmp_path):
    ds = tmp_path / "ds.json"
    ds.write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    config = from_dict(
        TrainConfig,
        {
            "output_dir": str(tmp_path / "out"),
            "training": {"deepspeed": str(ds), "fsdp": True, "fsdp_config": {"version": 2, "cpu_offload": False}},
        },
    )
    kwargs = training_kwargs(config, "no")
    assert kwargs["deepspeed"] == str(ds)
    assert kwargs["fsdp"] is True
    assert kwargs["fsdp_config"] == {"version": 2, "cpu_offload": False}
    assert kwargs["ddp_broadcast_buffers"] is False
    plain = training_kwargs(from_dict(TrainConfig, {"output_dir": str(tmp_path / "out")}), "no")
    assert not {"deepspeed", "fsdp", "fsdp_config"} & plain.keys()
    # gloo on CPU when launched on several processes; no backend in one process (accelerate
    # would then look for a process group) nor on GPUs (the Trainer picks nccl).
    assert launch_args(config, cuda=False, processes=2)["ddp_backend"] == "gloo"
    assert "ddp_backend" not in launch_args(config, cuda=False, processes=1)
    assert "ddp_backend" not in launch_args(config, cuda=True, processes=2)
    chosen = from_dict(TrainConfig, {"training": {"ddp_backend": "mpi", "deepspeed": {"train_batch_size": 8}}})
    assert launch_args(chosen, cuda=False, processes=4)["ddp_backend"] == "mpi"
    assert launch_args(chosen)["deepspeed"] == {"train_batch_size": 8}


# -- the global batch's loss and gradient, on 2 gloo processes ---------------------------------------------------


class _Head:
    """A head whose scores are a linear model of per-pair features."""

    def scores(self, model, chunk):
        return model(chunk["x"]).squeeze(-1)


class _Trainer:
    """Only what compute_loss reads."""

    compute_loss = RerankTrainer.compute_loss
    pairs_seen = RerankTrainer.pairs_seen

    def __init__(self, loss):
        self.head = _Head()
        self.rerank_loss = loss
        self.progress = TrainingProgress()


def _inputs(features: list[torch.Tensor], labels: list[list[float]]) -> dict:
    """A collated batch of groups (``features[g]``: [docs, dim]); no groups: the placeholder."""
    real = bool(features)
    if not real:
        features, labels = [torch.zeros(1, 3)], [[0.0]]
    width = max(len(y) for y in labels)
    index = torch.full((len(labels), width), -1)
    rw_labels = torch.zeros(len(labels), width)
    n = 0
    for g, y in enumerate(labels):
        index[g, : len(y)] = torch.arange(n, n + len(y))
        rw_labels[g, : len(y)] = torch.tensor(y)
        n += len(y)
    return {
        "features": [{"x": torch.cat(features)}],
        "order": torch.arange(n),
        "index": index,
        "rw_labels": rw_labels,
        "mask": (index >= 0) & real,
    }


def _global_batch(n_groups: int) -> tuple[list[torch.Tensor], list[list[float]]]:
    """Groups of 2 to 5 documents with a positive first: uneven pair counts per rank."""
    gen = torch.Generator().manual_seed(n_groups)
    sizes = [2 + (g * 3) % 4 for g in range(n_groups)]
    return [torch.randn(s, 3, generator=gen) for s in sizes], [[1.0] + [0.0] * (s - 1) for s in sizes]


def _gradient_worker(rank: int, world: int, init_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        for loss in (BinaryCrossEntropyLoss(), ListwiseSoftmaxCELoss()):
            for n_groups in (5, 1):  # uneven shares; one group: rank 1 holds the placeholder
                torch.manual_seed(0)
                model = torch.nn.Linear(3, 1)
                reference = torch.nn.Linear(3, 1)
                reference.load_state_dict(model.state_dict())
                features, labels = _global_batch(n_groups)
                ref_trainer = _Trainer(loss)
                ref_loss = ref_trainer.compute_loss(reference.eval(), _inputs(features, labels))
                ref_loss.backward()
                ddp = torch.nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
                trainer = _Trainer(loss)
                mine = _inputs(features[rank::world], labels[rank::world])
                value = trainer.compute_loss(ddp.train(), mine)
                value.backward()
                assert abs(value.item() - ref_loss.item()) <= 1e-6, (value.item(), ref_loss.item())
                for got, want in zip(model.parameters(), reference.parameters(), strict=True):
                    assert torch.allclose(got.grad, want.grad, atol=1e-6), (loss, n_groups, got.grad, want.grad)
                assert trainer.pairs_seen == sum(len(y) for y in labels)
                # free DDP's reducer while the process group is alive: freed after
                # destroy_process_group, it tears the gloo group down and can hang there
                del ddp, value
                gc.collect()
    finally:
        gc.collect()
        dist.destroy_process_group()


@pytest.mark.slow  # starts 2 processes
@needs_gloo
def test_two_ranks_train_on_the_global_batch_loss_and_gradient(tmp_path):
    """BCE averages over pairs, so naive DDP (each rank's own mean, averaged) would
    weigh the ranks' uneven shares wrongly; ListwiseCE averages over groups."""
    context = torch.multiprocessing.spawn(_gradient_worker, args=(2, str(tmp_path / "init")), nprocs=2, join=False)
    deadline = time.monotonic() + 300
    while not context.join(timeout=5):  # raises if a rank failed
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the 2 gloo processes did not finish within 300 s")


# -- torchrun, 2 CPU processes, against one process -----------------------------------------------------------------


def _no_dropout_model(source: str, folder: Path) -> str:
    """The tiny cross-encoder without dropout: the ranks' dropout draws could not match one process's."""
    config = AutoConfig.from_pretrained(source, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    AutoModelForSequenceClassification.from_pretrained(source, config=config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return str(folder)


SCHEDULES = {
    # 2 epochs of 4 steps (7 micro-steps of 4 groups), validated after each epoch.
    "epochs": {},
    # Validated every step, stopped when 2 validations in a row do not improve.
    "early_stopping": {"eval_strategy": "steps", "eval_steps": 1, "early_stopping_patience": 2},
}


def _write_config(
    tmp_path: Path, name: str, model: str, data: tuple[Path, Path], batch_size: int, schedule: str
) -> Path:
    train, val = data
    config = {
        "data": {"path": str(train)},
        "val_path": str(val),
        "labels": {"scheme": "graded", "relevant_gain": 2},
        "model": {"name": model, "max_length": 24},
        "loss": {"name": "bce"},
        "sampling": {"mode": "groups", "negatives_per_group": 2, "hard_ratio": 0.5, "length_grouping": True},
        "training": {
            "epochs": 2,
            "batch_size": batch_size,
            "grad_accum": 2,
            "learning_rate": 1e-3,
            "eval_batch_size": 16,
            "save_steps": 1000,
            "logging_steps": 2,
            "seed": 11,
            **SCHEDULES[schedule],
        },
        "output_dir": str(tmp_path / name),
        "progress": False,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(command: list[str]) -> subprocess.CompletedProcess:
    # One thread a process: what torchrun sets, and 2 threads on a busy machine can be slower than 1.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.mark.slow
@needs_gloo
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_torchrun_on_two_cpu_processes_matches_one_process_with_the_same_global_batch(
    tmp_path, tiny_cross_encoder, write_pointwise, schedule
):
    model = _no_dropout_model(tiny_cross_encoder, tmp_path / "model")
    # 25 groups, 4 per micro-step: the epoch's last micro-step has 1 group, rank 1 a placeholder.
    data = write_pointwise(tmp_path / "train.jsonl", n_queries=25), write_pointwise(tmp_path / "val.jsonl", n_queries=9)
    one_config = _write_config(tmp_path, "one", model, data, batch_size=4, schedule=schedule)
    two_config = _write_config(tmp_path, "two", model, data, batch_size=2, schedule=schedule)
    _run([sys.executable, "-m", "rankwright", "train", "--config", str(one_config)])
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    _run([*launch, "-m", "rankwright", "train", "--config", str(two_config)])

    one, two = tmp_path / "one", tmp_path / "two"
    a, b = load_file(str(one / "final" / "model.safetensors")), load_file(str(two / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert diff <= 1e-4, f"max abs weight difference {diff}"
    start = load_file(str(Path(model) / "model.safetensors"))
    assert max((a[k] - start[k]).abs().max().item() for k in start) > 1e-3  # it did train

    s1 = json.loads((one / "train_summary.json").read_text())
    s2 = json.loads((two / "train_summary.json").read_text())
    assert (s1["world_size"], s2["world_size"]) == (1, 2)
    assert s1["global_batch_size"] == s2["global_batch_size"] == 8
    assert s1["train_examples_per_epoch"] == s2["train_examples_per_epoch"] == 25
    assert s1["global_steps"] == s2["global_steps"]
    assert s1["pairs_seen"] == s2["pairs_seen"]  # every rank counts the global batch
    if schedule == "epochs":
        assert s1["global_steps"] == 8 and len(s1["validation_history"]) == 2
    else:  # every rank took the same decision to stop, at the same step
        assert s1["stopped_early"] and s2["stopped_early"] and s1["global_steps"] < 8
        assert s1["early_stopping"]["stopped_at_step"] == s2["early_stopping"]["stopped_at_step"]
        assert s1["best_step"] == s2["best_step"]
    assert len(s1["validation_history"]) == len(s2["validation_history"])
    for h1, h2 in zip(s1["validation_history"], s2["validation_history"], strict=True):
        assert h1["step"] == h2["step"] and abs(h1["eval_ndcg@10"] - h2["eval_ndcg@10"]) <= 1e-4
    metrics = [k for k in s1["final_validation"] if not k.endswith("_runtime")]
    assert metrics and set(metrics) <= set(s2["final_validation"])
    for key in metrics:
        assert abs(s1["final_validation"][key] - s2["final_validation"][key]) <= 1e-4, key
    losses = [[h["loss"] for h in s["log_history"] if "loss" in h] for s in (s1, s2)]
    assert np.allclose(losses[0], losses[1], atol=1e-5)
    # Written once: one final/, one best/, one summary, in the run's folder.
    assert [p for p in two.rglob("final") if p.is_dir()] == [two / "final"]
    assert [p for p in two.rglob("best") if p.is_dir()] == [two / "best"]
    assert list(two.rglob("train_summary.json")) == [two / "train_summary.json"]
    print(f"\npairs/s: 1 process {s1['pairs_per_second']:.1f}, 2 processes {s2['pairs_per_second']:.1f}")
