"""``rankwright mine``: hard negatives for each query from a first-stage retriever
(BM25 or dense) over the corpus, with optional false-negative filtering by a teacher,
written as grouped JSONL (FlagEmbedding layout) that ``rankwright train`` reads."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rankwright.commands.configs import MineConfig
from rankwright.data.loading import load_data
from rankwright.mining.negatives import Miner, group_record
from rankwright.mining.teacher import load_teacher
from rankwright.output_guard import Claim, claim_file, writes_output
from rankwright.retrieval import build_retriever

log = logging.getLogger(__name__)


def summary_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name.removesuffix(".jsonl") + ".summary.json")


def _claim(config: MineConfig) -> Claim:
    return claim_file(config.output, overwrite=config.overwrite, companions=[summary_path(config.output).name])


@writes_output(_claim)
def main(config: MineConfig) -> dict[str, Any]:
    config.mining.check()
    teacher = load_teacher(config.teacher)
    loaded = load_data(config)
    documents = loaded.full.documents()
    started = time.perf_counter()
    # a dense retriever with the teacher's settings shares its model
    shared = getattr(teacher, "encoder", None)
    retriever = build_retriever(config.retriever, documents, progress=config.progress, encoder=shared)
    indexed = time.perf_counter()
    miner = Miner(retriever, documents, config.mining, teacher, config.teacher, progress=config.progress)
    out = Path(config.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for group in miner.run(loaded.subset, loaded.scheme):
            record = group_record(group, documents, teacher is not None, config.retriever.kind)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    done = time.perf_counter()
    summary: dict[str, Any] = {
        "output": str(out),
        "summary": str(summary_path(out)),
        "data": config.data.path or config.data.corpus,
        "subset": config.subset,
        "documents": len(documents),
        **miner.stats.to_dict(),
        "retriever": {"kind": config.retriever.kind, **retriever.describe()},
        "mining": asdict(config.mining),
        "teacher": None if teacher is None else {"name": teacher.name, **asdict(config.teacher)},
        "seconds": {"index": round(indexed - started, 2), "mine": round(done - indexed, 2)},
    }
    summary_path(out).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    log.info(
        "mined %d negatives for %d queries in %.1f s (index %.1f s); wrote %s",
        summary["negatives"],
        summary["queries_written"],
        done - started,
        indexed - started,
        out,
    )
    return summary
