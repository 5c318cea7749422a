"""After training: training_curves.png, training_report.html, the Trainer's log_history
in train_summary.json and the per-evaluation table of the model card, on a tiny BERT
with validation (2 epochs) and without (a single step)."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from matplotlib.image import imread

from rankwright.training.run import train

CURVES = {"logging_steps": 4, "eval_batch_size": 64}  # of the tiny training settings


def _page_image(page: str) -> bytes:
    (source,) = re.findall(r'src="data:image/png;base64,([^"]*)"', page)
    return base64.b64decode(source)


@pytest.fixture(scope="module")
def validated(tmp_path_factory, tiny_bert, write_pointwise, tiny_train_config):
    tmp = tmp_path_factory.mktemp("curves")
    data = write_pointwise(tmp / "pairs.jsonl", n_queries=20)
    return train(tiny_train_config(tmp, data, tiny_bert, CURVES))


def test_log_history_is_saved_with_loss_learning_rate_and_two_evaluations(validated):
    out = Path(validated.output_dir)
    saved = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    history = saved["log_history"]
    assert history == json.loads(json.dumps(validated.metrics["log_history"]))
    losses = [e for e in history if "loss" in e]
    steps = validated.metrics["global_steps"]
    assert len(losses) == steps // 4 and all("learning_rate" in e for e in losses)
    evaluations = [e for e in history if "eval_ndcg@10" in e]
    assert len(evaluations) == 2 and evaluations[-1]["step"] == steps
    per_evaluation = saved["validation_per_evaluation"]
    assert [e["step"] for e in per_evaluation] == [e["step"] for e in evaluations]
    assert [e["eval_map"] for e in per_evaluation] == [e["eval_map"] for e in evaluations]
    assert "eval_runtime" not in per_evaluation[0]
    assert saved["files"] == {
        "training_curves": str(out / "training_curves.png"),
        "training_report": str(out / "training_report.html"),
    }


def test_curves_png_decodes_and_the_report_embeds_it(validated):
    out = Path(validated.output_dir)
    png = (out / "training_curves.png").read_bytes()
    pixels = imread(io.BytesIO(png))
    assert pixels.ndim == 3 and pixels.shape[0] >= 700 and pixels.shape[1] >= 600  # three panels
    assert pixels.std() > 0.01
    page = (out / "training_report.html").read_text(encoding="utf-8")
    assert re.findall(r'<h2 id="([^"]+)"', page) == ["summary", "best", "curves", "validation"]
    assert _page_image(page) == png
    for external in ("<script", "<link", "http://", "https://"):
        assert external not in page
    evaluations = validated.metrics["validation_per_evaluation"]
    rows = re.findall(r"<tr>(.*?)</tr>", page.split('id="validation-table"')[1].split("<tbody>")[1])
    assert len(rows) == 2
    for row, e in zip(rows, evaluations, strict=True):
        cells = re.findall(r'<td class="num">([^<]*)</td>', row)
        assert cells[0] == str(e["step"]) and cells[2] == f"{e['eval_ndcg@10']:.4f}"
    best_value = max(e["eval_ndcg@10"] for e in evaluations)
    best_step = next(e["step"] for e in evaluations if e["eval_ndcg@10"] == best_value)
    assert f"step {best_step}, eval_ndcg@10 = {best_value:.4f}" in page
    assert f"{validated.metrics['global_steps']}</td>" in page.split('id="summary-table"')[1]


def test_final_model_card_lists_validation_per_evaluation(validated):
    card = (Path(validated.final_dir) / "README.md").read_text(encoding="utf-8")
    section = card.split("## Validation per evaluation")[1].split("## ")[0]
    rows = [line for line in section.splitlines() if re.match(r"\| \d", line)]
    evaluations = validated.metrics["validation_per_evaluation"]
    assert len(rows) == 2
    for row, e in zip(rows, evaluations, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == str(e["step"]) and cells[2] == f"{e['eval_ndcg@10']:.4f}"
    assert "../" not in card and "training_curves.png" in card


def test_single_step_without_validation_still_writes_curves(tmp_path, tiny_bert, write_pointwise, tiny_train_config):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=6)
    config = tiny_train_config(tmp_path, data, tiny_bert, CURVES, split={"ratios": [1.0, 0.0, 0.0]})
    config.training.max_steps = 1
    result = train(config)
    out = Path(result.output_dir)
    assert result.metrics["global_steps"] == 1 and result.best_dir is None
    history = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))["log_history"]
    assert len(history) == 1 and "train_loss" in history[0] and "loss" not in history[0]
    png = (out / "training_curves.png").read_bytes()
    pixels = imread(io.BytesIO(png))
    assert 400 <= pixels.shape[0] < 700 and pixels.std() > 0.01  # two panels: loss and learning rate
    page = (out / "training_report.html").read_text(encoding="utf-8")
    assert _page_image(page) == png
    assert "No validation ran, so there is no best checkpoint" in page
    assert "The loss was never logged: training ran 1 optimizer step(s)" in page
    assert "Validation per evaluation" not in (out / "final" / "README.md").read_text(encoding="utf-8")
