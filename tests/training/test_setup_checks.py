"""Bad input that ``train`` refuses before training starts: bf16 on a device that cannot
compute in it (before any model is read), and a generative prompt that leaves no room
for the pair at ``model.max_length`` or label words whose first tokens collide (before
the weights load: the tokenizer is read first)."""

from __future__ import annotations

import re

import pytest
import torch
from transformers import AutoTokenizer

from rankwright.config import from_dict
from rankwright.models import precision
from rankwright.models.generative import GenerativeHead
from rankwright.models.prompts import PromptConfig, PromptError, build_prompt
from rankwright.training.checks import MIN_PAIR_ROOM, check_precision_setup, check_prompt_room
from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainingSetupError, train

CUSTOM = {"template": "custom", "prefix": "{system}\n", "suffix": "\nanswer:"}


class WeightsLoaded(Exception):
    """Raised in place of loading a causal LM: the checks before it passed."""


@pytest.fixture
def no_weights(monkeypatch):
    def refuse(*args, **kwargs):
        raise WeightsLoaded

    monkeypatch.setattr("rankwright.training.model_setup.load_causal_lm", refuse)


def _config(tmp_path, data, model: dict, **training) -> TrainConfig:
    return from_dict(
        TrainConfig,
        {
            "data": {"path": str(data)},
            "labels": {"scheme": "graded", "relevant_gain": 2},
            "split": {"ratios": [0.7, 0.3, 0.0], "seed": 1},
            "model": model,
            "loss": {"name": "bce"},
            "training": {"epochs": 1, "batch_size": 8, **training},
            "output_dir": str(tmp_path / "out"),
            "progress": False,
        },
    )


@pytest.mark.parametrize("model_type", ["generative", "cross-encoder", "bi-encoder"])
def test_bf16_on_a_device_without_it_is_an_error_before_any_model_is_read(
    tmp_path, write_pointwise, monkeypatch, model_type
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "_cpu_bf16_works", lambda: False)
    data = write_pointwise(tmp_path / "pairs.jsonl")
    # The model does not exist: the error comes before anything looks for it.
    config = _config(tmp_path, data, {"name": str(tmp_path / "absent"), "type": model_type}, bf16=True)
    with pytest.raises(TrainingSetupError) as err:
        train(config)
    assert str(err.value) == (
        "training.bf16 is true, but this CPU cannot compute in bfloat16 (a bfloat16 matmul fails in torch "
        f"{torch.__version__}): set training.bf16 false to train in float32 (or fp16 true on a CUDA GPU), or "
        "train on a device with bfloat16"
    )


def test_bf16_passes_where_the_device_has_it_and_is_not_checked_when_off(monkeypatch):
    config = from_dict(TrainConfig, {"training": {"bf16": True}})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    check_precision_setup(config)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda: "Tesla T4")
    with pytest.raises(TrainingSetupError, match=r"^training\.bf16 is true, but this GPU \(Tesla T4\) does not"):
        check_precision_setup(config)
    check_precision_setup(from_dict(TrainConfig, {"training": {"bf16": False}}))


def test_a_prompt_leaving_no_room_is_an_error_before_the_weights_load(
    tmp_path, tiny_llama, write_pointwise, no_weights
):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    model = {"name": tiny_llama, "max_length": 48, "prompt": CUSTOM}
    with pytest.raises(TrainingSetupError) as err:
        train(_config(tmp_path, data, model))
    message = str(err.value)
    found = re.fullmatch(
        r"model\.max_length 48 leaves (-?\d+) tokens for the query and the document: the prompt \(template "
        r"'custom'\) takes (\d+) tokens of every pair \((\d+) prefix with the system text, (\d+) body with the "
        r"instruction, (\d+) suffix\), and at least 16 must remain: set model\.max_length (\d+) or more, or "
        r"shorten the prompt \(model\.prompt\.instruction, system or body; prefix and suffix with template custom\)",
        message,
    )
    assert found, message
    room, fixed, prefix, body, suffix, enough = map(int, found.groups())
    assert room == 48 - fixed and fixed == prefix + body + suffix and enough == fixed + MIN_PAIR_ROOM
    # The prompt of an empty pair is what the count says; the suggested max_length passes.
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    head = GenerativeHead(tok, build_prompt(PromptConfig(**CUSTOM), tok), 48)
    assert len(head.encode([""], [""])[0]["input_ids"]) == fixed
    with pytest.raises(TrainingSetupError, match=f"model.max_length {enough - 1} leaves 15 tokens"):
        train(_config(tmp_path, data, {**model, "max_length": enough - 1}))
    with pytest.raises(WeightsLoaded):
        train(_config(tmp_path, data, {**model, "max_length": enough}))


def test_label_words_sharing_a_first_token_fail_before_the_weights_load(
    tmp_path, tiny_llama, write_pointwise, no_weights
):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    prompt = {**CUSTOM, "label_words": ["yes", "yes!"]}
    with pytest.raises(PromptError, match=r"label words \['yes', 'yes!'\] start with the same token"):
        train(_config(tmp_path, data, {"name": tiny_llama, "max_length": 128, "prompt": prompt}))


def test_the_qwen3_reranker_prompt_needs_room_for_a_pair(qwen3_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(qwen3_tokenizer_dir)
    prompt = build_prompt(PromptConfig(), tok)
    assert prompt.template == "qwen3-reranker"
    fixed = len(GenerativeHead(tok, prompt, 512).encode([""], [""])[0]["input_ids"])
    check_prompt_room(GenerativeHead(tok, prompt, fixed + MIN_PAIR_ROOM), fixed + MIN_PAIR_ROOM)
    short = fixed + MIN_PAIR_ROOM - 1
    with pytest.raises(TrainingSetupError) as err:
        check_prompt_room(GenerativeHead(tok, prompt, short), short)
    message = str(err.value)
    assert message.startswith(
        f"model.max_length {short} leaves 15 tokens for the query and the document: the prompt (template "
        f"'qwen3-reranker') takes {fixed} tokens of every pair"
    )
    assert f"set model.max_length {fixed + MIN_PAIR_ROOM} or more" in message
    # A longer instruction takes more of the same max_length.
    enough = fixed + MIN_PAIR_ROOM
    longer = build_prompt(PromptConfig(instruction="Given a product search query, find the product. " * 4), tok)
    with pytest.raises(TrainingSetupError, match=rf"model\.max_length {enough} leaves -?\d+ tokens"):
        check_prompt_room(GenerativeHead(tok, longer, enough), enough)


@pytest.mark.parametrize(
    ("metric", "model_type"),
    [("nDCG@10", "cross-encoder"), ("ndcg@5", "cross-encoder"), ("p@10", "bi-encoder")],
)
def test_a_best_model_metric_validation_does_not_compute_fails_before_any_model_is_read(
    tmp_path, write_pointwise, metric, model_type
):
    """A typo, an nDCG cut-off outside metrics.ndcg_at, or p@k without metrics.precision_at
    would train to the end without ever saving best/."""
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=8)
    config = _config(tmp_path, data, {"name": str(tmp_path / "no-such-model"), "type": model_type})
    if model_type == "bi-encoder":
        config.loss.name = "mnrl"
    config.metrics.ndcg_at, config.metrics.precision_at = [10], []
    config.training.metric_for_best_model = metric
    with pytest.raises(TrainingSetupError, match=rf"metric_for_best_model '{re.escape(metric)}' is not a validation"):
        train(config)


def test_the_valid_best_model_metrics_are_listed_and_accepted():
    from rankwright.training.checks import check_best_metric

    config = from_dict(TrainConfig, {"metrics": {"ndcg_at": [10], "precision_at": [5], "recall_at": [100]}})
    for name in ("ndcg@10", "eval_ndcg@10", "ndcg@10_informative", "map", "mrr", "ndcg", "p@5", "recall@100"):
        config.training.metric_for_best_model = name
        check_best_metric(config)
    config.training.metric_for_best_model = "ndcg@20"
    with pytest.raises(
        TrainingSetupError, match=r"choose one of ndcg@10, ndcg, map, mrr, p@5, recall@100, ndcg@10_inf"
    ):
        check_best_metric(config)


@pytest.mark.parametrize("ratio", [1.0, 5, -0.1])
def test_a_warmup_ratio_outside_0_1_fails_before_any_model_is_read(tmp_path, write_pointwise, ratio):
    """transformers would take 1 or more as a number of warm-up steps."""
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=8)
    config = _config(tmp_path, data, {"name": str(tmp_path / "no-such-model"), "type": "cross-encoder"})
    config.training.warmup_ratio = ratio
    with pytest.raises(TrainingSetupError, match=rf"warmup_ratio is the share .* 0 <= ratio < 1, got {ratio}"):
        train(config)
