"""``rankwright split``: split relevance data by query and write the parts."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from rankwright.commands.configs import SplitCommandConfig
from rankwright.data.config import SPLIT_NAMES
from rankwright.data.labels import build_scheme
from rankwright.data.readers import read_relevance
from rankwright.data.records import DOC_ID, EVALUATION_ONLY, LABEL, PAIR_COLUMNS, QUERY_ID, RelevanceData
from rankwright.data.split import split_data
from rankwright.evaluation.report import write_json
from rankwright.output_guard import claim_folder, writes_output

log = logging.getLogger(__name__)

#: what split writes into its folder
OUTPUTS = (*(f"{name}.parquet" for name in SPLIT_NAMES), "split.json", "qrels", "corpus.jsonl", "queries.jsonl")


def _write_beir_texts(out: Path, corpus: dict[str, str], queries: dict[str, str], textless: Iterable[str] = ()) -> None:
    """corpus.jsonl and queries.jsonl beside qrels/, so the folder reads as BEIR.

    ``textless``: judged documents without text, written with an empty text so that
    reading the folder back keeps their judgments for evaluation only, as the original
    collection did (a document missing from the corpus would be a dropped judgment)."""
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for doc_id, text in corpus.items():
            handle.write(json.dumps({"_id": doc_id, "title": "", "text": text}, ensure_ascii=False) + "\n")
        for doc_id in textless:
            if doc_id not in corpus:
                handle.write(json.dumps({"_id": doc_id, "title": "", "text": ""}, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as handle:
        for qid, text in queries.items():
            handle.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")


def _write_qrels(path: Path, part: RelevanceData) -> int:
    """``qrels/<split>.tsv``: the split's judged pairs, then its judgments kept for
    evaluation only (documents without text), so the re-read split evaluates with the
    same recall and nDCG denominators as the original collection. Returns how many of
    the latter were written."""
    path.parent.mkdir(exist_ok=True)
    qrels = part.pairs[[QUERY_ID, DOC_ID, LABEL]]
    extra = part.eval_only
    n_extra = 0 if extra is None else len(extra)
    if n_extra:
        qrels = pd.concat([qrels, extra[[QUERY_ID, DOC_ID, LABEL]]], ignore_index=True)
        log.info("%s: %d %s, written to %s", path.stem, n_extra, EVALUATION_ONLY, path)
    qrels.to_csv(path, sep="\t", index=False, header=["query-id", "corpus-id", "score"])
    return n_extra


def _unsplit_eval_only(data: RelevanceData, parts: dict[str, RelevanceData]) -> int:
    """Evaluation-only judgments whose query has no pair in any split."""
    if data.eval_only is None or data.eval_only.empty:
        return 0
    split_queries = {q for part in parts.values() for q in part.pairs[QUERY_ID].unique()}
    return int((~data.eval_only[QUERY_ID].isin(split_queries)).sum())


@writes_output(lambda config: claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite))
def main(config: SplitCommandConfig) -> dict[str, str]:
    """Write ``train|val|test.parquet`` (rankwright's pair columns, readable by every
    command) and ``split.json``; for collections also ``qrels/<split>.tsv``. The labels
    are checked against ``labels.*`` first, as ``train`` will check them."""
    data = read_relevance(config.data)
    scheme = build_scheme(config.labels, data)
    scheme.validate(data)
    parts = split_data(data, config.split)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    summary = {"source": config.data.path, "ratios": config.split.ratios, "seed": config.split.seed, "splits": {}}
    for name, part in parts.items():
        path = out / f"{name}.parquet"
        extra = [c for c in part.pairs.columns if c not in PAIR_COLUMNS]
        part.pairs[PAIR_COLUMNS + extra].to_parquet(path, index=False)
        paths[name] = str(path)
        summary["splits"][name] = {"queries": part.n_queries, "pairs": len(part.pairs), "file": str(path)}
        if data.corpus is not None:
            summary["splits"][name]["evaluation_only"] = _write_qrels(out / "qrels" / f"{name}.tsv", part)
        log.info("%s: %d queries, %d pairs -> %s", name, part.n_queries, len(part.pairs), path)
    if data.corpus is not None:
        textless = [] if data.eval_only is None else data.eval_only[DOC_ID].unique().tolist()
        _write_beir_texts(out, data.corpus, data.queries or {}, textless)
        summary["beir_folder"] = str(out)
        unsplit = _unsplit_eval_only(data, parts)
        if unsplit:
            summary["evaluation_only_in_no_split"] = unsplit
            log.warning(
                "%d judgment(s) on documents without text are of queries with no judged pair with text, so in no "
                "split: not written to any qrels/<split>.tsv",
                unsplit,
            )
    summary["labels"] = scheme.to_dict()
    summary["data"] = data.report.to_dict()
    write_json(summary, out / "split.json")
    paths["summary"] = str(out / "split.json")
    return paths
