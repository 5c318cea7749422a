"""``README.md`` model cards for saved model folders: what the model is, how it was
trained, how well it did, and how to load it with rankwright, transformers and
sentence-transformers. The front matter is the Hub's model card metadata
(:mod:`rankwright.models.card_data`), so a folder can be pushed to the Hub as it is; no
local absolute path is written (a local base model or data file is named by its last
path part)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rankwright.models.card_data import card_data, folder_validation, front_matter, public_text, shown_model
from rankwright.models.metadata import ModelMetadata

_TABLE_METRICS = ("ndcg@10", "ndcg", "map", "mrr", "p@10", "recall@100")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _metrics_table(metrics: dict[str, float]) -> list[str]:
    rows = []
    for name in _TABLE_METRICS:
        all_key, inf_key = f"eval_{name}", f"eval_{name}_informative"
        if all_key in metrics:
            rows.append(f"| {name} | {_fmt(metrics[all_key])} | {_fmt(metrics.get(inf_key, float('nan')))} |")
    if not rows:
        return ["No validation metrics were recorded (no validation split)."]
    return ["| metric | all validation queries | informative queries |", "| --- | --- | --- |", *rows]


def _per_evaluation(rows: list[dict[str, Any]]) -> list[str]:
    """The validation metrics (all queries) of each evaluation during training."""
    names = [m for m in _TABLE_METRICS if any(f"eval_{m}" in r for r in rows)]
    if not rows or not names:
        return []
    lines = [
        "## Validation per evaluation",
        "",
        "All validation queries; the training folder's `training_report.html` and `training_curves.png` also plot "
        "the loss and learning rate.",
        "",
        "| step | epoch | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for r in rows:
        epoch = r.get("epoch")
        cells = [str(r.get("step", "?")), "-" if epoch is None else f"{epoch:.2f}"]
        cells += [_fmt(r.get(f"eval_{m}", float("nan"))) for m in names]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _hyper(config: dict[str, Any]) -> list[str]:
    training = config.get("training", {})
    keys = (
        "epochs",
        "max_steps",
        "batch_size",
        "grad_accum",
        "learning_rate",
        "weight_decay",
        "warmup_ratio",
        "max_grad_norm",
        "bf16",
        "fp16",
        "seed",
    )
    lines = [f"| {k} | {training[k]} |" for k in keys if k in training]
    lora = config.get("lora", {})
    if lora.get("enabled"):
        lines.append(
            f"| LoRA | r={lora.get('r')}, alpha={lora.get('alpha')}, dropout={lora.get('dropout')}, "
            f"targets={lora.get('target_modules') or 'peft default'} |"
        )
    sampling = config.get("sampling", {})
    if sampling:
        lines.append(f"| sampling | {', '.join(f'{k}={v}' for k, v in sampling.items())} |")
    return ["| setting | value |", "| --- | --- |", *lines]


def _where(folder: str | Path) -> str:
    """The folder as the snippets name it: as given when relative, else its last part."""
    path = Path(folder)
    return path.as_posix() if not path.is_absolute() and ".." not in path.parts else path.name


def model_card(metadata: ModelMetadata, folder: str | Path) -> str:
    """The card's Markdown text for ``metadata`` (the folder's ``rankwright.json``):
    YAML front matter, then the body. A front matter field YAML cannot hold is a
    ``ValueError`` naming it."""
    name = Path(folder).name
    header = front_matter(card_data(metadata, name))
    return header + "\n" + public_text(_body(metadata, _where(folder)))


def _validation(training: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The heading and the validation metrics of this folder's weights (:func:`folder_validation`)."""
    best = training.get("best")
    if best and not training.get("result"):
        heading = f"Validation (best evaluation, step {best.get('step', '?')})"
    else:
        heading = "Validation (end of training)"
    return heading, folder_validation(training)


def _body(metadata: ModelMetadata, folder: str) -> str:
    t = metadata.training
    result = t.get("result", {})
    heading, validation = _validation(t)
    lines = [
        *_summary(metadata, folder),
        "",
        "## Hyper-parameters",
        "",
        *_hyper(t.get("config", {})),
        "",
        f"## {heading}",
        "",
        *_metrics_table(validation),
        "",
        "Metrics follow trec_eval (pytrec_eval via ir-measures): linear gains, log2 discount, ties by doc id.",
        "",
        *_per_evaluation(result.get("validation_per_evaluation") or []),
        "## Use",
        "",
        "```python",
        "from rankwright import Reranker",
        "",
        f'reranker = Reranker.from_pretrained("{folder}")',
        'ranked = reranker.rank("query", ["document one", "document two"], top_k=2)',
        "```",
        "",
        *_other_libraries(metadata, folder),
    ]
    return "\n".join(lines)


def _summary(metadata: ModelMetadata, folder: str) -> list[str]:
    """The title and the bullet list: base model, outputs, input, data, labels, loss,
    training time, and the folder's checkpoint, calibration and fusion."""
    t = metadata.training
    result = t.get("result", {})
    labels = metadata.labels
    loss = t.get("loss", {})
    loss_text = loss.get("name", "?") + (
        " (" + ", ".join(f"{k}={v}" for k, v in loss.items() if k != "name") + ")" if len(loss) > 1 else ""
    )
    outputs = "one relevance logit" if metadata.num_labels == 1 else f"{metadata.num_labels} classes {metadata.classes}"
    input_line = (
        f"- **Input**: query and document as one pair, at most {metadata.max_length} tokens, document cut first"
    )
    if metadata.model_type == "bi-encoder":
        outputs = "a unit-length embedding per text"
        input_line = f"- **Input**: query and document embedded apart, at most {metadata.max_length} tokens each"
    lines = [
        f"# {Path(folder).name}: a rankwright {metadata.model_type} reranker",
        "",
        f"- **Base model**: `{shown_model(metadata.base_model)}`" + (" (LoRA adapter)" if metadata.adapter else ""),
        f"- **Outputs**: {outputs}; score = {metadata.score}; probabilities by {metadata.activation}",
        input_line,
        f"- **Training data**: `{Path(str(t.get('data') or '?')).name}` ({_trained_on(t)})",
        f"- **Labels**: {labels.get('scheme', '?')}, relevant when gain >= {labels.get('relevant_gain', '?')}",
        f"- **Loss**: {loss_text}",
    ]
    if result:
        lines.append(
            f"- **Training time**: {result.get('train_runtime_s', float('nan')):.0f} s, "
            f"{result.get('global_steps', '?')} steps, {result.get('pairs_per_second') or 0:.1f} pairs/s"
        )
    return lines + _folder_notes(metadata)


def _trained_on(training: dict[str, Any]) -> str:
    """The queries and judged pairs trained on, and the training split's when those were fewer."""
    used = f"{training.get('train_queries', '?')} queries, {training.get('train_pairs', '?')} judged pairs"
    split = (training.get("train_split_queries"), training.get("train_split_pairs"))
    if None in split or split == (training.get("train_queries"), training.get("train_pairs")):
        return used
    sampling = (training.get("config") or {}).get("sampling") or {}
    limit = f", sampling.max_pairs {sampling['max_pairs']}" if sampling.get("max_pairs") is not None else ""
    return f"{used} trained on; the training split has {split[0]} queries and {split[1]} pairs{limit}"


def _folder_notes(metadata: ModelMetadata) -> list[str]:
    """What this folder adds to the training run: its checkpoint, calibration, fusion."""
    lines = []
    best = metadata.training.get("best")
    if best and not metadata.training.get("result"):
        chosen = ", ".join(f"{k.removeprefix('eval_')} {_fmt(v)}" for k, v in best.items() if k != "step")
        lines.append(f"- **This folder**: best validation checkpoint (step {best.get('step')}, {chosen})")
    if metadata.calibration:
        lines.append(
            f"- **Calibration**: {metadata.calibration.get('method')} fitted on "
            f"{metadata.calibration.get('fitted_on', '?')}; `score(..., calibrated=True)` gives P(relevant)"
        )
    if metadata.fusion:
        weights = ", ".join(f"{k} {v:g}" for k, v in metadata.fusion.get("weights", {}).items() if v)
        lines.append(
            f"- **Score fusion**: {metadata.fusion.get('method')} ({weights}), fitted on "
            f"{metadata.fusion.get('fitted_on', '?')}; `rank(..., first_stage_scores=...)` needs the first-stage "
            "scores when they are weighted"
        )
    return lines


def _other_libraries(metadata: ModelMetadata, folder: str) -> list[str]:
    """How the folder loads without rankwright: sentence-transformers for bi-encoders, a
    note for adapters, transformers (and sentence-transformers' CrossEncoder) otherwise."""
    if metadata.model_type == "bi-encoder":
        return [
            "```python",
            "from sentence_transformers import SentenceTransformer",
            "",
            f'model = SentenceTransformer("{folder}")',
            'q, d = model.encode(["query", "document"], normalize_embeddings=True)',
            "score = float(q @ d)  # the cosine rankwright ranks by",
            "```",
            "",
        ]
    if metadata.adapter:
        return [
            "This folder holds a LoRA adapter; `rankwright export --model THIS --output MERGED` writes a "
            "standalone model that transformers and sentence-transformers load directly.",
            "",
        ]
    lines = [
        "```python",
        "import torch",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
        "",
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")',
        f'model = AutoModelForSequenceClassification.from_pretrained("{folder}").eval()',
        f'batch = tokenizer(["query"], ["document"], truncation="longest_first", max_length={metadata.max_length},',
        '                  return_tensors="pt")',
        "with torch.no_grad():",
        "    scores = model(**batch).logits",
        "```",
        "",
        f"`longest_first` never fails on a long query: it cuts the longer text until the pair fits "
        f"{metadata.max_length} tokens. rankwright keeps a query shorter than the room whole and cuts the "
        "document, so the tokens, and the scores, are the same whenever the query takes at most half of "
        "max_length (`only_second`, which cuts only the document, raises on a query longer than max_length).",
        "",
    ]
    if metadata.num_labels == 1:
        lines += [
            "```python",
            "from sentence_transformers import CrossEncoder",
            "",
            f'model = CrossEncoder("{folder}")  # max_length {metadata.max_length} and a sigmoid, from the folder',
            'probabilities = model.predict([("query", "document")])  # sigmoid of rankwright\'s raw scores',
            "```",
            "",
            "`CrossEncoder(path, activation_fn=torch.nn.Identity())` gives the raw scores (logits).",
            "",
        ]
    return lines


def write_model_card(folder: str | Path, metadata: ModelMetadata) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(model_card(metadata, folder), encoding="utf-8")
    return path


def save_fusion(folder: str | Path, fusion: dict[str, Any]) -> ModelMetadata:
    """Store ``fusion`` in the folder's ``rankwright.json`` (``rerank``, ``serve`` and
    ``Reranker.rank`` then apply it) and refresh the model card rankwright wrote there."""
    metadata = ModelMetadata.load(folder)
    metadata.fusion = fusion
    metadata.save(folder)
    if (Path(folder) / "README.md").exists():
        write_model_card(folder, metadata)
    return metadata
