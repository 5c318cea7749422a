"""End-to-end training on a tiny BERT: real Trainer, real files, real checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.training.run import TrainingSetupError, train


def _hf_logits(folder, queries, docs):
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        batch = tok(queries, docs, truncation="only_second", max_length=32, padding=True, return_tensors="pt")
        return model(**batch).logits.squeeze(-1).numpy()


QUERIES = ["drill number 0", "sofa number 1", "lamp number 2"]
DOCS = ["drill model 0", "a sofa with a long description " * 5, "kettle model 3"]


def test_bce_training_changes_every_parameter_and_saves_loadable_folders(
    tmp_path, tiny_bert, write_pointwise, tiny_train_config
):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    before = {
        n: p.detach().clone()
        for n, p in AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).named_parameters()
    }
    result = train(tiny_train_config(tmp_path, data, tiny_bert))
    final = AutoModelForSequenceClassification.from_pretrained(result.final_dir)
    unchanged = [
        n for n, p in final.named_parameters() if n in before and "classifier" not in n and torch.equal(before[n], p)
    ]
    assert unchanged == []
    assert result.best_dir is not None
    meta = ModelMetadata.load(result.final_dir)
    assert meta.model_type == "cross-encoder" and meta.num_labels == 1 and meta.max_length == 32
    assert meta.labels["relevant_gain"] == 2
    assert meta.training["loss"]["name"] == "bce"
    assert result.metrics["pairs_seen"] > 0
    card = (Path(result.final_dir) / "README.md").read_text()
    assert "bce" in card and "AutoModelForSequenceClassification" in card and "| ndcg@10 |" in card
    assert "eval_ndcg@10" in result.metrics["final_validation"]
    # One validation per epoch, and the best one is what best/ holds.
    history = result.metrics["validation_history"]
    assert len(history) == 2
    assert ModelMetadata.load(result.best_dir).training["best"]["eval_ndcg@10"] == max(
        h["eval_ndcg@10"] for h in history
    )


def test_saved_model_scores_identically_in_rankwright_transformers_and_sentence_transformers(
    tmp_path, tiny_bert, write_pointwise, tiny_train_config
):
    from sentence_transformers import CrossEncoder

    data = write_pointwise(tmp_path / "pairs.jsonl")
    result = train(tiny_train_config(tmp_path, data, tiny_bert, **{"training.epochs": 1}))
    ours = Reranker.from_pretrained(result.final_dir).score(QUERIES, DOCS)
    hf = _hf_logits(result.final_dir, QUERIES, DOCS)
    st = CrossEncoder(result.final_dir, activation_fn=torch.nn.Identity(), max_length=32).predict(
        list(zip(QUERIES, DOCS, strict=True))
    )
    assert np.abs(ours - hf).max() <= 1e-5
    assert np.abs(ours - np.asarray(st)).max() <= 1e-5
    assert len(set(np.round(ours, 6))) == 3  # not a constant


def test_query_is_never_truncated_before_the_document(tiny_bert):
    tok = AutoTokenizer.from_pretrained(tiny_bert)
    from rankwright.models.cross_encoder import CrossEncoderHead

    head = CrossEncoderHead(tok, max_length=16)
    query = "cordless drill eighteen volt"
    (features,) = head.encode([query], ["a very long product description " * 10])
    text = tok.decode(features["input_ids"])
    assert len(features["input_ids"]) == 16
    assert query in text


def test_lora_training_merge_export_scores_like_the_adapter(tmp_path, tiny_bert, write_pointwise, tiny_train_config):
    from sentence_transformers import CrossEncoder

    from rankwright.commands.export import ExportConfig
    from rankwright.commands.export import main as export

    data = write_pointwise(tmp_path / "pairs.jsonl")
    cfg = tiny_train_config(
        tmp_path,
        data,
        tiny_bert,
        **{"lora.enabled": True, "lora.target_modules": ["query", "value"], "lora.r": 4, "training.epochs": 1},
    )
    result = train(cfg)
    assert ModelMetadata.load(result.final_dir).adapter is True
    adapter_scores = Reranker.from_pretrained(result.final_dir).score(QUERIES, DOCS)
    merged = export(ExportConfig(model=result.final_dir, output=str(tmp_path / "merged")))
    assert ModelMetadata.load(merged).adapter is False
    merged_scores = Reranker.from_pretrained(merged).score(QUERIES, DOCS)
    hf = _hf_logits(str(merged), QUERIES, DOCS)
    cross_encoder = CrossEncoder(str(merged), activation_fn=torch.nn.Identity(), max_length=32)
    st = cross_encoder.predict(list(zip(QUERIES, DOCS, strict=True)))
    assert np.abs(adapter_scores - merged_scores).max() <= 1e-5
    assert np.abs(merged_scores - hf).max() <= 1e-5
    assert np.abs(merged_scores - np.asarray(st)).max() <= 1e-5
    # The score head was trained, not left at its random initialisation.
    base_head = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=1)
    merged_model = AutoModelForSequenceClassification.from_pretrained(merged)
    assert not torch.equal(base_head.classifier.weight, merged_model.classifier.weight)


def test_multi_positive_margin_groups_from_seed002_jsonl(tmp_path, tiny_bert, write_seed002, tiny_train_config):
    data = write_seed002(tmp_path / "train.jsonl")
    cfg = tiny_train_config(
        tmp_path,
        data,
        tiny_bert,
        **{
            "labels": {"scheme": "binary", "threshold": 1},
            "loss": {"name": "margin", "params": {"margin": 1.0}},
            "sampling": {"negatives_per_group": 2, "positives_per_group": 0, "hard_ratio": 0.5},
        },
    )
    result = train(cfg)
    assert result.metrics["global_steps"] > 0
    assert result.metrics["train_loss"] > 0
    # 14 training queries (70% of 20), each one group of both its positives and 2
    # negatives, for 2 epochs; validation: 6 queries with 2 positives and 3 negatives each
    assert result.metrics["train_examples_per_epoch"] == 14
    assert result.metrics["pairs_seen"] == 2 * 14 * (2 + 2)
    assert result.metrics["validation"] == {"queries": 6, "pairs": 6 * (2 + 3)}
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text())
    assert summary["pairs_seen"] == result.metrics["pairs_seen"]


def test_listwise_and_classes(tmp_path, tiny_bert, write_pointwise, tiny_train_config):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    listwise = tiny_train_config(
        tmp_path,
        data,
        tiny_bert,
        **{
            "loss": {"name": "listwise_ce", "params": {"temperature": 0.5}},
            "sampling": {"negatives_per_group": 3},
            "training.epochs": 1,
        },
    )
    assert train(listwise).metrics["global_steps"] > 0
    classes = tiny_train_config(
        tmp_path,
        data,
        tiny_bert,
        **{
            "labels": {"scheme": "classes", "classes": ["2", "1", "0"], "gains": {"2": 2, "1": 1, "0": 0}},
            "loss": {"name": "ce", "params": {"class_weights": "balanced"}},
            "training.epochs": 1,
            "output_dir": str(tmp_path / "cls"),
        },
    )
    result = train(classes)
    weights = result.metrics["loss_settings"]["class_weights"]
    assert list(weights) == ["2", "1", "0"] and all(w > 0 for w in weights.values())
    summary = json.loads((tmp_path / "cls" / "train_summary.json").read_text())
    assert summary["loss_settings"]["class_weights"] == weights
    reranker = Reranker.from_pretrained(result.final_dir)
    assert reranker.metadata.num_labels == 3
    probs = reranker.score(QUERIES, DOCS, probabilities=True)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    expected_gain = reranker.score(QUERIES, DOCS)
    assert np.allclose(expected_gain, probs @ np.array([2.0, 1.0, 0.0]) / 2.0, atol=1e-6)
    assert set(reranker.predict_classes(QUERIES, DOCS)) <= {"2", "1", "0"}


def test_listwise_without_positives_fails_before_training(tmp_path, tiny_bert, write_pointwise, tiny_train_config):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    cfg = tiny_train_config(
        tmp_path,
        data,
        tiny_bert,
        **{"labels": {"scheme": "graded", "relevant_gain": 5}, "loss": {"name": "listwise_ce"}},
    )
    with pytest.raises(TrainingSetupError, match="needs at least one positive"):
        train(cfg)
    assert not (tmp_path / "out").exists()


def test_classes_on_binary_data_fails_before_training(tmp_path, tiny_bert, write_pointwise, tiny_train_config):
    data = write_pointwise(tmp_path / "pairs.jsonl", graded=False)
    cfg = tiny_train_config(
        tmp_path, data, tiny_bert, **{"labels": {"scheme": "binary", "threshold": 1}, "loss": {"name": "ce"}}
    )
    with pytest.raises(TrainingSetupError, match=r"labels\.scheme: classes"):
        train(cfg)
    assert not (tmp_path / "out").exists()


def _write_flag(path: Path, n_queries: int = 16, scores: bool = True, scale: float = 1.0) -> Path:
    """FlagEmbedding JSONL with teacher scores: the document repeating the query word scores
    highest (``scale``: every teacher score multiplied by it; 0: a teacher with no preference)."""
    import json

    words = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan"]
    lines = []
    for q in range(n_queries):
        word = words[q % len(words)]
        record = {"query": f"{word} {q}", "pos": [f"{word} model {q}"], "neg": [f"{w} model" for w in words[:4]]}
        if scores:
            record["pos_scores"] = [5.0 * scale]
            record["neg_scores"] = [(4.0 if w == word else -1.0 - i) * scale for i, w in enumerate(words[:4])]
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("loss", ["margin_mse", "listwise_kl"])
def test_distillation_from_flag_teacher_scores(tmp_path, tiny_bert, loss, tiny_train_config):
    def run(name: str, scale: float) -> dict:
        data = _write_flag(tmp_path / f"{name}.jsonl", scale=scale)
        cfg = tiny_train_config(
            tmp_path,
            data,
            tiny_bert,
            **{
                "labels": {"scheme": "binary", "threshold": 1},
                "loss": {"name": loss},
                "sampling": {"negatives_per_group": 4, "positives_per_group": 1},
                "training.epochs": 1,
                "output_dir": str(tmp_path / name),
            },
        )
        return train(cfg).metrics

    metrics = run("teacher", 1.0)
    assert metrics["global_steps"] > 0 and np.isfinite(metrics["train_loss"])
    assert metrics["train_loss"] > 0
    assert metrics["pairs_seen"] == metrics["train_examples_per_epoch"] * (1 + 4)
    # The same pairs and labels under a teacher that prefers no document: the loss follows
    # the teacher (the near-random student is far from the peaked teacher, close to the flat one).
    flat = run("flat", 0.0)
    assert flat["pairs_seen"] == metrics["pairs_seen"]
    assert flat["train_loss"] < 0.5 * metrics["train_loss"]


def test_distillation_needs_teacher_scores_and_listed_negatives(tmp_path, tiny_bert, tiny_train_config):
    plain = _write_flag(tmp_path / "plain.jsonl", scores=False)
    base = {"labels": {"scheme": "binary", "threshold": 1}, "loss": {"name": "margin_mse"}}
    with pytest.raises(TrainingSetupError, match="has none"):
        train(tiny_train_config(tmp_path, plain, tiny_bert, **base))
    scored = _write_flag(tmp_path / "scored.jsonl")
    with pytest.raises(TrainingSetupError, match="hard_ratio 1"):
        train(tiny_train_config(tmp_path, scored, tiny_bert, **base, sampling={"hard_ratio": 0.5}))


def test_a_checkpoint_with_an_unreadable_state_is_skipped_for_the_one_before(tmp_path, caplog):
    from rankwright.training.run import last_complete_checkpoint

    for step, text in ((5, '{"global_step": 5}'), (10, ""), (15, None)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if text is not None:
            (folder / "trainer_state.json").write_text(text)
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-5")
    assert "checkpoint-10: its trainer_state.json cannot be read" in caplog.text
    assert "incomplete checkpoint" in caplog.text and "checkpoint-15" in caplog.text


def test_best_and_early_stopping_state_round_trip_through_a_checkpoint():
    from rankwright.training.trainer import EarlyStopCallback, SaveBestCallback, TrainingProgress

    saver, stopper = SaveBestCallback(lambda *a, **k: None, "ndcg@10"), EarlyStopCallback("ndcg@10", 3)
    progress = TrainingProgress()
    saver.best, saver.best_step, saver.history = 0.91, 200, [{"step": 200, "epoch": 1.0, "eval_ndcg@10": 0.91}]
    stopper.best, stopper.best_step, stopper.bad_evaluations = 0.91, 200, 2
    progress.pairs_seen, progress.loss_sum = 640, 12.5
    stored = json.loads(json.dumps({type(c).__name__: c.state() for c in (saver, stopper, progress)}))
    again = SaveBestCallback(lambda *a, **k: None, "ndcg@10"), EarlyStopCallback("ndcg@10", 3), TrainingProgress()
    for callback in again:
        callback.restore(stored)
    assert (again[0].best, again[0].best_step, again[0].history) == (0.91, 200, saver.history)
    assert (again[1].best, again[1].bad_evaluations) == (0.91, 2)
    assert (again[2].pairs_seen, again[2].loss_sum) == (640, 12.5)


def test_saved_cross_encoder_loads_in_sentence_transformers_with_its_max_length(tmp_path, tiny_cross_encoder):
    """``CrossEncoder(path)`` with no arguments truncates at the folder's max_length and
    gives rankwright's sigmoid scores, also on pairs longer than max_length."""
    from huggingface_hub import ModelCard
    from sentence_transformers import CrossEncoder

    from rankwright.training.run import save_model

    model = AutoModelForSequenceClassification.from_pretrained(tiny_cross_encoder).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_cross_encoder)
    metadata = ModelMetadata(max_length=16, base_model=tiny_cross_encoder, labels={"scheme": "binary"})
    folder = tmp_path / "saved"
    save_model(model, tokenizer, metadata, folder)
    queries = ["cordless drill", "sofa", "desk lamp with clamp", "kettle"]
    docs = ["an eighteen volt drill with two batteries and a case " * 3, "a sofa " * 30, "lamp", "steel kettle " * 9]
    cross_encoder = CrossEncoder(str(folder))
    assert cross_encoder.max_seq_length == 16
    st = np.asarray(cross_encoder.predict(list(zip(queries, docs, strict=True))))
    logits = Reranker.from_pretrained(folder).logits(queries, docs)
    assert np.allclose(st, 1.0 / (1.0 + np.exp(-logits.astype(np.float64))), atol=1e-5)
    assert len(set(np.round(st, 6))) == 4  # not a constant
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "sentence-transformers" and card.data.base_model is None
    text = (folder / "README.md").read_text()
    assert str(tmp_path) not in text and tiny_cross_encoder not in text


@pytest.mark.parametrize("progress", [True, False])
def test_training_writes_nothing_to_stdout(tmp_path, tiny_bert, write_pointwise, capfd, progress, tiny_train_config):
    """Progress bars go to stderr; stdout is the command's report. The Trainer's raw log
    dicts are printed nowhere (each evaluation is one log line: tests/training/test_console.py)."""
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=12)
    config = tiny_train_config(tmp_path, data, tiny_bert, progress=progress)
    config.training.epochs = 1
    config.training.logging_steps = 1
    train(config)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert "'eval_ndcg@10'" not in captured.err and "'loss'" not in captured.err
