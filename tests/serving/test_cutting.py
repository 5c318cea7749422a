"""Document cuts asked by requests: the first or last n tokens of each text (the text
kept reads as sent, a left cut starts at a word), long texts cut by characters first
with the same result, pairs longer than max_length found, and a job's cuts applied once
on the model thread (max_tokens_per_doc, truncation_direction left, truncate false)."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.inference.reranker import Reranker
from rankwright.serving.cutting import TooLong, document_room, keep_first, keep_last, overlong, pair_room
from rankwright.serving.scoring import ScoreJob, apply_cuts, score_jobs

TEXT = "the quick brown fox jumps over the lazy dog near a riverbank"


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder, max_length=24)


def tokens(reranker: Reranker, text: str) -> list[str]:
    return reranker.head.tokenizer.tokenize(text)


def test_keep_first_and_last_cut_at_tokens(reranker):
    tokenizer = reranker.head.tokenizer
    first, whole = keep_first(tokenizer, [TEXT, "short"], [4, 10])
    assert first == "the quick brown fox" and tokens(reranker, first) == tokens(reranker, TEXT)[:4]
    assert whole == "short"
    ends = keep_last(tokenizer, [TEXT], [3])[0]
    assert TEXT.endswith(ends) and ends.startswith(("near", "a")) and 0 < len(tokens(reranker, ends)) <= 3
    assert keep_last(tokenizer, ["short"], [3]) == ["short"]


def test_a_left_cut_inside_a_word_starts_at_the_next_word(reranker):
    tokenizer = reranker.head.tokenizer
    text = "alpha unbelievably beta"  # "unbelievably" is several word pieces
    pieces = tokens(reranker, "unbelievably")
    assert len(pieces) > 1
    kept = keep_last(tokenizer, [text], [len(tokens(reranker, "beta")) + 1])[0]
    assert kept == "beta"


def test_long_texts_are_cut_by_characters_first_with_the_same_tokens(reranker):
    tokenizer = reranker.head.tokenizer
    long_text = " ".join(f"word{i}" for i in range(5000))
    first = keep_first(tokenizer, [long_text], [7])[0]
    assert long_text.startswith(first) and tokens(reranker, first) == tokens(reranker, long_text[:200])[:7]
    last = keep_last(tokenizer, [long_text], [7])[0]
    assert long_text.endswith(last) and last.endswith("word4999") and 0 < len(tokens(reranker, last)) <= 7


def test_overlong_finds_the_pairs_over_max_length(reranker):
    room = pair_room(reranker.head)
    assert room == 24 - 3  # [CLS] q [SEP] d [SEP]
    query = "drill"
    fits = " ".join(["x"] * (room - 1))
    over = " ".join(["x"] * room)
    assert overlong(reranker.head, query, [fits, over, "short"]) == [1]
    assert overlong(reranker.head, " ".join(["q"] * room), ["a"]) == [0]  # the query alone fills max_length
    assert document_room(reranker.head, query) == room - 1


def test_a_job_gets_its_cuts_once(reranker):
    job = ScoreJob("drill", [TEXT, "short text"])
    job.max_doc_tokens = 4
    apply_cuts(reranker.head, job)
    assert job.texts == ["the quick brown fox", "short text"] and job.max_doc_tokens is None
    left = ScoreJob("drill", [" ".join(["filler"] * 40) + " cordless drill"])
    left.cut_left = True
    apply_cuts(reranker.head, left)
    room = pair_room(reranker.head) - len(tokens(reranker, "drill"))
    assert left.texts[0].endswith("cordless drill") and room - 2 <= len(tokens(reranker, left.texts[0])) <= room
    refused = ScoreJob("drill", ["ok", " ".join(["x"] * 30)], field="texts")
    refused.refuse_overlong = True
    with pytest.raises(TooLong, match=r"texts\[1\]: longer than the model's max_length=24 tokens"):
        apply_cuts(reranker.head, refused)


def test_a_job_refused_by_its_cuts_fails_alone(reranker):
    docs = ["cordless drill", "sofa", "drill bits and a battery", "garden hose"]
    good = ScoreJob("drill", list(docs))
    bad = ScoreJob("drill", [" ".join(["x"] * 30)])
    bad.refuse_overlong = True
    results = score_jobs(reranker, [good, bad])
    assert isinstance(results[1], TooLong)
    assert str(results[1]).startswith("documents[0]: longer than the model's max_length=24 tokens")
    # the good job is scored as it would be alone: the model's own logits, best first
    logits = reranker.logits("drill", docs, progress=False)
    assert len(set(logits.round(5).tolist())) == len(docs)  # no near-ties: the order is well defined
    assert results[0].order == np.argsort(-logits, kind="stable").tolist()
    np.testing.assert_allclose(results[0].relevance, 1 / (1 + np.exp(-logits.astype(np.float64))), atol=1e-5)
    np.testing.assert_allclose(results[0].raw, logits, atol=1e-5)
