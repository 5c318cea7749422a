"""``rankwright mine``: hard negatives for each query from a first-stage retriever
(BM25 or dense) over the corpus, with optional false-negative filtering by a teacher,
written as grouped JSONL (FlagEmbedding layout) that ``rankwright train`` reads."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from rankwright.cluster.session import Executor, Handle, executor
from rankwright.commands.configs import MineConfig
from rankwright.data.loading import load_data
from rankwright.mining.negatives import MineBlock, Miner, MiningStats, group_record
from rankwright.mining.teacher import load_teacher, teacher_name
from rankwright.output_guard import Claim, claim_file, writes_output
from rankwright.retrieval import RetrieverConfig, build_retriever

log = logging.getLogger(__name__)


def summary_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name.removesuffix(".jsonl") + ".summary.json")


def _claim(config: MineConfig) -> Claim:
    return claim_file(config.output, overwrite=config.overwrite, companions=[summary_path(config.output).name])


def _mine_block(miner: Handle, retriever_kind: str, block: MineBlock) -> tuple[list[str], MiningStats]:
    """A block's JSONL lines and counts (here or on a worker, which loads the miner once)."""
    m = miner.get()
    groups, stats = m.mine_block(block)
    lines = [
        json.dumps(group_record(g, m.documents, m.teacher is not None, retriever_kind), ensure_ascii=False) + "\n"
        for g in groups
    ]
    return lines, stats


@writes_output(_claim)
def main(config: MineConfig) -> dict[str, Any]:
    config.mining.check()
    if config.retriever.top_k != RetrieverConfig().top_k:
        raise ValueError(
            f"retriever.top_k {config.retriever.top_k} is not used by mine: it retrieves down to the last rank of "
            f"mining.ranks ({config.mining.ranks[1]})"
        )
    out = Path(config.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with executor(config.dask, near=out, progress=config.progress) as ex:  # an unreachable cluster fails first
        return _mine(config, ex, out)


def _mine(config: MineConfig, ex: Executor, out: Path) -> dict[str, Any]:
    config.teacher.check()
    # on Dask the workers load the teacher; here only a dense retriever needs its model (shared)
    here = not ex.clustered or config.retriever.kind == "dense"
    teacher = load_teacher(config.teacher) if here else None
    loaded = load_data(config)
    documents = loaded.full.documents()
    started = time.perf_counter()
    # a dense retriever with the teacher's settings shares its model
    shared = getattr(teacher, "encoder", None)
    retriever = build_retriever(config.retriever, documents, progress=config.progress, encoder=shared)
    indexed = time.perf_counter()
    miner = Miner(retriever, documents, config.mining, teacher, config.teacher, progress=False)
    blocks = miner.plan(loaded.subset, loaded.scheme)
    work = partial(_mine_block, ex.share(miner, "miner"), config.retriever.kind)
    with out.open("w", encoding="utf-8") as f:
        for lines, stats in ex.map(work, blocks, "mining"):
            f.writelines(lines)
            miner.stats.add(stats)
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
        "teacher": {"name": teacher_name(config.teacher), **asdict(config.teacher)} if config.teacher.enabled else None,
        "seconds": {"index": round(indexed - started, 2), "mine": round(done - indexed, 2)},
        "dask": {**ex.describe(), **ex.memory()},
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
