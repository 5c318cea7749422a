"""Training generative rerankers end to end on tiny causal LMs: LoRA yes/no and
4-class, full fine-tuning, gradient checkpointing, the merged export, QLoRA's CPU
error, and the train/evaluate CLI with the classification report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rankwright.cli import main as cli
from rankwright.config import from_dict
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainingSetupError, train

CUSTOM = {"template": "custom", "prefix": "{system}\n", "suffix": "\nanswer:"}
QUERIES = ["drill number 0", "sofa number 1", "lamp number 2"]
DOCS = ["drill model 0", "a sofa with a long description " * 5, "kettle model 3"]
ESCI = {"scheme": "classes", "classes": ["E", "S", "C", "I"], "gains": {"E": 3, "S": 2, "C": 1, "I": 0}}


def _config(tmp_path, data, model, **sections) -> TrainConfig:
    base = {
        "data": {"path": str(data)},
        "labels": {"scheme": "graded", "relevant_gain": 2},
        "split": {"ratios": [0.7, 0.3, 0.0], "seed": 1},
        "model": {"name": model, "max_length": 128, "prompt": CUSTOM},
        "loss": {"name": "bce"},
        "lora": {"enabled": True, "r": 4, "alpha": 8},
        "training": {"epochs": 1, "batch_size": 8, "learning_rate": 2e-3, "save_steps": 1000, "logging_steps": 5},
        "output_dir": str(tmp_path / "out"),
        "progress": False,
    }
    base.update(sections)
    return from_dict(TrainConfig, base)


def _esci_file(path, n_queries: int = 24):
    """Home-Depot-like pairs binned as ESCI classes: E repeats the query word."""
    rows = []
    words = ["drill", "sofa", "lamp", "kettle", "hose", "table"]
    for q in range(n_queries):
        word = words[q % len(words)]
        for j, (label, doc) in enumerate(
            [("E", f"{word} pro"), ("S", f"{word} basic"), ("C", f"{word} case"), ("I", "garden gnome")]
        ):
            rows.append(
                {"query_id": f"q{q}", "query": f"{word} {q}", "doc_id": f"q{q}d{j}", "doc": doc, "label": label}
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _causal_scores(folder, reranker: Reranker) -> np.ndarray:
    """Scores of a plain transformers causal LM, full logits, pair by pair."""
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    head = reranker.head
    out = []
    with torch.no_grad():
        for f in head.encode(QUERIES, DOCS):
            logits = model(input_ids=torch.tensor([f["input_ids"]])).logits[0, -1, head.label_ids]
            out.append(float(logits[0] - logits[1]))
    assert tok.padding_side == "left"
    return np.array(out)


def test_lora_yes_no_training_reload_and_merged_export(tmp_path, tiny_llama, write_pointwise):
    from rankwright.commands.export import ExportConfig
    from rankwright.commands.export import main as export

    data = write_pointwise(tmp_path / "pairs.jsonl")
    result = train(_config(tmp_path, data, tiny_llama))
    meta = ModelMetadata.load(result.final_dir)
    assert meta.model_type == "generative" and meta.adapter and meta.score == "probability"
    assert meta.prompt["label_words"] == ["yes", "no"] and len(meta.prompt["label_token_ids"]) == 2
    assert result.metrics["final_validation"]["eval_ndcg@10"] > 0
    reranker = Reranker.from_pretrained(result.final_dir)
    probs = reranker.score(QUERIES, DOCS)
    assert np.all((probs > 0) & (probs < 1))
    diff = reranker.logits(QUERIES, DOCS)
    assert np.allclose(probs, 1 / (1 + np.exp(-diff.astype(np.float64))))
    # LoRA changed the scores of the base model.
    base = Reranker.from_pretrained(
        tiny_llama, prompt=from_dict(type(_config(tmp_path, data, "x").model.prompt), CUSTOM)
    )
    assert np.abs(base.logits(QUERIES, DOCS) - diff).max() > 1e-4

    merged = export(ExportConfig(model=result.final_dir, output=str(tmp_path / "merged")))
    assert not (merged / "adapter_config.json").exists()
    merged_reranker = Reranker.from_pretrained(merged)
    assert np.abs(merged_reranker.logits(QUERIES, DOCS) - diff).max() <= 1e-5
    assert np.abs(_causal_scores(merged, merged_reranker) - diff).max() <= 1e-5


def test_esci_four_class_lora_and_the_evaluate_report(tmp_path, tiny_llama, capsys):
    data = _esci_file(tmp_path / "esci.jsonl")
    cfg = _config(tmp_path, data, tiny_llama, labels=ESCI, loss={"name": "ce"})
    result = train(cfg)
    reranker = Reranker.from_pretrained(result.final_dir)
    assert reranker.metadata.num_labels == 4
    assert reranker.metadata.prompt["label_words"] == ["exact", "substitute", "complement", "irrelevant"]
    probs = reranker.score(QUERIES, DOCS, probabilities=True)
    assert probs.shape == (3, 4) and np.allclose(probs.sum(1), 1.0)
    assert np.allclose(reranker.score(QUERIES, DOCS), probs @ np.array([3, 2, 1, 0]) / 3)
    out = tmp_path / "eval"
    rc = cli(
        [
            "evaluate",
            "--scorer",
            "model",
            "--model",
            result.final_dir,
            "--data.path",
            str(data),
            "--labels.scheme",
            "classes",
            "--labels.classes",
            "E,S,C,I",
            "--labels.gains",
            "{E: 3, S: 2, C: 1, I: 0}",
            "--output_dir",
            str(out),
            "--progress",
            "false",
        ]
    )
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    classes = metrics["classification"]["classes"]
    assert set(classes) >= {"accuracy", "confusion_matrix"}
    assert np.asarray(classes["confusion_matrix"]["rows_true_columns_predicted"]).sum() == 96
    by_label = {row["label"]: row for row in metrics["classification"]["by_label"]}
    assert list(by_label) == ["E", "S", "C", "I"] and all("mean_score" in r for r in by_label.values())
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "ndcg@10" in printed


@pytest.mark.parametrize("loss", ["margin", "listwise_ce"])
def test_group_losses_full_fine_tuning_with_checkpointing(tmp_path, tiny_llama, write_pointwise, loss):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    before = {n: p.detach().clone() for n, p in AutoModelForCausalLM.from_pretrained(tiny_llama).named_parameters()}
    cfg = _config(
        tmp_path,
        data,
        tiny_llama,
        loss={"name": loss},
        lora={"enabled": False},
        labels={"scheme": "graded", "relevant_gain": 2},
        sampling={"negatives_per_group": 3},
        training={"epochs": 1, "batch_size": 4, "learning_rate": 1e-3, "gradient_checkpointing": True},
    )
    result = train(cfg)
    assert result.metrics["global_steps"] > 0
    after = dict(AutoModelForCausalLM.from_pretrained(result.final_dir).named_parameters())
    assert not ModelMetadata.load(result.final_dir).adapter
    changed = [n for n, p in after.items() if not torch.equal(p, before[n])]
    # Every weight that reaches the answer position changes (the tied embedding included).
    assert len(changed) == len(after), sorted(set(after) - set(changed))


def test_qlora_on_cpu_is_a_clear_error(tmp_path, tiny_llama, write_pointwise, caplog):
    if torch.cuda.is_available():
        pytest.skip("this checks the CPU error")
    data = write_pointwise(tmp_path / "pairs.jsonl")
    with pytest.raises(ValueError, match=r"QLoRA.*needs a CUDA GPU"):
        train(_config(tmp_path, data, tiny_llama, lora={"enabled": True, "quantize": "4bit"}))
    argv = ["train", "--data.path", str(data), "--model.name", tiny_llama, "--model.type", "generative"]
    argv += ["--model.prompt.template", "custom", "--model.prompt.prefix", "{system} ", "--model.prompt.suffix", " a:"]
    argv += ["--lora.enabled", "true", "--lora.quantize", "4bit", "--output_dir", str(tmp_path / "cli")]
    caplog.clear()
    assert cli(argv) == 2  # the CLI's one-line error, not a traceback
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("needs a CUDA GPU" in r.getMessage() and not r.exc_info for r in errors)
    with pytest.raises(TrainingSetupError, match=r"set lora\.enabled true"):
        train(_config(tmp_path, data, tiny_llama, lora={"enabled": False, "quantize": "4bit"}))


def test_train_cli_reads_a_generative_config(tmp_path, tiny_llama, write_pointwise):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    config = tmp_path / "gen.yaml"
    config.write_text(
        f"data: {{path: {data}}}\nlabels: {{scheme: graded, relevant_gain: 2}}\n"
        f"model: {{name: {tiny_llama}, type: generative, max_length: 128,\n"
        "        prompt: {template: custom, prefix: '{system} ', suffix: ' answer:', label_words: [good, bad]}}\n"
        "lora: {enabled: true, r: 4}\ntraining: {epochs: 1, batch_size: 8}\n",
        encoding="utf-8",
    )
    out = tmp_path / "cli"
    assert cli(["train", "--config", str(config), "--output_dir", str(out), "--progress", "false"]) == 0
    meta = ModelMetadata.load(out / "final")
    assert meta.prompt["label_words"] == ["good", "bad"] and meta.prompt["suffix"] == " answer:"


def test_rerank_cli_with_a_generative_model_writes_probabilities(tmp_path, tiny_llama, write_pointwise):
    from rankwright.data.readers import read_run

    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=6)
    result = train(_config(tmp_path, data, tiny_llama))
    out = tmp_path / "reranked.trec"
    rc = cli(["rerank", "--model", result.final_dir, "--data.path", str(data), "--output", str(out), "--progress"])
    assert rc == 0
    run = read_run(out)
    assert len(run) == 30 and run["score"].between(0, 1).all()  # P(yes) for each of the 6 x 5 pairs
    expected = Reranker.from_pretrained(result.final_dir).score(["drill number 0"], ["drill model 0"])
    got = run[(run["query_id"] == "q0") & (run["doc_id"] == "q0d0")]["score"].iloc[0]
    assert abs(got - float(expected[0])) < 1e-6
