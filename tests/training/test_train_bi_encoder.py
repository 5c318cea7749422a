"""``train`` with ``model.type: bi-encoder``: sentence-transformers' trainer and
MultipleNegativesRankingLoss on (query, positive, negatives) rows, rankwright's own
validation and best/ tracking, folders that load in sentence-transformers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rankwright.config import from_dict
from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.records import DOC, LABEL, QUERY, QUERY_ID
from rankwright.inference.bi_encoder import BiEncoderReranker
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.training.bi_encoder import training_rows
from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainingSetupError, train


def bi_config(data, model: str, out, **overrides) -> TrainConfig:
    raw = {
        "data": {"path": str(data)},
        "labels": {"scheme": "graded", "relevant_gain": 2},
        "split": {"ratios": [0.7, 0.3, 0.0]},
        "model": {"name": model, "type": "bi-encoder", "max_length": 16},
        "loss": {"name": "mnrl"},
        "sampling": {"negatives_per_group": 2},
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3, "logging_steps": 2},
        "output_dir": str(out),
        "progress": False,
    }
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value}
    return from_dict(TrainConfig, raw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, write_pointwise, tiny_bert):
    folder = tmp_path_factory.mktemp("bi")
    data = write_pointwise(folder / "pairs.jsonl", n_queries=24)
    config = bi_config(data, tiny_bert, folder / "out")
    return train(config), config, tiny_bert


def test_best_and_final_are_sentence_transformers_folders_with_rankwright_metadata(trained):
    result, _, _ = trained
    for folder in (result.best_dir, result.final_dir):
        metadata = ModelMetadata.load(folder)
        assert metadata.model_type == "bi-encoder" and metadata.score == "cosine" and metadata.max_length == 16
        modules = json.loads(Path(folder, "modules.json").read_text())
        assert [m["type"].rsplit(".", 1)[-1] for m in modules][:2] == ["Transformer", "Pooling"]
    summary = json.loads(Path(result.output_dir, "train_summary.json").read_text())
    assert summary["global_steps"] > 0 and summary["best_validation"]["eval_ndcg@10"] > 0
    steps = [h["step"] for h in summary["validation_history"]]
    assert len(steps) == 2 and steps == sorted(steps)  # one validation per epoch
    assert "bi-encoder" in Path(result.best_dir, "README.md").read_text()


def test_scores_equal_sentence_transformers_cosines(trained):
    from sentence_transformers import SentenceTransformer

    result, _, _ = trained
    queries = ["drill number 1", "sofa number 2", "drill number 1"]
    docs = ["drill model 0", "lamp model 2", "kettle model 3"]
    reranker = Reranker.from_pretrained(result.final_dir)
    assert isinstance(reranker, BiEncoderReranker)
    model = SentenceTransformer(result.final_dir)
    q = model.encode(queries, normalize_embeddings=True)
    d = model.encode(docs, normalize_embeddings=True)
    np.testing.assert_allclose(reranker.score(queries, docs), np.einsum("ij,ij->i", q, d), atol=1e-5)
    ranked = reranker.rank("drill number 1", docs)
    assert [r.index for r in ranked] == list(np.argsort(-reranker.score("drill number 1", docs), kind="stable"))


def test_every_weight_of_the_encoder_moved(trained):
    from sentence_transformers import SentenceTransformer

    result, _, base = trained
    before = dict(SentenceTransformer(base).named_parameters())
    after = dict(SentenceTransformer(result.final_dir).named_parameters())
    unchanged = [n for n, p in after.items() if torch.equal(p, before[n]) and "pooler" not in n]
    assert not unchanged


def test_a_folder_without_pooling_config_gets_mean_pooling(trained):
    result, _, _ = trained
    modules = json.loads(Path(result.final_dir, "modules.json").read_text())
    pooling = json.loads(Path(result.final_dir, modules[1]["path"], "config.json").read_text())
    assert pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens") is True


def frame(rows):
    return pd.DataFrame(rows, columns=[QUERY_ID, QUERY, DOC, LABEL])


def test_rows_hold_each_positive_with_own_negatives_first_then_random_ones():
    pairs = frame(
        [
            ("a", "qa", "a-pos1", 2),
            ("a", "qa", "a-pos2", 2),
            ("a", "qa", "a-neg", 0),
            ("a", "qa", "a-partial", 1),  # below the relevance cut-off: a negative
            ("b", "qb", "b-pos", 2),
            ("b", "qb", "b-neg1", 0),
            ("b", "qb", "b-neg2", 0),
            ("b", "qb", "b-neg3", 0),
            ("c", "qc", "c-neg", 0),  # no positive: skipped and counted
        ]
    )
    scheme = build_scheme(LabelConfig(scheme="graded", relevant_gain=2))
    rows, skipped = training_rows(pairs, scheme, negatives=3, positives_per_query=0, seed=1)
    assert skipped == 1
    assert rows["anchor"] == ["qa", "qa", "qb"] and rows["positive"] == ["a-pos1", "a-pos2", "b-pos"]
    negatives = list(zip(rows["negative_1"], rows["negative_2"], rows["negative_3"], strict=True))
    own_a = {"a-neg", "a-partial"}
    for row in negatives[:2]:
        assert set(row[:2]) == own_a and row[2] not in own_a | {"a-pos1", "a-pos2"}  # topped up at random
    assert set(negatives[2]) == {"b-neg1", "b-neg2", "b-neg3"}
    again, _ = training_rows(pairs, scheme, negatives=3, positives_per_query=0, seed=1)
    assert again == rows
    one, _ = training_rows(pairs, scheme, negatives=1, positives_per_query=1, seed=1)
    assert one["anchor"] == ["qa", "qb"] and set(one) == {"anchor", "positive", "negative_1"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"loss": {"name": "bce"}}, "loss.name must be one of \\('mnrl', 'cached_mnrl'\\)"),
        ({"loss": {"name": "ce"}}, "cannot predict named classes"),
        ({"lora": {"enabled": True, "quantize": "4bit"}}, r"lora.quantize \(QLoRA\) is for cross-encoders"),
        ({"lora": {"enabled": True}, "training": {"resume": True}}, r"a LoRA bi-encoder cannot resume"),
    ],
)
def test_impossible_bi_encoder_setups_fail_before_any_model_is_loaded(tmp_path, write_pointwise, overrides, message):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=10)
    config = bi_config(data, str(tmp_path / "no-such-model"), tmp_path / "out", **overrides)
    with pytest.raises(TrainingSetupError, match=message):
        train(config)


def test_class_labels_fail_before_any_model_is_loaded(tmp_path):
    rows = [{"query": f"q{i}", "doc": f"d{i}", "label": "E" if i % 2 else "I"} for i in range(8)]
    path = tmp_path / "esci.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = bi_config(path, str(tmp_path / "no-such-model"), tmp_path / "out")
    config.labels = LabelConfig(scheme="classes", classes=["E", "S", "C", "I"], gains={"E": 3, "S": 2, "C": 1, "I": 0})
    with pytest.raises(TrainingSetupError, match="cannot predict named classes"):
        train(config)


def test_training_logs_its_rows(trained, caplog, tmp_path, write_pointwise, tiny_bert):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=12)
    config = bi_config(data, tiny_bert, tmp_path / "out", training={"epochs": 1, "eval_strategy": "no"})
    with caplog.at_level(logging.INFO, logger="rankwright"):
        result = train(config)
    assert result.best_dir is None and ModelMetadata.load(result.final_dir).model_type == "bi-encoder"
    assert any("bi-encoder training rows" in r.getMessage() for r in caplog.records)


def test_lora_trains_adapters_only_and_saves_merged_weights(tmp_path, write_pointwise, tiny_bert):
    """LoRA on the encoder: the saved folder is a plain sentence-transformers model
    (base + the adapter's update) with the adapter itself in adapter/."""
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=16)
    lora = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}
    config = bi_config(data, tiny_bert, tmp_path / "out", lora=lora, training={"epochs": 1, "learning_rate": 5e-3})
    result = train(config)
    final = Path(result.final_dir)
    assert (final / "model.safetensors").is_file() and not (final / "adapter_config.json").exists()
    assert (final / "adapter" / "adapter_model.safetensors").is_file()
    assert ModelMetadata.load(final).training["config"]["lora"]["enabled"]
    texts = ["drill number 1", "sofa number 2", "drill model 0", "kettle model 3 with a long description"]

    def embed(model):
        model.max_seq_length = 16
        return model.encode(texts, normalize_embeddings=True)

    saved = embed(SentenceTransformer(str(final), device="cpu"))
    base = SentenceTransformer(tiny_bert, device="cpu")
    assert np.abs(saved - embed(base)).max() > 1e-4  # the adapter moved the embeddings (10x the tolerance below)
    # the base weights under the adapter did not move: the untouched base plus the saved
    # adapter gives the saved (merged) model's embeddings
    base[0].model = PeftModel.from_pretrained(AutoModel.from_pretrained(tiny_bert), str(final / "adapter"))
    np.testing.assert_allclose(embed(base), saved, atol=1e-5)
    expected = np.einsum("ij,ij->i", saved[:2], saved[2:])
    np.testing.assert_allclose(Reranker.from_pretrained(str(final)).score(texts[:2], texts[2:]), expected, atol=1e-5)


def _weights(folder) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))


def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_same_model(tmp_path, write_pointwise, tiny_bert, caplog):
    import shutil

    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=24)
    keep = {"save_steps": 2, "keep_checkpoints": True, "save_total_limit": None}
    whole = train(bi_config(data, tiny_bert, tmp_path / "whole", training=keep))
    checkpoints = sorted(Path(whole.output_dir).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert len(checkpoints) >= 2
    # the run as a kill after its first checkpoint leaves it: that checkpoint only
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copytree(checkpoints[0], cut / checkpoints[0].name)
    from transformers import TrainerCallback

    class Steps(TrainerCallback):
        taken = 0

        def on_step_end(self, args, state, control, **kwargs):
            Steps.taken += 1

    config = bi_config(data, tiny_bert, cut, training={**keep, "resume": True})
    with caplog.at_level(logging.INFO, logger="rankwright"):
        resumed = train(config, callbacks=[Steps()])
    assert f"resuming from {cut / checkpoints[0].name}" in caplog.text
    start = int(checkpoints[0].name.split("-")[1])
    assert Steps.taken == whole.metrics["global_steps"] - start, "the steps before the checkpoint ran again"
    summary = json.loads(Path(resumed.output_dir, "train_summary.json").read_text())
    assert summary["resumed_from"] == str(cut / checkpoints[0].name)
    assert summary["global_steps"] == whole.metrics["global_steps"]
    first, again = _weights(whole.final_dir), _weights(resumed.final_dir)
    assert first.keys() == again.keys()
    for name in first:
        torch.testing.assert_close(again[name], first[name], rtol=0, atol=1e-6, msg=name)
    # best/ is the same checkpoint's model: the validation history before the cut was restored
    assert summary["best_step"] == whole.metrics["best_step"]
    assert summary["best_validation"] == pytest.approx(whole.metrics["best_validation"])


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"sampling": {"max_pairs": 100}}, "sampling.max_pairs 100"),
        ({"sampling": {"mode": "groups", "packing": False}}, "sampling.mode 'groups', sampling.packing False"),
        ({"model": {"dtype": "bfloat16"}}, "model.dtype 'bfloat16'"),
    ],
)
def test_options_a_bi_encoder_does_not_use_are_refused(tmp_path, write_pointwise, overrides, named):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=10)
    model = overrides.pop("model", {})
    config = bi_config(data, str(tmp_path / "no-such-model"), tmp_path / "out", **overrides)
    for key, value in model.items():
        setattr(config.model, key, value)
    with pytest.raises(TrainingSetupError, match=rf"does not use {named}: remove them"):
        train(config)


def test_calibration_is_fitted_on_the_cosines_and_stored(tmp_path, write_pointwise, tiny_bert):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=30)
    config = bi_config(
        data, tiny_bert, tmp_path / "out", split={"ratios": [0.6, 0.2, 0.2]}, training={"calibration": "platt"}
    )
    result = train(config)
    summary = json.loads(Path(result.output_dir, "train_summary.json").read_text())
    report = summary["calibration"]
    assert report["method"] == "platt" and report["val_pairs"] > 0 and report["test_pairs"] > 0
    assert report["ece_after"] is not None and report["best"] is not None
    for folder in (result.final_dir, result.best_dir):
        calibration = ModelMetadata.load(folder).calibration
        assert calibration["method"] == "platt"
    final = ModelMetadata.load(result.final_dir)
    assert final.training["result"]["calibration"] == report
    # the stored Platt fit maps the model's cosine to its relevance
    reranker = Reranker.from_pretrained(result.final_dir)
    queries, docs = ["drill number 1", "drill number 1"], ["drill model 0", "kettle model 3"]
    raw = reranker.logits(queries, docs)
    a, b = final.calibration["a"], final.calibration["b"]
    assert a != 0  # a fit, not a constant
    np.testing.assert_allclose(reranker.calibrated_from_logits(raw), 1 / (1 + np.exp(-(a * raw + b))), atol=1e-6)
