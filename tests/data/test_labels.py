"""Label schemes: binary thresholds, graded gains, named classes, inference, targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rankwright.data.labels import ESCI_GAINS, KDD_GAINS, LabelConfig, LabelScheme, build_scheme, infer_scheme
from rankwright.data.readers.tables import read_table
from rankwright.data.records import DataError, DropReport, RelevanceData

HOMEDEPOT = np.array([1.0, 1.25, 1.33, 2.0, 2.25, 2.33, 2.5, 2.67, 3.0])


def _data(labels, source="labels.csv"):
    n = len(labels)
    pairs = pd.DataFrame(
        {
            "query_id": [f"q{i}" for i in range(n)],
            "query": [f"query {i}" for i in range(n)],
            "doc_id": [f"d{i}" for i in range(n)],
            "doc": [f"doc {i}" for i in range(n)],
            "label": labels,
            "source_row": range(1, n + 1),
        }
    )
    return RelevanceData(pairs, DropReport(source=source, rows_in=n))


def test_binary_threshold_homedepot():
    scheme = LabelScheme(LabelConfig(scheme="binary", threshold=2.33))
    relevant = scheme.relevant(HOMEDEPOT)
    assert relevant.tolist() == [False, False, False, False, False, True, True, True, True]
    assert scheme.gains(np.array([2.25, 2.33])).tolist() == [0, 1]
    assert scheme.relevant_gain == 1


def test_binary_needs_a_threshold():
    with pytest.raises(ValueError, match="threshold"):
        LabelScheme(LabelConfig(scheme="binary"))


def test_graded_homedepot_offset_and_scale():
    scheme = LabelScheme(LabelConfig(scheme="graded", gain_offset=1, gain_scale=12, threshold=2.33))
    assert scheme.relevant_gain == 16
    gains = scheme.gains(HOMEDEPOT)
    assert gains.tolist() == [round((r - 1) * 12) for r in HOMEDEPOT]
    assert gains.tolist() == [0, 3, 4, 12, 15, 16, 18, 20, 24]
    assert gains.dtype == np.int64
    assert scheme.relevant(np.array([2.25, 2.33, 3.0])).tolist() == [False, True, True]


def test_graded_mapping_with_string_and_float_keys():
    scheme = LabelScheme(LabelConfig(scheme="graded", gains={"1": 4, "2": 3, "3": 2, "4": 1, "-1": 0}))
    assert scheme.gains(np.array([1.0, 2, "3", 4.0, -1], dtype=object)).tolist() == [4, 3, 2, 1, 0]


def test_graded_negative_gains_are_clipped():
    scheme = LabelScheme(LabelConfig(scheme="graded", gain_offset=1, gain_scale=1))
    assert scheme.gains(np.array([0.0, 1.0, 3.0])).tolist() == [0, 0, 2]


def test_esci_classes_gains_and_expected_gain():
    scheme = LabelScheme(LabelConfig(scheme="classes", gains=dict(ESCI_GAINS)))
    assert scheme.classes == ["E", "S", "C", "I"]
    assert scheme.gains(np.array(["E", "S", "C", "I", "E"])).tolist() == [3, 2, 1, 0, 3]
    assert scheme.class_index(np.array(["I", "E"])).tolist() == [3, 0]
    assert scheme.relevant_classes == ["E"] and scheme.relevant_gain == 3
    probs = np.array([[0.5, 0.2, 0.2, 0.1], [0.0, 0.0, 0.0, 1.0], [0.1, 0.6, 0.3, 0.0]])
    by_hand = [(3 * 0.5 + 2 * 0.2 + 0.2) / 3, 0.0, (3 * 0.1 + 2 * 0.6 + 0.3) / 3]
    assert scheme.expected_gain(probs) == pytest.approx(by_hand)


def test_kdd_fractional_gains_scaled_to_integers():
    scheme = LabelScheme(LabelConfig(scheme="classes", gains=dict(KDD_GAINS)))
    assert scheme.gain_factor == 100
    assert scheme.gains(np.array(["E", "S", "C", "I"])).tolist() == [100, 10, 1, 0]
    assert scheme.relevant_gain == 100
    assert scheme.to_dict()["gain_factor"] == 100


def test_relevant_classes_are_configurable():
    scheme = LabelScheme(LabelConfig(scheme="classes", gains=dict(ESCI_GAINS), relevant_classes=["E", "S"]))
    assert scheme.relevant(np.array(["E", "S", "C", "I"])).tolist() == [True, True, False, False]


def test_unknown_class_names_file_and_row(tmp_path):
    path = tmp_path / "esci.csv"
    path.write_text("query,item_text,esci_label\nq,a,E\nq,b,S\nq,c,X\nq,d,I\n")
    data = read_table(path)
    scheme = build_scheme(LabelConfig(scheme="classes", gains=dict(ESCI_GAINS)))
    with pytest.raises(DataError) as err:
        scheme.validate(data)
    assert str(err.value).startswith(f"{path}, row 3:")
    assert "'X'" in str(err.value)
    assert err.value.row == 3


def test_unknown_graded_value_names_row():
    scheme = LabelScheme(LabelConfig(scheme="graded", gains={"0": 0, "1": 1}))
    with pytest.raises(DataError, match=r"labels.csv, row 2: unknown label value 2"):
        scheme.validate(_data([1, 2, 0]))


def test_infer_binary_from_zero_one():
    config = infer_scheme(_data([0, 1, 1, 0]))
    assert config.scheme == "binary" and config.threshold == 1.0
    assert build_scheme(LabelConfig(), _data([0, 1])).relevant(np.array([0, 1])).tolist() == [False, True]


def test_infer_esci_classes_and_graded_integers():
    assert infer_scheme(_data(["E", "S", "I"])).scheme == "classes"
    assert infer_scheme(_data([0, 1, 2, 3])).scheme == "graded"


def test_infer_refuses_fractional_grades():
    with pytest.raises(DataError) as err:
        infer_scheme(_data([1.0, 2.33, 3.0], source="hd.csv"))
    assert str(err.value).startswith("hd.csv:")
    assert "set labels.scheme" in str(err.value)


def test_target_scales_to_unit_range():
    scheme = LabelScheme(LabelConfig(scheme="graded", gain_offset=1, gain_scale=12, target_range=[1, 3]))
    raw = np.array([1.0, 1.5, 2.0, 2.33, 3.0])
    assert scheme.target(raw) == pytest.approx((raw - 1) / 2)
    assert scheme.target(np.array([0.0, 4.0])).tolist() == [0.0, 1.0]


def test_target_needs_a_range():
    with pytest.raises(ValueError, match="target_range"):
        LabelScheme(LabelConfig(scheme="binary", threshold=1)).target(np.array([1]))


def test_auto_is_not_a_concrete_scheme():
    with pytest.raises(ValueError, match=r"labels\.scheme"):
        LabelScheme(LabelConfig(scheme="auto"))


def test_numeric_labels_binned_into_classes():
    config = LabelConfig(
        scheme="classes",
        classes=["E", "S", "C", "I"],
        gains={"E": 3, "S": 2, "C": 1, "I": 0},
        bins={"E": 3.0, "S": 2.33, "C": 1.67, "I": 1.0},
    )
    scheme = LabelScheme(config)
    raw = np.array([3.0, 2.67, 2.33, 2.0, 1.67, 1.5, 1.0, "E"], dtype=object)
    assert scheme.class_index(raw).tolist() == [0, 1, 1, 2, 2, 3, 3, 0]
    assert scheme.gains(raw).tolist() == [3, 2, 2, 1, 1, 0, 0, 3]
    with pytest.raises(DataError, match=r"row 7.*0\.5.*labels >= 1\.0"):
        scheme.class_index(np.array([3.0, 0.5], dtype=object), "f.csv", rows=np.array([6, 7]))
    with pytest.raises(ValueError, match="lower bound for each class"):
        LabelScheme(LabelConfig(scheme="classes", classes=["E", "I"], gains={"E": 1}, bins={"E": 3.0}))
    with pytest.raises(ValueError, match="have gain 0"):
        LabelScheme(LabelConfig(scheme="classes", classes=["a", "b"]))


# -- a known layout brings its label scheme -------------------------------------------------------

HOME_DEPOT_ROWS = [
    ("1", "100001", "angle bracket steel", "angle bracket", "3.0"),
    ("2", "100002", "shelf bracket", "angle bracket", "2.33"),
    ("3", "100003", "garden hose", "angle bracket", "1.0"),
    ("4", "100004", "deck stain", "deck stain", "2.67"),
    ("5", "100005", "paint roller", "deck stain", "1.67"),
]


def _home_depot(tmp_path):
    """A Home-Depot-shaped CSV: recognised from its header, no column mapping given."""
    path = tmp_path / "train.csv"
    header = "id,product_uid,product_title,search_term,relevance\n"
    path.write_text(header + "".join(",".join(row) + "\n" for row in HOME_DEPOT_ROWS), encoding="utf-8")
    from rankwright.data.readers import read_relevance

    return read_relevance(path)


def test_home_depot_layout_brings_its_labels_said_once(tmp_path, caplog):
    data = _home_depot(tmp_path)
    assert data.layout == "Home Depot"
    with caplog.at_level("INFO", logger="rankwright.data.labels"):
        scheme = build_scheme(LabelConfig(), data)
    said = [r.getMessage() for r in caplog.records if "layout recognised" in r.getMessage()]
    assert said == [
        "data: Home Depot layout recognised; labels: graded 1..3, gain = round((label - 1) * 12), relevant when "
        "label >= 2.33 (override with --labels.*)"
    ]
    # as configs/homedepot_*.yaml give them: gain = round((r - 1) * 12), relevant from 2.33 (gain 16)
    assert scheme.kind == "graded" and scheme.relevant_gain == 16
    assert scheme.gains(data.pairs["label"]).tolist() == [24, 16, 0, 20, 8]
    assert scheme.target(np.array([1.0, 3.0])).tolist() == [0.0, 1.0]  # MSE works without labels.target_range


def test_label_keys_given_win_over_the_layouts(tmp_path, caplog):
    data = _home_depot(tmp_path)
    with caplog.at_level("INFO", logger="rankwright.data.labels"):
        stricter = build_scheme(LabelConfig(threshold=3.0), data)
    assert stricter.relevant_gain == 24 and stricter.config.gain_scale == 12
    assert "relevant when label >= 3 (override with --labels.*); as given: labels.threshold" in caplog.text
    # a value equal to LabelConfig's own default still counts as given
    assert build_scheme(LabelConfig(gain_offset=0), data).gains(np.array([1.0, 3.0])).tolist() == [12, 36]
    # another scheme is the user's alone: nothing filled, nothing said
    caplog.clear()
    with caplog.at_level("INFO", logger="rankwright.data.labels"):
        binary = build_scheme(LabelConfig(scheme="binary", threshold=2.5), data)
    assert binary.kind == "binary" and binary.config.gain_scale == 1.0 and binary.config.target_range is None
    assert "layout recognised" not in caplog.text
    with pytest.raises(ValueError, match=r"labels\.scheme=binary needs labels\.threshold"):
        build_scheme(LabelConfig(scheme="binary"), data)


def test_another_label_column_gets_no_layout_labels(tmp_path):
    from rankwright.data.config import ColumnMap

    _home_depot(tmp_path)
    data = read_table(tmp_path / "train.csv", ColumnMap(label="id"))  # grades 1..5 in the id column, say
    assert data.labels is None and data.layout is None
    assert build_scheme(LabelConfig(), data).kind == "graded"  # inferred from the integers, as before


@pytest.mark.parametrize(
    ("config", "said"),
    [
        (
            LabelConfig(scheme="binary", threshold=1, gains={"1": 1}, relevant_gain=1),
            "labels.gains, labels.relevant_gain",
        ),
        (LabelConfig(scheme="graded", relevant_gain=2, threshold=2.5), "labels.threshold"),
        (LabelConfig(scheme="graded", classes=["a"], bins={"a": 1.0}), "labels.classes, labels.bins"),
        (LabelConfig(scheme="classes", classes=["E", "I"], gains={"E": 1}, gain_scale=12), "labels.gain_scale"),
    ],
)
def test_label_keys_the_scheme_does_not_read_are_said(config, said, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="rankwright"):
        build_scheme(config)
    assert f"labels.scheme {config.scheme} does not use {said}:" in caplog.text


def test_keys_the_scheme_reads_say_nothing(caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="rankwright"):
        build_scheme(LabelConfig(scheme="graded", gain_offset=1, gain_scale=12, threshold=2.33))
        build_scheme(LabelConfig(scheme="binary", threshold=2.33, target_range=[1, 3]))
        build_scheme(LabelConfig(scheme="classes", classes=["E", "I"], gains={"E": 1}, relevant_classes=["E"]))
    assert "does not use" not in caplog.text
