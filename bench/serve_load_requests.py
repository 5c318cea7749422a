"""The requests of ``serve_load.py``: good ones built from Home Depot (query, product
title) pairs, with BM25 first-stage scores for a fused model, and the bad ones the
server must refuse (each with its expected status)."""

from __future__ import annotations

import json
import random

import pandas as pd
from common import SHARED_DATA

HD = SHARED_DATA / "homedepot" / "train.csv.zip"
MAX_DOCUMENTS = 100
MAX_DOCUMENT_CHARS = 2000


def build_requests(n_docs: int, n_requests: int, seed: int) -> list[dict]:
    """``n_requests`` bodies of ``n_docs`` documents: each query's own product titles,
    filled with other products' titles (a query with more keeps its first ``n_docs``)."""
    frame = pd.read_csv(HD, encoding="latin-1", usecols=["search_term", "product_title"])
    titles = frame["product_title"].astype(str).unique().tolist()
    groups = frame.groupby("search_term", sort=True)["product_title"].apply(lambda s: s.astype(str).tolist())
    rng = random.Random(seed)
    queries = list(groups.index)
    rng.shuffle(queries)
    bodies = []
    for query in queries[:n_requests]:
        docs = groups[query][:n_docs]
        while len(docs) < n_docs:
            docs.append(rng.choice(titles))
        rng.shuffle(docs)
        bodies.append({"query": str(query), "documents": docs})
    return bodies


def add_first_stage_scores(bodies: list[dict]) -> None:
    """Each body's ``first_stage_scores``: BM25 (rankwright's, default settings) of its
    documents over an index of every title the requests hold."""
    from rankwright.retrieval.bm25 import BM25

    titles = sorted({d for body in bodies for d in body["documents"]})
    bm25 = BM25({str(i): t for i, t in enumerate(titles)}, progress=False)
    row = {t: i for i, t in enumerate(titles)}
    for body in bodies:
        scores = bm25.query_scores(body["query"])
        rows = bm25.rows_of([str(row[d]) for d in body["documents"]])
        body["first_stage_scores"] = [round(float(x), 4) for x in scores[rows]]


def bad_requests(good: dict) -> list[tuple[str, bytes, int]]:
    """(kind, body bytes, expected status) of requests the server must refuse: malformed
    or mistyped bodies, limits, text no tokenizer takes (lone surrogates, sent as JSON
    escapes), blank texts, TEI and Cohere shape errors, and a TEI request with
    ``truncate: false`` whose text is too long for the model, refused on the model
    thread after it joined a batch."""
    dump = lambda body: json.dumps(body).encode()  # noqa: E731
    query, docs = good["query"], good["documents"]
    extra = {k: good[k] for k in ("fused",) if k in good}
    long_text = {**extra, "query": query, "texts": [docs[0], "a " * 999], "truncate": False}
    if "first_stage_scores" in good:
        long_text["first_stage_scores"] = good["first_stage_scores"][:2]
    return [
        ("whitespace_document", dump({**good, "documents": [*docs[:-1], " \n\t "]}), 422),
        ("surrogate_document", dump({**good, "documents": [*docs[:-1], "\ud800 broken"]}), 422),
        ("surrogate_query", dump({**good, "query": "\udfff " + query}), 422),
        ("tei_unknown_truncate", dump({"query": query, "texts": docs, "truncate": "yes"}), 422),
        ("tei_and_documents", dump({"query": query, "texts": docs, "documents": docs}), 422),
        (
            "rank_fields_nested",
            dump({"query": query, "documents": [{"title": {"a": 1}}], "rank_fields": ["title"]}),
            422,
        ),
        ("object_without_text", dump({"query": query, "documents": [{"title": docs[0]}]}), 422),
        ("tei_too_long_untruncated", dump(long_text), 413),
        ("malformed_json", dump(good)[:-7], 422),
        ("wrong_types", dump({"query": good["query"], "documents": [1, 2, 3]}), 422),
        ("empty_query", dump({"query": "  ", "documents": good["documents"]}), 422),
        ("no_documents", dump({"query": good["query"], "documents": []}), 422),
        ("unknown_field", dump({**good, "top_k": 3}), 422),
        ("top_n_zero", dump({**good, "top_n": 0}), 422),
        ("too_many_documents", dump({"query": good["query"], "documents": ["d"] * (MAX_DOCUMENTS + 1)}), 413),
        ("document_too_long", dump({"query": good["query"], "documents": ["x" * (MAX_DOCUMENT_CHARS + 1)]}), 413),
        ("miscounted_first_stage", dump({**good, "first_stage_scores": [1.0]}), 422),
    ]
