from rankwright.models.card import model_card
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
    assert "base_model: all-MiniLM-L6-v2" in text
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
