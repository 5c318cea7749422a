"""CrossEncoderHead.encode: the document is truncated first; a query that leaves no room
for the document is truncated too, instead of the tokenizer's error."""

from __future__ import annotations

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
