"""``rankwright split``: split relevance data by query and write the parts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from rankwright.commands.configs import SplitCommandConfig
from rankwright.data.config import SPLIT_NAMES
from rankwright.data.readers import read_relevance
from rankwright.data.records import DOC_ID, PAIR_COLUMNS, QUERY_ID
from rankwright.data.split import split_data
from rankwright.evaluation.report import write_json
from rankwright.output_guard import claim_folder, writes_output

log = logging.getLogger(__name__)

#: what split writes into its folder
OUTPUTS = (*(f"{name}.parquet" for name in SPLIT_NAMES), "split.json", "qrels", "corpus.jsonl", "queries.jsonl")


def _write_beir_texts(out: Path, corpus: dict[str, str], queries: dict[str, str]) -> None:
    """corpus.jsonl and queries.jsonl beside qrels/, so the folder reads as BEIR."""
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for doc_id, text in corpus.items():
            handle.write(json.dumps({"_id": doc_id, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as handle:
        for qid, text in queries.items():
            handle.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")


@writes_output(lambda config: claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite))
def main(config: SplitCommandConfig) -> dict[str, str]:
    """Write ``train|val|test.parquet`` (rankwright's pair columns, readable by every
    command) and ``split.json``; for collections also ``qrels/<split>.tsv``."""
    data = read_relevance(config.data)
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
            qrels_dir = out / "qrels"
            qrels_dir.mkdir(exist_ok=True)
            part.pairs[[QUERY_ID, DOC_ID, "label"]].to_csv(
                qrels_dir / f"{name}.tsv", sep="\t", index=False, header=["query-id", "corpus-id", "score"]
            )
        log.info("%s: %d queries, %d pairs -> %s", name, part.n_queries, len(part.pairs), path)
    if data.corpus is not None:
        _write_beir_texts(out, data.corpus, data.queries or {})
        summary["beir_folder"] = str(out)
    summary["data"] = data.report.to_dict()
    write_json(summary, out / "split.json")
    paths["summary"] = str(out / "split.json")
    return paths
