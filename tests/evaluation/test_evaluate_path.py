"""The whole ``rankwright evaluate`` path from files: reading, label mapping, id
handling, drops, ranking and classification metrics, and the files written, checked
against values worked out by hand (trec_eval conventions: linear gain, log2 discount,
score ties broken by doc_id descending, unjudged documents non-relevant, judged
queries missing from the run scored 0)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from rankwright import cli
from rankwright.data.readers.common import stable_id

# A Home-Depot-like table. Labels map with gain = round((r - 1) * 12); threshold 2.33
# gives relevant_gain = round(1.33 * 12) = 16: 3.0 -> 24, 2.67 -> 20, 2.33 -> 16 are
# relevant; 2.0 -> 12, 1.67 -> 8, 1.33 -> 4, 1.0 -> 0 are not.
HOME_DEPOT_CSV = """\
id,product_uid,product_title,search_term,relevance
1,100001,simpson strong-tie 12-gauge angle,angle bracket,3.0
2,100002,angle bracket galvanized,angle bracket,2.33
3,100003,shelf bracket white,angle bracket,2.0
4,100004,garden hose,angle bracket,1.0
5,100002,angle bracket galvanized,deck stain,2.67
6,100005,paint roller,deck stain,1.33
7,100006,thompson deck stain,deck stain,3.0
8,100002,angle bracket galvanized,angle bracket,2.33
9,100010,,deck stain,3.0
10,100007,lawn mower blade,lawn mower,2.0
11,100008,mower cover,lawn mower,1.67
12,100009,lawn chair,lawn mower,1.0
13,100011,wood screws 2 in,wood screws,3.0
14,100012,wood glue,wood screws,1.0
15,100013,toilet seat,hammer,1.0
16,100014,shower head,hammer,1.0
"""
# Row 8 repeats row 2 (same label): merged, counted as a drop.
# Row 9 has an empty title: dropped, so 100010 is *not* judged for "deck stain".

QA = stable_id("q", "angle bracket")
QB = stable_id("q", "deck stain")
QC = stable_id("q", "lawn mower")  # judged, nothing >= 2.33
QD = stable_id("q", "wood screws")  # judged, missing from the run
QE = stable_id("q", "hammer")  # every gain 0

# (query, doc, score) of the system's run, in no particular order.
RUN_ROWS = [
    # A: 100001 and 100004 tie at 0.7; "100004" > "100001", so 100004 is ranked first.
    # 999999 is not judged (non-relevant).
    (QA, "100001", 0.7),
    (QA, "100002", 0.2),
    (QA, "100003", 0.9),
    (QA, "100004", 0.7),
    (QA, "999999", 0.8),
    # B: 100002 and 100006 tie at 0.5; "100006" first. 100010 (dropped row) is unjudged.
    (QB, "100002", 0.5),
    (QB, "100005", 0.6),
    (QB, "100006", 0.5),
    (QB, "100010", 0.55),
    # C
    (QC, "100007", 0.5),
    (QC, "100008", 0.1),
    (QC, "100009", 0.9),
    # E
    (QE, "100013", 0.3),
    (QE, "100014", 0.2),
    # A query the data does not have: dropped.
    ("q_not_in_the_data", "100001", 5.0),
]


def log2(x: float) -> float:
    return math.log2(x)


# Rankings (gains in rank order) and the hand-worked metrics.
# A: 100003 (12), 999999 (-), 100004 (0), 100001 (24), 100002 (16); ideal 24, 16, 12, 0.
NDCG_A = (12 / log2(2) + 0 / log2(3) + 0 / log2(4) + 24 / log2(5) + 16 / log2(6)) / (
    24 / log2(2) + 16 / log2(3) + 12 / log2(4) + 0 / log2(5)
)
AP_A = (1 / 4 + 2 / 5) / 2  # relevant at ranks 4 and 5
RR_A = 1 / 4
# B: 100005 (4), 100010 (-), 100006 (24), 100002 (20); ideal 24, 20, 4.
NDCG_B = (4 / log2(2) + 0 / log2(3) + 24 / log2(4) + 20 / log2(5)) / (24 / log2(2) + 20 / log2(3) + 4 / log2(4))
AP_B = (1 / 3 + 2 / 4) / 2  # relevant at ranks 3 and 4
RR_B = 1 / 3
# C: 100009 (0), 100007 (12), 100008 (8); ideal 12, 8, 0. No relevant document.
NDCG_C = (0 / log2(2) + 12 / log2(3) + 8 / log2(4)) / (12 / log2(2) + 8 / log2(3) + 0 / log2(4))
# D: not in the run; E: every gain 0 -> all 0.


def write_home_depot(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(HOME_DEPOT_CSV, encoding="utf-8")
    return path


def write_trec_run(path, rows, tag="sys"):
    # Ranks in the file are deliberately not trec_eval's: trec_eval (and rankwright)
    # rank by score, ties by doc_id descending, whatever the file says.
    lines = [f"{q} Q0 {d} {i} {s} {tag}" for i, (q, d, s) in enumerate(rows, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def evaluate_cli(data_path, run_path, out_dir, *extra):
    argv = [
        "evaluate",
        "--data.path",
        str(data_path),
        "--scorer",
        "run",
        "--run",
        str(run_path),
        "--output_dir",
        str(out_dir),
        "--progress",
        "false",
        *extra,
    ]
    return cli.main(argv)


HD_LABELS = [
    "--labels.scheme",
    "graded",
    "--labels.gain_offset",
    "1",
    "--labels.gain_scale",
    "12",
    "--labels.threshold",
    "2.33",
]


@pytest.fixture(scope="module")
def home_depot(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hd")
    data = write_home_depot(tmp)
    run_path = write_trec_run(tmp / "sys.trec", RUN_ROWS)
    out = tmp / "out"
    rc = evaluate_cli(data, run_path, out, *HD_LABELS, "--eval.random_repeats", "3", "--eval.seed", "5")
    assert rc == 0
    return out


def load_metrics(out):
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def test_home_depot_label_mapping(home_depot):
    labels = load_metrics(home_depot)["labels"]
    assert labels["scheme"] == "graded"
    assert labels["relevant_gain"] == round((2.33 - 1) * 12) == 16


def test_home_depot_drops_are_accounted(home_depot):
    data = load_metrics(home_depot)["data"]
    assert data["rows_in"] == 16
    assert data["rows_dropped"] == 2
    assert data["rows_used"] == 14
    assert data["rows_in"] == data["rows_used"] + data["rows_dropped"]
    assert data["dropped_by_reason"] == {"empty document": 1, "duplicate pair (same label, merged)": 1}


def test_home_depot_ranking_metrics_match_hand_values(home_depot):
    metrics = load_metrics(home_depot)
    assert metrics["system"] == "sys"
    assert metrics["mode"] == "rerank"
    sys = metrics["ranking"]["sys"]
    assert sys["run_queries_without_judgments_dropped"] == 1
    assert sys["judged_queries_missing_from_run_scored_0"] == 1

    every = sys["all"]
    assert every["n_queries"] == 5  # A, B, C, D (scored 0), E
    assert every["ndcg@10"] == pytest.approx((NDCG_A + NDCG_B + NDCG_C + 0 + 0) / 5, abs=1e-9)
    assert every["ndcg"] == pytest.approx((NDCG_A + NDCG_B + NDCG_C) / 5, abs=1e-9)
    assert every["map"] == pytest.approx((AP_A + AP_B) / 5, abs=1e-9)
    assert every["mrr"] == pytest.approx((RR_A + RR_B) / 5, abs=1e-9)
    assert every["p@10"] == pytest.approx((2 / 10 + 2 / 10) / 5, abs=1e-9)
    assert every["p@1"] == 0.0
    assert every["recall@100"] == pytest.approx((1 + 1) / 5, abs=1e-9)
    # ndcg@1: A's top has gain 12 of an ideal 24; B's top 4 of 24.
    assert every["ndcg@1"] == pytest.approx((12 / 24 + 4 / 24) / 5, abs=1e-9)

    informative = sys["informative"]
    assert informative["n_queries"] == 3  # A, B and D (1 relevant of 2); not C (none), not E (none)
    assert informative["ndcg@10"] == pytest.approx((NDCG_A + NDCG_B + 0) / 3, abs=1e-9)
    assert informative["map"] == pytest.approx((AP_A + AP_B + 0) / 3, abs=1e-9)
    assert informative["mrr"] == pytest.approx((RR_A + RR_B + 0) / 3, abs=1e-9)


def test_home_depot_random_row_is_reported(home_depot):
    random = load_metrics(home_depot)["ranking"]["random"]
    assert random["all"]["n_queries"] == 5
    assert random["informative"]["n_queries"] == 3
    # The random order reranks the judged candidates: nothing dropped or missing.
    assert random["run_queries_without_judgments_dropped"] == 0
    assert random["judged_queries_missing_from_run_scored_0"] == 0
    # Every candidate is ranked within 10, so recall@100 is 1 for A, B and D, 0 for C, E.
    assert random["all"]["recall@100"] == pytest.approx(3 / 5, abs=1e-9)
    # E has all gains 0 whatever the order.
    for metric in ("ndcg@10", "map", "mrr"):
        assert 0.0 < random["all"][metric] < 1.0


def test_home_depot_per_query_csv(home_depot):
    pq = pd.read_csv(home_depot / "per_query.csv", dtype={"query_id": str}).set_index("query_id")
    assert sorted(pq.index) == sorted([QA, QB, QC, QD, QE])
    assert "q_not_in_the_data" not in pq.index
    assert pq.loc[QA, "query"] == "angle bracket"
    assert pq.loc[QC, "query"] == "lawn mower"
    expected = {
        QA: (NDCG_A, AP_A, RR_A, 4, 2, True),  # the duplicate row is merged: 4 judged
        QB: (NDCG_B, AP_B, RR_B, 3, 2, True),  # the empty-title row is gone: 3 judged
        QC: (NDCG_C, 0.0, 0.0, 3, 0, False),
        QD: (0.0, 0.0, 0.0, 2, 1, True),
        QE: (0.0, 0.0, 0.0, 2, 0, False),
    }
    for qid, (ndcg, ap, rr, n_judged, n_relevant, informative) in expected.items():
        got = pq.loc[qid]
        assert got["ndcg@10"] == pytest.approx(ndcg, abs=1e-9), qid
        assert got["map"] == pytest.approx(ap, abs=1e-9), qid
        assert got["mrr"] == pytest.approx(rr, abs=1e-9), qid
        assert got["n_judged"] == n_judged, qid
        assert got["n_relevant"] == n_relevant, qid
        assert bool(got["informative"]) is informative, qid
    assert pq.loc[QA, "p@5"] == pytest.approx(2 / 5, abs=1e-9)
    assert pq.loc[QB, "ndcg@3"] == pytest.approx(
        (4 / log2(2) + 0 / log2(3) + 24 / log2(4)) / (24 / log2(2) + 20 / log2(3) + 4 / log2(4)), abs=1e-9
    )


def test_home_depot_predictions_parquet(home_depot):
    pred = pd.read_parquet(home_depot / "predictions.parquet")
    assert list(pred.columns) == ["query_id", "query", "doc_id", "doc", "label", "gain", "relevant", "score", "rank"]
    assert len(pred) == 14  # the pairs used; the run's unjudged documents are not pairs
    by_pair = pred.set_index(["query_id", "doc_id"])
    expected_gain = {
        (QA, "100001"): (3.0, 24, True),
        (QA, "100002"): (2.33, 16, True),
        (QA, "100003"): (2.0, 12, False),
        (QA, "100004"): (1.0, 0, False),
        (QB, "100002"): (2.67, 20, True),
        (QB, "100005"): (1.33, 4, False),
        (QB, "100006"): (3.0, 24, True),
        (QC, "100007"): (2.0, 12, False),
        (QC, "100008"): (1.67, 8, False),
        (QC, "100009"): (1.0, 0, False),
        (QD, "100011"): (3.0, 24, True),
        (QD, "100012"): (1.0, 0, False),
        (QE, "100013"): (1.0, 0, False),
        (QE, "100014"): (1.0, 0, False),
    }
    assert set(by_pair.index) == set(expected_gain)
    for key, (label, gain, relevant) in expected_gain.items():
        got = by_pair.loc[key]
        assert got["label"] == pytest.approx(label), key
        assert got["gain"] == gain, key
        assert bool(got["relevant"]) is relevant, key
    assert by_pair.loc[(QA, "100003"), "doc"] == "shelf bracket white"
    assert by_pair.loc[(QA, "100001"), "score"] == pytest.approx(0.7)
    assert pd.isna(by_pair.loc[(QD, "100011"), "score"])  # not in the run
    # The rank of a judged pair is its rank in the whole run (unjudged documents count),
    # the same number run.trec gives it; ties by doc_id descending.
    trec = pd.read_csv(
        home_depot / "run.trec",
        sep=" ",
        header=None,
        names=["qid", "q0", "doc_id", "rank", "score", "tag"],
        dtype={"qid": str, "doc_id": str},
    ).set_index(["qid", "doc_id"])["rank"]
    scored_pairs = by_pair[by_pair["score"].notna()]
    for key, rank in scored_pairs["rank"].items():
        assert rank == trec.loc[key], key
    assert pd.isna(by_pair.loc[(QD, "100011"), "rank"])  # not ranked: not in the run
    b_ranks = by_pair.loc[[(QB, d) for d in ("100005", "100006", "100002")], "rank"].tolist()
    assert b_ranks == sorted(b_ranks) and len(set(b_ranks)) == 3
    assert by_pair.loc[[(QC, d) for d in ("100009", "100007", "100008")], "rank"].tolist() == [1, 2, 3]


def test_home_depot_classification_metrics(home_depot):
    cls = load_metrics(home_depot)["classification"]
    binary = cls["binary"]
    # The 12 scored judged pairs (D's two are not in the run).
    positives = [0.7, 0.2, 0.5, 0.5]  # A:100001, A:100002, B:100002, B:100006
    negatives = [0.9, 0.7, 0.6, 0.5, 0.1, 0.9, 0.3, 0.2]  # A:100003, A:100004, B:100005, C x3, E x2
    assert binary["n_pairs"] == 12
    assert binary["n_relevant"] == 4
    ordered = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    assert ordered == 14.0
    assert binary["roc_auc"] == pytest.approx(14 / 32, abs=1e-12)
    # Average precision over the distinct score thresholds 0.9, 0.7, 0.6, 0.5, 0.3, 0.2, 0.1:
    # recall rises to 1/4 at 0.7 (precision 1/4), to 3/4 at 0.5 (3/8), to 1 at 0.2 (4/11).
    assert binary["average_precision"] == pytest.approx(1 / 4 * 1 / 4 + 1 / 2 * 3 / 8 + 1 / 4 * 4 / 11, abs=1e-12)
    by_label = {row["label"]: row for row in cls["by_label"]}
    assert sorted(by_label) == [1.0, 1.33, 1.67, 2.0, 2.33, 2.67, 3.0]
    assert by_label[1.0]["count"] == 4  # A:100004, C:100009, E:100013, E:100014 (D:100012 unscored)
    assert by_label[1.0]["mean_score"] == pytest.approx((0.7 + 0.9 + 0.3 + 0.2) / 4, abs=1e-12)
    assert by_label[3.0]["count"] == 2
    assert by_label[3.0]["mean_score"] == pytest.approx((0.7 + 0.5) / 2, abs=1e-12)
    assert by_label[2.33]["std_score"] is None  # a single pair


def test_home_depot_run_trec_in_trec_eval_order(home_depot):
    lines = [line.split() for line in (home_depot / "run.trec").read_text(encoding="utf-8").splitlines()]
    assert all(len(f) == 6 and f[1] == "Q0" and f[5] == "sys" for f in lines)
    by_query: dict[str, list[tuple[str, int]]] = {}
    for qid, _, doc, rank, _, _ in lines:
        by_query.setdefault(qid, []).append((doc, int(rank)))
    assert by_query[QA] == [("100003", 1), ("999999", 2), ("100004", 3), ("100001", 4), ("100002", 5)]
    assert by_query[QB] == [("100005", 1), ("100010", 2), ("100006", 3), ("100002", 4)]
    assert by_query[QC] == [("100009", 1), ("100007", 2), ("100008", 3)]
    assert [q for q, *_ in lines] == sorted(q for q, *_ in lines)  # grouped by query id
    assert len(lines) == len(RUN_ROWS)


def test_home_depot_report_printed(tmp_path, capsys):
    data = write_home_depot(tmp_path)
    run_path = write_trec_run(tmp_path / "mine.trec", RUN_ROWS)
    rc = evaluate_cli(data, run_path, tmp_path / "out", *HD_LABELS, "--eval.random_baseline", "false")
    assert rc == 0
    printed = capsys.readouterr().out
    assert "data: 16 rows in = 14 used + 2 dropped" in printed
    assert "relevant when gain >= 16" in printed
    assert f"{(NDCG_A + NDCG_B + NDCG_C) / 5:.4f}" in printed
    assert "random" not in load_metrics(tmp_path / "out")["ranking"]


def test_home_depot_csv_scores_give_the_same_metrics(tmp_path):
    # The same scores as a table with query_id, doc_id, score: same numbers.
    data = write_home_depot(tmp_path)
    table = pd.DataFrame(RUN_ROWS, columns=["query_id", "doc_id", "score"])
    table.to_csv(tmp_path / "table.csv", index=False)
    rc = evaluate_cli(data, tmp_path / "table.csv", tmp_path / "out", *HD_LABELS, "--eval.random_baseline", "false")
    assert rc == 0
    sys = load_metrics(tmp_path / "out")["ranking"]["table"]
    assert sys["all"]["ndcg@10"] == pytest.approx((NDCG_A + NDCG_B + NDCG_C) / 5, abs=1e-9)
    assert sys["all"]["map"] == pytest.approx((AP_A + AP_B) / 5, abs=1e-9)
    assert sys["run_queries_without_judgments_dropped"] == 1


@pytest.mark.parametrize("column", ["rank", "label"])
def test_score_table_with_a_column_named_like_an_output_column(tmp_path, column):
    # A score table that also carries e.g. the rank it came with (query_id, doc_id,
    # rank, score, as exported from a TREC run) or a label must still evaluate, and the
    # predictions must keep rankwright's own rank and the data's labels.
    data = write_home_depot(tmp_path)
    table = pd.DataFrame(RUN_ROWS, columns=["query_id", "doc_id", "score"])
    table[column] = range(1, len(table) + 1)
    table.to_csv(tmp_path / "table.csv", index=False)
    rc = evaluate_cli(data, tmp_path / "table.csv", tmp_path / "out", *HD_LABELS, "--eval.random_baseline", "false")
    assert rc == 0
    sys = load_metrics(tmp_path / "out")["ranking"]["table"]
    assert sys["all"]["map"] == pytest.approx((AP_A + AP_B) / 5, abs=1e-9)
    pred = pd.read_parquet(tmp_path / "out" / "predictions.parquet").set_index(["query_id", "doc_id"])
    assert pred.loc[[(QC, d) for d in ("100009", "100007", "100008")], "rank"].tolist() == [1, 2, 3]
    assert pred.loc[(QA, "100002"), "label"] == pytest.approx(2.33)


# -- ESCI: named classes, pred_class, confusion matrix -----------------------------------------

ESCI_CSV = """\
query_id,query,product_id,item_text,esci_label
1,usb cable,P1,usb c cable 2m,E
1,usb cable,P2,usb a cable,S
1,usb cable,P3,cable ties,C
1,usb cable,P4,hdmi adapter,I
2,phone case,P1,usb c cable 2m,I
2,phone case,P5,phone case clear,E
2,phone case,P6,phone screen protector,S
"""

ESCI_PREDICTIONS = """\
query_id,doc_id,score,pred_class
1,P1,0.9,E
1,P2,0.4,E
1,P3,0.4,S
1,P4,0.1,I
2,P1,0.8,S
2,P5,0.7,E
2,P6,0.2,C
"""


def test_esci_path_with_predicted_classes(tmp_path):
    (tmp_path / "esci.csv").write_text(ESCI_CSV, encoding="utf-8")
    (tmp_path / "preds.csv").write_text(ESCI_PREDICTIONS, encoding="utf-8")
    out = tmp_path / "out"
    rc = evaluate_cli(tmp_path / "esci.csv", tmp_path / "preds.csv", out, "--eval.random_baseline", "false")
    assert rc == 0
    metrics = load_metrics(tmp_path / "out")
    # auto scheme: ESCI classes, gains E 3, S 2, C 1, I 0; relevant = E (gain >= 3).
    assert metrics["labels"]["scheme"] == "classes"
    assert metrics["labels"]["relevant_gain"] == 3
    # Query 1: P1 (E 3), then the 0.4 tie P3 (C 1) before P2 (S 2), then P4 (I 0).
    ndcg_1 = (3 / log2(2) + 1 / log2(3) + 2 / log2(4) + 0 / log2(5)) / (3 / log2(2) + 2 / log2(3) + 1 / log2(4))
    # Query 2: P1 (I 0), P5 (E 3), P6 (S 2).
    ndcg_2 = (0 / log2(2) + 3 / log2(3) + 2 / log2(4)) / (3 / log2(2) + 2 / log2(3))
    every = metrics["ranking"]["preds"]["all"]
    assert every["n_queries"] == 2
    assert every["ndcg@10"] == pytest.approx((ndcg_1 + ndcg_2) / 2, abs=1e-9)
    assert every["map"] == pytest.approx((1 + 1 / 2) / 2, abs=1e-9)
    assert every["mrr"] == pytest.approx((1 + 1 / 2) / 2, abs=1e-9)

    cls = metrics["classification"]
    # Positives (E): 0.9, 0.7; negatives 0.4, 0.4, 0.1, 0.8, 0.2: 9 of 10 pairs ordered.
    assert cls["binary"]["roc_auc"] == pytest.approx(9 / 10, abs=1e-12)
    classes = cls["classes"]
    assert classes["confusion_matrix"]["classes"] == ["E", "S", "C", "I"]
    assert classes["confusion_matrix"]["rows_true_columns_predicted"] == [
        [2, 0, 0, 0],  # E: P1->E, P5->E
        [1, 0, 1, 0],  # S: P2->E, P6->C
        [0, 1, 0, 0],  # C: P3->S
        [0, 1, 0, 1],  # I: P4->I, (2, P1)->S
    ]
    assert classes["accuracy"] == pytest.approx(3 / 7, abs=1e-12)
    assert classes["per_class_accuracy"] == {"E": 1.0, "S": 0.0, "C": 0.0, "I": 0.5}
    assert classes["support"] == {"E": 2, "S": 2, "C": 1, "I": 2}
    # F1: E (p 2/3, r 1) 0.8; S 0; C 0; I (p 1, r 1/2) 2/3.
    assert classes["macro_f1"] == pytest.approx((0.8 + 0 + 0 + 2 / 3) / 4, abs=1e-12)

    pred = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    assert "pred_class" in pred.columns
    row = pred.set_index(["query_id", "doc_id"]).loc[("2", "P1")]
    assert (row["label"], row["pred_class"], row["gain"], bool(row["relevant"])) == ("I", "S", 0, False)


# -- BEIR collection, retrieval mode ----------------------------------------------------------


def write_beir(folder):
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "title": f"title {i}", "text": f"text {i}"} for i in range(1, 6)]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n", encoding="utf-8")
    queries = [{"_id": "q1", "text": "first query"}, {"_id": "q2", "text": "second"}, {"_id": "q3", "text": "no qrels"}]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n", encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\nq2\td3\t1\nq2\td2\t0\nq2\td99\t1\n", encoding="utf-8"
    )


def test_beir_retrieval_mode(tmp_path):
    write_beir(tmp_path / "beir")
    rows = [
        ("q1", "d4", 3.0),  # unjudged
        ("q1", "d1", 2.0),
        ("q1", "d5", 1.0),
        ("q2", "d1", 1.0),  # tie with d3: "d3" > "d1", so d3 first
        ("q2", "d3", 1.0),
        ("q3", "d1", 1.0),  # no judgments: dropped
    ]
    run_path = write_trec_run(tmp_path / "bm.trec", rows)
    rc = evaluate_cli(tmp_path / "beir", run_path, tmp_path / "out", "--eval.random_baseline", "false")
    assert rc == 0
    metrics = load_metrics(tmp_path / "out")
    assert metrics["mode"] == "retrieve"
    assert "classification" not in metrics
    assert not (tmp_path / "out" / "predictions.parquet").exists()
    # d99 is not in the corpus: that judgment is dropped and does not count as relevant.
    assert metrics["data"]["rows_in"] == 5
    assert metrics["data"]["dropped_by_reason"] == {"qrels document not in the corpus": 1}
    sys = metrics["ranking"]["bm"]
    assert sys["run_queries_without_judgments_dropped"] == 1
    # Gains 0/1/2 -> graded with raw gains, relevant_gain 1.
    assert metrics["labels"]["relevant_gain"] == 1
    ndcg_q1 = (0 / log2(2) + 2 / log2(3) + 0 / log2(4)) / (2 / log2(2) + 1 / log2(3))
    ap_q1 = (1 / 2) / 2  # d1 at rank 2 of 2 relevant (d2 never retrieved)
    pq = pd.read_csv(tmp_path / "out" / "per_query.csv", dtype={"query_id": str}).set_index("query_id")
    assert sorted(pq.index) == ["q1", "q2"]
    assert pq.loc["q1", "query"] == "first query"
    assert pq.loc["q1", "ndcg@10"] == pytest.approx(ndcg_q1, abs=1e-9)
    assert pq.loc["q1", "map"] == pytest.approx(ap_q1, abs=1e-9)
    assert pq.loc["q1", "recall@10"] == pytest.approx(1 / 2, abs=1e-9)
    assert pq.loc["q2", "ndcg@10"] == pytest.approx(1.0, abs=1e-9)
    assert pq.loc["q2", "map"] == pytest.approx(1.0, abs=1e-9)
    assert sys["all"]["mrr"] == pytest.approx((1 / 2 + 1) / 2, abs=1e-9)


def test_home_depot_layout_needs_no_label_flags(home_depot, tmp_path, caplog):
    """The header says Home Depot, which brings the four label flags of configs/homedepot_*.yaml:
    the same labels and metrics as with the flags, said once in the log."""
    data = write_home_depot(tmp_path)
    run_path = write_trec_run(tmp_path / "sys.trec", RUN_ROWS)
    with caplog.at_level("INFO"):
        rc = evaluate_cli(data, run_path, tmp_path / "out", "--eval.random_repeats", "3", "--eval.seed", "5")
    assert rc == 0
    said = [r.getMessage() for r in caplog.records if "layout recognised" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("data: Home Depot layout recognised; labels: graded 1..3")
    flags, layout = load_metrics(home_depot), load_metrics(tmp_path / "out")
    assert layout["labels"]["relevant_gain"] == flags["labels"]["relevant_gain"] == 16
    assert layout["ranking"] == flags["ranking"]
