"""``rankwright export``: write a standalone model folder; ``merge`` folds LoRA
adapters into the base weights so plain transformers / sentence-transformers load it.

``onnx`` adds ``onnx/model.onnx`` (and with ``int8`` ``onnx/model_int8.onnx``) for
``Reranker.from_pretrained(folder, backend="onnx" | "onnx-int8")``; the folder keeps
its weights and still loads with torch. Given evaluation data (the ``data`` /
``labels`` / ``split`` / ``subset`` options of ``evaluate``), the torch model and each
ONNX file score the subset's candidates on CPU and ``export_report.json`` compares
them: nDCG@10 and MAP (trec_eval conventions, the model's own score, no fusion), their
differences from torch, Pearson and Spearman correlation and the largest difference
of the scores, and pairs/s."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer

from rankwright.commands.configs import ExportConfig
from rankwright.data.loading import LoadedData, load_data
from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID, SCORE
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.evaluation.ranking import RankingConfig, evaluate_run
from rankwright.inference.onnx_backend import (
    ONNX_DIR,
    ONNX_FILES,
    export_onnx,
)
from rankwright.inference.reranker import Reranker
from rankwright.models.card import write_model_card
from rankwright.models.loading import load_adapter_model, model_type_of, resolve_model_path
from rankwright.models.metadata import ModelMetadata
from rankwright.models.st_config import write_cross_encoder_config
from rankwright.output_guard import Claim, claim_folder, writes_output

log = logging.getLogger(__name__)

REPORT_FILE = "export_report.json"
METRICS = ("ndcg@10", "map")
#: a model folder's files (weights, configs, tokenizer, card, ONNX, sentence-transformers modules)
MODEL_FILES = ("*.json", "*.safetensors", "*.bin", "*.txt", "*.model", "*.md", "*.jinja", ONNX_DIR, "[0-9]_*")


def _claim(config: ExportConfig) -> Claim | None:
    """The output folder, unless there is none (an error below) or it is the model's own
    (ONNX files added in place); with ``overwrite`` an earlier model's files go first."""
    if not config.output or Path(config.model).resolve() == Path(config.output).resolve():
        return None
    source = Path(config.model)
    names = [p.name for p in source.iterdir()] if source.is_dir() else []
    return claim_folder(config.output, (*MODEL_FILES, *names), overwrite=config.overwrite, flag="--output")


def merge_adapter(model_dir: str, output: str) -> Path:
    metadata = ModelMetadata.load(model_dir)
    merged = load_adapter_model(model_dir, metadata).merge_and_unload()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    metadata.adapter = False
    metadata.training = {**metadata.training, "merged_from": str(model_dir)}
    metadata.save(out)
    write_cross_encoder_config(out, metadata)
    write_model_card(out, metadata)
    return out


def _has_data(config: ExportConfig) -> bool:
    return bool(config.data.path or config.data.corpus)


@writes_output(_claim)
def main(config: ExportConfig) -> Path:
    """Write the folder (and its ONNX files, and their comparison with torch); returns
    the folder."""
    if not config.model or not config.output:
        raise ValueError("export needs model=<folder> and output=<folder>")
    onnx = config.onnx or config.int8
    if _has_data(config) and not onnx:
        raise ValueError("evaluation data compares the ONNX export with torch: add --onnx true (and --int8 true)")
    src = resolve_model_path(config.model)
    adapter = ModelMetadata.exists(src) and ModelMetadata.load(src).adapter
    kind = model_type_of(src)
    if onnx and kind not in ("cross-encoder", "bi-encoder"):
        raise ValueError(f"{src} is a {kind} model: ONNX export is for cross-encoders and bi-encoders so far")
    if adapter and onnx and not config.merge:
        raise ValueError(f"{src} is a LoRA adapter: ONNX export needs its merged weights (--merge true)")
    if adapter and config.merge:
        out = merge_adapter(src, config.output)
        log.info("merged LoRA adapter of %s into %s", src, out)
    else:
        if adapter:
            log.warning("%s is a LoRA adapter; exporting it unmerged (set merge=true for a standalone model)", src)
        if Path(src).resolve() != Path(config.output).resolve():
            shutil.copytree(src, config.output, dirs_exist_ok=True)
        out = Path(config.output)
    if onnx:
        write_onnx(out, config)
    return out


def write_onnx(folder: Path, config: ExportConfig) -> dict[str, Any]:
    """The ONNX files of ``folder``, recorded under ``export.onnx`` in its
    ``rankwright.json``, and the comparison with torch when ``config`` has data."""
    (folder / REPORT_FILE).unlink(missing_ok=True)  # it would describe earlier files
    stale = folder / ONNX_DIR / ONNX_FILES["onnx-int8"]
    if not config.int8 and stale.exists():
        log.warning("removing %s: it was quantised from an earlier export", stale)
        stale.unlink()
    metadata = ModelMetadata.load(folder) if ModelMetadata.exists(folder) else None
    if metadata is not None and metadata.model_type == "bi-encoder":
        from rankwright.inference.onnx_embedding import export_embedding_onnx

        exported = export_embedding_onnx(folder, int8=config.int8, opset=config.opset, int8_config=config.quantization)
    else:
        reranker = Reranker.from_pretrained(str(folder), device="cpu")
        metadata = reranker.metadata
        exported = export_onnx(reranker, folder, int8=config.int8, opset=config.opset, int8_config=config.quantization)
    record = exported.to_dict()
    if _has_data(config):
        report = compare_backends(
            str(folder), load_data(config), list(exported.files), config.batch_size, config.subset
        )
        report["export"] = record
        (folder / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        record["report"] = REPORT_FILE
        log.info("wrote %s", folder / REPORT_FILE)
    metadata.export = {**(metadata.export or {}), "onnx": record}
    metadata.save(folder)
    return record


# -- torch vs ONNX on evaluation data ------------------------------------------------------------


def _ranking(loaded: LoadedData, scores: np.ndarray) -> dict[str, float]:
    pairs = loaded.subset.pairs
    run = pairs[[QUERY_ID, DOC_ID]].assign(**{SCORE: scores})
    config = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])
    result = evaluate_run(run, judged_qrels(loaded.subset, loaded.scheme), loaded.scheme.relevant_gain, config)
    means, informative = result.mean("all"), result.mean("informative")
    return {**{m: means[m] for m in METRICS}, "ndcg@10_informative": informative["ndcg@10"]}


def _score(reranker: Reranker, queries: list[str], docs: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    """The model's own scores (no fusion) and pairs/s, after one warm-up batch."""
    reranker.logits(queries[:batch_size], docs[:batch_size], batch_size=batch_size)
    start = time.perf_counter()
    logits = reranker.logits(queries, docs, batch_size=batch_size, progress=False)
    seconds = time.perf_counter() - start
    return reranker.scores_from_logits(logits), len(queries) / seconds


def compare_backends(
    folder: str, loaded: LoadedData, backends: list[str], batch_size: int = 64, subset: str = "all"
) -> dict[str, Any]:
    """Score ``loaded.subset``'s candidates with torch and each ONNX backend (CPU, the
    same threads) and compare each with torch: ranking metrics and their differences,
    score correlations, the largest score difference, and pairs/s."""
    from scipy.stats import pearsonr, spearmanr

    pairs = loaded.subset.pairs
    queries, docs = pairs[QUERY].tolist(), pairs[DOC].tolist()
    log.info("comparing torch with %s on %d pairs of %d queries", backends, len(pairs), pairs[QUERY_ID].nunique())
    reference, speed = _score(Reranker.from_pretrained(folder, device="cpu"), queries, docs, batch_size)
    torch_row = {**_ranking(loaded, reference), "pairs_per_s": speed}
    report: dict[str, Any] = {
        "data": {
            "source": loaded.subset.report.source,
            "subset": subset,
            "queries": int(pairs[QUERY_ID].nunique()),
            "pairs": len(pairs),
        },
        "threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "torch": torch_row,
    }
    for backend in backends:
        scores, speed = _score(Reranker.from_pretrained(folder, backend=backend), queries, docs, batch_size)
        row = _ranking(loaded, scores)
        diff = {f"{m}_diff": row[m] - torch_row[m] for m in (*METRICS, "ndcg@10_informative")}
        report[backend] = {
            "file": f"{ONNX_DIR}/{ONNX_FILES[backend]}",
            **row,
            **diff,
            "pearson": float(pearsonr(scores, reference)[0]) if len(scores) > 1 else float("nan"),
            "spearman": float(spearmanr(scores, reference)[0]) if len(scores) > 1 else float("nan"),
            "max_abs_diff": float(np.abs(scores - reference).max()),
            "mean_abs_diff": float(np.abs(scores - reference).mean()),
            "pairs_per_s": speed,
            "speedup": speed / torch_row["pairs_per_s"],
        }
    return report


# -- what the command line prints --------------------------------------------------------------


def describe_export(folder: str | Path) -> str:
    """The folder, its ONNX files with their check against torch, and the comparison
    table when evaluation data was given."""
    folder = Path(folder)
    lines = [f"model folder: {folder}"]
    metadata = ModelMetadata.load(folder) if ModelMetadata.exists(folder) else None
    onnx = (metadata.export or {}).get("onnx") if metadata else None
    if not onnx:
        return lines[0]
    check = onnx.get("check", {})
    compared = "embedding component" if metadata.model_type == "bi-encoder" else "logit"
    for backend, path in onnx["files"].items():
        diff = check.get(f"{backend}_max_abs_diff")
        where = f"opset {onnx['opset']}; max |{compared} - torch| on the check texts {diff:.2g}"
        lines.append(f"{backend}: {folder / path} ({where})")
    if onnx.get("int8"):
        settings = {k: v for k, v in onnx["int8"].items() if k != "method"}
        lines.append(f"int8 settings: {settings}")
    if onnx.get("report"):
        report = json.loads((folder / onnx["report"]).read_text(encoding="utf-8"))
        lines += ["", format_comparison(report), "", f"report: {folder / onnx['report']}"]
    return "\n".join(lines)


def format_comparison(report: dict[str, Any]) -> str:
    """One row per backend: metrics, differences from torch, correlations, speed."""
    data = report["data"]
    head = f"{data['source']} ({data['queries']} queries, {data['pairs']} pairs), CPU, {report['threads']} threads"
    columns = ["nDCG@10", "diff", "MAP", "diff", "pearson", "spearman", "max|diff|", "pairs/s", "speedup"]
    rows = [["torch", report["torch"]["ndcg@10"], None, report["torch"]["map"], None, None, None, None]]
    rows[0] += [report["torch"]["pairs_per_s"], 1.0]
    for backend in ONNX_FILES:
        if backend in report:
            r = report[backend]
            rows.append([backend, r["ndcg@10"], r["ndcg@10_diff"], r["map"], r["map_diff"], r["pearson"]])
            rows[-1] += [r["spearman"], r["max_abs_diff"], r["pairs_per_s"], r["speedup"]]
    formats = ["{:.4f}", "{:+.4f}", "{:.4f}", "{:+.4f}", "{:.5f}", "{:.5f}", "{:.2g}", "{:.0f}", "{:.2f}x"]
    table = [["", *columns]]
    for name, *values in rows:
        table.append([name, *("-" if v is None else f.format(v) for f, v in zip(formats, values, strict=True))])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    body = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in table
    ]
    return head + "\n" + "\n".join(body)
