"""The one batching path: order restored, equal to unbatched scoring, rank sorted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rankwright.inference.reranker import RankedDocument, Reranker, _batches


@pytest.fixture(scope="module")
def scorer_dir(tiny_bert, tmp_path_factory):
    """A plain Hugging Face sequence-classification folder (no rankwright.json)."""
    folder = tmp_path_factory.mktemp("plain")
    torch.manual_seed(1)
    AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    return str(folder)


DOCS = [
    "short",
    "a much longer document about cordless drills and batteries " * 3,
    "medium length text about a sofa",
    "x",
    "another fairly long product title for a garden hose with fittings",
]


def _one_by_one(folder, query, docs):
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    out = []
    with torch.no_grad():
        for d in docs:
            batch = tok([query], [d], truncation="only_second", max_length=512, return_tensors="pt")
            out.append(model(**batch).logits[0, 0].item())
    return np.array(out)


def test_length_sorted_batches_return_input_order_and_equal_unbatched_scores(scorer_dir):
    reranker = Reranker.from_pretrained(scorer_dir)
    batched = reranker.score("drill", DOCS, batch_size=2)
    assert batched.shape == (len(DOCS),)
    assert np.abs(batched - _one_by_one(scorer_dir, "drill", DOCS)).max() <= 1e-5


def test_token_budget_batches_fit_the_budget_and_cover_every_pair_once():
    lengths = np.array([5, 40, 12, 40, 3, 20, 7, 100])
    order = np.argsort(-lengths, kind="stable")
    batches = _batches(order, lengths, batch_size=4, max_tokens=80)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    # the 100-token pair is alone (over budget); 2 x 40 fill 80; 4 x 20 = 80 hits the pair cap; then 3
    assert [lengths[b].tolist() for b in batches] == [[100], [40, 40], [20, 12, 7, 5], [3]]
    assert all(len(b) * lengths[b].max() <= 80 for b in batches[1:])
    assert [len(b) for b in _batches(order, lengths, batch_size=3, max_tokens=None)] == [3, 3, 2]
    with pytest.raises(ValueError, match="must be positive"):
        _batches(order, lengths, batch_size=4, max_tokens=0)


def test_a_token_budget_changes_batches_not_scores(scorer_dir):
    reranker = Reranker.from_pretrained(scorer_dir)
    plain = reranker.logits("drill", DOCS, batch_size=64)
    budget = reranker.logits("drill", DOCS, batch_size=64, max_tokens=30)
    np.testing.assert_allclose(budget, plain, atol=1e-5)
    np.testing.assert_allclose(reranker.score("drill", DOCS, max_tokens=30), plain, atol=1e-5)


def test_probabilities_are_the_sigmoid_of_raw_scores(scorer_dir):
    reranker = Reranker.from_pretrained(scorer_dir)
    raw = reranker.score("drill", DOCS)
    probs = reranker.score("drill", DOCS, probabilities=True)
    assert np.allclose(probs, 1 / (1 + np.exp(-raw)), atol=1e-7)
    assert ((probs > 0) & (probs < 1)).all()


def test_rank_sorts_by_score_and_keeps_the_input(scorer_dir):
    reranker = Reranker.from_pretrained(scorer_dir)
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(DOCS)]
    ranked = reranker.rank("drill", docs, top_k=3)
    scores = reranker.score("drill", DOCS)
    assert [r.index for r in ranked] == list(np.argsort(-scores, kind="stable")[:3])
    assert all(isinstance(r, RankedDocument) for r in ranked)
    assert ranked[0].document == docs[ranked[0].index]
    assert ranked[0].score >= ranked[1].score >= ranked[2].score


def test_queries_list_and_mismatch(scorer_dir):
    reranker = Reranker.from_pretrained(scorer_dir)
    per_pair = reranker.score(["drill"] * len(DOCS), DOCS)
    assert np.allclose(per_pair, reranker.score("drill", DOCS), atol=1e-6)
    with pytest.raises(ValueError, match="2 queries but 5 documents"):
        reranker.score(["a", "b"], DOCS)
    assert reranker.score("drill", []).shape == (0,)


def test_a_plain_causal_lm_loads_as_a_yes_no_reranker(tiny_qwen3):
    """A Hugging Face causal LM folder without rankwright.json (e.g. Qwen3-Reranker) is
    scored with the prompt chosen from its tokenizer: P(yes) over yes/no."""
    reranker = Reranker.from_pretrained(tiny_qwen3)
    assert reranker.metadata.model_type == "generative" and reranker.metadata.max_length == 1024
    assert reranker.head.prompt.template == "qwen3-reranker" and reranker.head.label_ids == [9693, 2152]
    probs = reranker.score("cordless drill", ["drill kit", "garden hose", "sofa"])
    assert probs.shape == (3,) and np.all((probs > 0) & (probs < 1))
    ranked = reranker.rank("cordless drill", ["drill kit", "garden hose", "sofa"])
    assert [r.score for r in ranked] == sorted(probs.tolist(), reverse=True)
    short = Reranker.from_pretrained(tiny_qwen3, max_length=80)
    assert short.metadata.max_length == 80 and short.head.max_length == 80
    np.testing.assert_allclose(short.score("cordless drill", ["drill kit"]), probs[:1], atol=1e-6)
