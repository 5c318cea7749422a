"""Hard-negative mining over a BM25 index whose ranks are known by construction.

Documents d01..d20 are ``alpha`` x NN + ``beta`` x (21 - NN): all 21 tokens long, so
BM25 ranks them by term frequency. For the query "alpha", d20 is rank 1, d19 rank 2,
..., d01 rank 20; for "beta", d01 is rank 1, ..., d20 rank 20. d21..d30 share neither
word: they score 0 and follow in trec_eval's tie order (doc_id descending: d30 .. d21).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.readers import read_relevance
from rankwright.data.records import DropReport, RelevanceData
from rankwright.mining.negatives import Miner, MiningConfig, group_record
from rankwright.mining.teacher import Teacher, TeacherConfig
from rankwright.retrieval.bm25 import BM25

DOCS = {f"d{i:02d}": " ".join(["alpha"] * i + ["beta"] * (21 - i)) for i in range(1, 21)}
DOCS.update({f"d{i:02d}": f"gamma delta filler {i}" for i in range(21, 31)})
QUERIES = {"qa": "alpha", "qb": "beta", "qc": "gamma"}
QRELS = [
    ("qa", "d18", 1),  # rank 3 for alpha
    ("qa", "d10", 1),  # rank 11
    ("qa", "d25", 1),  # score 0: rank 26 (d30..d26 before it)
    ("qa", "d19", 0),  # judged non-relevant: may be a negative
    ("qb", "d02", 1),  # ranks 2..5 for beta
    ("qb", "d03", 1),
    ("qb", "d04", 1),
    ("qb", "d05", 1),
    ("qc", "d21", 0),  # no relevant document: skipped
]


def alpha_rank(doc_id: str) -> int:
    n = int(doc_id[1:])
    return 21 - n if n <= 20 else 21 + (30 - n)


def beta_rank(doc_id: str) -> int:
    n = int(doc_id[1:])
    return n if n <= 20 else 21 + (30 - n)


RANK = {"qa": alpha_rank, "qb": beta_rank}
POSITIVES = {"qa": ["d18", "d10", "d25"], "qb": ["d02", "d03", "d04", "d05"]}


@pytest.fixture(scope="module")
def data(tmp_path_factory, write_beir):
    return read_relevance(str(write_beir(tmp_path_factory.mktemp("beir") / "tiny", DOCS, QUERIES, QRELS)))


@pytest.fixture(scope="module")
def scheme(data):
    return build_scheme(LabelConfig(scheme="binary", threshold=1), data)


@pytest.fixture(scope="module")
def index(data):
    return BM25(data.documents(), progress=False)


def mine(index, data, scheme, teacher=None, teacher_config=None, **mining):
    miner = Miner(index, data.documents(), MiningConfig(**mining), teacher, teacher_config, progress=False)
    return {g.query_id: g for g in miner.run(data, scheme)}, miner.stats


def test_the_corpus_ranks_as_designed(index):
    run = index.retrieve({"qa": "alpha", "qb": "beta"}, top_k=30, progress=False)
    for qid, rank in RANK.items():
        got = run[run["query_id"] == qid]["doc_id"].tolist()
        assert got == sorted(DOCS, key=rank), qid


def test_top_sampling_takes_the_best_ranked_non_positives_of_the_window(index, data, scheme):
    groups, stats = mine(index, data, scheme, ranks=[2, 6], negatives=3, sampling="top")
    assert list(groups) == ["qa", "qb"]
    qa, qb = groups["qa"], groups["qb"]
    # qa: window ranks 2..6 = d19 d18 d17 d16 d15; d18 is a positive; d19 (judged 0) is a candidate.
    assert [d.doc_id for d in qa.negatives] == ["d19", "d17", "d16"]
    assert [d.rank for d in qa.negatives] == [2, 4, 5]
    assert [(d.doc_id, d.rank) for d in qa.positives] == [("d18", 3), ("d10", None), ("d25", None)]
    assert qa.query == "alpha"
    # qb: window ranks 2..6 = d02..d06, four of them positives: one candidate, short of 3.
    assert [(d.doc_id, d.rank) for d in qb.negatives] == [("d06", 6)]
    assert [(d.doc_id, d.rank) for d in qb.positives] == [("d02", 2), ("d03", 3), ("d04", 4), ("d05", 5)]
    # Retriever scores are BM25's for the document.
    alpha = index.query_scores("alpha")
    for d in qa.negatives + qa.positives:
        assert d.retriever_score == pytest.approx(float(alpha[index.row[d.doc_id]]))
        assert d.teacher_score is None
    assert qa.positives[2].retriever_score == 0.0
    assert stats.to_dict() == {
        "queries_in": 3,
        "queries_without_positive": 1,
        "queries_written": 2,
        "queries_short_of_negatives": 1,
        "positives": 7,
        "positives_in_first_stage": 5,  # d18 (qa) and d02..d05 (qb) within rank 6
        "candidates_in_window": 4 + 1,  # window of 5 minus its positives, per query
        "dropped_by_teacher": 0,
        "negatives": 3 + 1,
        "positive_recall_at_last_rank": 5 / 7,
        "examples_dropped_by_teacher": [],
    }


@pytest.mark.parametrize(("first", "last"), [(1, 30), (3, 25), (10, 12), (25, 40), (1, 1)])
def test_negatives_lie_in_the_window_and_are_never_positives(index, data, scheme, first, last):
    n = 6
    for sampling in ("top", "random"):
        groups, stats = mine(index, data, scheme, ranks=[first, last], negatives=n, sampling=sampling, seed=3)
        sizes = []
        for qid, group in groups.items():
            window = [d for d in sorted(DOCS, key=RANK[qid]) if first <= RANK[qid](d) <= last]
            candidates = [d for d in window if d not in POSITIVES[qid]]
            ids = [d.doc_id for d in group.negatives]
            assert set(ids) <= set(candidates)
            assert not set(ids) & set(POSITIVES[qid])
            assert len(ids) == len(set(ids)) == min(n, len(candidates))
            assert all(d.rank == RANK[qid](d.doc_id) for d in group.negatives)
            assert [d.rank for d in group.negatives] == sorted(d.rank for d in group.negatives)  # rank order
            if sampling == "top":
                assert ids == candidates[:n]
            sizes.append(len(ids))
        windows = {q: [d for d in DOCS if first <= RANK[q](d) <= last] for q in RANK}
        assert stats.candidates_in_window == sum(len(set(w) - set(POSITIVES[q])) for q, w in windows.items())
        assert stats.negatives == sum(sizes)
        assert stats.queries_short_of_negatives == sum(s < n for s in sizes)
        assert stats.queries_written == 2 and stats.queries_without_positive == 1
        in_first_stage = sum(RANK[q](p) <= last for q in RANK for p in POSITIVES[q])
        assert stats.positives_in_first_stage == in_first_stage


def test_random_sampling_is_reproducible_by_seed(index, data, scheme):
    def picks(seed, block=1024):
        groups, _ = mine(index, data, scheme, ranks=[1, 30], negatives=5, sampling="random", seed=seed, block=block)
        return {q: [d.doc_id for d in g.negatives] for q, g in groups.items()}

    first = picks(7)
    assert picks(7) == first
    assert picks(7, block=1) == first  # blocks change nothing
    assert picks(8) != first
    # Not simply the top of the window.
    top, _ = mine(index, data, scheme, ranks=[1, 30], negatives=5, sampling="top")
    assert first != {q: [d.doc_id for d in g.negatives] for q, g in top.items()}


def test_random_sampling_draws_per_query(index, scheme):
    # Two queries with the same text and positive have the same window; each still draws its own sample.
    pairs = pd.DataFrame(
        {
            "query_id": ["x1", "x2"],
            "query": ["alpha", "alpha"],
            "doc_id": ["d18", "d18"],
            "doc": [DOCS["d18"]] * 2,
            "label": [1, 1],
        }
    )
    twins = RelevanceData(pairs, DropReport("twins"))
    groups, _ = mine(index, twins, scheme, ranks=[1, 30], negatives=5, sampling="random", seed=7)
    picks = [[d.doc_id for d in g.negatives] for g in groups.values()]
    assert len(picks) == 2 and picks[0] != picks[1]


def test_random_sampling_covers_the_window(index, data, scheme):
    seen = set()
    for seed in range(30):
        groups, _ = mine(index, data, scheme, ranks=[5, 12], negatives=2, sampling="random", seed=seed)
        seen |= {d.rank for d in groups["qa"].negatives}
    assert seen == set(range(5, 13)) - {11}  # rank 11 is d10, a positive


@pytest.mark.parametrize(
    ("mining", "message"),
    [
        ({"ranks": [0, 5]}, "1 <= first <= last"),
        ({"ranks": [6, 5]}, "1 <= first <= last"),
        ({"ranks": [5]}, "1 <= first <= last"),
        ({"sampling": "best"}, "mining.sampling must be one of"),
        ({"negatives": 0}, "at least 1"),
    ],
)
def test_bad_mining_config_is_an_error(index, data, mining, message):
    with pytest.raises(ValueError, match=message):
        Miner(index, data.documents(), MiningConfig(**mining))


def test_a_positive_outside_the_index_is_named(data, scheme):
    partial = {d: t for d, t in DOCS.items() if d != "d10"}
    with pytest.raises(KeyError, match="'d10' is not in the BM25 index"):
        mine(BM25(partial, progress=False), data, scheme, ranks=[1, 5], negatives=2)


def test_group_record_without_a_teacher(index, data, scheme):
    groups, _ = mine(index, data, scheme, ranks=[2, 6], negatives=3, sampling="top")
    record = group_record(groups["qa"], data.documents(), False, "bm25")
    assert set(record) == {"query_id", "query", "pos", "neg", "retriever"}
    assert record["query_id"] == "qa" and record["query"] == "alpha" and record["retriever"] == "bm25"
    assert [d["doc_id"] for d in record["pos"]] == ["d18", "d10", "d25"]
    assert [d["doc_id"] for d in record["neg"]] == ["d19", "d17", "d16"]
    assert [d["rank"] for d in record["neg"]] == [2, 4, 5]
    first = record["neg"][0]
    assert set(first) == {"doc_id", "text", "retriever_score", "rank"}
    assert first["text"] == DOCS["d19"]
    assert all(type(d["doc_id"]) is str for d in record["pos"] + record["neg"])  # not numpy strings
    json.dumps(record)  # plain JSON types


class DictTeacher(Teacher):
    """Scores from a dict keyed by (query, doc_id); records its calls."""

    name = "dict teacher"

    def __init__(self, scores: dict[tuple[str, str], float], default: float = 0.0):
        self.by_text = {(q, DOCS[d]): s for (q, d), s in scores.items()}
        self.default = default
        self.calls: list[int] = []

    def score(self, queries, docs, *, progress=True):
        self.calls.append(len(docs))
        return np.array([self.by_text.get((q, d), self.default) for q, d in zip(queries, docs, strict=True)])


# Teacher scores for "alpha" (dyadic, so that the comparisons are exact). Positives:
# d18 1.0, d10 0.5, d25 0.75 -> max 1.0, min 0.5, mean 0.75.
ALPHA_TEACHER = {"d18": 1.0, "d10": 0.5, "d25": 0.75}
# Window ranks 1..8 without d18 (rank 3): d20 d19 d17 d16 d15 d14 d13.
ALPHA_TEACHER.update({"d20": 1.25, "d19": 0.875, "d17": 0.75, "d16": 0.625, "d15": 0.25, "d14": 1.0, "d13": 0.125})
WINDOW_QA = ["d20", "d19", "d17", "d16", "d15", "d14", "d13"]


@pytest.fixture
def teacher():
    scores = {("alpha", d): s for d, s in ALPHA_TEACHER.items()}
    scores.update({("beta", d): 2.0 for d in POSITIVES["qb"]})  # qb: positives 2.0, candidates 0.0
    return DictTeacher(scores)


@pytest.mark.parametrize(
    ("filters", "dropped"),
    [
        ({}, []),
        ({"max_score": 1.0}, ["d20", "d14"]),  # >= 1.0
        ({"margin": 0.25}, ["d20", "d19", "d14"]),  # > 1.0 - 0.25; d17 (0.75) stays
        ({"margin": 0.25, "reference": "min"}, ["d20", "d19", "d17", "d16", "d14"]),  # > 0.25
        ({"margin": 0.0, "reference": "mean"}, ["d20", "d19", "d14"]),  # > 0.75
        ({"relative": 0.5, "reference": "mean"}, ["d20", "d19", "d17", "d16", "d14"]),  # > 0.375
        ({"relative": 0.875}, ["d20", "d14"]),  # > 0.875; d19 (0.875) stays
        ({"max_score": 1.1, "margin": 0.5}, ["d20", "d19", "d17", "d16", "d14"]),  # union: >= 1.1 or > 0.5
    ],
)
def test_teacher_filters_drop_exactly_the_expected_documents(index, data, scheme, teacher, filters, dropped):
    config = TeacherConfig(model="fake", **filters)
    groups, stats = mine(index, data, scheme, teacher, config, ranks=[1, 8], negatives=10, sampling="top")
    qa = groups["qa"]
    assert [d.doc_id for d in qa.negatives] == [d for d in WINDOW_QA if d not in dropped]
    # qb's candidates score 0 against positives at 2.0: none is dropped.
    assert [d.doc_id for d in groups["qb"].negatives] == ["d01", "d06", "d07", "d08"]
    assert stats.dropped_by_teacher == len(dropped)
    assert stats.candidates_in_window == 7 + 4
    assert stats.negatives == 7 - len(dropped) + 4
    assert stats.queries_short_of_negatives == 2
    if dropped:
        assert stats.examples_dropped == [f"query 'qa': document {dropped[0]!r} (rank {alpha_rank(dropped[0])})"]
    else:
        assert stats.examples_dropped == []
    # One teacher call for the block: every positive and candidate of both queries.
    assert teacher.calls == [3 + 7 + 4 + 4]
    assert [d.teacher_score for d in qa.negatives] == [ALPHA_TEACHER[d.doc_id] for d in qa.negatives]
    assert [d.teacher_score for d in qa.positives] == [1.0, 0.5, 0.75]

    record = group_record(qa, data.documents(), True, "bm25")
    assert record["pos_scores"] == [1.0, 0.5, 0.75]
    assert [d["doc_id"] for d in record["pos"]] == ["d18", "d10", "d25"]
    assert record["neg_scores"] == [ALPHA_TEACHER[d["doc_id"]] for d in record["neg"]]
    assert [d["teacher_score"] for d in record["neg"]] == record["neg_scores"]
    assert [d["teacher_score"] for d in record["pos"]] == record["pos_scores"]


def test_teacher_filter_applies_before_sampling(index, data, scheme, teacher):
    # top 2 after dropping d20, d19, d14 (margin 0.25): d17 and d16, not d20 and d19.
    config = TeacherConfig(model="fake", margin=0.25)
    groups, _ = mine(index, data, scheme, teacher, config, ranks=[1, 8], negatives=2, sampling="top")
    assert [d.doc_id for d in groups["qa"].negatives] == ["d17", "d16"]


def test_teacher_blocks_score_per_block(index, data, scheme, teacher):
    config = TeacherConfig(model="fake", max_score=5.0)  # a filter: every window candidate is scored
    groups, _ = mine(index, data, scheme, teacher, config, ranks=[1, 8], negatives=3, block=1)
    assert teacher.calls == [3 + 7, 4 + 4]
    assert [d.teacher_score for d in groups["qb"].positives] == [2.0] * 4


def test_random_negatives_of_a_query_do_not_depend_on_the_other_queries(index, data, scheme):
    both, _ = mine(index, data, scheme, ranks=[1, 30], negatives=5, sampling="random", seed=11)
    alone, _ = mine(index, data.subset({"qb"}), scheme, ranks=[1, 30], negatives=5, sampling="random", seed=11)
    assert [d.doc_id for d in alone["qb"].negatives] == [d.doc_id for d in both["qb"].negatives]


def test_without_a_filter_only_the_kept_documents_are_teacher_scored(index, data, scheme, teacher):
    groups, _ = mine(index, data, scheme, teacher, TeacherConfig(model="fake"), ranks=[1, 8], negatives=2)
    assert teacher.calls == [3 + 2 + 4 + 2]  # positives and the 2 sampled negatives of qa and qb
    assert all(d.teacher_score is not None for g in groups.values() for d in g.positives + g.negatives)
